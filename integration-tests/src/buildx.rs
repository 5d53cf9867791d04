//! `docker buildx build` of a goapp spec, and reading its `--progress=plain` output.

use std::path::Path;
use std::process::Command;

use crate::env::env;
use crate::registry::REGISTRY;
use crate::run::{Run, run, run_command};

/// `docker buildx build` of `dir/goapp.yaml` for `platforms` through the local registry
/// mirror, with `extra` arguments; returns the build's progress output (stderr).
pub fn buildx(dir: &Path, platforms: &str, extra: &[&str]) -> Run {
    buildx_on(None, dir, platforms, extra)
}

/// [`buildx`] on the engine at `docker_host` (`unix://<socket>`, as `DOCKER_HOST`: buildx's
/// `docker` driver on that engine), or on the machine's engine with `None`.
pub fn buildx_on(docker_host: Option<&str>, dir: &Path, platforms: &str, extra: &[&str]) -> Run {
    let mirror = format!("GOAPP_REGISTRY_MIRROR={REGISTRY}");
    let mut args = vec!["buildx", "build", "--progress=plain", "--platform", platforms, "--build-arg", &mirror, "-f", "goapp.yaml"];
    args.extend_from_slice(extra);
    args.push(".");
    match docker_host {
        None => run(dir, "docker", &args),
        Some(host) => run_command(Command::new("docker").args(&args).current_dir(dir).env("DOCKER_HOST", host)),
    }
}

/// [`buildx`] that must succeed, pushing to `image`.
pub fn buildx_push(dir: &Path, platforms: &str, image: &str, extra: &[&str]) -> String {
    let mut args = extra.to_vec();
    args.extend(["-t", image, "--push"]);
    let r = pushed(|| buildx(dir, platforms, &args));
    assert!(r.status.success(), "the build of {} failed:\n{}", dir.display(), r.stderr);
    r.stderr
}

/// `docker ARGS` in `dir`, for a command that pushes to the local registry.
pub fn docker_push(dir: &Path, args: &[&str]) -> Run {
    pushed(|| run(dir, "docker", args))
}

/// A command that pushes, run again when the registry failed the push: Debian's
/// docker-registry 2.8 now and then answers 500 to the engine's check of a tag it is writing;
/// the build itself succeeded and is cached, so only the push is done again. (Compose prints
/// the error on stdout, buildx on stderr.)
pub fn pushed(push: impl Fn() -> Run) -> Run {
    let r = push();
    let out = format!("{}{}", r.stdout, r.stderr);
    if !r.status.success() && out.contains("unexpected status from HEAD request") && out.contains("500 Internal Server Error") {
        eprintln!("the registry failed a push with a 500; pushing again:\n{out}");
        return push();
    }
    r
}

/// `docker buildx build` with the current buildx of the test environment
/// ([`crate::env::Env::current_buildx_config`]) in `dir`, with the registry mirror, `args` and
/// `-f goapp.yaml .`.
pub fn current_buildx(dir: &Path, args: &[&str]) -> Run {
    let config = &env().current_buildx_config;
    assert!(config.join("cli-plugins/docker-buildx").exists(), "no current buildx in {}: run integration-tests/env/up.sh tools", config.display());
    let mirror = format!("GOAPP_REGISTRY_MIRROR={REGISTRY}");
    let mut all = vec!["buildx", "build", "--build-arg", &mirror];
    all.extend_from_slice(args);
    all.extend(["-f", "goapp.yaml", "."]);
    run_command(Command::new("docker").args(&all).current_dir(dir).env("DOCKER_CONFIG", config))
}

/// How the step whose name starts with `name` ended in a `--progress=plain` log: `CACHED`,
/// `DONE` or `ERROR`.
pub fn step_outcome(progress: &str, name: &str) -> String {
    let id = progress
        .lines()
        .find_map(|l| {
            let (id, rest) = l.split_once(' ')?;
            (id.starts_with('#') && rest.starts_with(name)).then(|| id.to_string())
        })
        .unwrap_or_else(|| panic!("no step {name} in the build's progress"));
    progress
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{id} ")))
        .filter_map(|rest| ["CACHED", "DONE", "ERROR"].into_iter().find(|o| rest.starts_with(o)))
        .next_back()
        .unwrap_or_else(|| panic!("step {name} ({id}) has no outcome"))
        .to_string()
}
