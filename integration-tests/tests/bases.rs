//! End to end: examples/hello on every pulled runtime base, for linux/amd64 and linux/arm64.
//! The bases are stand-ins built from Debian packages (integration-tests/env/base-images.sh)
//! and reached through the registry mirror, under the names the spec's bases stand for.

use std::path::Path;

use integration_tests::prelude::*;

/// Builds hello on `base` for both platforms and checks each image: it runs and serves on its
/// platform (arm64 under QEMU), runs as nonroot, inherits the base, and has the CA bundle and zoneinfo whether
/// or not the base had them. Returns the image and its platform images.
fn hello_on(base: &str, base_name: &str, shell: bool) -> (String, Vec<PlatformImage>) {
    require_engine();
    let label = base.replace(['/', ':', '.'], "-");
    let dir = example_variant("hello", &format!("base-{label}"), |spec| spec.replace("base: static", &format!("base: {base}")));
    let image = unique_tag(&format!("base-{label}"));
    let progress = buildx_push(&dir, "linux/amd64,linux/arm64", &image, &[]);
    let images = index_images(&image);
    assert_eq!(images.len(), 2, "{progress}");
    for img in &images {
        let cfg = &img.config["config"];
        assert_eq!(cfg["User"], "65532:65532", "{}", img.platform);
        assert_eq!(cfg["Entrypoint"], serde_json::json!(["/usr/local/bin/hello"]));
        let env: Vec<&str> = cfg["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).expect("PATH");
        assert!(path.split(':').any(|d| d == "/usr/local/bin"), "{path}");
        assert!(env.contains(&"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"), "{env:?}");
        let labels = &cfg["Labels"];
        assert_eq!(labels["org.opencontainers.image.base.name"], base_name, "{labels}");
        assert!(labels["org.opencontainers.image.base.digest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{labels}");
        assert_eq!(labels["org.opencontainers.image.title"], "hello");
        // The base's layers come first, then goapp's.
        let history = img.config["history"].as_array().unwrap();
        assert!(history.first().is_some_and(|h| h["comment"] != "goapp.v0"), "{history:?}");
        assert!(history.last().is_some_and(|h| h["created_by"].as_str().unwrap().starts_with("goapp: go build")), "{history:?}");

        let files = image_files(&image, img);
        // `tar tv` lines: the name is the last word, before ` -> target` for a link; base layers
        // made by `docker import` name entries `./etc/...`.
        let name =
            |l: &str| l.split(" -> ").next().unwrap_or(l).split_whitespace().last().unwrap_or("").trim_start_matches("./").trim_end_matches('/').to_string();
        let has = |path: &str| files.iter().any(|l| name(l) == path);
        assert!(has("etc/ssl/certs/ca-certificates.crt"), "CA bundle on {base} ({})", img.platform);
        assert!(has("usr/share/zoneinfo/Europe/Berlin"), "zoneinfo on {base} ({})", img.platform);
        assert_eq!(has("bin/sh") || has("usr/bin/sh"), shell, "a shell on {base}");

        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", &img.platform, &image, "--once"]);
        assert!(out.contains(&format!("hi from {}", img.platform)), "{}: {out}", img.platform);
    }
    for platform in ["linux/amd64", "linux/arm64"] {
        let cid = ok(Path::new("/"), "docker", &["run", "-d", "--platform", platform, "-p", "127.0.0.1::8080", &image]).trim().to_string();
        let body = http_get(&cid, 8080, "/");
        let _ = run(Path::new("/"), "docker", &["rm", "-f", &cid]);
        assert!(body.contains(&format!("hi from {platform}")), "{body}");
    }
    (image, images)
}

#[test]
fn distroless_static() {
    let (_, images) = hello_on("distroless", "gcr.io/distroless/static-debian12:nonroot", false);
    // Inherited: distroless's working directory.
    assert_eq!(images[0].config["config"]["WorkingDir"], "/home/nonroot");
}

#[test]
fn distroless_base_and_cc() {
    hello_on("distroless/base", "gcr.io/distroless/base-debian12:nonroot", false);
    hello_on("distroless/cc", "gcr.io/distroless/cc-debian12:nonroot", false);
}

#[test]
fn alpine_gets_zoneinfo_from_the_builder() {
    let (_, images) = hello_on("alpine", "docker.io/library/alpine:3.20", true);
    // The base's command is not the app's.
    assert_eq!(images[0].config["config"]["Cmd"], serde_json::json!(["--listen", ":8080"]));
}

#[test]
fn debian_gets_ca_certificates_from_the_builder() {
    // bookworm-slim has tzdata but no CA certificates.
    let (_, images) = hello_on("debian", "docker.io/library/debian:bookworm-slim", true);
    let history: Vec<&str> = images[0].config["history"].as_array().unwrap().iter().filter_map(|h| h["created_by"].as_str()).collect();
    assert!(history.contains(&"goapp: CA certificates from the builder"), "{history:?}");
}

#[test]
fn any_image_reference() {
    hello_on("gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12:nonroot", false);
}

#[test]
fn a_user_name_is_looked_up_in_the_base() {
    require_engine();
    let dir = example_variant("hello", "user-name", |spec| spec.replace("base: static", "base: alpine\n  user: nobody"));
    let image = unique_tag("user-name");
    buildx_push(&dir, "linux/arm64", &image, &[]);
    let id = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", "linux/arm64", "--entrypoint", "id", &image]);
    assert_eq!(id.trim(), "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)");

    let dir = example_variant("hello", "user-name-typo", |spec| spec.replace("base: static", "base: alpine\n  user: nobdy"));
    let r = buildx(&dir, "linux/arm64", &[]);
    assert!(!r.status.success());
    let line = std::fs::read_to_string(dir.join("goapp.yaml")).unwrap().lines().position(|l| l.contains("nobdy")).unwrap() + 1;
    assert!(r.stderr.contains(&format!("goapp.yaml:{line}:")), "{}", r.stderr);
    assert!(r.stderr.contains("the user `nobdy` is not in the /etc/passwd of docker.io/library/alpine:3.20"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `nobody`?"), "{}", r.stderr);
}

#[test]
fn oci_labels_come_from_the_spec_and_source_date_epoch() {
    require_engine();
    let dir =
        example_variant("hello", "oci-labels", |spec| spec.replace("name: hello\n", "name: hello\nversion: ${VERSION}\nsource: https://example.com/hello\n"));
    let image = unique_tag("oci-labels");
    buildx_push(&dir, "linux/amd64", &image, &["--build-arg", "VERSION=2.0.1", "--build-arg", "SOURCE_DATE_EPOCH=1700000000"]);
    let inspect = ok(Path::new("/"), "docker", &["buildx", "imagetools", "inspect", &image, "--format", "{{json .Image}}"]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let cfg = if v.get("config").is_some() { v } else { v["linux/amd64"].clone() };
    let labels = &cfg["config"]["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], "2.0.1", "{labels}");
    assert_eq!(labels["org.opencontainers.image.source"], "https://example.com/hello");
    assert_eq!(labels["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
    assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");
}

#[test]
fn target_builds_one_binary_as_the_entrypoint() {
    require_engine();
    // shop's health check runs the api binary: --target worker must refuse to leave it out.
    let shop = repo_root().join("examples/shop");
    let r = buildx(&shop, "linux/arm64", &["--target", "worker"]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("the health check runs /usr/local/bin/api, which this build leaves out of the image"), "{}", r.stderr);

    // Without the health check (the `healthcheck:` line and the indented lines under it).
    let dir = example_variant("shop", "shop-target", |spec| {
        let mut out = String::new();
        let mut skipping = false;
        for l in spec.lines() {
            skipping = if l == "  healthcheck:" { true } else { skipping && l.starts_with("    ") };
            if !skipping {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    });
    let image = unique_tag("shop-target");
    buildx_push(&dir, "linux/arm64", &image, &["--target", "worker"]);
    let images = index_images(&image);
    assert_eq!(images[0].config["config"]["Entrypoint"], serde_json::json!(["/usr/local/bin/worker"]));
    let files = image_files(&image, &images[0]);
    assert!(files.iter().any(|l| l.ends_with("usr/local/bin/worker")), "{files:#?}");
    assert!(!files.iter().any(|l| l.ends_with("usr/local/bin/api")), "{files:#?}");

    let r = buildx(&dir, "linux/arm64", &["--target", "wroker"]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("the spec has no target named `wroker`; did you mean `worker`?"), "{}", r.stderr);
}
