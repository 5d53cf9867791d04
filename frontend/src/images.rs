//! Resolving the images a plan pulls ([`llb_gen::Plan::images`]): the builder for the build
//! platform (and for the platforms whose cgo build is emulated), the runtime base for every
//! platform, probed for the files the plan asks about. Each is checked as soon as it is
//! known: the builder's Go against go.mod, the base's users and glibc against the spec; an
//! image that cannot be resolved is reported at the line that chose it.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use llb::Platform;
use llb_gen::image::ImageConfig;
use llb_gen::plan::PlannedImage;
use llb_gen::reference::ImageRef;
use llb_gen::toolchain::Origin;
use llb_gen::{BaseImage, BuilderImage, Plan};

use crate::errors;
use crate::frontend::Failure;
use crate::gateway::{Gateway, Session};

/// The builder for `platform`, checked against go.mod's `go` line; its progress line says
/// which Go release chose it, and where that came from.
pub async fn builder<G: Gateway>(s: &mut Session<G>, plan: &Plan, resolve_mode: &str, platform: &Platform) -> Result<BuilderImage, Failure> {
    let reference = &plan.images.builder.reference;
    let log_name = format!("[internal] load metadata for {reference} ({platform}): {}", plan.release.describe(&plan.source.file));
    let (digest, config) = match resolve(&mut s.gw, reference, platform, resolve_mode, log_name).await {
        Ok(r) => r,
        Err(cause) => return Err(builder_failure(plan, platform, cause)),
    };
    let builder = BuilderImage { reference: reference.clone(), digest, env: config.config.env.unwrap_or_default() };
    check_release(plan, &builder)?;
    Ok(builder)
}

/// For `go.shared_cache`: this frontend's own image (what Docker's Dockerfile frontend
/// handed the build to, `source`), pinned for the build platform, when it carries the cache
/// program ([`llb_gen::paths::CACHE_PROGRAM`], as this process's own files show). Else `None`,
/// and the program is compiled on the builder.
pub async fn cache_program<G: Gateway>(s: &mut Session<G>, plan: &Plan, resolve_mode: &str) -> Option<String> {
    plan.spec.go.shared_cache.as_ref()?;
    if !std::path::Path::new(llb_gen::paths::CACHE_PROGRAM).is_file() {
        return None;
    }
    let source = ImageRef::parse(s.opts.get(crate::keys::opt::SOURCE)?).ok()?;
    let log_name = format!("[internal] load metadata for {source} ({}): the shared cache program", plan.build_platform);
    // (An image that cannot be resolved costs a compile of the program, not the build.)
    let (digest, _) = resolve(&mut s.gw, &source, &plan.build_platform, resolve_mode, log_name).await.ok()?;
    Some(match digest {
        Some(d) => source.pinned(&d).to_string(),
        None => source.to_string(),
    })
}

/// The builders of the platforms whose cgo build runs under emulation, by platform id.
pub async fn emulated_builders<G: Gateway>(s: &mut Session<G>, plan: &Plan, resolve_mode: &str) -> Result<BTreeMap<String, BuilderImage>, Failure> {
    let mut out = BTreeMap::new();
    for p in &plan.images.emulated_builders {
        out.insert(p.id(), builder(s, plan, resolve_mode, p).await?);
    }
    Ok(out)
}

/// The runtime base for every platform, pinned, with what the plan asks to know of it
/// ([`llb_gen::plan::base_probes`]); a user name and glibc are checked against it. The base
/// is solved (pulled, not run) to look at its files.
/// A Windows base is only resolved: its config is what the image needs of it (its
/// `os.version` above all), and goapp adds what it wants without looking at its files.
pub async fn bases<G: Gateway>(s: &mut Session<G>, plan: &Plan, resolve_mode: &str) -> Result<BTreeMap<String, BaseImage>, Failure> {
    let mut jobs = Vec::new();
    let mut platforms = Vec::new();
    for target in &plan.platforms {
        let Some(planned) = plan.images.base_for(target) else { continue };
        platforms.push((target, planned));
        let windows = llb_gen::golang::is_windows(target);
        let mut c = s.gw.clone();
        let (planned, target, mode, probes) = (planned.clone(), target.clone(), resolve_mode.to_string(), llb_gen::plan::base_probes(plan, target));
        jobs.push(tokio::spawn(async move {
            let reference = planned.reference.clone();
            let log_name = format!("[internal] load metadata for {reference} ({target})");
            let (digest, config) = resolve(&mut c, &reference, &target, &mode, log_name).await.map_err(BaseError::Unresolved)?;
            if windows {
                let base = BaseImage { digest, config, replaced_by: planned.replaced_by.clone(), ..BaseImage::unresolved(reference) };
                return Ok::<_, BaseError>((target, base, None));
            }
            let pinned = match &digest {
                Some(d) => reference.pinned(d),
                None => reference.clone(),
            };
            let mut g = llb::Graph::new();
            let image = g.image(&pinned.to_string(), &target, BTreeMap::new());
            g.meta(image.op).name = Some(format!("[internal] inspect {pinned} ({target})"));
            let probed = async {
                let id = c.solve(g.marshal(Some(image))?, vec![]).await.with_context(|| format!("pulling {reference} for {target}"))?;
                let has_ca_certificates = c.exists(&id, probes.ca_bundle).await?;
                let has_zoneinfo = c.exists(&id, probes.zoneinfo).await?;
                let passwd = c.read_file_head(&id, probes.passwd, 1 << 20).await?.map(|b| String::from_utf8_lossy(&b).into_owned());
                let mut has_libc = probes.libc.is_empty();
                for path in &probes.libc {
                    if c.exists(&id, path).await? {
                        has_libc = true;
                        break;
                    }
                }
                Ok::<_, anyhow::Error>((has_ca_certificates, has_zoneinfo, has_libc, passwd))
            };
            let (has_ca_certificates, has_zoneinfo, has_libc, passwd) = probed.await.map_err(BaseError::Other)?;
            let base =
                BaseImage { reference, digest, config, has_ca_certificates, has_zoneinfo, has_libc, user: None, replaced_by: planned.replaced_by.clone() };
            Ok::<_, BaseError>((target, base, passwd))
        }));
    }
    let written = plan.spec.runtime.base_image.as_ref().map(|r| r.to_string()).unwrap_or_default();
    let mut out = BTreeMap::new();
    for (job, (platform, planned)) in jobs.into_iter().zip(platforms) {
        let (target, mut base, passwd) = match job.await {
            Ok(Ok(r)) => r,
            Ok(Err(BaseError::Other(e))) => return Err(e.into()),
            Ok(Err(BaseError::Unresolved(cause))) => {
                let (hint, span) = if llb_gen::golang::is_windows(platform) {
                    ("check runtime.windows.base, and that its registry has the image for every Windows platform", plan.spec.runtime.windows.base_span)
                } else {
                    ("check runtime.base, and that its registry has the image for every platform", plan.spec.runtime.base.span)
                };
                return Err(unresolved_failure(plan, "runtime base", planned, platform, cause, spec_place(plan, span), hint));
            }
            Err(e) => return Err(anyhow::anyhow!("resolving the runtime base of {platform} failed: {e}").into()),
        };
        if llb_gen::golang::is_windows(platform) {
            out.insert(target.id(), base);
            continue;
        }
        base.user = llb_gen::checks::runtime_user(&plan.spec, &written, passwd.as_deref()).map_err(|d| spec_failure(plan, d))?;
        if let Some(d) = llb_gen::checks::glibc(&plan.spec.go, &plan.spec.runtime, plan.spec.name.span, Some((&base, &target))) {
            return Err(spec_failure(plan, d));
        }
        out.insert(target.id(), base);
    }
    Ok(out)
}

/// Why a base could not be looked at: BuildKit could not resolve it, or something after.
enum BaseError {
    Unresolved(anyhow::Error),
    Other(anyhow::Error),
}

/// A diagnostic of the spec, as the build's error.
fn spec_failure(plan: &Plan, d: llb_gen::Diagnostic) -> Failure {
    let d = llb_gen::Diagnostics::new(plan.source.file.clone(), String::from_utf8_lossy(&plan.source.data), vec![d]);
    Failure(errors::spec_status(&d))
}

fn spec_place(plan: &Plan, span: llb_gen::Span) -> errors::Place<'_> {
    errors::Place { file: &plan.source.file, source: std::str::from_utf8(&plan.source.data).unwrap_or(""), span }
}

/// Where an image the build could not resolve was chosen, and what to do: the error names
/// the image as the spec (or go.mod) implies it, the reference looked up, through which
/// registry mirror or `--build-context`, and points at the line that chose it.
fn unresolved_failure(
    plan: &Plan,
    what: &str,
    image: &PlannedImage,
    platform: &Platform,
    cause: anyhow::Error,
    place: errors::Place<'_>,
    hint: &str,
) -> Failure {
    let how = match (&image.replaced_by, &plan.mirror) {
        (Some(with), _) => format!("replaced by --build-context with {with}"),
        (None, Some(m)) if image.reference != image.written => format!("looked up as {} through the registry mirror {m}", image.reference),
        (None, _) => format!("looked up as {}", image.reference),
    };
    let message = format!("cannot resolve the {what} `{}` for {platform} ({how}): {cause:#} ({hint})", image.written);
    Failure(errors::located_status(&message, &[place]))
}

/// [`unresolved_failure`] of the builder, at the line that chose its release.
fn builder_failure(plan: &Plan, platform: &Platform, cause: anyhow::Error) -> Failure {
    let spec_file = &plan.source.file;
    let (place, hint) = match (&plan.release.origin, &plan.go_module) {
        (Origin::SpecImage(span), _) => (spec_place(plan, *span), "check go.image, and that its registry has it".to_string()),
        (Origin::SpecVersion(span), _) => {
            (spec_place(plan, *span), format!("check go.version: Go releases goapp supports are {}", llb_gen::toolchain::SUPPORTED_RELEASES.join(", ")))
        }
        (Origin::Toolchain(_, span) | Origin::GoLine(_, span), Some(m)) => (
            errors::Place { file: &m.path, source: &m.source, span: *span },
            format!("the release comes from {}; set go.version in the spec to build with another", plan.release.source(spec_file)),
        ),
        _ => (spec_place(plan, plan.spec.name.span), "goapp's default builder; set go.version or go.image".to_string()),
    };
    unresolved_failure(plan, "builder image", &plan.images.builder, platform, cause, place, &hint)
}

/// Refuses, before anything compiles, a builder whose Go is older than the module's `go`
/// line ([`llb_gen::toolchain::check`]), pointing at go.mod's line and the spec's.
fn check_release(plan: &Plan, builder: &BuilderImage) -> Result<(), Failure> {
    let image_go = llb_gen::toolchain::image_go_version(&builder.env);
    let spec_file = &plan.source.file;
    let Err(m) = llb_gen::toolchain::check(&plan.release, spec_file, &builder.reference.to_string(), image_go, plan.go_module.as_ref()) else { return Ok(()) };
    let (mod_path, mod_text, mod_span) = &m.module;
    let mut places = vec![errors::Place { file: mod_path, source: mod_text, span: *mod_span }];
    if let Some(span) = m.spec {
        places.push(spec_place(plan, span));
    }
    Err(Failure(errors::located_status(&format!("{} ({})", m.message, m.hint), &places)))
}

/// The digest and config of an image for a platform, as BuildKit resolves them.
async fn resolve<G: Gateway>(gw: &mut G, reference: &ImageRef, platform: &Platform, mode: &str, log_name: String) -> Result<(Option<String>, ImageConfig)> {
    let (digest, config) = gw.resolve_image(reference, platform, mode, log_name).await?;
    let config: ImageConfig = serde_json::from_slice(&config).with_context(|| format!("the config of {reference} is not an image config"))?;
    Ok((digest, config))
}
