//! End to end: which Go builds the program. The release comes from the module (go.mod's `go`
//! or `toolchain` line, go.work in a workspace) unless the spec names one; a builder older
//! than the module needs fails before anything compiles, at go.mod's line and the spec's;
//! and the proxy build args reach the module download through a real forward proxy, and
//! nothing else. Each image's binary prints the `runtime.Version()` it was built with.

use std::path::{Path, PathBuf};

use integration_tests::prelude::*;
use integration_tests::registry::go_release;
use integration_tests::services::ForwardProxy;

const VERSION_MAIN: &str =
    "package main\n\nimport (\n\t\"fmt\"\n\t\"runtime\"\n)\n\nfunc main() {\n\tfmt.Println(runtime.Version(), runtime.GOOS+\"/\"+runtime.GOARCH)\n}\n";

/// A program printing the Go it was built with, in a new directory: `go.mod` as given, and
/// a spec with `go_section` (may be empty).
fn version_program(name: &str, go_mod: &str, go_section: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("go.mod"), go_mod).unwrap();
    std::fs::write(dir.join("main.go"), VERSION_MAIN).unwrap();
    std::fs::write(dir.join("goapp.yaml"), format!("# syntax=localhost:5000/goapp-frontend:dev\nname: goversion\n{go_section}runtime:\n  base: static\n"))
        .unwrap();
    dir
}

/// Builds `dir` for both platforms and returns what the binary prints on each, and the
/// build's progress.
fn versions(dir: &Path, name: &str) -> (Vec<String>, String) {
    versions_on(dir, name, "linux/amd64,linux/arm64")
}

/// [`versions`] for `platforms` (comma-separated).
fn versions_on(dir: &Path, name: &str, platforms: &str) -> (Vec<String>, String) {
    let image = unique_tag(name);
    let progress = buildx_push(dir, platforms, &image, &[]);
    let out =
        platforms.split(',').map(|p| ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", p, &image]).trim().to_string()).collect();
    (out, progress)
}

fn both(version: &str) -> Vec<String> {
    vec![format!("{version} linux/amd64"), format!("{version} linux/arm64")]
}

#[test]
fn the_go_line_of_go_mod_chooses_the_builder() {
    require_engine();
    let dir = version_program("go-line", "module example.com/goversion\n\ngo 1.26\n", "");
    let (out, progress) = versions(&dir, "go-line");
    assert_eq!(out, both(&go_release("1.26")));
    // The progress says which Go, and which line chose it.
    assert!(progress.contains("golang:1.26 (linux/amd64): Go 1.26 (the go line, go.mod:3)"), "{progress}");
}

#[test]
fn the_toolchain_line_wins_over_the_go_line() {
    require_engine();
    let toolchain = go_release("1.27");
    let dir = version_program("toolchain-line", &format!("module example.com/goversion\n\ngo 1.26\n\ntoolchain {toolchain}\n"), "");
    let (out, progress) = versions(&dir, "toolchain-line");
    assert_eq!(out, both(&toolchain));
    assert!(progress.contains("Go 1.27 (the toolchain line, go.mod:5)"), "{progress}");
}

#[test]
fn a_workspace_builds_with_the_go_of_go_work() {
    require_engine();
    // go.work says 1.27, its module 1.26: the workspace's Go is the go.work's.
    let dir = version_program("go-work", "module example.com/goversion\n\ngo 1.26\n", "");
    std::fs::write(dir.join("go.work"), "go 1.27\n\nuse .\n").unwrap();
    let (out, progress) = versions(&dir, "go-work");
    assert_eq!(out, both(&go_release("1.27")));
    assert!(progress.contains("Go 1.27 (the go line, go.work:1)"), "{progress}");
}

#[test]
fn go_version_in_the_spec_overrides_go_mod() {
    require_engine();
    let dir = version_program("go-version-override", "module example.com/goversion\n\ngo 1.26\n", "go:\n  version: \"1.27\"\n");
    let (out, progress) = versions(&dir, "go-version-override");
    assert_eq!(out, both(&go_release("1.27")));
    assert!(progress.contains("Go 1.27 (go.version, goapp.yaml:4)"), "{progress}");
}

#[test]
fn a_builder_older_than_go_mod_fails_before_compiling_at_both_lines() {
    require_engine();
    let dir = version_program("go-mismatch", "module example.com/goversion\n\ngo 1.27\n", "go:\n  version: \"1.26\"\n");
    let r = buildx(&dir, "linux/amd64", &[]);
    assert!(!r.status.success(), "built with a Go older than go.mod's:\n{}", r.stderr);
    let e = &r.stderr;
    assert!(e.contains("go.mod:3:4: go.mod needs Go 1.27 or later (`go 1.27`, go.mod:3), but go.version (goapp.yaml:4) chooses Go 1.26"), "{e}");
    assert!(e.contains("remove go.version to build with the Go release go.mod names"), "{e}");
    // Nothing compiled, and Go's own message is not what the user reads.
    assert!(!e.contains("] go build"), "a compile started:\n{e}");
    assert!(!e.contains("GOTOOLCHAIN"), "{e}");
}

#[test]
fn a_go_image_older_than_go_mod_fails_before_compiling() {
    require_engine();
    // An image that says its Go (GOLANG_VERSION, as the official images do): refused by the
    // frontend before anything runs.
    let said = "go:\n  image: localhost:5000/library/golang:1.26\n";
    let dir = version_program("go-image-old", "module example.com/goversion\n\ngo 1.27\n", said);
    let r = buildx(&dir, "linux/amd64", &[]);
    assert!(!r.status.success(), "built with a Go older than go.mod's:\n{}", r.stderr);
    let expected =
        format!("but the builder of go.image (goapp.yaml:4) has Go {} (localhost:5000/library/golang:1.26)", go_release("1.26").trim_start_matches("go"));
    assert!(r.stderr.contains(&expected), "{}", r.stderr);
    assert!(!r.stderr.contains("] go build"), "{}", r.stderr);

    // An image that does not say: Go itself compares, in a step before any other on it.
    let unsaid = unique_tag("go-unsaid");
    let ctx = temp_dir("go-unsaid");
    std::fs::write(ctx.join("Dockerfile"), "FROM localhost:5000/library/golang:1.26\nENV GOLANG_VERSION=\n").unwrap();
    let r = docker_push(&ctx, &["buildx", "build", "--quiet", "--provenance=false", "-t", &unsaid, "--push", "."]);
    assert!(r.status.success(), "{}", r.stderr);
    let dir = version_program("go-image-unsaid", "module example.com/goversion\n\ngo 1.27\n", &format!("go:\n  image: {unsaid}\n"));
    let r = buildx(&dir, "linux/amd64", &[]);
    assert!(!r.status.success(), "built with a Go older than go.mod's:\n{}", r.stderr);
    let expected = format!("goapp: go.mod needs Go 1.27 or later (go.mod:3), but the builder of go.image ({unsaid}, goapp.yaml:4) has {}", go_release("1.26"));
    assert!(r.stderr.contains(&expected), "{}", r.stderr);
    assert!(r.stderr.contains("check the Go of"), "{}", r.stderr);
    assert!(!r.stderr.contains("] go build"), "{}", r.stderr);
    // The same image builds a module it can.
    std::fs::write(dir.join("go.mod"), "module example.com/goversion\n\ngo 1.26\n").unwrap();
    let (out, _) = versions_on(&dir, "go-image-unsaid-ok", "linux/amd64");
    assert_eq!(out, vec![format!("{} linux/amd64", go_release("1.26"))]);
}

#[test]
fn an_image_that_cannot_be_resolved_is_an_error_at_the_line_that_chose_it() {
    require_engine();
    // go.mod names a release the registry (through the mirror) does not have.
    let dir = version_program("go-no-image", "module example.com/goversion\n\ngo 1.25\n", "");
    let r = buildx(&dir, "linux/amd64", &[]);
    assert!(!r.status.success(), "{}", r.stderr);
    let e = &r.stderr;
    assert!(
        e.contains("go.mod:3:4: cannot resolve the builder image `docker.io/library/golang:1.25` for linux/amd64 (looked up as localhost:5000/library/golang:1.25 through the registry mirror localhost:5000)"),
        "{e}"
    );
    assert!(e.contains("the release comes from the go line, go.mod:3"), "{e}");
    assert!(e.contains(">>> go 1.25"), "buildx shows go.mod's line: {e}");

    // A base that is not there, at runtime.base.
    let dir = version_program("base-no-image", "module example.com/goversion\n\ngo 1.27\n", "");
    let spec = std::fs::read_to_string(dir.join("goapp.yaml")).unwrap().replace("base: static", "base: localhost:5000/e2e/no-such-base:1");
    std::fs::write(dir.join("goapp.yaml"), spec).unwrap();
    let r = buildx(&dir, "linux/amd64", &[]);
    assert!(!r.status.success(), "{}", r.stderr);
    assert!(
        r.stderr.contains("goapp.yaml:4:9: cannot resolve the runtime base `localhost:5000/e2e/no-such-base:1` for linux/amd64 (looked up as localhost:5000/e2e/no-such-base:1)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(">>>   base: localhost:5000/e2e/no-such-base:1"), "{}", r.stderr);
}

#[test]
fn a_malformed_go_line_is_an_error_at_its_line_and_column() {
    require_engine();
    let dir = version_program("go-malformed", "module example.com/goversion\n\ngo 1.27.x\n", "");
    let r = buildx(&dir, "linux/amd64", &[]);
    assert!(!r.status.success(), "built with a malformed go line:\n{}", r.stderr);
    assert!(r.stderr.contains("go.mod:3:4: `1.27.x` is not a Go version"), "{}", r.stderr);
    assert!(!r.stderr.contains("] go build"), "{}", r.stderr);
}

#[test]
fn proxy_build_args_carry_the_module_download_and_stay_out_of_the_image_and_the_cache_key() {
    require_engine();
    let proxy = ForwardProxy::start();
    let dir = repo_root().join("examples/inventory");
    let goproxy = format!("GOPROXY={}", proxy.goproxy);

    // Without the proxy the module proxy cannot be reached.
    let direct = buildx(&dir, "linux/amd64", &["--no-cache", "--build-arg", &goproxy]);
    assert!(!direct.status.success(), "the hidden module proxy answered without the forward proxy:\n{}", direct.stderr);
    assert_eq!(step_outcome(&direct.stderr, "[builder] go mod download"), "ERROR", "{}", direct.stderr);
    let port = proxy.goproxy.rsplit(':').next().unwrap();
    assert!(direct.stderr.contains(&format!(":{port}/")), "the download failed for another reason:\n{}", direct.stderr);

    let seen_before = proxy.log_text().len();
    let image = unique_tag("proxied");
    let http = format!("HTTP_PROXY={}", proxy.url);
    let progress =
        buildx_push(&dir, "linux/amd64", &image, &["--no-cache", "--build-arg", &goproxy, "--build-arg", &http, "--build-arg", "no_proxy=localhost"]);
    assert_eq!(step_outcome(&progress, "[builder] go mod download"), "DONE");
    let log = proxy.log_text();
    let seen = &log[seen_before.min(log.len())..];
    let host = proxy.goproxy.trim_start_matches("http://");
    assert!(seen.contains(host) && seen.contains("github.com/spf13/cobra/@v/"), "the proxy did not carry the downloads:\n{seen}");
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", "linux/amd64", &image, "report", "--lang", "de"]);
    assert!(out.starts_with("inventory dev on linux/amd64"), "{out}");

    // The proxy is in no layer, config or manifest of the image, nor in its history. (BuildKit's
    // provenance attestation, a manifest beside the image's, records the build args, proxies
    // among them, as it does for a Dockerfile build.)
    assert_nowhere(&proxy.url, &image, None);
    for img in index_images(&image) {
        assert!(!img.config.to_string().to_ascii_lowercase().contains("proxy"), "{}", img.config);
    }

    // Another proxy is not another build: every step is cached.
    let gateway = proxy.url.trim_start_matches("http://").split(':').next().unwrap().to_string();
    let moved = format!("HTTP_PROXY=http://{gateway}:1");
    let again = buildx_push(&dir, "linux/amd64", &unique_tag("proxied-again"), &["--build-arg", &goproxy, "--build-arg", &moved]);
    assert_eq!(step_outcome(&again, "[builder] go mod download"), "CACHED", "{again}");
    assert_eq!(step_outcome(&again, "[linux/amd64] go build"), "CACHED", "{again}");
}
