//! Lowering a spec to LLB for one target platform.
//!
//! The graph, for target T on build platform B:
//!
//! ```text
//! context ─> module files (go.mod, go.sum, go.work) ─┐
//! builder image (B) ────────────────────────────────┴─> exec on B: go mod download
//!          (skipped when nothing needs downloading: vendored, or no go.sum; module cache mounted)
//!   ─> exec on B: go build, per group of targets (GOOS/GOARCH of T, CGO_ENABLED=0,
//!      context at /src, build cache mounted) ──> /out
//! builder image ─> base: CA bundle, zoneinfo, passwd/group, /tmp      (layer 1, static)
//! context ───────> `files`                                            (layer 2, if any)
//! /out ──────────> binaries in /usr/local/bin, 0755, root; workdir    (last layer)
//! ```
//!
//! Nothing runs on T: Go cross-compiles, and the runtime is assembled with file ops, so no
//! step needs emulation. Everything but the compile and the binaries layer is the same for
//! every target, so those vertices are shared between the platforms of one build.
//!
//! With cgo (`CgoPlan`), the compile runs on a builder with a C toolchain:
//!
//! ```text
//! builder image (B, or T when emulated) ─> exec: apt-get install the cross compilers for T
//!      and `go.c_packages` (for T's architecture)          (skipped when nothing to install)
//!   ─> exec: go build (CGO_ENABLED=1, CC/CXX/PKG_CONFIG_LIBDIR of T) ──> /out
//! /out, that root, the base ─> exec on B: check the binaries; libraries the base lacks ─> /libs
//! /out, /libs ──> binaries and libraries                               (last layer)
//! ```

use std::collections::BTreeMap;

use llb::{CacheSharing, Copy, Exec, FileAction, Graph, Mkdir, Mkfile, Mount, Platform, SourceRange, pb};

use crate::context::{ContextSource, NamedSource, Replacement, replacement_dir};
use crate::diag::Span;
use crate::golang;
use crate::golang::CTarget;
use crate::image::{ContainerConfig, Empty, HealthConfig, History, ImageConfig, env_set};
use crate::reference::ImageRef;
use crate::spec::raw::{CgoMode, ModMode, ModuleCache};
use crate::spec::{Base, Cgo, NONROOT_UID, SecretKind, Spec, Volume};
use crate::toolchain::{GoRelease, ModFile, Origin};

/// Where the Go toolchain keeps downloaded modules and compiled packages in the builder.
const GOMODCACHE: &str = "/go/pkg/mod";
const GOCACHE: &str = "/root/.cache/go-build";
/// Where the build context is mounted, and where binaries are written.
const SRC: &str = "/src";
const OUT: &str = "/out";
/// Where binaries go in the image: a directory on every base's PATH.
pub const BIN_DIR: &str = "/usr/local/bin";
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Marks the history entries goapp writes.
const HISTORY_COMMENT: &str = "goapp.v0";

/// The builder image after the caller resolved it for the build platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuilderImage {
    /// The reference that is pulled (after the registry mirror, if any).
    pub reference: ImageRef,
    /// The digest it resolved to; the build is pinned to it.
    pub digest: Option<String>,
    /// The image's `Env`, which the build runs with (it carries the PATH to `go`).
    pub env: Vec<String>,
}

/// A pulled runtime base, after the caller resolved it for one target platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseImage {
    /// The reference that is pulled (after the registry mirror, if any).
    pub reference: ImageRef,
    /// The digest it resolved to; the build is pinned to it.
    pub digest: Option<String>,
    /// Its image config, which the image inherits (see [`image_config`]).
    pub config: ImageConfig,
    /// Whether it has the CA bundle at [`CA_BUNDLE`] and a `/usr/share/zoneinfo`; what it
    /// lacks is copied from the builder when the spec asks for it.
    pub has_ca_certificates: bool,
    pub has_zoneinfo: bool,
    /// The image that stands in for the spec's base (`--build-context BASE=docker-image://X`),
    /// which `org.opencontainers.image.base.name` then names.
    pub replaced_by: Option<ImageRef>,
}

impl BaseImage {
    /// A base known only by its reference (no BuildKit to resolve it): unpinned, no config
    /// to inherit, and taken to lack the CA bundle and zoneinfo, so that lowering shows every
    /// step goapp may add to it.
    pub fn unresolved(reference: ImageRef) -> Self {
        BaseImage { reference, digest: None, config: ImageConfig::default(), has_ca_certificates: false, has_zoneinfo: false, replaced_by: None }
    }
}

/// Facts about the build that go into the image's OCI labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildFacts {
    /// The repository and commit buildx reports for the build context (`vcs:source`,
    /// `vcs:revision`).
    pub vcs_source: Option<String>,
    pub vcs_revision: Option<String>,
    /// The creation time, RFC 3339, from `SOURCE_DATE_EPOCH`. Without it the image has no
    /// creation time, so that the same inputs give the same image.
    pub created: Option<String>,
}

/// Everything lowering needs besides the spec; all of it is decided by the caller.
#[derive(Clone, Debug)]
pub struct LowerInput<'a> {
    pub spec: &'a Spec,
    /// The spec's file name and bytes, for source-mapped errors of failing steps.
    pub spec_file: &'a str,
    pub spec_data: &'a [u8],
    pub target: &'a Platform,
    pub build_platform: &'a Platform,
    /// The Go release the builder was chosen by ([`crate::toolchain::choose`]), and the
    /// module file it was read from, if any.
    pub go_release: &'a GoRelease,
    pub go_module: Option<&'a ModFile>,
    pub builder: &'a BuilderImage,
    /// The builder image resolved for the target platform, for a cgo build that runs there
    /// under emulation ([`cgo_emulated`]); without it that build uses the builder's reference
    /// unpinned.
    pub target_builder: Option<&'a BuilderImage>,
    /// The client session that serves the build context (empty: any session of the build).
    pub session_id: &'a str,
    /// `.dockerignore` patterns, left out of the context transfer.
    pub context_excludes: &'a [String],
    /// Run every step again instead of using cached results (`--no-cache`).
    pub no_cache: bool,
    /// Labels to add to the image config (`--label`).
    pub labels: &'a BTreeMap<String, String>,
    /// Whether the module needs no download: it is vendored (`vendor/modules.txt`), or it
    /// requires no module (no `go.sum`, no `go.work`). The download step is then left out.
    pub no_download: bool,
    /// Go settings from build args ([`golang::MODULE_FETCH_ARGS`]); they override `go.env`.
    pub go_args: &'a BTreeMap<String, String>,
    /// The runtime base for this platform, when the spec's base is an image (and, with
    /// `binaries_only`, the binaries link glibc dynamically: the check needs the base).
    pub base: Option<&'a BaseImage>,
    pub facts: &'a BuildFacts,
    /// `--target binaries`: the result is the binaries alone at the root of an empty
    /// filesystem (for `--output type=local` or `type=tar`: release archives), with no
    /// runtime stage.
    pub binaries_only: bool,
    /// Where the build context comes from: the client's directory, or a git repository.
    pub context_source: &'a ContextSource,
    /// Modules replaced by named contexts (`--build-context MODULE=...`), and the go.mod (or
    /// go.work) that replaces them: its path in the context and its text
    /// ([`crate::context::with_replacements`]).
    pub replacements: &'a [Replacement],
    pub module_file: Option<(&'a str, &'a str)>,
    /// The proxy build args (`HTTP_PROXY` and the like, [`golang::proxy_env`]), for every
    /// step that reaches the network; kept out of the cache key and the image.
    pub proxy: Option<&'a pb::ProxyEnv>,
}

/// The result of lowering one platform.
#[derive(Clone, Debug)]
pub struct Lowered {
    pub definition: pb::Definition,
    pub config: ImageConfig,
    /// A definition whose result holds, for each binary, what `go version -m` says of it
    /// (`/<target name>.txt`): its Go release and modules, for the image's SBOM
    /// ([`crate::sbom`]). It shares the compile with [`Lowered::definition`].
    pub build_info: Option<pb::Definition>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    #[error("cannot build for {platform}: {reason}")]
    Platform { platform: String, reason: String },
    #[error("the runtime base image of {platform} was not resolved")]
    MissingBase { platform: String },
    #[error("cannot build the cgo program for {platform}: {reason}")]
    Cgo { platform: String, reason: String },
}

/// The registry mirror in effect: the build arg's, else the spec's.
pub fn effective_mirror<'a>(spec: &'a Spec, build_arg: Option<&'a str>) -> Option<&'a str> {
    build_arg.filter(|m| !m.is_empty()).or(spec.registry_mirror.as_ref().map(|m| m.value.as_str()))
}

/// The runtime base image a spec asks for, after the registry mirror; `None` unless the base
/// is an image.
pub fn base_reference(spec: &Spec, mirror: Option<&str>) -> Option<ImageRef> {
    let r = spec.runtime.base_image.as_ref()?;
    Some(match mirror {
        Some(m) if !m.is_empty() => r.mirrored(m),
        _ => r.clone(),
    })
}

/// The builder image of a spec built with the Go `release`, after the registry mirror.
pub fn builder_reference(spec: &Spec, release: &GoRelease, mirror: Option<&str>) -> ImageRef {
    let written = match &spec.go.image {
        Some(i) => i.value.clone(),
        // glibc keeps old symbol versions: what links against Debian 12's runs on Debian 12
        // and newer bases.
        None if spec.go.cgo.is_some() => format!("golang:{}-bookworm", release.version),
        None => format!("golang:{}", release.version),
    };
    // The loader validated the reference.
    let r = ImageRef::parse(&written).unwrap_or_else(|e| panic!("unvalidated image reference: {e}"));
    match mirror {
        Some(m) if !m.is_empty() => r.mirrored(m),
        _ => r,
    }
}

/// Lowers one platform without BuildKit (for the command line, `--call goapp.llb` and the
/// fuzz target): there is nothing to resolve the builder and the base against, so they are
/// shown by reference, unpinned, with no inherited environment.
#[allow(clippy::too_many_arguments)]
pub fn lower_unresolved(
    spec: &Spec,
    file: &str,
    data: &[u8],
    target: &Platform,
    build: &Platform,
    mirror: Option<&str>,
    build_args: &BTreeMap<String, String>,
    go_module: Option<&ModFile>,
) -> Result<Lowered, LowerError> {
    let mirror = effective_mirror(spec, mirror);
    let go_release = crate::toolchain::choose(spec, go_module);
    let go_args = golang::module_fetch_env(build_args);
    let proxy = golang::proxy_env(build_args);
    let builder = BuilderImage { reference: builder_reference(spec, &go_release, mirror), digest: None, env: vec![] };
    let base = base_reference(spec, mirror).map(BaseImage::unresolved);
    lower(&LowerInput {
        spec,
        spec_file: file,
        spec_data: data,
        target,
        build_platform: build,
        go_release: &go_release,
        go_module,
        builder: &builder,
        target_builder: None,
        session_id: "",
        context_excludes: &[],
        no_cache: false,
        labels: &BTreeMap::new(),
        no_download: false,
        go_args: &go_args,
        base: base.as_ref(),
        facts: &BuildFacts::default(),
        binaries_only: false,
        context_source: &ContextSource::Local,
        replacements: &[],
        module_file: None,
        proxy: proxy.as_ref(),
    })
}

/// Whether the cgo build for `target` runs on the target platform under emulation: asked
/// for, or (`auto`) there is no cross compiler for it. A build for the build machine's own
/// architecture never needs emulation.
pub fn cgo_emulated(spec: &Spec, build: &Platform, target: &Platform) -> bool {
    match &spec.go.cgo {
        None => false,
        Some(_) if golang::same_c_arch(build, target) => false,
        Some(c) => match c.mode {
            CgoMode::Emulated => true,
            CgoMode::Native => false,
            CgoMode::Auto => !golang::has_cross_compiler(build, target),
        },
    }
}

/// How one platform's cgo build is done.
struct CgoPlan<'s> {
    cgo: &'s Cgo,
    c: CTarget,
    /// On the target platform, under emulation.
    emulated: bool,
    /// With a cross compiler (on the build platform, for another architecture).
    cross: bool,
}

impl<'s> CgoPlan<'s> {
    fn new(input: &LowerInput<'s>) -> Result<Option<Self>, LowerError> {
        let Some(cgo) = &input.spec.go.cgo else { return Ok(None) };
        let err = |reason: String| LowerError::Cgo { platform: input.target.id(), reason };
        let c = golang::c_target(input.target).map_err(err)?;
        let emulated = cgo_emulated(input.spec, input.build_platform, input.target);
        let cross = !emulated && !golang::same_c_arch(input.build_platform, input.target);
        if cross && !golang::has_cross_compiler(input.build_platform, input.target) {
            return Err(err(format!("Debian has no cross C compiler for it on {}; set `go.cgo_mode: emulated`", input.build_platform)));
        }
        Ok(Some(CgoPlan { cgo, c, emulated, cross }))
    }

    /// The packages the builder needs: the cross compilers, and the spec's packages for the
    /// target's architecture.
    fn packages(&self) -> Vec<String> {
        let mut p: Vec<String> = if self.cross { self.c.cross_packages().to_vec() } else { Vec::new() };
        p.extend(self.cgo.packages.iter().map(|n| if self.cross { format!("{}:{}", n.value, self.c.debian_arch) } else { n.value.clone() }));
        p
    }

    /// The C settings of `go build`: the cross compilers and pkg-config's directory for the
    /// target, or the builder's own compilers.
    fn env(&self) -> Vec<String> {
        let mut env = vec!["CGO_ENABLED=1".to_string()];
        if self.cross {
            let t = self.c.triplet;
            env.extend([
                format!("CC={t}-gcc"),
                format!("CXX={t}-g++"),
                "PKG_CONFIG=pkg-config".into(),
                format!("PKG_CONFIG_LIBDIR=/usr/lib/{t}/pkgconfig:/usr/share/pkgconfig"),
            ]);
        } else {
            env.extend(["CC=gcc".to_string(), "CXX=g++".into(), "PKG_CONFIG=pkg-config".into()]);
        }
        env
    }

    fn describe(&self) -> String {
        let how = if self.emulated {
            "emulated"
        } else if self.cross {
            "cross-compiled"
        } else {
            "native"
        };
        let link = if self.cgo.static_link { "static" } else { "glibc" };
        format!("cgo {how}, {link}")
    }
}

/// The script that checks a cgo build's binaries and collects the libraries they need.
const CHECK_BINARIES: &str = include_str!("check-binaries.sh");
/// Where the compile's root is mounted for [`CHECK_BINARIES`], and the base.
const SYSROOT: &str = "/sysroot";
const BASE: &str = "/base";
const LIBS: &str = "/libs";

pub fn lower(input: &LowerInput<'_>) -> Result<Lowered, LowerError> {
    let spec = input.spec;
    let target = input.target;
    let go_target = golang::target(target).map_err(|reason| LowerError::Platform { platform: target.id(), reason })?;

    let mut g = Graph::new();
    let src = g.add_source_info(input.spec_file, input.spec_data, "YAML");
    let source = std::str::from_utf8(input.spec_data).unwrap_or("");
    let range = |span: Span| {
        let span = crate::diag::token_span(source, span);
        SourceRange { source: src, start_line: span.start.line, start_column: span.start.column, end_line: span.end.line, end_column: span.end.column }
    };

    let builder_ref = pinned(&input.builder.reference, &input.builder.digest);
    let builder = g.image(&builder_ref.to_string(), input.build_platform, BTreeMap::new());
    g.meta(builder.op).name = Some(format!("[builder] FROM {builder_ref}: {}", input.go_release.describe(input.spec_file)));
    // The line that chose the builder: the spec's, or go.mod's.
    match (&input.go_release.origin, input.go_module) {
        (Origin::SpecVersion(span) | Origin::SpecImage(span), _) => g.meta(builder.op).ranges.push(range(*span)),
        (Origin::Toolchain(_, span) | Origin::GoLine(_, span), Some(m)) => {
            let src = g.add_source_info(&m.path, m.source.as_bytes(), "go.mod");
            let span = *span;
            g.meta(builder.op).ranges.push(SourceRange {
                source: src,
                start_line: span.start.line,
                start_column: span.start.column,
                end_line: span.end.line,
                end_column: span.end.column,
            });
        }
        _ => {}
    }

    // A go.image that does not say which Go it has is checked against go.mod's `go` line by
    // Go itself, before anything else runs on it.
    let builder = match go_version_guard(&mut g, input, builder) {
        Some(guard) => {
            let span = spec.go.image.as_ref().map(|i| i.span).unwrap_or_default();
            g.meta(guard.op).ranges.push(range(span));
            guard.get("/")
        }
        None => builder,
    };

    let context = match input.context_source {
        ContextSource::Local => {
            let c = local_dir(&mut g, input, "context", input.context_excludes);
            g.meta(c.op).name = Some("[internal] load build context".into());
            c
        }
        ContextSource::Git(git) => {
            let c = git.add(&mut g, spec.go.vcs);
            g.meta(c.op).name = Some(format!("[internal] load git source {git}"));
            c
        }
    };
    // What the `go` commands see: the context, with the go.mod that replaces modules by
    // named contexts. (`runtime.files` come from the context as it is.)
    let go_src = match input.module_file {
        Some((path, text)) => {
            let edited =
                g.file(Some(context), vec![FileAction::Mkfile(Mkfile { path: format!("/{path}"), mode: 0o644, data: text.as_bytes().to_vec(), owner: None })]);
            let modules: Vec<&str> = input.replacements.iter().map(|r| r.module.as_str()).collect();
            g.meta(edited.op).name = Some(format!("[builder] {path}: replace {}", modules.join(", ")));
            edited
        }
        None => context,
    };
    // Each replacing named context: whole for the compile, its module files for the download.
    let mut replaced: Vec<(String, llb::Output, llb::Output)> = Vec::new();
    for (i, r) in input.replacements.iter().enumerate() {
        let full = match &r.source {
            NamedSource::Local(name) => local_dir(&mut g, input, name, &[]),
            NamedSource::Git(git) => git.add(&mut g, false),
        };
        g.meta(full.op).name = Some(format!("[internal] load build context {} (replaces the module)", r.module));
        let files = g.file(None, vec![FileAction::Copy(Copy::new(full, "/", "/").contents().include(MODULE_FILES))]);
        g.meta(files.op).name = Some(format!("[builder] module files of {}", r.module));
        replaced.push((replacement_dir(i), full, files));
    }

    // The pulled base of this platform, pinned; its vertex serves the image and the cgo check.
    let base_image = match spec.runtime.base.value {
        Base::Image if !input.binaries_only || needs_base_for_binaries(spec) => {
            let b = input.base.ok_or_else(|| LowerError::MissingBase { platform: target.id() })?;
            let r = pinned(&b.reference, &b.digest);
            let image = g.image(&r.to_string(), target, BTreeMap::new());
            g.meta(image.op).name = Some(format!("[{target}] FROM {r}"));
            g.meta(image.op).ranges.push(range(spec.runtime.base.span));
            Some((b, image))
        }
        _ => None,
    };
    let cgo = CgoPlan::new(input)?;
    let cwd = if spec.module.value == "." { SRC.to_string() } else { format!("{SRC}/{}", spec.module.value) };
    let secrets = secret_mounts(&mut g, spec, &input.builder.env);
    let download_mounts: Vec<Mount> = secrets.iter().cloned().chain(replaced.iter().map(|(dir, _, files)| Mount::readonly(dir, *files))).collect();
    let download = download_modules(&mut g, input, builder, go_src, &cwd, &download_mounts);
    if let Some(d) = &download {
        let ranges: Vec<SourceRange> = std::iter::once(spec.module.span).chain(spec.go.secrets.iter().map(|s| s.id.span)).map(range).collect();
        g.meta(d.op).ranges.extend(ranges);
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
                let image = g.image(&r.to_string(), target, BTreeMap::new());
                g.meta(image.op).name = Some(format!("[{target}] FROM {r} (emulated builder)"));
                g.meta(image.op).ranges.push(range(plan.cgo.span));
                image
            } else {
                builder
            };
            if let (Some(d), ModuleCache::Layer) = (&download, spec.go.module_cache) {
                let mut m = Mount::scratchpad(GOMODCACHE, d.get("/"));
                m.selector = GOMODCACHE.into();
                module_mounts.push(m);
            }
            let root = match c_toolchain(&mut g, input, plan, image, platform) {
                Some(t) => {
                    g.meta(t.op).ranges.push(range(plan.cgo.span));
                    g.meta(t.op).ranges.extend(plan.cgo.packages.iter().map(|p| range(p.span)));
                    t.get("/")
                }
                None => image,
            };
            (root, platform)
        }
    };
    let cgo_env = cgo.as_ref().map(CgoPlan::env).unwrap_or_default();
    let mut libs: Vec<llb::Output> = Vec::new();
    // (target, the build's output, the binary's path in it)
    let mut binaries: Vec<(&crate::spec::Target, llb::Output, String)> = Vec::new();
    for group in build_groups(&spec.targets) {
        let t = group[0];
        let env = go_env(input, t, &cgo_env, &go_target.env());
        let mut args = vec!["go".to_string(), "build".to_string()];
        args.extend(t.flags.iter().cloned());
        let static_cgo = cgo.as_ref().is_some_and(|c| c.cgo.static_link);
        let mut ldflags = t.ldflags.clone();
        let mut tags = t.tags.clone();
        if static_cgo {
            ldflags = format!("{ldflags} -linkmode=external -extldflags=-static").trim_start().to_string();
            for tag in ["netgo", "osusergo"] {
                if !tags.iter().any(|t| t == tag) {
                    tags.push(tag.to_string());
                }
            }
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
        // once, and names each binary after its package directory.
        let names: Vec<String> = if group.len() == 1 {
            args.extend(["-o".to_string(), format!("{OUT}/{}", t.name.value)]);
            vec![t.name.value.clone()]
        } else {
            args.extend(["-o".to_string(), format!("{OUT}/")]);
            group.iter().map(|t| package_dir_name(&t.main.value).expect("grouped targets have named packages").to_string()).collect()
        };
        args.extend(group.iter().map(|t| t.main.value.clone()));
        let build = g.exec(
            Exec {
                args,
                env,
                cwd: cwd.clone(),
                user: String::new(),
                mounts: module_mounts
                    .iter()
                    .cloned()
                    .chain(secrets.iter().cloned())
                    .chain(replaced.iter().map(|(dir, full, _)| Mount::readonly(dir, *full)))
                    .chain([
                        // BuildKit mounts a root without an output read-only.
                        Mount::output("/", Some(root)),
                        Mount::readonly(SRC, go_src),
                        Mount::output(OUT, None),
                        // Go's build cache locks its own entries, so concurrent builds (the
                        // platforms of one build, or parallel builds) can share it.
                        Mount::cache(GOCACHE, "goapp-go-build", CacheSharing::Shared),
                    ])
                    .collect(),
                no_network: false,
                proxy: input.proxy.cloned(),
            },
            compile_platform,
        );
        let m = g.meta(build.op);
        let how = cgo.as_ref().map(|c| format!(" ({})", c.describe())).unwrap_or_default();
        m.name = Some(format!("[{target}] go build {}{how}", group.iter().map(|t| t.main.value.as_str()).collect::<Vec<_>>().join(" ")));
        m.ignore_cache = input.no_cache;
        m.ranges.extend(group.iter().map(|t| range(t.main.span)));
        if let Some(plan) = &cgo {
            let check = check_binaries(&mut g, input, plan, CheckOn { builder, sysroot: root, out: build.get(OUT), base: base_image.map(|(_, i)| i) }, &names)?;
            g.meta(check.op).ranges.push(range(plan.cgo.span));
            // Also when static (nothing to copy then): the copy makes the check a step of
            // the image, which BuildKit would otherwise leave out.
            libs.push(check.get(LIBS));
        }
        for (t, name) in group.into_iter().zip(names) {
            binaries.push((t, build.get(OUT), format!("/{name}")));
        }
    }
    // Keep the spec's order of targets in the image layer.
    binaries.sort_by_key(|(t, _, _)| spec.targets.iter().position(|x| x.name == t.name));
    if input.binaries_only {
        return Ok(binaries_result(&mut g, input, &binaries, &libs, range(spec.name.span)));
    }

    let rt = &spec.runtime;
    let mut history = Vec::new();
    let base = match rt.base.value {
        Base::Static => {
            let b = static_base(&mut g, builder, rt.ca_certificates, rt.tzdata);
            let what = base_contents(rt, rt.ca_certificates, rt.tzdata);
            g.meta(b.op).name = Some(format!("[runtime] static base: {what}"));
            g.meta(b.op).ranges.push(range(rt.base.span));
            history.push(format!("goapp: static base ({what})"));
            Some(b)
        }
        Base::Scratch => {
            let b = scratch_extras(&mut g, builder, None, rt.ca_certificates, rt.tzdata);
            if let Some(b) = b {
                let what = base_contents(rt, rt.ca_certificates, rt.tzdata);
                g.meta(b.op).name = Some(format!("[runtime] scratch base: {what}"));
                g.meta(b.op).ranges.push(range(rt.base.span));
                history.push(format!("goapp: scratch base ({what})"));
            }
            b
        }
        Base::Image => {
            let (b, image) = base_image.expect("resolved above");
            // What the base lacks and the spec wants comes from the builder: no step runs on
            // the target platform.
            let (ca, tz) = (rt.ca_certificates && !b.has_ca_certificates, rt.tzdata && !b.has_zoneinfo);
            match scratch_extras(&mut g, builder, Some(image), ca, tz) {
                Some(added) => {
                    let what = base_contents(rt, ca, tz);
                    g.meta(added.op).name = Some(format!("[{target}] add to the base from the builder: {what}"));
                    g.meta(added.op).ranges.push(range(rt.base.span));
                    history.push(format!("goapp: {what} from the builder"));
                    Some(added)
                }
                None => Some(image),
            }
        }
    };

    let mut state = base;
    if !rt.files.is_empty() {
        let normalized = normalized_files(&mut g, input, builder, context);
        if let Some(n) = normalized {
            g.meta(n.op).ranges.extend(rt.files.iter().filter(|f| f.mode.is_none()).map(|f| range(f.src.span)));
        }
        let actions = rt
            .files
            .iter()
            .map(|f| {
                let from = match (f.mode, normalized) {
                    (None, Some(n)) => n,
                    _ => context,
                };
                let mut c = Copy::new(from, &format!("/{}", f.src.value), &f.dest).contents().owner(f.owner.uid, f.owner.gid);
                c.allow_wildcard = true;
                c.mode = f.mode;
                FileAction::Copy(c)
            })
            .collect();
        let files = g.file(state, actions);
        g.meta(files.op).name = Some(format!("[{target}] add files: {}", rt.files.iter().map(|f| f.dest.as_str()).collect::<Vec<_>>().join(", ")));
        g.meta(files.op).ranges.extend(rt.files.iter().map(|f| range(f.src.span)));
        history.push(format!("goapp: files {}", rt.files.iter().map(|f| format!("{} -> {}", f.src.value, f.dest)).collect::<Vec<_>>().join(", ")));
        state = Some(files);
    }

    let mut actions: Vec<FileAction> =
        binaries.iter().map(|(t, out, path)| FileAction::Copy(Copy::new(*out, path, &format!("{BIN_DIR}/{}", t.name.value)).mode(0o755).owner(0, 0))).collect();
    // The shared libraries of a cgo build that the base lacks, beside the binaries.
    actions.extend(libs.iter().map(|l| FileAction::Copy(Copy::new(*l, "/", "/").contents().owner(0, 0))));
    // The workdir and the volumes, writable by the program: a volume the engine creates from
    // the image's directory takes its owner and mode.
    let writable = writable_dirs(rt);
    for (i, dir) in writable.iter().enumerate() {
        actions.extend(writable_dir(dir, &writable[..i]));
    }
    let image = g.file(state, actions);
    let names: Vec<String> = spec.targets.iter().map(|t| format!("{BIN_DIR}/{}", t.name.value)).collect();
    g.meta(image.op).name = Some(format!("[{target}] add {}", names.join(", ")));
    g.meta(image.op).ranges.push(range(spec.name.span));
    let with_libs = if cgo.as_ref().is_some_and(|c| !c.cgo.static_link) { " and the C libraries they need" } else { "" };
    // One entry for the one layer: the binaries, and the directories made beside them.
    let dirs = describe_dirs(&writable, rt.user.value);
    history.push(format!(
        "goapp: go build {} -> {}{with_libs}{dirs}",
        spec.targets.iter().map(|t| t.main.value.as_str()).collect::<Vec<_>>().join(" "),
        names.join(" ")
    ));

    let definition = g.marshal(Some(image));
    let config = image_config(input, history);
    let build_info = build_info(&mut g, input, builder, &binaries);
    Ok(Lowered { definition, config, build_info: Some(g.marshal(Some(build_info))) })
}

/// Sets the modes of the files a `files` entry without `mode` copies, so that the image does
/// not depend on the machine that sent the context: directories 0755; files 0644, or 0755
/// when they are executable in the context and can be run (a `#!` script or an ELF
/// program). Windows sends every file executable, so the test of the content is what makes
/// a checkout there give the same image as one on Linux.
const NORMALIZE_MODES: &str = r##"set -eu
cd /files
find . -type d -exec chmod 0755 {} +
find . -type f ! -perm -u+x -exec chmod 0644 {} +
find . -type f -perm -u+x -exec sh -c '
elf=$(printf "\177ELF")
for f; do
  case $(head -c 4 "$f") in
  "#!"*|"$elf") chmod 0755 "$f" ;;
  *) chmod 0644 "$f" ;;
  esac
done' normalize {} +
"##;

/// The sources of the `files` entries without a `mode`, taken from the context (only those:
/// an edit elsewhere reruns nothing) with their modes set by [`NORMALIZE_MODES`], on the
/// build platform with no network. `None` when every entry has a mode.
fn normalized_files(g: &mut Graph, input: &LowerInput<'_>, builder: llb::Output, context: llb::Output) -> Option<llb::Output> {
    let sources: Vec<&str> = input.spec.runtime.files.iter().filter(|f| f.mode.is_none()).map(|f| f.src.value.as_str()).collect();
    if sources.is_empty() {
        return None;
    }
    let mut copy = Copy::new(context, "/", "/").contents();
    if !sources.contains(&".") {
        copy = copy.include(&sources);
    }
    let picked = g.file(None, vec![FileAction::Copy(copy)]);
    g.meta(picked.op).name = Some(format!("[builder] files: {}", sources.join(" ")));
    let exec = g.exec(
        Exec {
            args: vec!["sh".into(), "-c".into(), NORMALIZE_MODES.into()],
            env: vec![format!("PATH={DEFAULT_PATH}")],
            cwd: "/".into(),
            user: String::new(),
            mounts: vec![Mount::readonly("/", builder), Mount::output("/files", Some(picked))],
            no_network: true,
            proxy: None,
        },
        input.build_platform,
    );
    g.meta(exec.op).name = Some("[builder] files: modes 0644, and 0755 for directories and programs".into());
    Some(exec.get("/files"))
}

/// The directories the program writes to: the workdir and the volumes, each once (a volume's
/// own `owner` and `mode` win over the workdir's), a directory before those inside it (so
/// that one inside another, `/data` and `/data/app`, are both made as asked: the outer one
/// is not first made as a root-owned parent).
fn writable_dirs(rt: &crate::spec::Runtime) -> Vec<Volume> {
    let user = rt.user.value;
    let mut dirs: Vec<Volume> = rt.workdir.iter().map(|w| Volume { path: w.value.clone(), owner: Some(user), mode: 0o755 }).collect();
    for v in &rt.volumes {
        let v = Volume { owner: Some(v.owner.unwrap_or(user)), ..v.clone() };
        match dirs.iter_mut().find(|d| d.path == v.path) {
            Some(d) => *d = v,
            None => dirs.push(v),
        }
    }
    dirs.retain(|d| d.path != "/");
    dirs.sort_by_key(|d| d.path.matches('/').count());
    dirs
}

/// Makes `dir` with its owner and mode; the parents it lacks are made owned by root with
/// mode 0755, as a package would make them (unless the parent is one of the directories
/// `made` already), and a directory the base has already is left as it is.
fn writable_dir(dir: &Volume, made: &[Volume]) -> Vec<FileAction> {
    let mut actions = Vec::new();
    if let Some((parent, _)) = dir.path.rsplit_once('/').filter(|(p, _)| !p.is_empty() && !made.iter().any(|m| m.path == *p)) {
        actions.push(FileAction::Mkdir(Mkdir { path: parent.to_string(), mode: 0o755, parents: true, owner: Some((0, 0)) }));
    }
    let owner = dir.owner.map(|u| (u.uid, u.gid));
    actions.push(FileAction::Mkdir(Mkdir { path: dir.path.clone(), mode: dir.mode, parents: false, owner }));
    actions
}

/// The history's words for the directories made for the program: those owned by the
/// runtime user with mode 0755 together, then each other one with its owner and mode.
fn describe_dirs(dirs: &[Volume], user: crate::spec::User) -> String {
    if dirs.is_empty() {
        return String::new();
    }
    let usual: Vec<&str> = dirs.iter().filter(|d| d.owner == Some(user) && d.mode == 0o755).map(|d| d.path.as_str()).collect();
    let mut parts = Vec::new();
    if !usual.is_empty() {
        parts.push(format!("{} owned by {}", usual.join(" "), user.config()));
    }
    for d in dirs.iter().filter(|d| !(d.owner == Some(user) && d.mode == 0o755)) {
        let owner = d.owner.unwrap_or(user);
        parts.push(format!("{} owned by {} mode {:04o}", d.path, owner.config(), d.mode));
    }
    format!("; directories {}", parts.join(", "))
}

/// Whether `--target binaries` needs the pulled base: a cgo build linked dynamically
/// checks its binaries against the base's glibc and collects the libraries the base lacks.
pub fn needs_base_for_binaries(spec: &Spec) -> bool {
    spec.runtime.base.value == Base::Image && spec.go.cgo.as_ref().is_some_and(|c| !c.static_link)
}

/// The result of `--target binaries`: each binary at the root (`/<target name>`, 0755), and
/// for a cgo build the shared libraries the base lacks (under `/usr/lib/<triplet>`). The
/// config only names the platform, for exporters that want one.
fn binaries_result(
    g: &mut Graph,
    input: &LowerInput<'_>,
    binaries: &[(&crate::spec::Target, llb::Output, String)],
    libs: &[llb::Output],
    range: SourceRange,
) -> Lowered {
    let mut actions = binaries_at_root(binaries);
    actions.extend(libs.iter().map(|l| FileAction::Copy(Copy::new(*l, "/", "/").contents().owner(0, 0))));
    let out = g.file(None, actions);
    let names: Vec<&str> = binaries.iter().map(|(t, _, _)| t.name.value.as_str()).collect();
    let m = g.meta(out.op);
    m.name = Some(format!("[{}] binaries: {}", input.target, names.join(", ")));
    m.ranges.push(range);
    let config = ImageConfig {
        architecture: input.target.architecture.clone(),
        os: input.target.os.clone(),
        variant: input.target.variant.clone(),
        created: input.facts.created.clone(),
        history: vec![History {
            created: input.facts.created.clone(),
            created_by: Some(format!(
                "goapp: go build {} -> /{}",
                input.spec.targets.iter().map(|t| t.main.value.as_str()).collect::<Vec<_>>().join(" "),
                names.join(" /")
            )),
            comment: Some(HISTORY_COMMENT.into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    Lowered { definition: g.marshal(Some(out)), config, build_info: None }
}

/// Copies of the binaries to `/<target name>`, 0755, owned by root.
fn binaries_at_root(binaries: &[(&crate::spec::Target, llb::Output, String)]) -> Vec<FileAction> {
    binaries.iter().map(|(t, out, path)| FileAction::Copy(Copy::new(*out, path, &format!("/{}", t.name.value)).mode(0o755).owner(0, 0))).collect()
}

/// `go version -m` of every binary, on the build platform with no network: `/<name>.txt`.
fn build_info(g: &mut Graph, input: &LowerInput<'_>, builder: llb::Output, binaries: &[(&crate::spec::Target, llb::Output, String)]) -> llb::Output {
    let bins = g.file(None, binaries_at_root(binaries));
    let mut args = vec!["sh".to_string(), "-c".into(), "set -e\nfor b; do go version -m \"/bins/$b\" > \"/info/$b.txt\"; done\n".into(), "build-info".into()];
    args.extend(binaries.iter().map(|(t, _, _)| t.name.value.clone()));
    let mut env = input.builder.env.clone();
    env_set(&mut env, "GOTOOLCHAIN", "local");
    let exec = g.exec(
        Exec {
            args,
            env,
            cwd: "/".into(),
            user: String::new(),
            mounts: vec![Mount::readonly("/", builder), Mount::readonly("/bins", bins), Mount::output("/info", None)],
            no_network: true,
            proxy: None,
        },
        input.build_platform,
    );
    g.meta(exec.op).name = Some(format!("[{}] SBOM: go version -m", input.target));
    exec.get("/info")
}

/// Checks that Go 1.21 or later can build a module with go.mod's `go` line: Go compares
/// the releases itself (a module saying it needs a newer Go fails to load with
/// `GOTOOLCHAIN=local`), and the script says what to do.
const GO_VERSION_GUARD: &str = r#"set -eu
need=$1 at=$2 image=$3 spec=$4
d=$(mktemp -d)
printf 'module goapp.invalid/check\n\ngo %s\n' "$need" > "$d/go.mod"
if out=$(cd "$d" && GOTOOLCHAIN=local GOFLAGS= GOWORK=off GOMODCACHE="$d/mod" GOCACHE="$d/cache" go list -m 2>&1); then
  rm -rf "$d"
  exit 0
fi
rm -rf "$d"
case "$out" in
*"requires go >="*)
  have=$(go env GOVERSION 2>/dev/null || echo "an unknown Go")
  printf 'goapp: %s needs Go %s or later (%s), but the builder of go.image (%s, %s) has %s: use a builder image with Go %s or later, or remove go.image\n' \
    "${at%%:*}" "$need" "$at" "$image" "$spec" "$have" "$need" >&2 ;;
*)
  printf 'goapp: the go command of go.image (%s, %s) cannot read a module that needs Go %s (%s): %s\n' "$image" "$spec" "$need" "$at" "$out" >&2 ;;
esac
exit 1
"#;

/// The step that runs [`GO_VERSION_GUARD`] on the builder: for a `go.image` whose config
/// does not say its Go release (`GOLANG_VERSION`), when go.mod has a `go` line. Its root is
/// what the build then runs on, so nothing runs before it passes. `None` when the release is
/// known (the frontend checks it before lowering) or there is nothing to check against.
fn go_version_guard(g: &mut Graph, input: &LowerInput<'_>, builder: llb::Output) -> Option<llb::ExecOutputs> {
    let image = input.spec.go.image.as_ref()?;
    let module = input.go_module?;
    let need = module.go.as_ref()?;
    if crate::toolchain::image_go_version(&input.builder.env).is_some() {
        return None;
    }
    let mut env = input.builder.env.clone();
    env_set(&mut env, "GOTOOLCHAIN", "local");
    let args = vec![
        "sh".to_string(),
        "-c".into(),
        GO_VERSION_GUARD.into(),
        "go-version".into(),
        need.version.to_string(),
        module.at(need),
        image.value.clone(),
        format!("{}:{}", input.spec_file, image.span.start.line),
    ];
    let guard = g.exec(
        Exec { args, env, cwd: "/".into(), user: String::new(), mounts: vec![Mount::output("/", Some(builder))], no_network: true, proxy: None },
        input.build_platform,
    );
    g.meta(guard.op).name = Some(format!("[builder] check the Go of {} against {}", image.value, module.at(need)));
    Some(guard)
}

/// An image reference pinned to the digest it resolved to, when it was resolved.
fn pinned(reference: &ImageRef, digest: &Option<String>) -> ImageRef {
    match digest {
        Some(d) => reference.pinned(d),
        None => reference.clone(),
    }
}

/// The environment of every `go` command: the builder image's, then the target's settings,
/// then the module fetch settings of the build args, then what goapp controls.
fn go_env(input: &LowerInput<'_>, target: &crate::spec::Target, cgo: &[String], extra: &[String]) -> Vec<String> {
    let mut env = input.builder.env.clone();
    // The C settings come before the spec's environment, which may choose another compiler.
    for kv in cgo {
        let (k, v) = kv.split_once('=').expect("K=V");
        env_set(&mut env, k, v);
    }
    env_set(&mut env, "GOTOOLCHAIN", "local");
    for (k, v) in target.env.iter().map(|(k, v)| (k, v)).chain(input.go_args) {
        env_set(&mut env, k, v);
    }
    for (k, v) in secret_env(input.spec, &env) {
        env_set(&mut env, &k, &v);
    }
    let cgo_enabled = if cgo.is_empty() { "0" } else { "1" };
    for (k, v) in [("CGO_ENABLED", cgo_enabled), ("GOCACHE", GOCACHE), ("GOMODCACHE", GOMODCACHE)] {
        env_set(&mut env, k, v);
    }
    for kv in extra {
        let (k, v) = kv.split_once('=').expect("K=V");
        env_set(&mut env, k, v);
    }
    env
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

/// `go mod download` as a step of its own, on the build platform, whose only inputs are the
/// module files: a code change never runs it again, a go.mod change downloads only what is
/// new (into the shared module cache), and it is one vertex for every target platform. The
/// compile steps run on its result. `None` when nothing needs downloading.
/// `extra` are mounted too: the secrets and the module files of replacements.
fn download_modules(g: &mut Graph, input: &LowerInput<'_>, builder: llb::Output, context: llb::Output, cwd: &str, extra: &[Mount]) -> Option<llb::ExecOutputs> {
    let spec = input.spec;
    if input.no_download || spec.go.module_mode == Some(ModMode::Vendor) {
        return None;
    }
    let files = g.file(None, vec![FileAction::Copy(Copy::new(context, "/", "/").contents().include(MODULE_FILES))]);
    g.meta(files.op).name = Some(format!("[builder] module files: {}", MODULE_FILES.join(" ")));
    let download = g.exec(
        Exec {
            args: vec!["go".into(), "mod".into(), "download".into()],
            env: go_env(input, &spec.targets[0], &[], &[]),
            cwd: cwd.to_string(),
            user: String::new(),
            mounts: module_cache_mount(spec)
                .into_iter()
                .chain(extra.iter().cloned())
                .chain([Mount::output("/", Some(builder)), Mount::readonly(SRC, files)])
                .collect(),
            no_network: false,
            proxy: input.proxy.cloned(),
        },
        input.build_platform,
    );
    let m = g.meta(download.op);
    m.name = Some("[builder] go mod download".into());
    m.ignore_cache = input.no_cache;
    Some(download)
}

/// The cgo toolchain: the cross compilers and the spec's C packages, installed with apt in a
/// step of its own on the compile's root (cached like any step: it runs again only when the
/// package list or the builder changes). `None` when there is nothing to install.
fn c_toolchain(g: &mut Graph, input: &LowerInput<'_>, plan: &CgoPlan<'_>, image: llb::Output, platform: &Platform) -> Option<llb::ExecOutputs> {
    let packages = plan.packages();
    if packages.is_empty() {
        return None;
    }
    let mut script = String::from("set -e\nrm -f /etc/apt/apt.conf.d/docker-clean\n");
    if plan.cross {
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
struct CheckOn {
    builder: llb::Output,
    sysroot: llb::Output,
    out: llb::Output,
    base: Option<llb::Output>,
}

/// After a cgo `go build`, on the build platform: each binary is for the target's machine,
/// static when asked for; otherwise the base has a glibc new enough, and the shared libraries
/// the base lacks are collected at [`LIBS`] for the image.
fn check_binaries(g: &mut Graph, input: &LowerInput<'_>, plan: &CgoPlan<'_>, on: CheckOn, names: &[String]) -> Result<llb::ExecOutputs, LowerError> {
    let CheckOn { builder, sysroot, out, base } = on;
    let mut mounts = vec![Mount::readonly("/", builder), Mount::readonly(OUT, out), Mount::readonly(SYSROOT, sysroot), Mount::output(LIBS, None)];
    if !plan.cgo.static_link {
        match base {
            Some(image) => mounts.push(Mount::readonly(BASE, image)),
            None => return Err(LowerError::Cgo { platform: input.target.id(), reason: "the binaries link glibc dynamically, and the base has none".into() }),
        }
    }
    // The script without its comments: they are for its readers, not for every build's LLB.
    let script: String = CHECK_BINARIES.lines().filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()).map(|l| format!("{l}\n")).collect();
    let mut args =
        vec!["sh".to_string(), "-c".into(), script, "check".into(), plan.c.elf_machine.into(), (plan.cgo.static_link as u8).to_string(), plan.c.triplet.into()];
    args.extend(names.iter().cloned());
    let check = g
        .exec(Exec { args, env: input.builder.env.clone(), cwd: "/".into(), user: String::new(), mounts, no_network: true, proxy: None }, input.build_platform);
    let what = if plan.cgo.static_link { "statically linked" } else { "glibc of the base, C libraries it lacks" };
    g.meta(check.op).name = Some(format!("[{}] check {}: {}, {what}", input.target, names.join(" "), plan.c.elf_machine));
    Ok(check)
}

/// A directory of the client (the build context, or a named context), through the session,
/// without `excludes` and, unless VCS information is stamped, without `.git`.
fn local_dir(g: &mut Graph, input: &LowerInput<'_>, name: &str, excludes: &[String]) -> llb::Output {
    let mut attrs = BTreeMap::new();
    if !input.session_id.is_empty() {
        attrs.insert(llb::attr::LOCAL_SESSION.to_string(), input.session_id.to_string());
    }
    attrs.insert(llb::attr::LOCAL_SHARED_KEY_HINT.to_string(), name.to_string());
    let mut excludes = excludes.to_vec();
    if !input.spec.go.vcs {
        // The build needs no repository history unless it stamps VCS information: leaving
        // .git out keeps the transfer small and a commit from invalidating the build.
        excludes.push(".git".into());
    }
    attrs.insert(llb::attr::LOCAL_EXCLUDE.to_string(), serde_json::to_string(&excludes).expect("strings serialize"));
    g.local(name, attrs)
}

/// Where a git token secret is mounted for its credential helper.
fn secret_path(id: &str) -> String {
    format!("/run/secrets/{id}")
}

/// Where a netrc secret is mounted: `$HOME/.netrc` of the builder (`/root` when its image
/// sets no HOME), where git (through curl) looks for it; `NETRC` points Go there too.
fn netrc_path(env: &[String]) -> String {
    let home = crate::image::env_get(env, "HOME").filter(|h| h.starts_with('/')).unwrap_or("/root");
    format!("{}/.netrc", home.trim_end_matches('/'))
}

/// Where the SSH agent of an `ssh` secret is mounted, and the known_hosts of its hosts.
const SSH_AGENT: &str = "/run/buildkit/ssh_agent.0";
const KNOWN_HOSTS_DIR: &str = "/goapp/ssh";

/// The spec's secrets, mounted for the `go` commands (module downloads) only: files, the SSH
/// agent socket, and a file of the `known_hosts` lines given. A secret is never part of a
/// layer or of the cache key: changing it reruns nothing.
fn secret_mounts(g: &mut Graph, spec: &Spec, env: &[String]) -> Vec<Mount> {
    let mut mounts = Vec::new();
    let mut agent = false;
    let mut known_hosts = String::new();
    for s in &spec.go.secrets {
        let file = |dest: String| {
            let secret = llb::SecretMount { id: s.id.value.clone(), uid: 0, gid: 0, mode: 0o400, optional: false };
            Mount { dest, kind: llb::MountKind::Secret(secret), selector: String::new(), readonly: true, output: false }
        };
        match &s.kind {
            SecretKind::Netrc => mounts.push(file(netrc_path(env))),
            SecretKind::GitToken { .. } => mounts.push(file(secret_path(&s.id.value))),
            SecretKind::Ssh { known_hosts: k, .. } => {
                if !agent {
                    let ssh = llb::SshMount { id: s.id.value.clone(), uid: 0, gid: 0, mode: 0o600, optional: false };
                    mounts.push(Mount { dest: SSH_AGENT.into(), kind: llb::MountKind::Ssh(ssh), selector: String::new(), readonly: true, output: false });
                    agent = true;
                }
                if let Some(k) = k {
                    known_hosts.push_str(k.trim_end());
                    known_hosts.push('\n');
                }
            }
        }
    }
    if !known_hosts.is_empty() {
        let f = g.file(None, vec![FileAction::Mkfile(Mkfile { path: "/known_hosts".into(), mode: 0o644, data: known_hosts.into_bytes(), owner: None })]);
        g.meta(f.op).name = Some("[builder] SSH known_hosts of go.secrets".into());
        mounts.push(Mount::readonly(KNOWN_HOSTS_DIR, f));
    }
    mounts
}

/// What makes `go` and git use the secrets: `NETRC` (and `HOME` when the builder has none,
/// for git); for git tokens one credential helper per host, given as git configuration in
/// the environment (the helper reads the token from the mounted file when git asks for that
/// host, so the token is in no environment, command line or URL); for an SSH agent,
/// `SSH_AUTH_SOCK`, ssh's host key checking, and git's rewriting of the host's `https://`
/// and `http://` URLs to `ssh://`.
fn secret_env(spec: &Spec, env: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut config: Vec<(String, String)> = Vec::new();
    let (mut ssh, mut all_known) = (false, true);
    for s in &spec.go.secrets {
        match &s.kind {
            SecretKind::Netrc => {
                out.push(("NETRC".to_string(), netrc_path(env)));
                if crate::image::env_get(env, "HOME").is_none() {
                    out.push(("HOME".to_string(), "/root".to_string()));
                }
            }
            SecretKind::GitToken { host, user } => config.push((
                "credential.helper".into(),
                format!(
                    "!f() {{ test \"$1\" = get || exit 0; while read -r l; do case \"$l\" in host=*) h=\"${{l#host=}}\";; esac; done; \
                     test \"$h\" = '{host}' || exit 0; printf 'username=%s\\npassword=%s\\n' '{user}' \"$(cat {})\"; }}; f",
                    secret_path(&s.id.value)
                ),
            )),
            SecretKind::Ssh { host, port, user, known_hosts } => {
                ssh = true;
                all_known &= known_hosts.is_some();
                let to = match port {
                    Some(p) => format!("ssh://{user}@{host}:{p}/"),
                    None => format!("ssh://{user}@{host}/"),
                };
                for scheme in ["https", "http"] {
                    config.push((format!("url.{to}.insteadOf"), format!("{scheme}://{host}/")));
                }
            }
        }
    }
    if ssh {
        out.push(("SSH_AUTH_SOCK".to_string(), SSH_AGENT.to_string()));
        let known = format!("{KNOWN_HOSTS_DIR}/known_hosts");
        // Unknown hosts are accepted only where the spec gives no keys (it warns then), and
        // nothing is written to the builder's home.
        // As Go's own default: never prompt, no shared connections.
        let base = "ssh -o ControlMaster=no -o BatchMode=yes";
        let command = match (all_known, spec.go.secrets.iter().any(|s| matches!(&s.kind, SecretKind::Ssh { known_hosts: Some(_), .. }))) {
            (true, _) => format!("{base} -o StrictHostKeyChecking=yes -o UserKnownHostsFile={known}"),
            (false, true) => format!("{base} -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={known}"),
            (false, false) => format!("{base} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"),
        };
        out.push(("GIT_SSH_COMMAND".to_string(), command));
    }
    if !config.is_empty() {
        out.push(("GIT_CONFIG_COUNT".to_string(), config.len().to_string()));
        for (i, (k, v)) in config.into_iter().enumerate() {
            out.push((format!("GIT_CONFIG_KEY_{i}"), k));
            out.push((format!("GIT_CONFIG_VALUE_{i}"), v));
        }
    }
    out
}

/// The module cache as a cache mount (Go locks its entries, so sharing it is safe), or
/// nothing when the modules live in the download step's layer.
fn module_cache_mount(spec: &Spec) -> Option<Mount> {
    (spec.go.module_cache == ModuleCache::Mount).then(|| Mount::cache(GOMODCACHE, "goapp-go-mod", CacheSharing::Shared))
}

/// What `go mod download` reads.
const MODULE_FILES: &[&str] = &["**/go.mod", "**/go.sum", "go.work", "go.work.sum"];

/// The targets, grouped so that targets with the same settings build in one `go build`.
/// A target joins a group only when the name Go gives its binary (the package directory's
/// name) is known and unique in the group.
fn build_groups(targets: &[crate::spec::Target]) -> Vec<Vec<&crate::spec::Target>> {
    let mut groups: Vec<Vec<&crate::spec::Target>> = Vec::new();
    for t in targets {
        let same = |o: &crate::spec::Target| o.ldflags == t.ldflags && o.tags == t.tags && o.env == t.env && o.flags == t.flags;
        let joinable = |g: &Vec<&crate::spec::Target>| {
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

fn mod_flag(m: ModMode) -> &'static str {
    match m {
        ModMode::Auto => "",
        ModMode::Vendor => "vendor",
        ModMode::Mod => "mod",
        ModMode::Readonly => "readonly",
    }
}

fn base_contents(rt: &crate::spec::Runtime, ca: bool, tz: bool) -> String {
    let mut parts = Vec::new();
    if ca {
        parts.push("CA certificates");
    }
    if tz {
        parts.push("zoneinfo");
    }
    if rt.base.value == Base::Static {
        parts.push("passwd and group");
        parts.push("/tmp");
    }
    parts.join(", ")
}

fn extras(builder: llb::Output, ca: bool, tz: bool) -> Vec<FileAction> {
    let mut actions = Vec::new();
    if ca {
        actions.push(FileAction::Copy(Copy::new(builder, CA_BUNDLE, CA_BUNDLE).mode(0o644).owner(0, 0)));
    }
    if tz {
        actions.push(FileAction::Copy(Copy::new(builder, "/usr/share/zoneinfo", "/usr/share/zoneinfo").contents().owner(0, 0)));
    }
    actions
}

/// The `static` base: what a Go program needs at run time besides itself, taken from the
/// builder image (already pulled, and the same for every target: these files do not depend
/// on the architecture), so no image is pulled and nothing runs on the target platform.
fn static_base(g: &mut Graph, builder: llb::Output, ca: bool, tz: bool) -> llb::Output {
    let passwd = format!("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{NONROOT_UID}:{NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n");
    let group = format!("root:x:0:\nnonroot:x:{NONROOT_UID}:\n");
    let mut actions = vec![
        FileAction::Mkdir(Mkdir { path: "/etc".into(), mode: 0o755, parents: true, owner: Some((0, 0)) }),
        FileAction::Mkfile(Mkfile { path: "/etc/passwd".into(), mode: 0o644, data: passwd.into_bytes(), owner: Some((0, 0)) }),
        FileAction::Mkfile(Mkfile { path: "/etc/group".into(), mode: 0o644, data: group.into_bytes(), owner: Some((0, 0)) }),
        FileAction::Mkfile(Mkfile { path: "/etc/nsswitch.conf".into(), mode: 0o644, data: b"hosts: files dns\n".to_vec(), owner: Some((0, 0)) }),
    ];
    actions.extend(extras(builder, ca, tz));
    actions.extend([
        // Copying the builder's /tmp (not its contents) carries its mode, 1777: a mkdir
        // cannot set the sticky bit.
        FileAction::Copy(Copy::new(builder, "/tmp", "/tmp").exclude(&["*"]).owner(0, 0)),
        // Created one at a time: a parent made by `parents` gets the child's mode and owner.
        FileAction::Mkdir(Mkdir { path: "/home".into(), mode: 0o755, parents: false, owner: Some((0, 0)) }),
        FileAction::Mkdir(Mkdir { path: "/home/nonroot".into(), mode: 0o700, parents: false, owner: Some((NONROOT_UID, NONROOT_UID)) }),
    ]);
    g.file(None, actions)
}

/// CA certificates and zoneinfo from the builder, on `scratch` (nothing) or a pulled base;
/// `None` when neither is wanted.
fn scratch_extras(g: &mut Graph, builder: llb::Output, on: Option<llb::Output>, ca: bool, tz: bool) -> Option<llb::Output> {
    let actions = extras(builder, ca, tz);
    (!actions.is_empty()).then(|| g.file(on, actions))
}

/// The image config. On a pulled base it starts from the base's config:
/// - `Env`: the base's, with `/usr/local/bin` put first on a `PATH` that lacks it (and
///   `PATH` set when the base has none), `SSL_CERT_FILE` when the image has the CA bundle,
///   then `runtime.env`;
/// - `ExposedPorts`, `Volumes`: the base's and the spec's;
/// - `Labels`: the base's, then the OCI labels goapp fills, then `runtime.labels`, then
///   `--label`;
/// - `WorkingDir`, `StopSignal`, `Healthcheck`: the spec's, else the base's;
/// - `User`, `Entrypoint`, `Cmd`: the spec's only (non-root by default; the base's command
///   is not the app's);
/// - `history`: the base's entries, then one per layer goapp adds.
fn image_config(input: &LowerInput<'_>, history: Vec<String>) -> ImageConfig {
    let spec = input.spec;
    let rt = &spec.runtime;
    let base = input.base.filter(|_| rt.base.value == Base::Image);
    let inherited = base.map(|b| b.config.config.clone()).unwrap_or_default();

    let mut env = inherited.env.clone().unwrap_or_default();
    match crate::image::env_get(&env, "PATH").map(str::to_string) {
        None => env_set(&mut env, "PATH", DEFAULT_PATH),
        Some(p) if !p.split(':').any(|d| d == BIN_DIR) => env_set(&mut env, "PATH", &format!("{BIN_DIR}:{p}")),
        Some(_) => {}
    }
    if rt.ca_certificates {
        env_set(&mut env, "SSL_CERT_FILE", CA_BUNDLE);
    }
    for (k, v) in &rt.env {
        env_set(&mut env, k, v);
    }
    let mut ports: BTreeMap<String, Empty> = inherited.exposed_ports.clone().unwrap_or_default();
    ports.extend(rt.ports.iter().map(|p| (p.key(), Empty {})));
    let mut volumes: BTreeMap<String, Empty> = inherited.volumes.clone().unwrap_or_default();
    volumes.extend(rt.volumes.iter().map(|v| (v.path.clone(), Empty {})));

    let mut labels = inherited.labels.clone().unwrap_or_default();
    let oci = |k: &str| format!("org.opencontainers.image.{k}");
    labels.insert(oci("title"), spec.name.value.clone());
    let facts = input.facts;
    for (k, v) in [
        ("version", spec.version.clone()),
        ("source", spec.source.clone().or_else(|| facts.vcs_source.clone())),
        ("revision", facts.vcs_revision.clone()),
        ("created", facts.created.clone()),
        ("base.name", base.and_then(|b| b.replaced_by.as_ref()).or(rt.base_image.as_ref()).map(|r| r.to_string())),
        ("base.digest", base.and_then(|b| b.digest.clone())),
    ] {
        match v {
            Some(v) => labels.insert(oci(k), v),
            // A base's own OCI labels describe the base, not this image.
            None => labels.remove(&oci(k)),
        };
    }
    labels.extend(rt.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels.extend(input.labels.iter().map(|(k, v)| (k.clone(), v.clone())));

    let healthcheck = match &rt.healthcheck {
        Some(h) => Some(HealthConfig {
            test: std::iter::once("CMD".to_string()).chain(h.command.iter().cloned()).collect(),
            interval: h.interval.unwrap_or(0),
            timeout: h.timeout.unwrap_or(0),
            start_period: h.start_period.unwrap_or(0),
            retries: h.retries.unwrap_or(0),
        }),
        None => inherited.healthcheck.clone(),
    };
    let working_dir = match &rt.workdir {
        Some(w) => w.value.clone(),
        None => inherited.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or("/".into()),
    };
    let mut entries: Vec<History> = base.map(|b| b.config.history.clone()).unwrap_or_default();
    entries.extend(history.into_iter().map(|h| History {
        created: facts.created.clone(),
        created_by: Some(h),
        comment: Some(HISTORY_COMMENT.into()),
        ..Default::default()
    }));
    ImageConfig {
        architecture: input.target.architecture.clone(),
        os: input.target.os.clone(),
        variant: input.target.variant.clone(),
        created: facts.created.clone(),
        config: ContainerConfig {
            user: Some(rt.user.value.config()),
            exposed_ports: (!ports.is_empty()).then_some(ports),
            env: Some(env),
            entrypoint: Some(vec![format!("{BIN_DIR}/{}", spec.entrypoint().name.value)]),
            cmd: (!rt.args.is_empty()).then(|| rt.args.clone()),
            working_dir: Some(working_dir),
            labels: Some(labels),
            volumes: (!volumes.is_empty()).then_some(volumes),
            stop_signal: rt.stop_signal.clone().or(inherited.stop_signal.clone()),
            healthcheck,
        },
        rootfs: Default::default(),
        history: entries,
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

    #[test]
    fn a_go_image_that_does_not_say_its_go_is_checked_before_anything_runs_on_it() {
        let yaml = b"name: app\ngo:\n  image: registry.example/tools/go:2\n";
        let spec = crate::load("goapp.yaml", yaml, &BTreeMap::new()).unwrap().spec;
        let module = crate::toolchain::ModFile::parse("go.mod", "module m\n\ngo 1.27\n").unwrap();
        let amd64 = Platform::parse("linux/amd64").unwrap();
        let lowered = lower_unresolved(&spec, "goapp.yaml", yaml, &amd64, &amd64, None, &BTreeMap::new(), Some(&module)).unwrap();
        let text = llb::dump::to_text(&lowered.definition).unwrap();
        assert!(text.contains("check the Go of registry.example/tools/go:2 against go.mod:3"), "{text}");
        assert!(text.contains(r#""go-version", "1.27", "go.mod:3", "registry.example/tools/go:2", "goapp.yaml:3"]"#), "{text}");
        // The compile runs on what the check passed.
        let guard = text.lines().position(|l| l.contains(r#""go-version""#)).unwrap();
        let build = text.lines().position(|l| l.contains(r#"exec ["go", "build""#)).unwrap();
        assert!(guard < build);
        // Nothing to check: no go line, or no go.image (the frontend checks the release).
        let bare = crate::toolchain::ModFile::parse("go.mod", "module m\n").unwrap();
        let lowered = lower_unresolved(&spec, "goapp.yaml", yaml, &amd64, &amd64, None, &BTreeMap::new(), Some(&bare)).unwrap();
        assert!(!llb::dump::to_text(&lowered.definition).unwrap().contains("go-version"));
        let plain = crate::load("goapp.yaml", b"name: app\n", &BTreeMap::new()).unwrap().spec;
        let lowered = lower_unresolved(&plain, "goapp.yaml", b"name: app\n", &amd64, &amd64, None, &BTreeMap::new(), Some(&module)).unwrap();
        assert!(!llb::dump::to_text(&lowered.definition).unwrap().contains("go-version"));
    }

    #[test]
    fn a_volume_holding_the_workdir_is_the_programs_too() {
        let yaml = b"name: app\nruntime:\n  workdir: /data/app\n  volumes: [/data, /srv/cache]\n";
        let spec = crate::load("goapp.yaml", yaml, &BTreeMap::new()).unwrap().spec;
        let amd64 = Platform::parse("linux/amd64").unwrap();
        let lowered = lower_unresolved(&spec, "goapp.yaml", yaml, &amd64, &amd64, None, &BTreeMap::new(), None).unwrap();
        let text = llb::dump::to_text(&lowered.definition).unwrap();
        let mkdirs: Vec<&str> =
            text.lines().filter(|l| l.contains(": mkdir /data") || l.contains(": mkdir /srv")).map(|l| l.split(": mkdir ").nth(1).unwrap()).collect();
        assert_eq!(
            mkdirs,
            [
                "/data mode=755 owner=65532:65532",
                "/data/app mode=755 owner=65532:65532",
                "/srv mode=755 parents owner=0:0",
                "/srv/cache mode=755 owner=65532:65532 -> out0"
            ],
            "{text}"
        );
        // One history entry for the one layer that holds the binaries and the directories.
        let history = &lowered.config.history;
        assert!(history.last().unwrap().created_by.as_deref().unwrap().ends_with("directories /data /data/app /srv/cache owned by 65532:65532"), "{history:?}");
    }
}
