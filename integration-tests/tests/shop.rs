//! End to end: examples/shop, two binaries with a config file, a health check without a
//! shell, a workdir, a volume, a stop signal, a label and a version from a build arg.

use std::path::Path;
use std::time::{Duration, Instant};

use integration_tests::prelude::*;

#[test]
fn shop_builds_every_runtime_setting_into_the_image() {
    require_engine();
    let dir = repo_root().join("examples/shop");
    let image = unique_tag("shop");
    buildx_push(&dir, "linux/amd64,linux/arm64", &image, &["--build-arg", "VERSION=1.2.3", "--label", "org.example.from-cli=yes"]);

    let (repo, tag) = repo_and_tag(&image);
    let index = registry_json(&format!("{repo}/manifests/{tag}"));
    const DESCRIPTION: &str = "The example shop's API and worker";
    assert_eq!(index["annotations"]["org.opencontainers.image.description"], DESCRIPTION, "{index}");
    let images = index_images(&image);
    assert_eq!(images.len(), 2);
    for img in &images {
        assert_eq!(img.manifest["annotations"]["org.opencontainers.image.description"], DESCRIPTION, "{}", img.manifest);
        let cfg = &img.config["config"];
        assert_eq!(cfg["Entrypoint"], serde_json::json!(["/usr/local/bin/api"]));
        assert_eq!(cfg["Cmd"], serde_json::json!(["--listen", ":8080"]));
        assert_eq!(cfg["WorkingDir"], "/var/lib/shop");
        assert_eq!(cfg["User"], "65532:65532");
        assert_eq!(cfg["StopSignal"], "SIGINT");
        assert!(cfg["Volumes"]["/var/lib/shop"].is_object(), "{cfg}");
        assert_eq!(cfg["Labels"]["org.opencontainers.image.vendor"], "Example Shop");
        assert_eq!(cfg["Labels"]["org.opencontainers.image.title"], "shop");
        assert_eq!(cfg["Labels"]["org.example.from-cli"], "yes");
        assert_eq!(cfg["Healthcheck"]["Test"], serde_json::json!(["CMD", "/usr/local/bin/api", "--health"]));
        assert_eq!(cfg["Healthcheck"]["Interval"], 2_000_000_000i64);
        assert_eq!(cfg["Healthcheck"]["Retries"], 3);

        let files = image_files(&image, img);
        let find = |path: &str| files.iter().find(|l| l.split_whitespace().last() == Some(path)).cloned();
        for bin in ["usr/local/bin/api", "usr/local/bin/worker"] {
            let l = find(bin).unwrap_or_else(|| panic!("no {bin}"));
            assert!(l.starts_with("-rwxr-xr-x 0/0 "), "{l}");
        }
        let conf = find("etc/shop/shop.json").unwrap_or_else(|| panic!("no config in {files:#?}"));
        assert!(conf.starts_with("-rw-r----- 65532/65532 "), "{conf}");

        let version = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", &img.platform, &image, "--version"]);
        assert_eq!(version.trim(), format!("shop api 1.2.3 {}", img.platform));
        // The worker writes to its workdir, the image's volume, as the default user (65532):
        // here an anonymous volume, which the engine makes from the image's directory.
        let zones = ok(Path::new("/"), "docker", &["run", "--rm", "--platform", &img.platform, "--entrypoint", "/usr/local/bin/worker", &image]);
        assert!(zones.contains("Europe/Berlin 14:00 CEST") && zones.contains("Asia/Tokyo 21:00 JST"), "{zones}");
        assert!(zones.contains("run 1 recorded in /var/lib/shop/runs.log"), "{zones}");
        // The directory is the program's; the parents goapp made are root's.
        let dir = find("var/lib/shop/").unwrap_or_else(|| panic!("no /var/lib/shop in {files:#?}"));
        assert!(dir.starts_with("drwxr-xr-x 65532/65532 "), "{dir}");
        let parent = find("var/lib/").unwrap_or_else(|| panic!("no /var/lib in {files:#?}"));
        assert!(parent.starts_with("drwxr-xr-x 0/0 "), "{parent}");
        // A volume with its own mode.
        let cache = find("var/cache/shop/").unwrap_or_else(|| panic!("no /var/cache/shop in {files:#?}"));
        assert!(cache.starts_with("drwx------ 65532/65532 "), "{cache}");
        assert!(cfg["Volumes"]["/var/cache/shop"].is_object(), "{cfg}");
    }

    // A named volume keeps what the program wrote from one run to the next.
    let volume = format!("goapp-e2e-shop-{}", std::process::id());
    let mount = format!("{volume}:/var/lib/shop");
    let worker = || run(Path::new("/"), "docker", &["run", "--rm", "--platform", "linux/arm64", "-v", &mount, "--entrypoint", "/usr/local/bin/worker", &image]);
    let (first, second) = (worker(), worker());
    let _ = run(Path::new("/"), "docker", &["volume", "rm", "-f", &volume]);
    assert!(first.stdout.contains("run 1 recorded in /var/lib/shop/runs.log"), "{}{}", first.stdout, first.stderr);
    assert!(second.stdout.contains("run 2 recorded in /var/lib/shop/runs.log"), "{}{}", second.stdout, second.stderr);

    // The health check runs the api binary inside the container: the engine reports healthy.
    let cid = ok(Path::new("/"), "docker", &["run", "-d", "--platform", "linux/amd64", &image]).trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let s = ok(Path::new("/"), "docker", &["inspect", "-f", "{{.State.Health.Status}}", &cid]).trim().to_string();
        if s == "healthy" || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let page = run(Path::new("/"), "docker", &["exec", &cid, "/usr/local/bin/api", "--health"]);
    let logs = run(Path::new("/"), "docker", &["logs", &cid]);
    let _ = run(Path::new("/"), "docker", &["rm", "-f", &cid]);
    assert_eq!(status, "healthy", "logs:\n{}{}", logs.stdout, logs.stderr);
    assert!(page.stdout.contains("healthy"), "{}", page.stderr);
}

#[test]
fn targets_with_the_same_settings_build_in_one_go_build() {
    require_engine();
    let dir =
        example_variant("shop", "shop-grouped", |spec| spec.lines().filter(|l| !l.trim_start().starts_with("ldflags:")).map(|l| format!("{l}\n")).collect());
    let image = unique_tag("shop-grouped");
    let progress = buildx_push(&dir, "linux/arm64", &image, &[]);
    // The progress output names one step that builds both packages.
    assert!(progress.contains("[linux/arm64] go build ./cmd/api ./cmd/worker"), "{progress}");
    let version = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", "linux/arm64", &image, "--version"]);
    assert_eq!(version.trim(), "shop api unset linux/arm64");
    let zones = ok(Path::new("/"), "docker", &["run", "--rm", "--platform", "linux/arm64", "--entrypoint", "/usr/local/bin/worker", &image]);
    assert!(zones.contains("Asia/Tokyo 21:00 JST"), "{zones}");
}

#[test]
fn a_vendored_module_builds_without_downloading() {
    require_engine();
    let dir = repo_root().join("examples/vendored");
    let image = unique_tag("vendored");
    let progress = buildx_push(&dir, "linux/amd64,linux/arm64", &image, &[]);
    assert!(!progress.contains("go mod download"), "a vendored module ran a download step:\n{progress}");
    for platform in ["linux/amd64", "linux/arm64"] {
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, &image]);
        assert_eq!(out.trim(), format!("hello goapp from vendored greet on {platform}"));
    }
}

#[test]
fn a_files_source_in_the_wrong_case_fails_at_its_line() {
    require_engine();
    let dir = example_variant("shop", "shop-wrong-case", |spec| spec.replace("src: config/shop.json", "src: config/Shop.json"));
    let r = buildx(&dir, "linux/amd64", &[]);
    assert!(!r.status.success(), "the build passed");
    let line = std::fs::read_to_string(dir.join("goapp.yaml")).unwrap().lines().position(|l| l.contains("config/Shop.json")).unwrap() + 1;
    assert!(r.stderr.contains(&format!("goapp.yaml:{line}:")), "{}", r.stderr);
    assert!(r.stderr.contains("`config/Shop.json` is not in the build context"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `config/shop.json`? (paths are case-sensitive)"), "{}", r.stderr);
}
