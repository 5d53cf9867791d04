//! The spec as written: the shape of `goapp.yaml`. These types are the single source of the
//! spec's structure: the loader checks YAML against the JSON Schema generated from them, the
//! reference documentation is generated from their doc comments, and serde reads them.
//! Every field is optional here except `name`; defaults are applied when resolving.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::Spanned;

/// A goapp spec: how to build a Go program into a container image.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "goapp spec", extend("patternProperties" = { "^x-": {} }))]
pub struct RawSpec {
    /// The application's name: the name of its binary (when `targets` is not given) and the
    /// image's `org.opencontainers.image.title`. Lower-case letters, digits, `.`, `_` and `-`.
    pub name: Spanned<String>,
    /// The directory holding `go.mod` (or `go.work`), relative to the build context.
    /// Default: `.`.
    pub module: Option<Spanned<String>>,
    /// The Go package to build, relative to `module`, when the app has one binary.
    /// Default: `.`. Use `targets` for several binaries.
    pub main: Option<Spanned<String>>,
    /// The binaries to build, for an app with more than one. Each one is installed in
    /// `/usr/local/bin`; the first is the entrypoint unless `runtime.entrypoint` names another.
    pub targets: Option<Vec<Spanned<RawTarget>>>,
    /// Platforms to build when the build does not name any with `--platform`, e.g.
    /// `[linux/amd64, linux/arm64]`. Default: the platform of the build machine. Windows
    /// platforms (`windows/amd64`, `windows/arm64`) build `NAME.exe` with `--target
    /// binaries`; goapp makes no Windows image yet.
    pub platforms: Option<Vec<Spanned<String>>>,
    /// How the Go program is compiled.
    pub go: Option<Spanned<RawGo>>,
    /// The image the program runs in.
    pub runtime: Option<Spanned<RawRuntime>>,
    /// The application's version: the image's `org.opencontainers.image.version`, e.g.
    /// `${VERSION:-dev}`.
    pub version: Option<Spanned<String>>,
    /// Where the source code lives: the image's `org.opencontainers.image.source`, e.g.
    /// `https://github.com/example/app`. Default: the repository buildx reports for the
    /// build context, if any.
    pub source: Option<Spanned<String>>,
    /// A registry that serves copies of every image the build pulls (the builder and the
    /// runtime base), for air-gapped sites and regional mirrors: `host[:port][/prefix]`.
    /// `docker.io/library/golang:1.27` is then pulled as `<mirror>/library/golang:1.27` and
    /// `gcr.io/distroless/static-debian12` as `<mirror>/gcr.io/distroless/static-debian12`;
    /// images on the mirror's own registry or on a registry with a port are pulled as they
    /// are. The build arg `GOAPP_REGISTRY_MIRROR` overrides it.
    pub registry_mirror: Option<Spanned<String>>,
    /// How `--target test` runs the module's tests.
    pub test: Option<Spanned<RawTest>>,
    /// How `--target debug` builds the image to debug the program in.
    pub debug: Option<Spanned<RawDebug>>,
    /// Files the compile needs that are not in the module as it is: copied into the source
    /// tree before `generate` runs and before anything compiles (web assets for `go:embed`,
    /// generated code), from a directory of the build context or from another named build
    /// context (`--build-context web=./web/dist`, or a bake target: `contexts: {web:
    /// "target:web"}`).
    pub assets: Option<Vec<Spanned<RawAsset>>>,
    /// Commands run in the module's directory on the builder, after `assets` are copied and
    /// before anything compiles, whose changes to the source tree the compile and the tests
    /// see, e.g. `go generate ./...` (with tools from the module's `tool` lines). They run
    /// with `sh -c`, with the module cache and the build cache, and can reach the network
    /// (through the proxy build args).
    pub generate: Option<Vec<Spanned<String>>>,
}

/// How `--target test` runs `go test`: on the build platform, with the builder, module
/// cache, build cache, secrets and build tags of the build. A failing test fails the build;
/// `--output type=local,dest=DIR` exports `test.json` (`go test -json`), `junit.xml` and
/// `coverage.out`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Test", extend("patternProperties" = { "^x-": {} }))]
pub struct RawTest {
    /// The packages to test, relative to `module`. Default: `[./...]`.
    pub packages: Option<Vec<Spanned<String>>>,
    /// `go test` flags: `-race`, `-count=N`, `-run=REGEXP`, `-skip=REGEXP`, `-short`,
    /// `-failfast`, `-shuffle=on`, `-parallel=N`, `-cpu=LIST`, `-covermode=MODE`,
    /// `-coverpkg=LIST`, `-benchtime=T`, `-bench=REGEXP`. `-race` compiles with cgo, with
    /// the builder's C compiler.
    pub flags: Option<Vec<Spanned<String>>>,
    /// Build tags of the tests, added to `go.tags`, e.g. `[integration]`.
    pub tags: Option<Vec<Spanned<String>>>,
    /// Environment of the tests, over `go.env`.
    pub env: Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>,
    /// How long the tests may run (`go test -timeout`), e.g. `5m`. Default: Go's (10m).
    pub timeout: Option<Spanned<String>>,
    /// Whether `go vet` checks the packages before the tests run. Default: `true`.
    pub vet: Option<Spanned<bool>>,
}

/// The debug image of `--target debug`: the program compiled without optimizations, run by
/// Delve, headless, on a base with a shell.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Debug", extend("patternProperties" = { "^x-": {} }))]
pub struct RawDebug {
    /// The base of the debug image: a named base or an image reference, with a shell.
    /// Default: `debian` (`debian:bookworm-slim`).
    pub base: Option<Spanned<String>>,
    /// The port Delve listens on, for an editor to attach to. Default: `2345`.
    pub port: Option<Spanned<Port>>,
    /// The version of Delve (`github.com/go-delve/delve`), as `go install` takes it: `latest`
    /// or a version such as `v1.25.2`. It comes through the module proxy like any module.
    /// Default: `latest`.
    pub delve: Option<Spanned<String>>,
    /// Whether the program waits for a debugger to attach and continue it. Default: `false`
    /// (it starts at once; a debugger can attach at any time).
    pub wait: Option<Spanned<bool>>,
}

/// Files copied into the source tree before the compile: `from` a directory of the build
/// context, or a named `context`, `to` a directory relative to `module`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Asset", extend("patternProperties" = { "^x-": {} }))]
pub struct RawAsset {
    /// A directory of the build context.
    pub from: Option<Spanned<String>>,
    /// The name of a named build context: `docker buildx build --build-context NAME=DIR`, or
    /// a bake target's output (`contexts = { NAME = "target:web" }`).
    pub context: Option<Spanned<String>>,
    /// Where the files go, a directory relative to `module`, e.g. `internal/web/dist` (for
    /// `//go:embed dist` in package `internal/web`). Its contents are replaced.
    pub to: Spanned<String>,
}

/// One binary of the app.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target", extend("patternProperties" = { "^x-": {} }))]
pub struct RawTarget {
    /// The binary's name. Lower-case letters, digits, `.`, `_` and `-`.
    pub name: Spanned<String>,
    /// The Go package to build, relative to `module`, e.g. `./cmd/api`.
    pub main: Spanned<String>,
    /// Linker flags for this binary, replacing `go.ldflags`.
    pub ldflags: Option<Spanned<String>>,
    /// Build tags for this binary, added to `go.tags`.
    pub tags: Option<Vec<Spanned<String>>>,
    /// Environment of this binary's `go build`, over `go.env`.
    pub env: Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>,
    /// `go build` flags for this binary, replacing `go.flags`.
    pub flags: Option<Vec<Spanned<String>>>,
}

/// How the Go program is compiled.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Go", extend("patternProperties" = { "^x-": {} }))]
pub struct RawGo {
    /// The Go release of the builder image `golang:<version>`, e.g. `"1.27"` or `"1.26.3"`
    /// (quote it: YAML reads 1.20 as the number 1.2). Default: the Go release the module
    /// names: the `toolchain` line of its go.mod (go.work in a workspace), else its `go`
    /// line; without either, the newest Go release goapp supports (1.27). A release older
    /// than go.mod's `go` line is refused before anything compiles.
    pub version: Option<Spanned<String>>,
    /// A builder image to use instead of `golang:<version>`. It must have `go` on its PATH.
    /// Its Go release is checked against go.mod's `go` line when the image says which one
    /// it has (`GOLANG_VERSION`, as the official images set it).
    pub image: Option<Spanned<String>>,
    /// Whether the program uses cgo. Default: `false` (a static binary, cross-compiled
    /// without emulation). With `true` the C code is compiled by gcc and linked against
    /// glibc, and the default builder image is `golang:<version>-bookworm`: binaries linked
    /// against Debian 12's glibc run on every Debian 12 or newer base.
    pub cgo: Option<Spanned<bool>>,
    /// How a cgo program is compiled for a platform other than the build machine's: `native`
    /// (the builder stays on the build platform and uses Debian's cross C compiler for the
    /// target), `emulated` (the builder runs on the target platform under QEMU, much
    /// slower), or `auto`: `native` when Debian has a cross compiler for the target, else
    /// `emulated`. Only with `cgo: true`. Default: `auto`.
    pub cgo_mode: Option<Spanned<CgoMode>>,
    /// Link the C library and every C dependency into the binaries (`-linkmode=external
    /// -extldflags=-static`, with the `netgo` and `osusergo` tags), so that they run on any
    /// base, even `static` or `scratch`. Only with `cgo: true` (without cgo, binaries are
    /// always static). Default: `false` (binaries link glibc dynamically, and the base must
    /// have it).
    #[serde(rename = "static")]
    pub static_link: Option<Spanned<bool>>,
    /// Debian packages the C code builds against, e.g. `[libsqlite3-dev]`: installed in the
    /// builder for the target's architecture (as multiarch packages with the cross
    /// compiler). The shared libraries the binaries then need and the base lacks are copied
    /// into the image. Only with `cgo: true`.
    pub c_packages: Option<Vec<Spanned<String>>>,
    /// Build tags for every binary (`-tags`).
    pub tags: Option<Vec<Spanned<String>>>,
    /// Linker flags for every binary (`-ldflags`). Default: `-s -w` (no symbol table or
    /// debug information: smaller binaries). Flags written here replace the default: to set
    /// `-X` values and keep it, use `x`.
    pub ldflags: Option<Spanned<String>>,
    /// String variables set at link time, for every binary: `main.version: ${VERSION:-dev}`
    /// adds `-X main.version=…` to the linker flags, after `ldflags` (whose default `-s -w`
    /// it keeps). Keys are `importpath.name`, as `-X` takes them.
    pub x: Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>,
    /// Other `go build` flags for every binary. Default: `[-trimpath]` (no build paths in the
    /// binary, for reproducible builds).
    pub flags: Option<Vec<Spanned<String>>>,
    /// Environment of `go build`: GOPROXY, GOPRIVATE, GONOSUMDB, GOFLAGS, GOEXPERIMENT, ...
    /// GOOS, GOARCH and CGO_ENABLED are set by goapp and cannot be set here.
    pub env: Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>,
    /// Whether to stamp version control information (commit, time, dirty flag) into the
    /// binaries, as `go version -m` shows it. This sends `.git` with the build context, so a
    /// new commit rebuilds. Default: `false` (`.git` is not sent; `-buildvcs=false`).
    pub vcs: Option<Spanned<bool>>,
    /// Where downloaded modules are kept: `mount` (a BuildKit cache mount, shared by every
    /// build on the machine) or `layer` (a layer of the builder stage, which `--cache-to` and
    /// `--cache-from` carry between machines, such as ephemeral CI runners; BuildKit does not
    /// export cache mounts). Default: `mount`.
    pub module_cache: Option<Spanned<ModuleCache>>,
    /// How `go build` treats go.mod and vendor/: `auto` (Go's default: vendor/ when present),
    /// `vendor`, `mod` or `readonly`. Default: `auto`.
    #[serde(rename = "mod")]
    pub module_mode: Option<Spanned<ModMode>>,
    /// Secrets of the build that module downloads log in with, for private modules: each is
    /// passed with `docker buildx build --secret id=<id>,src=<file>` (or, for `type: ssh`,
    /// `--ssh <id>`). They are mounted only while `go` runs, and land in no layer, no cache
    /// and no image.
    pub secrets: Option<Vec<Spanned<RawSecret>>>,
    /// A Go build cache shared between machines, kept in an HTTP store you run: a build on
    /// an engine that has never built the project (a new CI runner, another builder node,
    /// after `docker buildx prune`) compiles only what is not in it. `go` runs a small cache
    /// program (`GOCACHEPROG`) from the frontend image; it looks objects up in
    /// the engine's build cache mount first, then in the store, and uploads what it
    /// compiles. BuildKit's `--cache-to` carries layers only, never the compile cache.
    pub shared_cache: Option<Spanned<RawSharedCache>>,
}

/// A shared Go build cache in an HTTP store.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SharedCache", extend("patternProperties" = { "^x-": {} }))]
pub struct RawSharedCache {
    /// The store's base URL, `http://` or `https://`, e.g.
    /// `https://cache.example.com/go/${PROJECT}`. Objects are read with `GET` and written
    /// with `PUT` under `<url>/v1/` (any server that stores what is PUT works: nginx with
    /// WebDAV, a bucket's HTTP endpoint). No user or password in the URL: use `token`.
    pub url: Spanned<String>,
    /// The id of a build secret holding the store's token, sent as `Authorization: Bearer
    /// <token>`: `docker buildx build --secret id=<token>,env=GOCACHE_TOKEN`. It is mounted
    /// only while `go` runs and is in no layer, no cache and no image. A build without
    /// the secret uses the store without a token.
    pub token: Option<Spanned<String>>,
    /// Look objects up, never upload: for builds of code that is not trusted (pull
    /// requests), which must not write what every later build reads. E.g.
    /// `read_only: ${CACHE_READ_ONLY:-false}` with `--build-arg CACHE_READ_ONLY=true` on
    /// pull requests. Default: `false`.
    pub read_only: Option<Spanned<bool>>,
}

/// A secret that module downloads log in with.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Secret", extend("patternProperties" = { "^x-": {} }))]
pub struct RawSecret {
    /// The secret's id, as passed to `--secret id=<id>`, or the SSH agent's, as passed to
    /// `--ssh <id>` (`default` for `--ssh default`).
    pub id: Spanned<String>,
    /// What the secret holds: `netrc`, a `.netrc` file (mounted at `/root/.netrc`, with
    /// `NETRC` pointing to it), which Go uses for module proxies and git for HTTPS
    /// repositories; `git_token`, an access token for git over HTTPS to `host` (such as a
    /// GitHub token), given to git by a credential helper; or `ssh`, an SSH agent with a key
    /// for `host`: git fetches `https://<host>/...` over SSH instead.
    #[serde(rename = "type")]
    pub kind: Spanned<SecretKind>,
    /// The host a `git_token` or `ssh` secret is for, e.g. `github.com`; for `ssh`, with the
    /// SSH port when it is not 22 (`git.example.com:2222`).
    pub host: Option<Spanned<String>>,
    /// The user name sent with a `git_token` (default: `x-access-token`, what GitHub expects;
    /// GitLab takes any name), or the SSH user (default: `git`).
    pub user: Option<Spanned<String>>,
    /// The host's SSH public keys, as lines of a `known_hosts` file (what `ssh-keyscan
    /// <host>` prints). Only with `type: ssh`. Without it, the host's key is not checked.
    pub known_hosts: Option<Spanned<String>>,
}

/// What a [`RawSecret`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// A `.netrc` file.
    Netrc,
    /// An access token for git over HTTPS to one host.
    GitToken,
    /// An SSH agent, for git over SSH to one host.
    Ssh,
}

/// `-mod` mode of `go build`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModMode {
    /// Go's own choice: `vendor` when vendor/modules.txt exists, else `readonly`.
    Auto,
    /// Build from vendor/ only.
    Vendor,
    /// Update go.mod as needed.
    Mod,
    /// Fail if go.mod needs an update.
    Readonly,
}

/// How a cgo program is compiled for another platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CgoMode {
    /// `native` when Debian has a cross C compiler for the target, else `emulated`.
    Auto,
    /// On the build platform, with Debian's cross C compiler for the target.
    Native,
    /// On the target platform, under QEMU.
    Emulated,
}

/// Where downloaded Go modules are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModuleCache {
    /// A BuildKit cache mount, shared by every build on the machine.
    Mount,
    /// A layer of the builder stage, exported with the build cache.
    Layer,
}

/// The image the program runs in.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Runtime", extend("patternProperties" = { "^x-": {} }))]
pub struct RawRuntime {
    /// The base of the image. `static` is assembled without pulling an image (CA
    /// certificates, zoneinfo, passwd and group with root and nonroot, /tmp); `scratch` has the
    /// binaries only. The others are pulled for each target platform: `distroless`
    /// (`gcr.io/distroless/static-debian12:nonroot`), `distroless/base` (with glibc and
    /// OpenSSL) and `distroless/cc` (also libgcc and libstdc++) for binaries that need a C
    /// library, `alpine` (`alpine:3.20`), `debian` (`debian:bookworm-slim`), or any image
    /// reference such as `registry.example.com/base:1.0`. Default: `static`.
    pub base: Option<Spanned<String>>,
    /// The user the program runs as: `nonroot` (65532:65532, which needs no passwd entry),
    /// `root`, a numeric `uid[:gid]`, or, on a pulled base, a user name from the base's
    /// `/etc/passwd`. Default: `nonroot`.
    pub user: Option<Spanned<String>>,
    /// The working directory of the program, an absolute path. goapp creates it owned by
    /// `user` with mode 0755, so that the program can write there (parents it creates are
    /// root's; a directory the base has already is left as it is). Default: `/`.
    pub workdir: Option<Spanned<String>>,
    /// The target whose binary is the image's entrypoint. Default: the first target.
    pub entrypoint: Option<Spanned<String>>,
    /// Arguments passed to the program (the image's `Cmd`).
    pub args: Option<Vec<Spanned<String>>>,
    /// Environment of the program.
    pub env: Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>,
    /// Ports the program listens on: `8080`, `"8080/tcp"` or `"53/udp"`.
    pub ports: Option<Vec<Spanned<Port>>>,
    /// Labels of the image config.
    pub labels: Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>,
    /// OCI annotations of the image manifests (and of the index, for several platforms), such
    /// as `org.opencontainers.image.description`.
    pub annotations: Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>,
    /// Directories that hold data outside the image (`VOLUME`): absolute paths, or mappings
    /// with a `path` and the directory's `owner` and `mode`. Each is created as `workdir` is,
    /// owned by `user` with mode 0755 unless it says otherwise: a volume the engine makes
    /// from it, named or anonymous, is writable by the program.
    pub volumes: Option<Vec<Spanned<RawVolume>>>,
    /// The signal that stops the program, e.g. `SIGTERM` or `SIGINT`. Windows images have
    /// none: Windows stops a container with a shutdown event, which a Go program receives as
    /// `SIGTERM`; another signal is refused when a Windows platform is built.
    pub stop_signal: Option<Spanned<String>>,
    /// A command the engine runs in the container to check that the program is healthy.
    pub healthcheck: Option<Spanned<RawHealthcheck>>,
    /// Files from the build context to put in the image.
    pub files: Option<Vec<Spanned<RawFile>>>,
    /// Whether the image has the CA certificate bundle (`/etc/ssl/certs/ca-certificates.crt`,
    /// with `SSL_CERT_FILE` set). On a pulled base that lacks it, it is copied from the
    /// builder. Windows images have none: Go takes the certificates Windows trusts from its
    /// own store. Default: true, except for `scratch`.
    pub ca_certificates: Option<Spanned<bool>>,
    /// Whether the image has the time zone database (`/usr/share/zoneinfo`). On a pulled base
    /// that lacks it, it is copied from the builder. Windows has none that Go reads: the
    /// Windows binaries carry it (the `timetzdata` build tag, about 450 KB). Default: true,
    /// except for `scratch`.
    pub tzdata: Option<Spanned<bool>>,
    /// The image of the Windows platforms (`windows/amd64`, `windows/arm64`): its base and
    /// user. The rest of `runtime` applies to it too, with paths on drive `C:` (`/data` is
    /// `C:\data`); see "Windows images" in the reference.
    pub windows: Option<Spanned<RawWindows>>,
}

/// How the image of a Windows platform differs from a Linux one.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Windows", extend("patternProperties" = { "^x-": {} }))]
pub struct RawWindows {
    /// The base of the Windows images: `nanoserver`
    /// (`mcr.microsoft.com/windows/nanoserver:ltsc2022`), `servercore`
    /// (`mcr.microsoft.com/windows/servercore:ltsc2022`), either with another tag
    /// (`nanoserver:ltsc2025`, for Windows Server 2025 hosts), or the reference of a Windows
    /// image. A Windows container runs only on a host of the same Windows release as its
    /// base. Default: `nanoserver`.
    pub base: Option<Spanned<String>>,
    /// The Windows account the program runs as: `ContainerUser` (which cannot change the
    /// system) or `ContainerAdministrator`. Default: `ContainerUser`.
    pub user: Option<Spanned<String>>,
}

/// A health check, run without a shell: the command's first word must be a program in the
/// image, such as one of the app's targets.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Healthcheck", extend("patternProperties" = { "^x-": {} }))]
pub struct RawHealthcheck {
    /// The command and its arguments, e.g. `[hello, --check]`. The first word is a target
    /// name or an absolute path to a program in the image.
    pub command: Vec<Spanned<String>>,
    /// Time between checks, e.g. `30s`. Default: the engine's (30s).
    pub interval: Option<Spanned<String>>,
    /// Time after which a check counts as failed, e.g. `5s`. Default: the engine's (30s).
    pub timeout: Option<Spanned<String>>,
    /// Time the program gets to start before failed checks count, e.g. `10s`.
    pub start_period: Option<Spanned<String>>,
    /// Failed checks in a row after which the container is unhealthy. Default: the
    /// engine's (3).
    pub retries: Option<Spanned<u32>>,
}

/// A file or directory of the build context, copied into the image.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "File", extend("patternProperties" = { "^x-": {} }))]
pub struct RawFile {
    /// The path in the build context.
    pub src: Spanned<String>,
    /// The absolute path in the image. Ending in `/`, it names a directory to copy into.
    pub dest: Spanned<String>,
    /// Permission bits of the copied files (and directories), in octal, e.g. `"0640"`.
    /// Default: 0644, and 0755 for directories and for programs (files executable in the
    /// context that start with `#!` or are ELF binaries), whatever modes the machine that
    /// sent the context gave them: a checkout on Windows, where every file arrives
    /// executable, gives the same image as one on Linux.
    pub mode: Option<Spanned<String>>,
    /// Owner of the copied files: `root`, `nonroot` or numeric `uid[:gid]`. Default: `root`.
    pub owner: Option<Spanned<String>>,
}

/// A volume: its path alone, or a mapping that also gives its directory's owner and mode.
#[derive(Clone, Debug)]
pub enum RawVolume {
    Path(String),
    Dir(RawVolumeDir),
}

impl<'de> Deserialize<'de> for RawVolume {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawVolume;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a path or a mapping with `path`, `owner` and `mode`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawVolume, E> {
                Ok(RawVolume::Path(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawVolume, A::Error> {
                RawVolumeDir::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(RawVolume::Dir)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl JsonSchema for RawVolume {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VolumeEntry".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let dir = generator.subschema_for::<RawVolumeDir>();
        schemars::json_schema!({ "anyOf": [{ "type": "string" }, dir] })
    }
}

/// A volume written as a mapping, for a directory that is not the program's or not 0755,
/// e.g. `{ path: /var/cache/app, owner: root, mode: "0700" }`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Volume", extend("patternProperties" = { "^x-": {} }))]
pub struct RawVolumeDir {
    /// The directory, an absolute path.
    pub path: Spanned<String>,
    /// Owner of the directory: `root`, `nonroot` or numeric `uid[:gid]`. Default:
    /// `runtime.user`.
    pub owner: Option<Spanned<String>>,
    /// Permission bits of the directory, in octal, e.g. `"0700"` or `"1777"`. Default:
    /// `"0755"`.
    pub mode: Option<Spanned<String>>,
}

/// A single value (text, number or boolean), read as text.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Scalar(pub String);

impl JsonSchema for Scalar {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// A port: a number, or `number/tcp` or `number/udp`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Port(pub String);

impl JsonSchema for Port {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Port".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 1, "maximum": 65535 },
                { "type": "string", "pattern": "^[0-9]{1,5}(/(tcp|udp))?$" }
            ]
        })
    }
}
