//! BuildKit's LLB vocabulary: the protobuf types of `solver/pb` (module [`pb`]), a typed graph
//! builder ([`Graph`]) that marshals to a [`pb::Definition`], op digests, platforms and a
//! readable dump of a definition.
//!
//! This crate knows nothing of Go, YAML or goapp's spec. Its invariant is determinism: the same
//! graph always marshals to the same bytes (maps are BTreeMaps, mounts are sorted, inputs are
//! de-duplicated, no ids or times are invented here), so op digests, and with them BuildKit's
//! cache and progress ids, are stable.

pub mod caps;
pub mod dump;
mod graph;
mod platform;

pub use graph::{
    Cache, CacheSharing, Copy, Exec, ExecOutputs, FileAction, Graph, GraphError, Mkdir, Mkfile, Mount, MountKind, OpId, Output, SecretMount, SourceRange,
    SshMount,
};
pub use platform::{Platform, PlatformError};

/// The protobuf messages of BuildKit's LLB (`solver/pb/ops.proto`), as declared in
/// `proto/ops.proto`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/pb.rs"));
}

use sha2::Digest as _;

/// The digest of an op: `sha256:` and the hex SHA-256 of the exact bytes stored in
/// `Definition.def`. Inputs, metadata and source locations are keyed by it.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Wire strings, spelled as BuildKit spells them.
pub mod attr {
    /// Vertex name shown in the progress output (`OpMetadata.description`).
    pub const CUSTOM_NAME: &str = "llb.customname";
    /// `local://` source: session that serves the directory.
    pub const LOCAL_SESSION: &str = "local.session";
    /// `local://` source: JSON array of patterns to transfer only.
    pub const LOCAL_INCLUDE: &str = "local.includepattern";
    /// `local://` source: JSON array of patterns to leave out.
    pub const LOCAL_EXCLUDE: &str = "local.excludepatterns";
    /// `local://` source: JSON array of paths to transfer, following symlinks.
    pub const LOCAL_FOLLOW: &str = "local.followpaths";
    /// `local://` source: lets incremental transfers of the same directory reuse earlier ones.
    pub const LOCAL_SHARED_KEY_HINT: &str = "local.sharedkeyhint";
    /// `local://` source: `none` sends whole files every time (used for small files).
    pub const LOCAL_DIFFER: &str = "local.differ";
    /// `docker-image://` source: `default`, `pull` or `local`.
    pub const IMAGE_RESOLVE_MODE: &str = "image.resolvemode";
    /// `git://` source: the URL to fetch (the identifier has no scheme).
    pub const GIT_FULL_URL: &str = "git.fullurl";
    /// `git://` source: the secret holding a token for HTTP basic auth.
    pub const GIT_AUTH_TOKEN_SECRET: &str = "git.authtokensecret";
    /// `git://` source: the secret holding a whole `Authorization` header.
    pub const GIT_AUTH_HEADER_SECRET: &str = "git.authheadersecret";
    /// `git://` source: keep the `.git` directory.
    pub const GIT_KEEP_DIR: &str = "git.keepgitdir";
}
