//! The semantic checks and defaults that turn the spec as written ([`RawSpec`]) into a
//! [`Spec`]: names, paths, platforms, ports, users, signals, durations, references between
//! fields, and options that contradict each other. Every problem is reported, each at the
//! value it is about.

use std::collections::BTreeMap;

use crate::diag::{Span, did_you_mean, similar};
use crate::golang;
use crate::lower::BIN_DIR;
use crate::reference::ImageRef;
use crate::spec::raw::{RawFile, RawGo, RawHealthcheck, RawRuntime, RawSecret, RawSpec, RawTarget, RawVolume, Scalar, SecretKind as RawSecretKind};
use crate::spec::*;

use super::Cx;

/// Environment variables goapp sets for `go build` itself.
const RESERVED_GO_ENV: &[&str] = &["GOOS", "GOARCH", "GOARM", "GOAMD64", "CGO_ENABLED", "GOCACHE", "GOMODCACHE"];
/// `go build` flags that have a spec field of their own.
const FLAG_FIELDS: &[(&str, &str)] = &[
    ("-o", "the binary's path is set by goapp"),
    ("-ldflags", "use `ldflags`"),
    ("-tags", "use `tags`"),
    ("-mod", "use `go.mod`"),
    ("-buildvcs", "use `go.vcs`"),
];

type Env = Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>;

impl Cx<'_> {
    pub(super) fn resolve(&mut self, raw: RawSpec) -> Option<Spec> {
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
        let platforms = raw.platforms.as_deref().map(|p| self.platforms(p)).unwrap_or_default();
        let runtime = self.runtime(raw.runtime.map(|r| r.value), &targets, whole);
        let mut text = |v: &Option<Spanned<String>>, what: &str| -> Option<String> {
            let v = v.as_ref()?;
            if v.value.trim().is_empty() || v.value.contains(['\n', '\r']) {
                self.error(v.span, format!("`{what}` is empty or has several lines"), format!("give `{what}` as one line of text, or leave it out"));
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
        if self.error_count() > errors_before {
            return None;
        }
        Some(Spec { name: raw.name, module: module?, targets, platforms, go: go?, runtime: runtime?, version, source, registry_mirror })
    }

    /// `host[:port][/prefix]`: checked by mirroring a reference through it.
    fn registry_mirror(&mut self, m: &Spanned<String>) -> Option<Spanned<String>> {
        let v = m.value.trim_end_matches('/');
        let probe = ImageRef::parse("golang:1").expect("a valid reference").mirrored(v).to_string();
        let host = v.split('/').next().unwrap_or("");
        let host_ok = !host.is_empty() && (host.contains(['.', ':']) || host == "localhost");
        if !host_ok || v.contains("://") || ImageRef::parse(&probe).is_err() {
            self.error(
                m.span,
                format!("`{}` is not a registry mirror", m.value),
                "write a registry host with an optional port and path, without a scheme: `mirror.example.com`, `localhost:5000`, `registry.example.com/dockerhub`",
            );
            return None;
        }
        Some(Spanned::new(v.to_string(), m.span))
    }

    fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.severity == crate::Severity::Error).count()
    }

    fn check_name(&mut self, name: &Spanned<String>, what: &str) -> bool {
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
            self.error(
                name.span,
                format!("`{v}` is not a valid {what}"),
                format!("use lower-case letters, digits, `.`, `_` and `-`, starting and ending with a letter or digit, e.g. `{example}`"),
            );
        }
        ok
    }

    /// A binary may not be named `binaries`: `--target binaries` asks for the binaries alone.
    fn not_reserved(&mut self, name: &Spanned<String>, what: &str) -> bool {
        if name.value != crate::spec::BINARIES_TARGET {
            return true;
        }
        self.error(
            name.span,
            format!("`{}` cannot name {what}'s binary: `--target {0}` builds the binaries alone, for `--output type=local`", name.value),
            "choose another name",
        );
        false
    }

    /// A path inside the build context, cleaned: no absolute paths, no `..`.
    fn relative_path(&mut self, p: &Spanned<String>, what: &str, example: &str) -> Option<String> {
        let v = p.value.trim_end_matches('/');
        if v.starts_with('/') || v.contains('\\') || v.split('/').any(|c| c == "..") {
            self.error(p.span, format!("`{}` is not inside the build context", p.value), format!("`{what}` is {example}"));
            return None;
        }
        let clean: Vec<&str> = v.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        Some(if clean.is_empty() { ".".to_string() } else { clean.join("/") })
    }

    /// A Go package, in the `./dir` form `go build` needs (a bare `cmd/app` would be read as
    /// an import path of the standard library).
    fn main_package(&mut self, p: &Spanned<String>, what: &str) -> Option<Spanned<String>> {
        if p.value.contains("...") {
            self.error(p.span, format!("`{}` names several packages", p.value), format!("`{what}` is one main package; list each binary under `targets`"));
            return None;
        }
        let rel = self.relative_path(p, what, "a package directory relative to `module`, e.g. `./cmd/server`")?;
        Some(Spanned::new(if rel == "." { ".".into() } else { format!("./{rel}") }, p.span))
    }

    fn env(&mut self, env: &Env, what: &str, reserved: &[&str]) -> Vec<(String, String)> {
        let Some(env) = env else { return Vec::new() };
        let mut out = Vec::new();
        for (k, v) in &env.value {
            if !is_env_name(k) {
                self.error(
                    v.span,
                    format!("`{k}` is not a valid environment variable name"),
                    "use letters, digits and `_`, not starting with a digit, e.g. `LOG_LEVEL`",
                );
                continue;
            }
            if reserved.contains(&k.as_str()) {
                self.error(v.span, format!("`{k}` cannot be set in `{what}`"), "goapp sets it for each target platform and build; remove it");
                continue;
            }
            out.push((k.clone(), v.value.0.clone()));
        }
        out
    }

    /// `go.x` as linker flags: `-X importpath.name=value` for each entry, in key order, a
    /// value with spaces quoted as Go's flag parser reads it.
    fn link_values(&mut self, x: Option<&Spanned<BTreeMap<String, Spanned<Scalar>>>>) -> String {
        let mut out = Vec::new();
        for (k, v) in x.iter().flat_map(|x| x.value.iter()) {
            let name_ok = k
                .rsplit_once('.')
                .is_some_and(|(path, name)| !path.is_empty() && !name.is_empty() && !k.contains(['=', '\'', '"']) && !k.chars().any(char::is_whitespace));
            if !name_ok {
                self.error(
                    v.span,
                    format!("`{k}` is not a variable -X can set"),
                    "write `importpath.name`, e.g. `main.version` or `example.com/app/internal/build.Commit`",
                );
                continue;
            }
            let value = &v.value.0;
            if value.contains(['\'', '"', '\n', '\r']) {
                self.error(
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

    fn tags(&mut self, tags: Option<&Vec<Spanned<String>>>) -> Vec<String> {
        let mut out = Vec::new();
        for t in tags.into_iter().flatten() {
            let ok = !t.value.is_empty() && t.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.".contains(&b));
            if ok {
                out.push(t.value.clone());
            } else {
                self.error(t.span, format!("`{}` is not a build tag", t.value), "a build tag is letters, digits, `_` and `.`; list each tag as its own item");
            }
        }
        out
    }

    fn flags(&mut self, flags: &[Spanned<String>]) -> Vec<String> {
        let mut out = Vec::new();
        for f in flags {
            let name = f.value.split('=').next().unwrap_or("");
            let name = name.strip_prefix("--").map(|n| format!("-{n}")).unwrap_or(name.to_string());
            if !f.value.starts_with('-') {
                self.error(f.span, format!("`{}` is not a `go build` flag", f.value), "flags start with `-`, e.g. `-trimpath`; packages go in `main`");
            } else if let Some((_, why)) = FLAG_FIELDS.iter().find(|(n, _)| *n == name) {
                self.error(f.span, format!("`{name}` cannot be given in flags"), *why);
            } else {
                out.push(f.value.clone());
            }
        }
        out
    }

    fn go(&mut self, raw: Option<&RawGo>) -> Option<Go> {
        let mut go = Go {
            version: None,
            image: None,
            module_mode: None,
            vcs: false,
            module_cache: crate::spec::raw::ModuleCache::Mount,
            cgo: None,
            secrets: Vec::new(),
        };
        let Some(raw) = raw else { return Some(go) };
        let mut ok = true;
        if let Some(v) = &raw.version {
            if is_go_version(&v.value) {
                go.version = Some(v.clone());
            } else {
                self.error(v.span, format!("`{}` is not a Go release", v.value), "write a Go release such as \"1.27\" or \"1.27.3\", quoted");
                ok = false;
            }
        }
        if let Some(i) = &raw.image {
            match ImageRef::parse(&i.value) {
                Ok(_) => go.image = Some(i.clone()),
                Err(e) => {
                    self.error(i.span, e, "write an image reference such as `golang:1.27` or `registry.example.com/tools/go:1.27`");
                    ok = false;
                }
            }
            if let Some(v) = &raw.version {
                self.error(v.span, "`go.version` and `go.image` cannot both be set", "`go.version` picks the image `golang:<version>`: keep one of the two");
                ok = false;
            }
        }
        match &raw.cgo {
            Some(c) if c.value => go.cgo = self.cgo(raw, c.span),
            _ => {
                let set = [
                    ("go.cgo_mode", raw.cgo_mode.as_ref().map(|m| m.span)),
                    ("go.static", raw.static_link.as_ref().map(|s| s.span)),
                    ("go.c_packages", raw.c_packages.as_ref().and_then(|p| p.first()).map(|p| p.span)),
                ];
                for (field, span) in set {
                    if let Some(span) = span {
                        let hint = if field == "go.static" {
                            "without cgo every binary is static already: set `cgo: true` if the program uses cgo, or remove this line"
                        } else {
                            "set `cgo: true` if the program uses cgo, or remove this line"
                        };
                        self.error(span, format!("`{field}` applies only with `cgo: true`"), hint);
                        ok = false;
                    }
                }
            }
        }
        go.vcs = raw.vcs.as_ref().is_some_and(|v| v.value);
        if let Some(c) = &raw.module_cache {
            go.module_cache = c.value;
        }
        go.module_mode = raw.module_mode.as_ref().map(|m| m.value).filter(|m| *m != crate::spec::raw::ModMode::Auto);
        match self.secrets(raw.secrets.as_deref().unwrap_or_default()) {
            Some(s) => go.secrets = s,
            None => ok = false,
        }
        ok.then_some(go)
    }

    /// `go.secrets`: ids that `--secret` (or `--ssh`) can name, each once; one netrc at
    /// most; a host for each git token and SSH agent, each host once per type; one SSH agent
    /// at most (git has one `SSH_AUTH_SOCK`), which may serve several hosts.
    fn secrets(&mut self, raw: &[Spanned<RawSecret>]) -> Option<Vec<Secret>> {
        let errors_before = self.error_count();
        let mut out: Vec<Secret> = Vec::new();
        for s in raw {
            let s = &s.value;
            let id = &s.id;
            let id_ok = id.value.len() <= 128
                && id.value.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && id.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            let same_id = out.iter().find(|o| o.id.value == id.value);
            if !id_ok {
                self.error(
                    id.span,
                    format!("`{}` is not a secret id", id.value),
                    "use letters, digits, `.`, `_` and `-`, as in `--secret id=netrc,src=$HOME/.netrc`",
                );
            } else if let Some(prev) = same_id.filter(|p| !(s.kind.value == RawSecretKind::Ssh && matches!(p.kind, SecretKind::Ssh { .. }))) {
                let line = prev.id.span.start.line;
                self.error(id.span, format!("the secret `{}` is listed twice", id.value), format!("it is already listed on line {line}; remove one"));
            }
            let only_for = |field: &str, types: &str| (format!("`{field}` applies only to a secret of {types}"), "remove this line".to_string());
            if let Some(k) = s.known_hosts.as_ref().filter(|_| s.kind.value != RawSecretKind::Ssh) {
                let (m, h) = only_for("known_hosts", "`type: ssh`");
                self.error(k.span, m, h);
            }
            let kind = match s.kind.value {
                RawSecretKind::Netrc => {
                    for (field, v) in [("host", s.host.as_ref()), ("user", s.user.as_ref())] {
                        if let Some(v) = v {
                            self.error(v.span, only_for(field, "`type: git_token` or `type: ssh`").0, "a netrc file names its hosts itself: remove this line");
                        }
                    }
                    if let Some(prev) = out.iter().find(|o| o.kind == SecretKind::Netrc) {
                        let line = prev.id.span.start.line;
                        self.error(s.kind.span, "there are two netrc secrets", format!("the first is on line {line}; put every host in one .netrc file"));
                    }
                    SecretKind::Netrc
                }
                RawSecretKind::GitToken | RawSecretKind::Ssh => {
                    let ssh = s.kind.value == RawSecretKind::Ssh;
                    let what = if ssh { "an `ssh` secret" } else { "a `git_token` secret" };
                    let Some(host) = &s.host else {
                        self.error(
                            s.kind.span,
                            format!("{what} needs the `host` it is for"),
                            "add `host:` with the git server's name, e.g. `host: github.com`",
                        );
                        continue;
                    };
                    let Some((name, port)) = self.secret_host(host) else { continue };
                    let duplicate = out.iter().any(|o| match &o.kind {
                        SecretKind::GitToken { host: x, .. } => !ssh && *x == host.value,
                        SecretKind::Ssh { host: x, .. } => ssh && *x == name,
                        SecretKind::Netrc => false,
                    });
                    if duplicate {
                        let how = if ssh { "SSH agent" } else { "git token" };
                        self.error(host.span, format!("there are two {how}s for `{name}`"), "git uses one per host: remove one");
                    }
                    // git reaches a host with an SSH agent over SSH only: a token for it is never sent.
                    let other_way = out.iter().find(|o| match &o.kind {
                        SecretKind::GitToken { host: x, .. } => ssh && x.split(':').next() == Some(name.as_str()),
                        SecretKind::Ssh { host: x, .. } => !ssh && *x == name,
                        SecretKind::Netrc => false,
                    });
                    if let Some(prev) = other_way {
                        let line = prev.id.span.start.line;
                        self.error(
                            host.span,
                            format!("`{name}` has both a git token and an SSH agent"),
                            format!("with an SSH agent git fetches `{name}` over SSH and never sends the token (line {line}): keep one"),
                        );
                    }
                    if ssh && out.iter().any(|o| matches!(o.kind, SecretKind::Ssh { .. }) && o.id.value != id.value) {
                        self.error(id.span, "there are two SSH agents", "git uses one SSH agent: pass one `--ssh` id with the keys of every host");
                    }
                    let default_user = if ssh { DEFAULT_SSH_USER } else { DEFAULT_TOKEN_USER };
                    let user = match &s.user {
                        Some(u) if u.value.is_empty() || !u.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b)) => {
                            self.error(
                                u.span,
                                format!("`{}` is not a user name", u.value),
                                format!("use letters, digits, `.`, `_`, `@`, `+` and `-`; without `user`, the name is `{default_user}`"),
                            );
                            continue;
                        }
                        Some(u) => u.value.clone(),
                        None => default_user.to_string(),
                    };
                    if !ssh {
                        SecretKind::GitToken { host: host.value.clone(), user }
                    } else {
                        let known_hosts = match &s.known_hosts {
                            Some(k) if k.value.lines().all(known_hosts_line) => Some(k.value.clone()),
                            Some(k) => {
                                self.error(
                                    k.span,
                                    "`known_hosts` is not in the format of a known_hosts file",
                                    "each line is `host keytype key`, as `ssh-keyscan <host>` prints them",
                                );
                                continue;
                            }
                            None => {
                                let scan = match port {
                                    Some(p) => format!("ssh-keyscan -p {p} {name}"),
                                    None => format!("ssh-keyscan {name}"),
                                };
                                self.warning(
                                    "UncheckedHostKey",
                                    host.span,
                                    format!("the SSH host key of `{name}` is not checked"),
                                    format!("add `known_hosts:` with the lines `{scan}` prints"),
                                );
                                None
                            }
                        };
                        SecretKind::Ssh { host: name, port, user, known_hosts }
                    }
                }
            };
            out.push(Secret { id: id.clone(), kind });
        }
        (self.error_count() == errors_before).then_some(out)
    }

    /// A secret's `host`: a host name and, optionally, a port (of the SSH server, or of the
    /// HTTPS server for a git token); `None` after an error.
    fn secret_host(&mut self, host: &Spanned<String>) -> Option<(String, Option<u16>)> {
        let h = &host.value;
        let (name, port) = match h.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (h.as_str(), None),
        };
        let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-".contains(&b));
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
        if !name_ok || !port_ok {
            let bare = h.split_once("://").map(|(_, r)| r).unwrap_or(h).split('/').next().unwrap_or("").to_ascii_lowercase();
            let example = if bare.is_empty() { "github.com".to_string() } else { bare };
            self.error(host.span, format!("`{h}` is not a host name"), format!("write the host alone, without scheme or path, e.g. `{example}`"));
            return None;
        }
        Some((name.to_string(), port.map(|p| p.parse::<u16>().expect("checked"))))
    }

    fn cgo(&mut self, raw: &RawGo, span: Span) -> Option<Cgo> {
        let mut packages: Vec<Spanned<String>> = Vec::new();
        for p in raw.c_packages.iter().flatten() {
            let v = &p.value;
            let ok = v.len() >= 2
                && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
                && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
            if !ok {
                let hint = if v.contains(':') {
                    "write the package without an architecture: goapp installs it for each target's architecture".to_string()
                } else {
                    "write a Debian package name such as `libsqlite3-dev` (lower-case letters, digits, `+`, `-` and `.`)".to_string()
                };
                self.error(p.span, format!("`{v}` is not a Debian package name"), hint);
            } else if packages.iter().any(|q| q.value == *v) {
                self.error(p.span, format!("the package `{v}` is listed twice"), "remove one of them");
            } else {
                packages.push(p.clone());
            }
        }
        Some(Cgo {
            span,
            mode: raw.cgo_mode.as_ref().map(|m| m.value).unwrap_or(crate::spec::raw::CgoMode::Auto),
            static_link: raw.static_link.as_ref().is_some_and(|s| s.value),
            packages,
        })
    }

    /// A dynamically linked cgo binary needs glibc in the base: `static`, `scratch` and
    /// distroless/static have no C library, and Alpine has musl.
    fn check_c_library(&mut self, go: &Go, runtime: &Runtime, whole: Span) {
        let Some(cgo) = &go.cgo else { return };
        if cgo.static_link {
            // The C library of distroless/base, /cc and Debian is then dead weight.
            let named = |n: &str| NAMED_BASES.iter().find(|(b, _)| *b == n).map(|(_, i)| ImageRef::parse(i).expect("valid"));
            let with_libc = ["distroless/base", "distroless/cc"].iter().filter_map(|n| named(n)).any(|r| runtime.base_image.as_ref() == Some(&r));
            if with_libc {
                self.warning(
                    "StaticBinaryOnLibcBase",
                    runtime.base.span,
                    "the binaries are linked statically and do not use the base's C library",
                    "`distroless` (or `static`) has everything else this base has and is smaller",
                );
            }
            return;
        }
        let lacks = match (runtime.base.value, &runtime.base_image) {
            (Base::Static | Base::Scratch, _) => Some("has no C library"),
            (Base::Image, Some(r)) if r.repository.rsplit('/').next().is_some_and(|n| n.starts_with("static")) && r.repository.contains("distroless") => {
                Some("has no C library")
            }
            (Base::Image, Some(r)) if r.repository.rsplit('/').next() == Some("alpine") => Some("has musl, not glibc"),
            _ => None,
        };
        if let Some(lacks) = lacks {
            let what = match &runtime.base_image {
                Some(r) => r.to_string(),
                None => runtime.base.value.name().to_string(),
            };
            // The default base is not written anywhere: point at `cgo: true`.
            let (span, which) = if runtime.base.span == whole { (cgo.span, "default base") } else { (runtime.base.span, "base") };
            self.error(
                span,
                format!("the {which} `{what}` {lacks}, and with `cgo: true` the binaries link glibc dynamically"),
                "use a base with glibc (`distroless/cc`, `distroless/base` or `debian`), or set `go.static: true` to link the C libraries into the binaries",
            );
        }
    }

    fn targets(&mut self, name: &Spanned<String>, main: Option<&Spanned<String>>, targets: Option<&[Spanned<RawTarget>]>, go: Option<&RawGo>) -> Vec<Target> {
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
            self.error(m.span, "`main` and `targets` cannot both be set", "with several binaries, give each its `main` under `targets`, and remove this line");
        }
        // A list emptied by earlier errors (its items were reported and removed) is not empty
        // as written.
        if targets.is_empty() && self.error_count() == 0 {
            self.error(name.span, "`targets` is an empty list", "list at least one target, or remove `targets` to build `main`");
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

    fn platforms(&mut self, items: &[Spanned<String>]) -> Vec<Spanned<llb::Platform>> {
        let mut out: Vec<Spanned<llb::Platform>> = Vec::new();
        for s in items {
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

    fn user(&mut self, u: &Spanned<String>, what: &str) -> Option<User> {
        match parse_user(&u.value) {
            Ok(user) => Some(user),
            Err(e) => {
                self.error(u.span, e, format!("`{what}` is `nonroot` (65532), `root`, or a numeric `uid` or `uid:gid`"));
                None
            }
        }
    }

    fn runtime(&mut self, raw: Option<RawRuntime>, targets: &[Target], whole: Span) -> Option<Runtime> {
        let raw = raw.unwrap_or_else(empty_runtime);
        let before = self.error_count();
        let mut base_image = None;
        let base = match &raw.base {
            None => Spanned::new(Base::Static, whole),
            Some(b) => match b.value.as_str() {
                "static" => Spanned::new(Base::Static, b.span),
                "scratch" => Spanned::new(Base::Scratch, b.span),
                named if NAMED_BASES.iter().any(|(n, _)| *n == named) => {
                    let (_, image) = NAMED_BASES.iter().find(|(n, _)| *n == named).expect("just found");
                    base_image = Some(ImageRef::parse(image).expect("named bases are valid references"));
                    Spanned::new(Base::Image, b.span)
                }
                other if other.contains([':', '/', '.', '@']) => match ImageRef::parse(other) {
                    // A slip in a base's name would otherwise pull a Docker Hub image.
                    Ok(_)
                        if !other.contains([':', '@']) && !other.split('/').next().unwrap_or("").contains('.') && similar(other, &named_bases()).is_some() =>
                    {
                        let near = similar(other, &named_bases()).expect("just found");
                        self.error(
                            b.span,
                            format!("unknown base `{other}`"),
                            format!("did you mean `{near}`? (for the Docker Hub image of that name, write `docker.io/{other}`)"),
                        );
                        Spanned::new(Base::Static, b.span)
                    }
                    Ok(r) => {
                        base_image = Some(r);
                        Spanned::new(Base::Image, b.span)
                    }
                    Err(e) => {
                        self.error(b.span, e.to_string(), "write an image reference such as `registry.example.com/base:1.0`, or one of the named bases");
                        Spanned::new(Base::Static, b.span)
                    }
                },
                other => {
                    let names = named_bases();
                    let hint = did_you_mean(other, &names, || format!("the bases are {}, or an image reference", names.join(", ")));
                    self.error(b.span, format!("unknown base `{other}`"), hint);
                    Spanned::new(Base::Static, b.span)
                }
            },
        };
        let mut user_name = None;
        let user = match &raw.user {
            None => Spanned::new(User::NONROOT, whole),
            Some(u) if base.value == Base::Image && is_user_name(&u.value) && !["root", "nonroot"].contains(&u.value.as_str()) => {
                // Looked up in the base's /etc/passwd once the base is pulled.
                user_name = Some(u.clone());
                Spanned::new(User::NONROOT, u.span)
            }
            Some(u) => {
                let user = self.user(u, "runtime.user").unwrap_or(User::NONROOT);
                if user.uid == 0 {
                    self.warning(
                        "RunsAsRoot",
                        u.span,
                        "the program runs as root",
                        "run as `nonroot` unless the program needs root: a process escaping the container keeps its user",
                    );
                }
                Spanned::new(user, u.span)
            }
        };
        let workdir = raw.workdir.as_ref().and_then(|w| self.absolute_path(w, "`runtime.workdir`").map(|p| Spanned::new(p, w.span)));
        let entrypoint = match &raw.entrypoint {
            None => 0,
            Some(e) => match targets.iter().position(|t| t.name.value == e.value) {
                Some(i) => i,
                None => {
                    let names: Vec<&str> = targets.iter().map(|t| t.name.value.as_str()).collect();
                    let hint = did_you_mean(&e.value, &names, || format!("the targets are: {}", names.join(", ")));
                    self.error(e.span, format!("there is no target named `{}`", e.value), hint);
                    0
                }
            },
        };
        let env = self.env(&raw.env, "runtime.env", &[]);
        let mut ports: Vec<Port> = Vec::new();
        for p in raw.ports.iter().flatten() {
            match parse_port(&p.value.0) {
                Ok(port) if ports.contains(&port) => self.error(p.span, format!("port `{}` is listed twice", port.key()), "remove one of them"),
                Ok(port) => ports.push(port),
                Err(e) => self.error(p.span, e, "write a port as a number from 1 to 65535, optionally with /tcp or /udp: `8080`, `53/udp`"),
            }
        }
        let mut labels = BTreeMap::new();
        if let Some(l) = &raw.labels {
            for (k, v) in &l.value {
                if k.is_empty() || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    self.error(v.span, format!("`{k}` is not a valid label name"), "a label name has no spaces, e.g. `org.opencontainers.image.vendor`");
                } else {
                    labels.insert(k.clone(), v.value.0.clone());
                }
            }
        }
        let mut annotations = BTreeMap::new();
        if let Some(a) = &raw.annotations {
            for (k, v) in &a.value {
                let ok = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
                if ok {
                    annotations.insert(k.clone(), v.value.0.clone());
                } else {
                    self.error(
                        v.span,
                        format!("`{k}` is not a valid annotation name"),
                        "an annotation name is letters, digits, `.`, `_`, `-` and `/`, e.g. `org.opencontainers.image.description`",
                    );
                }
            }
        }
        let mut volumes: Vec<Volume> = Vec::new();
        for v in raw.volumes.iter().flatten() {
            let Some(volume) = self.volume(v) else { continue };
            if volumes.iter().any(|o| o.path == volume.path) {
                let span = match &v.value {
                    RawVolume::Dir(d) => d.path.span,
                    RawVolume::Path(_) => v.span,
                };
                self.error(span, format!("the volume `{}` is listed twice", volume.path), "remove one of them");
            } else {
                volumes.push(volume);
            }
        }
        let stop_signal = raw.stop_signal.as_ref().and_then(|s| match parse_signal(&s.value) {
            Ok(sig) => Some(sig),
            Err(e) => {
                self.error(s.span, e, "use a signal name such as SIGTERM, SIGINT or SIGQUIT, or its number");
                None
            }
        });
        let files: Vec<FileCopy> = raw.files.iter().flatten().filter_map(|f| self.file(&f.value)).collect();
        // Bases without a shell or tools: a health check can only run what the spec puts in.
        let bare = match (&base.value, &base_image) {
            (Base::Image, Some(r)) => r.repository.contains("distroless").then(|| raw.base.as_ref().map(|b| b.value.clone()).unwrap_or_default()),
            (b, _) => Some(b.name().to_string()),
        };
        let healthcheck = raw.healthcheck.as_ref().and_then(|h| self.healthcheck(&h.value, h.span, targets, &files, bare.as_deref()));
        let default_extras = base.value != Base::Scratch;
        let runtime = Runtime {
            ca_certificates: raw.ca_certificates.as_ref().map(|c| c.value).unwrap_or(default_extras),
            tzdata: raw.tzdata.as_ref().map(|c| c.value).unwrap_or(default_extras),
            base,
            base_image,
            user,
            user_name,
            workdir,
            entrypoint,
            args: raw.args.iter().flatten().map(|a| a.value.clone()).collect(),
            env,
            ports,
            labels,
            annotations,
            volumes,
            stop_signal,
            healthcheck,
            files,
        };
        (self.error_count() == before).then_some(runtime)
    }

    fn absolute_path(&mut self, p: &Spanned<String>, what: &str) -> Option<String> {
        let v = &p.value;
        if !v.starts_with('/') || v.split('/').any(|c| c == "..") || v.contains('\\') {
            self.error(p.span, format!("`{v}` is not an absolute path in the image"), format!("{what} is an absolute path, such as `/data`"));
            return None;
        }
        let clean: Vec<&str> = v.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        Some(format!("/{}", clean.join("/")))
    }

    fn file(&mut self, f: &RawFile) -> Option<FileCopy> {
        let src = self.relative_path(&f.src, "src", "a path relative to the build context, e.g. `config/app.toml` or `static/`");
        let dest_dir = f.dest.value.ends_with('/');
        let dest = self.absolute_path(&f.dest, "`dest`").map(|d| if dest_dir && d != "/" { format!("{d}/") } else { d });
        let mode = f.mode.as_ref().map(|m| self.mode(m, "\"0644\" or \"0755\""));
        let owner = match &f.owner {
            Some(o) => self.user(o, "owner")?,
            None => User::ROOT,
        };
        Some(FileCopy { src: Spanned::new(src?, f.src.span), dest: dest?, mode: valid(mode)?, owner })
    }

    /// Permission bits written in octal, quoted.
    fn mode(&mut self, m: &Spanned<String>, example: &str) -> Option<u32> {
        match u32::from_str_radix(m.value.trim_start_matches("0o"), 8) {
            Ok(v) if v <= 0o7777 && !m.value.is_empty() => Some(v),
            _ => {
                self.error(m.span, format!("`{}` is not a file mode", m.value), format!("write the permission bits in octal, quoted, e.g. {example}"));
                None
            }
        }
    }

    fn volume(&mut self, v: &Spanned<RawVolume>) -> Option<Volume> {
        match &v.value {
            RawVolume::Path(p) => Some(Volume { path: self.absolute_path(&Spanned::new(p.clone(), v.span), "a volume")?, owner: None, mode: 0o755 }),
            RawVolume::Dir(d) => {
                let path = self.absolute_path(&d.path, "a volume");
                let owner = d.owner.as_ref().map(|o| self.user(o, "owner"));
                let mode = d.mode.as_ref().map(|m| self.mode(m, "\"0700\" or \"1777\""));
                Some(Volume { path: path?, owner: valid(owner)?, mode: valid(mode)?.unwrap_or(0o755) })
            }
        }
    }

    /// `bare`: the name of the base when it has no shell or tools.
    fn healthcheck(&mut self, h: &RawHealthcheck, span: Span, targets: &[Target], files: &[FileCopy], bare: Option<&str>) -> Option<Healthcheck> {
        let Some(first) = h.command.first() else {
            self.error(span, "the health check has an empty `command`", "give the program to run and its arguments, e.g. `command: [hello, --health]`");
            return None;
        };
        let program = if let Some(t) = targets.iter().find(|t| t.name.value == first.value) {
            format!("{BIN_DIR}/{}", t.name.value)
        } else if first.value.starts_with('/') {
            let ours = targets.iter().any(|t| format!("{BIN_DIR}/{}", t.name.value) == first.value) || files.iter().any(|f| f.dest == first.value);
            // A pulled base may have the program; static, scratch and distroless have nothing
            // but what the spec puts in the image.
            if let (false, Some(base)) = (ours, bare) {
                self.error(
                    first.span,
                    format!("`{}` is not in the image", first.value),
                    format!("the {} base has no shell or tools: run one of the app's targets ({}) or a file added with `files`", base, target_names(targets)),
                );
                return None;
            }
            first.value.clone()
        } else {
            let names: Vec<&str> = targets.iter().map(|t| t.name.value.as_str()).collect();
            let hint = did_you_mean(&first.value, &names, || {
                format!("the command runs without a shell: start it with a target name ({}) or an absolute path", target_names(targets))
            });
            self.error(first.span, format!("`{}` is not a target of the app", first.value), hint);
            return None;
        };
        let mut command = vec![program];
        command.extend(h.command[1..].iter().map(|a| a.value.clone()));
        let mut duration = |d: &Option<Spanned<String>>, what: &str, min: i64| -> Option<Option<i64>> {
            match d {
                None => Some(None),
                Some(d) => match parse_duration(&d.value) {
                    Ok(ns) if ns >= min => Some(Some(ns)),
                    Ok(_) => {
                        self.error(d.span, format!("`{what}` is too short"), format!("`{what}` must be at least {}", if min > 0 { "1ms" } else { "0s" }));
                        None
                    }
                    Err(e) => {
                        self.error(d.span, e, "write a duration such as `30s`, `1m30s` or `500ms`");
                        None
                    }
                },
            }
        };
        let interval = duration(&h.interval, "interval", 1_000_000);
        let timeout = duration(&h.timeout, "timeout", 1_000_000);
        let start_period = duration(&h.start_period, "start_period", 0);
        Some(Healthcheck { command, interval: interval?, timeout: timeout?, start_period: start_period?, retries: h.retries.as_ref().map(|r| r.value) })
    }
}

/// A line of a known_hosts file: blank, a comment, or `[marker] hosts keytype key [comment]`
/// with an SSH key type.
fn known_hosts_line(line: &str) -> bool {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return true;
    }
    let mut fields: Vec<&str> = line.split_whitespace().collect();
    if fields[0].starts_with('@') {
        fields.remove(0);
    }
    fields.len() >= 3 && ["ssh-", "ecdsa-sha2-", "sk-"].iter().any(|p| fields[1].starts_with(p))
}

fn target_names(targets: &[Target]) -> String {
    targets.iter().map(|t| format!("`{}`", t.name.value)).collect::<Vec<_>>().join(", ")
}

fn empty_runtime() -> RawRuntime {
    RawRuntime {
        base: None,
        user: None,
        workdir: None,
        entrypoint: None,
        args: None,
        env: None,
        ports: None,
        labels: None,
        annotations: None,
        volumes: None,
        stop_signal: None,
        healthcheck: None,
        files: None,
        ca_certificates: None,
        tzdata: None,
    }
}

/// Every name `runtime.base` knows.
fn named_bases() -> Vec<&'static str> {
    Base::NAMES.iter().copied().chain(NAMED_BASES.iter().map(|(n, _)| *n)).collect()
}

/// A name as /etc/passwd has them.
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

/// Whether linker flags drop the symbol table and debug information: `-s` (which, since Go
/// 1.22, implies `-w`), as `-s`, `--s` or `-s=true`.
fn strips_debug_information(ldflags: &str) -> bool {
    ldflags.split_whitespace().any(|w| matches!(w.trim_start_matches('-'), "s" | "s=true") && w.starts_with('-'))
}

fn is_go_version(v: &str) -> bool {
    crate::toolchain::GoVersion::parse(v).is_some_and(|g| g.major == 1)
}

fn is_env_name(v: &str) -> bool {
    v.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(crate) fn parse_port(v: &str) -> Result<Port, String> {
    let (num, proto) = v.split_once('/').unwrap_or((v, "tcp"));
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

pub(crate) fn parse_user(v: &str) -> Result<User, String> {
    match v {
        "nonroot" => return Ok(User::NONROOT),
        "root" => return Ok(User::ROOT),
        _ => {}
    }
    let id = |s: &str| s.parse::<u32>().ok().filter(|n| *n < u32::MAX);
    let (u, g) = v.split_once(':').unwrap_or((v, v));
    match (id(u), id(g)) {
        (Some(uid), Some(gid)) => Ok(User { uid, gid }),
        _ if is_user_name(v) => {
            Err(format!("the user `{v}` is not known: the static and scratch bases only know `root` and `nonroot` (a pulled base's users can be named)"))
        }
        _ => Err(format!("`{v}` is not a user")),
    }
}

const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP",
    "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// A stop signal in the form the engine reads: `SIGTERM`, or a number.
pub(crate) fn parse_signal(v: &str) -> Result<String, String> {
    if let Ok(n) = v.parse::<u32>() {
        return if (1..=64).contains(&n) { Ok(n.to_string()) } else { Err(format!("`{v}` is not a signal number (1 to 64)")) };
    }
    let upper = v.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) {
        return Ok(format!("SIG{name}"));
    }
    if let Some(n) = name.strip_prefix("RTMIN+").or_else(|| name.strip_prefix("RTMAX-"))
        && n.parse::<u32>().is_ok_and(|n| n <= 30)
    {
        return Ok(format!("SIG{name}"));
    }
    let names: Vec<String> = SIGNALS.iter().map(|s| format!("SIG{s}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    match similar(&format!("SIG{name}"), &refs) {
        Some(s) => Err(format!("`{v}` is not a signal; did you mean `{s}`?")),
        None => Err(format!("`{v}` is not a signal")),
    }
}

/// A duration as Go writes them (`1h30m`, `30s`, `1.5s`, `500ms`), in nanoseconds.
pub(crate) fn parse_duration(v: &str) -> Result<i64, String> {
    let bad = || format!("`{v}` is not a duration");
    if v == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = v;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += num * scale;
    }
    if total > i64::MAX as f64 / 2.0 {
        return Err(format!("`{v}` is too long a duration"));
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        for bad in ["", "30", "s", "1x", "1.2.3s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), "SIGTERM");
        assert_eq!(parse_signal("int").unwrap(), "SIGINT");
        assert_eq!(parse_signal("15").unwrap(), "15");
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), "SIGRTMIN+3");
        assert!(parse_signal("SIGTREM").unwrap_err().contains("SIGTERM"));
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn users() {
        assert_eq!(parse_user("nonroot"), Ok(User::NONROOT));
        assert_eq!(parse_user("1000"), Ok(User { uid: 1000, gid: 1000 }));
        assert_eq!(parse_user("1000:2000"), Ok(User { uid: 1000, gid: 2000 }));
        assert!(parse_user("www-data").is_err());
        assert!(parse_user("1000:").is_err());
    }
}
