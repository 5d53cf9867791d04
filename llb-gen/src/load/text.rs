//! The spec as text, before the YAML parser sees it. A leading byte-order mark (as Notepad
//! and PowerShell 5 write one) is dropped and line endings become `\n`, so that positions
//! are the same for LF, CRLF and CR files. Then what the parser would misread or choke on
//! is refused at its line and column: control characters, byte-order marks and invisible
//! spaces in the text, nesting deeper than any spec needs, and a second YAML document.

use std::borrow::Cow;

use crate::diag::Span;

use super::Cx;

/// Specs larger than this are refused before parsing: a real spec is a few kilobytes.
pub const MAX_SPEC_BYTES: usize = 256 * 1024;
/// Deeper nesting of `[` and `{` than this is refused before parsing.
pub const MAX_FLOW_DEPTH: usize = 32;
/// Lines whose content starts further right than this column (indentation and `- `
/// indicators, which nest a block each) are refused before parsing.
pub const MAX_INDENT: usize = 160;

/// The text the parser reads: without a leading byte-order mark, with `\n` line endings.
pub(super) fn normalize(text: &str) -> Cow<'_, str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\r') { Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n")) } else { Cow::Borrowed(text) }
}

/// The text the parser reads once [`Cx::check_text`] has reported what is not plain text in
/// it: control characters and look-alike spaces as spaces, invisible characters left out, so
/// that the rest of the spec is still read and checked (the build fails on the errors
/// anyway).
/// A tab right after a key's colon, which YAML allows as the space there and the parser
/// refuses, is read as a space too.
pub(super) fn for_parser(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| (c.is_control() && c != '\n') || invisible(c).is_some()) {
        return Cow::Borrowed(text);
    }
    let mut prev = '\n';
    Cow::Owned(
        text.chars()
            .filter_map(|c| {
                let out = match invisible(c) {
                    Some((_, Width::Space)) => Some(' '),
                    Some((_, Width::None)) => None,
                    None if c == '\t' && prev == ':' => Some(' '),
                    None if c.is_control() && c != '\t' && c != '\n' => None,
                    None => Some(c),
                };
                prev = c;
                out
            })
            .collect(),
    )
}

/// How an invisible character shows: as a space, or as nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Space,
    None,
}

/// Characters that look like a space, or like nothing, but are not one: the name a reader
/// knows them by.
fn invisible(c: char) -> Option<(&'static str, Width)> {
    Some(match c {
        '\u{a0}' => ("a no-break space", Width::Space),
        '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => ("a space that is not an ASCII space", Width::Space),
        '\u{2028}' | '\u{2029}' => ("a Unicode line separator", Width::Space),
        '\u{ad}' => ("a soft hyphen", Width::None),
        '\u{200b}' => ("a zero-width space", Width::None),
        '\u{200c}' | '\u{200d}' | '\u{2060}'..='\u{2064}' => ("an invisible joiner", Width::None),
        '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => ("a text-direction mark", Width::None),
        '\u{feff}' => ("a byte-order mark", Width::None),
        _ => return None,
    })
}

impl Cx<'_> {
    /// Refuses what the parser would misread or choke on; `false` when the text cannot be
    /// parsed safely (too deep), so that parsing is not tried.
    pub(super) fn check_text(&mut self) -> bool {
        let src = self.src;
        let mut parseable = true;
        let mut content_seen = false;
        let mut ended_at = None;
        let mut flow_depth = 0usize;
        for (li, line) in src.lines().enumerate() {
            let line_no = li as u32 + 1;
            // Characters that are never content, anywhere, comments included.
            let mut quote: Option<char> = None;
            let mut in_comment = false;
            let mut prev = ' ';
            for (ci, c) in line.chars().enumerate() {
                let at = Span::point(line_no, ci as u32 + 1);
                let odd = (c.is_control() && c != '\t') || invisible(c).is_some();
                if odd && self.full() {
                    self.dropped += 1;
                } else if c.is_control() && c != '\t' {
                    let name = if c == '\0' { "a NUL byte".to_string() } else { "a control character".to_string() };
                    self.error(
                        "InvalidText",
                        at,
                        format!("{name} (U+{:04X}) in the spec", c as u32),
                        "remove it: a spec is plain text (did the file come from a binary or a pasted terminal?)",
                    );
                } else if let Some((what, width)) = invisible(c).filter(|_| !in_comment || c == '\u{feff}') {
                    let looks = if width == Width::Space { "a space" } else { "nothing" };
                    self.error(
                        "InvalidText",
                        at,
                        format!("{what} (U+{:04X}), which looks like {looks} but is not", c as u32),
                        "retype this part of the line with plain spaces and ASCII characters",
                    );
                }
                match (quote, c) {
                    (_, _) if in_comment => {}
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, '"' | '\'') => quote = Some(c),
                    (None, '#') if prev == ' ' || prev == '\t' || ci == 0 => in_comment = true,
                    (None, '[' | '{') => {
                        flow_depth += 1;
                        if flow_depth == MAX_FLOW_DEPTH + 1 {
                            self.error(
                                "InvalidYaml",
                                at,
                                format!("the spec nests `[` and `{{` more than {MAX_FLOW_DEPTH} deep"),
                                "a goapp spec needs at most a few levels of nesting",
                            );
                            parseable = false;
                        }
                    }
                    (None, ']' | '}') => flow_depth = flow_depth.saturating_sub(1),
                    _ => {}
                }
                prev = c;
            }
            let trimmed = line.trim_start_matches([' ', '\t']);
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            // Block nesting: indentation and sequence indicators, each a level deeper.
            let mut rest = line;
            let mut column = 0;
            loop {
                let spaces = rest.len() - rest.trim_start_matches(' ').len();
                column += spaces;
                rest = &rest[spaces..];
                match rest.strip_prefix("- ").or_else(|| rest.strip_prefix("? ")) {
                    Some(r) => {
                        column += 2;
                        rest = r;
                    }
                    None => break,
                }
            }
            if column > MAX_INDENT && parseable {
                self.error(
                    "InvalidYaml",
                    Span::point(line_no, 1),
                    format!("this line is nested {column} columns deep; the limit is {MAX_INDENT}"),
                    "a goapp spec needs a few levels of indentation: check the file is the spec",
                );
                parseable = false;
            }
            // One document: a `---` after content starts a second, and nothing follows `...`.
            if line == "---" || line.starts_with("--- ") {
                if content_seen {
                    self.error(
                        "InvalidYaml",
                        Span::point(line_no, 1),
                        "a second YAML document in the spec",
                        "a spec is one document: remove the `---` line and what follows it, or merge it into the spec",
                    );
                }
                continue;
            }
            if line == "..." || line.starts_with("... ") {
                ended_at = ended_at.or(Some(line_no));
                continue;
            }
            if let Some(end) = ended_at {
                self.error(
                    "InvalidYaml",
                    Span::point(line_no, 1),
                    format!("text after the end of the spec (`...` on line {end})"),
                    "a spec is one document: remove the `...` line, or what follows it",
                );
                ended_at = None;
            }
            content_seen = true;
        }
        parseable
    }
}
