//! End to end: build contexts other than a local directory. A git repository as the build
//! context (fetched by BuildKit with `--secret id=GIT_AUTH_TOKEN`), and named contexts
//! (`--build-context`) that replace a Go module with a local directory or a git repository,
//! and the builder and base images with other images.

use std::path::{Path, PathBuf};

use integration_tests::prelude::*;
use integration_tests::services::{PrivateGit, greeter};

/// A token file for `--secret id=GIT_AUTH_TOKEN`, with which BuildKit fetches git sources.
fn token_secret(git: &PrivateGit, name: &str) -> String {
    let file = temp_dir(&format!("{name}-token")).join("token");
    std::fs::write(&file, &git.token).unwrap();
    format!("id=GIT_AUTH_TOKEN,src={}", file.display())
}

/// A program using the private module, whose downloads are all turned off (`GOPROXY=off`):
/// it builds only if every module it needs is replaced.
fn greeter_offline(git: &PrivateGit, name: &str) -> PathBuf {
    let spec = "# syntax=localhost:5000/goapp-frontend:dev\nname: greeter\ngo:\n  env:\n    GOPROXY: \"off\"\nruntime:\n  base: static\n";
    greeter(name, git, spec)
}

/// The private module, changed to say where it came from.
fn greet_copy(git: &PrivateGit, name: &str, from: &str) -> PathBuf {
    let module = &git.module;
    let dir = temp_dir(name);
    std::fs::write(dir.join("go.mod"), format!("module {module}\n\ngo 1.26\n")).unwrap();
    std::fs::write(dir.join("greet.go"), format!("package greet\n\nfunc Hello(name string) string {{ return \"hello, \" + name + \", from {from}\" }}\n"))
        .unwrap();
    dir
}

fn said(image: &str, platform: &str) -> String {
    ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, image]).trim().to_string()
}

#[test]
fn a_local_directory_replaces_a_module() {
    require_engine();
    let git = PrivateGit::start();
    let module = &git.module;
    let dir = greeter_offline(&git, "replace-local");
    let lib = greet_copy(&git, "replace-local-lib", "a local copy");
    let image = unique_tag("replace-local");
    let named = format!("{module}={}", lib.display());
    buildx_push(&dir, "linux/amd64,linux/arm64", &image, &["--build-context", &named]);
    for platform in ["linux/amd64", "linux/arm64"] {
        assert_eq!(said(&image, platform), "hello, goapp, from a local copy");
    }

    // A name that is neither a module go.mod requires nor an image of the build.
    let r = buildx(&dir, "linux/amd64", &["--build-context", &format!("example.com/other={}", lib.display())]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("--build-context example.com/other: go.mod does not require the module example.com/other"), "{}", r.stderr);
}

#[test]
fn a_git_repository_replaces_a_module() {
    require_engine();
    let git = PrivateGit::start();
    let module = &git.module;
    let dir = greeter_offline(&git, "replace-git");
    let url = git.publish(&greet_copy(&git, "replace-git-lib", "a git copy"), "greet");
    let image = unique_tag("replace-git");
    let named = format!("{module}={url}#main");
    buildx_push(&dir, "linux/amd64", &image, &["--build-context", &named, "--secret", &token_secret(&git, "replace-git")]);
    assert_eq!(said(&image, "linux/amd64"), "hello, goapp, from a git copy");
}

#[test]
fn a_git_repository_is_the_build_context() {
    require_engine();
    let git = PrivateGit::start();
    let url = git.publish(&repo_root().join("examples/hello"), "hello");
    let image = unique_tag("git-context");
    let secret = token_secret(&git, "git-context");
    // The context is the repository at its main branch; -f names a file in it.
    let args = [
        "buildx",
        "build",
        "--progress=plain",
        "--build-arg",
        "GOAPP_REGISTRY_MIRROR=localhost:5000",
        "--secret",
        &secret,
        "-f",
        "goapp.yaml",
        "-t",
        &image,
        "--push",
    ];
    let mut args = args.to_vec();
    let context = format!("{url}#main");
    args.push(&context);
    let r = docker_push(Path::new("/"), &args);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("load git source {url}#main")), "{}", r.stderr);
    assert_eq!(index_platforms(&image), ["linux/amd64", "linux/arm64"], "the spec's platforms");
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", "linux/arm64", &image, "--once"]);
    assert!(out.contains("hi from linux/arm64"), "{out}");

    // Without the token the server refuses the repository.
    let r = run(Path::new("/"), "docker", &["buildx", "build", "--progress=plain", "-f", "goapp.yaml", &context]);
    assert!(!r.status.success(), "fetched without the token:\n{}", r.stderr);
}

#[test]
fn images_of_the_build_are_replaced_by_named_contexts() {
    require_engine();
    // Without the registry mirror the build would pull docker.io and gcr.io, which this
    // machine cannot reach: the named contexts point it at the local registry's copies.
    let dir = example_variant("hello", "image-contexts", |spec| spec.replace("base: static", "base: distroless"));
    let image = unique_tag("image-contexts");
    let args = [
        "buildx",
        "build",
        "--progress=plain",
        "--platform",
        "linux/amd64,linux/arm64",
        "--build-context",
        "golang:1.27=docker-image://localhost:5000/library/golang:1.27",
        "--build-context",
        "gcr.io/distroless/static-debian12:nonroot=docker-image://localhost:5000/gcr.io/distroless/static-debian12:nonroot",
        "-f",
        "goapp.yaml",
        "-t",
        &image,
        "--push",
        ".",
    ];
    let r = docker_push(&dir, &args);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("FROM localhost:5000/library/golang:1.27@sha256:"), "{}", r.stderr);
    for img in index_images(&image) {
        let base = img.config["config"]["Labels"]["org.opencontainers.image.base.name"].as_str().unwrap_or_default().to_string();
        // The label names the image that was pulled in its place.
        assert_eq!(base, "localhost:5000/gcr.io/distroless/static-debian12:nonroot", "{}", img.platform);
        assert!(img.config["config"]["Labels"]["org.opencontainers.image.base.digest"].as_str().is_some_and(|d| d.starts_with("sha256:")));
    }
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", "linux/arm64", &image, "--once"]);
    assert!(out.contains("hi from linux/arm64"), "{out}");
}
