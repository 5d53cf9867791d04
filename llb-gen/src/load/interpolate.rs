//! `${NAME}` and `${NAME:-default}` in string values, replaced by build args (`--build-arg`).
//! `$$` is a literal `$`. An arg that is not set is empty, as in a Dockerfile. Keys are never
//! interpolated.

use std::collections::BTreeMap;

use marked_yaml::Node;
use marked_yaml::types::MarkedScalarNode;

use super::Cx;

impl Cx<'_> {
    pub(super) fn interpolate(&mut self, node: &mut Node, args: &BTreeMap<String, String>) {
        match node {
            Node::Mapping(m) => {
                for v in m.values_mut() {
                    self.interpolate(v, args);
                }
            }
            Node::Sequence(s) => {
                for v in s.iter_mut() {
                    self.interpolate(v, args);
                }
            }
            Node::Scalar(s) => {
                if !s.as_str().contains('$') {
                    return;
                }
                let span = self.scalar_span(s);
                for (name, default) in references(s.as_str()) {
                    if !self.args_read.iter().any(|a| a.name == name) {
                        self.args_read.push(super::ArgRef { name, default, span });
                    }
                }
                match expand(s.as_str(), args) {
                    Ok(v) => {
                        let coerce = s.may_coerce();
                        let mut n = MarkedScalarNode::new(*s.span(), v);
                        n.set_coerce(coerce);
                        *s = n;
                    }
                    Err(msg) => {
                        let span = self.scalar_span(s);
                        self.error("InvalidArg", span, msg, "write `${NAME}` or `${NAME:-default}`, with NAME a build arg; write `$$` for a literal `$`");
                    }
                }
            }
        }
    }
}

/// The well-formed build arg references of a value: names and defaults.
fn references(s: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            rest = r;
        } else if let Some((inner, r)) = after.strip_prefix('{').and_then(|r| r.split_once('}')) {
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d.to_string())),
                None => (inner, None),
            };
            if name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                out.push((name.to_string(), default));
            }
            rest = r;
        } else {
            rest = after;
        }
    }
    out
}

pub(super) fn expand(s: &str, args: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = r.find('}').ok_or_else(|| format!("`${{` without a closing `}}` in `{s}`"))?;
            let inner = &r[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let valid =
                name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(format!("`${{{inner}}}` is not a build arg reference"));
            }
            match (args.get(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => out.push_str(args.get(name).map(String::as_str).unwrap_or("")),
            }
            rest = &r[end + 1..];
        } else {
            // A `$` not followed by `{` or `$` is kept as it is.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands() {
        let args: BTreeMap<String, String> = [("V".to_string(), "1.2".to_string()), ("E".to_string(), String::new())].into();
        assert_eq!(expand("v${V}", &args).unwrap(), "v1.2");
        assert_eq!(expand("${E:-dflt}", &args).unwrap(), "dflt");
        assert_eq!(expand("${NOPE:-x}-${NOPE}", &args).unwrap(), "x-");
        assert_eq!(expand("$$HOME and $PATH", &args).unwrap(), "$HOME and $PATH");
        assert!(expand("${V", &args).is_err());
        assert!(expand("${1X}", &args).is_err());
    }

    #[test]
    fn finds_references() {
        let r = references("$$X ${A}-${B:-two} $C ${1bad} ${A}");
        assert_eq!(r, [("A".to_string(), None), ("B".to_string(), Some("two".to_string())), ("A".to_string(), None)]);
    }
}
