//! The semantic checks and defaults that turn the spec as written ([`RawSpec`]) into a
//! [`Spec`]: names, paths, platforms, ports, users, signals, durations, references between
//! fields, and options that contradict each other. Every problem is reported, each at the
//! value it is about.

mod develop;
mod go;
mod runtime;
mod targets;
mod values;

pub use targets::MAX_TARGETS;
pub(crate) use values::{parse_duration, parse_port, parse_signal, parse_user};

use std::collections::BTreeMap;

use crate::diag::Span;
use crate::reference::ImageRef;
use crate::spec::raw::{RawSpec, Scalar};
use crate::spec::*;

use super::Cx;

type Env = Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>;

impl Cx<'_> {
    pub(crate) fn resolve(&mut self, raw: RawSpec) -> Option<Spec> {
        let errors_before = self.error_count();
        self.check_name(&raw.name, "name");
        let whole = raw.name.span;
        let module = match raw.module {
            Some(m) => self
                .relative_path(&m, "module", "the directory holding go.mod, relative to the build context, e.g. `.` or `services/api`")
                .map(|v| Spanned::new(v, m.span)),
            None => Some(Spanned::new(".".to_string(), whole)),
        };
        let go_raw = raw.go.map(|g| g.value);
        let go = self.go(go_raw.as_ref());
        let targets = self.targets(&raw.name, raw.main.as_ref(), raw.targets.as_deref(), go_raw.as_ref());
        // The line of the `platforms` key (the list itself has no position when it is empty).
        let platforms_key = self.src.lines().position(|l| l.starts_with("platforms:")).map(|i| Span::point(i as u32 + 1, 1)).unwrap_or(whole);
        let platforms = raw.platforms.as_deref().map(|p| self.platforms(p, platforms_key)).unwrap_or_default();
        let runtime = self.runtime(raw.runtime.map(|r| r.value), &targets, whole);
        let mut text = |v: &Option<Spanned<String>>, what: &str| -> Option<String> {
            let v = v.as_ref()?;
            if v.value.trim().is_empty() || v.value.contains(['\n', '\r']) {
                self.error(
                    "InvalidValue",
                    v.span,
                    format!("`{what}` is empty or has several lines"),
                    format!("give `{what}` as one line of text, or leave it out"),
                );
                return None;
            }
            Some(v.value.clone())
        };
        let version = text(&raw.version, "version");
        let source = text(&raw.source, "source");
        let registry_mirror = raw.registry_mirror.as_ref().and_then(|m| self.registry_mirror(m));
        if let (Some(go), Some(runtime)) = (&go, &runtime) {
            self.check_c_library(go, runtime, whole);
        }
        let test = self.test(raw.test.as_ref(), go_raw.as_ref(), whole);
        let debug = self.debug(raw.debug.as_ref(), whole);
        let assets = self.assets(raw.assets.as_deref().unwrap_or_default());
        let generate = self.generate(raw.generate.as_deref().unwrap_or_default());
        if self.error_count() > errors_before {
            return None;
        }
        let spec = Spec {
            name: raw.name,
            module: module?,
            targets,
            platforms,
            go: go?,
            runtime: runtime?,
            version,
            source,
            registry_mirror,
            test: test?,
            debug: debug?,
            assets,
            generate,
        };
        // The settings a Windows image cannot have, when the spec builds one.
        if spec.platforms.iter().any(|p| crate::golang::is_windows(&p.value)) {
            self.diags.extend(crate::checks::windows(&spec, true));
        }
        (self.error_count() == errors_before).then_some(spec)
    }

    /// `host[:port][/prefix]`: checked by mirroring a reference through it.
    pub(crate) fn registry_mirror(&mut self, m: &Spanned<String>) -> Option<Spanned<String>> {
        let v = m.value.trim_end_matches('/');
        let probe = ImageRef::parse("golang:1").expect("a valid reference").mirrored(v).to_string();
        let host = v.split('/').next().unwrap_or("");
        let host_ok = !host.is_empty() && (host.contains(['.', ':']) || host == "localhost");
        if !host_ok || v.contains("://") || ImageRef::parse(&probe).is_err() {
            self.error("InvalidValue", 
                m.span,
                format!("`{}` is not a registry mirror", m.value),
                "write a registry host with an optional port and path, without a scheme: `mirror.example.com`, `localhost:5000`, `registry.example.com/dockerhub`",
            );
            return None;
        }
        Some(Spanned::new(v.to_string(), m.span))
    }

    pub(crate) fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.severity == crate::Severity::Error).count()
    }

    /// Where the key `key` of a map is written, found on its value's line (map keys carry no
    /// position of their own once read); the value's span when it is not there.
    pub(crate) fn key_span(&self, key: &str, value: Span) -> Span {
        if self.full() {
            return value;
        }
        let Some(line) = self.src.lines().nth(value.start.line.saturating_sub(1) as usize) else { return value };
        let before: String = line.chars().take(value.start.column.saturating_sub(1) as usize).collect();
        let found = before.find(&format!("\"{key}\"")).or_else(|| before.find(&format!("'{key}'"))).or_else(|| before.find(key));
        match found {
            Some(byte) => Span::point(value.start.line, before[..byte].chars().count() as u32 + 1),
            None => value,
        }
    }

    pub(crate) fn check_name(&mut self, name: &Spanned<String>, what: &str) -> bool {
        let v = &name.value;
        let ok = !v.is_empty()
            && v.len() <= 128
            && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && v.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok {
            let suggestion: String = v.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
            let suggestion = suggestion.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let example = if suggestion.is_empty() { "myapp" } else { suggestion };
            let note = crate::diag::non_ascii_note(v);
            self.error(
                "InvalidName",
                name.span,
                format!("`{v}` is not a valid {what}{note}"),
                format!("use lower-case letters, digits, `.`, `_` and `-`, starting and ending with a letter or digit, e.g. `{example}`"),
            );
        }
        ok
    }

    /// A binary may not be named `binaries`, `test` or `debug`: those `--target`s have a
    /// meaning of their own.
    pub(crate) fn not_reserved(&mut self, name: &Spanned<String>, what: &str) -> bool {
        let Some((_, means)) = RESERVED_TARGETS.iter().find(|(n, _)| *n == name.value) else {
            return true;
        };
        self.error("InvalidName", name.span, format!("`{}` cannot name {what}'s binary: `--target {0}` {means}", name.value), "choose another name");
        false
    }

    /// A path inside the build context, cleaned: no absolute paths, no `..`.
    pub(crate) fn relative_path(&mut self, p: &Spanned<String>, what: &str, example: &str) -> Option<String> {
        if p.value.trim().is_empty() {
            self.error("InvalidPath", p.span, format!("`{what}` is empty"), format!("`{what}` is {example}; `.` is the build context itself"));
            return None;
        }
        if p.value.contains(['\n', '\r', '\t']) || p.value.trim() != p.value {
            self.error("InvalidPath", p.span, format!("`{what}` has spaces or line breaks around it or in it"), format!("`{what}` is {example}"));
            return None;
        }
        // A Windows path: a drive letter or backslashes.
        let drive = p.value.len() >= 2 && p.value.as_bytes()[0].is_ascii_alphabetic() && p.value.as_bytes()[1] == b':';
        if drive || p.value.contains('\\') {
            let forward = p.value.replace('\\', "/");
            let hint = if drive {
                format!(
                    "`{what}` is relative to the build context (the directory given to `docker buildx build`), written with `/`: not a path on this machine"
                )
            } else {
                format!("write it with forward slashes: `{forward}`")
            };
            self.error("InvalidPath", p.span, format!("`{}` is a Windows path", p.value), hint);
            return None;
        }
        let v = p.value.trim_end_matches('/');
        if v.starts_with('/') || v.split('/').any(|c| c == "..") {
            self.error("InvalidPath", p.span, format!("`{}` is not inside the build context", p.value), format!("`{what}` is {example}"));
            return None;
        }
        let clean: Vec<&str> = v.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        Some(if clean.is_empty() { ".".to_string() } else { clean.join("/") })
    }

    pub(crate) fn absolute_path(&mut self, p: &Spanned<String>, what: &str) -> Option<String> {
        let v = &p.value;
        if v.contains('\\') && !v.contains('/') {
            let hint = format!(
                "paths in a Linux image use `/`: `/{}`",
                v.trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == ':').trim_start_matches('\\').replace('\\', "/")
            );
            self.error("InvalidPath", p.span, format!("`{v}` is a Windows path"), hint);
            return None;
        }
        if v.contains(['\n', '\r', '\t']) {
            self.error("InvalidPath", p.span, format!("{what} has a line break or a tab in it"), format!("{what} is an absolute path, such as `/data`"));
            return None;
        }
        if !v.starts_with('/') || v.split('/').any(|c| c == "..") || v.contains('\\') {
            self.error("InvalidPath", p.span, format!("`{v}` is not an absolute path in the image"), format!("{what} is an absolute path, such as `/data`"));
            return None;
        }
        let clean: Vec<&str> = v.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        Some(format!("/{}", clean.join("/")))
    }

    /// A Go package, in the `./dir` form `go build` needs (a bare `cmd/app` would be read as
    /// an import path of the standard library).
    pub(crate) fn main_package(&mut self, p: &Spanned<String>, what: &str) -> Option<Spanned<String>> {
        if p.value.contains("...") {
            self.error(
                "InvalidPath",
                p.span,
                format!("`{}` names several packages", p.value),
                format!("`{what}` is one main package; list each binary under `targets`"),
            );
            return None;
        }
        // An import path or a URL names a package to download, not one of the module's.
        let first = p.value.trim_start_matches("./").split('/').next().unwrap_or("");
        if p.value.contains("://") || (first.contains('.') && first != "." && first != ".." && p.value.contains('/')) {
            let dir = p.value.rsplit('/').next().unwrap_or("app");
            self.error(
                "InvalidPath",
                p.span,
                format!("`{}` is an import path, not a directory of the module", p.value),
                format!("`{what}` is the package's directory relative to `module`, such as `./cmd/{dir}`"),
            );
            return None;
        }
        let rel = self.relative_path(p, what, "a package directory relative to `module`, e.g. `./cmd/server`")?;
        Some(Spanned::new(if rel == "." { ".".into() } else { format!("./{rel}") }, p.span))
    }

    pub(crate) fn env(&mut self, env: &Env, what: &str, reserved: &[&str]) -> Vec<(String, String)> {
        let Some(env) = env else { return Vec::new() };
        let mut out = Vec::new();
        for (k, v) in &env.value {
            if !is_env_name(k) {
                let note = crate::diag::non_ascii_note(k);
                let at = self.key_span(k, v.span);
                self.error(
                    "InvalidName",
                    at,
                    format!("`{k}` is not a valid environment variable name{note}"),
                    "use letters, digits and `_`, not starting with a digit, e.g. `LOG_LEVEL`",
                );
                continue;
            }
            if reserved.contains(&k.as_str()) {
                let at = self.key_span(k, v.span);
                self.error("ReservedName", at, format!("`{k}` cannot be set in `{what}`"), "goapp sets it for each target platform and build; remove it");
                continue;
            }
            // GOFLAGS reaches every `go build`: not with the flags goapp sets itself.
            if k == "GOFLAGS" && !reserved.is_empty() {
                let taken = v.value.0.split_whitespace().find_map(|f| {
                    let name = f.split('=').next().unwrap_or("");
                    let name = name.strip_prefix("--").map(|n| format!("-{n}")).unwrap_or(name.to_string());
                    targets::FLAG_FIELDS.iter().find(|(n, _)| *n == name).map(|(n, why)| (n.to_string(), *why))
                });
                if let Some((flag, why)) = taken {
                    self.error("ReservedName", v.span, format!("GOFLAGS sets `{flag}`, which goapp sets itself"), format!("remove it from GOFLAGS: {why}"));
                    continue;
                }
            }
            out.push((k.clone(), v.value.0.clone()));
        }
        out
    }

    pub(crate) fn user(&mut self, u: &Spanned<String>, what: &str) -> Option<User> {
        match parse_user(&u.value) {
            Ok(user) => Some(user),
            Err(e) => {
                let rule = if e.contains("is not known") { "UnknownUser" } else { "InvalidValue" };
                self.error(rule, u.span, e, format!("`{what}` is `nonroot` (65532), `root`, or a numeric `uid` or `uid:gid`"));
                None
            }
        }
    }

    /// Permission bits written in octal, quoted.
    pub(crate) fn mode(&mut self, m: &Spanned<String>, example: &str) -> Option<u32> {
        let digits = m.value.strip_prefix("0o").unwrap_or(&m.value);
        match u32::from_str_radix(digits, 8) {
            Ok(v) if v <= 0o7777 && !digits.is_empty() && digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) => Some(v),
            _ => {
                self.error(
                    "InvalidValue",
                    m.span,
                    format!("`{}` is not a file mode", m.value),
                    format!("write the permission bits in octal, quoted, e.g. {example}"),
                );
                None
            }
        }
    }
}

fn target_names(targets: &[Target]) -> String {
    targets.iter().map(|t| format!("`{}`", t.name.value)).collect::<Vec<_>>().join(", ")
}

/// Every name `runtime.base` knows.
fn named_bases() -> Vec<&'static str> {
    Base::NAMES.iter().copied().chain(NAMED_BASES.iter().map(|(n, _)| *n)).collect()
}

/// An optional field once checked: `None` when it was given and is wrong (its error is
/// reported), else what was given, if anything.
fn valid<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    match field {
        Some(None) => None,
        Some(v) => Some(v),
        None => Some(None),
    }
}

fn is_user_name(v: &str) -> bool {
    !v.is_empty() && v.len() <= 32 && !v.starts_with('-') && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) && v.parse::<u32>().is_err()
}

fn is_env_name(v: &str) -> bool {
    v.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
