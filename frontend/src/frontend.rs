//! The gateway frontend: what goapp does when BuildKit runs its image for a `goapp.yaml`.
//!
//! Ping → read the spec and the context's facts from the client → plan → resolve the images
//! the plan pulls → lower and solve every target platform concurrently → return one result
//! with an image config per platform. Every failure ends in a `Return` with an error status,
//! so the user sees it in buildx.

use anyhow::{Context as _, Result};
use llb::Platform;
use llb_gen::context::ContextSource;
use llb_gen::plan::{PlanError, SpecSource};
use llb_gen::{Plan, ResultKind};

use crate::gateway::{self, Caps, Gateway, Session};
use crate::opts::Opts;
use crate::proto::{google::rpc::Status, gw};
use crate::result::{Built, make_sbom, result};
use crate::{errors, images, reads, subrequests};

/// Runs the frontend over stdio: one build (or its error) is returned to BuildKit.
/// `started`: when the process started, for the timing log ([`gateway::Timed`]).
pub async fn serve(started: std::time::SystemTime) -> Result<()> {
    let gw = gateway::connect_stdio().await?;
    let opts = Opts::from_env();
    let session = std::env::var("BUILDKIT_SESSION_ID").unwrap_or_default();
    let gw = gateway::Timed::new(gw, opts.build_arg(gateway::TIMING_ARG), started);
    run(gw, opts, session).await
}

/// One build over `gw`, ended by its result or its error. The build runs as a task of its
/// own: should it panic, BuildKit still gets an answer.
pub async fn run<G: Gateway>(mut gw: G, opts: Opts, session: String) -> Result<()> {
    let build = {
        let gw = gw.clone();
        tokio::spawn(async move { build(gw, opts, session).await })
    };
    let outcome = match build.await {
        Ok(outcome) => outcome,
        Err(e) => Err(Failure::from(anyhow::anyhow!("goapp failed unexpectedly ({e}); please report this with the spec and the build command"))),
    };
    let request = match outcome {
        Ok(result) => gw::ReturnRequest { result: Some(result), error: None },
        Err(Failure(status)) => gw::ReturnRequest { result: None, error: Some(status) },
    };
    gw.finish(request).await
}

/// Why a build failed, as the status BuildKit shows the user.
pub struct Failure(pub Status);

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure(errors::status_of(&e))
    }
}

impl From<PlanError> for Failure {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Diagnostics(d) => Failure(errors::spec_status(&d)),
            PlanError::Option(message) => Failure::from(anyhow::anyhow!(message)),
        }
    }
}

async fn build<G: Gateway>(mut gw: G, opts: Opts, id: String) -> Result<gw::Result, Failure> {
    let context = opts.context_source()?;
    let caps = gw.ping().await?;
    let mut s = Session { gw, opts, id, context, caps };
    let s = &mut s;
    // What reading the spec and the context uses; each build's graph is checked once lowered.
    s.caps.require_llb([llb::caps::id::SOURCE_LOCAL_SHAREDKEYHINT, llb::caps::id::SOURCE_LOCAL_DIFFER, llb::caps::id::SOURCE_LOCAL_FOLLOWPATHS])?;
    if let ContextSource::Git(git) = &s.context {
        let mut g = llb::Graph::new();
        let out = git.add(&mut g, false);
        s.caps.require_llb(llb::caps::used(&g.marshal(Some(out)).map_err(anyhow::Error::from)?))?;
    }
    if let Some(id) = s.opts.request_id().map(str::to_string) {
        return subrequest(s, &id).await;
    }
    // Options that only a build reads, checked before anything is transferred.
    let mode = s.opts.image_resolve_mode()?.to_string();
    let multi_platform = s.opts.multi_platform()?;
    let cache_imports = s.opts.cache_imports()?;

    let (filename, spec_bytes, spec_vertex) = spec_or_inferred(s).await?;
    let build_args = s.opts.build_args();
    // The version templates: a git context's commit is read once the builder is known.
    let stamps = match &s.context {
        ContextSource::Git(_) => llb_gen::stamp::Stamps::pending(),
        ContextSource::Local => llb_gen::stamp::Stamps::new(&build_args, s.opts.get(crate::keys::opt::VCS_REVISION), None).map_err(anyhow::Error::msg)?,
    };
    let loaded = llb_gen::load_stamped(&filename, &spec_bytes, &build_args, &stamps).map_err(|d| Failure(errors::spec_status(&d)))?;
    // Warnings reach buildx's output with their spec location, on a BuildKit that takes them.
    let can_warn = s.caps.frontend.iter().any(|c| c == crate::keys::cap::WARNINGS) && !spec_vertex.is_empty();
    if can_warn {
        for w in &loaded.warnings.items {
            s.gw.warn(gateway::warning(&spec_vertex, &filename, &spec_bytes, w)).await?;
        }
    }
    let skipped_rules = loaded.skipped_rules;
    let facts = reads::read_context_facts(s, &loaded.spec.module.value).await?;
    let mut request = s.opts.request(build_platform(&s.caps), &s.id, s.context.clone())?;
    let source = SpecSource { file: filename.clone(), data: spec_bytes.clone() };
    let mut plan = llb_gen::plan(loaded.spec, source.clone(), &request, &facts)?;
    let mut builder = images::builder(s, &plan, &mode, &plan.build_platform).await?;
    // A git context: its commit gives the templates their values, and its time is the
    // build's SOURCE_DATE_EPOCH unless the build gives one. Read by git on the builder: a
    // builder without git can still build a spec without templates, undated.
    let mut epoch_from_commit = None;
    let templates = llb_gen::stamp::uses_templates(&spec_bytes);
    let epoch_given = build_args.get(llb_gen::stamp::SOURCE_DATE_EPOCH).is_some_and(|v| !v.is_empty());
    let git_context = match s.context.clone() {
        ContextSource::Git(git) if templates || !epoch_given => Some(git),
        _ => None,
    };
    let commit = match git_context {
        Some(git) => {
            let warn_as =
                (can_warn && !skipped_rules.contains(&UNDATED_GIT_CONTEXT)).then_some((spec_vertex.as_str(), filename.as_str(), spec_bytes.as_slice()));
            commit_of(s, &git, &builder, &plan, templates, warn_as).await?
        }
        None => None,
    };
    if let Some(commit) = commit {
        if !epoch_given && let Some(t) = commit.commit_time {
            request.build_args.insert(llb_gen::stamp::SOURCE_DATE_EPOCH.into(), t.to_string());
            epoch_from_commit = Some(t);
        }
        let stamps = llb_gen::stamp::Stamps::new(&request.build_args, None, Some(commit)).map_err(anyhow::Error::msg)?;
        let loaded = llb_gen::load_stamped(&filename, &spec_bytes, &request.build_args, &stamps).map_err(|d| Failure(errors::spec_status(&d)))?;
        plan = llb_gen::plan(loaded.spec, source, &request, &facts)?;
        if plan.images.builder.reference != builder.reference {
            builder = images::builder(s, &plan, &mode, &plan.build_platform).await?;
        }
    }
    let support = llb_gen::toolchain::support_warning(&plan.release, &filename).filter(|(_, w)| !w.rule.is_some_and(|r| skipped_rules.contains(&r)));
    if let Some((file, w)) = support.filter(|_| can_warn) {
        let warning = match (&file, &plan.go_module) {
            (Some(path), Some(m)) => gateway::warning(&spec_vertex, path, m.source.as_bytes(), &w),
            _ => gateway::warning(&spec_vertex, &filename, &spec_bytes, &w),
        };
        s.gw.warn(warning).await?;
    }
    reads::check_files(s, &plan).await?;
    let bases = images::bases(s, &plan, &mode).await?;
    let emulated_builders = images::emulated_builders(s, &plan, &mode).await?;
    // The results of other builds (bake targets) that assets copy.
    let inputs =
        if plan.asset_contexts.values().any(|c| matches!(c, llb_gen::context::NamedSource::Input(_))) { s.gw.inputs().await? } else { Default::default() };
    let cache_program = images::cache_program(s, &plan, &mode).await;
    let resolved = llb_gen::Resolved { builder, emulated_builders, bases, inputs, cache_program };
    let built = solve_all(s, &plan, &resolved, cache_imports).await?;
    if plan.result == ResultKind::Test {
        // The report, not an image.
        let id = built.into_iter().next().map(|b| b.id).unwrap_or_default();
        return Ok(gw::Result { result: Some(gw::result::Result::Ref(gw::Ref { id, def: None })), ..Default::default() });
    }
    let mut answer = result(built, multi_platform, &plan.annotations());
    // The exporter dates the image by the commit, as it would by a SOURCE_DATE_EPOCH build
    // arg (which, given, comes first).
    if let Some(t) = epoch_from_commit {
        answer.metadata.insert(crate::keys::exporter::EPOCH.into(), t.to_string().into_bytes());
    }
    Ok(answer)
}

/// The warning rule of a git context whose commit could not be read.
const UNDATED_GIT_CONTEXT: &str = "UndatedGitContext";

/// The commit of the git context `git`, read by git on the builder. When it cannot be read,
/// a spec with templates fails; one without is built undated, with a warning (shown where
/// `warn_as` says: the spec's vertex, file and text) that says so.
async fn commit_of<G: Gateway>(
    s: &mut Session<G>,
    git: &llb_gen::context::GitSource,
    builder: &llb_gen::BuilderImage,
    plan: &Plan,
    templates: bool,
    warn_as: Option<(&str, &str, &[u8])>,
) -> Result<Option<llb_gen::stamp::GitFacts>, Failure> {
    match reads::git_facts(s, git, builder, &plan.build_platform).await {
        Ok(c) => Ok(Some(c)),
        Err(e) if templates => Err(e.into()),
        Err(e) => {
            if let Some((vertex, file, text)) = warn_as {
                let w = llb_gen::Diagnostic::warning(
                    UNDATED_GIT_CONTEXT,
                    plan.spec.name.span,
                    format!("the commit of {git} could not be read, so the image is not dated by it: {e:#}"),
                )
                .hint("pass --build-arg SOURCE_DATE_EPOCH=..., or use a builder image with git");
                s.gw.warn(gateway::warning(vertex, file, text, &w)).await?;
            }
            Ok(None)
        }
    }
}

/// Lowers and solves every platform of the plan concurrently, each with its SBOM when asked.
async fn solve_all<G: Gateway>(
    s: &mut Session<G>,
    plan: &Plan,
    resolved: &llb_gen::Resolved,
    cache_imports: Vec<gw::CacheOptionsEntry>,
) -> Result<Vec<Built>, Failure> {
    let mut jobs = Vec::new();
    for target in &plan.platforms {
        let lowered = llb_gen::lower(plan, resolved, target).map_err(|e| anyhow::anyhow!(e))?;
        s.caps.require_llb(llb::caps::used(&lowered.definition))?;
        let mut c = s.gw.clone();
        let imports = cache_imports.clone();
        let target = target.clone();
        // The SBOM, from the binaries' build information (not for `--target binaries`), by
        // their file names (`NAME.exe` on Windows).
        let files: Vec<String> = plan.built_targets().iter().map(|t| llb_gen::golang::binary_file(&t.name.value, &target)).collect();
        let sbom = lowered.build_info.filter(|_| plan.sbom).map(|def| (def, plan.spec.name.value.clone(), files));
        let created = plan.facts.created.clone();
        jobs.push(tokio::spawn(async move {
            let id = c.solve(lowered.definition, imports.clone()).await.with_context(|| format!("building {target}"))?;
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
    Ok(built)
}

/// Answers `--call NAME` (see [`subrequests`]) instead of building.
async fn subrequest<G: Gateway>(s: &mut Session<G>, id: &str) -> Result<gw::Result, Failure> {
    let Some(name) = subrequests::known(id) else {
        let names: Vec<&str> = subrequests::REQUESTS.iter().map(|(n, _)| n.trim_start_matches("frontend.")).collect();
        return Err(anyhow::anyhow!("goapp does not answer the request `{id}`; it answers: {}", names.join(", ")).into());
    };
    match name {
        "frontend.subrequests.describe" => return Ok(subrequests::describe()),
        "frontend.goapp.schema" => return Ok(subrequests::schema()),
        _ => {}
    }
    if name == "frontend.goapp.init" {
        return goapp_init(s).await;
    }
    let (filename, data, _) = spec_or_inferred(s).await?;
    // What the version templates will be is the build's to find out: here they take
    // stand-ins of their form.
    let loaded = llb_gen::load_stamped(&filename, &data, &s.opts.build_args(), &llb_gen::stamp::Stamps::pending());
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
    let facts = reads::read_context_facts(s, &loaded.spec.module.value).await?;
    let request = s.opts.request(build_platform(&s.caps), &s.id, s.context.clone())?;
    let plan = llb_gen::plan(loaded.spec.clone(), SpecSource { file: filename.clone(), data: data.clone() }, &request, &facts)?;
    match name {
        "frontend.outline" => Ok(subrequests::outline(&filename, &data, &loaded, &plan)),
        "frontend.goapp.plan" => Ok(subrequests::plan(&plan, &host_platform())),
        "frontend.goapp.llb" => Ok(subrequests::llb(&plan)?),
        other => Err(anyhow::anyhow!("goapp lists the request {other} but does not answer it").into()),
    }
}

/// The spec's name, its bytes and the vertex that loaded them: the spec the client sent, or,
/// for a module file (`-f go.mod`, `-f go.work`: a build without a spec), the spec inferred
/// from the module's code, named `<file> (inferred spec)`; a module that needs a spec fails
/// with what was found and the spec that would build it.
async fn spec_or_inferred<G: Gateway>(s: &mut Session<G>) -> Result<(String, Vec<u8>, String), Failure> {
    let filename = s.opts.filename().to_string();
    let (data, vertex) = reads::read_spec(s, &filename).await?;
    if !llb_gen::infer::is_module_file(&filename) {
        return Ok((filename, data, vertex));
    }
    let inferred = infer_module(s, &filename, &data).await?;
    let spec = llb_gen::infer::build_spec(&inferred, &filename).map_err(anyhow::Error::from)?;
    Ok((format!("{filename} (inferred spec)"), spec.into_bytes(), vertex))
}

/// What the code of the module whose module file (`filename`, read as `data`) the client
/// sent shows ([`llb_gen::infer::infer`]).
async fn infer_module<G: Gateway>(s: &mut Session<G>, filename: &str, data: &[u8]) -> Result<llb_gen::infer::Inference, Failure> {
    let module = reads::read_module(s, filename, data).await?;
    Ok(llb_gen::infer::infer(&module).map_err(anyhow::Error::from)?)
}

/// `--call goapp.init`: the commented spec `goapp-frontend init` would write for the module
/// the build names (`-f go.mod` or `-f go.work`), with the frontend's image on its
/// `# syntax=` line.
async fn goapp_init<G: Gateway>(s: &mut Session<G>) -> Result<gw::Result, Failure> {
    let filename = s.opts.filename().to_string();
    if !llb_gen::infer::is_module_file(&filename) {
        return Err(anyhow::anyhow!("--call goapp.init writes the spec of a Go module: name its go.mod (or go.work) with -f, not {filename}").into());
    }
    let (data, _) = reads::read_spec(s, &filename).await?;
    let mut inferred = infer_module(s, &filename, &data).await?;
    llb_gen::infer::require_main(&inferred, &filename).map_err(anyhow::Error::from)?;
    // Only Go files were sent: whether each go:embed path is there is asked of the context.
    inferred.missing_embeds = reads::missing(s, &inferred.embeds).await?;
    // The image Docker's Dockerfile frontend handed the build to (`source`), else the one
    // BUILDKIT_SYNTAX names.
    let syntax = s
        .opts
        .get(crate::keys::opt::SOURCE)
        .map(str::to_string)
        .or_else(|| s.opts.build_args().get("BUILDKIT_SYNTAX").map(|v| v.split_whitespace().next().unwrap_or_default().to_string()))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| crate::DEFAULT_SYNTAX.to_string());
    Ok(subrequests::init(&llb_gen::infer::init_spec(&inferred, Some(&syntax))))
}

/// The platform BuildKit's worker runs natively, else this machine's.
fn build_platform(caps: &Caps) -> Platform {
    caps.build_platform.clone().unwrap_or_else(host_platform)
}

fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    Platform::new("linux", arch, None)
}
