//! End to end: the recipes of the README for tools that drive buildx, run on examples/hello
//! with the files kept beside it: `docker buildx bake` with examples/hello/docker-bake.hcl, and
//! `docker compose` with examples/hello/compose.yaml. Each builds a copy of the example, with
//! the tag and the registry mirror set the way a CI sets them (environment variables or
//! `--set`), and runs what it built.

use std::path::{Path, PathBuf};
use std::process::Command;

use integration_tests::buildx::pushed;
use integration_tests::prelude::*;
use integration_tests::run::run_command;

/// The variables the bake and compose files read; removed from the environment of every
/// command here, so that only what a test sets reaches them.
const VARIABLES: [&str; 4] = ["IMAGE", "TAG", "HELLO_IMAGE", "GOAPP_REGISTRY_MIRROR"];

/// `docker ARGS` in `dir` with the environment variables `vars`; a push the registry failed
/// is done again, as the harness does for buildx ([`pushed`]).
fn docker_with(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Run {
    pushed(|| {
        let mut cmd = Command::new("docker");
        cmd.args(args).current_dir(dir);
        for v in VARIABLES {
            cmd.env_remove(v);
        }
        cmd.envs(vars.iter().copied());
        run_command(&mut cmd)
    })
}

/// [`docker_with`] that must succeed.
fn docker_ok(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let r = docker_with(dir, vars, args);
    assert!(r.status.success(), "`docker {}` failed ({}):\n{}\n{}", args.join(" "), r.status, r.stdout, r.stderr);
    r
}

/// What a command that must succeed printed, stdout and stderr together: the progress of a
/// build (Compose prints it on stdout, buildx on stderr).
fn docker_progress(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> String {
    let r = docker_ok(dir, vars, args);
    format!("{}{}", r.stdout, r.stderr)
}

/// The JSON a command that must succeed prints on stdout.
fn docker_json(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> serde_json::Value {
    let out = docker_ok(dir, vars, args).stdout;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("`docker {}` printed no JSON ({e}):\n{out}", args.join(" ")))
}

/// A copy of examples/hello whose spec names no platforms, so that the platforms of an image
/// built from it can only come from the bake or compose file.
fn hello_without_platforms(name: &str) -> PathBuf {
    let dir = example_variant("hello", name, |spec| spec.replace("platforms: [linux/amd64, linux/arm64]\n", ""));
    for file in ["docker-bake.hcl", "compose.yaml"] {
        let copied = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file} is not in the copy of examples/hello: {e}"));
        assert_eq!(copied, std::fs::read_to_string(repo_root().join("examples/hello").join(file)).unwrap(), "{file} is the example's own");
    }
    dir
}

/// Runs `image` on each of `platforms` (arm64 under QEMU) and checks that it reports that
/// platform; then removes the image from the engine (the registry keeps it).
fn runs_on_each(image: &str, platforms: &[&str]) {
    for platform in platforms {
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, image, "--once"]);
        assert!(out.contains(&format!("hi from {platform}")), "{platform}: {out}");
    }
    let _ = run(Path::new("/"), "docker", &["image", "rm", image]);
}

/// The build went through the frontend of the `# syntax=` line, and pulled the Go builder
/// through the registry mirror given as a build arg.
fn built_by_goapp_through_the_mirror(progress: &str) {
    assert!(progress.contains("resolve image config for docker-image://localhost:5000/goapp-frontend:dev"), "the syntax line was not followed:\n{progress}");
    assert!(progress.contains("localhost:5000/library/golang:1.27"), "the Go builder was not pulled through the mirror:\n{progress}");
}

/// A Compose project of a test, brought down (its network, containers and images) when dropped.
struct Project<'a> {
    dir: &'a Path,
    name: String,
    vars: Vec<(&'a str, &'a str)>,
}

impl<'a> Project<'a> {
    /// The project `name` (made unique to this test binary) of the compose.yaml in `dir`,
    /// tagging `image`, with the local registry as the mirror.
    fn new(dir: &'a Path, name: &str, image: &'a str) -> Self {
        let name = format!("goapp-e2e-{name}-{}", std::process::id());
        Project { dir, name, vars: vec![("HELLO_IMAGE", image), ("GOAPP_REGISTRY_MIRROR", REGISTRY)] }
    }

    fn compose(&self, args: &[&str]) -> String {
        let mut all = vec!["compose", "-p", &self.name, "-f", "compose.yaml", "--progress=plain"];
        all.extend_from_slice(args);
        docker_progress(self.dir, &self.vars, &all)
    }
}

impl Drop for Project<'_> {
    fn drop(&mut self) {
        let _ = docker_with(self.dir, &self.vars, &["compose", "-p", &self.name, "-f", "compose.yaml", "down", "--rmi", "all"]);
    }
}

#[test]
fn the_bake_and_compose_files_default_to_a_local_tag_no_mirror_and_two_platforms() {
    require_engine();
    let dir = repo_root().join("examples/hello");

    let bake = docker_json(&dir, &[], &["buildx", "bake", "-f", "docker-bake.hcl", "--print"]);
    let target = &bake["target"]["hello"];
    assert_eq!(bake["group"]["default"]["targets"], serde_json::json!(["hello"]), "{bake}");
    assert_eq!(target["dockerfile"], "goapp.yaml", "{bake}");
    assert_eq!(target["tags"], serde_json::json!(["hello:dev"]), "{bake}");
    assert_eq!(target["platforms"], serde_json::json!(["linux/amd64", "linux/arm64"]), "{bake}");
    assert_eq!(target["args"]["GOAPP_REGISTRY_MIRROR"], "", "{bake}");

    let compose = docker_json(&dir, &[], &["compose", "-f", "compose.yaml", "config", "--format", "json"]);
    let service = &compose["services"]["hello"];
    assert_eq!(service["image"], "hello:dev", "{compose}");
    assert_eq!(service["build"]["dockerfile"], "goapp.yaml", "{compose}");
    assert_eq!(service["build"]["platforms"], serde_json::json!(["linux/amd64", "linux/arm64"]), "{compose}");
    assert_eq!(service["build"]["args"]["GOAPP_REGISTRY_MIRROR"], "", "{compose}");
}

#[test]
fn bake_pushes_the_platforms_of_its_target_under_the_tag_its_variables_make() {
    require_engine();
    let dir = hello_without_platforms("bake");
    let image = unique_tag("bake");
    let (repository, tag) = image.rsplit_once(':').unwrap();
    let vars = [("IMAGE", repository), ("TAG", tag), ("GOAPP_REGISTRY_MIRROR", REGISTRY)];

    // The variables, set from the environment as a CI sets them, make the tag and the build arg.
    let bake = docker_json(&dir, &vars, &["buildx", "bake", "-f", "docker-bake.hcl", "--print"]);
    assert_eq!(bake["target"]["hello"]["tags"], serde_json::json!([image]), "{bake}");
    assert_eq!(bake["target"]["hello"]["args"]["GOAPP_REGISTRY_MIRROR"], REGISTRY, "{bake}");

    let progress = docker_progress(&dir, &vars, &["buildx", "bake", "-f", "docker-bake.hcl", "--progress=plain", "--push"]);
    built_by_goapp_through_the_mirror(&progress);
    // The spec names no platforms: both come from the bake file.
    assert_eq!(index_platforms(&image), ["linux/amd64", "linux/arm64"], "{progress}");
    runs_on_each(&image, &["linux/amd64", "linux/arm64"]);
}

#[test]
fn bake_set_overrides_the_platforms_and_the_tag_of_the_bake_file() {
    require_engine();
    let dir = hello_without_platforms("bake-set");
    let image = unique_tag("bake-set");
    let tags = format!("hello.tags={image}");
    let mirror = format!("hello.args.GOAPP_REGISTRY_MIRROR={REGISTRY}");
    let set = ["--set", "hello.platform=linux/arm64", "--set", &tags, "--set", &mirror];
    let progress = docker_progress(&dir, &[], &[&["buildx", "bake", "-f", "docker-bake.hcl", "--progress=plain", "--push"], &set[..]].concat());
    built_by_goapp_through_the_mirror(&progress);
    assert!(progress.contains("[linux/arm64] go build ./cmd/hello"), "{progress}");
    assert!(!progress.contains("[linux/amd64] go build"), "an amd64 binary was built:\n{progress}");

    // One platform: a plain manifest, or an index of one image.
    let img = single_image(&image);
    assert_eq!(img.config["architecture"], "arm64", "{}", img.manifest);
    runs_on_each(&image, &["linux/arm64"]);
}

#[test]
fn compose_builds_the_hello_service_through_the_syntax_line_and_runs_it() {
    require_engine();
    let dir = temp_dir("compose");
    copy_dir(&repo_root().join("examples/hello"), &dir);
    let image = unique_tag("compose");
    let project = Project::new(&dir, "compose", &image);

    let progress = project.compose(&["build"]);
    built_by_goapp_through_the_mirror(&progress);
    assert!(progress.contains("[hello linux/arm64] go build ./cmd/hello"), "{progress}");

    // Built into the engine's image store, not pushed: Compose runs it from there, on the
    // engine's own platform.
    let engine_arch = ok(Path::new("/"), "docker", &["version", "--format", "{{.Server.Arch}}"]).trim().to_string();
    let out = project.compose(&["run", "--rm", "hello", "--once"]);
    assert!(out.contains(&format!("hi from linux/{engine_arch}")), "{out}");
    let arch = ok(Path::new("/"), "docker", &["image", "inspect", "--format", "{{.Architecture}}", &image]);
    assert_eq!(arch.trim(), engine_arch);
    let (repo, tag) = repo_and_tag(&image);
    let pushed = run(Path::new("/"), "curl", &["-fsS", "-o", "/dev/null", &format!("http://{REGISTRY}/v2/{repo}/manifests/{tag}")]);
    assert!(!pushed.status.success(), "docker compose build pushed {image}");
}

#[test]
fn compose_build_push_makes_one_index_of_the_platforms_its_build_section_names() {
    require_engine();
    let dir = hello_without_platforms("compose-push");
    let image = unique_tag("compose-push");
    let project = Project::new(&dir, "compose-push", &image);

    let progress = project.compose(&["build", "--push"]);
    built_by_goapp_through_the_mirror(&progress);
    // The spec names no platforms: both come from the build section's `platforms`.
    assert_eq!(index_platforms(&image), ["linux/amd64", "linux/arm64"], "{progress}");
    runs_on_each(&image, &["linux/amd64", "linux/arm64"]);
}
