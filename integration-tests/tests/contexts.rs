//! End to end: build contexts other than a local directory. A git repository as the build
//! context (fetched by BuildKit with `--secret id=GIT_AUTH_TOKEN`), and named contexts
//! (`--build-context`) that replace a Go module with a local directory or a git repository,
//! and the builder and base images with other images.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn state() -> PathBuf {
    PathBuf::from(std::env::var("GOAPP_STATE").unwrap_or_else(|_| "/var/lib/goapp-e2e".into()))
}

/// The private module's path and go.sum lines, and the server's token, from
/// `integration-tests/env/up.sh`.
fn private() -> (String, String, String) {
    let file = state().join("private-git.json");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}: run scripts/test (or integration-tests/env/up.sh)", file.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    (s("module"), s("go_sum"), s("token"))
}

/// Publishes the files of `dir` as the `main` branch of a new repository that the private git
/// server (which needs the token) serves; returns its URL.
fn publish(dir: &Path, name: &str) -> String {
    let repo = format!("e2e/{name}-{}.git", std::process::id());
    let bare = state().join("private-git").join(&repo);
    let _ = std::fs::remove_dir_all(&bare);
    let work = temp_dir(&format!("{name}-work"));
    copy_dir(dir, &work);
    let git = |args: &[&str]| ok(&work, "git", args);
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["-c", "user.name=goapp tests", "-c", "user.email=tests@goapp.invalid", "commit", "-q", "-m", "e2e"]);
    git(&["clone", "-q", "--bare", ".", &bare.display().to_string()]);
    let host = private().0.split('/').next().unwrap().to_string();
    format!("http://{host}/{repo}")
}

/// A token file for `--secret id=GIT_AUTH_TOKEN`, with which BuildKit fetches git sources.
fn token_secret(name: &str) -> String {
    let file = temp_dir(&format!("{name}-token")).join("token");
    std::fs::write(&file, private().2).unwrap();
    format!("id=GIT_AUTH_TOKEN,src={}", file.display())
}

/// A program using the private module, whose downloads are all turned off (`GOPROXY=off`):
/// it builds only if every module it needs is replaced.
fn greeter(name: &str) -> PathBuf {
    let (module, go_sum, _) = private();
    let dir = temp_dir(name);
    std::fs::write(dir.join("go.mod"), format!("module example.com/greeter\n\ngo 1.22\n\nrequire {module} v1.0.0\n")).unwrap();
    std::fs::write(dir.join("go.sum"), go_sum).unwrap();
    std::fs::write(dir.join("main.go"), format!("package main\n\nimport (\n\t\"fmt\"\n\n\tgreet \"{module}\"\n)\n\nfunc main() {{ fmt.Println(greet.Hello(\"goapp\")) }}\n")).unwrap();
    let spec = "# syntax=localhost:5000/goapp-frontend:dev\nname: greeter\ngo:\n  env:\n    GOPROXY: \"off\"\nruntime:\n  base: static\n";
    std::fs::write(dir.join("goapp.yaml"), spec).unwrap();
    dir
}

/// The private module, changed to say where it came from.
fn greet_copy(name: &str, from: &str) -> PathBuf {
    let (module, _, _) = private();
    let dir = temp_dir(name);
    std::fs::write(dir.join("go.mod"), format!("module {module}\n\ngo 1.22\n")).unwrap();
    std::fs::write(dir.join("greet.go"), format!("package greet\n\nfunc Hello(name string) string {{ return \"hello, \" + name + \", from {from}\" }}\n")).unwrap();
    dir
}

fn said(image: &str, platform: &str) -> String {
    ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, image]).trim().to_string()
}

#[test]
fn a_local_directory_replaces_a_module() {
    require_engine();
    let (module, _, _) = private();
    let dir = greeter("replace-local");
    let lib = greet_copy("replace-local-lib", "a local copy");
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
    let (module, _, _) = private();
    let dir = greeter("replace-git");
    let url = publish(&greet_copy("replace-git-lib", "a git copy"), "greet");
    let image = unique_tag("replace-git");
    let named = format!("{module}={url}#main");
    buildx_push(&dir, "linux/amd64", &image, &["--build-context", &named, "--secret", &token_secret("replace-git")]);
    assert_eq!(said(&image, "linux/amd64"), "hello, goapp, from a git copy");
}

#[test]
fn a_git_repository_is_the_build_context() {
    require_engine();
    let url = publish(&repo_root().join("examples/hello"), "hello");
    let image = unique_tag("git-context");
    let secret = token_secret("git-context");
    // The context is the repository at its main branch; -f names a file in it.
    let args = [
        "buildx", "build", "--progress=plain", "--build-arg", "GOAPP_REGISTRY_MIRROR=localhost:5000", "--secret", &secret, "-f", "goapp.yaml", "-t", &image,
        "--push",
    ];
    let mut args = args.to_vec();
    let context = format!("{url}#main");
    args.push(&context);
    let r = run(Path::new("/"), "docker", &args);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("load git source {url}#main")), "{}", r.stderr);
    let mut platforms: Vec<String> = index_images(&image).into_iter().map(|i| i.platform).collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "the spec's platforms");
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
        "golang:1.24=docker-image://localhost:5000/library/golang:1.24",
        "--build-context",
        "gcr.io/distroless/static-debian12:nonroot=docker-image://localhost:5000/gcr.io/distroless/static-debian12:nonroot",
        "-f",
        "goapp.yaml",
        "-t",
        &image,
        "--push",
        ".",
    ];
    let r = run(&dir, "docker", &args);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("FROM localhost:5000/library/golang:1.24@sha256:"), "{}", r.stderr);
    for img in index_images(&image) {
        let base = img.config["config"]["Labels"]["org.opencontainers.image.base.name"].as_str().unwrap_or_default().to_string();
        // The label names the image that was pulled in its place.
        assert_eq!(base, "localhost:5000/gcr.io/distroless/static-debian12:nonroot", "{}", img.platform);
        assert!(img.config["config"]["Labels"]["org.opencontainers.image.base.digest"].as_str().is_some_and(|d| d.starts_with("sha256:")));
    }
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", "linux/arm64", &image, "--once"]);
    assert!(out.contains("hi from linux/arm64"), "{out}");
}
