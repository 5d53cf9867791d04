//! The Go app spec: what a `goapp.yaml` says, after loading and validation. Every value keeps
//! the span it came from, so that later stages can point at the spec line they implement.

use llb::Platform;

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

/// A whole `goapp.yaml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The application's name: the binary's file name and the image title.
    pub name: Spanned<String>,
    /// The Go package to build, relative to the build context (default `.`).
    pub main: Spanned<String>,
    /// Platforms built when the build does not name any (`--platform`).
    pub platforms: Vec<Spanned<Platform>>,
    pub go: Go,
    pub runtime: Runtime,
}

/// How the Go program is compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Go {
    /// The Go release of the default builder image (`golang:<version>`).
    pub version: Spanned<String>,
    /// A builder image to use instead of `golang:<version>`.
    pub image: Option<Spanned<String>>,
}

/// What the image the program ships in looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runtime {
    pub base: Spanned<Base>,
    /// Ports the program listens on (exposed in the image config).
    pub ports: Vec<Spanned<Port>>,
    /// Environment of the program, in the order written.
    pub env: Vec<(Spanned<String>, Spanned<String>)>,
    /// Arguments passed to the program (the image's `Cmd`).
    pub args: Vec<Spanned<String>>,
}

/// The runtime base image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// Assembled without pulling anything: the binary, CA certificates, zoneinfo, a passwd and
    /// group with root and nonroot (65532), and `/tmp`.
    Static,
}

impl Base {
    pub const NAMES: &'static [&'static str] = &["static"];

    pub fn name(self) -> &'static str {
        match self {
            Base::Static => "static",
        }
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

/// The user every goapp image runs as unless told otherwise: distroless's `nonroot`.
pub const NONROOT_UID: u32 = 65532;

/// The Go release used when the spec names none.
pub const DEFAULT_GO_VERSION: &str = "1.24";
