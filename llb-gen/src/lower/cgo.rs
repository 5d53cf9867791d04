//! cgo: the C toolchain the compile runs with (cross compilers, or the target's own builder
//! under emulation), and the check of the binaries against the base afterwards.

use llb::{CacheSharing, Exec, Graph, Mount, Platform};

use super::{Input, LowerError, OUT};
use crate::golang;
use crate::golang::CTarget;
use crate::image::env_set;
use crate::plan::cgo_emulated;
use crate::spec::Cgo;

/// How one platform's cgo build is done.
pub(super) struct CgoPlan<'s> {
    pub cgo: &'s Cgo,
    pub c: CTarget,
    /// On the target platform, under emulation.
    pub emulated: bool,
    /// With a cross compiler (on the build platform, for another architecture).
    pub cross: bool,
}

impl<'s> CgoPlan<'s> {
    pub fn new(input: &Input<'s>) -> Result<Option<Self>, LowerError> {
        let Some(cgo) = &input.spec.go.cgo else { return Ok(None) };
        let err = |reason: golang::UnsupportedPlatform| LowerError::Cgo { platform: input.target.id(), reason: reason.into() };
        let c = golang::c_target(input.target).map_err(err)?;
        let emulated = cgo_emulated(input.spec, input.build_platform, input.target);
        let cross = !emulated && !golang::same_c_arch(input.build_platform, input.target);
        if cross && !golang::has_cross_compiler(input.build_platform, input.target) {
            return Err(err(golang::UnsupportedPlatform(format!(
                "Debian has no cross C compiler for it on {}; set `go.cgo_mode: emulated`",
                input.build_platform
            ))));
        }
        Ok(Some(CgoPlan { cgo, c, emulated, cross }))
    }

    /// The packages the builder needs: the cross compilers, and the spec's packages for the
    /// target's architecture.
    pub fn packages(&self) -> Vec<String> {
        let mut p: Vec<String> = if self.cross { self.c.cross_packages().to_vec() } else { Vec::new() };
        p.extend(self.cgo.packages.iter().map(|n| if self.cross { format!("{}:{}", n.value, self.c.debian_arch) } else { n.value.clone() }));
        p
    }

    /// The C settings of `go build`: the cross compilers and pkg-config's directory for the
    /// target, or the builder's own compilers.
    pub fn env(&self) -> Vec<String> {
        let mut env = vec!["CGO_ENABLED=1".to_string()];
        if self.cross {
            let (cc, cxx) = self.c.cross_compilers();
            env.extend([format!("CC={cc}"), format!("CXX={cxx}"), "PKG_CONFIG=pkg-config".into(), format!("PKG_CONFIG_LIBDIR={}", self.c.pkg_config_libdir())]);
        } else {
            env.extend(["CC=gcc".to_string(), "CXX=g++".into(), "PKG_CONFIG=pkg-config".into()]);
        }
        env
    }

    /// Whether the binaries link their C libraries statically: as the spec says, and always
    /// for Windows (an image then needs no MinGW DLLs).
    pub fn static_link(&self) -> bool {
        self.cgo.static_link || self.c.windows
    }

    pub fn describe(&self) -> String {
        let how = if self.emulated {
            "emulated"
        } else if self.cross {
            "cross-compiled"
        } else {
            "native"
        };
        let link = match (self.c.windows, self.static_link()) {
            (true, _) => "MinGW-w64, static",
            (false, true) => "static",
            (false, false) => "glibc",
        };
        format!("cgo {how}, {link}")
    }
}

/// The script that checks a cgo build's binaries and collects the libraries they need.
const CHECK_BINARIES: &str = include_str!("check-binaries.sh");

/// Where the compile's root is mounted for [`CHECK_BINARIES`], and the base.
const SYSROOT: &str = "/sysroot";

const BASE: &str = "/base";

pub(super) const LIBS: &str = "/libs";

/// The cgo toolchain: the cross compilers and the spec's C packages, installed with apt in a
/// step of its own on the compile's root (cached like any step: it runs again only when the
/// package list or the builder changes). `None` when there is nothing to install.
pub(super) fn c_toolchain(g: &mut Graph, input: &Input<'_>, plan: &CgoPlan<'_>, image: llb::Output, platform: &Platform) -> Option<llb::ExecOutputs> {
    let packages = plan.packages();
    if packages.is_empty() {
        return None;
    }
    let mut script = String::from("set -e\nrm -f /etc/apt/apt.conf.d/docker-clean\n");
    if plan.cross && !plan.c.windows {
        script.push_str(&format!("dpkg --add-architecture {}\n", plan.c.debian_arch));
    }
    script.push_str("apt-get update -q\napt-get install -y -q --no-install-recommends \"$@\"\n");
    let mut args = vec!["sh".to_string(), "-c".into(), script, "install".into()];
    args.extend(packages.iter().cloned());
    let arch = platform.id().replace('/', "-");
    let mut env = input.builder.env.clone();
    env_set(&mut env, "DEBIAN_FRONTEND", "noninteractive");
    let exec = g.exec(
        Exec {
            args,
            env,
            cwd: "/".into(),
            user: String::new(),
            mounts: vec![
                Mount::output("/", Some(image)),
                // apt locks both itself.
                Mount::cache("/var/cache/apt", &format!("goapp-apt-cache-{arch}"), CacheSharing::Locked),
                Mount::cache("/var/lib/apt/lists", &format!("goapp-apt-lists-{arch}"), CacheSharing::Locked),
            ],
            no_network: false,
            proxy: input.proxy.cloned(),
        },
        platform,
    );
    let m = g.meta(exec.op);
    m.name = Some(format!("[{}] C toolchain: apt-get install {}", input.target, packages.join(" ")));
    m.ignore_cache = input.no_cache;
    Some(exec)
}

/// What [`check_binaries`] runs on: the builder of the build platform (its `readelf`), the
/// compile's root, the compile's output and the base.
pub(super) struct CheckOn {
    pub builder: llb::Output,
    pub sysroot: llb::Output,
    pub out: llb::Output,
    pub base: Option<llb::Output>,
}

/// After a cgo `go build`, on the build platform: each binary is for the target's machine,
/// static when asked for; otherwise the base has a glibc new enough, and the shared libraries
/// the base lacks are collected at [`LIBS`] for the image.
pub(super) fn check_binaries(g: &mut Graph, input: &Input<'_>, plan: &CgoPlan<'_>, on: CheckOn, names: &[String]) -> Result<llb::ExecOutputs, LowerError> {
    let CheckOn { builder, sysroot, out, base } = on;
    // A Windows program is read by MinGW-w64's objdump, in the root it was compiled in.
    let root = if plan.c.windows { sysroot } else { builder };
    let mut mounts = vec![Mount::readonly("/", root), Mount::readonly(OUT, out), Mount::readonly(SYSROOT, sysroot), Mount::output(LIBS, None)];
    if !plan.static_link() {
        match base {
            Some(image) => mounts.push(Mount::readonly(BASE, image)),
            None => return Err(LowerError::Cgo { platform: input.target.id(), reason: "the binaries link glibc dynamically, and the base has none".into() }),
        }
    }
    // The script without its comments: they are for its readers, not for every build's LLB.
    let script: String = CHECK_BINARIES.lines().filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()).map(|l| format!("{l}\n")).collect();
    let mut args =
        vec!["sh".to_string(), "-c".into(), script, "check".into(), plan.c.machine.into(), (plan.static_link() as u8).to_string(), plan.c.triplet.into()];
    args.extend(names.iter().cloned());
    let check = g
        .exec(Exec { args, env: input.builder.env.clone(), cwd: "/".into(), user: String::new(), mounts, no_network: true, proxy: None }, input.build_platform);
    let what = match (plan.c.windows, plan.static_link()) {
        (true, _) => "no MinGW-w64 DLLs",
        (false, true) => "statically linked",
        (false, false) => "glibc of the base, C libraries it lacks",
    };
    g.meta(check.op).name = Some(format!("[{}] check {}: {}, {what}", input.target, names.join(" "), plan.c.machine));
    Ok(check)
}
