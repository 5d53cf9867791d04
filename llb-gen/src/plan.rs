//! The plan: what a build will do, decided in one place before anything is resolved or
//! lowered. From the loaded spec, the [`Request`] (the build's options) and the
//! [`ContextFacts`] (what the context's go.mod, go.work and .dockerignore say), [`plan`]
//! decides the platforms, the binaries, the Go release, the images to pull and what stands
//! in for them, the modules replaced by named contexts, and the kind of result. The plan
//! also says what the caller must find out before lowering ([`Plan::images`],
//! [`Plan::files_to_check`], [`base_probes`]); the caller hands that back as a
//! [`Resolved`](crate::lower::Resolved), and [`crate::lower::lower`] turns plan and facts
//! into LLB for one platform.
//!
//! Nothing here changes the spec: a `--target` selects binaries by index, and a user name
//! is looked up by [`crate::checks::runtime_user`].

use std::collections::BTreeMap;

use llb::{Platform, pb};

use crate::context::{ContextFacts, ContextSource, GitSource, NamedSource, Replacement};
use crate::diag::{Diagnostics, Span};
use crate::golang;
use crate::reference::ImageRef;
use crate::spec::raw::{CgoMode, ModMode};
use crate::spec::{AssetSource, BINARIES_TARGET, Base, DEBUG_TARGET, Spec, TEST_TARGET, Target};
use crate::toolchain::{GoRelease, ModFile};

/// What the build was asked to do besides the spec: the frontend's options, as plain data.
#[derive(Clone, Debug)]
pub struct Request {
    /// `--target`: one of the spec's targets, or [`BINARIES_TARGET`].
    pub target: Option<String>,
    /// `--platform`; empty: the spec's `platforms`, else the build platform.
    pub platforms: Vec<Platform>,
    /// The platform BuildKit runs steps on natively.
    pub build_platform: Platform,
    pub build_args: BTreeMap<String, String>,
    /// `--build-context NAME=VALUE`.
    pub named_contexts: BTreeMap<String, String>,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--sbom`: goapp makes the SBOM itself.
    pub sbom: bool,
    /// Where the build context comes from.
    pub context: ContextSource,
    /// The name the client serves the local context under.
    pub context_name: String,
    /// The client session that serves local directories (empty: any session of the build).
    pub session_id: String,
    /// The repository and commit buildx reports for the context (`vcs:source`,
    /// `vcs:revision`).
    pub vcs_source: Option<String>,
    pub vcs_revision: Option<String>,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            target: None,
            platforms: Vec::new(),
            build_platform: Platform::new("linux", "amd64", None),
            build_args: BTreeMap::new(),
            named_contexts: BTreeMap::new(),
            labels: BTreeMap::new(),
            no_cache: false,
            sbom: false,
            context: ContextSource::Local,
            context_name: DEFAULT_CONTEXT_NAME.into(),
            session_id: String::new(),
            vcs_source: None,
            vcs_revision: None,
        }
    }
}

/// The local name under which buildx sends the build context.
pub const DEFAULT_CONTEXT_NAME: &str = "context";

/// The spec as the client sent it: its file name and bytes, for source-mapped steps.
#[derive(Clone, Debug)]
pub struct SpecSource {
    pub file: String,
    pub data: Vec<u8>,
}

/// What the build returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultKind {
    /// An image per platform.
    Image,
    /// `--target binaries`: the binaries alone at the root of an empty filesystem, for
    /// `--output type=local` (release archives), with no runtime stage.
    Binaries,
    /// `--target test`: `go vet` and `go test` on the build platform; the result is the
    /// report (`test.json`, `junit.xml`, `coverage.out`), not an image.
    Test,
    /// `--target debug`: an image per platform with the program compiled for a debugger and
    /// run by Delve, on the debug base.
    Debug,
}

impl ResultKind {
    pub fn name(self) -> &'static str {
        match self {
            ResultKind::Image => "image",
            ResultKind::Binaries => "binaries",
            ResultKind::Test => "test",
            ResultKind::Debug => "debug",
        }
    }

    /// Whether the result is an image per platform.
    pub fn is_image(self) -> bool {
        matches!(self, ResultKind::Image | ResultKind::Debug)
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
    /// `SOURCE_DATE_EPOCH`, in seconds: the time of every file in the image's layers.
    pub epoch: Option<i64>,
}

/// An image the build pulls: as the spec (or go.mod) implies it, and as it is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedImage {
    /// As written, before any mirror or replacement (`docker.io/library/golang:1.27`).
    pub written: ImageRef,
    /// What is pulled: through the registry mirror, or the `--build-context` image that
    /// replaces it.
    pub reference: ImageRef,
    /// The `--build-context` image that stands in for it.
    pub replaced_by: Option<ImageRef>,
}

/// The images to resolve before lowering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedImages {
    /// The builder, resolved for the build platform.
    pub builder: PlannedImage,
    /// The platforms whose cgo build runs their own builder image under emulation.
    pub emulated_builders: Vec<Platform>,
    /// The runtime base, resolved (and probed, see [`base_probes`]) for every Linux
    /// platform; `None` when the base is not an image or the result does not need it.
    pub base: Option<PlannedImage>,
    /// The base of the Windows images (`runtime.windows.base`), resolved for every Windows
    /// platform; `None` when the build makes no Windows image.
    pub windows_base: Option<PlannedImage>,
}

impl PlannedImages {
    /// The base `platform`'s image is built on, when it is pulled.
    pub fn base_for(&self, platform: &Platform) -> Option<&PlannedImage> {
        if golang::is_windows(platform) { self.windows_base.as_ref() } else { self.base.as_ref() }
    }
}

/// Everything a build will do.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The spec as loaded; never changed.
    pub spec: Spec,
    pub source: SpecSource,
    pub result: ResultKind,
    /// The binaries built: indices into `spec.targets`, in the spec's order.
    pub targets: Vec<usize>,
    /// The binary that is the image's entrypoint: an index into `spec.targets`.
    pub entrypoint: usize,
    pub platforms: Vec<Platform>,
    pub platforms_from: PlatformsFrom,
    pub build_platform: Platform,
    /// The Go release of the builder and what chose it; the module file it was read from.
    pub release: GoRelease,
    pub go_module: Option<ModFile>,
    /// The registry mirror in effect.
    pub mirror: Option<String>,
    pub images: PlannedImages,
    /// Modules replaced by named contexts, and the go.mod (or go.work) that replaces them:
    /// its path in the context and its text.
    pub replacements: Vec<Replacement>,
    /// The named contexts that `assets` copy from, by name.
    pub asset_contexts: BTreeMap<String, NamedSource>,
    pub module_file: Option<(String, String)>,
    pub context: ContextSource,
    pub context_name: String,
    pub session_id: String,
    /// `.dockerignore` patterns, left out of the context transfer.
    pub excludes: Vec<String>,
    /// Whether the module needs no download (vendored, or requiring nothing).
    pub no_download: bool,
    /// Go settings from build args ([`golang::MODULE_FETCH_ARGS`]); they override `go.env`.
    pub go_args: BTreeMap<String, String>,
    /// The proxy build args, for every step that reaches the network.
    pub proxy: Option<pb::ProxyEnv>,
    pub labels: BTreeMap<String, String>,
    pub facts: BuildFacts,
    pub no_cache: bool,
    /// Whether each platform's image gets goapp's SBOM.
    pub sbom: bool,
}

/// What chose the platforms built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformsFrom {
    /// `--platform`.
    Request,
    /// The spec's `platforms`, at this span.
    Spec(Span),
    /// Neither: the platform BuildKit runs steps on natively.
    BuildPlatform,
}

/// Why a build cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A build option that does not fit the spec or the context (`--target`, `--platform`,
    /// `--build-context`, `SOURCE_DATE_EPOCH`).
    #[error("{0}")]
    Option(String),
    /// The module's go.mod or go.work has a line Go would refuse, or the spec has one the
    /// build's platforms cannot have.
    #[error("{}", .0.render(false))]
    Diagnostics(Diagnostics),
}

/// Decides what the build will do. Pure: the same inputs give the same plan.
pub fn plan(spec: Spec, source: SpecSource, request: &Request, facts: &ContextFacts) -> Result<Plan, PlanError> {
    let result = match request.target.as_deref() {
        Some(BINARIES_TARGET) => ResultKind::Binaries,
        Some(TEST_TARGET) => ResultKind::Test,
        Some(DEBUG_TARGET) => ResultKind::Debug,
        _ => ResultKind::Image,
    };
    let spec = if result == ResultKind::Debug { debug_spec(spec) } else { spec };
    let (targets, entrypoint) = match request.target.as_deref().filter(|_| result == ResultKind::Image) {
        Some(name) => {
            let i = only_target(&spec, name)?;
            (vec![i], i)
        }
        None => ((0..spec.targets.len()).collect(), spec.runtime.entrypoint),
    };
    let (platforms, platforms_from) = if result == ResultKind::Test {
        // The tests run where the builder runs, once.
        (vec![request.build_platform.clone()], PlatformsFrom::BuildPlatform)
    } else if !request.platforms.is_empty() {
        (request.platforms.clone(), PlatformsFrom::Request)
    } else if let Some(first) = spec.platforms.first() {
        (spec.platforms.iter().map(|p| p.value.clone()).collect(), PlatformsFrom::Spec(first.span))
    } else {
        (vec![request.build_platform.clone()], PlatformsFrom::BuildPlatform)
    };
    let windows = platforms.iter().any(golang::is_windows);
    if result.is_image()
        && let Some(p) = platforms.iter().find(|p| golang::is_windows(p) && !WINDOWS_IMAGE_ARCHES.contains(&p.architecture.as_str()))
    {
        return Err(PlanError::Option(format!(
            "{p}: Windows containers run amd64 and arm64 programs, so there is no {p} image; build its NAME.exe with --target binaries"
        )));
    }
    if windows && !matches!(platforms_from, PlatformsFrom::Spec(_)) {
        // (The loader checked a spec whose own `platforms` name Windows.)
        let found = crate::checks::windows(&spec, result.is_image());
        if !found.is_empty() {
            let text = String::from_utf8_lossy(&source.data).into_owned();
            return Err(PlanError::Diagnostics(Diagnostics::new(source.file.clone(), text, found)));
        }
    }
    if result == ResultKind::Debug
        && let Some(p) = platforms.iter().find(|p| !DELVE_PLATFORMS.contains(&p.id().as_str()))
    {
        return Err(PlanError::Option(format!(
            "--target debug: Delve does not debug programs on {p}; it runs on {}: build the debug image for one of those with --platform",
            DELVE_PLATFORMS.join(", ")
        )));
    }
    let go_module = facts.go_module().map_err(PlanError::Diagnostics)?;
    let release = crate::toolchain::choose(&spec, go_module.as_ref());
    let mirror = effective_mirror(&spec, request.build_args.get(MIRROR_ARG).map(String::as_str)).map(str::to_string);
    let named = NamedContexts::classify(&request.named_contexts, &spec, &release)?;
    let module_file = named.module_file(facts, &spec)?;
    let planned = |written: ImageRef, mirrored: ImageRef| {
        let replaced_by = named.images.iter().find(|(r, _)| *r == written).map(|(_, with)| with.clone());
        PlannedImage { reference: replaced_by.clone().unwrap_or(mirrored), written, replaced_by }
    };
    let builder = planned(builder_reference(&spec, &release, None), builder_reference(&spec, &release, mirror.as_deref()));
    let needs_base = result.is_image() || (result == ResultKind::Binaries && needs_base_for_binaries(&spec));
    let linux = platforms.iter().any(|p| !golang::is_windows(p));
    let base = match (base_reference(&spec, None), base_reference(&spec, mirror.as_deref())) {
        (Some(written), Some(mirrored)) if needs_base && linux => Some(planned(written, mirrored)),
        _ => None,
    };
    let windows_base = (windows && result.is_image()).then(|| {
        let written = &spec.runtime.windows.base_image;
        planned(written.clone(), mirror.as_deref().map(|m| written.mirrored(m)).unwrap_or_else(|| written.clone()))
    });
    let emulated_builders = platforms.iter().filter(|t| cgo_emulated(&spec, &request.build_platform, t)).cloned().collect();
    let epoch = source_date_epoch(&request.build_args)?;
    let facts_of_build = BuildFacts {
        vcs_source: request.vcs_source.clone(),
        vcs_revision: request.vcs_revision.clone(),
        created: epoch.map(|s| crate::stamp::rfc3339(s as u64)),
        epoch,
    };
    let sbom = request.sbom && result.is_image();
    Ok(Plan {
        result,
        targets,
        entrypoint,
        platforms,
        platforms_from,
        build_platform: request.build_platform.clone(),
        release,
        go_module,
        mirror,
        images: PlannedImages { builder, emulated_builders, base, windows_base },
        replacements: named.modules,
        asset_contexts: named.assets,
        module_file,
        context: request.context.clone(),
        context_name: request.context_name.clone(),
        session_id: request.session_id.clone(),
        excludes: facts.excludes.clone(),
        no_download: facts.no_download,
        go_args: golang::module_fetch_env(&request.build_args),
        proxy: golang::proxy_env(&request.build_args),
        labels: request.labels.clone(),
        facts: facts_of_build,
        no_cache: request.no_cache,
        sbom,
        spec,
        source,
    })
}

/// The architectures of Windows container images.
const WINDOWS_IMAGE_ARCHES: &[&str] = &["amd64", "arm64"];

/// The platforms Delve runs on.
pub const DELVE_PLATFORMS: &[&str] = &["linux/amd64", "linux/arm64", "linux/386", "linux/ppc64le"];

/// The build arg that names a registry mirror, over the spec's `registry_mirror`.
pub const MIRROR_ARG: &str = "GOAPP_REGISTRY_MIRROR";

impl Plan {
    /// The binaries built, in the spec's order.
    pub fn built_targets(&self) -> Vec<&Target> {
        self.targets.iter().map(|&i| &self.spec.targets[i]).collect()
    }

    /// The target whose binary is the entrypoint.
    pub fn entrypoint(&self) -> &Target {
        &self.spec.targets[self.entrypoint]
    }

    /// The OCI annotations of the result: the spec's, except for `--target binaries`.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        if self.result.is_image() { self.spec.runtime.annotations.clone() } else { BTreeMap::new() }
    }

    /// What must be in the context (after `.dockerignore`): the `runtime.files` sources of an
    /// image, and the directories `assets` copy from.
    pub fn files_to_check(&self) -> Vec<crate::spec::Spanned<String>> {
        let files = self.spec.runtime.files.iter().filter(|_| self.result.is_image()).map(|f| f.src.clone());
        let assets = self.spec.assets.iter().filter_map(|a| match &a.source.value {
            AssetSource::Dir(d) => Some(crate::spec::Spanned::new(d.clone(), a.source.span)),
            AssetSource::Context(_) => None,
        });
        files.chain(assets).collect()
    }

    /// The plan for people and tests: what is built, for which platforms, from what.
    pub fn summary(&self) -> serde_json::Value {
        let image = |i: &PlannedImage| {
            serde_json::json!({
                "written": i.written.to_string(),
                "reference": i.reference.to_string(),
                "replaced_by": i.replaced_by.as_ref().map(|r| r.to_string()),
            })
        };
        serde_json::json!({
            "spec": self.source.file,
            "result": self.result.name(),
            "targets": self.built_targets().iter().map(|t| serde_json::json!({"name": t.name.value, "main": t.main.value})).collect::<Vec<_>>(),
            "entrypoint": self.result.is_image().then(|| self.entrypoint().name.value.clone()),
            "platforms": self.platforms.iter().map(Platform::id).collect::<Vec<_>>(),
            "build_platform": self.build_platform.id(),
            "go": {
                "release": self.release.version,
                "chosen_by": self.release.source(&self.source.file),
            },
            "cgo": self.spec.go.cgo.as_ref().map(|_| {
                self.platforms.iter().map(|p| (p.id(), if cgo_emulated(&self.spec, &self.build_platform, p) {
                    "emulated"
                } else if golang::same_c_arch(&self.build_platform, p) {
                    "native"
                } else {
                    "cross-compiled"
                })).collect::<BTreeMap<_, _>>()
            }),
            "builder": image(&self.images.builder),
            "emulated_builders": self.images.emulated_builders.iter().map(Platform::id).collect::<Vec<_>>(),
            "base": self.images.base.as_ref().map(image),
            "windows_base": self.images.windows_base.as_ref().map(image),
            "registry_mirror": self.mirror,
            "module_download": !self.no_download && self.spec.go.module_mode != Some(ModMode::Vendor),
            "replaced_modules": self.replacements.iter().map(|r| r.module.clone()).collect::<Vec<_>>(),
            "files_to_check": self.files_to_check().iter().map(|f| f.value.clone()).collect::<Vec<_>>(),
            "sbom": self.sbom,
        })
    }
}

/// What to look for in a pulled base for one platform: the CA bundle, the zoneinfo
/// directory, `/etc/passwd` (for a user name), and the places of glibc's `libc.so.6` when
/// the binaries link it dynamically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseProbes {
    pub ca_bundle: &'static str,
    pub zoneinfo: &'static str,
    pub passwd: &'static str,
    /// Empty: glibc is not needed.
    pub libc: Vec<String>,
}

/// The files the caller looks for in `plan`'s base for `platform`.
pub fn base_probes(plan: &Plan, platform: &Platform) -> BaseProbes {
    let want_libc = plan.spec.go.cgo.as_ref().is_some_and(|c| !c.static_link);
    let libc = match golang::c_target(platform) {
        Ok(ct) if want_libc => {
            [format!("/lib/{}", ct.triplet), format!("/usr/lib/{}", ct.triplet), "/lib64".into(), "/usr/lib64".into(), "/lib".into(), "/usr/lib".into()]
                .into_iter()
                .map(|dir| format!("{dir}/libc.so.6"))
                .collect()
        }
        _ => Vec::new(),
    };
    BaseProbes { ca_bundle: crate::paths::CA_BUNDLE, zoneinfo: crate::paths::ZONEINFO, passwd: crate::paths::PASSWD, libc }
}

/// `--target NAME`: the index of that target. Its health check must run a binary the
/// image still has.
fn only_target(spec: &Spec, name: &str) -> Result<usize, PlanError> {
    let names: Vec<&str> = spec.targets.iter().map(|t| t.name.value.as_str()).collect();
    let Some(i) = names.iter().position(|n| *n == name) else {
        let hint =
            crate::diag::did_you_mean(name, &names, || format!("the spec's targets are: {}, and `{BINARIES_TARGET}` builds them alone", names.join(", ")));
        return Err(PlanError::Option(format!("--target {name}: the spec has no target named `{name}`; {hint}")));
    };
    if let Some(h) = &spec.runtime.healthcheck {
        let program = &h.command[0];
        let left_out = spec.targets.iter().enumerate().any(|(j, o)| j != i && *program == format!("{}/{}", crate::paths::BIN_DIR, o.name.value));
        if left_out {
            return Err(PlanError::Option(format!(
                "--target {name}: the health check runs {program}, which this build leaves out of the image; build that target, or change runtime.healthcheck"
            )));
        }
    }
    Ok(i)
}

/// `SOURCE_DATE_EPOCH`, checked: seconds since 1970, before the year 10000.
fn source_date_epoch(build_args: &BTreeMap<String, String>) -> Result<Option<i64>, PlanError> {
    let Some(v) = build_args.get("SOURCE_DATE_EPOCH").filter(|v| !v.is_empty()) else { return Ok(None) };
    let secs: u64 = v.parse().map_err(|_| PlanError::Option(format!("SOURCE_DATE_EPOCH={v} is not a number of seconds since 1970")))?;
    if secs >= 253_402_300_800 {
        return Err(PlanError::Option(format!("SOURCE_DATE_EPOCH={v} is after the year 9999")));
    }
    Ok(Some(secs as i64))
}

/// The spec of `--target debug`: the debug base, and every binary compiled for a debugger
/// (no optimizations or inlining, `-gcflags=all=-N -l`), linked with its symbols and debug
/// information (no `-s` or `-w`), and with the paths it was compiled at (no `-trimpath`:
/// `/src/...`, which an editor maps to its checkout).
fn debug_spec(mut spec: Spec) -> Spec {
    spec.runtime.base = crate::spec::Spanned::new(Base::Image, spec.debug.span);
    spec.runtime.base_image = Some(spec.debug.base_image.clone());
    spec.runtime.user_name = None;
    spec.runtime.healthcheck = None;
    for t in &mut spec.targets {
        t.ldflags = strip_debug_flags(&t.ldflags);
        t.flags.retain(|f| !is_gcflags(f) && f != "-trimpath" && f != "--trimpath");
        t.flags.push("-gcflags=all=-N -l".into());
    }
    spec
}

/// Linker flags without the ones that drop symbols and debug information.
fn strip_debug_flags(ldflags: &str) -> String {
    // Go splits linker flags at spaces outside quotes; -s and -w are never quoted.
    let mut out: Vec<&str> = Vec::new();
    let mut quoted = false;
    for w in ldflags.split(' ') {
        let drop = !quoted && matches!(w.trim_start_matches('-'), "s" | "w" | "s=true" | "w=true") && w.starts_with('-');
        if !drop && !w.is_empty() {
            out.push(w);
        }
        quoted ^= w.matches(['\'', '"']).count() % 2 == 1;
    }
    out.join(" ")
}

fn is_gcflags(f: &str) -> bool {
    f == "-gcflags" || f.starts_with("-gcflags=") || f == "--gcflags" || f.starts_with("--gcflags=")
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
    // The loader validated `go.image`; the others are made of a validated release.
    let r = ImageRef::parse(&written).unwrap_or_else(|_| ImageRef::parse("golang").expect("a valid reference"));
    match mirror {
        Some(m) if !m.is_empty() => r.mirrored(m),
        _ => r,
    }
}

/// Whether the cgo build for `target` runs on the target platform under emulation: asked
/// for, or (`auto`) there is no cross compiler for it. A build for the build machine's own
/// architecture never needs emulation, and a Windows one is always cross-compiled (no
/// builder runs Windows).
pub fn cgo_emulated(spec: &Spec, build: &Platform, target: &Platform) -> bool {
    match &spec.go.cgo {
        None => false,
        Some(_) if golang::is_windows(target) => false,
        Some(_) if golang::same_c_arch(build, target) => false,
        Some(c) => match c.mode {
            CgoMode::Emulated => true,
            CgoMode::Native => false,
            CgoMode::Auto => !golang::has_cross_compiler(build, target),
        },
    }
}

/// Whether `--target binaries` needs the pulled base: a cgo build linked dynamically
/// checks its binaries against the base's glibc and collects the libraries the base lacks.
pub fn needs_base_for_binaries(spec: &Spec) -> bool {
    spec.runtime.base.value == crate::spec::Base::Image && spec.go.cgo.as_ref().is_some_and(|c| !c.static_link)
}

/// `--build-context` entries, sorted by what they stand in for.
#[derive(Default)]
struct NamedContexts {
    /// Images the build pulls (the builder, the base; as written), replaced by another image
    /// (`docker-image://REF`).
    images: Vec<(ImageRef, ImageRef)>,
    /// Go modules, replaced by a directory or a git repository.
    modules: Vec<Replacement>,
    /// The contexts `assets` name.
    assets: BTreeMap<String, NamedSource>,
}

impl NamedContexts {
    /// A name that is the builder or the base image (as `--build-context` normalizes image
    /// names: `golang:1.27` is `docker.io/library/golang:1.27`) replaces that image; any
    /// other name is a Go module path.
    fn classify(named: &BTreeMap<String, String>, spec: &Spec, release: &GoRelease) -> Result<Self, PlanError> {
        let mut out = NamedContexts::default();
        let builder = builder_reference(spec, release, None);
        let base = base_reference(spec, None);
        let windows_base = &spec.runtime.windows.base_image;
        for (name, value) in named {
            let image = ImageRef::parse(name).ok().filter(|r| *r == builder || Some(r) == base.as_ref() || r == windows_base);
            if let Some(image) = image {
                let Some(with) = value.strip_prefix("docker-image://") else {
                    return Err(PlanError::Option(format!(
                        "--build-context {name}={value}: {name} is an image of the build; replace it with another image: --build-context {name}=docker-image://REF"
                    )));
                };
                let with = ImageRef::parse(with).map_err(|e| PlanError::Option(format!("--build-context {name}: {e}")))?;
                out.images.push((image, with));
                continue;
            }
            let source = if let Some(local) = value.strip_prefix("local:") {
                if local.is_empty() {
                    return Err(PlanError::Option(format!(
                        "--build-context {name}={value}: `local:` needs the name of a directory the client sends (buildx does this for --build-context {name}=./dir)"
                    )));
                }
                NamedSource::Local(local.to_string())
            } else if let Some(input) = value.strip_prefix("input:").filter(|i| !i.is_empty()) {
                NamedSource::Input(input.to_string())
            } else if let Ok(git) = GitSource::parse(value) {
                NamedSource::Git(git)
            } else {
                let images = std::iter::once(builder.to_string()).chain(base.iter().map(|b| b.to_string())).collect::<Vec<_>>().join(", ");
                return Err(PlanError::Option(format!(
                    "--build-context {name}={value}: goapp takes a directory or a git repository (https://host/repo.git#ref) in place of a Go module, and docker-image://REF in place of an image of the build ({images})"
                )));
            };
            if spec.assets.iter().any(|a| a.source.value == AssetSource::Context(name.clone())) {
                out.assets.insert(name.clone(), source);
            } else if let NamedSource::Input(_) = source {
                return Err(PlanError::Option(format!(
                    "--build-context {name}={value}: the result of another build (a bake target) can be the source of `assets`, not a Go module; name it in an asset's `context`, or give the module as a directory or a git repository"
                )));
            } else {
                out.modules.push(Replacement { module: name.clone(), source });
            }
        }
        for a in &spec.assets {
            if let AssetSource::Context(name) = &a.source.value
                && !out.assets.contains_key(name)
            {
                return Err(PlanError::Option(format!(
                    "the asset at line {} of the spec copies the build context `{name}`, which the build does not have: pass --build-context {name}=DIR (or, with bake, `contexts = {{ {name} = \"target:NAME\" }}`)",
                    a.source.span.start.line
                )));
            }
        }
        Ok(out)
    }

    /// The go.work (in a workspace) or go.mod with the `replace` directives of the module
    /// replacements; `None` without any. Each module must be one go.mod requires.
    fn module_file(&self, facts: &ContextFacts, spec: &Spec) -> Result<Option<(String, String)>, PlanError> {
        let Some(first) = self.modules.first() else { return Ok(None) };
        // vendor/modules.txt would no longer match go.mod: Go refuses to build.
        let vendor_mode = spec.go.module_mode == Some(ModMode::Vendor);
        if vendor_mode || (facts.vendored && spec.go.module_mode.is_none()) {
            return Err(PlanError::Option(format!(
                "--build-context {}: the build uses vendor/, which a replaced module would make inconsistent; set `go.mod: mod` in the spec to build from downloaded modules",
                first.module
            )));
        }
        let Some((mod_path, mod_text)) = &facts.go_mod else {
            return Err(PlanError::Option(format!("--build-context {}: the build context has no go.mod to replace the module in", first.module)));
        };
        for r in &self.modules {
            if !crate::context::requires(mod_text, &r.module) {
                return Err(PlanError::Option(format!(
                    "--build-context {}: {mod_path} does not require the module {0}, and it is not an image of the build; name a module that go.mod requires, or the builder or base image",
                    r.module
                )));
            }
        }
        let (path, text) = facts.go_work.as_ref().unwrap_or(facts.go_mod.as_ref().expect("checked above"));
        let edited = crate::context::with_replacements(text, path, &self.modules).map_err(|e| PlanError::Option(format!("--build-context: {e}")))?;
        Ok(Some((path.clone(), edited)))
    }
}
