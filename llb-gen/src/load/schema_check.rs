//! Checks a YAML node tree against the spec's JSON Schema, reporting every unknown key, wrong
//! type and bad enum value in one pass, each at its line and column. Only the parts of JSON
//! Schema that the generated schema uses are understood: `$ref`, `anyOf`/`oneOf`, `type`
//! (one or several), `properties`, `required`, `additionalProperties`, `patternProperties`
//! `^x-`, `items`, `enum`, `minimum`/`maximum`.
//!
//! What does not fit the schema is reported and then removed from the tree, so that the
//! semantic checks can still run on the rest and report their problems in the same pass.

use marked_yaml::Node;
use marked_yaml::types::MarkedScalarNode;
use serde_json::Value;

use super::Cx;
use crate::diag::did_you_mean;

impl Cx<'_> {
    /// Reports what in `node` does not fit `schema`, removes it, and returns whether `node`
    /// itself fits (if not, the caller removes it).
    pub(super) fn check_schema(&mut self, node: &mut Node, schema: &Value, path: &str) -> bool {
        let root = crate::schema::json_schema();
        let schema = resolve(root, schema);
        // A key written without a value is a mistake even where the key may be left out.
        if is_null(node) {
            let span = self.span(node);
            self.error("WrongType", span, format!("`{path}` is empty"), format!("give `{path}` a value, or remove the line"));
            return false;
        }
        if let Some(alts) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            // An optional field is `anyOf [X, null]`: check against the non-null branch, so
            // that the errors inside it are reported.
            let real: Vec<&Value> = alts.iter().filter(|a| resolve(root, a).get("type") != Some(&Value::String("null".into()))).collect();
            if real.len() == 1 {
                return self.check_schema(node, real[0], path);
            }
            // A mapping or a list where one alternative is a mapping or a list: the mistakes
            // are inside it, and reported there.
            let container = match node {
                Node::Mapping(_) => Some("object"),
                Node::Sequence(_) => Some("array"),
                Node::Scalar(_) => None,
            };
            if let Some(container) = container {
                let fits: Vec<&&Value> = real.iter().filter(|a| resolve(root, a).get("type").and_then(Value::as_str) == Some(container)).collect();
                if let [only] = fits[..] {
                    return self.check_schema(node, only, path);
                }
            }
            for alt in &real {
                let mut trial = Cx { src: self.src, diags: Vec::new(), args_read: Vec::new(), dropped: 0, stamps: self.stamps };
                let mut copy = node.clone();
                if trial.check_schema(&mut copy, alt, path) && trial.diags.is_empty() {
                    return true;
                }
            }
            let consts: Vec<&str> = real.iter().filter_map(|a| resolve(root, a).get("const").and_then(Value::as_str)).collect();
            if consts.len() == real.len()
                && let Node::Scalar(s) = node
            {
                let v = s.as_str();
                let hint = did_you_mean(v, &consts, || format!("`{path}` is one of: {}", consts.join(", ")));
                let span = self.scalar_span(s);
                self.error("InvalidValue", span, format!("`{v}` is not a valid `{path}`"), hint);
                return false;
            }
            let expected: Vec<String> = real.iter().map(|a| describe(resolve(root, a))).collect();
            let what = expected.join(" or ");
            self.error("WrongType", self.span(node), format!("`{path}` must be {what}, not {}", kind(node)), hint_for(&what, path));
            return false;
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if types.is_empty() {
            return true;
        }
        let span = self.span(node);
        match node {
            Node::Mapping(map) if types.contains(&"object") => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                let section = if path.is_empty() { "the spec".to_string() } else { format!("`{path}`") };
                let mut remove = Vec::new();
                for (key, value) in map.iter_mut() {
                    let k = key.as_str();
                    let child = if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
                    if let Some(p) = props.and_then(|p| p.get(k)) {
                        if !self.check_schema(value, p, &child) {
                            remove.push(key.clone());
                        }
                    } else if k.starts_with("x-") && schema.get("patternProperties").is_some() {
                        continue;
                    } else if let Some(add @ Value::Object(_)) = additional {
                        if !self.check_schema(value, add, &child) {
                            remove.push(key.clone());
                        }
                    } else {
                        remove.push(key.clone());
                        let known: Vec<&str> = props.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                        let hint = did_you_mean(k, &known, || format!("the keys of {section} are: {}; keys starting with `x-` are ignored", known.join(", ")));
                        let note = crate::diag::non_ascii_note(k);
                        self.error("UnknownKey", self.scalar_span(key), format!("unknown key `{k}` in {section}{note}"), hint);
                    }
                }
                let mut complete = true;
                let required: Vec<&str> = schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
                for k in remove {
                    if required.contains(&k.as_str()) {
                        // Reported already; without it the mapping cannot be read.
                        complete = false;
                    }
                    map.remove(&k);
                }
                for req in required {
                    if map.get_node(req).is_none() && complete {
                        let (msg, hint) = if path.is_empty() {
                            (format!("the spec has no `{req}`"), format!("add `{req}:` at the top level"))
                        } else {
                            (format!("`{path}` has no `{req}`"), format!("add `{req}:` under `{path}`"))
                        };
                        self.error("MissingField", span, msg, hint);
                        complete = false;
                    }
                }
                complete
            }
            Node::Sequence(seq) if types.contains(&"array") => {
                if let Some(items) = schema.get("items") {
                    let mut bad = Vec::new();
                    for (i, item) in seq.iter_mut().enumerate() {
                        if !self.check_schema(item, items, &format!("{path}[{i}]")) {
                            bad.push(i);
                        }
                    }
                    for i in bad.into_iter().rev() {
                        seq.remove(i);
                    }
                }
                true
            }
            Node::Scalar(s) if types.iter().any(|t| ["string", "integer", "number", "boolean"].contains(t)) => {
                let s = s.clone();
                self.check_scalar(&s, schema, &types, path)
            }
            other => {
                let what = describe(schema);
                let k = kind(other);
                self.error("WrongType", span, format!("`{path}` must be {what}, not {k}"), hint_for(&what, path));
                false
            }
        }
    }

    fn check_scalar(&mut self, s: &MarkedScalarNode, schema: &Value, types: &[&str], path: &str) -> bool {
        let before = self.diags.len();
        self.check_scalar_value(s, schema, types, path);
        self.diags.len() == before
    }

    fn check_scalar_value(&mut self, s: &MarkedScalarNode, schema: &Value, types: &[&str], path: &str) {
        let v = s.as_str();
        let span = self.scalar_span(s);
        if let Some(c) = schema.get("const").and_then(Value::as_str) {
            if v != c {
                self.error("InvalidValue", span, format!("`{v}` is not `{c}`"), format!("write `{c}`"));
            }
            return;
        }
        if types.contains(&"string") {
            if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
                let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                if !names.contains(&v) {
                    let hint = did_you_mean(v, &names, || format!("`{path}` is one of: {}", names.join(", ")));
                    self.error("InvalidValue", span, format!("`{v}` is not a valid `{path}`"), hint);
                }
            }
            return;
        }
        if types.contains(&"boolean") {
            match (v, s.may_coerce()) {
                ("true" | "false", true) => {}
                ("true" | "false", false) => {
                    self.error("WrongType", span, format!("`{path}` must be true or false, not the text \"{v}\""), "remove the quotes")
                }
                ("yes" | "no" | "on" | "off" | "y" | "n" | "Yes" | "No" | "True" | "False" | "TRUE" | "FALSE", _) => self.error(
                    "WrongType",
                    span,
                    format!("`{path}` must be true or false, not `{v}`"),
                    "write true or false: `yes`, `no`, `on` and `off` are not booleans in this spec",
                ),
                _ => self.error("WrongType", span, format!("`{path}` must be true or false, not `{v}`"), "write true or false"),
            }
            return;
        }
        if types.contains(&"integer") {
            let digits = v.strip_prefix('-').unwrap_or(v);
            let canonical = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'));
            if !canonical && v.parse::<i64>().is_ok() {
                let n: i64 = v.parse().unwrap_or_default();
                self.error("WrongType", span, format!("`{path}` is written `{v}`"), format!("write the number as `{n}`"));
                return;
            }
            match v.parse::<i64>() {
                Ok(n) => {
                    let min = schema.get("minimum").and_then(Value::as_i64);
                    // The widest value of the field's type, when the schema gives no maximum.
                    let max = schema.get("maximum").and_then(Value::as_i64).or(match schema.get("format").and_then(Value::as_str) {
                        Some("uint8") => Some(u8::MAX as i64),
                        Some("uint16") => Some(u16::MAX as i64),
                        Some("uint32") => Some(u32::MAX as i64),
                        Some("int32") => Some(i32::MAX as i64),
                        _ => None,
                    });
                    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                        let range = match (min, max) {
                            (Some(a), Some(b)) => format!("from {a} to {b}"),
                            (Some(a), None) => format!("of {a} or more"),
                            (None, Some(b)) => format!("of {b} or less"),
                            (None, None) => unreachable!(),
                        };
                        self.error("WrongType", span, format!("`{path}` is {n}"), format!("use a whole number {range}"));
                    }
                }
                Err(_) if canonical => self.error("WrongType", span, format!("`{path}` is too large a number"), "write a whole number such as 3"),
                Err(_) => self.error("WrongType", span, format!("`{path}` must be a whole number, not `{v}`"), "write a whole number such as 3"),
            }
        }
    }
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..16 {
        match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/")) {
            Some(pointer) => match root.pointer(&format!("/{pointer}")) {
                Some(target) => s = target,
                None => return s,
            },
            None => return s,
        }
    }
    s
}

pub(super) fn is_null(node: &Node) -> bool {
    match node {
        Node::Scalar(s) => s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL"),
        _ => false,
    }
}

pub(super) fn kind(node: &Node) -> &'static str {
    match node {
        n if is_null(n) => "nothing",
        Node::Scalar(_) => "a single value",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

fn describe(schema: &Value) -> String {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => vec![],
    };
    let one = |t: &str| match t {
        "object" if schema.get("properties").is_none() => "a mapping of names to values".to_string(),
        "object" => "a mapping".to_string(),
        "array" => match schema.get("items").and_then(|i| i.get("type")).and_then(Value::as_str) {
            Some("string") => "a list of values".to_string(),
            _ => "a list".to_string(),
        },
        "string" => "a single value".to_string(),
        "integer" => "a whole number".to_string(),
        "number" => "a number".to_string(),
        "boolean" => "true or false".to_string(),
        other => other.to_string(),
    };
    if types.len() > 1 && types.iter().all(|t| ["string", "number", "boolean", "integer"].contains(t)) {
        return "a single value".into();
    }
    types.iter().map(|t| one(t)).collect::<Vec<_>>().join(" or ")
}

fn hint_for(what: &str, path: &str) -> String {
    let key = path.rsplit('.').next().unwrap_or(path);
    let key = key.split('[').next().unwrap_or(key);
    if what.starts_with("a list") {
        format!("write a list as `{key}: [a, b]`, or one `- item` per line under `{key}:`")
    } else if what.starts_with("a mapping") {
        format!("write `{key}:` and then indented `name: value` lines under it")
    } else if what == "true or false" {
        format!("write `{key}: true` or `{key}: false`")
    } else {
        format!("write `{key}: value` on one line")
    }
}
