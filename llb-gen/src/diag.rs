//! Diagnostics: what is wrong with a spec, where (file, line, column), and what to do about it.
//! One type, rendered three ways: a terminal report ([`Diagnostics::render`]), one-line
//! `file:line:col: message` summaries for a failed build's message, and BuildKit's
//! source-location detail (built by the frontend from [`Diagnostic::span`]).

use std::fmt;

/// A position in the spec file: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// A range of the spec file. `end` is inclusive; when the parser knows only where a value
/// starts, `end` is the end of that value's token on its line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn point(line: u32, column: u32) -> Self {
        Span { start: Pos { line, column }, end: Pos { line, column } }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
    /// The rule a warning is, which `# check=skip=RULE` silences ([`WARNING_RULES`]).
    pub rule: Option<&'static str>,
}

/// The language BuildKit is told a spec's lines are in, and go.mod's (and go.work's).
pub const SPEC_LANGUAGE: &str = "YAML";
pub const GO_MOD_LANGUAGE: &str = "go.mod";

/// The rules of the spec's warnings: each a choice the spec may make on purpose, and
/// acknowledge with `# check=skip=RULE` (as a Dockerfile's `# check=` directive does).
pub const WARNING_RULES: &[(&str, &str)] = &[
    ("RunsAsRoot", "the program runs as root"),
    ("StaticBinaryOnLibcBase", "statically linked binaries on a base with a C library they do not use"),
    ("UncheckedHostKey", "an SSH host whose key the spec does not pin"),
    ("LdflagsKeepDebugInfo", "linker flags that keep the symbol table and debug information"),
    ("GoReleaseOutOfSupport", "a Go release older than the ones goapp supports"),
    ("UnbracedBuildArg", "a `$NAME` written without braces, which is not replaced by the build arg"),
    ("UndatedGitContext", "a git context whose commit could not be read (a builder without git): the image is not dated by it"),
];

/// A kind of error: its stable name (what `--call lint` reports as the rule), what it is,
/// and a spec that has it (checked by the tests; `None` for those found only while
/// building, against the context or the images).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    pub description: &'static str,
    pub example: Option<&'static str>,
}

const fn rule(name: &'static str, description: &'static str, example: Option<&'static str>) -> Rule {
    Rule { name, description, example }
}

/// The kinds of the spec's errors.
pub const ERROR_RULES: &[Rule] = &[
    rule(
        "InvalidText",
        "characters that are not plain text: a NUL byte or another control character, an invisible space, a byte-order mark inside the file, bytes that are not UTF-8",
        Some("name: hel\u{0}lo\n"),
    ),
    rule(
        "InvalidYaml",
        "the file is not YAML goapp reads: bad syntax, tabs for indentation, anchors, tags, a second document, too large or too deep",
        Some("name: [app\n"),
    ),
    rule("TooLarge", "a spec, value, list or number of targets over the limits below", None),
    rule("DuplicateKey", "a key set twice in one mapping", Some("name: a\nname: b\n")),
    rule("UnknownKey", "a key the spec does not have (keys starting with `x-` are yours)", Some("name: app\nplatform: [linux/amd64]\n")),
    rule("WrongType", "a value of the wrong kind: a list where one value is wanted, text where a number is, an empty value", Some("name: [app]\n")),
    rule("MissingField", "a required key or value left out", Some("name: app\ntargets: []\n")),
    rule(
        "InvalidValue",
        "a value that means nothing where it is: a port, mode, signal, duration, or a text that must be one line",
        Some("name: app\nruntime:\n  stop_signal: SIGFOO\n"),
    ),
    rule("InvalidName", "a name with characters it cannot have: the app, a target, a variable, a label, a package", Some("name: My App\n")),
    rule("InvalidPath", "a path outside the build context, or not absolute where the image needs it", Some("name: app\nmain: ../cmd/app\n")),
    rule("InvalidImage", "an image reference that is not one", Some("name: app\ngo:\n  image: \"Golang:1.27\"\n")),
    rule("InvalidGoVersion", "a Go release that is not one", Some("name: app\ngo:\n  version: \"2.0\"\n")),
    rule("InvalidFlag", "a `go build` flag written without its `-`", Some("name: app\ngo:\n  flags: [trimpath]\n")),
    rule("InvalidArg", "a build arg reference that cannot be read", Some("name: app-${VERSION\n")),
    rule("InvalidTemplate", "a `{{...}}` that is not one of the version templates", Some("name: app\nversion: \"{{.Comit}}\"\n")),
    rule(
        "UnknownTemplateValue",
        "a version template whose value the build does not know (a tag, a commit time): the message names the build arg that gives it",
        Some("name: app\nversion: \"{{.Tag}}\"\n"),
    ),
    rule("ReservedName", "a setting goapp makes itself (GOOS, -o, ...)", Some("name: app\ngo:\n  env:\n    GOOS: windows\n")),
    rule(
        "ConflictingFields",
        "settings that contradict each other, or one that needs another",
        Some("name: app\ngo:\n  version: \"1.27\"\n  image: golang:1.27\n"),
    ),
    rule("Duplicate", "the same item listed twice", Some("name: app\nruntime:\n  ports: [8080, 8080]\n")),
    rule("UnsupportedPlatform", "a platform Go (or cgo) cannot build for", Some("name: app\nplatforms: [linux/sparc]\n")),
    rule("UnknownBase", "a `runtime.base` that is neither a named base nor an image reference", Some("name: app\nruntime:\n  base: distroles\n")),
    rule("UnknownTarget", "a target name that is not one of the spec's", Some("name: app\nruntime:\n  entrypoint: api\n")),
    rule("UnknownUser", "a user the base does not have", Some("name: app\nruntime:\n  user: app\n")),
    rule("HealthcheckCommand", "a health check that cannot run in the image", Some("name: app\nruntime:\n  healthcheck:\n    command: [/bin/true]\n")),
    rule(
        "NotOnWindows",
        "a setting a Windows image cannot have (a stop signal, a health check of a Linux program, C packages)",
        Some("name: app\nplatforms: [windows/amd64]\nruntime:\n  stop_signal: SIGINT\n"),
    ),
    rule("NoGlibc", "binaries that link glibc, on a base without it", Some("name: app\ngo:\n  cgo: true\n")),
    rule("CheckDirective", "a `# check=` comment goapp cannot read", Some("# check=skip=NoSuchRule\nname: app\n")),
    rule("InvalidGoMod", "a `go` or `toolchain` line of go.mod or go.work that Go would refuse (found when building)", None),
    rule("FileNotInContext", "a `runtime.files` source that is not in the build context (found when building)", None),
];

/// For a word with characters outside ASCII (a Cyrillic `а` that looks like `a`, a
/// full-width digit), the note that names them: ` (it has U+0430 where ASCII is expected)`;
/// empty otherwise.
pub fn non_ascii_note(word: &str) -> String {
    let odd: Vec<String> = word.chars().filter(|c| !c.is_ascii()).map(|c| format!("`{c}` U+{:04X}", c as u32)).collect();
    match odd.len() {
        0 => String::new(),
        _ => format!(" (it has {}, not ASCII)", odd.join(", ")),
    }
}

/// What a rule of either kind is, by its name.
pub fn rule_description(name: &str) -> Option<&'static str> {
    ERROR_RULES.iter().find(|r| r.name == name).map(|r| r.description).or_else(|| WARNING_RULES.iter().find(|(r, _)| *r == name).map(|(_, d)| *d))
}

impl Diagnostic {
    /// An error of one of the [`ERROR_RULES`].
    pub fn error(rule: &'static str, span: Span, message: impl Into<String>) -> Self {
        debug_assert!(ERROR_RULES.iter().any(|r| r.name == rule), "unknown rule {rule}");
        Diagnostic { severity: Severity::Error, span, message: message.into(), hint: None, rule: Some(rule) }
    }

    /// A warning of one of the [`WARNING_RULES`].
    pub fn warning(rule: &'static str, span: Span, message: impl Into<String>) -> Self {
        debug_assert!(WARNING_RULES.iter().any(|(r, _)| *r == rule), "unknown rule {rule}");
        Diagnostic { severity: Severity::Warning, span, message: message.into(), hint: None, rule: Some(rule) }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every problem found in one spec file, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics {
    pub file: String,
    pub source: String,
    /// At most [`MAX_DIAGNOSTICS`].
    pub items: Vec<Diagnostic>,
    /// How many more problems were found than are kept.
    pub omitted: usize,
}

/// The most problems a report shows: past them, a count of the rest (a file that is not a
/// spec at all could otherwise give one per character).
pub const MAX_DIAGNOSTICS: usize = 50;

impl Diagnostics {
    /// The report of `items`, the first [`MAX_DIAGNOSTICS`] of them kept.
    pub fn new(file: impl Into<String>, source: impl Into<String>, mut items: Vec<Diagnostic>) -> Self {
        let omitted = items.len().saturating_sub(MAX_DIAGNOSTICS);
        items.truncate(MAX_DIAGNOSTICS);
        Diagnostics { file: file.into(), source: source.into(), items, omitted }
    }

    /// Counts `n` more problems that were found but not kept.
    pub fn with_omitted(mut self, n: usize) -> Self {
        self.omitted += n;
        self
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    /// `file:line:col: message` for each item, one per line.
    pub fn summary(&self) -> String {
        let mut lines: Vec<String> = self
            .items
            .iter()
            .map(|d| {
                let kind = if d.severity == Severity::Error { "" } else { "warning: " };
                format!("{}:{}:{}: {kind}{}", self.file, d.span.start.line, d.span.start.column, d.message)
            })
            .collect();
        if self.omitted > 0 {
            lines.push(format!("{}: {} more problems not shown", self.file, self.omitted));
        }
        lines.join("\n")
    }

    /// A report with the offending lines and a hint under each, as a compiler prints it.
    pub fn render(&self, color: bool) -> String {
        use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
        let renderer = if color { Renderer::styled() } else { Renderer::plain() };
        let mut out = String::new();
        // Where each line starts, so that each report shows its own lines only.
        let starts: Vec<usize> = std::iter::once(0).chain(self.source.match_indices('\n').map(|(i, _)| i + 1)).collect();
        for d in &self.items {
            let level = match d.severity {
                Severity::Error => Level::ERROR,
                Severity::Warning => Level::WARNING,
            };
            let mut first = (d.span.start.line.max(1) as usize - 1).min(starts.len() - 1);
            // Past the last line (the end of the file): shown at the end of the last line.
            while first > 0 && starts[first] >= self.source.len() {
                first -= 1;
            }
            let last = (d.span.end.line.max(d.span.start.line).max(1) as usize - 1).clamp(first, starts.len() - 1);
            let (from, to) = (starts[first], starts.get(last + 1).copied().unwrap_or(self.source.len()));
            let lines = &self.source[from..to];
            let shifted = Span {
                start: Pos { line: d.span.start.line.saturating_sub(first as u32), column: d.span.start.column },
                end: Pos { line: d.span.end.line.saturating_sub(first as u32), column: d.span.end.column },
            };
            let range = byte_range(lines, shifted);
            let snippet = Snippet::source(lines).line_start(first + 1).path(self.file.as_str()).annotation(AnnotationKind::Primary.span(range));
            let mut title = level.primary_title(d.message.as_str());
            if let Some(rule) = d.rule {
                title = title.id(rule);
            }
            let mut groups = vec![title.element(snippet)];
            if let Some(h) = &d.hint {
                groups.push(Group::with_title(Level::HELP.secondary_title(h.as_str())));
            }
            out.push_str(&renderer.render(&groups));
            out.push_str("\n\n");
        }
        let n = self.errors().count();
        if self.omitted > 0 {
            out.push_str(&format!("{}: {n} errors shown, and {} more problems\n", self.file, self.omitted));
        } else if n > 0 {
            out.push_str(&format!("{}: {n} error{} in the spec\n", self.file, if n == 1 { "" } else { "s" }));
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for Diagnostics {}

/// The byte range of `span` in `source`. A span that is only a start point covers the token
/// that starts there (a quoted string, or a plain word up to `: `, `,`, `]`, `}` or a
/// comment); the range is clamped so that the renderer always gets a valid one.
pub fn byte_range(source: &str, span: Span) -> std::ops::Range<usize> {
    let start = byte_offset(source, span.start);
    if span.end <= span.start {
        return start..start + token_len(&source[start..]);
    }
    let end = byte_offset(source, span.end);
    let end_char = source[end..].chars().next().map(|c| c.len_utf8()).unwrap_or(0);
    start..(end + end_char).min(source.len()).max(start)
}

/// The span of the token starting at `span.start`, with its end filled in.
pub fn token_span(source: &str, span: Span) -> Span {
    if span.end > span.start {
        return span;
    }
    let start = byte_offset(source, span.start);
    let len = source[start..start + token_len(&source[start..])].chars().count() as u32;
    Span { start: span.start, end: Pos { line: span.start.line, column: span.start.column + len.saturating_sub(1) } }
}

fn token_len(rest: &str) -> usize {
    let line = rest.split('\n').next().unwrap_or("").trim_end_matches('\r');
    let len = match line.chars().next() {
        Some(q @ ('"' | '\'')) => line[1..].find(q).map(|i| i + 2).unwrap_or(line.len()),
        _ => {
            let mut end = line.len();
            for pat in [": ", ",", "]", "}", " #"] {
                if let Some(i) = line.find(pat) {
                    end = end.min(i);
                }
            }
            if line[..end].ends_with(':') {
                end -= 1;
            }
            line[..end].trim_end().len()
        }
    };
    len.max(line.chars().next().map(|c| c.len_utf8()).unwrap_or(0))
}

fn byte_offset(source: &str, pos: Pos) -> usize {
    let mut offset = 0;
    for (i, line) in source.split_inclusive('\n').enumerate() {
        if i + 1 == pos.line as usize {
            let content = line.trim_end_matches(['\n', '\r']);
            let col = pos.column.saturating_sub(1) as usize;
            return offset + content.char_indices().nth(col).map(|(b, _)| b).unwrap_or(content.len());
        }
        offset += line.len();
    }
    source.len()
}

/// "did you mean `x`?" when a candidate is close to `word`, else `otherwise()`: the hint for a
/// value that is not one of a known set.
pub fn did_you_mean(word: &str, candidates: &[&str], otherwise: impl FnOnce() -> String) -> String {
    match similar(word, candidates) {
        Some(s) => format!("did you mean `{s}`?"),
        None => otherwise(),
    }
}

/// The candidate closest to `word`, if any is close, for "did you mean" hints.
pub fn similar<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().map(|c| (strsim::jaro_winkler(word, c), *c)).filter(|(score, _)| *score > 0.8).max_by(|a, b| a.0.total_cmp(&b.0)).map(|(_, c)| c)
}
