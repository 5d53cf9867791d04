//! Loading a `goapp.yaml`: bytes → YAML nodes with positions (marked-yaml) → build-arg
//! interpolation → a check against the spec's JSON Schema (unknown keys, types) → serde into
//! [`crate::spec::raw`] types → semantic checks and defaults ([`resolve`]) → [`Spec`].
//!
//! Every stage collects problems instead of stopping at the first, so one run reports every
//! mistake in the file. Keys starting with `x-` are left for users and tools and ignored.

mod interpolate;
mod resolve;
mod schema_check;
mod text;

pub use resolve::MAX_TARGETS;
pub use text::{MAX_FLOW_DEPTH, MAX_INDENT, MAX_SPEC_BYTES};

use std::collections::BTreeMap;

use marked_yaml::types::MarkedScalarNode;
use marked_yaml::{LoadError, LoaderOptions, Node};

use crate::diag::{Diagnostic, Diagnostics, Pos, Severity, Span, WARNING_RULES};
use crate::spec::Spec;
use crate::spec::raw::RawSpec;

/// A loaded spec and the warnings found on the way.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub spec: Spec,
    /// The warnings the spec does not silence with `# check=skip=`.
    pub warnings: Diagnostics,
    /// The warning rules `# check=skip=` silences, for the warnings found after loading.
    pub skipped_rules: Vec<&'static str>,
    /// The build args the spec reads, each where it is first read.
    pub args: Vec<ArgRef>,
}

/// Loads and validates a spec. `file` names it in diagnostics; `build_args` are the values
/// `${NAME}` refers to.
pub fn load(file: &str, bytes: &[u8], build_args: &BTreeMap<String, String>) -> Result<Loaded, Diagnostics> {
    // A stamping build arg that is not a value of its kind is the caller's to report (the
    // frontend does, before loading); here it gives no value.
    let stamps = crate::stamp::Stamps::new(build_args, None, None).unwrap_or_default();
    load_stamped(file, bytes, build_args, &stamps)
}

/// Loads and validates a spec whose version templates (`{{.Commit}}`, ...) take `stamps`.
pub fn load_stamped(file: &str, bytes: &[u8], build_args: &BTreeMap<String, String>, stamps: &crate::stamp::Stamps) -> Result<Loaded, Diagnostics> {
    if bytes.len() > MAX_SPEC_BYTES {
        let d = Diagnostic::error("InvalidYaml", Span::point(1, 1), format!("the spec is {} bytes; the limit is {MAX_SPEC_BYTES}", bytes.len()))
            .hint("a goapp.yaml describes one application in a few lines: check that -f names the right file");
        return Err(Diagnostics::new(file, String::new(), vec![d]));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Err(not_utf8(file, bytes, e.valid_up_to())),
    };
    let text = text::normalize(text);
    let mut cx = Cx { src: &text, diags: Vec::new(), args_read: Vec::new(), dropped: 0, stamps };
    let spec = cx.run(build_args);
    let skipped = cx.check_directive();
    let mut diags = std::mem::take(&mut cx.diags);
    diags.retain(|d| !d.rule.is_some_and(|r| skipped.contains(&r)));
    diags.sort_by_key(|d| (d.span.start, d.severity));
    diags.dedup();
    let has_errors = diags.iter().any(|d| d.severity == Severity::Error);
    let diagnostics = Diagnostics::new(file, text.as_ref(), diags).with_omitted(cx.dropped);
    match spec {
        Some(spec) if !has_errors => Ok(Loaded { spec, warnings: diagnostics, skipped_rules: skipped, args: cx.args_read }),
        _ => Err(diagnostics),
    }
}

fn not_utf8(file: &str, bytes: &[u8], valid_up_to: usize) -> Diagnostics {
    let valid = &bytes[..valid_up_to];
    let line = valid.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    let line_start = valid.iter().rposition(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0);
    let column = String::from_utf8_lossy(&valid[line_start..]).chars().count() as u32 + 1;
    let d = Diagnostic::error("InvalidText", Span::point(line, column), "the spec is not valid UTF-8 text").hint("save the file as UTF-8");
    Diagnostics::new(file, String::from_utf8_lossy(bytes), vec![d])
}

pub(crate) struct Cx<'a> {
    pub(crate) src: &'a str,
    pub(crate) diags: Vec<Diagnostic>,
    /// The build args the spec's values refer to, in file order.
    pub(crate) args_read: Vec<ArgRef>,
    /// Problems found past [`MAX_COLLECTED`], counted only.
    pub(crate) dropped: usize,
    /// The values of the version templates.
    pub(crate) stamps: &'a crate::stamp::Stamps,
}

/// The most problems one load keeps (the report shows fewer, [`crate::diag::MAX_DIAGNOSTICS`]).
const MAX_COLLECTED: usize = 1000;

/// A build arg a spec value refers to (`${NAME}` or `${NAME:-default}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgRef {
    pub name: String,
    pub default: Option<String>,
    /// The value that refers to it.
    pub span: Span,
}

impl<'a> Cx<'a> {
    pub(crate) fn error(&mut self, rule: &'static str, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        // A message that quotes an empty value says so in words.
        let mut message: String = message.into();
        if let Some(rest) = message.strip_prefix("`` ") {
            message = format!("an empty value {rest}");
        } else if message.ends_with(" ``") {
            message = format!("{} (an empty value)", message.trim_end_matches(" ``"));
        }
        self.push(Diagnostic::error(rule, span, message).hint(hint));
    }

    pub(crate) fn warning(&mut self, rule: &'static str, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Diagnostic::warning(rule, span, message).hint(hint));
    }

    /// Whether no more problems are kept: finding where the next one is can be skipped.
    pub(crate) fn full(&self) -> bool {
        self.diags.len() >= MAX_COLLECTED
    }

    /// Keeps a problem; past [`MAX_COLLECTED`] only counts it, so that a file that is not a
    /// spec costs no more memory than one that is.
    pub(crate) fn push(&mut self, d: Diagnostic) {
        if self.diags.len() < MAX_COLLECTED {
            self.diags.push(d);
        } else {
            self.dropped += 1;
        }
    }

    /// The rules the spec's `# check=skip=RULE[,RULE]` comment silences (`all` for every
    /// one), from the comments before its first key, as a Dockerfile's `# check=` directive.
    /// An unknown rule is an error at its column.
    fn check_directive(&mut self) -> Vec<&'static str> {
        let mut skipped = Vec::new();
        let src = self.src;
        for (i, line) in src.lines().enumerate() {
            let trimmed = line.trim_start_matches('\u{feff}').trim();
            if trimmed.is_empty() {
                continue;
            }
            let Some(comment) = trimmed.strip_prefix('#') else { break };
            let Some(rest) = comment.trim_start().strip_prefix("check=") else { continue };
            let Some(list) = rest.trim().strip_prefix("skip=") else {
                let col = line[..line.find("check=").unwrap_or(0)].chars().count() as u32 + 1;
                self.error(
                    "CheckDirective",
                    Span::point(i as u32 + 1, col),
                    format!("`{}` is not a check directive goapp reads", rest.trim()),
                    "write `# check=skip=RULE`, or several rules separated by commas",
                );
                continue;
            };
            let start = line.find("skip=").unwrap_or(0) + "skip=".len();
            let mut offset = start;
            for name in list.split(',') {
                let lead = name.len() - name.trim_start().len();
                let col = line[..offset + lead].chars().count() as u32 + 1;
                offset += name.len() + 1;
                let name = name.trim();
                if name == "all" {
                    skipped.extend(WARNING_RULES.iter().map(|(r, _)| *r));
                } else if let Some((rule, _)) = WARNING_RULES.iter().find(|(r, _)| *r == name) {
                    skipped.push(*rule);
                } else {
                    let names: Vec<&str> = WARNING_RULES.iter().map(|(r, _)| *r).collect();
                    let hint = crate::diag::did_you_mean(name, &names, || format!("the rules are {}, or `all`", names.join(", ")));
                    self.error("CheckDirective", Span::point(i as u32 + 1, col), format!("`{name}` is not a rule of goapp's checks"), hint);
                }
            }
        }
        skipped
    }

    fn run(&mut self, build_args: &BTreeMap<String, String>) -> Option<Spec> {
        if !self.check_text() {
            return None;
        }
        if self.src.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            self.error("MissingField", Span::point(1, 1), "the spec is empty", "a minimal goapp.yaml is one line: `name: myapp`");
            return None;
        }
        let options = LoaderOptions::default().error_on_duplicate_keys(true).prevent_coercion(true);
        let parsed = text::for_parser(self.src);
        let mut root = match marked_yaml::parse_yaml_with_options(0, &parsed, options) {
            Ok(root) => root,
            Err(e) => {
                self.load_error(e);
                return None;
            }
        };
        // `x-` keys are the user's: never interpolated or checked.
        strip_extensions(&mut root);
        self.check_sizes(&mut root);
        self.interpolate(&mut root, build_args);
        // What does not fit the schema is reported and pruned; the rest is still checked.
        let fits = self.check_schema(&mut root, crate::schema::json_schema(), "");
        let schema_errors = self.diags.iter().any(|d| d.severity == Severity::Error);
        if !fits {
            return None;
        }
        let raw: RawSpec = match marked_yaml::from_node(&root) {
            Ok(raw) => raw,
            Err(_) if schema_errors => return None,
            Err(e) => {
                // The tree fits the schema, so this is a gap between the schema and the types.
                let span = e.start_mark().map(|m| Span::point(m.line() as u32, m.column() as u32)).unwrap_or(Span::point(1, 1));
                self.error("InvalidYaml", span, format!("the spec could not be read: {e}"), "check this value against the spec reference");
                return None;
            }
        };
        self.resolve(raw)
    }

    fn load_error(&mut self, e: LoadError) {
        match e {
            LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => {
                let first = self.src.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
                let word = first.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                let hint = if ["FROM", "RUN", "COPY", "ADD", "ARG", "WORKDIR", "ENTRYPOINT", "CMD", "ENV", "EXPOSE"].contains(&word.as_str()) {
                    "this looks like a Dockerfile; goapp reads a YAML spec such as `name: myapp`"
                } else {
                    "write the spec as `key: value` lines, starting with `name: myapp`"
                };
                self.error("InvalidYaml", marker_span(&m), "the spec must be a YAML mapping of keys to values", hint);
            }
            LoadError::DuplicateKey(d) => {
                let first = self.scalar_span(&d.prev_key);
                self.error(
                    "DuplicateKey",
                    self.scalar_span(&d.key),
                    format!("`{}` is set twice", d.key.as_str()),
                    format!("it was first set on line {}; keep one of them", first.start.line),
                );
            }
            LoadError::UnexpectedAnchor(m) => {
                self.error("InvalidYaml", marker_span(&m), "YAML anchors and aliases are not supported", "write the value out in full")
            }
            LoadError::UnexpectedTag(m) => self.error("InvalidYaml", marker_span(&m), "YAML tags (`!name`) are not supported", "remove the tag"),
            LoadError::MappingKeyMustBeScalar(m) => self.error("InvalidYaml", marker_span(&m), "a key must be a plain word", "write keys as `key: value`"),
            LoadError::ScanError(m, se) => {
                let tab_line = self.src.lines().position(|l| l[..l.len() - l.trim_start().len()].contains('\t'));
                match tab_line {
                    Some(i) => {
                        let col = self.src.lines().nth(i).unwrap_or("").find('\t').unwrap_or(0) as u32 + 1;
                        self.error("InvalidYaml", Span::point(i as u32 + 1, col), "a tab is used for indentation", "YAML indentation must use spaces, not tabs")
                    }
                    None => self.error(
                        "InvalidYaml",
                        marker_span(&m),
                        format!("invalid YAML: {}", se.info()),
                        "check the indentation and quoting around this point",
                    ),
                }
            }
        }
    }

    pub(crate) fn scalar_span(&self, s: &MarkedScalarNode) -> Span {
        match s.span().start() {
            Some(m) => marker_span(m),
            None => Span::point(1, 1),
        }
    }

    pub(crate) fn span(&self, node: &Node) -> Span {
        match node {
            Node::Scalar(s) => self.scalar_span(s),
            // A mapping is shown at its first key.
            Node::Mapping(m) if !m.is_empty() => self.scalar_span(m.keys().next().expect("not empty")),
            _ => {
                let sp = node.span();
                let start = sp.start().map(|m| Pos { line: m.line() as u32, column: m.column() as u32 }).unwrap_or(Pos { line: 1, column: 1 });
                Span { start, end: start }
            }
        }
    }
}

fn marker_span(m: &marked_yaml::Marker) -> Span {
    Span::point(m.line() as u32, m.column() as u32)
}

/// The longest value the spec takes (a `known_hosts` block of several keys fits).
pub const MAX_VALUE_CHARS: usize = 16 * 1024;
/// The most items of one list.
pub const MAX_LIST_ITEMS: usize = 1024;

impl Cx<'_> {
    /// Refuses values and lists longer than a spec needs ([`MAX_VALUE_CHARS`],
    /// [`MAX_LIST_ITEMS`]), and leaves them out, so that no later message repeats them.
    fn check_sizes(&mut self, node: &mut Node) {
        match node {
            Node::Mapping(m) => {
                for v in m.values_mut() {
                    self.check_sizes(v);
                }
            }
            Node::Sequence(items) => {
                if items.len() > MAX_LIST_ITEMS {
                    let span = self.span(&items[MAX_LIST_ITEMS]);
                    self.error(
                        "TooLarge",
                        span,
                        format!("a list of {} items; the limit is {MAX_LIST_ITEMS}", items.len()),
                        "a spec lists a few targets, ports or files: check the file is the spec",
                    );
                    items.truncate(MAX_LIST_ITEMS);
                }
                for v in items.iter_mut() {
                    self.check_sizes(v);
                }
            }
            Node::Scalar(v) => {
                let chars = v.as_str().chars().count();
                if chars > MAX_VALUE_CHARS {
                    let span = self.scalar_span(v);
                    self.error(
                        "TooLarge",
                        span,
                        format!("a value of {chars} characters; the limit is {MAX_VALUE_CHARS}"),
                        "a spec's values are names, paths and short texts: check the file is the spec",
                    );
                    *v = MarkedScalarNode::new(*v.span(), "");
                }
            }
        }
    }
}

/// Removes `x-` keys, which the schema allows and the spec types do not know.
fn strip_extensions(node: &mut Node) {
    match node {
        Node::Mapping(m) => {
            let ext: Vec<_> = m.keys().filter(|k| k.as_str().starts_with("x-")).cloned().collect();
            for k in ext {
                m.remove(&k);
            }
            for v in m.values_mut() {
                strip_extensions(v);
            }
        }
        Node::Sequence(s) => s.iter_mut().for_each(strip_extensions),
        Node::Scalar(_) => {}
    }
}
