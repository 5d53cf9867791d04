//! End to end: a Go module built with no spec (`-f go.mod`, with `BUILDKIT_SYNTAX` naming
//! goapp: Docker's Dockerfile frontend hands the build to goapp before it reads the file),
//! and the spec `goapp-frontend init` writes for each example, built beside the hand-written
//! one.

use std::path::{Path, PathBuf};

use integration_tests::prelude::*;
use integration_tests::services::ModuleProxy;

const FRONTEND: &str = "localhost:5000/goapp-frontend:dev";

/// `docker buildx build -f go.mod` of `dir` with goapp as the frontend, through the registry
/// mirror.
fn no_spec(dir: &Path, platforms: &str, extra: &[&str]) -> Run {
    let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
    let mirror = format!("GOAPP_REGISTRY_MIRROR={REGISTRY}");
    let mut args = vec!["buildx", "build", "--progress=plain", "--platform", platforms, "--build-arg", &syntax, "--build-arg", &mirror, "-f", "go.mod"];
    args.extend_from_slice(extra);
    args.push(".");
    pushed(|| run(dir, "docker", &args))
}

/// `--call NAME` of a build without a spec, with the test environment's current buildx
/// (Debian's has no `--call`).
fn no_spec_call(dir: &Path, name: &str) -> Run {
    let config = &env().current_buildx_config;
    let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
    let mirror = format!("GOAPP_REGISTRY_MIRROR={REGISTRY}");
    let args = ["buildx", "build", "--progress=quiet", "--call", name, "--build-arg", &syntax, "--build-arg", &mirror, "-f", "go.mod", "."];
    integration_tests::run::run_command(std::process::Command::new("docker").args(args).current_dir(dir).env("DOCKER_CONFIG", config))
}

/// A module of `files` (path, text), with go.mod for `module`.
fn module(name: &str, module: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("go.mod"), format!("module {module}\n\ngo 1.26\n")).unwrap();
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

const CLOCK: &str = r#"// Command clock says the time in a zone, and where it runs.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

func main() {
	zone := "Asia/Tokyo"
	if len(os.Args) > 1 {
		zone = os.Args[1]
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		fmt.Println("clock:", err)
		os.Exit(1)
	}
	fmt.Printf("clock in %s on %s/%s as uid %d\n", loc, runtime.GOOS, runtime.GOARCH, os.Getuid())
}
"#;

#[test]
fn a_module_with_one_program_builds_with_no_spec() {
    require_engine();
    let dir = module("zero-clock", "github.com/acme/clock/v2", &[("cmd/clock/main.go", CLOCK), ("internal/zones/zones.go", "package zones\n")]);
    let image = unique_tag("zero-clock");
    let r = no_spec(&dir, "linux/amd64,linux/arm64", &["-t", &image, "--push"]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("go build") && r.stderr.contains("./cmd/clock"), "{}", r.stderr);
    assert_eq!(index_platforms(&image), ["linux/amd64", "linux/arm64"]);
    for img in index_images(&image) {
        let c = &img.config["config"];
        // Named after the module (its major version left out), static, non-root.
        assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/clock"]), "{}", img.platform);
        assert_eq!(c["User"], "65532:65532");
        assert_eq!(c["Labels"]["org.opencontainers.image.title"], "clock");
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", &img.platform, &image]);
        assert_eq!(out.trim(), format!("clock in Asia/Tokyo on {} as uid 65532", img.platform));
    }
    // What would be built, without building: the Go release go.mod names, the binaries.
    let r = no_spec_call(&dir, "outline");
    assert!(r.status.success() && r.stdout.contains("Go 1.26 (the go line, go.mod:3)"), "{}\n{}", r.stdout, r.stderr);
    let r = no_spec_call(&dir, "targets");
    assert!(r.status.success() && r.stdout.contains("clock") && r.stdout.contains("./cmd/clock"), "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn several_programs_under_cmd_are_one_image_and_each_a_target() {
    require_engine();
    let program = |name: &str| format!("package main\n\nimport \"fmt\"\n\nfunc main() {{ fmt.Println(\"{name} here\") }}\n");
    let (api, worker) = (program("api"), program("worker"));
    let dir = module("zero-multi", "example.com/multi", &[("cmd/api/main.go", &api), ("cmd/worker/main.go", &worker), ("lib/lib.go", "package lib\n")]);
    let image = unique_tag("zero-multi");
    let r = no_spec(&dir, "linux/amd64", &["-t", &image, "--push"]);
    assert!(r.status.success(), "{}", r.stderr);
    let img = single_image(&image);
    let files = image_files(&image, &img);
    for bin in ["usr/local/bin/api", "usr/local/bin/worker"] {
        assert!(files.iter().any(|f| f.ends_with(bin)), "{bin} in {files:?}");
    }
    // The first is the entrypoint; each is a --target of its own.
    assert_eq!(ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", &image]).trim(), "api here");
    let only = unique_tag("zero-worker");
    let r = no_spec(&dir, "linux/amd64", &["--target", "worker", "-t", &only, "--push"]);
    assert!(r.status.success(), "{}", r.stderr);
    assert_eq!(ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", &only]).trim(), "worker here");
}

#[test]
fn an_ambiguous_module_fails_with_what_was_found_and_the_spec_to_write() {
    require_engine();
    let dir = module(
        "zero-ambiguous",
        "example.com/pair",
        &[("server/main.go", "package main\n\nfunc main() {}\n"), ("client/main.go", "package main\n\nfunc main() {}\n")],
    );
    let r = no_spec(&dir, "linux/amd64", &[]);
    assert!(!r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("several `package main` outside cmd/ (./client, ./server)"), "{}", r.stderr);
    assert!(r.stderr.contains("goapp-frontend init writes one"), "{}", r.stderr);
    assert!(!r.stderr.contains("go build"), "{}", r.stderr);
}

/// The host's `goapp-frontend`, as `scripts/build-frontend` built it for the image.
fn cli() -> PathBuf {
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let path = repo_root().join("target/dist").join(arch).join("goapp-frontend");
    assert!(path.exists(), "no {}: run scripts/build-frontend", path.display());
    path
}

/// What makes two images of an example the same app: the binaries, the base, the ports, the
/// user and the entrypoint.
fn shape(image: &str) -> serde_json::Value {
    let img = single_image(image);
    let c = &img.config["config"];
    let mut bins: Vec<String> =
        image_files(image, &img).iter().filter_map(|f| f.split_whitespace().last()?.strip_prefix("usr/local/bin/").map(str::to_string)).collect();
    bins.sort();
    bins.dedup();
    serde_json::json!({
        "binaries": bins,
        "base": c["Labels"]["org.opencontainers.image.base.name"],
        "ports": c["ExposedPorts"],
        "user": c["User"],
        "entrypoint": c["Entrypoint"],
    })
}

#[test]
fn init_writes_for_each_example_a_spec_that_builds_the_same_app() {
    require_engine();
    let modules = ModuleProxy::start();
    let proxy = format!("GOPROXY={}", modules.url);
    for example in ["hello", "shop", "inventory", "cgo", "vendored", "webapp", "workspace"] {
        let original = repo_root().join("examples").join(example);
        let dir = temp_dir(&format!("init-{example}"));
        copy_dir(&original, &dir);
        std::fs::remove_file(dir.join("goapp.yaml")).unwrap();
        let out = ok(&dir, cli().to_str().unwrap(), &["init", "--syntax", FRONTEND, "."]);
        let written = std::fs::read_to_string(dir.join("goapp.yaml")).unwrap();
        assert!(written.starts_with(&format!("# syntax={FRONTEND}\n")), "{example}: {written}");
        // It never replaces a spec unless asked.
        let again = run(&dir, cli().to_str().unwrap(), &["init", "."]);
        assert!(!again.status.success() && again.stderr.contains("--force"), "{example}: {}", again.stderr);
        assert_eq!(std::fs::read_to_string(dir.join("goapp.yaml")).unwrap(), written, "{example}");
        // buildx gives the same text (--call goapp.init, for users without the command line).
        if example == "hello" {
            let r = no_spec_call(&dir, "goapp.init");
            assert!(r.status.success(), "{}", r.stderr);
            assert_eq!(r.stdout.trim(), written.trim(), "{example}: --call goapp.init");
        }
        let (mine, theirs) = (unique_tag(&format!("init-{example}")), unique_tag(&format!("hand-{example}")));
        for (d, image) in [(&dir, &mine), (&original, &theirs)] {
            buildx_push(d, "linux/amd64", image, &["--build-arg", &proxy]);
        }
        assert_eq!(shape(&mine), shape(&theirs), "{example}: init's spec\n{written}\n({out})");
    }
}
