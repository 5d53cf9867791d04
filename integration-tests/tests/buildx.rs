//! End to end: what buildx shows besides the build. The spec's warnings reach its output with
//! their location, and goapp answers subrequests instead of building: `--print NAME` in
//! Debian's buildx 0.13, `--call NAME` in a current buildx (`integration-tests/env/up.sh`
//! unpacks one beside it), which builds with goapp too; and an older BuildKit is refused.

use std::path::Path;
use std::process::Command;

use integration_tests::buildx::current_buildx;
use integration_tests::prelude::*;
use integration_tests::services::OldEngine;

/// `docker buildx build --print=NAME` of `dir/goapp.yaml` (an experimental flag in buildx
/// 0.13); returns whether it succeeded, and its stdout and stderr.
fn print(dir: &Path, name: &str, extra: &[&str]) -> Run {
    let flag = format!("--print={name}");
    let mut args = vec!["buildx", "build", "--progress=quiet", &flag, "--build-arg", "GOAPP_REGISTRY_MIRROR=localhost:5000"];
    args.extend_from_slice(extra);
    args.extend(["-f", "goapp.yaml", "."]);
    let out = Command::new("docker").args(&args).current_dir(dir).env("BUILDX_EXPERIMENTAL", "1").output().expect("docker runs");
    Run { status: out.status, stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

#[test]
fn a_current_buildx_calls_goapp_and_builds_with_it() {
    require_engine();
    let shop = repo_root().join("examples/shop");
    let call = |dir: &Path, name: &str| current_buildx(dir, &["--progress=quiet", "--call", name]);

    // The outline says which Go builds the program and which line chose it, and lists the
    // proxy args without the value this build was given.
    let r = current_buildx(&shop, &["--progress=quiet", "--call", "outline", "--build-arg", "HTTP_PROXY=http://proxy.outline.invalid:3128"]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout.contains("TARGET:      shop"), "{}", r.stdout);
    assert!(r.stdout.contains("DESCRIPTION: goapp spec goapp.yaml, built with Go 1.26 (the go line, go.mod:3)"), "{}", r.stdout);
    assert!(r.stdout.lines().any(|l| l.starts_with("HTTP_PROXY ")), "{}", r.stdout);
    assert!(!r.stdout.contains("proxy.outline.invalid"), "{}", r.stdout);
    let version = r.stdout.lines().find(|l| l.starts_with("VERSION")).unwrap_or_else(|| panic!("VERSION in:\n{}", r.stdout));
    assert!(version.contains("dev") && version.contains("read by goapp.yaml"), "{version}");

    let r = call(&shop, "outline,format=json");
    let o: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(o["args"][0]["location"]["ranges"][0]["start"]["line"], 9, "{o}");
    // The platforms, for a CI matrix: the spec's, unless --platform names others.
    assert_eq!(o["platforms"], serde_json::json!(["linux/amd64", "linux/arm64"]), "{o}");
    assert_eq!(o["platformsLocation"]["ranges"][0]["start"]["line"], 12, "{o}");
    let r = current_buildx(&shop, &["--progress=quiet", "--call", "outline,format=json", "--platform", "linux/arm64"]);
    let o: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(o["platforms"], serde_json::json!(["linux/arm64"]), "{o}");

    let r = call(&shop, "targets");
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout.contains("api (default)") && r.stdout.contains("binaries"), "{}", r.stdout);

    // check: no warnings and a zero exit; a warning with its line and a non-zero exit.
    let r = call(&shop, "check");
    assert!(r.status.success(), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("no warnings found"), "{}", r.stdout);
    let dir = example_variant("hello", "check", |spec| spec.replace("runtime:\n", "runtime:\n  user: root\n"));
    let r = call(&dir, "check");
    assert!(!r.status.success(), "{}", r.stdout);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("WARNING: RunsAsRoot"), "{all}");
    assert!(all.contains("the program runs as root (run as `nonroot`"), "{all}");
    assert!(all.contains(">>>   user: root"), "the line is shown: {all}");
    // A choice made on purpose is acknowledged as in a Dockerfile: `# check=skip=RULE`.
    let acknowledged =
        example_variant("hello", "check-skip", |spec| spec.replacen("\n", "\n# check=skip=RunsAsRoot\n", 1).replace("runtime:\n", "runtime:\n  user: root\n"));
    let r = call(&acknowledged, "check");
    assert!(r.status.success(), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("no warnings found"), "{}", r.stdout);

    let r = call(&shop, "goapp.schema");
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout.contains("\"title\": \"goapp spec\""), "{}", r.stdout);

    // A build, with the warning on the way.
    let r = current_buildx(&dir, &["--progress=plain", "--platform", "linux/arm64"]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("the program runs as root"), "{}", r.stderr);
}

#[test]
fn an_older_buildkit_is_refused_with_the_feature_and_the_release_that_has_it() {
    require_engine();
    // Docker 20.10 (BuildKit v0.8), beside the engine while this test runs.
    let old = OldEngine::start();
    let version = old.version();
    assert!(version.starts_with("20.10."), "Docker 20.10 says it is {version}");
    let out = Command::new("docker")
        .args([
            "buildx",
            "build",
            "--progress=plain",
            "--platform",
            "linux/amd64",
            "--build-arg",
            "GOAPP_REGISTRY_MIRROR=localhost:5000",
            "-f",
            "goapp.yaml",
            ".",
        ])
        .current_dir(repo_root().join("examples/hello"))
        .env("DOCKER_HOST", &old.host)
        .output()
        .expect("docker runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("this BuildKit lacks whole-file context transfer (LLB capability `source.local.differ`), which BuildKit has since v0.9.0"),
        "{stderr}"
    );
}

#[test]
fn a_warning_of_the_spec_reaches_buildx_with_its_location() {
    require_engine();
    let dir = example_variant("hello", "warn-root", |spec| spec.replace("runtime:\n", "runtime:\n  user: root\n"));
    let line = std::fs::read_to_string(dir.join("goapp.yaml")).unwrap().lines().position(|l| l == "  user: root").unwrap() + 1;
    let r = buildx(&dir, "linux/amd64", &[]);
    assert!(r.status.success(), "{}", r.stderr);
    // buildx 0.13's plain output prints the warning under its step (`WARN: ...`) only when it
    // arrives before the step's lines are flushed; the summary at the end always lists it.
    assert!(r.stderr.contains(&format!("the program runs as root (goapp.yaml:{line}:9)")), "{}", r.stderr);
    assert!(r.stderr.contains("1 warning found"), "{}", r.stderr);
}

#[test]
fn goapp_answers_subrequests_instead_of_building() {
    require_engine();
    let shop = repo_root().join("examples/shop");

    let r = print(&shop, "subrequests.describe", &[]);
    assert!(r.status.success(), "{}", r.stderr);
    for name in ["outline", "targets", "lint", "goapp.schema", "goapp.llb"] {
        assert!(r.stdout.lines().any(|l| l.starts_with(name)), "{name} in:\n{}", r.stdout);
    }

    // The build args the spec reads, with their defaults, and goapp's own.
    let r = print(&shop, "outline", &[]);
    assert!(r.status.success(), "{}", r.stderr);
    let version = r.stdout.lines().find(|l| l.starts_with("VERSION")).unwrap_or_else(|| panic!("VERSION in:\n{}", r.stdout));
    assert!(version.contains("dev"), "{version}");
    assert!(r.stdout.lines().any(|l| l.starts_with("GOPROXY")), "{}", r.stdout);

    let r = print(&shop, "targets", &[]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout.contains("api (default)") && r.stdout.contains("go build ./cmd/worker"), "{}", r.stdout);

    let r = print(&shop, "goapp.schema", &[]);
    assert!(r.status.success(), "{}", r.stderr);
    let json = &r.stdout[r.stdout.find('{').expect("a JSON document")..];
    let schema: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(schema["title"], "goapp spec");

    let r = print(&shop, "goapp.llb", &["--platform", "linux/arm64"]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout.contains("# linux/arm64") && r.stdout.contains("\"go\", \"build\""), "{}", r.stdout);

    // The plan: what the build would do, without building.
    let r = print(&shop, "goapp.plan", &["--platform", "linux/arm64", "--target", "api"]);
    assert!(r.status.success(), "{}", r.stderr);
    let json = &r.stdout[r.stdout.find('{').expect("a JSON document")..];
    let plan: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(plan["platforms"], serde_json::json!(["linux/arm64"]), "{plan}");
    assert_eq!(plan["targets"], serde_json::json!([{"name": "api", "main": "./cmd/api"}]), "{plan}");
    assert_eq!(plan["go"]["chosen_by"], "the go line, go.mod:3", "{plan}");

    // lint: every problem of the spec, with its line; nothing is built.
    let dir = example_variant("hello", "lint", |spec| spec.replace("runtime:\n", "runtime:\n  user: root\n  stop_signal: SIGSTOPP\n"));
    let r = print(&dir, "lint", &[]);
    assert!(r.stdout.contains("error[InvalidValue]: `SIGSTOPP` is not a signal; did you mean `SIGSTOP`?"), "{}", r.stdout);
    assert!(r.stdout.contains("warning[RunsAsRoot]: the program runs as root"), "{}", r.stdout);
    assert!(r.stdout.contains("--> goapp.yaml:"), "{}", r.stdout);
    assert!(!r.stderr.contains("go build"), "{}", r.stderr);

    let r = print(&shop, "nope", &[]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("goapp does not answer the request `frontend.nope`; it answers: subrequests.describe, outline, targets, lint"), "{}", r.stderr);
}
