//! Lowering a spec to LLB for one target platform.
//!
//! The graph, for target T on build platform B:
//!
//! ```text
//! builder image (B) ──┬─> exec on B: go build (GOOS/GOARCH of T, CGO_ENABLED=0) ──> /out
//! context (local) ────┘      caches: Go module cache, Go build cache
//! builder image (B) ───> static base: CA bundle, zoneinfo, passwd/group, /tmp   (layer 1)
//! /out ────────────────> binary at /usr/local/bin/<name>, 0755, root            (layer 2)
//! ```
//!
//! Nothing runs on T: Go cross-compiles, and the runtime is assembled with file ops, so no
//! step needs emulation. The builder image and the static base are the same for every
//! target, so their vertices are shared between the platforms of one build.

use std::collections::BTreeMap;

use llb::{pb, CacheSharing, Copy, Exec, FileAction, Graph, Mkdir, Mkfile, Mount, Platform, SourceRange};

use crate::diag::Span;
use crate::golang;
use crate::image::{env_set, ContainerConfig, Empty, History, ImageConfig};
use crate::reference::ImageRef;
use crate::spec::{Base, Spec, NONROOT_UID};

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

/// Everything lowering needs besides the spec; all of it is decided by the caller.
#[derive(Clone, Debug)]
pub struct LowerInput<'a> {
    pub spec: &'a Spec,
    /// The spec's file name and bytes, for source-mapped errors of failing steps.
    pub spec_file: &'a str,
    pub spec_data: &'a [u8],
    pub target: &'a Platform,
    pub build_platform: &'a Platform,
    pub builder: &'a BuilderImage,
    /// The client session that serves the build context (empty: any session of the build).
    pub session_id: &'a str,
    /// `.dockerignore` patterns, left out of the context transfer.
    pub context_excludes: &'a [String],
    /// Run every step again instead of using cached results (`--no-cache`).
    pub no_cache: bool,
    /// Labels to add to the image config (`--label`).
    pub labels: &'a BTreeMap<String, String>,
}

/// The result of lowering one platform.
#[derive(Clone, Debug)]
pub struct Lowered {
    pub definition: pb::Definition,
    pub config: ImageConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    #[error("cannot build for {platform}: {reason}")]
    Platform { platform: String, reason: String },
}

/// The builder image a spec asks for, after the registry mirror.
pub fn builder_reference(spec: &Spec, mirror: Option<&str>) -> ImageRef {
    let written = match &spec.go.image {
        Some(i) => i.value.clone(),
        None => format!("golang:{}", spec.go.version.value),
    };
    // The loader validated the reference.
    let r = ImageRef::parse(&written).unwrap_or_else(|e| panic!("unvalidated image reference: {e}"));
    match mirror {
        Some(m) if !m.is_empty() => r.mirrored(m),
        _ => r,
    }
}

pub fn lower(input: &LowerInput<'_>) -> Result<Lowered, LowerError> {
    let spec = input.spec;
    let target = input.target;
    let go_target = golang::target(target).map_err(|reason| LowerError::Platform { platform: target.id(), reason })?;
    let name = &spec.name.value;

    let mut g = Graph::new();
    let src = g.add_source_info(input.spec_file, input.spec_data, "YAML");
    let range = |span: Span| SourceRange {
        source: src,
        start_line: span.start.line,
        start_column: span.start.column,
        end_line: span.end.line,
        end_column: span.end.column,
    };

    let builder_ref = match &input.builder.digest {
        Some(d) => input.builder.reference.pinned(d),
        None => input.builder.reference.clone(),
    };
    let builder = g.image(&builder_ref.to_string(), input.build_platform, BTreeMap::new());
    g.meta(builder.op).name = Some(format!("[builder] FROM {builder_ref}"));
    g.meta(builder.op).ranges.push(range(spec.go.image.as_ref().map(|i| i.span).unwrap_or(spec.go.version.span)));

    let mut attrs = BTreeMap::new();
    if !input.session_id.is_empty() {
        attrs.insert(llb::attr::LOCAL_SESSION.to_string(), input.session_id.to_string());
    }
    attrs.insert(llb::attr::LOCAL_SHARED_KEY_HINT.to_string(), "context".to_string());
    if !input.context_excludes.is_empty() {
        attrs.insert(llb::attr::LOCAL_EXCLUDE.to_string(), serde_json::to_string(input.context_excludes).expect("strings serialize"));
    }
    let context = g.local("context", attrs);
    g.meta(context.op).name = Some("[internal] load build context".into());

    let mut env = input.builder.env.clone();
    for (k, v) in [("CGO_ENABLED", "0"), ("GOCACHE", GOCACHE), ("GOMODCACHE", GOMODCACHE), ("GOTOOLCHAIN", "local")] {
        env_set(&mut env, k, v);
    }
    for kv in go_target.env() {
        let (k, v) = kv.split_once('=').expect("K=V");
        env_set(&mut env, k, v);
    }
    let out_path = format!("{OUT}/{name}");
    let build = g.exec(
        Exec {
            args: vec!["go".into(), "build".into(), "-trimpath".into(), "-ldflags=-s -w".into(), "-o".into(), out_path, spec.main.value.clone()],
            env,
            cwd: SRC.into(),
            user: String::new(),
            mounts: vec![
                // BuildKit mounts a root without an output read-only.
                Mount::output("/", Some(builder)),
                Mount::readonly(SRC, context),
                Mount::output(OUT, None),
                // Go's module and build caches lock their own entries, so concurrent builds
                // (the platforms of one build, or parallel builds) can share them safely.
                Mount::cache(GOMODCACHE, "goapp-go-mod", CacheSharing::Shared),
                Mount::cache(GOCACHE, "goapp-go-build", CacheSharing::Shared),
            ],
            no_network: false,
        },
        input.build_platform,
    );
    {
        let m = g.meta(build.op);
        m.name = Some(format!("[{target}] go build {}", spec.main.value));
        m.ignore_cache = input.no_cache;
        m.ranges.push(range(spec.main.span));
    }

    let base = match spec.runtime.base.value {
        Base::Static => static_base(&mut g, builder),
    };
    g.meta(base.op).name = Some("[runtime] static base: CA certificates, zoneinfo, passwd and group, /tmp".into());
    g.meta(base.op).ranges.push(range(spec.runtime.base.span));

    let bin = format!("{BIN_DIR}/{name}");
    let image = g.file(Some(base), vec![FileAction::Copy(Copy::new(build.get(OUT), &format!("/{name}"), &bin).mode(0o755).owner(0, 0))]);
    g.meta(image.op).name = Some(format!("[{target}] add {bin}"));
    g.meta(image.op).ranges.push(range(spec.name.span));

    let definition = g.marshal(Some(image));
    let config = image_config(input, &bin);
    Ok(Lowered { definition, config })
}

/// The `static` base: what a Go program needs at run time besides itself, taken from the
/// builder image (already pulled, and the same for every target: these files do not depend
/// on the architecture), so no image is pulled and nothing runs on the target platform.
fn static_base(g: &mut Graph, builder: llb::Output) -> llb::Output {
    let passwd = format!(
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{NONROOT_UID}:{NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n"
    );
    let group = format!("root:x:0:\nnonroot:x:{NONROOT_UID}:\n");
    g.file(
        None,
        vec![
            FileAction::Mkdir(Mkdir { path: "/etc".into(), mode: 0o755, parents: true, owner: Some((0, 0)) }),
            FileAction::Mkfile(Mkfile { path: "/etc/passwd".into(), mode: 0o644, data: passwd.into_bytes(), owner: Some((0, 0)) }),
            FileAction::Mkfile(Mkfile { path: "/etc/group".into(), mode: 0o644, data: group.into_bytes(), owner: Some((0, 0)) }),
            FileAction::Mkfile(Mkfile { path: "/etc/nsswitch.conf".into(), mode: 0o644, data: b"hosts: files dns\n".to_vec(), owner: Some((0, 0)) }),
            FileAction::Copy(Copy::new(builder, CA_BUNDLE, CA_BUNDLE).mode(0o644).owner(0, 0)),
            FileAction::Copy(Copy::new(builder, "/usr/share/zoneinfo", "/usr/share/zoneinfo").contents().owner(0, 0)),
            // Copying the builder's /tmp (not its contents) carries its mode, 1777: a mkdir
            // cannot set the sticky bit.
            FileAction::Copy(Copy::new(builder, "/tmp", "/tmp").exclude(&["*"]).owner(0, 0)),
            // Created one at a time: a parent made by `parents` gets the child's mode and owner.
            FileAction::Mkdir(Mkdir { path: "/home".into(), mode: 0o755, parents: false, owner: Some((0, 0)) }),
            FileAction::Mkdir(Mkdir { path: "/home/nonroot".into(), mode: 0o700, parents: false, owner: Some((NONROOT_UID, NONROOT_UID)) }),
        ],
    )
}

fn image_config(input: &LowerInput<'_>, bin: &str) -> ImageConfig {
    let spec = input.spec;
    let mut env = vec![format!("PATH={DEFAULT_PATH}"), format!("SSL_CERT_FILE={CA_BUNDLE}")];
    for (k, v) in &spec.runtime.env {
        env_set(&mut env, &k.value, &v.value);
    }
    let ports: BTreeMap<String, Empty> = spec.runtime.ports.iter().map(|p| (p.value.key(), Empty {})).collect();
    let mut labels = BTreeMap::new();
    labels.insert("org.opencontainers.image.title".to_string(), spec.name.value.clone());
    labels.extend(input.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    ImageConfig {
        architecture: input.target.architecture.clone(),
        os: input.target.os.clone(),
        variant: input.target.variant.clone(),
        created: None,
        config: ContainerConfig {
            user: Some(format!("{NONROOT_UID}:{NONROOT_UID}")),
            exposed_ports: (!ports.is_empty()).then_some(ports),
            env: Some(env),
            entrypoint: Some(vec![bin.to_string()]),
            cmd: (!spec.runtime.args.is_empty()).then(|| spec.runtime.args.iter().map(|a| a.value.clone()).collect()),
            working_dir: Some("/".into()),
            labels: Some(labels),
        },
        rootfs: Default::default(),
        history: vec![
            History {
                created_by: Some("goapp: static base (CA certificates, zoneinfo, passwd and group, /tmp)".into()),
                comment: Some(HISTORY_COMMENT.into()),
                ..Default::default()
            },
            History {
                created_by: Some(format!("goapp: go build {} -> {bin}", spec.main.value)),
                comment: Some(HISTORY_COMMENT.into()),
                ..Default::default()
            },
        ],
    }
}
