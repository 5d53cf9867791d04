//! The `go` section: the Go release or builder image, module settings, cgo, and secrets.

use crate::diag::Span;
use crate::reference::ImageRef;
use crate::spec::raw::{RawGo, RawSecret, RawSharedCache, SecretKind as RawSecretKind};
use crate::spec::*;

use super::super::Cx;

/// Environment variables goapp sets for `go build` itself.
pub(super) const RESERVED_GO_ENV: &[&str] = &["GOOS", "GOARCH", "GOARM", "GOAMD64", "CGO_ENABLED", "GOCACHE", "GOMODCACHE"];

impl Cx<'_> {
    pub(crate) fn go(&mut self, raw: Option<&RawGo>) -> Option<Go> {
        let mut go = Go {
            version: None,
            image: None,
            module_mode: None,
            vcs: false,
            module_cache: raw::ModuleCache::Mount,
            cgo: None,
            secrets: Vec::new(),
            shared_cache: None,
        };
        let Some(raw) = raw else { return Some(go) };
        let mut ok = true;
        if let Some(v) = &raw.version {
            if is_go_version(&v.value) {
                go.version = Some(v.clone());
            } else {
                self.error(
                    "InvalidGoVersion",
                    v.span,
                    format!("`{}` is not a Go release", v.value),
                    "write a Go release such as \"1.27\" or \"1.27.3\", quoted",
                );
                ok = false;
            }
        }
        if let Some(i) = &raw.image {
            match ImageRef::parse(&i.value) {
                Ok(_) => go.image = Some(i.clone()),
                Err(e) => {
                    self.error("InvalidImage", i.span, e, "write an image reference such as `golang:1.27` or `registry.example.com/tools/go:1.27`");
                    ok = false;
                }
            }
            if let Some(v) = &raw.version {
                self.error(
                    "ConflictingFields",
                    v.span,
                    "`go.version` and `go.image` cannot both be set",
                    "`go.version` picks the image `golang:<version>`: keep one of the two",
                );
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
                        self.error("ConflictingFields", span, format!("`{field}` applies only with `cgo: true`"), hint);
                        ok = false;
                    }
                }
            }
        }
        go.vcs = raw.vcs.as_ref().is_some_and(|v| v.value);
        if let Some(c) = &raw.module_cache {
            go.module_cache = c.value;
        }
        go.module_mode = raw.module_mode.as_ref().map(|m| m.value).filter(|m| *m != raw::ModMode::Auto);
        match self.secrets(raw.secrets.as_deref().unwrap_or_default()) {
            Some(s) => go.secrets = s,
            None => ok = false,
        }
        if let Some(c) = &raw.shared_cache {
            match self.shared_cache(&c.value, c.span) {
                Some(c) => go.shared_cache = Some(c),
                None => ok = false,
            }
            if let Some(prog) = raw.env.as_ref().and_then(|e| e.value.get("GOCACHEPROG")) {
                self.error(
                    "ConflictingFields",
                    prog.span,
                    "`go.env` sets GOCACHEPROG, which `go.shared_cache` sets to goapp's cache program",
                    "keep one of the two: remove GOCACHEPROG from `go.env`, or `go.shared_cache`",
                );
                ok = false;
            }
        }
        ok.then_some(go)
    }

    /// `go.shared_cache`: an http(s) URL without credentials, query or fragment (it is part
    /// of the build's steps, which the cache key and the provenance record), and a secret id.
    fn shared_cache(&mut self, raw: &RawSharedCache, span: Span) -> Option<SharedCache> {
        let errors_before = self.error_count();
        let url = &raw.url;
        let what = "write the store's base URL, such as `https://cache.example.com/go/myteam`";
        let mut normalized = String::new();
        match url::Url::parse(&url.value) {
            Err(e) => self.error("InvalidValue", url.span, format!("`{}` is not a URL: {e}", url.value), what),
            Ok(u) if !matches!(u.scheme(), "http" | "https") => {
                self.error("InvalidValue", url.span, format!("the shared cache is reached over HTTP: `{}:` is not http or https", u.scheme()), what)
            }
            Ok(u) if u.host_str().is_none_or(str::is_empty) => self.error("InvalidValue", url.span, format!("`{}` names no host", url.value), what),
            Ok(u) if !u.username().is_empty() || u.password().is_some() => self.error(
                "InvalidValue",
                url.span,
                "the URL carries a user or password, which would be written into the build's steps, cache key and provenance",
                "put the token in a build secret and name it with `token:` (`--secret id=gocache,env=GOCACHE_TOKEN`)",
            ),
            Ok(u) if u.query().is_some() || u.fragment().is_some() => self.error(
                "InvalidValue",
                url.span,
                "the URL has a query or fragment: objects are read and written under `<url>/v1/`",
                "write the base URL without `?…` or `#…`",
            ),
            Ok(u) => normalized = u.as_str().trim_end_matches('/').to_string(),
        }
        if let Some(t) = raw.token.as_ref().filter(|t| !is_secret_id(&t.value)) {
            self.error(
                "InvalidName",
                t.span,
                format!("`{}` is not a secret id", t.value),
                "name the secret that holds the token: letters, digits, `.`, `_` and `-`, as in `--secret id=gocache,env=GOCACHE_TOKEN`",
            );
        }
        (self.error_count() == errors_before).then(|| SharedCache {
            span,
            url: normalized,
            token: raw.token.clone(),
            read_only: raw.read_only.as_ref().is_some_and(|r| r.value),
        })
    }

    /// `go.secrets`: ids that `--secret` (or `--ssh`) can name, each once; one netrc at
    /// most; a host for each git token and SSH agent, each host once per type; one SSH agent
    /// at most (git has one `SSH_AUTH_SOCK`), which may serve several hosts.
    pub(crate) fn secrets(&mut self, raw: &[Spanned<RawSecret>]) -> Option<Vec<Secret>> {
        let errors_before = self.error_count();
        let mut out: Vec<Secret> = Vec::new();
        for s in raw {
            let s = &s.value;
            let id = &s.id;
            let id_ok = is_secret_id(&id.value);
            let same_id = out.iter().find(|o| o.id.value == id.value);
            if !id_ok {
                self.error(
                    "InvalidName",
                    id.span,
                    format!("`{}` is not a secret id", id.value),
                    "use letters, digits, `.`, `_` and `-`, as in `--secret id=netrc,src=$HOME/.netrc`",
                );
            } else if let Some(prev) = same_id.filter(|p| !(s.kind.value == RawSecretKind::Ssh && matches!(p.kind, SecretKind::Ssh { .. }))) {
                let line = prev.id.span.start.line;
                self.error(
                    "Duplicate",
                    id.span,
                    format!("the secret `{}` is listed twice", id.value),
                    format!("it is already listed on line {line}; remove one"),
                );
            }
            let only_for = |field: &str, types: &str| (format!("`{field}` applies only to a secret of {types}"), "remove this line".to_string());
            if let Some(k) = s.known_hosts.as_ref().filter(|_| s.kind.value != RawSecretKind::Ssh) {
                let (m, h) = only_for("known_hosts", "`type: ssh`");
                self.error("ConflictingFields", k.span, m, h);
            }
            let kind = match s.kind.value {
                RawSecretKind::Netrc => {
                    for (field, v) in [("host", s.host.as_ref()), ("user", s.user.as_ref())] {
                        if let Some(v) = v {
                            self.error(
                                "ConflictingFields",
                                v.span,
                                only_for(field, "`type: git_token` or `type: ssh`").0,
                                "a netrc file names its hosts itself: remove this line",
                            );
                        }
                    }
                    if let Some(prev) = out.iter().find(|o| o.kind == SecretKind::Netrc) {
                        let line = prev.id.span.start.line;
                        self.error(
                            "ConflictingFields",
                            s.kind.span,
                            "there are two netrc secrets",
                            format!("the first is on line {line}; put every host in one .netrc file"),
                        );
                    }
                    SecretKind::Netrc
                }
                RawSecretKind::GitToken | RawSecretKind::Ssh => {
                    let ssh = s.kind.value == RawSecretKind::Ssh;
                    let what = if ssh { "an `ssh` secret" } else { "a `git_token` secret" };
                    let Some(host) = &s.host else {
                        self.error(
                            "MissingField",
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
                        self.error("ConflictingFields", host.span, format!("there are two {how}s for `{name}`"), "git uses one per host: remove one");
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
                            "ConflictingFields",
                            host.span,
                            format!("`{name}` has both a git token and an SSH agent"),
                            format!("with an SSH agent git fetches `{name}` over SSH and never sends the token (line {line}): keep one"),
                        );
                    }
                    if ssh && out.iter().any(|o| matches!(o.kind, SecretKind::Ssh { .. }) && o.id.value != id.value) {
                        self.error(
                            "ConflictingFields",
                            id.span,
                            "there are two SSH agents",
                            "git uses one SSH agent: pass one `--ssh` id with the keys of every host",
                        );
                    }
                    let default_user = if ssh { DEFAULT_SSH_USER } else { DEFAULT_TOKEN_USER };
                    let user = match &s.user {
                        Some(u) if u.value.is_empty() || !u.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b)) => {
                            self.error(
                                "InvalidName",
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
                                    "InvalidValue",
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
    pub(crate) fn secret_host(&mut self, host: &Spanned<String>) -> Option<(String, Option<u16>)> {
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
            self.error(
                "InvalidName",
                host.span,
                format!("`{h}` is not a host name"),
                format!("write the host alone, without scheme or path, e.g. `{example}`"),
            );
            return None;
        }
        Some((name.to_string(), port.map(|p| p.parse::<u16>().expect("checked"))))
    }

    pub(crate) fn cgo(&mut self, raw: &RawGo, span: Span) -> Option<Cgo> {
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
                self.error("InvalidName", p.span, format!("`{v}` is not a Debian package name"), hint);
            } else if packages.iter().any(|q| q.value == *v) {
                self.error("Duplicate", p.span, format!("the package `{v}` is listed twice"), "remove one of them");
            } else {
                packages.push(p.clone());
            }
        }
        Some(Cgo {
            span,
            mode: raw.cgo_mode.as_ref().map(|m| m.value).unwrap_or(raw::CgoMode::Auto),
            static_link: raw.static_link.as_ref().is_some_and(|s| s.value),
            packages,
        })
    }

    /// A dynamically linked cgo binary needs glibc in the base: `static`, `scratch` and
    /// distroless/static have no C library, and Alpine has musl.
    pub(crate) fn check_c_library(&mut self, go: &Go, runtime: &Runtime, whole: Span) {
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
        if let Some(d) = crate::checks::glibc(go, runtime, whole, None) {
            self.diags.push(d);
        }
    }
}

/// A line of a known_hosts file: blank, a comment, or `[marker] hosts keytype key [comment]`
/// with an SSH key type.
/// What `--secret id=` takes.
fn is_secret_id(id: &str) -> bool {
    id.len() <= 128 && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

pub(super) fn known_hosts_line(line: &str) -> bool {
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

pub(super) fn is_go_version(v: &str) -> bool {
    crate::toolchain::GoVersion::parse(v).is_some_and(|g| g.major == 1)
}
