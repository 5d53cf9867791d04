//! Helpers shared by the end-to-end tests: running commands, the local registry, images.
//!
//! The tests need the environment `scripts/test` sets up (Docker Engine with BuildKit, buildx,
//! QEMU, the local registry, the base images, the frontend image). They do not skip when it is
//! missing: they fail and say how to set it up.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const REGISTRY: &str = "localhost:5000";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Fails the test with a clear message when the engine is not there.
pub fn require_engine() {
    let ok = Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "no Docker Engine answers: run the end-to-end tests with scripts/test, which starts one");
    let reg = Command::new("curl").args(["-fsS", &format!("http://{REGISTRY}/v2/")]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(reg, "the local registry {REGISTRY} does not answer: run scripts/test, which starts it");
}

/// A tag unique to this test run, so runs never see each other's images.
pub fn unique_tag(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{REGISTRY}/e2e/{name}:{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(dir: &Path, program: &str, args: &[&str]) -> Run {
    let Output { status, stdout, stderr } = Command::new(program).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Run { status, stdout: String::from_utf8_lossy(&stdout).into_owned(), stderr: String::from_utf8_lossy(&stderr).into_owned() }
}

/// Runs a command that must succeed and returns its stdout.
pub fn ok(dir: &Path, program: &str, args: &[&str]) -> String {
    let r = run(dir, program, args);
    assert!(r.status.success(), "`{program} {}` failed ({}):\n{}\n{}", args.join(" "), r.status, r.stdout, r.stderr);
    r.stdout
}

/// A JSON document from the local registry (a manifest, an index or a config blob).
pub fn registry_json(path: &str) -> serde_json::Value {
    let url = format!("http://{REGISTRY}/v2/{path}");
    let accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
    let body = ok(Path::new("/"), "curl", &["-fsS", "-H", &format!("Accept: {accept}"), &url]);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url} is not JSON: {e}\n{body}"))
}

/// One platform's image in a pushed index.
pub struct PlatformImage {
    pub platform: String,
    pub manifest: serde_json::Value,
    pub config: serde_json::Value,
}

/// The platform images of a pushed multi-platform index (attestation manifests left out).
pub fn index_images(reference: &str) -> Vec<PlatformImage> {
    let (repo, tag) = reference.strip_prefix(&format!("{REGISTRY}/")).expect("local image").rsplit_once(':').expect("tag");
    let index = registry_json(&format!("{repo}/manifests/{tag}"));
    let manifests = index["manifests"].as_array().unwrap_or_else(|| panic!("{reference} is not an index: {index}"));
    manifests
        .iter()
        .filter(|m| m["platform"]["os"] != "unknown")
        .map(|m| {
            let p = &m["platform"];
            let mut platform = format!("{}/{}", p["os"].as_str().unwrap(), p["architecture"].as_str().unwrap());
            if let Some(v) = p["variant"].as_str() {
                platform = format!("{platform}/{v}");
            }
            let manifest = registry_json(&format!("{repo}/manifests/{}", m["digest"].as_str().unwrap()));
            let config = registry_json(&format!("{repo}/blobs/{}", manifest["config"]["digest"].as_str().unwrap()));
            PlatformImage { platform, manifest, config }
        })
        .collect()
}

/// `tar tv` lines of a platform's image filesystem, read from its layers in the registry.
pub fn image_files(reference: &str, img: &PlatformImage) -> Vec<String> {
    let repo = reference.strip_prefix(&format!("{REGISTRY}/")).unwrap().rsplit_once(':').unwrap().0;
    let mut files = Vec::new();
    for layer in img.manifest["layers"].as_array().expect("layers") {
        let url = format!("http://{REGISTRY}/v2/{repo}/blobs/{}", layer["digest"].as_str().unwrap());
        let listing = ok(Path::new("/"), "sh", &["-c", &format!("curl -fsS '{url}' | tar tzvf - --numeric-owner")]);
        files.extend(listing.lines().map(str::to_string));
    }
    files
}

/// Turns QEMU emulation of one architecture off until dropped, so that any step that would
/// run under emulation fails instead.
pub struct EmulationOff {
    entry: PathBuf,
}

impl EmulationOff {
    pub fn new(qemu_name: &str) -> Self {
        let entry = PathBuf::from(format!("/proc/sys/fs/binfmt_misc/{qemu_name}"));
        let state = std::fs::read_to_string(&entry).unwrap_or_else(|e| panic!("{} is not registered ({e}): run scripts/test", entry.display()));
        assert!(state.starts_with("enabled"), "{} is not enabled", entry.display());
        std::fs::write(&entry, "0").expect("disable binfmt entry");
        EmulationOff { entry }
    }
}

impl Drop for EmulationOff {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.entry, "1");
    }
}

/// Copies a directory tree (an example) somewhere the test may change it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("goapp-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A copy of `examples/<example>` whose spec `edit` changes, for a variant of the example.
pub fn example_variant(example: &str, name: &str, edit: impl FnOnce(&str) -> String) -> PathBuf {
    let dir = temp_dir(name);
    copy_dir(&repo_root().join("examples").join(example), &dir);
    let spec = std::fs::read_to_string(dir.join("goapp.yaml")).unwrap();
    let edited = edit(&spec);
    assert_ne!(spec, edited, "the edit left the spec of {example} unchanged");
    std::fs::write(dir.join("goapp.yaml"), edited).unwrap();
    dir
}

/// `docker buildx build` of `dir/goapp.yaml` for `platforms` through the local registry
/// mirror, with `extra` arguments; returns the build's progress output (stderr).
pub fn buildx(dir: &Path, platforms: &str, extra: &[&str]) -> Run {
    let mut args =
        vec!["buildx", "build", "--progress=plain", "--platform", platforms, "--build-arg", "GOAPP_REGISTRY_MIRROR=localhost:5000", "-f", "goapp.yaml"];
    args.extend_from_slice(extra);
    args.push(".");
    run(dir, "docker", &args)
}

/// [`buildx`] that must succeed, pushing to `image`.
pub fn buildx_push(dir: &Path, platforms: &str, image: &str, extra: &[&str]) -> String {
    let mut args = extra.to_vec();
    args.extend(["-t", image, "--push"]);
    let mut r = buildx(dir, platforms, &args);
    if !r.status.success() && r.stderr.contains("unexpected status from HEAD request") && r.stderr.contains("500 Internal Server Error") {
        // Debian's docker-registry 2.8 now and then answers 500 to the engine's check of a
        // tag it is writing; the build itself succeeded and is cached, so push again.
        eprintln!("the registry failed a push with a 500; pushing again:\n{}", r.stderr);
        r = buildx(dir, platforms, &args);
    }
    assert!(r.status.success(), "the build of {} failed:\n{}", dir.display(), r.stderr);
    r.stderr
}

/// `GET path` from the server of container `cid` on its published `port`, retried until the
/// server answers 200 (30 s at most); returns the whole response, headers included.
pub fn http_get(cid: &str, port: u16, path: &str) -> String {
    let published = ok(Path::new("/"), "docker", &["port", cid, &format!("{port}/tcp")]);
    let addr = published.lines().next().expect("a published port").trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = TcpStream::connect(&addr).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        });
        match attempt {
            Ok(body) if body.starts_with("HTTP/1.0 200") => return body,
            _ if Instant::now() > deadline => {
                let logs = run(Path::new("/"), "docker", &["logs", cid]);
                panic!("the server in {cid} did not answer GET {path} on {addr}: {attempt:?}\n{}{}", logs.stdout, logs.stderr);
            }
            _ => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

/// Where `integration-tests/env/up.sh` keeps its state: the servers' files and what it tells
/// the tests.
pub fn state_dir() -> PathBuf {
    PathBuf::from(std::env::var("GOAPP_STATE").unwrap_or_else(|_| "/var/lib/goapp-e2e".into()))
}

/// A file `integration-tests/env/up.sh` wrote for the tests.
pub fn state_file(name: &str) -> String {
    let file = state_dir().join(name);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}: run scripts/test (or integration-tests/env/up.sh)", file.display()))
}

/// The URL of the module proxy `integration-tests/env/up.sh` serves (made from Debian's Go
/// source packages), for `--build-arg GOPROXY=...`.
pub fn goproxy_url() -> String {
    state_file("goproxy.url").trim().to_string()
}

/// The private module and its server's credentials (`private-git.json`).
pub struct PrivateGit {
    pub module: String,
    pub host: String,
    pub version: String,
    pub go_sum: String,
    pub user: String,
    pub password: String,
    pub token: String,
}

pub fn private_git() -> PrivateGit {
    let v: serde_json::Value = serde_json::from_str(&state_file("private-git.json")).expect("private-git.json is JSON");
    let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k} in private-git.json")).to_string();
    let module = s("module");
    PrivateGit {
        host: module.split('/').next().unwrap().to_string(),
        module,
        version: s("version"),
        go_sum: s("go_sum"),
        user: s("user"),
        password: s("password"),
        token: s("token"),
    }
}

/// A program that prints what the private module says, in a new directory `name`, with the
/// spec `spec`.
pub fn greeter(name: &str, p: &PrivateGit, spec: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("go.mod"), format!("module example.com/greeter\n\ngo 1.26\n\nrequire {} {}\n", p.module, p.version)).unwrap();
    std::fs::write(dir.join("go.sum"), &p.go_sum).unwrap();
    std::fs::write(
        dir.join("main.go"),
        format!("package main\n\nimport (\n\t\"fmt\"\n\n\tgreet \"{}\"\n)\n\nfunc main() {{\n\tfmt.Println(greet.Hello(\"goapp\"))\n}}\n", p.module),
    )
    .unwrap();
    std::fs::write(dir.join("goapp.yaml"), spec).unwrap();
    dir
}

/// The platforms of a pushed index, sorted (attestation manifests left out).
pub fn index_platforms(reference: &str) -> Vec<String> {
    let mut platforms: Vec<String> = index_images(reference).into_iter().map(|i| i.platform).collect();
    platforms.sort();
    platforms
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

/// Every blob of the pushed image (its layers, configs and manifests) and every file of the
/// exported cache, if any, searched for `needle`.
pub fn assert_nowhere(needle: &str, image: &str, cache: Option<&Path>) {
    assert!(needle.len() >= 16, "a needle that cannot match by chance");
    let (repo, _) = image.strip_prefix(&format!("{REGISTRY}/")).unwrap().rsplit_once(':').unwrap();
    for img in index_images(image) {
        let mut blobs: Vec<String> = img.manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect();
        blobs.push(img.manifest["config"]["digest"].as_str().unwrap().to_string());
        for digest in blobs {
            let url = format!("http://{REGISTRY}/v2/{repo}/blobs/{digest}");
            // Layers are gzipped: search their contents.
            let found = run(Path::new("/"), "sh", &["-c", &format!("curl -fsS '{url}' | (gzip -dc 2>/dev/null || true) | grep -c -F -- '{needle}'")]);
            assert_eq!(found.stdout.trim(), "0", "{needle:?} is in {digest} of {}", img.platform);
        }
    }
    let Some(cache) = cache else { return };
    let mut files = 0;
    for entry in walk(cache) {
        files += 1;
        let bytes = std::fs::read(&entry).unwrap();
        let plain = if bytes.starts_with(&[0x1f, 0x8b]) {
            let out = std::process::Command::new("gzip").arg("-dc").arg(&entry).output().unwrap();
            out.stdout
        } else {
            bytes
        };
        assert!(!plain.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle:?} is in the exported cache: {}", entry.display());
    }
    assert!(files > 3, "the exported cache has layers: {}", cache.display());
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
