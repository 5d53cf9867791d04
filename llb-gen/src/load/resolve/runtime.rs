//! The `runtime` section: the base, the user, the program's settings, its directories,
//! files and health check.

use std::collections::BTreeMap;

use crate::diag::{Span, did_you_mean, similar};
use crate::reference::ImageRef;
use crate::spec::raw::{RawFile, RawHealthcheck, RawRuntime, RawVolume, RawWindows};
use crate::spec::*;

use super::super::Cx;
use super::*;
use crate::paths::BIN_DIR;

impl Cx<'_> {
    /// A base: `static`, `scratch`, a named base or an image reference (the base is then
    /// [`Base::Image`], with the reference). A mistake is reported and reads as `static`.
    pub(crate) fn base(&mut self, b: &Spanned<String>) -> (Spanned<Base>, Option<ImageRef>) {
        let mut base_image = None;
        let base = match b.value.as_str() {
            "static" => Spanned::new(Base::Static, b.span),
            "scratch" => Spanned::new(Base::Scratch, b.span),
            windows if windows_base(windows).is_some() => {
                self.error(
                    "UnknownBase",
                    b.span,
                    format!("`{windows}` is a Windows base, and `runtime.base` is the base of the Linux platforms"),
                    format!("set it as `runtime.windows.base: {windows}`: the Windows platforms are built on it"),
                );
                Spanned::new(Base::Static, b.span)
            }
            named if NAMED_BASES.iter().any(|(n, _)| *n == named) => {
                let (_, image) = NAMED_BASES.iter().find(|(n, _)| *n == named).expect("just found");
                base_image = Some(ImageRef::parse(image).expect("named bases are valid references"));
                Spanned::new(Base::Image, b.span)
            }
            other if other.contains([':', '/', '.', '@']) => match ImageRef::parse(other) {
                // A slip in a base's name would otherwise pull a Docker Hub image.
                Ok(_) if !other.contains([':', '@']) && !other.split('/').next().unwrap_or("").contains('.') && similar(other, &named_bases()).is_some() => {
                    let near = similar(other, &named_bases()).expect("just found");
                    self.error(
                        "UnknownBase",
                        b.span,
                        format!("unknown base `{other}`{}", crate::diag::non_ascii_note(other)),
                        format!("did you mean `{near}`? (for the Docker Hub image of that name, write `docker.io/{other}`)"),
                    );
                    Spanned::new(Base::Static, b.span)
                }
                Ok(r) => {
                    base_image = Some(r);
                    Spanned::new(Base::Image, b.span)
                }
                Err(e) => {
                    self.error(
                        "InvalidImage",
                        b.span,
                        e.to_string(),
                        "write an image reference such as `registry.example.com/base:1.0`, or one of the named bases",
                    );
                    Spanned::new(Base::Static, b.span)
                }
            },
            other => {
                let names = named_bases();
                let hint = did_you_mean(other, &names, || format!("the bases are {}, or an image reference", names.join(", ")));
                self.error("UnknownBase", b.span, format!("unknown base `{other}`{}", crate::diag::non_ascii_note(other)), hint);
                Spanned::new(Base::Static, b.span)
            }
        };
        (base, base_image)
    }

    pub(crate) fn runtime(&mut self, raw: Option<RawRuntime>, targets: &[Target], whole: Span) -> Option<Runtime> {
        let raw = raw.unwrap_or_else(empty_runtime);
        let before = self.error_count();
        let (base, base_image) = match &raw.base {
            None => (Spanned::new(Base::Static, whole), None),
            Some(b) => self.base(b),
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
                    self.error("UnknownTarget", e.span, format!("there is no target named `{}`{}", e.value, crate::diag::non_ascii_note(&e.value)), hint);
                    0
                }
            },
        };
        let env = self.env(&raw.env, "runtime.env", &[]);
        let mut ports: Vec<Port> = Vec::new();
        for p in raw.ports.iter().flatten() {
            match parse_port(&p.value.0) {
                Ok(port) if ports.contains(&port) => self.error("Duplicate", p.span, format!("port `{}` is listed twice", port.key()), "remove one of them"),
                Ok(port) => ports.push(port),
                Err(e) => self.error("InvalidValue", p.span, e, "write a port as a number from 1 to 65535, optionally with /tcp or /udp: `8080`, `53/udp`"),
            }
        }
        let mut labels = BTreeMap::new();
        if let Some(l) = &raw.labels {
            for (k, v) in &l.value {
                if k.is_empty() || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    let at = self.key_span(k, v.span);
                    self.error(
                        "InvalidName",
                        at,
                        format!("`{k}` is not a valid label name{}", crate::diag::non_ascii_note(k)),
                        "a label name has no spaces, e.g. `org.opencontainers.image.vendor`",
                    );
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
                    let at = self.key_span(k, v.span);
                    self.error(
                        "InvalidName",
                        at,
                        format!("`{k}` is not a valid annotation name{}", crate::diag::non_ascii_note(k)),
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
                self.error("Duplicate", span, format!("the volume `{}` is listed twice", volume.path), "remove one of them");
            } else {
                volumes.push(volume);
            }
        }
        let stop_signal = raw.stop_signal.as_ref().and_then(|s| match parse_signal(&s.value) {
            Ok(sig) => Some(Spanned::new(sig, s.span)),
            Err(e) => {
                self.error("InvalidValue", s.span, e, "use a signal name such as SIGTERM, SIGINT or SIGQUIT, or its number");
                None
            }
        });
        let mut files: Vec<FileCopy> = raw.files.iter().flatten().filter_map(|f| self.file(&f.value)).collect();
        // What goapp writes itself: the binaries, and the static base's users.
        files.retain(|f| {
            let binary = targets.iter().find(|t| f.dest == format!("{BIN_DIR}/{}", t.name.value));
            let users = base.value == Base::Static && ["/etc/passwd", "/etc/group", "/etc/nsswitch.conf"].contains(&f.dest.as_str());
            let what = match (binary, users) {
                (Some(t), _) => format!("the binary of the target `{}`", t.name.value),
                (None, true) => format!("the static base's {}", f.dest),
                (None, false) => return true,
            };
            self.error(
                "ConflictingFields",
                f.src.span,
                format!("this file would replace {what}, which goapp writes"),
                "copy it somewhere else (for users, use a base image that has them, or a numeric `runtime.user`)",
            );
            false
        });
        // Bases without a shell or tools: a health check can only run what the spec puts in.
        let bare = match (&base.value, &base_image) {
            (Base::Image, Some(r)) => r.repository.contains("distroless").then(|| raw.base.as_ref().map(|b| b.value.clone()).unwrap_or_default()),
            (b, _) => Some(b.name().to_string()),
        };
        let healthcheck = raw.healthcheck.as_ref().and_then(|h| self.healthcheck(&h.value, h.span, targets, &files, bare.as_deref()));
        let default_extras = base.value != Base::Scratch;
        let windows = self.windows(raw.windows.as_ref(), whole);
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
            windows: windows?,
        };
        (self.error_count() == before).then_some(runtime)
    }

    /// `runtime.windows`: the base of the Windows images (a named one, or a reference that is
    /// not one of the Linux bases) and the account the program runs as.
    pub(crate) fn windows(&mut self, raw: Option<&Spanned<RawWindows>>, whole: Span) -> Option<Windows> {
        let before = self.error_count();
        let base = raw.and_then(|w| w.value.base.clone());
        let written = base.as_ref().map(|b| b.value.clone()).unwrap_or_else(|| DEFAULT_WINDOWS_BASE.to_string());
        let base_span = base.as_ref().map(|b| b.span).or(raw.map(|w| w.span)).unwrap_or(whole);
        let linux = Base::NAMES.contains(&written.as_str()) || NAMED_BASES.iter().any(|(n, _)| *n == written);
        let reference = match windows_base(&written) {
            Some(image) => match ImageRef::parse(&image) {
                Ok(r) => Some(r),
                Err(e) => {
                    self.error("InvalidImage", base_span, e.to_string(), "write the tag of a Windows release after the name, e.g. `nanoserver:ltsc2025`");
                    None
                }
            },
            None if linux => {
                self.error(
                    "UnknownBase",
                    base_span,
                    format!("`{written}` is a Linux base; a Windows image is built on a Windows one"),
                    "use `nanoserver` or `servercore` (with a tag for another Windows release: `nanoserver:ltsc2025`), or a Windows image's reference",
                );
                None
            }
            None => match ImageRef::parse(&written) {
                Ok(r) if written.contains([':', '/', '.', '@']) => Some(r),
                Ok(_) => {
                    let names: Vec<&str> = WINDOWS_BASES.iter().map(|(n, _)| *n).collect();
                    let hint = did_you_mean(&written, &names, || "the Windows bases are nanoserver and servercore, or an image reference".into());
                    self.error("UnknownBase", base_span, format!("unknown Windows base `{written}`{}", crate::diag::non_ascii_note(&written)), hint);
                    None
                }
                Err(e) => {
                    self.error("InvalidImage", base_span, e.to_string(), "write `nanoserver`, `servercore`, or a Windows image's reference");
                    None
                }
            },
        };
        let user = match raw.and_then(|w| w.value.user.as_ref()) {
            None => WINDOWS_USERS[0].to_string(),
            Some(u) if WINDOWS_USERS.contains(&u.value.as_str()) => u.value.clone(),
            Some(u) => {
                let linux = u.value == "root" || u.value == "nonroot" || parse_user(&u.value).is_ok();
                let hint = if linux {
                    "`runtime.windows.user` is a Windows account: `ContainerUser`, or `ContainerAdministrator` (as `root` is on Linux); `runtime.user` is the user of the Linux platforms".to_string()
                } else {
                    did_you_mean(&u.value, WINDOWS_USERS, || "the Windows accounts of a container are ContainerUser and ContainerAdministrator".into())
                };
                self.error(
                    "UnknownUser",
                    u.span,
                    format!("`{}` is not an account of a Windows container{}", u.value, crate::diag::non_ascii_note(&u.value)),
                    hint,
                );
                return None;
            }
        };
        (self.error_count() == before).then(|| Windows { base_image: reference.expect("no error: a reference"), base_span, user })
    }

    pub(crate) fn file(&mut self, f: &RawFile) -> Option<FileCopy> {
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

    pub(crate) fn volume(&mut self, v: &Spanned<RawVolume>) -> Option<Volume> {
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
    pub(crate) fn healthcheck(&mut self, h: &RawHealthcheck, span: Span, targets: &[Target], files: &[FileCopy], bare: Option<&str>) -> Option<Healthcheck> {
        let Some(first) = h.command.first() else {
            self.error(
                "HealthcheckCommand",
                span,
                "the health check has an empty `command`",
                "give the program to run and its arguments, e.g. `command: [hello, --health]`",
            );
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
                    "HealthcheckCommand",
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
            self.error("UnknownTarget", first.span, format!("`{}` is not a target of the app", first.value), hint);
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
                        self.error(
                            "InvalidValue",
                            d.span,
                            format!("`{what}` is too short"),
                            format!("`{what}` must be at least {}", if min > 0 { "1ms" } else { "0s" }),
                        );
                        None
                    }
                    Err(e) => {
                        self.error("InvalidValue", d.span, e, "write a duration such as `30s`, `1m30s` or `500ms`");
                        None
                    }
                },
            }
        };
        let interval = duration(&h.interval, "interval", 1_000_000);
        let timeout = duration(&h.timeout, "timeout", 1_000_000);
        let start_period = duration(&h.start_period, "start_period", 0);
        Some(Healthcheck { span, command, interval: interval?, timeout: timeout?, start_period: start_period?, retries: h.retries.as_ref().map(|r| r.value) })
    }
}

pub(super) fn empty_runtime() -> RawRuntime {
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
        windows: None,
    }
}

/// The image a Windows base's name stands for: `nanoserver` or `servercore`, with a tag or
/// the default one; `None` for any other name.
pub(crate) fn windows_base(name: &str) -> Option<String> {
    let (n, tag) = name.split_once(':').unwrap_or((name, DEFAULT_WINDOWS_TAG));
    let (_, image) = WINDOWS_BASES.iter().find(|(w, _)| *w == n)?;
    Some(format!("{image}:{tag}"))
}
