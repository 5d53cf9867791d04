//! `${NAME}` and `${NAME:-default}` in string values, replaced by build args (`--build-arg`);
//! a default may hold references of its own (`${A:-${B:-dev}}`), as in a Dockerfile. `$$` is a
//! literal `$`; `$NAME` without braces is kept as it is, with a warning. An arg that is not
//! set is empty, as in a Dockerfile. Keys, and the values of `x-` keys, are never
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
                if s.as_str().contains('$') {
                    self.expand_args(s, args);
                }
                if s.as_str().contains("{{") {
                    self.stamp(s);
                }
            }
        }
    }

    /// `{{.Commit}}` and the other templates of [`crate::stamp`], replaced by their values
    /// (left as written while a git context's commit is still to be read).
    fn stamp(&mut self, s: &mut MarkedScalarNode) {
        let span = self.scalar_span(s);
        let pieces = match crate::stamp::pieces(s.as_str()) {
            Ok(p) => p,
            Err(msg) => {
                let names: Vec<String> = crate::stamp::TEMPLATES.iter().map(|(n, _)| format!("`{{{{.{n}}}}}`")).collect();
                self.error("InvalidTemplate", span, msg, format!("the templates are {}; write `{{{{\"{{{{\"}}}}` for a `{{{{` of its own", names.join(", ")));
                return;
            }
        };
        let mut out = String::new();
        for p in pieces {
            match p {
                crate::stamp::Piece::Text(t) => out.push_str(t),
                crate::stamp::Piece::Template(name) => match self.stamps.value(name) {
                    Ok(v) => out.push_str(&v),
                    Err(hint) => {
                        self.error("UnknownTemplateValue", span, format!("`{{{{.{name}}}}}` has no value in this build"), hint);
                        return;
                    }
                },
            }
        }
        let coerce = s.may_coerce();
        let mut n = MarkedScalarNode::new(*s.span(), out);
        n.set_coerce(coerce);
        *s = n;
    }

    /// `${NAME}` and `${NAME:-default}` of one value, replaced by build args.
    fn expand_args(&mut self, s: &mut MarkedScalarNode, args: &BTreeMap<String, String>) {
        let span = self.scalar_span(s);
        // One pass: the value, and the build args it read (what is found before a
        // mistake, too).
        let mut found = Found::default();
        let expanded = expand_from(s.as_str(), s.as_str(), 0, args, false, &mut found).map(|(v, _)| v);
        for name in found.bare {
            self.warning(
                "UnbracedBuildArg",
                span,
                format!("`${name}` is not replaced by the build arg {name}"),
                format!("write `${{{name}}}` to use the build arg, or `$${name}` for a `$` of its own"),
            );
        }
        for (name, default) in found.refs {
            if !self.args_read.iter().any(|a| a.name == name) {
                self.args_read.push(super::ArgRef { name, default, span });
            }
        }
        match expanded {
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

/// What expanding a value found: the build args it reads (with their defaults as written),
/// and `$NAME`s written without braces, which are not replaced.
#[derive(Default)]
struct Found {
    refs: Vec<(String, Option<String>)>,
    bare: Vec<String>,
}

fn is_name(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The well-formed build arg references of a value: names and defaults, nested ones too.
#[cfg(test)]
fn references(s: &str) -> Vec<(String, Option<String>)> {
    let mut found = Found::default();
    let _ = expand_from(s, s, 0, &BTreeMap::new(), false, &mut found);
    found.refs
}

#[cfg(test)]
fn expand(s: &str, args: &BTreeMap<String, String>) -> Result<String, String> {
    expand_from(s, s, 0, args, false, &mut Found::default()).map(|(v, _)| v)
}

/// Expands `s` from byte `i`: `${NAME}`, `${NAME:-default}` (the default expanded in turn, as
/// in a Dockerfile), `$$`. Inside a default (`nested`) it stops at the `}` that closes it and
/// returns where that is. `whole` is the value, for messages.
fn expand_from(whole: &str, s: &str, mut i: usize, args: &BTreeMap<String, String>, nested: bool, found: &mut Found) -> Result<(String, usize), String> {
    let b = s.as_bytes();
    let unclosed = || format!("`${{` without a closing `}}` in `{whole}`");
    let mut out = String::new();
    while i < b.len() {
        match b[i] {
            b'}' if nested => return Ok((out, i)),
            b'$' => match b.get(i + 1) {
                Some(b'$') => {
                    out.push('$');
                    i += 2;
                }
                Some(b'{') => {
                    let start = i + 2;
                    let mut j = start;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                    let name = &s[start..j];
                    let bad = |end: usize| format!("`${{{}}}` is not a build arg reference", &s[start..end]);
                    let value = |name: &str| args.get(name).filter(|v| !v.is_empty()).cloned();
                    match b.get(j) {
                        Some(b'}') if is_name(name) => {
                            found.refs.push((name.to_string(), None));
                            out.push_str(&value(name).unwrap_or_default());
                            i = j + 1;
                        }
                        Some(b':') if is_name(name) && b.get(j + 1) == Some(&b'-') => {
                            let (default, end) = expand_from(whole, s, j + 2, args, true, found)?;
                            if end >= b.len() {
                                return Err(unclosed());
                            }
                            found.refs.push((name.to_string(), Some(s[j + 2..end].to_string())));
                            out.push_str(&value(name).unwrap_or(default));
                            i = end + 1;
                        }
                        None => return Err(unclosed()),
                        _ => return Err(bad(s[start..].find('}').map(|k| start + k).unwrap_or(b.len()))),
                    }
                }
                Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                    let mut j = i + 1;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                    found.bare.push(s[i + 1..j].to_string());
                    out.push_str(&s[i..j]);
                    i = j;
                }
                _ => {
                    // A `$` not followed by a name, `{` or `$` is kept as it is.
                    out.push('$');
                    i += 1;
                }
            },
            _ => {
                let c = s[i..].chars().next().unwrap_or('\u{fffd}');
                out.push(c);
                i += c.len_utf8().max(1);
            }
        }
    }
    if nested { Err(unclosed()) } else { Ok((out, i)) }
}

/// The `$NAME`s of a value written without braces.
#[cfg(test)]
fn bare_names(s: &str) -> Vec<String> {
    let mut found = Found::default();
    let _ = expand_from(s, s, 0, &BTreeMap::new(), false, &mut found);
    found.bare
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
        // Defaults nest, as in a Dockerfile.
        assert_eq!(expand("${NOPE:-${V:-dev}}", &args).unwrap(), "1.2");
        assert_eq!(expand("${NOPE:-${ALSO:-dev}}!", &args).unwrap(), "dev!");
        assert_eq!(expand("${V:-${NOPE:-dev}}", &args).unwrap(), "1.2");
        assert!(expand("${NOPE:-${V}", &args).is_err());
        assert_eq!(bare_names("$V and ${V} and $$X"), ["V"]);
    }

    #[test]
    fn finds_references() {
        let r = references("$$X ${A}-${B:-two} $C ${A}");
        assert_eq!(r, [("A".to_string(), None), ("B".to_string(), Some("two".to_string())), ("A".to_string(), None)]);
        let r = references("${A:-${B:-dev}}");
        assert_eq!(r, [("B".to_string(), Some("dev".to_string())), ("A".to_string(), Some("${B:-dev}".to_string()))]);
    }
}
