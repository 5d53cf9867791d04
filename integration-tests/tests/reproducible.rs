//! End to end: the same commit gives the same image. examples/hello, published to the tests'
//! git server, is built from that git context for linux/amd64 and linux/arm64 without cache on
//! the machine's engine and on a second engine of the same version that has never built or
//! pulled anything ([`SecondEngine`]), with a SOURCE_DATE_EPOCH and without one (the commit's
//! time is then the default); the registry must hold the same index for each pair.

use std::path::Path;

use integration_tests::prelude::*;
use integration_tests::services::{PrivateGit, SecondEngine};

const PLATFORMS: &str = "linux/amd64,linux/arm64";

#[test]
fn two_clean_builds_of_one_commit_on_two_engines_push_the_same_index() {
    require_engine();
    let git = PrivateGit::start();
    let url = git.publish(&repo_root().join("examples/hello"), "reproducible");
    let context = format!("{url}#main");
    let token = temp_dir("reproducible-token").join("token");
    std::fs::write(&token, &git.token).unwrap();
    let secret = format!("id=GIT_AUTH_TOKEN,src={}", token.display());
    let commit_time =
        ok(&git.root().join(url.rsplit_once("/e2e/").map(|(_, r)| format!("e2e/{r}")).unwrap()), "git", &["log", "-1", "--format=%ct"]).trim().to_string();

    let engine = SecondEngine::start();
    let contents = engine.contents();
    assert!(contents.is_empty(), "the second engine is not new: {contents}");
    let mirror = format!("GOAPP_REGISTRY_MIRROR={REGISTRY}");
    // Provenance records when and under which tag each build ran: left out, the index is
    // the images alone.
    let build = |on_second: bool, tag: &str, epoch: Option<&str>| {
        let epoch_arg = epoch.map(|e| format!("SOURCE_DATE_EPOCH={e}"));
        let mut args = vec!["buildx", "build", "--progress=plain", "--no-cache", "--provenance=false", "--platform", PLATFORMS];
        args.extend(["--build-arg", &mirror, "--secret", &secret, "-f", "goapp.yaml", "-t", tag, "--push"]);
        if let Some(e) = &epoch_arg {
            args.extend(["--build-arg", e.as_str()]);
        }
        args.push(&context);
        let r = if on_second { pushed(|| engine.docker(Path::new("/"), &args)) } else { docker_push(Path::new("/"), &args) };
        assert!(r.status.success(), "the build on the {} engine failed:\n{}", if on_second { "second" } else { "machine's" }, r.stderr);
    };
    for epoch in [Some("1700000000"), None] {
        let on_main = unique_tag("reproducible");
        build(false, &on_main, epoch);
        let on_second = unique_tag("reproducible");
        build(true, &on_second, epoch);
        let (main_digest, second_digest) = (manifest_digest(&on_main), manifest_digest(&on_second));
        eprintln!("SOURCE_DATE_EPOCH {epoch:?}: {on_main} {main_digest} (machine's engine), {on_second} {second_digest} (second engine)");
        if main_digest != second_digest {
            let out = temp_dir("reproducible-diff");
            dump(&on_main, &out.join("main"));
            dump(&on_second, &out.join("second"));
            let diff = run(&out, "diff", &["-ru", "main", "second"]);
            panic!(
                "with SOURCE_DATE_EPOCH {epoch:?}, the two builds pushed different indexes: {main_digest} (machine's engine) and {second_digest} (second engine); \
                 what differs (index, then each manifest of the index in order: manifest, config, layers as \
                 `tar --full-time -tvzf` and as the sha256 of each file), kept in {}:\n{}",
                out.display(),
                diff.stdout
            );
        }
        // Dated by the epoch given, else by the commit; every file of every layer too.
        let when = epoch.map(str::to_string).unwrap_or(commit_time.clone());
        let created = ok(Path::new("/"), "date", &["-u", "-d", &format!("@{when}"), "+%Y-%m-%dT%H:%M:%SZ"]).trim().to_string();
        for img in index_images(&on_main) {
            assert_eq!(img.config["created"], created.as_str(), "{}: created", img.platform);
            let (repo, _) = repo_and_tag(&on_main);
            let listed = ok(Path::new("/"), "date", &["-u", "-d", &format!("@{when}"), "+%Y-%m-%d %H:%M:%S"]).trim().to_string();
            for layer in img.manifest["layers"].as_array().unwrap() {
                for line in layer_listing(repo, layer["digest"].as_str().unwrap()) {
                    assert!(line.contains(&listed), "{}: a file not dated {listed}: {line}", img.platform);
                }
            }
        }
    }
}

/// Writes what `reference` is made of under `out`, in files named by position (not by digest),
/// so that `diff -r` of two images shows where they part: `index.json`, and for the index's
/// `i`-th manifest a directory `i-<os>-<arch>` with `manifest.json`, `config.json` and, for
/// each layer `j`, `layer-j.list` and `layer-j.sha256` (a tar) or `layer-j.json` (an
/// attestation).
fn dump(reference: &str, out: &Path) {
    let (repo, tag) = repo_and_tag(reference);
    std::fs::create_dir_all(out).unwrap();
    let index = registry_json(&format!("{repo}/manifests/{tag}"));
    write_json(&out.join("index.json"), &index);
    let manifests = index["manifests"].as_array().unwrap_or_else(|| panic!("{reference} is not an index: {index}"));
    for (i, m) in manifests.iter().enumerate() {
        let p = &m["platform"];
        let mut name = format!("{i}-{}-{}", p["os"].as_str().unwrap_or("none"), p["architecture"].as_str().unwrap_or("none"));
        if let Some(v) = p["variant"].as_str() {
            name = format!("{name}-{v}");
        }
        let d = out.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let manifest = registry_json(&format!("{repo}/manifests/{}", m["digest"].as_str().unwrap()));
        write_json(&d.join("manifest.json"), &manifest);
        let config = registry_json(&format!("{repo}/blobs/{}", manifest["config"]["digest"].as_str().unwrap()));
        write_json(&d.join("config.json"), &config);
        for (j, layer) in manifest["layers"].as_array().expect("layers").iter().enumerate() {
            let digest = layer["digest"].as_str().unwrap();
            let media_type = layer["mediaType"].as_str().unwrap_or("");
            if media_type.contains("tar") {
                std::fs::write(d.join(format!("layer-{j}.list")), layer_listing(repo, digest).join("\n") + "\n").unwrap();
                std::fs::write(d.join(format!("layer-{j}.sha256")), file_digests(repo, digest)).unwrap();
            } else {
                write_json(&d.join(format!("layer-{j}.json")), &registry_json(&format!("{repo}/blobs/{digest}")));
            }
        }
    }
}

fn write_json(file: &Path, value: &serde_json::Value) {
    std::fs::write(file, serde_json::to_string_pretty(value).unwrap() + "\n").unwrap();
}

/// The sha256 of each regular file of a layer (a gzipped tar), a line each, in the tar's order.
fn file_digests(repo: &str, digest: &str) -> String {
    let url = format!("http://{REGISTRY}/v2/{repo}/blobs/{digest}");
    let script = format!(r#"curl -fsS '{url}' | tar -xzf - --to-command='echo "$(sha256sum | cut -c1-64) $TAR_FILENAME"'"#);
    ok(Path::new("/"), "sh", &["-c", &script])
}
