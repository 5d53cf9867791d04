//! End to end: a private module, served only to those who log in (by
//! `integration-tests/env/private-git.py` over git's smart HTTP, and by sshd, both run by the
//! tests: `integration_tests::services`), downloads with
//! the secrets the spec names and buildx passes with `--secret` or `--ssh`: a .netrc file, a
//! git token given to git by a credential helper, or an SSH key. No secret lands in any layer
//! of the image or of the exported build cache, the download layer included.

use std::path::{Path, PathBuf};

use integration_tests::prelude::*;
use integration_tests::services::{GitSsh, PrivateGit, greeter};

/// The greeter program, with a spec that names `secret`, fetching the private module over
/// plain HTTP from its server.
fn greeter_via_http(name: &str, p: &PrivateGit, secret: &str) -> PathBuf {
    greeter_with(name, p, secret, &format!("    GOINSECURE: {host}\n    GOPRIVATE: {host}\n", host = p.host))
}

/// The greeter program, with a spec that names `secret` and sets `env` for `go`.
fn greeter_with(name: &str, p: &PrivateGit, secret: &str, env: &str) -> PathBuf {
    // The modules live in the download step's layer, so that --no-cache downloads again
    // (from the server, with the secret) and the exported cache holds that layer.
    let spec = format!(
        "# syntax=localhost:5000/goapp-frontend:dev\nname: greeter\ngo:\n  module_cache: layer\n  env:\n    GOPROXY: direct\n{env}  secrets:\n{secret}runtime:\n  base: static\n"
    );
    greeter(name, p, &spec)
}

/// Builds `dir` with `secret_args`, for both platforms, exporting the cache to a directory
/// and pushing the image; returns the image and the cache directory.
fn build(dir: &Path, name: &str, secret_args: &[&str]) -> (String, PathBuf) {
    let image = unique_tag(name);
    let cache = dir.with_extension("cache");
    let _ = std::fs::remove_dir_all(&cache);
    let cache_to = format!("type=local,dest={},mode=max", cache.display());
    let mut args = secret_args.to_vec();
    args.extend(["--no-cache", "--cache-to", &cache_to]);
    let progress = buildx_push(dir, "linux/amd64,linux/arm64", &image, &args);
    assert_eq!(step_outcome(&progress, "[builder] go mod download"), "DONE", "the download ran:\n{progress}");
    (image, cache)
}

fn assert_greets(image: &str) {
    for platform in ["linux/amd64", "linux/arm64"] {
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, image]);
        assert_eq!(out.trim(), "hello, goapp, from a private module", "{platform}");
    }
}

#[test]
fn a_netrc_secret_downloads_a_private_module_and_stays_out_of_every_layer() {
    require_engine();
    let p = PrivateGit::start();
    let dir = greeter_via_http("netrc", &p, "    - id: netrc\n      type: netrc\n");

    // Without the secret, the download fails and says which one is missing.
    let r = buildx(&dir, "linux/amd64", &["--no-cache"]);
    assert!(!r.status.success(), "built without the secret:\n{}", r.stderr);
    assert!(r.stderr.contains("secret netrc"), "{}", r.stderr);

    let netrc = dir.with_extension("netrc");
    std::fs::write(&netrc, format!("machine {} login {} password {}\n", p.host, p.user, p.password)).unwrap();
    let src = format!("id=netrc,src={}", netrc.display());
    let (image, cache) = build(&dir, "netrc", &["--secret", &src]);
    assert_greets(&image);
    assert_nowhere(&p.password, &image, Some(&cache));
}

#[test]
fn a_git_token_secret_downloads_a_private_module_and_stays_out_of_every_layer() {
    require_engine();
    let p = PrivateGit::start();
    let dir = greeter_via_http("git-token", &p, &format!("    - id: git-token\n      type: git_token\n      host: {}\n", p.host));
    let token = dir.with_extension("token");
    std::fs::write(&token, &p.token).unwrap();

    // A token for another host is not sent: the server refuses the download.
    let elsewhere = greeter_via_http("git-token-elsewhere", &p, "    - id: git-token\n      type: git_token\n      host: git.example.com\n");
    let src = format!("id=git-token,src={}", token.display());
    let r = buildx(&elsewhere, "linux/amd64", &["--no-cache", "--secret", &src]);
    assert!(!r.status.success(), "a token for git.example.com opened {}:\n{}", p.host, r.stderr);

    let (image, cache) = build(&dir, "git-token", &["--secret", &src]);
    assert_greets(&image);
    assert_nowhere(&p.token, &image, Some(&cache));
}

#[test]
fn an_ssh_key_downloads_a_private_module_over_ssh_and_stays_out_of_every_layer() {
    require_engine();
    let p = PrivateGit::start();
    let ssh = GitSsh::start(&p);
    let (host, port, key, known) = (&ssh.host, ssh.port, ssh.key.display().to_string(), ssh.known_hosts.as_str());
    // git fetches https://<host>/private/greet over SSH: the HTTP server is not asked (no
    // GOINSECURE, no credentials for it).
    let secret = format!("    - id: default\n      type: ssh\n      host: {host}:{port}\n      known_hosts: \"{known}\"\n");
    let dir = greeter_with("ssh", &p, &secret, "");

    // Without the key, the download fails.
    let r = buildx(&dir, "linux/amd64", &["--no-cache"]);
    assert!(!r.status.success(), "built without the SSH key:\n{}", r.stderr);

    let agent = format!("default={key}");
    let (image, cache) = build(&dir, "ssh", &["--ssh", &agent]);
    assert_greets(&image);
    // A line from the middle of the private key.
    let private_key = std::fs::read_to_string(&key).unwrap();
    let line = private_key.lines().nth(2).unwrap_or_else(|| panic!("a key of several lines: {key}"));
    assert_nowhere(line, &image, Some(&cache));

    // A host key other than the server's is refused.
    let wrong = secret.replace(known.split_whitespace().nth(2).unwrap(), "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl");
    let dir = greeter_with("ssh-wrong-host-key", &p, &wrong, "");
    let r = buildx(&dir, "linux/amd64", &["--no-cache", "--ssh", &agent]);
    assert!(!r.status.success(), "built with a wrong host key:\n{}", r.stderr);
    // (Go reports only that no protocol worked; ssh refused the host.)
    assert_eq!(step_outcome(&r.stderr, "[builder] go mod download"), "ERROR", "{}", r.stderr);
    assert!(r.stderr.contains("no secure protocol found for repository"), "{}", r.stderr);
}
