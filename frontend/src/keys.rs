//! The wire vocabulary the frontend speaks with BuildKit and buildx, spelled as they spell
//! it, each string in one place.

/// Frontend options: the keys of `BUILDKIT_FRONTEND_OPT_*` values, as buildx sends them.
pub mod opt {
    pub const FILENAME: &str = "filename";
    /// The session directory that holds the spec, and the one of the build context.
    pub const SPEC_KEY: &str = "dockerfilekey";
    pub const CONTEXT_KEY: &str = "contextkey";
    /// A git URL as the build context.
    pub const CONTEXT: &str = "context";
    /// `--build-context NAME=VALUE` is `context:NAME`.
    pub const NAMED_CONTEXT_PREFIX: &str = "context:";
    pub const PLATFORM: &str = "platform";
    pub const MULTI_PLATFORM: &str = "multi-platform";
    pub const BUILD_ARG_PREFIX: &str = "build-arg:";
    pub const LABEL_PREFIX: &str = "label:";
    pub const NO_CACHE: &str = "no-cache";
    pub const IMAGE_RESOLVE_MODE: &str = "image-resolve-mode";
    pub const CACHE_IMPORTS: &str = "cache-imports";
    pub const CACHE_FROM: &str = "cache-from";
    pub const REQUEST_ID: &str = "requestid";
    pub const TARGET: &str = "target";
    pub const ATTEST_SBOM: &str = "attest:sbom";
    pub const VCS_SOURCE: &str = "vcs:source";
    pub const VCS_REVISION: &str = "vcs:revision";
    /// The frontend image Docker's Dockerfile frontend hands a build to (`# syntax=`, or the
    /// build arg `BUILDKIT_SYNTAX`).
    pub const SOURCE: &str = "source";
}

/// The session directory names buildx uses when the options do not name others.
pub const DEFAULT_SPEC_LOCAL: &str = "dockerfile";
pub const DEFAULT_CONTEXT_LOCAL: &str = llb_gen::plan::DEFAULT_CONTEXT_NAME;

/// Build args BuildKit itself defines.
pub mod arg {
    pub const MULTI_PLATFORM: &str = "BUILDKIT_MULTI_PLATFORM";
    pub const ATTEST_SBOM: &str = "BUILDKIT_ATTEST_SBOM";
}

/// Result metadata the image exporter reads.
pub mod exporter {
    /// The image config (`containerimage.config/<platform id>` for several platforms).
    pub const IMAGE_CONFIG: &str = "containerimage.config";
    pub const REFS_PLATFORMS: &str = "refs.platforms";
    pub const ANNOTATION_MANIFEST_PREFIX: &str = "annotation-manifest.";
    pub const ANNOTATION_INDEX_PREFIX: &str = "annotation-index.";
    /// The time (seconds since 1970) the image exporter dates the image by, when the build
    /// gives no SOURCE_DATE_EPOCH.
    pub const EPOCH: &str = "source.date.epoch";
}

/// The metadata of a subrequest's answer.
pub mod answer {
    pub const JSON: &str = "result.json";
    pub const TEXT: &str = "result.txt";
    pub const STATUS_CODE: &str = "result.statuscode";
    pub const VERSION: &str = "version";
}

/// Capabilities of the gateway API (LLB capabilities are [`llb::caps::id`]).
pub mod cap {
    pub const WARNINGS: &str = "gateway.warnings";
}
