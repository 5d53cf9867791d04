//! End to end: `go.shared_cache` with a real store (nginx with WebDAV PUT, behind a bearer
//! token: `integration_tests::services::CacheStore`). After `docker buildx prune -af` (an
//! engine that has never built the project: a new CI runner, another builder node), a build
//! compiles only the package that changed and takes the rest from the store; a read-only
//! build uploads nothing, and what a builder has from such builds reaches the store once a
//! writing build finds it; the token is in no object of the store and no blob of the image.

use std::path::{Path, PathBuf};

use integration_tests::prelude::*;
use integration_tests::services::CacheStore;

/// The figures one `go` command's cache program printed.
#[derive(Debug)]
struct Figures {
    lookups: u64,
    local: u64,
    shared: u64,
    missed: u64,
    stored: u64,
    /// Outputs fetched ahead from the index of what the last command of its name used.
    ahead: u64,
    line: String,
}

/// Every `goapp-cache: N lookups: …` line of a build's progress, one per `go build`.
fn figures(progress: &str) -> Vec<Figures> {
    let number_before = |line: &str, what: &str| -> u64 {
        let head = &line[..line.find(what).unwrap_or_else(|| panic!("no `{what}` in {line}"))];
        head.trim_end().rsplit([' ', '(']).next().unwrap().parse().unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    progress
        .lines()
        .filter_map(|l| l.split_once("goapp-cache: ").map(|(_, rest)| rest))
        .filter(|l| l.contains(" lookups: "))
        .map(|l| Figures {
            lookups: number_before(l, " lookups"),
            local: number_before(l, " on this builder"),
            shared: number_before(l, " from the shared cache"),
            missed: number_before(l, " missed"),
            stored: number_before(l, " stored in the shared cache"),
            ahead: number_before(l, " fetched ahead"),
            line: l.to_string(),
        })
        .collect()
}

fn prune() {
    ok(Path::new("/"), "docker", &["buildx", "prune", "-af"]);
}

/// A one-line change of the main package.
fn edit(dir: &Path, n: u32) {
    let main = dir.join("cmd/hello/main.go");
    let mut text = std::fs::read_to_string(&main).unwrap();
    text.push_str(&format!("\nvar _ = \"change {n}\"\n"));
    std::fs::write(&main, text).unwrap();
}

fn puts(store: &CacheStore) -> usize {
    store.requests().iter().filter(|(method, _, _)| method == "PUT").count()
}

/// A copy of examples/hello whose spec uses `store` (read-only when the build arg
/// CACHE_READ_ONLY says so), with `token` in a file: the copy, the file and the `--secret`
/// that passes it.
fn hello_with(store: &CacheStore, name: &str, token: &str) -> (PathBuf, PathBuf, String) {
    let spec_cache = format!("go:\n  shared_cache:\n    url: {}\n    token: gocache\n    read_only: ${{CACHE_READ_ONLY:-false}}\nruntime:", store.url);
    let dir = example_variant("hello", name, |spec| spec.replacen("runtime:", &spec_cache, 1));
    let token_file = dir.with_extension("token");
    std::fs::write(&token_file, token).unwrap();
    let secret = format!("id=gocache,src={}", token_file.display());
    (dir, token_file, secret)
}

#[test]
fn a_build_on_an_empty_engine_takes_what_did_not_change_from_the_shared_cache() {
    require_engine();
    let store = CacheStore::start();
    let (dir, token_file, secret) = hello_with(&store, "shared-cache", &store.token);
    let platforms = "linux/amd64,linux/arm64";

    // An empty engine and an empty store: everything is compiled and uploaded.
    prune();
    let progress = buildx_push(&dir, platforms, &unique_tag("shared-cache"), &["--secret", &secret]);
    let first = figures(&progress);
    assert_eq!(first.len(), 2, "one go build per platform:\n{progress}");
    for f in &first {
        // (A lookup may find what this command, or the other platform's, put a moment ago.)
        assert!(f.local + f.shared < f.missed, "{}", f.line);
        assert!(f.missed >= 20, "the standard library and the program are compiled: {}", f.line);
        assert!(f.stored >= f.missed / 2, "what was compiled is uploaded: {}", f.line);
        assert!(f.line.contains(" 0 errors "), "{}", f.line);
        assert!(f.lookups >= f.missed, "{}", f.line);
    }
    let uploads = puts(&store);
    assert!(uploads >= 40, "{:?}", store.requests());
    // Each go build's index: what it used.
    for platform in ["amd64", "arm64"] {
        let index = format!("/v1/i/hello/hello-linux-{platform}");
        assert!(store.requests().iter().any(|(m, path, s)| m == "PUT" && path.ends_with(&index) && *s < 300), "no index {index}: {:?}", store.requests());
    }
    assert!(store.requests().iter().all(|(_, _, status)| matches!(status, 200 | 201 | 204 | 404)), "{:?}", store.requests());

    // Another empty engine, one line changed: only the main package is compiled again.
    prune();
    edit(&dir, 1);
    let image = unique_tag("shared-cache");
    let progress = buildx_push(&dir, platforms, &image, &["--secret", &secret]);
    let second = figures(&progress);
    assert_eq!(second.len(), 2, "{progress}");
    for (f, before) in second.iter().zip(&first) {
        eprintln!("cold: {}\nafter prune: {}", before.line, f.line);
        assert!(f.missed <= 5 && f.missed * 20 <= before.missed, "only the changed package (its compile and link) is compiled: {}", f.line);
        assert!(f.shared + 2 >= before.missed && f.shared > f.local, "the rest comes from the store: {} (before: {})", f.line, before.line);
        // Most of it fetched ahead, as the index of the build before listed it.
        assert!(f.ahead * 2 >= f.shared, "{}", f.line);
    }
    // The binaries made of the store's objects run.
    for platform in ["linux/amd64", "linux/arm64"] {
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, &image, "-once"]);
        assert!(out.starts_with(&format!("hi from {platform} (go1.")), "{platform}: {out}");
    }

    // A pull request's build: read-only, on an empty engine; it reads the store and writes
    // nothing to it.
    prune();
    edit(&dir, 2);
    let before = puts(&store);
    let progress = buildx_push(&dir, platforms, &unique_tag("shared-cache"), &["--secret", &secret, "--build-arg", "CACHE_READ_ONLY=true"]);
    let third = figures(&progress);
    assert_eq!(third.len(), 2, "{progress}");
    for f in &third {
        assert!(f.line.contains("read-only"), "{}", f.line);
        assert_eq!(f.stored, 0, "{}", f.line);
        assert!(f.missed <= 5 && f.shared >= 100, "{}", f.line);
    }
    assert_eq!(puts(&store), before, "a read-only build uploaded: {:?}", store.requests());

    // The token is nowhere: not in the store's objects, not in the image.
    let objects = store.objects();
    assert!(objects.len() >= 40, "{objects:?}");
    for o in &objects {
        let bytes = std::fs::read(o).unwrap();
        assert!(!bytes.windows(store.token.len()).any(|w| w == store.token.as_bytes()), "the token is in {}", o.display());
    }
    assert_nowhere(&store.token, &image, None);
    let _ = std::fs::remove_file(&token_file);
}

#[test]
fn a_store_that_refuses_the_token_costs_a_compile_not_the_build() {
    require_engine();
    let store = CacheStore::start();
    let (dir, _, secret) = hello_with(&store, "shared-cache-refused", "not-the-token");
    // A change no build has seen: its package misses the engine's cache mount, and the
    // store is asked.
    edit(&dir, std::process::id());
    let r = buildx(&dir, "linux/amd64", &["--secret", &secret]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("goapp-cache: the store refused the request") && r.stderr.contains("401"), "{}", r.stderr);
    let f = figures(&r.stderr);
    assert_eq!(f.len(), 1, "{}", r.stderr);
    assert!(f[0].line.contains("turned off after errors"), "{}", f[0].line);
    assert_eq!(f[0].stored, 0, "{}", f[0].line);
    assert!(store.objects().is_empty(), "{:?}", store.objects());
    assert!(f[0].missed >= 1, "{}", f[0].line);
}

/// A linux/amd64 build of `dir` with `extra`: the figures of its one `go build`.
fn amd64_build(dir: &Path, extra: &[&str]) -> Figures {
    let r = buildx(dir, "linux/amd64", extra);
    assert!(r.status.success(), "{}", r.stderr);
    let mut f = figures(&r.stderr);
    assert_eq!(f.len(), 1, "{}", r.stderr);
    f.remove(0)
}

#[test]
fn what_a_builder_has_from_read_only_builds_reaches_a_new_store() {
    require_engine();
    let store = CacheStore::start();
    let (dir, token_file, secret) = hello_with(&store, "shared-cache-backfill", &store.token);

    // Read-only builds (a pull request's) fill this builder's own directory, not the store.
    edit(&dir, std::process::id());
    let f = amd64_build(&dir, &["--secret", &secret, "--build-arg", "CACHE_READ_ONLY=true"]);
    assert_eq!(f.stored, 0, "{}", f.line);
    assert_eq!(puts(&store), 0, "{:?}", store.requests());

    // A writing build on the same builder finds everything in its own directory, and
    // uploads what the store lacks.
    edit(&dir, 1);
    let f = amd64_build(&dir, &["--secret", &secret]);
    assert!(f.local >= 100 && f.missed <= 5, "{}", f.line);
    assert!(f.stored + 5 >= f.local, "what this builder had is uploaded: {}", f.line);
    assert!(f.line.contains(" 0 errors "), "{}", f.line);

    // So a new runner gets it.
    prune();
    edit(&dir, 2);
    let f = amd64_build(&dir, &["--secret", &secret]);
    assert!(f.shared >= 100 && f.missed <= 5, "{}", f.line);
    let _ = std::fs::remove_file(&token_file);
}
