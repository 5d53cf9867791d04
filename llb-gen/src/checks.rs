//! Checks of the spec against what the caller found out for the plan (the pulled base's
//! files, the builder's Go release), each one pure function returning diagnostics at the
//! spec line they are about.

use crate::diag::Span;
use crate::diag::{Diagnostic, did_you_mean};
use crate::paths::BIN_DIR;
use crate::resolved::BaseImage;
use crate::spec::{Base, Go, Runtime, Spec, User};

/// The user a `runtime.user` name stands for in the base's `/etc/passwd` (`passwd: None`:
/// the base has no such file); `Ok(None)` when the spec gives no name (its user is already
/// known). `base` names the base in the error.
pub fn runtime_user(spec: &Spec, base: &str, passwd: Option<&str>) -> Result<Option<User>, Diagnostic> {
    let Some(name) = &spec.runtime.user_name else { return Ok(None) };
    let entries: Vec<(&str, u32, u32)> = passwd
        .unwrap_or("")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4).then_some(())?;
            Some((f[0], f[2].parse().ok()?, f[3].parse().ok()?))
        })
        .collect();
    if let Some((_, uid, gid)) = entries.iter().find(|(n, _, _)| *n == name.value) {
        return Ok(Some(User { uid: *uid, gid: *gid }));
    }
    let names: Vec<&str> = entries.iter().map(|(n, _, _)| *n).collect();
    let hint = match passwd {
        None => format!("{base} has no /etc/passwd: use `nonroot` (65532) or a numeric `uid:gid`"),
        Some(_) => did_you_mean(&name.value, &names, || format!("its users are: {}; or use `nonroot` (65532) or a numeric `uid:gid`", names.join(", "))),
    };
    Err(Diagnostic::error("UnknownUser", name.span, format!("the user `{}` is not in the /etc/passwd of {base}", name.value)).hint(hint))
}

/// A dynamically linked cgo build needs glibc in the base. Before the base is pulled
/// (`probed: None`) its name tells: `static`, `scratch` and distroless/static have no C
/// library and Alpine has musl. Once it is pulled, what was found in it for a platform does.
/// The error points at `runtime.base`, or at `cgo: true` for the default base (`whole` is
/// the span defaults point at). The binaries' glibc symbol versions are checked after the
/// compile, against the base's glibc.
pub fn glibc(go: &Go, runtime: &Runtime, whole: Span, probed: Option<(&BaseImage, &llb::Platform)>) -> Option<Diagnostic> {
    let cgo = go.cgo.as_ref().filter(|c| !c.static_link)?;
    let lacks = match probed {
        Some((base, _)) if base.has_libc => return None,
        Some((_, platform)) => format!("has no glibc (libc.so.6) for {platform}"),
        None => match (runtime.base.value, &runtime.base_image) {
            (Base::Static | Base::Scratch, _) => "has no C library".to_string(),
            (Base::Image, Some(r)) if r.repository.rsplit('/').next().is_some_and(|n| n.starts_with("static")) && r.repository.contains("distroless") => {
                "has no C library".to_string()
            }
            (Base::Image, Some(r)) if r.repository.rsplit('/').next() == Some("alpine") => "has musl, not glibc".to_string(),
            _ => return None,
        },
    };
    let what = match &runtime.base_image {
        Some(r) => r.to_string(),
        None => runtime.base.value.name().to_string(),
    };
    // The default base is not written anywhere: point at `cgo: true`.
    let (span, which) = if runtime.base.span == whole { (cgo.span, "default base") } else { (runtime.base.span, "base") };
    Some(
        Diagnostic::error("NoGlibc", span, format!("the {which} `{what}` {lacks}, and with `cgo: true` the binaries link glibc dynamically"))
            .hint("use a base with glibc (`distroless/cc`, `distroless/base` or `debian`), or set `go.static: true` to link the C libraries into the binaries"),
    )
}

/// What a spec that builds a Windows platform cannot have, each at its line: a stop signal
/// other than `SIGTERM` (Windows stops a container with a shutdown event, which a Go program
/// receives as `SIGTERM`), a health check of a program goapp does not put in the image (the
/// Windows bases have no Linux programs), and C packages (Debian's are Linux libraries).
/// `image`: the build makes an image (not only binaries).
pub fn windows(spec: &Spec, image: bool) -> Vec<Diagnostic> {
    let rt = &spec.runtime;
    let mut out = Vec::new();
    if let Some(s) = rt.stop_signal.as_ref().filter(|s| image && s.value != "SIGTERM" && s.value != "15") {
        out.push(Diagnostic::error("NotOnWindows", s.span, format!("a Windows container cannot be stopped with {}", s.value)).hint(
            "Windows stops a container with a shutdown event, which a Go program receives as SIGTERM (os/signal); remove `stop_signal`, or set it to SIGTERM",
        ));
    }
    if let Some(h) = rt.healthcheck.as_ref().filter(|_| image) {
        let program = &h.command[0];
        let ours = spec.targets.iter().any(|t| *program == format!("{BIN_DIR}/{}", t.name.value))
            || rt.files.iter().any(|f| f.dest == *program && program.to_ascii_lowercase().ends_with(".exe"));
        if !ours {
            out.push(
                Diagnostic::error("NotOnWindows", h.span, format!("the Windows image cannot run the health check's `{program}`"))
                    .hint("run one of the app's targets (goapp runs it as C:\\app\\NAME.exe), or a Windows program added with `files`"),
            );
        }
    }
    if let Some(first) = spec.go.cgo.as_ref().and_then(|c| c.packages.first()) {
        out.push(
            Diagnostic::error("NotOnWindows", first.span, "Debian's C packages are Linux libraries, which a Windows program cannot link")
                .hint("build the Windows platforms without `go.c_packages` (MinGW-w64 compiles the program's own C code), or only the Linux platforms"),
        );
    }
    out
}
