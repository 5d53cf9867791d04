//! The local registry: unique tags, and what a pushed image holds, read over its HTTP API.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::fs::walk;
use crate::run::{ok, run};

/// The local registry that `up.sh` starts.
pub const REGISTRY: &str = "localhost:5000";

/// A tag unique to this test run, so runs never see each other's images.
pub fn unique_tag(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{REGISTRY}/e2e/{name}:{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// The repository and tag of a reference in the local registry.
pub fn repo_and_tag(reference: &str) -> (&str, &str) {
    reference
        .strip_prefix(&format!("{REGISTRY}/"))
        .unwrap_or_else(|| panic!("{reference} is not in {REGISTRY}"))
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{reference} has no tag"))
}

/// A JSON document from the local registry (a manifest, an index or a config blob).
pub fn registry_json(path: &str) -> serde_json::Value {
    let url = format!("http://{REGISTRY}/v2/{path}");
    let accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
    let body = ok(Path::new("/"), "curl", &["-fsS", "-H", &format!("Accept: {accept}"), &url]);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url} is not JSON: {e}\n{body}"))
}

/// The digest of what `reference` names in the local registry (an index or a manifest), as
/// the registry reports it (`Docker-Content-Digest`).
pub fn manifest_digest(reference: &str) -> String {
    let (repo, tag) = repo_and_tag(reference);
    let url = format!("http://{REGISTRY}/v2/{repo}/manifests/{tag}");
    let accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
    let headers = ok(Path::new("/"), "curl", &["-fsSI", "-H", &format!("Accept: {accept}"), &url]);
    headers
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("docker-content-digest").then(|| value.trim().to_string())
        })
        .unwrap_or_else(|| panic!("{url}: no Docker-Content-Digest in\n{headers}"))
}

/// `tar tv --full-time --numeric-owner` lines of a layer (a gzipped tar) of `repo` in the
/// local registry.
pub fn layer_listing(repo: &str, digest: &str) -> Vec<String> {
    let url = format!("http://{REGISTRY}/v2/{repo}/blobs/{digest}");
    let listing = ok(Path::new("/"), "sh", &["-c", &format!("curl -fsS '{url}' | tar --full-time --numeric-owner -tvzf -")]);
    listing.lines().map(str::to_string).collect()
}

/// A blob of `repo` in the local registry, as bytes.
pub fn blob(repo: &str, digest: &str) -> Vec<u8> {
    let url = format!("http://{REGISTRY}/v2/{repo}/blobs/{digest}");
    let out = std::process::Command::new("curl").args(["-fsS", &url]).output().unwrap_or_else(|e| panic!("curl {url}: {e}"));
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// One entry of a layer: its path as the tar names it (no trailing `/`), its PAX records,
/// and a file's bytes.
pub struct LayerEntry {
    pub path: String,
    pub directory: bool,
    /// A hard or symbolic link: where it points.
    pub link: Option<String>,
    pub pax: std::collections::BTreeMap<String, String>,
    pub data: Vec<u8>,
}

/// The entries of a layer (a gzipped tar) of `repo` in the local registry, in order.
pub fn layer_entries(repo: &str, digest: &str) -> Vec<LayerEntry> {
    use std::io::Read as _;
    let gz = blob(repo, digest);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&gz[..]));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap_or_else(|e| panic!("{repo}@{digest}: {e}")) {
        let mut entry = entry.unwrap_or_else(|e| panic!("{repo}@{digest}: {e}"));
        let mut pax = std::collections::BTreeMap::new();
        if let Some(records) = entry.pax_extensions().unwrap_or_else(|e| panic!("{repo}@{digest}: {e}")) {
            for r in records {
                let r = r.unwrap_or_else(|e| panic!("{repo}@{digest}: a PAX record: {e}"));
                pax.insert(r.key().unwrap_or_default().to_string(), r.value().unwrap_or_default().to_string());
            }
        }
        let path = entry.path().unwrap_or_else(|e| panic!("{repo}@{digest}: {e}")).to_string_lossy().trim_end_matches('/').to_string();
        let directory = entry.header().entry_type().is_dir();
        let link = entry.link_name().unwrap_or_else(|e| panic!("{repo}@{digest}: {e}")).map(|l| l.to_string_lossy().into_owned());
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap_or_else(|e| panic!("{repo}@{digest}: {path}: {e}"));
        out.push(LayerEntry { path, directory, link, pax, data });
    }
    out
}

/// One platform's image in a pushed index.
pub struct PlatformImage {
    pub platform: String,
    /// The digest of its manifest.
    pub digest: String,
    pub manifest: serde_json::Value,
    pub config: serde_json::Value,
    /// Its `platform` in the index (with a Windows image's `os.version`); null for a plain
    /// manifest.
    pub index_platform: serde_json::Value,
}

/// The platform images of a pushed multi-platform index (attestation manifests left out).
pub fn index_images(reference: &str) -> Vec<PlatformImage> {
    let (repo, tag) = repo_and_tag(reference);
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
            let digest = m["digest"].as_str().unwrap().to_string();
            let manifest = registry_json(&format!("{repo}/manifests/{digest}"));
            let config = registry_json(&format!("{repo}/blobs/{}", manifest["config"]["digest"].as_str().unwrap()));
            PlatformImage { platform, digest, manifest, config, index_platform: p.clone() }
        })
        .collect()
}

/// The image a push of one platform made: a plain manifest (whose `platform` is read from
/// its config, and whose `digest` is left empty), or an index of that one image.
pub fn single_image(reference: &str) -> PlatformImage {
    let (repo, tag) = repo_and_tag(reference);
    let manifest = registry_json(&format!("{repo}/manifests/{tag}"));
    if manifest["manifests"].is_array() {
        let mut images = index_images(reference);
        assert_eq!(images.len(), 1, "{reference} is an index of {} images", images.len());
        return images.remove(0);
    }
    let config = registry_json(&format!("{repo}/blobs/{}", manifest["config"]["digest"].as_str().unwrap()));
    let platform = format!("{}/{}", config["os"].as_str().unwrap_or(""), config["architecture"].as_str().unwrap_or(""));
    PlatformImage { platform, digest: String::new(), manifest, config, index_platform: serde_json::Value::Null }
}

/// The platforms of a pushed index, sorted (attestation manifests left out).
pub fn index_platforms(reference: &str) -> Vec<String> {
    let mut platforms: Vec<String> = index_images(reference).into_iter().map(|i| i.platform).collect();
    platforms.sort();
    platforms
}

/// `tar tv` lines of a platform's image filesystem, read from its layers in the registry.
pub fn image_files(reference: &str, img: &PlatformImage) -> Vec<String> {
    let (repo, _) = repo_and_tag(reference);
    let mut files = Vec::new();
    for layer in img.manifest["layers"].as_array().expect("layers") {
        let url = format!("http://{REGISTRY}/v2/{repo}/blobs/{}", layer["digest"].as_str().unwrap());
        let listing = ok(Path::new("/"), "sh", &["-c", &format!("curl -fsS '{url}' | tar tzvf - --numeric-owner")]);
        files.extend(listing.lines().map(str::to_string));
    }
    files
}

/// What `runtime.Version()` says in a binary built by the stand-in of `golang:<minor>`
/// (`go1.27.3`): the `GOLANG_VERSION` of its config, which base-images.sh checked against what
/// its go command reports.
pub fn go_release(minor: &str) -> String {
    let reference = format!("{REGISTRY}/library/golang:{minor}");
    let images = index_images(&reference);
    let img = images.iter().find(|i| i.platform == "linux/amd64").unwrap_or_else(|| panic!("{reference} has no linux/amd64 image: run scripts/test"));
    let env = img.config["config"]["Env"].as_array().unwrap_or_else(|| panic!("{reference} has no Env: {}", img.config));
    let version = env.iter().filter_map(|v| v.as_str()?.strip_prefix("GOLANG_VERSION=")).next();
    format!("go{}", version.unwrap_or_else(|| panic!("{reference} does not say its GOLANG_VERSION: {env:?}")))
}

/// Every blob of the pushed image (its layers, configs and manifests) and every file of the
/// exported cache, if any, searched for `needle`.
pub fn assert_nowhere(needle: &str, image: &str, cache: Option<&Path>) {
    assert!(needle.len() >= 16, "a needle that cannot match by chance");
    let (repo, _) = repo_and_tag(image);
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
