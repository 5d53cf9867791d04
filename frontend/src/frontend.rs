//! The gateway frontend: what goapp does when BuildKit runs its image for a `goapp.yaml`.
//!
//! Ping → load the spec from the client → resolve the builder image → lower and solve every
//! target platform concurrently → return one result with an image config per platform.
//! Every failure ends in a `Return` with an error status, so the user sees it in buildx.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use llb::Platform;
use llb_gen::context::{ContextSource, GitSource, NamedSource, Replacement};
use llb_gen::image::ImageConfig;
use llb_gen::lower::{BaseImage, BuildFacts, BuilderImage, LowerInput, base_reference, builder_reference, cgo_emulated, effective_mirror, lower};
use llb_gen::reference::ImageRef;
use llb_gen::toolchain::{GoRelease, ModFile};

use crate::errors;
use crate::gateway::{self, Caps, Client};
use crate::opts::Opts;
use crate::proto::{google::rpc::Status, gw};
use crate::subrequests;

/// Runs the frontend over stdio: one build (or its error) is returned to BuildKit.
pub async fn serve() -> Result<()> {
    let opts = Opts::from_env();
    let session = std::env::var("BUILDKIT_SESSION_ID").unwrap_or_default();
    let mut client = gateway::connect_stdio().await?;
    let outcome = build(&mut client, &opts, &session).await;
    let request = match outcome {
        Ok(result) => gw::ReturnRequest { result: Some(result), error: None },
        Err(Failure(status)) => gw::ReturnRequest { result: None, error: Some(status) },
    };
    client.r#return(request).await.context("returning the result to BuildKit")?;
    Ok(())
}

/// Why a build failed, as the status BuildKit shows the user.
struct Failure(Status);

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure(errors::status_of(&e))
    }
}

async fn build(client: &mut Client, opts: &Opts, session: &str) -> Result<gw::Result, Failure> {
    let ctx = opts.context_source()?;
    let pong = client.ping(gw::PingRequest {}).await.context("ping")?.into_inner();
    let caps = Caps::from_pong(&pong);
    // What reading the spec and the context uses; each build's graph is checked once lowered.
    caps.require_llb(["source.local.sharedkeyhint", "source.local.differ", "source.local.followpaths"])?;
    if let ContextSource::Git(git) = &ctx {
        let mut g = llb::Graph::new();
        let out = git.add(&mut g, false);
        caps.require_llb(llb::caps::used(&g.marshal(Some(out))))?;
    }
    if let Some(id) = opts.request_id() {
        return subrequest(client, opts, session, id, &caps, &ctx).await;
    }

    let filename = opts.filename().to_string();
    let (spec_bytes, spec_vertex) = read_spec(client, opts, session, &filename, &ctx).await?;
    let loaded = llb_gen::load(&filename, &spec_bytes, &opts.build_args()).map_err(|d| Failure(errors::spec_status(&d)))?;
    // Warnings reach buildx's output with their spec location, on a BuildKit that takes them.
    let can_warn = caps.frontend.iter().any(|c| c == "gateway.warnings") && !spec_vertex.is_empty();
    if can_warn {
        for w in &loaded.warnings.items {
            gateway::warn(client, &spec_vertex, &filename, &spec_bytes, w).await?;
        }
    }
    let skipped_rules = loaded.skipped_rules;
    let mut spec = loaded.spec;
    // `--target binaries`: the binaries alone, for `--output type=local` (release archives).
    let binaries_only = opts.target() == Some(llb_gen::spec::BINARIES_TARGET);
    if let Some(name) = opts.target().filter(|_| !binaries_only) {
        spec = only_target(spec, name)?;
    }
    let mirror = effective_mirror(&spec, opts.registry_mirror()).map(str::to_string);
    let build_platform = caps.build_platform.clone().unwrap_or_else(host_platform);
    let targets = target_platforms(opts, &spec, &build_platform)?;

    // The module's go.mod (or go.work) chooses the Go release, unless the spec does.
    let facts = read_context_facts(client, opts, session, &ctx, &spec.module.value).await?;
    let go_module = facts.go_module()?;
    let release = llb_gen::toolchain::choose(&spec, go_module.as_ref());
    let named = NamedContexts::classify(opts.named_contexts()?, &spec, &release)?;
    let images = Images { mirror: mirror.as_deref(), overrides: &named.images };
    let spec_text = String::from_utf8_lossy(&spec_bytes).into_owned();
    let builder = match resolve_builder(client, opts, &spec, &release, &images, &build_platform, &filename).await {
        Ok(b) => b,
        Err(e) => return Err(builder_failure(e, &spec, &release, &images, go_module.as_ref(), &filename, &spec_text)),
    };
    check_release(&release, &builder, go_module.as_ref(), &filename, &spec_bytes)?;
    let support = llb_gen::toolchain::support_warning(&release, &filename).filter(|(_, w)| !w.rule.is_some_and(|r| skipped_rules.contains(&r)));
    if let Some((file, w)) = support.filter(|_| can_warn) {
        match (&file, &go_module) {
            (Some(path), Some(m)) => gateway::warn(client, &spec_vertex, path, m.source.as_bytes(), &w).await?,
            _ => gateway::warn(client, &spec_vertex, &filename, &spec_bytes, &w).await?,
        }
    }
    let module_file = named.module_file(&facts, &spec)?;
    check_files(client, opts, session, &ctx, &spec, &facts.excludes, &filename, &spec_bytes).await?;
    let bases = if binaries_only && !llb_gen::lower::needs_base_for_binaries(&spec) {
        Vec::new()
    } else {
        resolve_bases(client, opts, &mut spec, &images, &targets, &filename, &spec_bytes).await?
    };
    // A cgo build under emulation runs the builder image of its target platform.
    let mut target_builders: BTreeMap<String, BuilderImage> = BTreeMap::new();
    for target in targets.iter().filter(|t| cgo_emulated(&spec, &build_platform, t)) {
        let b = resolve_builder(client, opts, &spec, &release, &images, target, &filename)
            .await
            .map_err(|e| builder_failure(e, &spec, &release, &images, go_module.as_ref(), &filename, &spec_text))?;
        check_release(&release, &b, go_module.as_ref(), &filename, &spec_bytes)?;
        target_builders.insert(target.id(), b);
    }
    let build_facts = build_facts(opts)?;
    let labels = opts.labels();
    let go_args = llb_gen::golang::module_fetch_env(&opts.build_args());
    let proxy = llb_gen::golang::proxy_env(&opts.build_args());
    let cache_imports = opts.cache_imports()?;
    let sbom_wanted = opts.sbom() && !binaries_only;

    let mut jobs = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let lowered = lower(&LowerInput {
            spec: &spec,
            spec_file: &filename,
            spec_data: &spec_bytes,
            target,
            build_platform: &build_platform,
            go_release: &release,
            go_module: go_module.as_ref(),
            builder: &builder,
            target_builder: target_builders.get(&target.id()),
            session_id: session,
            context_excludes: &facts.excludes,
            no_cache: opts.no_cache(),
            labels: &labels,
            no_download: facts.no_download,
            go_args: &go_args,
            base: bases.get(i),
            facts: &build_facts,
            binaries_only,
            context_source: &ctx,
            replacements: &named.modules,
            module_file: module_file.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
            proxy: proxy.as_ref(),
        })
        .map_err(|e| anyhow::anyhow!(e))?;
        caps.require_llb(llb::caps::used(&lowered.definition))?;
        let mut c = client.clone();
        let imports = cache_imports.clone();
        let target = target.clone();
        // The SBOM, from the binaries' build information (not for `--target binaries`).
        let sbom = lowered
            .build_info
            .filter(|_| sbom_wanted)
            .map(|def| (def, spec.name.value.clone(), spec.targets.iter().map(|t| t.name.value.clone()).collect::<Vec<_>>()));
        let created = build_facts.created.clone();
        jobs.push(tokio::spawn(async move {
            let id = gateway::solve(&mut c, lowered.definition, imports.clone()).await.with_context(|| format!("building {target}"))?;
            let sbom = match sbom {
                Some((def, name, binaries)) => {
                    Some(make_sbom(&mut c, def, imports, &name, &binaries, &target, created).await.with_context(|| format!("the SBOM of {target}"))?)
                }
                None => None,
            };
            Ok::<_, anyhow::Error>(Built { platform: target, id, config: lowered.config, sbom })
        }));
    }
    let mut built: Vec<Built> = Vec::new();
    for job in jobs {
        built.push(job.await.context("a platform's build task failed")??);
    }
    let annotations = if binaries_only { BTreeMap::new() } else { spec.runtime.annotations.clone() };
    Ok(result(built, opts.multi_platform(), &annotations))
}

/// The platforms to build: `--platform`'s, else the spec's, else the build platform.
fn target_platforms(opts: &Opts, spec: &llb_gen::Spec, build: &Platform) -> Result<Vec<Platform>> {
    let mut targets = opts.platforms()?;
    if targets.is_empty() {
        targets = spec.platforms.iter().map(|p| p.value.clone()).collect();
    }
    if targets.is_empty() {
        targets.push(build.clone());
    }
    Ok(targets)
}

/// Answers `--call NAME` (see [`subrequests`]) instead of building.
async fn subrequest(client: &mut Client, opts: &Opts, session: &str, id: &str, caps: &Caps, ctx: &ContextSource) -> Result<gw::Result, Failure> {
    let Some(name) = subrequests::known(id) else {
        let names: Vec<&str> = subrequests::REQUESTS.iter().map(|(n, _)| n.trim_start_matches("frontend.")).collect();
        return Err(anyhow::anyhow!("goapp does not answer the request `{id}`; it answers: {}", names.join(", ")).into());
    };
    match name {
        "frontend.subrequests.describe" => return Ok(subrequests::describe()),
        "frontend.goapp.schema" => return Ok(subrequests::schema()),
        _ => {}
    }
    let filename = opts.filename().to_string();
    let (data, _) = read_spec(client, opts, session, &filename, ctx).await?;
    let loaded = llb_gen::load(&filename, &data, &opts.build_args());
    if name == "frontend.lint" {
        let diags = match &loaded {
            Ok(l) => &l.warnings,
            Err(d) => d,
        };
        return Ok(subrequests::lint(&filename, &data, diags));
    }
    let loaded = loaded.map_err(|d| Failure(errors::spec_status(&d)))?;
    if name == "frontend.targets" {
        return Ok(subrequests::targets(&filename, &data, &loaded));
    }
    // The others say which Go builds the program, as go.mod (or the spec) chooses it.
    let facts = read_context_facts(client, opts, session, ctx, &loaded.spec.module.value).await?;
    let go_module = facts.go_module()?;
    match name {
        "frontend.outline" => {
            let release = llb_gen::toolchain::choose(&loaded.spec, go_module.as_ref());
            Ok(subrequests::outline(&filename, &data, &loaded, &release))
        }
        "frontend.goapp.llb" => {
            let build = caps.build_platform.clone().unwrap_or_else(host_platform);
            let targets = target_platforms(opts, &loaded.spec, &build)?;
            Ok(subrequests::llb(&loaded.spec, &filename, &data, &targets, &build, opts.registry_mirror(), &opts.build_args(), go_module.as_ref())?)
        }
        other => unreachable!("{other} is answered above"),
    }
}

/// One platform's build: its result, image config and SBOM (a result holding
/// [`SBOM_FILE`]).
struct Built {
    platform: Platform,
    id: String,
    config: ImageConfig,
    sbom: Option<String>,
}

const SBOM_FILE: &str = "sbom.spdx.json";

/// Solves the build information of the binaries, reads it, and solves the SPDX document made
/// of it into a result of its own.
async fn make_sbom(
    client: &mut Client,
    build_info: llb::pb::Definition,
    imports: Vec<gw::CacheOptionsEntry>,
    name: &str,
    binaries: &[String],
    platform: &Platform,
    created: Option<String>,
) -> Result<String> {
    let info = gateway::solve(client, build_info, imports).await?;
    let mut infos = Vec::new();
    for b in binaries {
        let text = gateway::read_file(client, &info, &format!("{b}.txt")).await?.with_context(|| format!("no build information of {b}"))?;
        let parsed = llb_gen::sbom::parse_version_m(&String::from_utf8_lossy(&text)).map_err(|e| anyhow::anyhow!("{b}: {e}"))?;
        infos.push((b.clone(), parsed));
    }
    let created = created.unwrap_or_else(|| humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string());
    let doc = llb_gen::sbom::spdx(name, &platform.id(), &created, &infos);
    let mut g = llb::Graph::new();
    let data = serde_json::to_vec_pretty(&doc).expect("json");
    let file = g.file(None, vec![llb::FileAction::Mkfile(llb::Mkfile { path: format!("/{SBOM_FILE}"), mode: 0o644, data, owner: None })]);
    g.meta(file.op).name = Some(format!("[{platform}] SBOM: {SBOM_FILE}"));
    gateway::solve(client, g.marshal(Some(file)), vec![]).await
}

/// The result BuildKit's exporters expect: for several platforms (or when an index is asked
/// for), refs keyed by platform id with `containerimage.config/<id>`; otherwise one ref with
/// `containerimage.config`. `refs.platforms` is always there. SBOMs are in-toto attestations
/// of their platform's image.
fn result(built: Vec<Built>, force_multi: bool, annotations: &BTreeMap<String, String>) -> gw::Result {
    let mut attestations = BTreeMap::new();
    for b in &built {
        if let Some(sbom) = &b.sbom {
            let a = gw::Attestation {
                kind: gw::AttestationKind::InToto as i32,
                r#ref: Some(gw::Ref { id: sbom.clone(), def: None }),
                path: SBOM_FILE.into(),
                in_toto_predicate_type: "https://spdx.dev/Document".into(),
                in_toto_subjects: vec![gw::InTotoSubject { kind: gw::InTotoSubjectKind::Self_ as i32, ..Default::default() }],
                ..Default::default()
            };
            attestations.insert(b.platform.id(), gw::Attestations { attestation: vec![a] });
        }
    }
    let built: Vec<(Platform, String, ImageConfig)> = built.into_iter().map(|b| (b.platform, b.id, b.config)).collect();
    let multi = force_multi || built.len() > 1;
    let mut metadata: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    // The image exporter reads annotations from the result metadata (keys as BuildKit's
    // exptypes spells them): on every manifest, and on the index when there is one.
    for (k, v) in annotations {
        metadata.insert(format!("annotation-manifest.{k}"), v.clone().into_bytes());
        if multi {
            metadata.insert(format!("annotation-index.{k}"), v.clone().into_bytes());
        }
    }
    let platforms: Vec<serde_json::Value> = built.iter().map(|(p, _, _)| serde_json::json!({"ID": p.id(), "Platform": p.to_oci_json()})).collect();
    metadata.insert("refs.platforms".into(), serde_json::to_vec(&serde_json::json!({ "Platforms": platforms })).expect("json"));
    let result = if multi {
        let mut refs = BTreeMap::new();
        for (p, id, config) in built {
            metadata.insert(format!("containerimage.config/{}", p.id()), serde_json::to_vec(&config).expect("json"));
            refs.insert(p.id(), gw::Ref { id, def: None });
        }
        gw::result::Result::Refs(gw::RefMap { refs })
    } else {
        let (_, id, config) = built.into_iter().next().expect("one platform");
        metadata.insert("containerimage.config".into(), serde_json::to_vec(&config).expect("json"));
        gw::result::Result::Ref(gw::Ref { id, def: None })
    };
    gw::Result { result: Some(result), metadata, attestations }
}

fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    Platform::new("linux", arch, None)
}

/// The `follow` paths of a local source (the spec's or the context's).
fn follow(paths: &[&str]) -> BTreeMap<String, String> {
    [(llb::attr::LOCAL_FOLLOW.to_string(), serde_json::to_string(paths).expect("json"))].into()
}

/// Solves a local source of the client (with `attrs`: which paths) and returns its result
/// and the digest of its vertex.
async fn solve_local_vertex(
    client: &mut Client,
    name: &str,
    session: &str,
    mut attrs: BTreeMap<String, String>,
    shared_key: &str,
    title: String,
) -> Result<(String, String)> {
    attrs.insert(llb::attr::LOCAL_SHARED_KEY_HINT.to_string(), shared_key.to_string());
    attrs.insert(llb::attr::LOCAL_DIFFER.to_string(), "none".to_string());
    if !session.is_empty() {
        attrs.insert(llb::attr::LOCAL_SESSION.to_string(), session.to_string());
    }
    let mut g = llb::Graph::new();
    let out = g.local(name, attrs);
    g.meta(out.op).name = Some(title.clone());
    let def = g.marshal(Some(out));
    let digest = gateway::head_digest(&def).unwrap_or_default();
    let id = gateway::solve(client, def, vec![]).await.context(title)?;
    Ok((id, digest))
}

/// Files of the build context: the local directory's `paths` (with `attrs`, under
/// `shared_key`), or the whole git repository.
async fn context_files(
    client: &mut Client,
    opts: &Opts,
    session: &str,
    ctx: &ContextSource,
    attrs: BTreeMap<String, String>,
    shared_key: &str,
    title: String,
) -> Result<(String, String)> {
    match ctx {
        ContextSource::Local => solve_local_vertex(client, opts.context_local_name(), session, attrs, shared_key, title).await,
        ContextSource::Git(git) => {
            let mut g = llb::Graph::new();
            let out = git.add(&mut g, false);
            g.meta(out.op).name = Some(format!("[internal] load git source {git}"));
            let def = g.marshal(Some(out));
            let digest = gateway::head_digest(&def).unwrap_or_default();
            let id = gateway::solve(client, def, vec![]).await.with_context(|| format!("fetching {git}"))?;
            Ok((id, digest))
        }
    }
}

/// The spec's bytes, and the digest of the vertex that loaded them.
async fn read_spec(client: &mut Client, opts: &Opts, session: &str, filename: &str, ctx: &ContextSource) -> Result<(Vec<u8>, String)> {
    let title = format!("[internal] load build definition from {filename}");
    // With a git context the spec is a file of the repository, unless buildx sends it from
    // the client (an absolute `-f` path, or `-f -`), as the `dockerfilekey` directory.
    let from_git = matches!(ctx, ContextSource::Git(_)) && opts.get("dockerfilekey").is_none();
    let (id, digest) = if from_git {
        context_files(client, opts, session, ctx, BTreeMap::new(), "", title).await?
    } else {
        solve_local_vertex(client, opts.spec_local_name(), session, follow(&[filename]), "dockerfile", title).await?
    };
    match gateway::read_file(client, &id, filename).await? {
        Some(data) => Ok((data, digest)),
        None => match ctx {
            ContextSource::Git(git) if from_git => bail!("{filename} was not found in {git}: -f names a file of the repository"),
            _ => bail!("{filename} was not found: pass the spec with -f"),
        },
    }
}

/// What the build needs to know of the context before planning.
struct ContextFacts {
    /// `.dockerignore` patterns (read as the Dockerfile frontend reads them; none for a git
    /// context, as with Dockerfiles).
    excludes: Vec<String>,
    /// Whether the module needs no download: it is vendored, or has no go.sum and no go.work
    /// (it requires no module).
    no_download: bool,
    /// Whether it has `vendor/modules.txt`.
    vendored: bool,
    /// The module's go.mod and go.work (path in the context, text), when present.
    go_mod: Option<(String, String)>,
    go_work: Option<(String, String)>,
}

impl ContextFacts {
    /// The Go lines of the workspace's go.work, else of the module's go.mod; a line Go
    /// would refuse is an error at its line and column.
    fn go_module(&self) -> Result<Option<ModFile>, Failure> {
        let Some((path, text)) = self.go_work.as_ref().or(self.go_mod.as_ref()) else { return Ok(None) };
        ModFile::parse(path, text).map(Some).map_err(|d| Failure(errors::spec_status(&d)))
    }
}

/// Reads [`ContextFacts`]; of a local context, only those files are transferred.
async fn read_context_facts(client: &mut Client, opts: &Opts, session: &str, ctx: &ContextSource, module: &str) -> Result<ContextFacts> {
    let in_module = |f: &str| if module == "." { f.to_string() } else { format!("{module}/{f}") };
    let (modules_txt, go_sum, go_work, go_mod) = (in_module("vendor/modules.txt"), in_module("go.sum"), in_module("go.work"), in_module("go.mod"));
    let (id, _) = context_files(
        client,
        opts,
        session,
        ctx,
        follow(&[".dockerignore", &modules_txt, &go_sum, &go_work, &go_mod]),
        "context-.dockerignore",
        "[internal] load .dockerignore, go.mod and vendor/modules.txt".into(),
    )
    .await?;
    let excludes = match (ctx, gateway::read_file(client, &id, ".dockerignore").await?) {
        (ContextSource::Local, Some(data)) => dockerignore_patterns(&String::from_utf8_lossy(&data)),
        _ => Vec::new(),
    };
    let vendored = gateway::exists(client, &id, &modules_txt).await?;
    let text = |b: Option<Vec<u8>>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
    let work_text = text(gateway::read_file(client, &id, &go_work).await?);
    let requires_nothing = gateway::read_file(client, &id, &go_sum).await?.is_none_or(|s| s.iter().all(u8::is_ascii_whitespace)) && work_text.is_none();
    Ok(ContextFacts {
        excludes,
        no_download: vendored || requires_nothing,
        vendored,
        go_mod: text(gateway::read_file(client, &id, &go_mod).await?).map(|t| (go_mod, t)),
        go_work: work_text.map(|t| (go_work, t)),
    })
}

/// `--build-context` entries, sorted by what they stand in for.
#[derive(Default)]
struct NamedContexts {
    /// Images the build pulls (the builder, the base; as written in the spec), replaced by
    /// another image (`docker-image://REF`).
    images: Vec<(ImageRef, ImageRef)>,
    /// Go modules, replaced by a directory or a git repository.
    modules: Vec<Replacement>,
}

impl NamedContexts {
    /// A name that is the builder or the base image (as `--build-context` normalizes image
    /// names: `golang:1.27` is `docker.io/library/golang:1.27`) replaces that image; any
    /// other name is a Go module path.
    fn classify(named: BTreeMap<String, String>, spec: &llb_gen::Spec, release: &GoRelease) -> Result<Self> {
        let mut out = NamedContexts::default();
        let builder = builder_reference(spec, release, None);
        let base = base_reference(spec, None);
        for (name, value) in named {
            let image = ImageRef::parse(&name).ok().filter(|r| *r == builder || Some(r) == base.as_ref());
            if let Some(image) = image {
                let Some(with) = value.strip_prefix("docker-image://") else {
                    bail!(
                        "--build-context {name}={value}: {name} is an image of the build; replace it with another image: --build-context {name}=docker-image://REF"
                    );
                };
                let with = ImageRef::parse(with).map_err(|e| anyhow::anyhow!("--build-context {name}: {e}"))?;
                out.images.push((image, with));
                continue;
            }
            let source = if let Some(local) = value.strip_prefix("local:") {
                NamedSource::Local(local.to_string())
            } else if let Ok(git) = GitSource::parse(&value) {
                NamedSource::Git(git)
            } else {
                let images = std::iter::once(builder.to_string()).chain(base.iter().map(|b| b.to_string())).collect::<Vec<_>>().join(", ");
                bail!(
                    "--build-context {name}={value}: goapp takes a directory or a git repository (https://host/repo.git#ref) in place of a Go module, and docker-image://REF in place of an image of the build ({images})"
                );
            };
            out.modules.push(Replacement { module: name, source });
        }
        Ok(out)
    }

    /// The go.work (in a workspace) or go.mod with the `replace` directives of the module
    /// replacements; `None` without any. Each module must be one go.mod requires.
    fn module_file(&self, facts: &ContextFacts, spec: &llb_gen::Spec) -> Result<Option<(String, String)>> {
        if self.modules.is_empty() {
            return Ok(None);
        }
        // vendor/modules.txt would no longer match go.mod: Go refuses to build.
        let vendor_mode = spec.go.module_mode == Some(llb_gen::spec::raw::ModMode::Vendor);
        if vendor_mode || (facts.vendored && spec.go.module_mode.is_none()) {
            bail!(
                "--build-context {}: the build uses vendor/, which a replaced module would make inconsistent; set `go.mod: mod` in the spec to build from downloaded modules",
                self.modules[0].module
            );
        }
        let Some(go_mod) = &facts.go_mod else {
            bail!("--build-context {}: the build context has no go.mod to replace the module in", self.modules[0].module);
        };
        let (mod_path, mod_text) = go_mod;
        for r in &self.modules {
            if !llb_gen::context::requires(mod_text, &r.module) {
                bail!(
                    "--build-context {}: {mod_path} does not require the module {0}, and it is not an image of the build; name a module that go.mod requires, or the builder or base image",
                    r.module
                );
            }
        }
        let (path, text) = facts.go_work.as_ref().unwrap_or(go_mod);
        let edited = llb_gen::context::with_replacements(text, path, &self.modules).map_err(|e| anyhow::anyhow!("--build-context: {e}"))?;
        Ok(Some((path.clone(), edited)))
    }
}

/// How the frontend names the images it pulls: through the registry mirror, unless a named
/// context replaces the image.
struct Images<'a> {
    mirror: Option<&'a str>,
    overrides: &'a [(ImageRef, ImageRef)],
}

impl Images<'_> {
    fn builder(&self, spec: &llb_gen::Spec, release: &GoRelease) -> ImageRef {
        let written = builder_reference(spec, release, None);
        self.overridden(&written).unwrap_or_else(|| builder_reference(spec, release, self.mirror))
    }

    fn base(&self, spec: &llb_gen::Spec) -> Option<ImageRef> {
        let written = base_reference(spec, None)?;
        Some(self.overridden(&written).unwrap_or_else(|| base_reference(spec, self.mirror).expect("a base image")))
    }

    fn overridden(&self, written: &ImageRef) -> Option<ImageRef> {
        self.overrides.iter().find(|(r, _)| r == written).map(|(_, with)| with.clone())
    }
}

/// Parses `.dockerignore`: comments and blank lines dropped, each pattern trimmed, cleaned and
/// made relative to the context root; a leading `!` (re-include) is kept.
pub fn dockerignore_patterns(text: &str) -> Vec<String> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (neg, pat) = match l.strip_prefix('!') {
                Some(p) => ("!", p.trim()),
                None => ("", l),
            };
            let parts: Vec<&str> = pat.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
            (!parts.is_empty()).then(|| format!("{neg}{}", parts.join("/")))
        })
        .collect()
}

/// Checks that every `runtime.files` source is in the build context (after `.dockerignore`),
/// so that a missing file or a wrong letter case is reported at its spec line with the name
/// it probably meant, before anything builds.
#[allow(clippy::too_many_arguments)]
async fn check_files(
    client: &mut Client,
    opts: &Opts,
    session: &str,
    ctx: &ContextSource,
    spec: &llb_gen::Spec,
    excludes: &[String],
    filename: &str,
    spec_bytes: &[u8],
) -> Result<(), Failure> {
    let files = &spec.runtime.files;
    if files.is_empty() {
        return Ok(());
    }
    let srcs: Vec<&str> = files.iter().map(|f| f.src.value.as_str()).collect();
    let mut attrs = follow(&srcs);
    attrs.insert(llb::attr::LOCAL_EXCLUDE.to_string(), serde_json::to_string(excludes).expect("json"));
    let (id, _) = context_files(client, opts, session, ctx, attrs, "context-files", "[internal] check runtime.files".into()).await?;
    let mut diags = Vec::new();
    for f in files {
        if gateway::exists(client, &id, &f.src.value).await? {
            continue;
        }
        // What the directory holds, to suggest the name meant (one level, no contents).
        let (parent, base) = match f.src.value.rsplit_once('/') {
            Some((p, b)) => (p.to_string(), b.to_string()),
            None => (".".to_string(), f.src.value.clone()),
        };
        let prefix = if parent == "." { String::new() } else { format!("{parent}/") };
        let mut attrs = BTreeMap::new();
        attrs.insert(llb::attr::LOCAL_INCLUDE.to_string(), serde_json::to_string(&[format!("{prefix}*")]).expect("json"));
        attrs.insert(llb::attr::LOCAL_EXCLUDE.to_string(), serde_json::to_string(&[format!("{prefix}*/*")]).expect("json"));
        let title = "[internal] list a runtime.files directory".to_string();
        let (listing, _) = context_files(client, opts, session, ctx, attrs, "context-files-listing", title).await?;
        let names = gateway::read_dir(client, &listing, &parent).await?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let near = refs.iter().find(|n| n.eq_ignore_ascii_case(&base)).copied().or_else(|| llb_gen::diag::similar(&base, &refs));
        let hint = match near {
            Some(n) => format!("did you mean `{prefix}{n}`? (paths are case-sensitive)"),
            None => "paths are relative to the build context (the directory given to `docker buildx build`) and case-sensitive; check .dockerignore too".into(),
        };
        diags.push(llb_gen::Diagnostic::error(f.src.span, format!("`{}` is not in the build context", f.src.value)).hint(hint));
    }
    if diags.is_empty() {
        return Ok(());
    }
    let d = llb_gen::Diagnostics { file: filename.into(), source: String::from_utf8_lossy(spec_bytes).into_owned(), items: diags };
    Err(Failure(errors::spec_status(&d)))
}

/// `--target NAME`: the spec with that target only, which is then the entrypoint.
fn only_target(mut spec: llb_gen::Spec, name: &str) -> Result<llb_gen::Spec> {
    let names: Vec<&str> = spec.targets.iter().map(|t| t.name.value.as_str()).collect();
    let Some(i) = names.iter().position(|n| *n == name) else {
        let hint = llb_gen::diag::did_you_mean(name, &names, || {
            format!("the spec's targets are: {}, and `{}` builds them alone", names.join(", "), llb_gen::spec::BINARIES_TARGET)
        });
        bail!("--target {name}: the spec has no target named `{name}`; {hint}");
    };
    let t = spec.targets.swap_remove(i);
    if let Some(h) = &spec.runtime.healthcheck {
        let program = &h.command[0];
        let left_out = spec.targets.iter().any(|o| *program == format!("{}/{}", llb_gen::lower::BIN_DIR, o.name.value));
        if left_out {
            bail!(
                "--target {name}: the health check runs {program}, which this build leaves out of the image; build that target, or change runtime.healthcheck"
            );
        }
    }
    spec.targets = vec![t];
    spec.runtime.entrypoint = 0;
    Ok(spec)
}

/// Labels' facts: the repository and commit buildx sends for a git context, and the time
/// of `SOURCE_DATE_EPOCH`.
fn build_facts(opts: &Opts) -> Result<BuildFacts> {
    let created = match opts.build_arg("SOURCE_DATE_EPOCH").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => {
            let secs: u64 = v.parse().with_context(|| format!("SOURCE_DATE_EPOCH={v} is not a number of seconds"))?;
            Some(humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)).to_string())
        }
    };
    let get = |k: &str| opts.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    Ok(BuildFacts { vcs_source: get("vcs:source"), vcs_revision: get("vcs:revision"), created })
}

/// Resolves a pulled runtime base for every target platform: its digest and config, and
/// whether it has a CA bundle, zoneinfo and (for a user name) the user. The base is solved
/// (pulled, not run) to look at its files.
async fn resolve_bases(
    client: &mut Client,
    opts: &Opts,
    spec: &mut llb_gen::Spec,
    images: &Images<'_>,
    targets: &[Platform],
    filename: &str,
    spec_bytes: &[u8],
) -> Result<Vec<BaseImage>, Failure> {
    let Some(reference) = images.base(spec) else {
        return Ok(Vec::new());
    };
    let replaced_by = base_reference(spec, None).and_then(|written| images.overridden(&written));
    let want_libc = spec.go.cgo.as_ref().is_some_and(|c| !c.static_link);
    let mut jobs = Vec::new();
    for target in targets {
        let mut c = client.clone();
        let (reference, target, mode, replaced_by) = (reference.clone(), target.clone(), opts.image_resolve_mode().to_string(), replaced_by.clone());
        jobs.push(tokio::spawn(async move {
            let log_name = format!("[internal] load metadata for {reference} ({target})");
            let (digest, config) = resolve_image(&mut c, &reference, &target, &mode, log_name).await.map_err(|cause| Unresolved {
                reference: reference.clone(),
                platform: target.clone(),
                cause: format!("{cause:#}"),
            })?;
            let pinned = match &digest {
                Some(d) => reference.pinned(d),
                None => reference.clone(),
            };
            let mut g = llb::Graph::new();
            let image = g.image(&pinned.to_string(), &target, BTreeMap::new());
            g.meta(image.op).name = Some(format!("[internal] inspect {pinned} ({target})"));
            let id = gateway::solve(&mut c, g.marshal(Some(image)), vec![]).await.with_context(|| format!("pulling {reference} for {target}"))?;
            let has_ca_certificates = gateway::exists(&mut c, &id, "/etc/ssl/certs/ca-certificates.crt").await?;
            let has_zoneinfo = gateway::exists(&mut c, &id, "/usr/share/zoneinfo").await?;
            let passwd = gateway::read_file(&mut c, &id, "/etc/passwd").await?.map(|b| String::from_utf8_lossy(&b).into_owned());
            // glibc, where Debian-like and other distributions keep it.
            let libc = match llb_gen::golang::c_target(&target) {
                _ if !want_libc => true,
                Ok(ct) => {
                    let mut found = false;
                    for dir in [
                        format!("/lib/{}", ct.triplet),
                        format!("/usr/lib/{}", ct.triplet),
                        "/lib64".into(),
                        "/usr/lib64".into(),
                        "/lib".into(),
                        "/usr/lib".into(),
                    ] {
                        if gateway::exists(&mut c, &id, &format!("{dir}/libc.so.6")).await? {
                            found = true;
                            break;
                        }
                    }
                    found
                }
                Err(_) => false,
            };
            Ok::<_, anyhow::Error>((BaseImage { reference, digest, config, has_ca_certificates, has_zoneinfo, replaced_by }, passwd, libc, target))
        }));
    }
    let mut bases = Vec::new();
    let written_base = base_reference(spec, None);
    let spec_text = String::from_utf8_lossy(spec_bytes).into_owned();
    for job in jobs {
        let (base, passwd, libc, target) = match job.await.context("resolving the runtime base failed")? {
            Ok(r) => r,
            Err(e) => {
                let Some(written) = written_base.as_ref() else { return Err(Failure::from(e)) };
                let place = errors::Place { file: filename, source: &spec_text, span: spec.runtime.base.span };
                let hint = "check runtime.base, and that its registry has the image for every platform";
                return Err(unresolved_failure(e, "runtime base", written, images, place, hint));
            }
        };
        let written = spec.runtime.base_image.as_ref().map(|r| r.to_string()).unwrap_or_default();
        llb_gen::resolve_user_name(spec, filename, spec_bytes, &written, passwd.as_deref()).map_err(|d| Failure(errors::spec_status(&d)))?;
        if !libc {
            let d = llb_gen::Diagnostic::error(
                spec.runtime.base.span,
                format!("the base `{written}` has no glibc (libc.so.6) for {target}, and with `cgo: true` the binaries link it dynamically"),
            )
            .hint("use a base with glibc (`distroless/cc`, `distroless/base` or `debian`), or set `go.static: true` to link the C libraries into the binaries");
            let d = llb_gen::Diagnostics { file: filename.into(), source: String::from_utf8_lossy(spec_bytes).into_owned(), items: vec![d] };
            return Err(Failure(errors::spec_status(&d)));
        }
        bases.push(base);
    }
    Ok(bases)
}

/// Resolves the builder image for a platform; its progress line says which Go release it
/// was chosen by, and where that came from.
async fn resolve_builder(
    client: &mut Client,
    opts: &Opts,
    spec: &llb_gen::Spec,
    release: &GoRelease,
    images: &Images<'_>,
    build_platform: &Platform,
    spec_file: &str,
) -> Result<BuilderImage> {
    let reference = images.builder(spec, release);
    let log_name = format!("[internal] load metadata for {reference} ({build_platform}): {}", release.describe(spec_file));
    let (digest, config) = resolve_image(client, &reference, build_platform, opts.image_resolve_mode(), log_name).await.map_err(|cause| Unresolved {
        reference: reference.clone(),
        platform: build_platform.clone(),
        cause: format!("{cause:#}"),
    })?;
    Ok(BuilderImage { reference, digest, env: config.config.env.unwrap_or_default() })
}

/// An image of the build (the builder or the base) that BuildKit could not resolve: the
/// reference it looked up, for which platform, and why.
#[derive(Debug)]
struct Unresolved {
    reference: ImageRef,
    platform: Platform,
    cause: String,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot resolve {} for {}: {}", self.reference, self.platform, self.cause)
    }
}

impl std::error::Error for Unresolved {}

/// Where an image the build could not resolve was chosen, and what to do: the error names
/// the image as the spec (or go.mod) implies it, the reference looked up, through which
/// registry mirror or `--build-context`, and points at the line that chose it.
fn unresolved_failure(e: anyhow::Error, what: &str, written: &ImageRef, images: &Images<'_>, place: errors::Place<'_>, hint: &str) -> Failure {
    let Some(u) = e.chain().find_map(|c| c.downcast_ref::<Unresolved>()) else { return Failure::from(e) };
    let how = match (images.overridden(written), images.mirror) {
        (Some(with), _) => format!("replaced by --build-context with {with}"),
        (None, Some(m)) if u.reference != *written => format!("looked up as {} through the registry mirror {m}", u.reference),
        (None, _) => format!("looked up as {}", u.reference),
    };
    let message = format!("cannot resolve the {what} `{written}` for {} ({how}): {} ({hint})", u.platform, u.cause);
    Failure(errors::located_status(&message, &[place]))
}

/// [`unresolved_failure`] of the builder, at the line that chose its release.
fn builder_failure(
    e: anyhow::Error,
    spec: &llb_gen::Spec,
    release: &GoRelease,
    images: &Images<'_>,
    module: Option<&ModFile>,
    spec_file: &str,
    spec_text: &str,
) -> Failure {
    use llb_gen::toolchain::Origin;
    let written = builder_reference(spec, release, None);
    let spec_place = |span| errors::Place { file: spec_file, source: spec_text, span };
    let (place, hint) = match (&release.origin, module) {
        (Origin::SpecImage(span), _) => (spec_place(*span), "check go.image, and that its registry has it".to_string()),
        (Origin::SpecVersion(span), _) => {
            (spec_place(*span), format!("check go.version: Go releases goapp supports are {}", llb_gen::toolchain::SUPPORTED_RELEASES.join(", ")))
        }
        (Origin::Toolchain(_, span) | Origin::GoLine(_, span), Some(m)) => (
            errors::Place { file: &m.path, source: &m.source, span: *span },
            format!("the release comes from {}; set go.version in the spec to build with another", release.source(spec_file)),
        ),
        _ => (spec_place(spec.name.span), "goapp's default builder; set go.version or go.image".to_string()),
    };
    unresolved_failure(e, "builder image", &written, images, place, &hint)
}

/// Refuses, before anything compiles, a builder whose Go is older than the module's `go`
/// line ([`llb_gen::toolchain::check`]), pointing at go.mod's line and the spec's.
fn check_release(release: &GoRelease, builder: &BuilderImage, module: Option<&ModFile>, spec_file: &str, spec_bytes: &[u8]) -> Result<(), Failure> {
    let image_go = llb_gen::toolchain::image_go_version(&builder.env);
    let Err(m) = llb_gen::toolchain::check(release, spec_file, &builder.reference.to_string(), image_go, module) else { return Ok(()) };
    let (mod_path, mod_text, mod_span) = &m.module;
    let mut places = vec![errors::Place { file: mod_path, source: mod_text, span: *mod_span }];
    let spec_text = String::from_utf8_lossy(spec_bytes);
    if let Some(span) = m.spec {
        places.push(errors::Place { file: spec_file, source: &spec_text, span });
    }
    Err(Failure(errors::located_status(&format!("{} ({})", m.message, m.hint), &places)))
}

/// The digest and config of an image for a platform, as BuildKit resolves them.
async fn resolve_image(client: &mut Client, reference: &ImageRef, platform: &Platform, mode: &str, log_name: String) -> Result<(Option<String>, ImageConfig)> {
    let resp = client
        .resolve_image_config(gw::ResolveImageConfigRequest {
            r#ref: reference.to_string(),
            platform: Some(platform.to_pb()),
            resolve_mode: mode.to_string(),
            log_name,
            ..Default::default()
        })
        .await?
        .into_inner();
    let config: ImageConfig = serde_json::from_slice(&resp.config).with_context(|| format!("the config of {reference} is not an image config"))?;
    Ok(((!resp.digest.is_empty()).then_some(resp.digest), config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(platform: &str, id: &str, config: ImageConfig, sbom: Option<&str>) -> Built {
        Built { platform: Platform::parse(platform).unwrap(), id: id.into(), config, sbom: sbom.map(str::to_string) }
    }

    #[test]
    fn named_contexts_replace_images_or_required_modules() {
        let spec = llb_gen::load("goapp.yaml", b"name: app\nruntime:\n  base: distroless\n", &BTreeMap::new()).unwrap().spec;
        let named: BTreeMap<String, String> = [
            ("golang:1.27".to_string(), "docker-image://mirror.example/go:1.27".to_string()),
            ("gcr.io/distroless/static-debian12:nonroot".to_string(), "docker-image://mirror.example/static:1".to_string()),
            ("example.com/lib".to_string(), "local:example.com/lib".to_string()),
        ]
        .into();
        let release = GoRelease::default_release();
        let n = NamedContexts::classify(named, &spec, &release).unwrap();
        assert_eq!(n.images.len(), 2);
        let images = Images { mirror: Some("localhost:5000"), overrides: &n.images };
        assert_eq!(images.builder(&spec, &release).to_string(), "mirror.example/go:1.27");
        assert_eq!(images.base(&spec).unwrap().to_string(), "mirror.example/static:1");
        assert_eq!(n.modules[0].source, NamedSource::Local("example.com/lib".into()));
        // An image of the build replaced by something other than an image.
        let bad = NamedContexts::classify([("golang:1.27".to_string(), "local:golang:1.27".to_string())].into(), &spec, &release);
        assert!(bad.err().unwrap().to_string().contains("docker-image://REF"));

        let facts = |vendored: bool| ContextFacts {
            excludes: vec![],
            no_download: vendored,
            vendored,
            go_mod: Some(("go.mod".into(), "module example.com/app\n\nrequire example.com/lib v1.0.0\n".into())),
            go_work: None,
        };
        let (path, text) = n.module_file(&facts(false), &spec).unwrap().unwrap();
        assert_eq!(path, "go.mod");
        assert!(text.ends_with("replace example.com/lib => /goapp/replace/0\n"), "{text}");
        let e = n.module_file(&facts(true), &spec).unwrap_err().to_string();
        assert!(e.contains("set `go.mod: mod`"), "{e}");
        let other = NamedContexts::classify([("example.com/other".to_string(), "local:x".to_string())].into(), &spec, &release).unwrap();
        let e = other.module_file(&facts(false), &spec).unwrap_err().to_string();
        assert!(e.contains("go.mod does not require the module example.com/other"), "{e}");
    }

    #[test]
    fn dockerignore() {
        let p = dockerignore_patterns("\u{feff}# comment\n\n/target\n./a/b/\n!keep.txt\n*.md\n");
        assert_eq!(p, ["target", "a/b", "!keep.txt", "*.md"]);
    }

    #[test]
    fn multi_platform_result_has_a_config_per_platform() {
        let cfg = |arch: &str| ImageConfig { architecture: arch.into(), os: "linux".into(), ..Default::default() };
        let r = result(
            vec![built("linux/amd64", "r1", cfg("amd64"), None), built("linux/arm64", "r2", cfg("arm64"), Some("s2"))],
            false,
            &[("org.example.a".to_string(), "1".to_string())].into(),
        );
        let Some(gw::result::Result::Refs(refs)) = &r.result else { panic!("not refs") };
        assert_eq!(r.metadata["annotation-index.org.example.a"], b"1");
        assert_eq!(r.metadata["annotation-manifest.org.example.a"], b"1");
        assert_eq!(refs.refs["linux/arm64"].id, "r2");
        let c: serde_json::Value = serde_json::from_slice(&r.metadata["containerimage.config/linux/arm64"]).unwrap();
        assert_eq!(c["architecture"], "arm64");
        let p: serde_json::Value = serde_json::from_slice(&r.metadata["refs.platforms"]).unwrap();
        assert_eq!(p["Platforms"][1]["ID"], "linux/arm64");
        // The SBOM of arm64 is its attestation, of the image itself.
        assert!(!r.attestations.contains_key("linux/amd64"));
        let a = &r.attestations["linux/arm64"].attestation[0];
        assert_eq!(a.r#ref.as_ref().unwrap().id, "s2");
        assert_eq!((a.path.as_str(), a.in_toto_predicate_type.as_str()), ("sbom.spdx.json", "https://spdx.dev/Document"));
        assert_eq!(p["Platforms"][1]["Platform"]["architecture"], "arm64");
    }

    #[test]
    fn single_platform_result_is_one_ref() {
        let r = result(vec![built("linux/amd64", "r1", ImageConfig::default(), None)], false, &BTreeMap::new());
        assert!(matches!(r.result, Some(gw::result::Result::Ref(_))));
        assert!(r.metadata.contains_key("containerimage.config"));
        assert!(r.metadata.contains_key("refs.platforms"));
        let forced = result(vec![built("linux/amd64", "r1", ImageConfig::default(), None)], true, &BTreeMap::new());
        assert!(matches!(forced.result, Some(gw::result::Result::Refs(_))));
    }
}
