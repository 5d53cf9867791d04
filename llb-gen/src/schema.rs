//! The JSON Schema of the spec, generated from the types in [`crate::spec::raw`]. The loader
//! checks YAML against it, editors use the checked-in copy (`docs/goapp.schema.json`), and the
//! reference documentation is generated from it.

use std::sync::OnceLock;

use serde_json::Value;

use crate::spec::raw::RawSpec;

/// Where the published schema lives; examples point editors at it.
pub const SCHEMA_ID: &str = "https://raw.githubusercontent.com/goapp-dev/goapp/main/docs/goapp.schema.json";

/// The spec's JSON Schema (draft 2020-12).
pub fn json_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut v = serde_json::to_value(schemars::schema_for!(RawSpec)).expect("schema serializes");
        v["$id"] = Value::String(SCHEMA_ID.into());
        v
    })
}

/// The schema as checked in: pretty JSON with a final newline.
pub fn json_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(json_schema()).expect("schema serializes");
    s.push('\n');
    s
}

/// The spec reference (`docs/spec.md`), generated from the schema: one table per section,
/// with each field's type, and its description from the doc comment of the spec type.
pub fn reference_markdown() -> String {
    let root = json_schema();
    let mut out = String::new();
    out.push_str("# goapp spec reference\n\n");
    out.push_str("<!-- Generated from the spec types (llb-gen/src/spec/raw.rs) by `cargo run -p goapp-frontend -- docs`; do not edit. -->\n\n");
    out.push_str(root["description"].as_str().unwrap_or(""));
    out.push_str("\n\nA spec is a YAML file whose first line is `# syntax=<registry>/goapp-frontend:<tag>`. ");
    out.push_str("Unknown keys are errors; keys starting with `x-` are ignored, for your own use. ");
    out.push_str("String values may use build args: `${NAME}`, `${NAME:-default}` (`$$` is a literal `$`). ");
    out.push_str(&format!("Editors can check and complete specs with the JSON Schema [`goapp.schema.json`](goapp.schema.json) (`# yaml-language-server: $schema={SCHEMA_ID}`).\n\n"));
    let sections: &[(&str, &str)] = &[
        ("Top level", "#"),
        ("`targets[]`", "#/$defs/Target"),
        ("`go`", "#/$defs/Go"),
        ("`runtime`", "#/$defs/Runtime"),
        ("`runtime.healthcheck`", "#/$defs/Healthcheck"),
        ("`runtime.files[]`", "#/$defs/File"),
        ("`runtime.volumes[]`", "#/$defs/Volume"),
        ("`test`", "#/$defs/Test"),
        ("`debug`", "#/$defs/Debug"),
        ("`assets[]`", "#/$defs/Asset"),
    ];
    for (title, pointer) in sections {
        let schema = if *pointer == "#" { root } else { root.pointer(&pointer[1..]).unwrap_or_else(|| panic!("no {pointer} in the schema")) };
        out.push_str(&format!("## {title}\n\n"));
        if *pointer != "#"
            && let Some(d) = schema["description"].as_str()
        {
            out.push_str(d);
            out.push_str("\n\n");
        }
        out.push_str("| key | type | description |\n| --- | --- | --- |\n");
        let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for (key, prop) in schema["properties"].as_object().into_iter().flatten() {
            let ty = type_name(root, prop);
            let req = if required.contains(&key.as_str()) { " (required)" } else { "" };
            let desc = prop["description"].as_str().or_else(|| deref(root, prop)["description"].as_str()).unwrap_or("").replace('\n', " ");
            out.push_str(&format!("| `{key}`{req} | {ty} | {desc} |\n"));
        }
        out.push('\n');
    }
    out.push_str(IMAGE_RULES);
    out.push_str(WITHOUT_A_SPEC);
    out.push_str(SHARED_CACHE);
    out.push_str(&templates_markdown());
    out.push_str(&rules_markdown());
    out
}

/// The version templates, what each is, and the build args that give them.
fn templates_markdown() -> String {
    let mut out = String::from("## Version templates\n\n");
    out.push_str(
        "Any string value may use these templates (GoReleaser's names), replaced after build args, e.g. \
`go: {x: {main.version: \"{{.Version}}\", main.commit: \"{{.ShortCommit}}\"}}`. The values come from the commit \
buildx reports for a local context (`vcs:revision`, unless `BUILDX_GIT_INFO=0`), or from the commit BuildKit checks out \
for a git context (read by git on the builder; the build never gets `.git`). For a git context, `SOURCE_DATE_EPOCH` is \
the commit's time unless the build gives one. buildx sends neither tags nor commit times, so for a local context \
`{{.Tag}}`, `{{.Version}}` and `{{.CommitDate}}` need their build arg; a template whose value is not known is an error \
that names it.\n\n| template | value |\n| --- | --- |\n",
    );
    for (name, what) in crate::stamp::TEMPLATES {
        out.push_str(&format!("| `{{{{.{name}}}}}` | {what} |\n"));
    }
    out.push_str("\n| build arg | gives |\n| --- | --- |\n");
    for (name, what) in crate::stamp::ARGS {
        out.push_str(&format!(
            "| `{name}` | {} |\n",
            what.replace("{{", "`{{").replace("}}", "}}`").replace("$(", "`$(").replace(")", ")`").replace("``", "`")
        ));
    }
    out.push('\n');
    out
}

/// The rules of the spec's errors and warnings, each error with a spec that breaks it.
fn rules_markdown() -> String {
    use crate::diag::{ERROR_RULES, WARNING_RULES};
    let mut out = String::from(
        "\n## Rules\n\nEvery problem goapp reports names its rule: `error[UnknownKey]` in the command line's output, the rule of \
         `docker buildx build --call lint`. Warnings can be acknowledged in the spec with a comment before its first key, \
         `# check=skip=RULE[,RULE]` (or `all`), as in a Dockerfile.\n\n### Errors\n\n",
    );
    for r in ERROR_RULES {
        out.push_str(&format!("- `{}`: {}", r.name, r.description));
        match r.example {
            Some(e) => out.push_str(&format!(", for example:\n\n  ```yaml\n  {}\n  ```\n\n", e.trim_end().replace('\n', "\n  "))),
            None => out.push_str(".\n\n"),
        }
    }
    out.push_str("### Warnings\n\n");
    for (name, description) in WARNING_RULES {
        out.push_str(&format!("- `{name}`: {description}.\n"));
    }
    use crate::load::{MAX_FLOW_DEPTH, MAX_INDENT, MAX_LIST_ITEMS, MAX_SPEC_BYTES, MAX_TARGETS, MAX_VALUE_CHARS};
    out.push_str(&format!(
        "\n### Limits\n\nFar beyond what a spec needs, so that no file can make goapp slow or hungry:\n\n\
         - a spec of at most {} KiB, UTF-8 (a leading byte-order mark is dropped; CRLF and CR line endings read as LF);\n\
         - `[`/`{{` nested at most {MAX_FLOW_DEPTH} deep, and no line's content further right than column {MAX_INDENT};\n\
         - values of at most {MAX_VALUE_CHARS} characters, lists of at most {MAX_LIST_ITEMS} items, at most {MAX_TARGETS} targets;\n\
         - one report shows at most {} problems, then how many more there are.\n",
        MAX_SPEC_BYTES / 1024,
        crate::diag::MAX_DIAGNOSTICS
    ));
    out
}

/// How the image is put together, for the reference.
/// How a build without a spec (`-f go.mod`) chooses what the spec would say.
const WITHOUT_A_SPEC: &str = "## Without a spec

`docker buildx build --build-arg BUILDKIT_SYNTAX=<goapp's image> -f go.mod .` (or `-f go.work`,
for a workspace) builds the module in the build context with no spec: Docker's Dockerfile
frontend hands the build to goapp, which reads the module's Go files and infers the spec.

- The binaries: every `package main` under `cmd/` (each named after its directory), else the
  module's own directory when it is `package main`, else the one `package main` there is.
  Files with `//go:build ignore` and `_test.go` files do not count; `vendor/`, `testdata/` and
  directories starting with `.` or `_` are not searched. A binary named as the module comes
  first: it is the entrypoint. `--target NAME` builds one of them.
- The name: the module path's last element that is not a major version
  (`github.com/acme/clock/v2` is `clock`).
- The Go release: go.mod's, as with a spec. The base: `static`. The user: `nonroot`.
- A module with no `package main`, with several outside `cmd/`, or with `import \"C\"` fails
  before anything builds, with what was found and the spec that builds it.

`goapp-frontend init [DIR]` writes that spec to `DIR/goapp.yaml` (never over one that is there,
unless `--force`; `--stdout` prints it), with comments, and what the code shows besides: cgo
(`go.cgo`, the base `distroless/cc`, and `go.c_packages` from `#cgo pkg-config:` and
`#cgo LDFLAGS: -l` lines, for the libraries it knows the Debian package of), the ports of
literal listen addresses (`\":8080\"` on a line that listens), `go.mod: vendor` for a vendor
directory, `generate: [go generate ./...]` when the code has `//go:generate` lines, and the
`go:embed` paths, with a note for those the module lacks (something generates them). `--call goapp.init` answers with the same spec through buildx, its
`# syntax=` line naming `BUILDKIT_SYNTAX`.

";

const SHARED_CACHE: &str = "## A build cache shared between machines

BuildKit keeps Go's build cache in a cache mount of the engine, which `--cache-to` does not
export: a new CI runner, another builder node or an engine after `docker buildx prune -af`
compiles everything again. `go.shared_cache` keeps that cache in an HTTP store as well:

```yaml
go:
  shared_cache:
    url: https://gocache.example.com/go/myteam
    token: gocache                          # the id of the secret with the token
    read_only: ${CACHE_READ_ONLY:-false}    # true for pull requests
```

```sh
GOCACHE_TOKEN=… docker buildx build --secret id=gocache,env=GOCACHE_TOKEN -f goapp.yaml .
```

- `go build` and `go test` run goapp's cache program as their `GOCACHEPROG` (Go 1.24 or newer).
  It ships in the frontend image (`/lib/goapp/goapp-cache`), which the compile mounts, so an
  empty engine compiles nothing to get it; for a compile on another platform (an emulated cgo
  build), or a frontend image without it, goapp compiles it on the builder from its source (the
  standard library only, no network), a step cached like any other.
- A lookup tries the engine's cache mount first, so a warm engine asks the store only for the
  command's index (below); then the store: `GET <url>/v1/a/<action id>` (the output id and
  size of what an action made), then `GET <url>/v1/o/<output id>`. An output whose SHA-256 is not its id is ignored. What `go`
  compiles is uploaded with `PUT` (after a `HEAD`: an output the store has is not sent again),
  unless `read_only`. What the engine's cache mount has that the store may lack (from
  read-only builds, another store, or a time the store was off) is uploaded by the first
  writing build that finds it there. Any server that keeps what is PUT is a store: nginx with
  `dav_methods PUT; create_full_put_path on;` behind a check of the `Authorization` header,
  or a bucket's HTTP endpoint.
- Each `go` command also keeps a list in the store, `<url>/v1/i/<name>/<target>-<os>-<arch>`
  (`test-<os>-<arch>` for the tests, `debug-<target>-<os>-<arch>` for `--target debug`): the
  entries it used, written again when they drift from it.
  The next command of that name reads it first and fetches those outputs ahead, several at
  once, while Go works out what it needs, so a listed lookup costs no request of its own and
  the outputs arrive side by side rather than one dependency after another.
- The token is read from the secret, sent as `Authorization: Bearer <token>`, and written
  nowhere: not in a layer, the cache key, the provenance or the store. A build without the
  secret uses the store without a token.
- The store never fails a build: a refused request (401, 403) turns the store off for that
  `go` command, five failures in a row too, and a miss is compiled. Each `go` command prints
  one line of figures: `goapp-cache: 612 lookups: 0 on this builder, 598 from the shared
  cache, 14 missed (compiled); 14 stored in the shared cache …`.
- Anyone who can write to the store decides what later builds link: give writing tokens to
  trusted builds only, and build pull requests with `read_only: true` (or a token the store
  allows to read only).

";

const IMAGE_RULES: &str = "## The image

### Bases

| `runtime.base` | image | has |
| --- | --- | --- |
| `static` (default) | none: assembled from the builder image's files | CA bundle, zoneinfo, passwd and group with `root` and `nonroot` (65532), `/tmp` (1777), `/home/nonroot` |
| `scratch` | none | the binaries, and the CA bundle or zoneinfo if asked for |
| `distroless`, `distroless/static` | `gcr.io/distroless/static-debian12:nonroot` | as `static`, plus Debian's `/etc/os-release` |
| `distroless/base` | `gcr.io/distroless/base-debian12:nonroot` | glibc and OpenSSL, for binaries that link them |
| `distroless/cc` | `gcr.io/distroless/cc-debian12:nonroot` | also libgcc and libstdc++ |
| `alpine` | `alpine:3.20` | BusyBox, a shell |
| `debian` | `debian:bookworm-slim` | a shell and apt |
| any image reference | that image | |

A pulled base is resolved for each target platform and pinned by digest. Nothing runs on
the target platform: when the base lacks the CA bundle (`/etc/ssl/certs/ca-certificates.crt`)
or `/usr/share/zoneinfo` and `ca_certificates` or `tzdata` is true (the default), goapp copies
them from the builder image in a layer of its own. `registry_mirror` (or the build arg
`GOAPP_REGISTRY_MIRROR`) pulls the base, like the builder, from a mirror.

### Users

The program runs as `nonroot`, 65532:65532, by default: numeric ids work on every base,
with or without a passwd entry. `root` must be asked for, and gets a warning. On a pulled
base, `runtime.user` may name a user of the base's `/etc/passwd`; the image then runs with
that user's uid and gid, and a name the base lacks is an error at the spec line.

### The image config on a pulled base

The image inherits the base's config, merged with the spec's:

| field | value |
| --- | --- |
| `Env` | the base's; `/usr/local/bin` is put first on its `PATH` when missing (and `PATH` set when the base has none); `SSL_CERT_FILE` when the image has the CA bundle; then `runtime.env`, which wins |
| `ExposedPorts`, `Volumes` | the base's and `runtime.ports`, `runtime.volumes` |
| `Labels` | the base's, then the OCI labels below, then `runtime.labels`, then `--label` |
| `WorkingDir`, `StopSignal`, `Healthcheck` | the spec's, else the base's |
| `User` | the spec's only (`nonroot` by default): a base's user is not inherited |
| `Entrypoint`, `Cmd` | the spec's only: the entrypoint target's binary and `runtime.args` |
| `history` | the base's entries, then one entry per layer goapp adds |

On `static` and `scratch` the same rules apply to an empty base config.

### OCI labels

| label | from |
| --- | --- |
| `org.opencontainers.image.title` | `name` |
| `org.opencontainers.image.version` | `version` |
| `org.opencontainers.image.source` | `source`, else the repository buildx reports for a git context |
| `org.opencontainers.image.revision` | the commit buildx reports for a git context |
| `org.opencontainers.image.created` | the build arg `SOURCE_DATE_EPOCH` (which also sets the config's `created`; without it the image has no creation time, so the same inputs give the same image) |
| `org.opencontainers.image.base.name`, `org.opencontainers.image.base.digest` | a pulled base: its reference as the spec names it, and the digest it resolved to |

A label the base set under one of these names is dropped when goapp has no value for it:
it describes the base, not this image.

### Health checks

Health checks run without a shell (exec form). On `static`, `scratch` and distroless there is
no shell or tool to run: the command must start with one of the app's targets (or a file
added with `files`), which the spec check enforces. On other pulled bases an absolute path to
a program of the base is accepted as written.

### Windows images

`windows/amd64` and `windows/arm64` (in `--platform` or `platforms`) build a Windows image in
the same index as the Linux ones, on any Linux machine: Go cross-compiles `NAME.exe` on the
build platform, and BuildKit writes the layers goapp adds on the Windows base in the Windows
layer format. Nothing runs on Windows. `--target binaries` exports `NAME.exe`.

- The base is `runtime.windows.base`: `nanoserver` (the default) or `servercore`, Microsoft's
  images on Windows Server 2022 (`ltsc2022`); a tag picks another release (`nanoserver:ltsc2025`).
  Any Windows image's reference works too. A Windows container runs only on a host of its
  base's Windows release. The base's `os.version` is in the image's config and in its entry
  in the index, where Windows hosts pick their image by it.
- The program is `C:\\app\\NAME.exe` (the entrypoint). It runs as `runtime.windows.user`:
  `ContainerUser` by default, or `ContainerAdministrator`. `runtime.user` is the Linux
  platforms' user.
- `PATH` is the base's, else `C:\\Windows\\system32;C:\\Windows`, with `C:\\app` first.
- Paths are on drive `C:`: `files` land at `C:\\etc\\app\\...` for `/etc/app/...`, and the
  workdir and volumes are made at `C:\\data` for `/data`. Windows sets their access rules:
  `owner` and `mode` do not carry over.
- The env, ports, labels, annotations, arguments and health check carry over. A health check
  must run one of the app's targets (as `C:\\app\\NAME.exe`) or a Windows program added with
  `files`.
- There is no stop signal. Windows stops a container with a shutdown event, which a Go
  program receives as `SIGTERM` (`os/signal`). Any other `stop_signal` is refused for a build
  with a Windows platform.
- No CA bundle is added: Go on Windows uses the certificates Windows trusts. With `tzdata`
  (the default), the binaries carry the time zone database (the `timetzdata` build tag,
  about 450 KB), since Windows has none that Go reads.
- cgo works on `windows/amd64` and `windows/386`. The C code is cross-compiled by Debian's
  MinGW-w64 (`x86_64-w64-mingw32-gcc-posix`) and linked statically, so the image needs none
  of MinGW's DLLs; a check after the compile refuses a binary that imports one. `go.c_packages`
  are Linux libraries, so they are refused. Debian has no C compiler for `windows/arm64`.
- Not for Windows: `--target debug` (Delve), and `go.cgo_mode: emulated` (no builder runs
  Windows).

## cgo

With `go.cgo: true` the program's C code is compiled by gcc and linked against glibc. The
default builder is then `golang:<version>-bookworm`: glibc keeps its old symbol versions, so
what links against Debian 12's glibc runs on Debian 12 and every newer base.

### Native or emulated

| `go.cgo_mode` | where `go build` runs | C compiler |
| --- | --- | --- |
| `auto` (default) | `native` when Debian has a cross compiler for the target, else `emulated` | |
| `native` | the build platform | Debian's cross compiler for the target (`gcc-aarch64-linux-gnu`, ...) with its C library (`libc6-dev-arm64-cross`) |
| `emulated` | the target platform, under QEMU (much slower) | the builder image's own gcc, of the target's architecture |

A build for the build machine's own architecture always runs natively with the builder's gcc.
Debian has cross compilers on linux/amd64 and linux/arm64 build machines for linux/amd64,
linux/arm64, linux/arm/v7, linux/386, linux/ppc64le, linux/s390x and linux/riscv64; cgo builds
for no other platform.

The compilers and `go.c_packages` are installed with apt in a step of their own, which runs
again only when the package list or the builder image changes (apt's downloads are kept in a
cache mount). With the cross compiler the packages are installed for the target's
architecture (`libsqlite3-dev:arm64`); `go build` gets `CC`, `CXX`, `PKG_CONFIG` and a
`PKG_CONFIG_LIBDIR` of the target's libraries. `go.env` may override `CC` and `CXX`.

### Linking and the base

- Dynamic (the default): the base must have glibc. `static`, `scratch`, `distroless` and
  `distroless/static` have no C library and Alpine has musl: with these the spec is refused
  before anything builds, as is an image base without `libc.so.6`.
- `go.static: true`: the C libraries are linked into the binaries (`-linkmode=external
  -extldflags=-static`, tags `netgo` and `osusergo`), which then run on any base.

After the compile a step on the build platform checks each binary: it must be for the
target's machine (as `readelf -h` reports it) and, with `go.static`, have no dynamic
dependency. A dynamic binary must not ask for a glibc symbol version the base's glibc lacks.
Each shared library it needs (directly or through another library) that the base does not
have is copied from the builder into `/usr/lib/<triplet>` of the image, in the layer of the
binaries: `libsqlite3.so.0` on `distroless/cc`, for instance. A library that neither has fails
the build with the name of the missing library.
";

fn deref<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => root.pointer(&r[1..]).unwrap_or(v),
        None => match v.get("anyOf").and_then(Value::as_array) {
            Some(alts) => alts.iter().find(|a| a.get("type") != Some(&Value::String("null".into()))).map(|a| deref(root, a)).unwrap_or(v),
            None => v,
        },
    }
}

fn type_name(root: &Value, v: &Value) -> String {
    let v = deref(root, v);
    if let Some(alts) = v.get("oneOf").or_else(|| v.get("anyOf")).and_then(Value::as_array) {
        let consts: Vec<String> = alts.iter().filter_map(|a| a.get("const").and_then(Value::as_str)).map(|c| format!("`{c}`")).collect();
        if !consts.is_empty() {
            return consts.join(" \\| ");
        }
        return alts.iter().map(|a| type_name(root, a)).collect::<Vec<_>>().join(" or ");
    }
    let types: Vec<&str> = match v.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => vec![],
    };
    if types.len() > 1 {
        return "scalar".into();
    }
    match types.first().copied() {
        Some("array") => format!("list of {}", type_name(root, &v["items"])),
        Some("object") if v.get("properties").is_some() => "mapping".into(),
        Some("object") => format!("map of {}", type_name(root, &v["additionalProperties"])),
        Some(t) => t.into(),
        None => "any".into(),
    }
}
