//! Loading a `goapp.yaml`: bytes → YAML nodes with positions (marked-yaml) → a validated
//! [`Spec`]. Strict: unknown keys are errors (with a did-you-mean), values must have the
//! expected type, and every problem in the file is reported in one pass. Keys starting with
//! `x-` are left for users and tools and ignored.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoadError, LoaderOptions, Node};

use crate::diag::{similar, Diagnostic, Diagnostics, Pos, Span};
use crate::spec::*;
use crate::{golang, reference};

/// Specs larger than this are refused before parsing: a real spec is a few kilobytes.
pub const MAX_SPEC_BYTES: usize = 1 << 20;

/// Loads and validates a spec. `file` names it in diagnostics.
pub fn load(file: &str, bytes: &[u8]) -> Result<Spec, Diagnostics> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let source = String::from_utf8_lossy(bytes).into_owned();
            let line = valid.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            let line_start = valid.iter().rposition(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0);
            let column = String::from_utf8_lossy(&valid[line_start..]).chars().count() as u32 + 1;
            return Err(Diagnostics {
                file: file.into(),
                source,
                items: vec![Diagnostic::error(Span::point(line, column), "the spec is not valid UTF-8 text")
                    .hint("save goapp.yaml as UTF-8")],
            });
        }
    };
    let mut cx = Cx { src: text, diags: Vec::new() };
    let spec = if bytes.len() > MAX_SPEC_BYTES {
        cx.diags.push(
            Diagnostic::error(Span::point(1, 1), format!("the spec is {} bytes; the limit is {MAX_SPEC_BYTES}", bytes.len()))
                .hint("a goapp.yaml describes one application in a few lines: check that -f names the right file"),
        );
        None
    } else {
        cx.spec()
    };
    let mut diags = cx.diags;
    diags.sort_by_key(|d| d.span.start);
    match spec {
        Some(spec) if !diags.iter().any(|d| d.severity == crate::Severity::Error) => Ok(spec),
        _ => Err(Diagnostics { file: file.into(), source: text.into(), items: diags }),
    }
}

struct Cx<'a> {
    src: &'a str,
    diags: Vec<Diagnostic>,
}

const TOP_KEYS: &[&str] = &["name", "main", "platforms", "go", "runtime"];
const GO_KEYS: &[&str] = &["version", "image"];
const RUNTIME_KEYS: &[&str] = &["base", "ports", "env", "args"];

impl<'a> Cx<'a> {
    fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, message).hint(hint));
    }

    fn spec(&mut self) -> Option<Spec> {
        if self.src.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            self.error(Span::point(1, 1), "the spec is empty", "a minimal goapp.yaml is one line: `name: myapp`");
            return None;
        }
        let options = LoaderOptions::default().error_on_duplicate_keys(true).prevent_coercion(true);
        let root = match marked_yaml::parse_yaml_with_options(0, self.src, options) {
            Ok(root) => root,
            Err(e) => {
                self.load_error(e);
                return None;
            }
        };
        let map = root.as_mapping()?;
        self.check_keys(map, "the spec", TOP_KEYS);
        let whole = self.span(&root);

        let name = match map.get_node("name") {
            Some(n) => self.string(n, "name").filter(|s| self.check_name(s)),
            None => {
                self.error(Span::point(1, 1), "the spec has no `name`", "add `name: myapp`: it names the binary and the image");
                None
            }
        };
        let main = match map.get_node("main") {
            Some(n) => self.string(n, "main").and_then(|s| self.main_package(s)),
            None => Some(Spanned::new(".".to_string(), whole)),
        };
        let platforms = match map.get_node("platforms") {
            Some(n) => self.platforms(n),
            None => Vec::new(),
        };
        let go = self.go(map.get_node("go"), whole);
        let runtime = self.runtime(map.get_node("runtime"), whole);
        Some(Spec { name: name?, main: main?, platforms, go: go?, runtime: runtime? })
    }

    fn load_error(&mut self, e: LoadError) {
        match e {
            LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => {
                let first = self.src.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
                let word = first.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                let hint = if ["FROM", "RUN", "COPY", "ARG", "WORKDIR", "ENTRYPOINT", "CMD"].contains(&word.as_str()) {
                    "this looks like a Dockerfile; goapp reads a YAML spec such as `name: myapp`"
                } else {
                    "write the spec as `key: value` lines, starting with `name: myapp`"
                };
                self.error(self.marker_span(&m), "the spec must be a YAML mapping of keys to values", hint);
            }
            LoadError::DuplicateKey(d) => {
                let first = self.scalar_span(&d.prev_key);
                self.error(
                    self.scalar_span(&d.key),
                    format!("`{}` is set twice", d.key.as_str()),
                    format!("it was first set on line {}; keep one of them", first.start.line),
                );
            }
            LoadError::UnexpectedAnchor(m) => {
                self.error(self.marker_span(&m), "YAML anchors and aliases are not supported", "write the value out in full")
            }
            LoadError::UnexpectedTag(m) => {
                self.error(self.marker_span(&m), "YAML tags (`!name`) are not supported", "remove the tag")
            }
            LoadError::MappingKeyMustBeScalar(m) => {
                self.error(self.marker_span(&m), "a key must be a plain word", "write keys as `key: value`")
            }
            LoadError::ScanError(m, se) => {
                let span = self.marker_span(&m);
                let has_tab = self.src.lines().any(|l| l[..l.len() - l.trim_start().len()].contains('\t'));
                let hint = if has_tab {
                    "YAML indentation must use spaces, not tabs"
                } else {
                    "check the indentation and quoting around this point"
                };
                self.error(span, format!("invalid YAML: {}", se.info()), hint);
            }
        }
    }

    fn marker_span(&self, m: &marked_yaml::Marker) -> Span {
        Span::point(m.line() as u32, m.column() as u32)
    }

    fn scalar_span(&self, s: &MarkedScalarNode) -> Span {
        let Some(start) = s.span().start() else { return Span::point(1, 1) };
        let start = Pos { line: start.line() as u32, column: start.column() as u32 };
        Span { start, end: self.token_end(start, s.as_str()) }
    }

    /// Where the token starting at `start` ends on its line: the value itself when it is
    /// written plainly, else the quoted string or the rest of the line.
    fn token_end(&self, start: Pos, value: &str) -> Pos {
        let line = self.src.lines().nth(start.line as usize - 1).unwrap_or("");
        let rest: String = line.chars().skip(start.column as usize - 1).collect();
        let len = if !value.is_empty() && rest.starts_with(value) {
            value.chars().count()
        } else if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            rest[1..].find(q).map(|i| rest[..i + 2].chars().count()).unwrap_or(rest.chars().count())
        } else {
            let cut = rest.find(" #").unwrap_or(rest.len());
            rest[..cut].trim_end().chars().count()
        };
        Pos { line: start.line, column: start.column + len.saturating_sub(1) as u32 }
    }

    fn span(&self, node: &Node) -> Span {
        match node {
            Node::Scalar(s) => self.scalar_span(s),
            _ => {
                let sp = node.span();
                let start = sp.start().map(|m| Pos { line: m.line() as u32, column: m.column() as u32 }).unwrap_or(Pos { line: 1, column: 1 });
                let end = sp.end().map(|m| Pos { line: m.line() as u32, column: m.column() as u32 }).unwrap_or(start);
                Span { start, end: if end < start { start } else { end } }
            }
        }
    }

    fn check_keys(&mut self, map: &MarkedMappingNode, section: &str, known: &[&str]) {
        for key in map.keys() {
            let k = key.as_str();
            if known.contains(&k) || k.starts_with("x-") {
                continue;
            }
            let hint = match similar(k, known) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the keys of {section} are: {}; keys starting with `x-` are ignored", known.join(", ")),
            };
            self.error(self.scalar_span(key), format!("unknown key `{k}` in {section}"), hint);
        }
    }

    fn kind(node: &Node) -> &'static str {
        match node {
            Node::Scalar(s) if is_null(s) => "nothing",
            Node::Scalar(_) => "a single value",
            Node::Mapping(_) => "a mapping",
            Node::Sequence(_) => "a list",
        }
    }

    fn mapping<'n>(&mut self, node: &'n Node, what: &str, example: &str) -> Option<&'n MarkedMappingNode> {
        match node {
            Node::Mapping(m) => Some(m),
            other => {
                self.error(self.span(other), format!("`{what}` must be a mapping, not {}", Self::kind(other)), format!("write it as:\n{example}"));
                None
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        match node {
            Node::Scalar(s) if is_null(s) => {
                self.error(self.span(node), format!("`{what}` is empty"), format!("give `{what}` a value, or remove the line"));
                None
            }
            Node::Scalar(s) => Some(Spanned::new(s.as_str().to_string(), self.scalar_span(s))),
            other => {
                self.error(self.span(other), format!("`{what}` must be a single value, not {}", Self::kind(other)), format!("write it as `{what}: value`"));
                None
            }
        }
    }

    fn list<'n>(&mut self, node: &'n Node, what: &str, example: &str) -> Option<Vec<&'n Node>> {
        match node {
            Node::Sequence(s) => Some(s.iter().collect()),
            other => {
                self.error(self.span(other), format!("`{what}` must be a list, not {}", Self::kind(other)), format!("write it as `{what}: {example}`"));
                None
            }
        }
    }

    fn strings(&mut self, node: &Node, what: &str, example: &str) -> Vec<Spanned<String>> {
        let Some(items) = self.list(node, what, example) else { return Vec::new() };
        items.into_iter().filter_map(|n| self.string(n, &format!("an item of {what}"))).collect()
    }

    fn check_name(&mut self, name: &Spanned<String>) -> bool {
        let v = &name.value;
        let ok = !v.is_empty()
            && v.len() <= 128
            && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && v.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok {
            let suggestion: String = v.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
            self.error(
                name.span,
                format!("`{v}` is not a valid name"),
                format!("a name is lower-case letters, digits, `.`, `_` and `-`, starting and ending with a letter or digit, e.g. `{}`", suggestion.trim_matches(|c: char| !c.is_ascii_alphanumeric())),
            );
        }
        ok
    }

    /// A Go package path relative to the context, returned in the `./dir` form `go build`
    /// needs (a bare `cmd/app` would be read as a standard-library import path).
    fn main_package(&mut self, s: Spanned<String>) -> Option<Spanned<String>> {
        let v = s.value.trim_end_matches('/');
        if v.starts_with('/') || v.contains('\\') || v.split('/').any(|c| c == "..") {
            self.error(s.span, format!("`{}` is not inside the build context", s.value), "`main` is a package directory relative to the build context, e.g. `./cmd/server`");
            return None;
        }
        let clean: Vec<&str> = v.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        let value = if clean.is_empty() { ".".to_string() } else { format!("./{}", clean.join("/")) };
        Some(Spanned::new(value, s.span))
    }

    fn platforms(&mut self, node: &Node) -> Vec<Spanned<llb::Platform>> {
        let mut out: Vec<Spanned<llb::Platform>> = Vec::new();
        for s in self.strings(node, "platforms", "[linux/amd64, linux/arm64]") {
            let p = match llb::Platform::parse(&s.value) {
                Ok(p) => p,
                Err(e) => {
                    self.error(s.span, e.to_string(), format!("platforms Go can build: {}", golang::COMMON_PLATFORMS));
                    continue;
                }
            };
            if let Err(e) = golang::target(&p) {
                self.error(s.span, e, format!("platforms Go can build: {}", golang::COMMON_PLATFORMS));
                continue;
            }
            if let Some(first) = out.iter().find(|q| q.value == p) {
                let line = first.span.start.line;
                self.error(s.span, format!("`{p}` is listed twice"), format!("it is already listed on line {line}; remove one"));
                continue;
            }
            out.push(Spanned::new(p, s.span));
        }
        out
    }

    fn go(&mut self, node: Option<&Node>, whole: Span) -> Option<Go> {
        let mut go = Go { version: Spanned::new(DEFAULT_GO_VERSION.to_string(), whole), image: None };
        let Some(node) = node else { return Some(go) };
        let map = self.mapping(node, "go", "go:\n  version: \"1.24\"")?;
        self.check_keys(map, "`go`", GO_KEYS);
        let mut ok = true;
        if let Some(n) = map.get_node("version") {
            match self.string(n, "go.version") {
                Some(v) if is_go_version(&v.value) => go.version = v,
                Some(v) => {
                    self.error(v.span, format!("`{}` is not a Go release", v.value), "write a Go release such as \"1.24\" or \"1.24.3\" (quoted)");
                    ok = false;
                }
                None => ok = false,
            }
        }
        if let Some(n) = map.get_node("image") {
            match self.string(n, "go.image") {
                Some(v) => match reference::ImageRef::parse(&v.value) {
                    Ok(_) => go.image = Some(v),
                    Err(e) => {
                        self.error(v.span, e, "write an image reference such as `golang:1.24` or `registry.example.com/tools/go:1.24`");
                        ok = false;
                    }
                },
                None => ok = false,
            }
        }
        ok.then_some(go)
    }

    fn runtime(&mut self, node: Option<&Node>, whole: Span) -> Option<Runtime> {
        let mut rt = Runtime { base: Spanned::new(Base::Static, whole), ports: vec![], env: vec![], args: vec![] };
        let Some(node) = node else { return Some(rt) };
        let map = self.mapping(node, "runtime", "runtime:\n  base: static")?;
        self.check_keys(map, "`runtime`", RUNTIME_KEYS);
        let before = self.diags.len();
        if let Some(n) = map.get_node("base") {
            if let Some(b) = self.string(n, "runtime.base") {
                match b.value.as_str() {
                    "static" => rt.base = Spanned::new(Base::Static, b.span),
                    other => {
                        let hint = match similar(other, Base::NAMES) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("bases: {}", Base::NAMES.join(", ")),
                        };
                        self.error(b.span, format!("unknown base `{other}`"), hint);
                    }
                }
            }
        }
        if let Some(n) = map.get_node("ports") {
            if let Some(items) = self.list(n, "runtime.ports", "[8080, 53/udp]") {
                for item in items {
                    let Some(s) = self.string(item, "a port") else { continue };
                    match parse_port(&s.value) {
                        Ok(p) if rt.ports.iter().any(|q| q.value == p) => {
                            self.error(s.span, format!("port `{}` is listed twice", p.key()), "remove one of them")
                        }
                        Ok(p) => rt.ports.push(Spanned::new(p, s.span)),
                        Err(e) => self.error(s.span, e, "write a port as a number from 1 to 65535, optionally with /tcp or /udp: `8080`, `53/udp`"),
                    }
                }
            }
        }
        if let Some(n) = map.get_node("env") {
            if let Some(m) = self.mapping(n, "runtime.env", "env:\n  NAME: value") {
                for (k, v) in m.iter() {
                    let key = Spanned::new(k.as_str().to_string(), self.scalar_span(k));
                    if !is_env_name(&key.value) {
                        self.error(key.span, format!("`{}` is not a valid environment variable name", key.value), "use letters, digits and `_`, not starting with a digit, e.g. `LOG_LEVEL`");
                        continue;
                    }
                    let value = match v {
                        Node::Scalar(s) if is_null(s) => Some(Spanned::new(String::new(), self.scalar_span(s))),
                        other => self.string(other, &format!("runtime.env.{}", key.value)),
                    };
                    if let Some(value) = value {
                        rt.env.push((key, value));
                    }
                }
            }
        }
        if let Some(n) = map.get_node("args") {
            rt.args = self.strings(n, "runtime.args", "[\"--listen\", \":8080\"]");
        }
        (self.diags.len() == before).then_some(rt)
    }
}

fn is_null(s: &MarkedScalarNode) -> bool {
    s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

fn is_go_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (2..=3).contains(&parts.len()) && parts[0] == "1" && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_env_name(v: &str) -> bool {
    v.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_port(v: &str) -> Result<Port, String> {
    let (num, proto) = match v.split_once('/') {
        Some((n, p)) => (n, p),
        None => (v, "tcp"),
    };
    let protocol = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return Err(format!("`{proto}` is not a port protocol")),
    };
    match num.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(Port { number: n as u16, protocol }),
        _ => Err(format!("`{v}` is not a port")),
    }
}
