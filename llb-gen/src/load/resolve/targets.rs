//! The binaries: `name`, `main` and `targets`, with the `go` settings each one takes, and
//! `platforms`.

use std::collections::BTreeMap;

use crate::diag::Span;
use crate::golang;
use crate::spec::raw::{RawGo, RawTarget, Scalar};
use crate::spec::*;

use super::super::Cx;
use super::go::RESERVED_GO_ENV;

/// `go build` flags that have a spec field of their own.
/// The most binaries one spec builds.
pub const MAX_TARGETS: usize = 64;

pub(crate) const FLAG_FIELDS: &[(&str, &str)] = &[
    ("-o", "the binary's path is set by goapp"),
    ("-ldflags", "use `ldflags`"),
    ("-tags", "use `tags`"),
    ("-mod", "use `go.mod`"),
    ("-buildvcs", "use `go.vcs`"),
];

impl Cx<'_> {
    pub(crate) fn targets(
        &mut self,
        name: &Spanned<String>,
        main: Option<&Spanned<String>>,
        targets: Option<&[Spanned<RawTarget>]>,
        go: Option<&RawGo>,
    ) -> Vec<Target> {
        let targets = targets.map(|t| {
            if t.len() > MAX_TARGETS {
                self.error(
                    "TooLarge",
                    t[MAX_TARGETS].span,
                    format!("{} targets; the limit is {MAX_TARGETS}", t.len()),
                    "an image holds a few programs: build the others in images of their own",
                );
            }
            &t[..t.len().min(MAX_TARGETS)]
        });
        let go_tags = self.tags(go.and_then(|g| g.tags.as_ref()));
        let go_env = self.env(&go.and_then(|g| g.env.clone()), "go.env", RESERVED_GO_ENV);
        let go_flags = match go.and_then(|g| g.flags.as_ref()) {
            Some(f) => self.flags(f),
            None => DEFAULT_FLAGS.iter().map(|f| f.to_string()).collect(),
        };
        let go_x = self.link_values(go.and_then(|g| g.x.as_ref()));
        let with_x = |ldflags: String| if go_x.is_empty() { ldflags } else { format!("{ldflags} {go_x}").trim_start().to_string() };
        // Linker flags written without `-s -w` keep symbols and debug information: said once.
        let mut written = go.and_then(|g| g.ldflags.as_ref()).into_iter().chain(targets.into_iter().flatten().filter_map(|t| t.value.ldflags.as_ref()));
        if let Some(l) = written.find(|l| !strips_debug_information(&l.value)) {
            self.warning(
                "LdflagsKeepDebugInfo",
                l.span,
                format!("`{}` replaces the default `{DEFAULT_LDFLAGS}`: the binaries keep their symbol table and debug information (larger images, slower compiles)", l.value),
                format!("add `{DEFAULT_LDFLAGS}` to keep the default, or give -X values with `go.x`, which keeps it"),
            );
        }
        // Go splits the flags at spaces outside quotes: a quote left open swallows the rest.
        for l in go.and_then(|g| g.ldflags.as_ref()).into_iter().chain(targets.into_iter().flatten().filter_map(|t| t.value.ldflags.as_ref())) {
            if let Some(q) = open_quote(&l.value) {
                self.error(
                    "InvalidValue",
                    l.span,
                    format!("the linker flags open a {q} quote and never close it"),
                    "close the quote, as in `-X 'main.note=two words'`, or give -X values with `go.x`",
                );
            }
        }
        let go_ldflags = with_x(go.and_then(|g| g.ldflags.as_ref()).map(|l| l.value.clone()).unwrap_or(DEFAULT_LDFLAGS.to_string()));
        let single = |main: Spanned<String>| Target {
            name: name.clone(),
            main,
            ldflags: go_ldflags.clone(),
            tags: go_tags.clone(),
            env: go_env.clone(),
            flags: go_flags.clone(),
        };
        let Some(targets) = targets else {
            self.not_reserved(name, "an app with one binary");
            let main = match main {
                Some(m) => match self.main_package(m, "main") {
                    Some(m) => m,
                    None => return Vec::new(),
                },
                None => Spanned::new(".".into(), name.span),
            };
            return vec![single(main)];
        };
        if let Some(m) = main {
            self.error(
                "ConflictingFields",
                m.span,
                "`main` and `targets` cannot both be set",
                "with several binaries, give each its `main` under `targets`, and remove this line",
            );
        }
        // A list emptied by earlier errors (its items were reported and removed) is not empty
        // as written.
        if targets.is_empty() && self.error_count() == 0 {
            self.error("MissingField", name.span, "`targets` is an empty list", "list at least one target, or remove `targets` to build `main`");
        }
        let mut out: Vec<Target> = Vec::new();
        for t in targets {
            let t = &t.value;
            if !self.check_name(&t.name, "target name") || !self.not_reserved(&t.name, "a target") {
                continue;
            }
            if let Some(prev) = out.iter().find(|o| o.name.value == t.name.value) {
                let line = prev.name.span.start.line;
                self.error(
                    "Duplicate",
                    t.name.span,
                    format!("there are two targets named `{}`", t.name.value),
                    format!("the first is on line {line}; target names must differ"),
                );
                continue;
            }
            let Some(main) = self.main_package(&t.main, "main") else {
                continue;
            };
            let mut tags = go_tags.clone();
            tags.extend(self.tags(t.tags.as_ref()));
            let mut env = go_env.clone();
            for (k, v) in self.env(&t.env, "env", RESERVED_GO_ENV) {
                env.retain(|(e, _)| *e != k);
                env.push((k, v));
            }
            let flags = match &t.flags {
                Some(f) => self.flags(f),
                None => go_flags.clone(),
            };
            let ldflags = t.ldflags.as_ref().map(|l| with_x(l.value.clone())).unwrap_or(go_ldflags.clone());
            out.push(Target { name: t.name.clone(), main, ldflags, tags, env, flags });
        }
        out
    }

    pub(crate) fn platforms(&mut self, items: &[Spanned<String>], span: Span) -> Vec<Spanned<llb::Platform>> {
        if items.is_empty() {
            self.error(
                "MissingField",
                span,
                "`platforms` is an empty list",
                "list the platforms to build, such as `[linux/amd64, linux/arm64]`, or leave `platforms` out to build for the build machine's",
            );
        }
        let mut out: Vec<Spanned<llb::Platform>> = Vec::new();
        for s in items {
            let p = match llb::Platform::parse(&s.value) {
                Ok(p) => p,
                Err(e) => {
                    let message = format!("{e}{}", crate::diag::non_ascii_note(&s.value));
                    self.error("UnsupportedPlatform", s.span, message, format!("platforms Go can build: {}", golang::COMMON_PLATFORMS));
                    continue;
                }
            };
            if let Err(e) = golang::target(&p) {
                let message = format!("{e}{}", crate::diag::non_ascii_note(&s.value));
                self.error("UnsupportedPlatform", s.span, message, format!("platforms Go can build: {}", golang::COMMON_PLATFORMS));
                continue;
            }
            if let Some(first) = out.iter().find(|q| q.value == p) {
                let line = first.span.start.line;
                self.error("Duplicate", s.span, format!("`{p}` is listed twice"), format!("it is already listed on line {line}; remove one"));
                continue;
            }
            out.push(Spanned::new(p, s.span));
        }
        out
    }

    /// `go.x` as linker flags: `-X importpath.name=value` for each entry, in key order, a
    /// value with spaces quoted as Go's flag parser reads it.
    pub(crate) fn link_values(&mut self, x: Option<&Spanned<BTreeMap<String, Spanned<Scalar>>>>) -> String {
        let mut out = Vec::new();
        for (k, v) in x.iter().flat_map(|x| x.value.iter()) {
            let name_ok = k
                .rsplit_once('.')
                .is_some_and(|(path, name)| !path.is_empty() && !name.is_empty() && !k.contains(['=', '\'', '"']) && !k.chars().any(char::is_whitespace));
            if !name_ok {
                self.error(
                    "InvalidName",
                    v.span,
                    format!("`{k}` is not a variable -X can set"),
                    "write `importpath.name`, e.g. `main.version` or `example.com/app/internal/build.Commit`",
                );
                continue;
            }
            let value = &v.value.0;
            if value.contains(['\'', '"', '\n', '\r']) {
                self.error(
                    "InvalidValue",
                    v.span,
                    format!("the value of `{k}` holds a quote or a line break, which -X cannot pass"),
                    "write the value without quotes or line breaks",
                );
                continue;
            }
            if value.chars().any(char::is_whitespace) {
                out.push(format!("-X '{k}={value}'"));
            } else {
                out.push(format!("-X {k}={value}"));
            }
        }
        out.join(" ")
    }

    pub(crate) fn tags(&mut self, tags: Option<&Vec<Spanned<String>>>) -> Vec<String> {
        let mut out = Vec::new();
        for t in tags.into_iter().flatten() {
            let ok = !t.value.is_empty() && t.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.".contains(&b));
            if ok {
                out.push(t.value.clone());
            } else {
                self.error(
                    "InvalidName",
                    t.span,
                    format!("`{}` is not a build tag", t.value),
                    "a build tag is letters, digits, `_` and `.`; list each tag as its own item",
                );
            }
        }
        out
    }

    pub(crate) fn flags(&mut self, flags: &[Spanned<String>]) -> Vec<String> {
        let mut out = Vec::new();
        for f in flags {
            let name = f.value.split('=').next().unwrap_or("");
            let name = name.strip_prefix("--").map(|n| format!("-{n}")).unwrap_or(name.to_string());
            if !f.value.starts_with('-') {
                self.error(
                    "InvalidFlag",
                    f.span,
                    format!("`{}` is not a `go build` flag", f.value),
                    "flags start with `-`, e.g. `-trimpath`; packages go in `main`",
                );
            } else if let Some((_, why)) = FLAG_FIELDS.iter().find(|(n, _)| *n == name) {
                self.error("ReservedName", f.span, format!("`{name}` cannot be given in flags"), *why);
            } else {
                out.push(f.value.clone());
            }
        }
        out
    }
}

/// Whether linker flags drop the symbol table and debug information: `-s` (which, since Go
/// 1.22, implies `-w`), as `-s`, `--s` or `-s=true`.
/// The kind of quote (`'` or `"`) that `flags` open and never close, as Go's flag splitting
/// reads them.
fn open_quote(flags: &str) -> Option<&'static str> {
    let mut quote = None;
    for c in flags.chars() {
        match (quote, c) {
            (None, '\'') => quote = Some('\''),
            (None, '"') => quote = Some('"'),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    quote.map(|q| if q == '"' { "double" } else { "single" })
}

pub(super) fn strips_debug_information(ldflags: &str) -> bool {
    ldflags.split_whitespace().any(|w| matches!(w.trim_start_matches('-'), "s" | "s=true") && w.starts_with('-'))
}
