//! What the spec says about the work around the image: `test` (`--target test`), `debug`
//! (`--target debug`), `assets` and `generate` (what the source tree gets before the compile).

use crate::diag::{Span, did_you_mean};
use crate::spec::raw::{RawAsset, RawDebug, RawGo, RawTest};
use crate::spec::*;

use super::super::Cx;
use super::go::RESERVED_GO_ENV;
use super::*;

/// The `go test` flags a spec may give, and whether each takes a value (`-count=3`).
const TEST_FLAGS: &[(&str, bool)] = &[
    ("-race", false),
    ("-short", false),
    ("-failfast", false),
    ("-v", false),
    ("-cover", false),
    ("-count", true),
    ("-run", true),
    ("-skip", true),
    ("-shuffle", true),
    ("-parallel", true),
    ("-cpu", true),
    ("-covermode", true),
    ("-coverpkg", true),
    ("-bench", true),
    ("-benchtime", true),
    ("-benchmem", false),
    ("-fullpath", false),
    ("-trimpath", false),
];

/// `go test` flags goapp sets itself, and what to use instead.
const TEST_FLAGS_TAKEN: &[(&str, &str)] = &[
    ("-json", "goapp runs the tests with -json and exports the report"),
    ("-coverprofile", "goapp writes the coverage profile (coverage.out in the exported report)"),
    ("-o", "goapp runs the tests and keeps no test binary"),
    ("-c", "goapp runs the tests and keeps no test binary"),
    ("-exec", "the tests run on the builder"),
    ("-tags", "use `test.tags`"),
    ("-timeout", "use `test.timeout`"),
    ("-vet", "use `test.vet`"),
    ("-mod", "use `go.mod`"),
    ("-ldflags", "use `go.ldflags`"),
];

impl Cx<'_> {
    pub(crate) fn test(&mut self, raw: Option<&Spanned<RawTest>>, go: Option<&RawGo>, whole: Span) -> Option<Test> {
        let span = raw.map(|r| r.span).unwrap_or(whole);
        let mut tags = self.tags(go.and_then(|g| g.tags.as_ref()));
        let mut env = self.env(&go.and_then(|g| g.env.clone()), "go.env", RESERVED_GO_ENV);
        let Some(raw) = raw.map(|r| &r.value) else {
            return Some(Test { span, packages: vec!["./...".into()], flags: Vec::new(), tags, env, timeout: None, vet: true });
        };
        let before = self.error_count();
        let packages = match &raw.packages {
            None => vec!["./...".to_string()],
            Some(list) => {
                if list.is_empty() {
                    self.error(
                        "MissingField",
                        span,
                        "`test.packages` is an empty list",
                        "list the packages to test, such as `[./...]`, or leave it out to test them all",
                    );
                }
                list.iter().filter_map(|p| self.test_package(p)).collect()
            }
        };
        let flags = raw.flags.iter().flatten().filter_map(|f| self.test_flag(f)).collect();
        for t in self.tags(raw.tags.as_ref()) {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        for (k, v) in self.env(&raw.env, "test.env", RESERVED_GO_ENV) {
            env.retain(|(e, _)| *e != k);
            env.push((k, v));
        }
        let timeout = raw.timeout.as_ref().and_then(|t| match parse_duration(&t.value) {
            Ok(n) if n > 0 => Some(t.value.clone()),
            Ok(_) => {
                self.error("InvalidValue", t.span, "`test.timeout` is zero", "give the time the tests may take, such as `5m`, or leave it out for Go's 10m");
                None
            }
            Err(e) => {
                self.error("InvalidValue", t.span, e, "write a duration such as `90s`, `5m` or `1h30m`");
                None
            }
        });
        let vet = raw.vet.as_ref().is_none_or(|v| v.value);
        (self.error_count() == before).then_some(Test { span, packages, flags, tags, env, timeout, vet })
    }

    /// A package pattern relative to the module: `./...`, `./internal/...`, `./cmd/api`.
    fn test_package(&mut self, p: &Spanned<String>) -> Option<String> {
        let (dir, all) = match p.value.strip_suffix("/...") {
            Some(d) => (d, true),
            None if p.value == "..." => (".", true),
            None => (p.value.as_str(), false),
        };
        let first = dir.trim_start_matches("./").split('/').next().unwrap_or("");
        if dir.contains("...") || (first.contains('.') && first != "." && first != "..") {
            self.error(
                "InvalidPath",
                p.span,
                format!("`{}` is not a package directory of the module", p.value),
                "write a directory relative to `module`, such as `./internal/store`, or `./...` for every package under one",
            );
            return None;
        }
        let rel =
            self.relative_path(&Spanned::new(dir.to_string(), p.span), "test.packages", "a package directory relative to `module`, e.g. `./internal/...`")?;
        let base = if rel == "." { ".".to_string() } else { format!("./{rel}") };
        Some(if all { format!("{base}/...") } else { base })
    }

    fn test_flag(&mut self, f: &Spanned<String>) -> Option<String> {
        let (name, value) = match f.value.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (f.value.as_str(), None),
        };
        let name = name.strip_prefix("--").map(|n| format!("-{n}")).unwrap_or(name.to_string());
        if !name.starts_with('-') {
            self.error(
                "InvalidFlag",
                f.span,
                format!("`{}` is not a `go test` flag", f.value),
                "flags start with `-`, e.g. `-race`; the packages go in `test.packages`",
            );
            return None;
        }
        let name = name.strip_prefix("-test.").map(|n| format!("-{n}")).unwrap_or(name);
        if let Some((_, why)) = TEST_FLAGS_TAKEN.iter().find(|(n, _)| *n == name) {
            self.error("ReservedName", f.span, format!("`{name}` cannot be given in `test.flags`"), *why);
            return None;
        }
        let Some((_, takes_value)) = TEST_FLAGS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = TEST_FLAGS.iter().map(|(n, _)| *n).collect();
            let hint = did_you_mean(&name, &names, || format!("the flags goapp passes to `go test` are {}", names.join(", ")));
            self.error("InvalidFlag", f.span, format!("`{name}` is not a `go test` flag goapp takes"), hint);
            return None;
        };
        match (takes_value, value) {
            (true, None) => {
                self.error(
                    "InvalidFlag",
                    f.span,
                    format!("`{name}` needs a value"),
                    format!("write the flag and its value as one item: `{name}=VALUE`, e.g. `-count=1`"),
                );
                None
            }
            (true, Some(v)) => {
                let ok = match name.as_str() {
                    "-count" | "-parallel" => values::canonical_number(v, 1_000_000).map(|_| ()),
                    "-shuffle" => (v == "on" || v == "off" || v.parse::<i64>().is_ok()).then_some(()).ok_or(format!("`{v}` is not `on`, `off` or a seed")),
                    "-covermode" => ["set", "count", "atomic"].contains(&v).then_some(()).ok_or(format!("`{v}` is not `set`, `count` or `atomic`")),
                    "-cpu" => v
                        .split(',')
                        .all(|n| values::canonical_number(n, 1_000_000).is_ok_and(|n| n > 0))
                        .then_some(())
                        .ok_or(format!("`{v}` is not a list of CPU counts")),
                    _ if v.is_empty() => Err("the value is empty".to_string()),
                    _ => Ok(()),
                };
                match ok {
                    Ok(()) => Some(format!("{name}={v}")),
                    Err(e) => {
                        self.error("InvalidValue", f.span, format!("`{}`: {e}", f.value), format!("write `{name}=VALUE` with a value `go test` takes"));
                        None
                    }
                }
            }
            (false, Some(v)) if !["true", "false"].contains(&v) => {
                self.error("InvalidValue", f.span, format!("`{name}` is on or off, not `{v}`"), format!("write `{name}` alone"));
                None
            }
            (false, Some(v)) => Some(format!("{name}={v}")),
            (false, None) => Some(name),
        }
    }

    pub(crate) fn debug(&mut self, raw: Option<&Spanned<RawDebug>>, whole: Span) -> Option<Debug> {
        let span = raw.map(|r| r.span).unwrap_or(whole);
        let default_base = || {
            crate::reference::ImageRef::parse(NAMED_BASES.iter().find(|(n, _)| *n == DEFAULT_DEBUG_BASE).expect("a named base").1).expect("a valid reference")
        };
        let Some(raw) = raw.map(|r| &r.value) else {
            return Some(Debug { span, base_image: default_base(), port: DEFAULT_DELVE_PORT, delve: "latest".into(), wait: false });
        };
        let before = self.error_count();
        let base_image = match &raw.base {
            None => Some(default_base()),
            Some(b) => match self.base(b) {
                (_, Some(image)) => Some(image),
                (kind, None) => {
                    if self.error_count() == before {
                        self.error(
                            "InvalidValue",
                            b.span,
                            format!("the debug image cannot be built on `{}`: it has no shell", kind.value.name()),
                            format!("leave `debug.base` out for `{DEFAULT_DEBUG_BASE}`, or name a base with a shell, such as `alpine` or `debian`"),
                        );
                    }
                    None
                }
            },
        };
        let port = match &raw.port {
            None => Some(DEFAULT_DELVE_PORT),
            Some(p) => match parse_port(&p.value.0) {
                Ok(port) if port.protocol == Protocol::Tcp => Some(port.number),
                Ok(_) => {
                    self.error("InvalidValue", p.span, "Delve listens on TCP, not UDP", "give the port number alone, such as `2345`");
                    None
                }
                Err(e) => {
                    self.error("InvalidValue", p.span, e, "give the port Delve listens on, such as `2345`");
                    None
                }
            },
        };
        let delve = match &raw.delve {
            None => Some("latest".to_string()),
            Some(v) if v.value == "latest" || is_module_version(&v.value) => Some(v.value.clone()),
            Some(v) => {
                self.error(
                    "InvalidValue",
                    v.span,
                    format!("`{}` is not a version of Delve", v.value),
                    "write `latest` or a module version such as `v1.25.2` (with its `v`)",
                );
                None
            }
        };
        let wait = raw.wait.as_ref().is_some_and(|w| w.value);
        (self.error_count() == before).then(|| Debug {
            span,
            base_image: base_image.expect("checked"),
            port: port.expect("checked"),
            delve: delve.expect("checked"),
            wait,
        })
    }

    pub(crate) fn assets(&mut self, raw: &[Spanned<RawAsset>]) -> Vec<Asset> {
        let mut out: Vec<Asset> = Vec::new();
        for a in raw {
            let source = match (&a.value.from, &a.value.context) {
                (Some(from), None) => self
                    .relative_path(from, "assets.from", "a directory of the build context, e.g. `web/dist`")
                    .map(|d| Spanned::new(AssetSource::Dir(d), from.span)),
                (None, Some(c)) => {
                    let ok = !c.value.is_empty()
                        && c.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/:".contains(&b))
                        && !c.value.starts_with(['.', '-', '/']);
                    if ok && c.value != crate::plan::DEFAULT_CONTEXT_NAME {
                        Some(Spanned::new(AssetSource::Context(c.value.clone()), c.span))
                    } else {
                        self.error(
                            "InvalidName",
                            c.span,
                            format!("`{}` cannot name a build context here", c.value),
                            "name the context given with `--build-context NAME=...` (or a bake target's `contexts`), e.g. `web`; for a directory of the build context, write `from: DIR`",
                        );
                        None
                    }
                }
                (Some(_), Some(c)) => {
                    self.error(
                        "ConflictingFields",
                        c.span,
                        "an asset has both `from` and `context`",
                        "give one: `from` for a directory of the build context, `context` for a named build context",
                    );
                    None
                }
                (None, None) => {
                    self.error(
                        "MissingField",
                        a.span,
                        "an asset needs `from` or `context`",
                        "add `from: DIR` (a directory of the build context) or `context: NAME` (a named build context)",
                    );
                    None
                }
            };
            let to = self.relative_path(&a.value.to, "assets.to", "a directory relative to `module`, e.g. `internal/web/dist`");
            if to.as_deref() == Some(".") {
                self.error(
                    "InvalidPath",
                    a.value.to.span,
                    "`assets.to` is the module's directory itself, whose contents it would replace",
                    "name a directory inside the module, such as `internal/web/dist`",
                );
                continue;
            }
            let (Some(source), Some(to)) = (source, to) else { continue };
            if let Some(prev) = out.iter().find(|o| o.to.value == to) {
                let line = prev.to.span.start.line;
                self.error(
                    "Duplicate",
                    a.value.to.span,
                    format!("two assets go to `{to}`"),
                    format!("the first is on line {line}; give each its own directory"),
                );
                continue;
            }
            let inside = |outer: &str, inner: &str| inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with('/'));
            if let Some(prev) = out.iter().find(|o| inside(&o.to.value, &to) || inside(&to, &o.to.value)) {
                let line = prev.to.span.start.line;
                self.error(
                    "ConflictingFields",
                    a.value.to.span,
                    format!("`{to}` and `{}` (line {line}) are one inside the other: the outer asset's copy would replace the inner one", prev.to.value),
                    "give each asset a directory of its own, neither inside the other",
                );
                continue;
            }
            out.push(Asset { source, to: Spanned::new(to, a.value.to.span) });
        }
        out
    }

    pub(crate) fn generate(&mut self, raw: &[Spanned<String>]) -> Vec<Spanned<String>> {
        let mut out = Vec::new();
        for c in raw {
            if c.value.trim().is_empty() {
                self.error("InvalidValue", c.span, "a `generate` command is empty", "write a command, such as `go generate ./...`, or remove the item");
                continue;
            }
            out.push(c.clone());
        }
        out
    }
}

/// A module version as `go install` takes it: `v1.2.3`, with an optional pre-release or
/// build suffix.
fn is_module_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else { return false };
    let core = rest.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
}
