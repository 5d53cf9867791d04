//! The Go app spec. [`raw`] is its shape as written (the source of the JSON Schema and the
//! reference docs); the types here are the spec after loading: defaults applied, values
//! checked and parsed. Every value keeps the span it came from, so that later stages can
//! point at the spec line they implement.

pub mod raw;

use std::collections::BTreeMap;

use llb::Platform;
use serde::{Deserialize, Deserializer};

use crate::diag::Span;

/// A value and where in the spec it was written (or, for a default, the key that implied it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<'de, T: Deserialize<'de> + Clone> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = marked_yaml::Spanned::<T>::deserialize(d)?;
        let span = s.span().start().map(|m| Span::point(m.line() as u32, m.column() as u32)).unwrap_or_default();
        Ok(Spanned { value: (*s).clone(), span })
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// A whole `goapp.yaml`, loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: Spanned<String>,
    /// The directory of go.mod, relative to the context: `.` or a clean relative path.
    pub module: Spanned<String>,
    /// At least one.
    pub targets: Vec<Target>,
    pub platforms: Vec<Spanned<Platform>>,
    pub go: Go,
    pub runtime: Runtime,
    pub version: Option<String>,
    pub source: Option<String>,
    pub registry_mirror: Option<Spanned<String>>,
    pub test: Test,
    pub debug: Debug,
    pub assets: Vec<Asset>,
    /// Commands run with `sh -c` in the module's directory before the compile.
    pub generate: Vec<Spanned<String>>,
}

/// How `--target test` runs the tests (see [`raw::RawTest`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Test {
    /// Where the `test` section is written (the spec's name when it is not).
    pub span: Span,
    /// Relative to the module, in the `./dir` or `./dir/...` form.
    pub packages: Vec<String>,
    pub flags: Vec<String>,
    /// With `go.tags`.
    pub tags: Vec<String>,
    /// Over `go.env`.
    pub env: Vec<(String, String)>,
    /// A Go duration.
    pub timeout: Option<String>,
    pub vet: bool,
}

impl Test {
    /// Whether the tests run with the race detector, which needs cgo.
    pub fn race(&self) -> bool {
        self.flags.iter().any(|f| f == "-race" || f == "-race=true" || f == "--race")
    }
}

/// The debug image of `--target debug` (see [`raw::RawDebug`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Debug {
    pub span: Span,
    /// Always an image with a shell.
    pub base_image: crate::reference::ImageRef,
    pub port: u16,
    /// `latest` or `vX.Y.Z`.
    pub delve: String,
    pub wait: bool,
}

/// The named base of the debug image by default.
pub const DEFAULT_DEBUG_BASE: &str = "debian";
/// Delve's port by default (Delve's own).
pub const DEFAULT_DELVE_PORT: u16 = 2345;
/// Delve's module and command.
pub const DELVE_PACKAGE: &str = "github.com/go-delve/delve/cmd/dlv";

/// Files copied into the source tree before the compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    pub source: Spanned<AssetSource>,
    /// Clean, relative to the module.
    pub to: Spanned<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssetSource {
    /// A directory of the build context, clean and relative.
    Dir(String),
    /// A named build context.
    Context(String),
}

impl Spec {
    /// The target whose binary is the entrypoint.
    pub fn entrypoint(&self) -> &Target {
        &self.targets[self.runtime.entrypoint]
    }
}

/// One binary, with the `go` settings that apply to it merged in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: Spanned<String>,
    /// In the `./dir` form `go build` needs.
    pub main: Spanned<String>,
    pub ldflags: String,
    pub tags: Vec<String>,
    /// Environment of `go build`, in order.
    pub env: Vec<(String, String)>,
    pub flags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Go {
    /// The Go release of the builder, when the spec names one; otherwise the module's
    /// go.mod chooses it ([`crate::toolchain::choose`]).
    pub version: Option<Spanned<String>>,
    pub image: Option<Spanned<String>>,
    pub module_mode: Option<raw::ModMode>,
    /// Stamp VCS information; the context then carries `.git`.
    pub vcs: bool,
    pub module_cache: raw::ModuleCache,
    /// Set when the program uses cgo.
    pub cgo: Option<Cgo>,
    /// Secrets that module downloads log in with.
    pub secrets: Vec<Secret>,
    /// The shared build cache `go` uses, if any.
    pub shared_cache: Option<SharedCache>,
}

/// A Go build cache shared between machines (see [`raw::RawSharedCache`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedCache {
    /// The whole `shared_cache` section.
    pub span: Span,
    /// The store's base URL, without a trailing `/`.
    pub url: String,
    /// The id of the secret with the store's token.
    pub token: Option<Spanned<String>>,
    pub read_only: bool,
}

/// A secret of the build that `go` logs in with (see [`raw::RawSecret`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    pub id: Spanned<String>,
    pub kind: SecretKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretKind {
    Netrc,
    GitToken {
        host: String,
        user: String,
    },
    /// git over SSH to `host` (and `port`), as `user`; `known_hosts` lines, if given.
    Ssh {
        host: String,
        port: Option<u16>,
        user: String,
        known_hosts: Option<String>,
    },
}

/// The SSH user by default.
pub const DEFAULT_SSH_USER: &str = "git";

/// The user name sent with a git token by default.
pub const DEFAULT_TOKEN_USER: &str = "x-access-token";

/// How the C code of a cgo program is compiled and linked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgo {
    /// Where `cgo: true` is written.
    pub span: Span,
    pub mode: raw::CgoMode,
    pub static_link: bool,
    /// Debian package names, without an architecture.
    pub packages: Vec<Spanned<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runtime {
    pub base: Spanned<Base>,
    /// The image of a [`Base::Image`] base, as written (before any registry mirror).
    pub base_image: Option<crate::reference::ImageRef>,
    pub user: Spanned<User>,
    /// A user name to look up in the base's `/etc/passwd` ([`crate::checks::runtime_user`]);
    /// lowering then uses the ids found there instead of [`Runtime::user`].
    pub user_name: Option<Spanned<String>>,
    pub workdir: Option<Spanned<String>>,
    /// Index into [`Spec::targets`].
    pub entrypoint: usize,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub ports: Vec<Port>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub volumes: Vec<Volume>,
    pub stop_signal: Option<Spanned<String>>,
    pub healthcheck: Option<Healthcheck>,
    pub files: Vec<FileCopy>,
    pub ca_certificates: bool,
    pub tzdata: bool,
    /// The image of the Windows platforms.
    pub windows: Windows,
}

/// The image of the Windows platforms (see [`raw::RawWindows`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Windows {
    /// The base, as written (before any registry mirror), and where (the `runtime` section's
    /// start, or the spec's name, when it is the default).
    pub base_image: crate::reference::ImageRef,
    pub base_span: Span,
    /// `ContainerUser` or `ContainerAdministrator`.
    pub user: String,
}

/// The Windows bases with a name: Microsoft's images, on the long-term servicing release
/// that a tag after the name (`nanoserver:ltsc2025`) replaces.
pub const WINDOWS_BASES: &[(&str, &str)] = &[("nanoserver", "mcr.microsoft.com/windows/nanoserver"), ("servercore", "mcr.microsoft.com/windows/servercore")];
/// The tag of a named Windows base by default: Windows Server 2022.
pub const DEFAULT_WINDOWS_TAG: &str = "ltsc2022";
/// The Windows base by default.
pub const DEFAULT_WINDOWS_BASE: &str = "nanoserver";
/// The Windows accounts a program can run as.
pub const WINDOWS_USERS: &[&str] = &["ContainerUser", "ContainerAdministrator"];

/// The runtime base image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// Assembled without pulling anything: CA certificates, zoneinfo, a passwd and group with
    /// root and nonroot (65532), `/tmp`.
    Static,
    /// Nothing but what the spec puts there.
    Scratch,
    /// An image pulled for each target platform ([`Runtime::base_image`]).
    Image,
}

/// The bases with a name, and the images they stand for.
pub const NAMED_BASES: &[(&str, &str)] = &[
    ("distroless", "gcr.io/distroless/static-debian12:nonroot"),
    ("distroless/static", "gcr.io/distroless/static-debian12:nonroot"),
    ("distroless/base", "gcr.io/distroless/base-debian12:nonroot"),
    ("distroless/cc", "gcr.io/distroless/cc-debian12:nonroot"),
    ("alpine", "alpine:3.20"),
    ("debian", "debian:bookworm-slim"),
];

impl Base {
    pub const NAMES: &'static [&'static str] = &["static", "scratch"];

    pub fn name(self) -> &'static str {
        match self {
            Base::Static => "static",
            Base::Scratch => "scratch",
            Base::Image => "image",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

impl User {
    pub const ROOT: User = User { uid: 0, gid: 0 };
    pub const NONROOT: User = User { uid: NONROOT_UID, gid: NONROOT_UID };

    pub fn config(&self) -> String {
        format!("{}:{}", self.uid, self.gid)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    pub number: u16,
    pub protocol: Protocol,
}

impl Port {
    /// The form the image config uses: `8080/tcp`.
    pub fn key(&self) -> String {
        let p = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        format!("{}/{p}", self.number)
    }
}

/// A health check in the image config (exec form, durations in nanoseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Healthcheck {
    /// Where `healthcheck` is written.
    pub span: Span,
    pub command: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub retries: Option<u32>,
}

/// A directory the engine mounts a volume on, made in the image so that the volume starts
/// with its owner and mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub path: String,
    /// `None`: the runtime user.
    pub owner: Option<User>,
    pub mode: u32,
}

/// A file or directory of the context copied into the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCopy {
    /// Clean, relative to the context root.
    pub src: Spanned<String>,
    pub dest: String,
    pub mode: Option<u32>,
    pub owner: User,
}

/// The user every goapp image runs as unless told otherwise: distroless's `nonroot`.
pub const NONROOT_UID: u32 = 65532;

/// `--target binaries` builds the binaries alone (for `--output type=local`), so no target
/// may have that name.
pub const BINARIES_TARGET: &str = "binaries";
/// `--target test` runs the tests.
pub const TEST_TARGET: &str = "test";
/// `--target debug` builds the debug image.
pub const DEBUG_TARGET: &str = "debug";
/// The `--target` names goapp gives a meaning of its own.
pub const RESERVED_TARGETS: &[(&str, &str)] =
    &[(BINARIES_TARGET, "builds the binaries alone, for `--output type=local`"), (TEST_TARGET, "runs the tests"), (DEBUG_TARGET, "builds the debug image")];

/// Linker flags used when the spec names none.
pub const DEFAULT_LDFLAGS: &str = "-s -w";
/// `go build` flags used when the spec names none.
pub const DEFAULT_FLAGS: &[&str] = &["-trimpath"];
