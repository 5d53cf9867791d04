//! Checks of the spec against what the caller found out for the plan (the pulled base's
//! files, the builder's Go release), each one pure function returning diagnostics at the
//! spec line they are about.

use crate::diag::{Diagnostic, did_you_mean};
use crate::resolved::BaseImage;
use crate::spec::{Spec, User};

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

/// A dynamically linked cgo build needs glibc in the base: a base without `libc.so.6` for
/// `platform` is refused at `runtime.base`. (Bases known to lack it by name are refused when
/// the spec loads; the binaries' symbol versions are checked after the compile.)
pub fn glibc(spec: &Spec, base: &BaseImage, platform: &llb::Platform) -> Option<Diagnostic> {
    let dynamic = spec.go.cgo.as_ref().is_some_and(|c| !c.static_link);
    if !dynamic || base.has_libc {
        return None;
    }
    let written = spec.runtime.base_image.as_ref().map(|r| r.to_string()).unwrap_or_default();
    Some(
        Diagnostic::error(
            "NoGlibc",
            spec.runtime.base.span,
            format!("the base `{written}` has no glibc (libc.so.6) for {platform}, and with `cgo: true` the binaries link it dynamically"),
        )
        .hint("use a base with glibc (`distroless/cc`, `distroless/base` or `debian`), or set `go.static: true` to link the C libraries into the binaries"),
    )
}
