//! Lowering a [`Plan`] to LLB for one target platform, with what the caller resolved for it.
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
//! With cgo ([`cgo`]), the compile runs on a builder with a C toolchain:
//!
//! ```text
//! builder image (B, or T when emulated) ─> exec: apt-get install the cross compilers for T
//!      and `go.c_packages` (for T's architecture)          (skipped when nothing to install)
//!   ─> exec: go build (CGO_ENABLED=1, CC/CXX/PKG_CONFIG_LIBDIR of T) ──> /out
//! /out, that root, the base ─> exec on B: check the binaries; libraries the base lacks ─> /libs
//! /out, /libs ──> binaries and libraries                               (last layer)
//! ```
//!
//! The stages, one file each: [`builder`] (the builder image, the sources, the module
//! download), [`compile`] (`go build`), [`cgo`], [`secrets`], [`shared_cache`] (`GOCACHEPROG`),
//! [`runtime`] (the base, the files, the binaries' layer), [`config`] (the image config) and
//! [`build_info`] (what the SBOM is made of).

mod assets;
mod build_info;
mod builder;
mod cgo;
mod compile;
mod config;
mod runtime;
mod secrets;
mod shared_cache;
mod test;

use std::collections::BTreeMap;

use llb::{Graph, Platform, SourceRange, pb};

use crate::context::{ContextSource, Replacement};
use crate::diag::Span;
use crate::image::ImageConfig;
use crate::plan::{BuildFacts, Plan, ResultKind};
use crate::reference::ImageRef;
pub use crate::resolved::{BaseImage, BuilderImage, Resolved};
use crate::spec::{Spec, Target, User};
use crate::toolchain::{GoRelease, ModFile};

pub use crate::paths::{BIN_DIR, CA_BUNDLE};
use crate::paths::{DEFAULT_PATH, GOCACHE, GOMODCACHE, OUT, SRC};
/// The comment of the history entries goapp adds.
const HISTORY_COMMENT: &str = "goapp.v0";

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
    #[error("the build context {name} is the result of another build, which the client did not send")]
    MissingInput { name: String },
    #[error(transparent)]
    Graph(#[from] llb::GraphError),
}

/// Lowers `plan` for the platform `target`: the stages, in the order their steps are made.
pub fn lower(plan: &Plan, resolved: &Resolved, target: &Platform) -> Result<Lowered, LowerError> {
    let input = Input::new(plan, resolved, target)?;
    let mut cx = Lowering::new(&input);
    // The builder (checked against go.mod's `go` line when its image does not say its Go).
    let builder = builder::image(&mut cx);
    // The build context, and the named contexts that replace modules.
    let sources = builder::sources(&mut cx)?;
    // The pulled base of this platform, pinned: the image's and the cgo check's.
    let base = runtime::pulled_base(&mut cx)?;
    // Module download, C toolchain, assets and `generate`.
    let prepared = compile::prepare(&mut cx, builder, &sources)?;
    if input.result == ResultKind::Test {
        let report = test::run(&mut cx, builder, &sources, &prepared);
        return Ok(Lowered { definition: cx.g.marshal(Some(report))?, config: config::image_config(&input, Vec::new()), build_info: None });
    }
    // `go build` per group of targets, cgo checks.
    let compiled = compile::binaries(&mut cx, builder, &sources, &prepared, base.map(|(_, image)| image))?;
    if input.binaries_only {
        let range = cx.range(input.spec.name.span);
        return runtime::binaries_result(&mut cx.g, &input, &compiled.binaries, &compiled.libs, range);
    }
    // The base, the files, the binaries and the program's directories.
    let (image, history) = runtime::image(&mut cx, builder, sources.context, base, &compiled)?;
    let config = config::image_config(&input, history);
    let info = build_info::build_info(&mut cx.g, &input, builder, &compiled.binaries);
    Ok(Lowered { definition: cx.g.marshal(Some(image))?, config, build_info: Some(cx.g.marshal(Some(info))?) })
}

/// What every stage reads: the plan and what was resolved, seen from one platform.
pub(crate) struct Input<'a> {
    pub spec: &'a Spec,
    /// The spec's file name and bytes, for source-mapped errors of failing steps.
    pub spec_file: &'a str,
    pub spec_data: &'a [u8],
    pub target: &'a Platform,
    pub build_platform: &'a Platform,
    pub go_release: &'a GoRelease,
    pub go_module: Option<&'a ModFile>,
    pub builder: &'a BuilderImage,
    pub target_builder: Option<&'a BuilderImage>,
    pub session_id: &'a str,
    pub context_name: &'a str,
    pub context_excludes: &'a [String],
    pub no_cache: bool,
    pub labels: &'a BTreeMap<String, String>,
    pub no_download: bool,
    pub go_args: &'a BTreeMap<String, String>,
    pub base: Option<&'a BaseImage>,
    pub facts: &'a BuildFacts,
    pub binaries_only: bool,
    pub result: ResultKind,
    /// The named contexts `assets` copy from, and the frontend inputs among them.
    pub asset_contexts: &'a BTreeMap<String, crate::context::NamedSource>,
    pub inputs: &'a BTreeMap<String, pb::Definition>,
    pub cache_program: Option<&'a str>,
    pub context_source: &'a ContextSource,
    pub replacements: &'a [Replacement],
    pub module_file: Option<(&'a str, &'a str)>,
    pub proxy: Option<&'a pb::ProxyEnv>,
    /// The binaries built, in the spec's order, and the entrypoint's.
    pub targets: Vec<&'a Target>,
    pub entrypoint: &'a Target,
    /// The user the program runs as (a name looked up in the base's passwd).
    pub user: User,
}

impl<'a> Input<'a> {
    fn new(plan: &'a Plan, resolved: &'a Resolved, target: &'a Platform) -> Result<Self, LowerError> {
        let base = match plan.images.base_for(target) {
            Some(_) => Some(resolved.bases.get(&target.id()).ok_or_else(|| LowerError::MissingBase { platform: target.id() })?),
            None => None,
        };
        let user = base.and_then(|b| b.user).unwrap_or(plan.spec.runtime.user.value);
        Ok(Input {
            spec: &plan.spec,
            spec_file: &plan.source.file,
            spec_data: &plan.source.data,
            target,
            build_platform: &plan.build_platform,
            go_release: &plan.release,
            go_module: plan.go_module.as_ref(),
            builder: &resolved.builder,
            target_builder: resolved.emulated_builders.get(&target.id()),
            session_id: &plan.session_id,
            context_name: &plan.context_name,
            context_excludes: &plan.excludes,
            no_cache: plan.no_cache,
            labels: &plan.labels,
            no_download: plan.no_download,
            go_args: &plan.go_args,
            base,
            facts: &plan.facts,
            binaries_only: plan.result == ResultKind::Binaries,
            result: plan.result,
            asset_contexts: &plan.asset_contexts,
            inputs: &resolved.inputs,
            cache_program: resolved.cache_program.as_deref(),
            context_source: &plan.context,
            replacements: &plan.replacements,
            module_file: plan.module_file.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
            proxy: plan.proxy.as_ref(),
            targets: plan.built_targets(),
            entrypoint: plan.entrypoint(),
            user,
        })
    }
}

/// A graph under construction for one platform, and the spec it points back to.
pub(crate) struct Lowering<'a> {
    pub g: Graph,
    pub input: &'a Input<'a>,
    /// The spec's index among the graph's sources.
    spec_source: usize,
}

impl<'a> Lowering<'a> {
    fn new(input: &'a Input<'a>) -> Self {
        let mut g = Graph::new();
        let spec_source = g.add_source_info(input.spec_file, input.spec_data, crate::diag::SPEC_LANGUAGE);
        Lowering { g, input, spec_source }
    }

    /// The source range of a span of the spec, for the step that implements it.
    pub fn range(&self, span: Span) -> SourceRange {
        let source = std::str::from_utf8(self.input.spec_data).unwrap_or("");
        let span = crate::diag::token_span(source, span);
        SourceRange {
            source: self.spec_source,
            start_line: span.start.line,
            start_column: span.start.column,
            end_line: span.end.line,
            end_column: span.end.column,
        }
    }
}

/// An image reference pinned to the digest it resolved to, when it was resolved.
fn pinned(reference: &ImageRef, digest: &Option<String>) -> ImageRef {
    match digest {
        Some(d) => reference.pinned(d),
        None => reference.clone(),
    }
}
