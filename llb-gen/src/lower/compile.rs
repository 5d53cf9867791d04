//! The compile: `go mod download` once, then `go build` for each group of targets with the
//! same settings, on the builder (or, for cgo, on the builder with its C toolchain), and the
//! cgo checks of the binaries.

use llb::{CacheSharing, Exec, Mount, SourceRange};

use super::builder::{Sources, download_modules, go_env, module_cache_mount};
use super::cgo::{CgoPlan, CheckOn, LIBS, c_toolchain, check_binaries};
use super::secrets::{secret_env, secret_mounts};
use super::shared_cache::SharedCacheUse;
use super::{GOCACHE, GOMODCACHE, LowerError, Lowering, OUT, SRC, pinned};
use crate::golang;
use crate::image::env_set;
use crate::plan::ResultKind;
use crate::spec::raw::{ModMode, ModuleCache};
use crate::spec::{DELVE_PACKAGE, Target};

/// A binary: its target, the output of the `go build` that made it, and its path there.
pub(super) type Binary<'a> = (&'a Target, llb::Output, String);

/// What the compile made.
pub(super) struct Compiled<'a> {
    /// In the spec's order.
    pub binaries: Vec<Binary<'a>>,
    /// For cgo, the libraries the base lacks, as each check collected them.
    pub libs: Vec<llb::Output>,
    /// For `--target debug`, Delve for the target platform, at `/dlv`.
    pub delve: Option<llb::Output>,
}

/// What every `go` command of one platform runs with: the root (the builder with the
/// downloaded modules; for cgo, with its C toolchain), the platform it runs on, its mounts
/// and environment, and the sources after `assets` and `generate`.
pub(super) struct Prepared<'s> {
    pub root: llb::Output,
    pub platform: &'s llb::Platform,
    /// The module cache (a cache mount, or the download layer's modules for cgo).
    pub module_mounts: Vec<Mount>,
    pub secrets: Vec<Mount>,
    pub cgo: Option<CgoPlan<'s>>,
    pub cgo_env: Vec<String>,
    /// The module's directory under [`SRC`].
    pub cwd: String,
    /// What the `go` commands read at [`SRC`].
    pub go_src: llb::Output,
    /// The GOOS and GOARCH (and variant settings) of the target.
    pub target_env: Vec<String>,
    /// The builder with the downloaded modules, on the build platform, without a C
    /// toolchain: what Go-only steps run on.
    pub plain_root: llb::Output,
    /// The shared build cache's program and token, for `go build` and `go test`.
    pub shared_cache: Option<SharedCacheUse>,
}

impl Prepared<'_> {
    /// The mounts of a `go` command that reads the sources and writes `out`: the module and
    /// build caches, the secrets, the replacing contexts, the root.
    pub fn mounts(&self, sources: &Sources, out: Vec<Mount>) -> Vec<Mount> {
        self.module_mounts
            .iter()
            .cloned()
            .chain(self.secrets.iter().cloned())
            .chain(sources.replaced.iter().map(|(dir, full, _)| Mount::readonly(dir, *full)))
            .chain(self.shared_cache.iter().flat_map(|c| c.mounts.iter().cloned()))
            .chain([
                // BuildKit mounts a root without an output read-only.
                Mount::output("/", Some(self.root)),
                Mount::readonly(SRC, self.go_src),
            ])
            .chain(out)
            // Go's build cache locks its own entries, so concurrent builds (the platforms of
            // one build, or parallel builds) can share it.
            .chain([Mount::cache(GOCACHE, "goapp-go-build", CacheSharing::Shared)])
            .collect()
    }
}

/// Downloads the modules, installs the C toolchain for cgo, copies the assets and runs the
/// `generate` commands: what the compile and the tests start from.
pub(super) fn prepare<'a>(cx: &mut Lowering<'a>, builder: llb::Output, sources: &Sources) -> Result<Prepared<'a>, LowerError> {
    let input = cx.input;
    let spec = input.spec;
    let target = input.target;
    let go_target = golang::target(target).map_err(|reason| LowerError::Platform { platform: target.id(), reason: reason.into() })?;
    let cgo = CgoPlan::new(input)?;
    let cwd = if spec.module.value == "." { SRC.to_string() } else { format!("{SRC}/{}", spec.module.value) };
    let secrets = secret_mounts(&mut cx.g, spec, &input.builder.env);
    let download_mounts: Vec<Mount> = secrets.iter().cloned().chain(sources.replaced.iter().map(|(dir, _, files)| Mount::readonly(dir, *files))).collect();
    let download = download_modules(&mut cx.g, input, builder, sources.go_src, &cwd, &download_mounts);
    if let Some(d) = &download {
        let ranges: Vec<SourceRange> = std::iter::once(spec.module.span).chain(spec.go.secrets.iter().map(|s| s.id.span)).map(|s| cx.range(s)).collect();
        cx.g.meta(d.op).ranges.extend(ranges);
    }
    // Where `go build` runs: on the builder with the downloaded modules; for cgo, on the
    // builder with the C toolchain (on the target platform when emulated), with the modules
    // of a download layer mounted.
    let mut module_mounts: Vec<Mount> = module_cache_mount(spec).into_iter().collect();
    let (root, compile_platform) = match &cgo {
        None => (download.as_ref().map(|d| d.get("/")).unwrap_or(builder), input.build_platform),
        Some(plan) => {
            let platform = if plan.emulated { target } else { input.build_platform };
            let image = if plan.emulated {
                let b = input.target_builder.unwrap_or(input.builder);
                let r = pinned(&b.reference, &b.digest);
                let image = cx.g.image(&r.to_string(), target, Default::default());
                cx.g.meta(image.op).name = Some(format!("[{target}] FROM {r} (emulated builder)"));
                let range = cx.range(plan.cgo.span);
                cx.g.meta(image.op).ranges.push(range);
                image
            } else {
                builder
            };
            if let (Some(d), ModuleCache::Layer) = (&download, spec.go.module_cache) {
                let mut m = Mount::scratchpad(GOMODCACHE, d.get("/"));
                m.selector = GOMODCACHE.into();
                module_mounts.push(m);
            }
            let root = match c_toolchain(&mut cx.g, input, plan, image, platform) {
                Some(t) => {
                    let ranges: Vec<SourceRange> =
                        std::iter::once(plan.cgo.span).chain(plan.cgo.packages.iter().map(|p| p.span)).map(|s| cx.range(s)).collect();
                    cx.g.meta(t.op).ranges.extend(ranges);
                    t.get("/")
                }
                None => image,
            };
            (root, platform)
        }
    };
    let cgo_env = cgo.as_ref().map(CgoPlan::env).unwrap_or_default();
    let plain_root = download.as_ref().map(|d| d.get("/")).unwrap_or(builder);
    let go_src = super::assets::generate(cx, plain_root, sources.go_src, &secrets, sources, &cwd);
    let shared_cache = super::shared_cache::prepare(cx, builder, compile_platform);
    Ok(Prepared { root, platform: compile_platform, module_mounts, secrets, cgo, cgo_env, cwd, go_src, target_env: go_target.env(), plain_root, shared_cache })
}

/// Builds every binary for the platform; `base` is the pulled base the cgo check compares
/// the binaries with.
pub(super) fn binaries<'a>(
    cx: &mut Lowering<'a>,
    builder: llb::Output,
    sources: &Sources,
    prepared: &Prepared<'a>,
    base: Option<llb::Output>,
) -> Result<Compiled<'a>, LowerError> {
    let input = cx.input;
    let spec = input.spec;
    let target = input.target;
    let cgo = &prepared.cgo;
    let root = prepared.root;
    let cwd = &prepared.cwd;
    let mut libs: Vec<llb::Output> = Vec::new();
    let mut binaries: Vec<Binary<'a>> = Vec::new();
    for group in build_groups(&input.targets) {
        let t = group[0];
        let mut env = go_env(input, t, &prepared.cgo_env, &prepared.target_env);
        if let Some(c) = &prepared.shared_cache {
            // A debug build compiles every package its own way: an index of its own keeps
            // it and the image's build from fetching each other's packages ahead.
            let command = if input.result == ResultKind::Debug { format!("debug-{}", t.name.value) } else { t.name.value.clone() };
            c.set_env(&mut env, &spec.name.value, &command, target);
        }
        let mut args = vec!["go".to_string(), "build".to_string()];
        args.extend(t.flags.iter().cloned());
        let static_cgo = cgo.as_ref().is_some_and(CgoPlan::static_link);
        let mut ldflags = t.ldflags.clone();
        let mut tags = t.tags.clone();
        let mut add_tag = |tag: &str| {
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_string());
            }
        };
        if static_cgo {
            ldflags = format!("{ldflags} -linkmode=external -extldflags=-static").trim_start().to_string();
            add_tag("netgo");
            add_tag("osusergo");
        }
        // Windows has no time zone database for Go: the binaries carry it (time/tzdata,
        // about 450 KB), unless the spec does without one.
        if golang::is_windows(target) && spec.runtime.tzdata {
            add_tag("timetzdata");
        }
        if !ldflags.is_empty() {
            args.push(format!("-ldflags={ldflags}"));
        }
        if let Some(g) = no_dwarf(&ldflags, &t.flags) {
            args.push(g.to_string());
        }
        if !tags.is_empty() {
            args.push(format!("-tags={}", tags.join(",")));
        }
        args.push(format!("-buildvcs={}", spec.go.vcs));
        if let Some(m) = spec.go.module_mode {
            args.push(format!("-mod={}", mod_flag(m)));
        }
        // One binary: named by -o. Several: one `go build` compiles the packages they share
        // once, and names each binary after its package directory (known and unique in a
        // group, see `build_groups`).
        // (On Windows, `NAME.exe`: go build names a binary in a directory so itself.)
        let names: Vec<String> = if group.len() == 1 {
            let file = golang::binary_file(&t.name.value, target);
            args.extend(["-o".to_string(), format!("{OUT}/{file}")]);
            vec![file]
        } else {
            args.extend(["-o".to_string(), format!("{OUT}/")]);
            group.iter().map(|t| golang::binary_file(package_dir_name(&t.main.value).unwrap_or(&t.name.value), target)).collect()
        };
        args.extend(group.iter().map(|t| t.main.value.clone()));
        let build = cx.g.exec(
            Exec {
                args,
                env,
                cwd: cwd.clone(),
                user: String::new(),
                mounts: prepared.mounts(sources, vec![Mount::output(OUT, None)]),
                no_network: false,
                proxy: input.proxy.cloned(),
            },
            prepared.platform,
        );
        let ranges: Vec<SourceRange> = group.iter().map(|t| cx.range(t.main.span)).collect();
        let m = cx.g.meta(build.op);
        let how = cgo.as_ref().map(|c| format!(" ({})", c.describe())).unwrap_or_default();
        m.name = Some(format!("[{target}] go build {}{how}", group.iter().map(|t| t.main.value.as_str()).collect::<Vec<_>>().join(" ")));
        m.ignore_cache = input.no_cache;
        m.ranges.extend(ranges);
        if let Some(plan) = &cgo {
            let check = check_binaries(&mut cx.g, input, plan, CheckOn { builder, sysroot: root, out: build.get(OUT), base }, &names)?;
            let range = cx.range(plan.cgo.span);
            cx.g.meta(check.op).ranges.push(range);
            // Also when static (nothing to copy then): the copy makes the check a step of
            // the image, which BuildKit would otherwise leave out.
            libs.push(check.get(LIBS));
        }
        for (t, name) in group.into_iter().zip(names) {
            binaries.push((t, build.get(OUT), format!("/{name}")));
        }
    }
    // Keep the spec's order of targets in the image layer.
    binaries.sort_by_key(|(t, _, _)| input.targets.iter().position(|x| x.name == t.name));
    let delve = (input.result == ResultKind::Debug).then(|| delve(cx, prepared));
    Ok(Compiled { binaries, libs, delve })
}

/// Delve for the target platform, installed from the module proxy as `go install` does (on
/// the build platform, cross-compiled, without cgo), at `/dlv` of the result. The step is
/// cached like any other: it runs again only when the version or the builder changes.
fn delve(cx: &mut Lowering<'_>, prepared: &Prepared<'_>) -> llb::Output {
    let input = cx.input;
    let debug = &input.spec.debug;
    let mut env = input.builder.env.clone();
    for (k, v) in input.targets[0].env.iter().map(|(k, v)| (k, v)).chain(input.go_args.iter()) {
        env_set(&mut env, k, v);
    }
    for (k, v) in secret_env(input.spec, &env) {
        env_set(&mut env, &k, &v);
    }
    for (k, v) in [
        ("GOTOOLCHAIN", "local"),
        ("GOFLAGS", ""),
        ("GOWORK", "off"),
        ("CGO_ENABLED", "0"),
        ("GOCACHE", GOCACHE),
        ("GOMODCACHE", GOMODCACHE),
        ("GOPATH", "/tmp/delve"),
    ] {
        env_set(&mut env, k, v);
    }
    for kv in &prepared.target_env {
        let (k, v) = kv.split_once('=').expect("K=V");
        env_set(&mut env, k, v);
    }
    // `go install` puts a cross-compiled command in bin/GOOS_GOARCH, a native one in bin.
    let script = format!(
        "set -eu\ngo install {DELVE_PACKAGE}@\"$1\"\nfound=$(find /tmp/delve/bin -type f -name dlv | head -n 1)\ntest -n \"$found\"\ncp \"$found\" /out/dlv\n"
    );
    let exec = cx.g.exec(
        Exec {
            args: vec!["sh".into(), "-c".into(), script, "install-delve".into(), debug.delve.clone()],
            env,
            cwd: "/".into(),
            user: String::new(),
            mounts: module_cache_mount(input.spec)
                .into_iter()
                .chain(prepared.secrets.iter().cloned())
                .chain([
                    Mount::output("/", Some(prepared.plain_root)),
                    Mount::output("/out", None),
                    Mount::cache(GOCACHE, "goapp-go-build", CacheSharing::Shared),
                ])
                .collect(),
            no_network: false,
            proxy: input.proxy.cloned(),
        },
        input.build_platform,
    );
    let range = cx.range(debug.span);
    let m = cx.g.meta(exec.op);
    m.name = Some(format!("[{}] go install {DELVE_PACKAGE}@{}", input.target, debug.delve));
    m.ranges.push(range);
    exec.get("/out")
}

/// `-gcflags=all=-dwarf=false` when the link drops the debug information (`-w` in the
/// linker flags, as by default) and the flags set no `-gcflags` of their own: the compiler
/// then does not generate what the linker would throw away. The binary is the same; on this
/// project's 2-core test machine a cold compile of examples/inventory takes about 9% less.
fn no_dwarf(ldflags: &str, flags: &[String]) -> Option<&'static str> {
    let drops_dwarf = ldflags.split_whitespace().any(|f| f == "-w" || f == "-w=true");
    let own_gcflags = flags.iter().any(|f| f == "-gcflags" || f.starts_with("-gcflags=") || f == "--gcflags" || f.starts_with("--gcflags="));
    (drops_dwarf && !own_gcflags).then_some("-gcflags=all=-dwarf=false")
}

/// The targets, grouped so that targets with the same settings build in one `go build`.
/// A target joins a group only when the name Go gives its binary (the package directory's
/// name) is known and unique in the group.
fn build_groups<'a>(targets: &[&'a Target]) -> Vec<Vec<&'a Target>> {
    let mut groups: Vec<Vec<&'a Target>> = Vec::new();
    for &t in targets {
        let same = |o: &Target| o.ldflags == t.ldflags && o.tags == t.tags && o.env == t.env && o.flags == t.flags;
        let joinable = |g: &Vec<&Target>| {
            let Some(name) = package_dir_name(&t.main.value) else {
                return false;
            };
            same(g[0]) && g.iter().all(|o| package_dir_name(&o.main.value).is_some_and(|n| n != name))
        };
        match groups.iter_mut().find(|g| joinable(g)) {
            Some(g) => g.push(t),
            None => groups.push(vec![t]),
        }
    }
    groups
}

/// The name `go build -o dir/` gives a package's binary: its directory's name. `.` (the
/// module root) is named after the module path, which the spec does not know.
fn package_dir_name(main: &str) -> Option<&str> {
    main.rsplit('/').next().filter(|n| *n != "." && !n.is_empty())
}

pub(super) fn mod_flag(m: ModMode) -> &'static str {
    match m {
        ModMode::Auto => "",
        ModMode::Vendor => "vendor",
        ModMode::Mod => "mod",
        ModMode::Readonly => "readonly",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_information_is_not_compiled_when_the_link_drops_it() {
        assert_eq!(no_dwarf("-s -w", &[]), Some("-gcflags=all=-dwarf=false"));
        assert_eq!(no_dwarf("-s -w -X main.v=1", &["-trimpath".into()]), Some("-gcflags=all=-dwarf=false"));
        assert_eq!(no_dwarf("-s", &[]), None);
        assert_eq!(no_dwarf("-X main.w=-w", &[]), None);
        assert_eq!(no_dwarf("-s -w", &["-gcflags=all=-N -l".into()]), None);
    }
}
