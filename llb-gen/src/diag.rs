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
];

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, span, message: message.into(), hint: None, rule: None }
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
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    /// `file:line:col: message` for each item, one per line.
    pub fn summary(&self) -> String {
        self.items
            .iter()
            .map(|d| {
                let kind = if d.severity == Severity::Error { "" } else { "warning: " };
                format!("{}:{}:{}: {kind}{}", self.file, d.span.start.line, d.span.start.column, d.message)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A report with the offending lines and a hint under each, as a compiler prints it.
    pub fn render(&self, color: bool) -> String {
        use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
        let renderer = if color { Renderer::styled() } else { Renderer::plain() };
        let mut out = String::new();
        for d in &self.items {
            let level = match d.severity {
                Severity::Error => Level::ERROR,
                Severity::Warning => Level::WARNING,
            };
            let range = byte_range(&self.source, d.span);
            let snippet = Snippet::source(self.source.as_str()).path(self.file.as_str()).annotation(AnnotationKind::Primary.span(range));
            let mut groups = vec![level.primary_title(d.message.as_str()).element(snippet)];
            if let Some(h) = &d.hint {
                groups.push(Group::with_title(Level::HELP.secondary_title(h.as_str())));
            }
            out.push_str(&renderer.render(&groups));
            out.push_str("\n\n");
        }
        let n = self.errors().count();
        if n > 0 {
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
