//! Which Go release builds the program.
//!
//! The module says which Go it needs: go.mod (or go.work, for a workspace) has a `go` line,
//! the oldest Go that may build it, and may have a `toolchain` line, the Go its authors
//! build it with. goapp builds with the builder image of that minor release
//! (`golang:1.27`), unless the spec names one (`go.version`, `go.image`); with no version
//! anywhere it uses [`DEFAULT_RELEASE`]. Before anything compiles, [`check`] compares the
//! builder's Go with the `go` line, so that a builder too old for the module fails with
//! both lines and what to do, instead of Go's own `GOTOOLCHAIN=local` message.

use std::cmp::Ordering;
use std::fmt;

use crate::diag::{Diagnostic, Diagnostics, Pos, Span};
use crate::spec::Spec;

/// The Go releases goapp supports, oldest first: the two that Go's release policy
/// supports.
pub const SUPPORTED_RELEASES: &[&str] = &["1.26", "1.27"];

/// The Go release of the builder when neither the spec nor the module names one: the
/// newest supported.
pub const DEFAULT_RELEASE: &str = SUPPORTED_RELEASES[SUPPORTED_RELEASES.len() - 1];

/// The environment variable Go's official images set to the Go release they carry
/// (`GOLANG_VERSION=1.27.3`).
pub const IMAGE_VERSION_ENV: &str = "GOLANG_VERSION";

/// The Go release an image's environment says it carries ([`IMAGE_VERSION_ENV`], as
/// `1.27.3` or `go1.27.3`); `None` when it says nothing readable.
pub fn image_go_version(env: &[String]) -> Option<GoVersion> {
    let v = crate::image::env_get(env, IMAGE_VERSION_ENV)?;
    GoVersion::parse(v.trim().trim_start_matches("go"))
}

/// A Go version as go.mod writes it: `1.27` (a language version: any 1.27 release),
/// `1.27.3`, `1.27rc1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: Option<u32>,
    /// `beta2`, `rc1`: (kind, number).
    pub pre: Option<(PreRelease, u32)>,
}

/// A pre-release of Go, as Go names them: `rc` after `beta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreRelease {
    Beta,
    Rc,
}

impl GoVersion {
    /// Parses `1.27`, `1.27.3` or `1.27rc1` (no `go` prefix), as Go's own grammar allows
    /// them: no leading zeros, a pre-release only without a patch number.
    pub fn parse(s: &str) -> Option<GoVersion> {
        fn number(s: &str) -> Option<u32> {
            if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
                return None;
            }
            s.parse().ok()
        }
        let (major, rest) = s.split_once('.')?;
        let major = number(major)?;
        if major == 0 {
            return None;
        }
        // The minor number, then `.patch` or a pre-release.
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let minor = number(&rest[..digits])?;
        let tail = &rest[digits..];
        let (patch, pre) = if tail.is_empty() {
            (None, None)
        } else if let Some(p) = tail.strip_prefix('.') {
            (Some(number(p)?), None)
        } else {
            let letters = tail.bytes().take_while(u8::is_ascii_lowercase).count();
            let kind = match &tail[..letters] {
                "beta" => PreRelease::Beta,
                "rc" => PreRelease::Rc,
                _ => return None,
            };
            let n = number(&tail[letters..])?;
            (None, Some((kind, n)))
        };
        Some(GoVersion { major, minor, patch, pre })
    }

    /// The minor release: `1.27` for `1.27.3`, the tag of the `golang` image that carries it.
    pub fn minor_release(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// Go's order: `1.27` < `1.27beta1` < `1.27rc1` < `1.27.0` < `1.27.1`.
    fn key(&self) -> (u32, u32, u8, u32) {
        match (self.patch, self.pre) {
            (Some(p), _) => (self.major, self.minor, 3, p),
            (None, Some((PreRelease::Rc, n))) => (self.major, self.minor, 2, n),
            (None, Some((PreRelease::Beta, n))) => (self.major, self.minor, 1, n),
            (None, None) => (self.major, self.minor, 0, 0),
        }
    }

    /// Whether a Go of this version may build a module whose `go` line says `need`. A
    /// language version (`1.27`, as the image tag `golang:1.27` promises) stands for any
    /// release of it.
    pub fn satisfies(&self, need: &GoVersion) -> bool {
        if self.patch.is_none() && self.pre.is_none() {
            return (self.major, self.minor) >= (need.major, need.minor);
        }
        self >= need
    }
}

impl Ord for GoVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for GoVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for GoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        match (self.patch, self.pre) {
            (Some(p), _) => write!(f, ".{p}"),
            (None, Some((PreRelease::Beta, n))) => write!(f, "beta{n}"),
            (None, Some((PreRelease::Rc, n))) => write!(f, "rc{n}"),
            (None, None) => Ok(()),
        }
    }
}

/// A `go` or `toolchain` line of a go.mod or go.work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    pub version: GoVersion,
    /// The line as written, without a comment: `go 1.27`, `toolchain go1.27.3`.
    pub text: String,
    /// Where the version is on the line.
    pub span: Span,
}

/// The Go lines of a module's go.mod, or of a workspace's go.work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModFile {
    /// The file's path in the build context, e.g. `go.mod` or `services/api/go.mod`.
    pub path: String,
    pub source: String,
    /// The oldest Go that may build the module.
    pub go: Option<Directive>,
    /// The Go its authors build it with (`toolchain default` counts as none).
    pub toolchain: Option<Directive>,
}

impl ModFile {
    /// Reads the `go` and `toolchain` lines of a go.mod or go.work. A line that Go would
    /// refuse (a version it cannot read, a repeated line) is an error at its line and column.
    pub fn parse(path: &str, source: &str) -> Result<ModFile, Diagnostics> {
        let mut file = ModFile { path: path.to_string(), source: source.to_string(), go: None, toolchain: None };
        let mut errors = Vec::new();
        let mut in_block = false;
        for (i, raw_line) in source.lines().enumerate() {
            let line = raw_line.split("//").next().unwrap_or("");
            let line_no = i as u32 + 1;
            let trimmed = line.trim();
            if in_block {
                if trimmed == ")" {
                    in_block = false;
                }
                continue;
            }
            if trimmed.ends_with('(') {
                in_block = true;
                continue;
            }
            // Tokens with the column (1-based, in characters) each starts at.
            let mut tokens: Vec<(u32, &str)> = Vec::new();
            let mut rest = line;
            let mut col = 1u32;
            while !rest.is_empty() {
                let ws = rest.len() - rest.trim_start().len();
                col += rest[..ws].chars().count() as u32;
                rest = &rest[ws..];
                if rest.is_empty() {
                    break;
                }
                let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
                tokens.push((col, &rest[..len]));
                col += rest[..len].chars().count() as u32;
                rest = &rest[len..];
            }
            let Some(&(key_col, key)) = tokens.first() else { continue };
            if key != "go" && key != "toolchain" {
                continue;
            }
            let text = tokens.iter().map(|(_, t)| *t).collect::<Vec<_>>().join(" ");
            let whole = Span { start: Pos { line: line_no, column: key_col }, end: Pos { line: line_no, column: key_col + key.len() as u32 - 1 } };
            let Some(&(col, value)) = tokens.get(1).filter(|_| tokens.len() == 2) else {
                let example = if key == "go" { "go 1.27" } else { "toolchain go1.27.3" };
                errors.push(
                    Diagnostic::error("InvalidGoMod", whole, format!("`{text}`: the {key} line takes one version")).hint(format!("write it as `{example}`")),
                );
                continue;
            };
            let value = value.trim_matches('"');
            let span = Span { start: Pos { line: line_no, column: col }, end: Pos { line: line_no, column: col + tokens[1].1.chars().count() as u32 - 1 } };
            let slot = if key == "go" { &mut file.go } else { &mut file.toolchain };
            if slot.is_some() {
                errors.push(
                    Diagnostic::error("InvalidGoMod", whole, format!("a second {key} line")).hint(format!("a {path} has one {key} line: remove this one")),
                );
                continue;
            }
            let parsed = if key == "go" {
                GoVersion::parse(value).ok_or_else(|| {
                    Diagnostic::error("InvalidGoMod", span, format!("`{value}` is not a Go version"))
                        .hint("the go line names the oldest Go release that builds the module, e.g. `go 1.27` or `go 1.27.3`")
                })
            } else if value == "default" || value == "go1" {
                // No preference; `go1` (Go 1.0) is older than any Go that reads this line.
                continue;
            } else {
                // `go1.27.3`, and Go allows a suffix for a custom build: `go1.27.3-custom`.
                let version = value.strip_prefix("go").map(|v| v.split_once('-').map(|(v, _)| v).unwrap_or(v));
                version.and_then(GoVersion::parse).ok_or_else(|| {
                    Diagnostic::error("InvalidGoMod", span, format!("`{value}` is not a Go toolchain"))
                        .hint("the toolchain line names a Go release with a `go` prefix, e.g. `toolchain go1.27.3`")
                })
            };
            match parsed {
                Ok(version) => *slot = Some(Directive { version, text, span }),
                Err(d) => errors.push(d),
            }
        }
        if errors.is_empty() { Ok(file) } else { Err(Diagnostics::new(path, source, errors)) }
    }

    /// `go.mod:3`: where a directive is, as the messages name it.
    pub fn at(&self, d: &Directive) -> String {
        format!("{}:{}", self.path, d.span.start.line)
    }
}

/// Where the builder's Go release was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `go.version` in the spec.
    SpecVersion(Span),
    /// `go.image` in the spec: the release is the image's.
    SpecImage(Span),
    /// The `toolchain` line of the module file.
    Toolchain(String, Span),
    /// The `go` line of the module file.
    GoLine(String, Span),
    /// Nothing names one: [`DEFAULT_RELEASE`].
    Default,
}

/// The Go release the builder is chosen by, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoRelease {
    /// The tag of the `golang` image: `1.27`, or the spec's `go.version` as written
    /// (`1.26.3`).
    pub version: String,
    pub origin: Origin,
}

impl GoRelease {
    /// The default release, for a spec lowered without a module file to read.
    pub fn default_release() -> GoRelease {
        GoRelease { version: DEFAULT_RELEASE.to_string(), origin: Origin::Default }
    }

    /// Where it comes from, for the build's progress and `--call outline`: `go.mod:3`,
    /// `go.version in goapp.yaml:8`.
    pub fn source(&self, spec_file: &str) -> String {
        match &self.origin {
            Origin::SpecVersion(s) => format!("go.version, {spec_file}:{}", s.start.line),
            Origin::SpecImage(s) => format!("go.image, {spec_file}:{}", s.start.line),
            Origin::Toolchain(path, s) => format!("the toolchain line, {path}:{}", s.start.line),
            Origin::GoLine(path, s) => format!("the go line, {path}:{}", s.start.line),
            Origin::Default => "goapp's default: neither the spec nor go.mod names a Go release".to_string(),
        }
    }

    /// `Go 1.27 (the go line, go.mod:3)`; for `go.image`, the image's own Go.
    pub fn describe(&self, spec_file: &str) -> String {
        match &self.origin {
            Origin::SpecImage(s) => format!("the Go of go.image ({spec_file}:{})", s.start.line),
            _ => format!("Go {} ({})", self.version, self.source(spec_file)),
        }
    }
}

/// The Go release a spec builds with: `go.image`, else `go.version`, else the module file's
/// `toolchain` line (or its `go` line, when that is newer), else [`DEFAULT_RELEASE`].
pub fn choose(spec: &Spec, module: Option<&ModFile>) -> GoRelease {
    if let Some(image) = &spec.go.image {
        return GoRelease { version: String::new(), origin: Origin::SpecImage(image.span) };
    }
    if let Some(v) = &spec.go.version {
        return GoRelease { version: v.value.clone(), origin: Origin::SpecVersion(v.span) };
    }
    if let Some(m) = module {
        let newest = match (&m.toolchain, &m.go) {
            (Some(t), Some(g)) if (g.version.major, g.version.minor) > (t.version.major, t.version.minor) => Some((g, false)),
            (Some(t), _) => Some((t, true)),
            (None, Some(g)) => Some((g, false)),
            (None, None) => None,
        };
        if let Some((d, toolchain)) = newest {
            let origin = if toolchain { Origin::Toolchain(m.path.clone(), d.span) } else { Origin::GoLine(m.path.clone(), d.span) };
            return GoRelease { version: d.version.minor_release(), origin };
        }
    }
    GoRelease::default_release()
}

/// A warning when the chosen release is older than every release goapp supports (a module
/// whose go.mod says `go 1.22`, or such a `go.version`): the file it points at (the module
/// file's path, or `None` for the spec) and the warning.
pub fn support_warning(release: &GoRelease, spec_file: &str) -> Option<(Option<String>, Diagnostic)> {
    let v = GoVersion::parse(&release.version)?;
    let oldest = GoVersion::parse(SUPPORTED_RELEASES[0]).expect("a release");
    if (v.major, v.minor) >= (oldest.major, oldest.minor) {
        return None;
    }
    let supported = SUPPORTED_RELEASES.join(" and ");
    let message = format!("Go {} ({}) is out of support: goapp supports Go {supported}", v.minor_release(), release.source(spec_file));
    match &release.origin {
        Origin::SpecVersion(span) => Some((
            None,
            Diagnostic::warning("GoReleaseOutOfSupport", *span, message)
                .hint(format!("set go.version to \"{DEFAULT_RELEASE}\", or remove it to build with the release go.mod names")),
        )),
        Origin::Toolchain(path, span) | Origin::GoLine(path, span) => Some((
            Some(path.clone()),
            Diagnostic::warning("GoReleaseOutOfSupport", *span, message).hint(format!(
                "a `toolchain go{DEFAULT_RELEASE}` line in {path}, or go.version: \"{DEFAULT_RELEASE}\" in the spec, builds it with a supported Go"
            )),
        )),
        _ => None,
    }
}

/// A builder whose Go is older than the module's `go` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub message: String,
    pub hint: String,
    /// The `go` line, in the module file.
    pub module: (String, String, Span),
    /// The spec line that chose the builder, when the spec chose it.
    pub spec: Option<Span>,
}

/// Checks, before anything compiles, that the builder's Go may build the module: its
/// release (what the image's environment says, `image_go` from [`image_go_version`]; else
/// the release the image was chosen by) against the module file's `go` line. An image that
/// does not say which Go it has (a `go.image` without `GOLANG_VERSION`) is checked by a step
/// of the build instead (see `lower`).
pub fn check(release: &GoRelease, spec_file: &str, builder: &str, image_go: Option<GoVersion>, module: Option<&ModFile>) -> Result<(), Box<Mismatch>> {
    let Some(m) = module else { return Ok(()) };
    let Some(need) = &m.go else { return Ok(()) };
    let have = match image_go {
        Some(v) => v,
        None => match (&release.origin, GoVersion::parse(&release.version)) {
            (Origin::SpecImage(_), _) | (_, None) => return Ok(()),
            (_, Some(v)) => v,
        },
    };
    if have.satisfies(&need.version) {
        return Ok(());
    }
    let need_v = &need.version;
    let needs = format!("{} needs Go {need_v} or later (`{}`, {})", m.path, need.text, m.at(need));
    let has = format!("Go {have} ({builder})");
    let (message, hint, spec) = match &release.origin {
        Origin::SpecVersion(span) => (
            format!("{needs}, but go.version ({spec_file}:{}) chooses {has}", span.start.line),
            format!(
                "remove go.version to build with the Go release {} names, or set it to \"{}\" or later",
                m.path,
                if need_v.patch.is_some() { need_v.to_string() } else { need_v.minor_release() }
            ),
            Some(*span),
        ),
        Origin::SpecImage(span) => (
            format!("{needs}, but the builder of go.image ({spec_file}:{}) has {has}", span.start.line),
            format!("use a builder image with Go {need_v} or later, or remove go.image to build with golang:{}", need_v.minor_release()),
            Some(*span),
        ),
        _ => (
            format!("{needs}, but the builder has {has}"),
            format!("pull a newer golang:{} (--pull), or set go.version to a release that has Go {need_v}", need_v.minor_release()),
            None,
        ),
    };
    Err(Box::new(Mismatch { message, hint, module: (m.path.clone(), m.source.clone(), need.span), spec }))
}
