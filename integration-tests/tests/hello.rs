//! End to end: examples/hello built by `docker buildx build` through its `# syntax=` line for
//! linux/amd64 and linux/arm64, pushed to the local registry, then inspected and run.

use std::path::Path;

use integration_tests::prelude::*;

#[test]
fn hello_builds_for_two_platforms_natively_and_runs_on_each() {
    require_engine();
    let dir = repo_root().join("examples/hello");
    let image = unique_tag("hello");

    // With arm64 emulation off, any step run on linux/arm64 would fail: the build passing
    // shows that every exec ran on the build platform. --no-cache makes the compile really run.
    {
        let _off = EmulationOff::new("qemu-aarch64");
        let progress = buildx_push(&dir, "linux/amd64,linux/arm64", &image, &["--no-cache"]);
        // hello requires no module (no go.sum): there is nothing to download.
        assert!(!progress.contains("go mod download"), "{progress}");
    }

    let images = index_images(&image);
    let mut platforms: Vec<&str> = images.iter().map(|i| i.platform.as_str()).collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "one index with both platforms");

    for img in &images {
        let arch = img.platform.rsplit('/').next().unwrap();
        let c = &img.config;
        assert_eq!(c["architecture"], arch, "{}: config architecture", img.platform);
        assert_eq!(c["os"], "linux");
        let cfg = &c["config"];
        assert_eq!(cfg["User"], "65532:65532");
        assert!(cfg["ExposedPorts"]["8080/tcp"].is_object(), "{}: exposed port: {cfg}", img.platform);
        let env: Vec<&str> = cfg["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(env.contains(&"GREETING=hi"), "{env:?}");
        assert!(env.contains(&"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"), "{env:?}");
        assert!(env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
        assert_eq!(cfg["Entrypoint"], serde_json::json!(["/usr/local/bin/hello"]));
        assert_eq!(cfg["Cmd"], serde_json::json!(["--listen", ":8080"]));

        let files = image_files(&image, img);
        let find = |path: &str| files.iter().find(|l| l.split_whitespace().last() == Some(path)).cloned();
        let bin = find("usr/local/bin/hello").unwrap_or_else(|| panic!("no binary in {files:#?}"));
        assert!(bin.starts_with("-rwxr-xr-x 0/0 "), "binary mode and owner: {bin}");
        let tmp = find("tmp/").unwrap_or_else(|| panic!("no /tmp in {files:#?}"));
        assert!(tmp.starts_with("drwxrwxrwt 0/0 "), "/tmp mode: {tmp}");
        for shell in ["bin/sh", "bin/bash", "usr/bin/sh", "bin/busybox"] {
            assert!(find(shell).is_none(), "the image has a shell at /{shell}");
        }
        assert!(find("etc/ssl/certs/ca-certificates.crt").is_some(), "CA bundle");
        assert!(files.iter().any(|l| l.contains("usr/share/zoneinfo/Europe/Berlin")), "zoneinfo");
        let passwd = find("etc/passwd").expect("passwd");
        assert!(passwd.starts_with("-rw-r--r-- 0/0 "), "{passwd}");

        // It runs on its platform (arm64 under QEMU) and reports that platform.
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", &img.platform, &image, "--once"]);
        assert!(out.contains(&format!("hi from {}", img.platform)), "{}: {out}", img.platform);

        // The HTTP server answers.
        let cid = ok(Path::new("/"), "docker", &["run", "-d", "--platform", &img.platform, "-p", "127.0.0.1::8080", &image]).trim().to_string();
        let body = http_get(&cid, 8080, "/");
        let _ = run(Path::new("/"), "docker", &["rm", "-f", &cid]);
        assert!(body.contains(&format!("hi from {}", img.platform)), "{}: {body}", img.platform);
    }
}

#[test]
fn a_typo_in_the_spec_fails_the_build_at_its_line_and_column() {
    require_engine();
    let dir = example_variant("hello", "typo", |spec| spec.replace("main: ./cmd/hello", "mian: ./cmd/hello"));
    let spec = std::fs::read_to_string(repo_root().join("examples/hello/goapp.yaml")).unwrap();
    let line = spec.lines().position(|l| l.starts_with("main:")).unwrap() + 1;

    let r = buildx(&dir, "linux/amd64", &[]);
    assert!(!r.status.success(), "a spec with a typo built");
    let expected = format!("goapp.yaml:{line}:1: unknown key `mian` in the spec");
    assert!(r.stderr.contains(&expected), "no `{expected}` in:\n{}", r.stderr);
    assert!(r.stderr.contains("did you mean `main`?"), "{}", r.stderr);
    // buildx prints the offending line from the source-location detail.
    assert!(r.stderr.contains(&format!("{line} | >>> mian: ./cmd/hello")), "no snippet in:\n{}", r.stderr);
}

#[test]
fn the_scratch_base_holds_the_binary_only_and_runs() {
    require_engine();
    let dir = example_variant("hello", "scratch", |spec| spec.replace("base: static", "base: scratch"));
    let image = unique_tag("hello-scratch");
    buildx_push(&dir, "linux/arm64", &image, &[]);

    // One platform without --platform-list gives a plain manifest (or an index with one image).
    let img = single_image(&image);
    assert_eq!(img.config["architecture"], "arm64");
    let env = img.config["config"]["Env"].to_string();
    assert!(!env.contains("SSL_CERT_FILE"), "no CA bundle, so no SSL_CERT_FILE: {env}");
    let files: Vec<String> = image_files(&image, &img).into_iter().filter(|l| !l.starts_with('d')).collect();
    assert_eq!(files.len(), 1, "{files:#?}");
    assert!(files[0].ends_with(" usr/local/bin/hello") && files[0].starts_with("-rwxr-xr-x 0/0 "), "{}", files[0]);
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", "linux/arm64", &image, "--once"]);
    assert!(out.contains("hi from linux/arm64"), "{out}");
}
