//! End to end: the same inputs give the same image. examples/hello is built for linux/amd64
//! and linux/arm64 with the same `SOURCE_DATE_EPOCH` twice, without cache: on the machine's
//! engine, and on a second engine of the same version that has never built or pulled anything
//! ([`SecondEngine`]); both builds are pushed, and the registry must hold the same index.

use std::path::Path;

use integration_tests::prelude::*;
use integration_tests::services::SecondEngine;

const PLATFORMS: &str = "linux/amd64,linux/arm64";
const ARGS: [&str; 3] = ["--build-arg", "SOURCE_DATE_EPOCH=1700000000", "--no-cache"];

#[test]
fn a_clean_build_on_another_engine_pushes_the_same_index() {
    require_engine();
    let engine = SecondEngine::start();
    let contents = engine.contents();
    assert!(contents.is_empty(), "the second engine is not new: {contents}");
    let dir = repo_root().join("examples/hello");

    let on_main = unique_tag("reproducible");
    buildx_push(&dir, PLATFORMS, &on_main, &ARGS);
    let on_second = unique_tag("reproducible");
    engine.buildx_push(&dir, PLATFORMS, &on_second, &ARGS);

    let (main_digest, second_digest) = (manifest_digest(&on_main), manifest_digest(&on_second));
    eprintln!("the index built on the machine's engine: {on_main} {main_digest}");
    eprintln!("the index built on the second engine:    {on_second} {second_digest}");
    if main_digest != second_digest {
        let out = temp_dir("reproducible-diff");
        dump(&on_main, &out.join("main"));
        dump(&on_second, &out.join("second"));
        let diff = run(&out, "diff", &["-ru", "main", "second"]);
        panic!(
            "the two builds pushed different indexes: {main_digest} (machine's engine) and {second_digest} (second engine); \
             what differs (index, then each manifest of the index in order: manifest, config, layers as \
             `tar --full-time -tvzf` and as the sha256 of each file, attestations as JSON), kept in {}:\n{}",
            out.display(),
            diff.stdout
        );
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
