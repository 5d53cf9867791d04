//! End to end: an arm64 build machine ([`Arm64Engine`]: Debian's arm64 Docker Engine under
//! qemu-user, BuildKit's own platform linux/arm64, as on Apple silicon or an arm64 CI runner).
//! There goapp runs as the frontend image's arm64 binary, its builder is the arm64 Go image,
//! and every step runs on linux/arm64: the amd64 binaries are cross-compiled, with cgo by
//! Debian's x86-64 cross compiler. The images are pushed, then run on the machine's own engine.

use std::path::Path;
use std::process::Command;

use integration_tests::prelude::*;
use integration_tests::services::Arm64Engine;

/// `docker buildx build --print=NAME` (buildx 0.13, experimental) of `dir/goapp.yaml` on the
/// engine; its stdout.
fn print(engine: &Arm64Engine, dir: &Path, name: &str, platforms: &str) -> String {
    let flag = format!("--print={name}");
    let args =
        ["buildx", "build", "--progress=quiet", &flag, "--platform", platforms, "--build-arg", "GOAPP_REGISTRY_MIRROR=localhost:5000", "-f", "goapp.yaml", "."];
    let r = integration_tests::run::run_command(
        Command::new("docker").args(args).current_dir(dir).env("DOCKER_HOST", &engine.host).env("BUILDX_EXPERIMENTAL", "1"),
    );
    assert!(r.status.success(), "--print={name} failed:\n{}\n{}", r.stderr, engine.log());
    r.stdout
}

/// Builds `dir` for linux/amd64 and linux/arm64 on the engine and pushes it; the progress.
fn build_and_push(engine: &Arm64Engine, dir: &Path, image: &str) -> String {
    let args = [
        "buildx",
        "build",
        "--progress=plain",
        "--platform",
        "linux/amd64,linux/arm64",
        "--build-arg",
        "GOAPP_REGISTRY_MIRROR=localhost:5000",
        "-t",
        image,
        "--push",
        "-f",
        "goapp.yaml",
        ".",
    ];
    let r = integration_tests::buildx::pushed(|| engine.docker(dir, &args));
    assert!(r.status.success(), "the build failed:\n{}\nthe engine's log:\n{}", r.stderr, engine.log());
    r.stderr
}

/// Asserts what the engine is told to do: the plan's build platform and frontend, and every
/// step of each platform's LLB on linux/arm64.
fn assert_everything_runs_on_arm64(engine: &Arm64Engine, dir: &Path) -> serde_json::Value {
    let out = print(engine, dir, "goapp.plan", "linux/amd64,linux/arm64");
    let plan: serde_json::Value = serde_json::from_str(&out[out.find('{').expect("JSON")..]).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(plan["build_platform"], "linux/arm64", "{plan}");
    assert_eq!(plan["frontend"]["platform"], "linux/arm64", "BuildKit ran the frontend's arm64 image: {plan}");
    let llb = print(engine, dir, "goapp.llb", "linux/amd64,linux/arm64");
    let steps: Vec<&str> = llb.lines().filter(|l| l.split_whitespace().nth(1) == Some("exec")).collect();
    assert!(steps.len() >= 2, "{llb}");
    for step in steps {
        assert!(step.ends_with("platform=linux/arm64"), "a step on another platform than the engine's: {step}");
    }
    for source in llb.lines().filter(|l| l.contains("source docker-image://") && l.contains("golang")) {
        assert!(source.ends_with("platform=linux/arm64"), "the builder is not the arm64 image: {source}");
    }
    plan
}

#[test]
fn an_arm64_engine_runs_the_arm64_frontend_and_cross_compiles_amd64_with_and_without_cgo() {
    require_engine();
    let engine = Arm64Engine::start(Path::new(env!("CARGO_BIN_EXE_goapp-e2e-runc")));
    let r = engine.docker(Path::new("/"), &["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"]);
    assert_eq!(r.stdout.trim(), "linux/arm64", "{}", r.stderr);
    let r = engine.docker(Path::new("/"), &["buildx", "inspect"]);
    let platforms = r.stdout.lines().find(|l| l.trim_start().starts_with("Platforms:")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(platforms.trim_start().trim_start_matches("Platforms:").trim_start().starts_with("linux/arm64"), "BuildKit's own platform: {platforms}");

    // hello: Go alone.
    let hello = repo_root().join("examples/hello");
    assert_everything_runs_on_arm64(&engine, &hello);
    let image = unique_tag("hello-on-arm64");
    let t0 = std::time::Instant::now();
    build_and_push(&engine, &hello, &image);
    eprintln!("hello on the arm64 engine: {:.1} s", t0.elapsed().as_secs_f64());
    assert_eq!(index_platforms(&image), ["linux/amd64", "linux/arm64"]);
    for p in ["linux/amd64", "linux/arm64"] {
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", p, &image, "--once"]);
        assert!(out.contains(&format!("hi from {p}")), "{p}: {out}");
    }

    // cgo: the amd64 binary by Debian's x86-64 cross compiler, in the arm64 builder.
    let cgo = repo_root().join("examples/cgo");
    let plan = assert_everything_runs_on_arm64(&engine, &cgo);
    assert_eq!(plan["cgo"], serde_json::json!({"linux/amd64": "cross-compiled", "linux/arm64": "native"}), "{plan}");
    let image = unique_tag("cgo-on-arm64");
    let t0 = std::time::Instant::now();
    let progress = build_and_push(&engine, &cgo, &image);
    eprintln!("cgo on the arm64 engine: {:.1} s", t0.elapsed().as_secs_f64());
    assert!(progress.contains("[linux/amd64] go build ./cmd/sums (cgo cross-compiled, glibc)"), "{progress}");
    assert!(progress.contains("[linux/arm64] go build ./cmd/sums (cgo native, glibc)"), "{progress}");
    assert!(progress.contains("apt-get install gcc-x86-64-linux-gnu g++-x86-64-linux-gnu libc6-dev-amd64-cross libsqlite3-dev:amd64"), "{progress}");
    for p in ["linux/amd64", "linux/arm64"] {
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", p, &image]);
        assert!(out.contains("fib(90) = 2880067194370816120 (C)") && out.contains(&format!("platform {p}")), "{p}: {out}");
    }
}
