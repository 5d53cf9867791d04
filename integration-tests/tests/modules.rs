//! End to end: where modules come from and where they live: third-party modules through a
//! GOPROXY given as a build arg, a go.work workspace, and a module below the context root.

use std::path::Path;

use integration_tests::prelude::*;
use integration_tests::services::ModuleProxy;

#[test]
fn third_party_modules_come_from_the_goproxy_build_arg() {
    require_engine();
    let dir = repo_root().join("examples/inventory");
    let image = unique_tag("inventory");
    let modules = ModuleProxy::start();
    let proxy = format!("GOPROXY={}", modules.url);
    let progress = buildx_push(&dir, "linux/amd64,linux/arm64", &image, &["--build-arg", &proxy, "--build-arg", "VERSION=1.2.3"]);
    assert!(progress.contains("[builder] go mod download"), "{progress}");

    for platform in ["linux/amd64", "linux/arm64"] {
        // cobra's flags, yaml.v3 and x/text's number formatting, computed on the platform.
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, &image, "report", "--lang", "de"]);
        assert_eq!(out.trim(), format!("inventory 1.2.3 on {platform}: 66 units worth 1.649,80 EUR"));
    }

    // chi routes, uuid request IDs and Prometheus metrics, served from the image's default command.
    let cid = ok(Path::new("/"), "docker", &["run", "-d", "--platform", "linux/arm64", "-p", "127.0.0.1::8080", &image]).trim().to_string();
    let item = http_get(&cid, 8080, "/items/pot-01?lang=de");
    let metrics = http_get(&cid, 8080, "/metrics");
    let _ = run(Path::new("/"), "docker", &["rm", "-f", &cid]);
    assert!(item.contains(r#""price":"349,90 EUR""#), "{item}");
    let request_id = item.lines().find_map(|l| l.strip_prefix("X-Request-Id: ")).unwrap_or_else(|| panic!("no request id: {item}"));
    assert_eq!(request_id.trim().len(), 36, "a UUID: {request_id}");
    assert!(metrics.contains(r#"inventory_requests_total{code="200",route="/items/{sku}"} 1"#), "{metrics}");
    assert!(metrics.contains("process_resident_memory_bytes"), "procfs metrics: {metrics}");
}

#[test]
fn a_go_work_workspace_builds() {
    require_engine();
    let dir = repo_root().join("examples/workspace");
    let image = unique_tag("workspace");
    buildx_push(&dir, "linux/amd64,linux/arm64", &image, &[]);
    for platform in ["linux/amd64", "linux/arm64"] {
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, &image, "e2e"]);
        assert_eq!(out.trim(), format!("hello e2e from the workspace on {platform}"));
    }
}

#[test]
fn a_module_below_the_context_root_builds() {
    require_engine();
    // The workspace example without go.work: the api module lives in api/ and reaches the
    // greeting module beside it through a replace directive.
    let dir = example_variant("workspace", "module-in-subdir", |spec| spec.replace("main: ./api\n", "module: api\nmain: .\n"));
    std::fs::remove_file(dir.join("go.work")).unwrap();
    std::fs::write(
        dir.join("api/go.mod"),
        "module example.com/api\n\ngo 1.26\n\nrequire example.com/greeting v0.0.0\n\nreplace example.com/greeting => ../greeting\n",
    )
    .unwrap();
    let image = unique_tag("module-in-subdir");
    let progress = buildx_push(&dir, "linux/arm64", &image, &[]);
    assert!(progress.contains("[linux/arm64] go build ."), "{progress}");
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", "linux/arm64", &image]);
    assert_eq!(out.trim(), "hello goapp from the workspace on linux/arm64");
}

#[test]
fn the_module_layer_travels_with_cache_to_and_cache_from() {
    require_engine();
    let dir = example_variant("inventory", "module-layer-cache", |spec| spec.replace("go:\n", "go:\n  module_cache: layer\n"));
    // A module proxy stopped after the first build: the second build can only succeed if its
    // modules come from the imported cache.
    let proxy = ModuleProxy::start();
    let goproxy = format!("GOPROXY={}", proxy.url);
    let cache = unique_tag("module-layer-cache-store");
    buildx_push(
        &dir,
        "linux/amd64",
        &unique_tag("module-layer-cache"),
        &["--build-arg", &goproxy, "--cache-to", &format!("type=registry,ref={cache},mode=max")],
    );
    drop(proxy);

    // An engine with no build cache, as on a fresh CI runner, and a code change.
    ok(Path::new("/"), "docker", &["buildx", "prune", "-af"]);
    let main = dir.join("cmd/inventory/main.go");
    let mut code = std::fs::read_to_string(&main).unwrap();
    code.push_str("\nvar _ = \"a code change\"\n");
    std::fs::write(&main, code).unwrap();

    let image = unique_tag("module-layer-cache");
    let progress = buildx_push(&dir, "linux/amd64", &image, &["--build-arg", &goproxy, "--cache-from", &format!("type=registry,ref={cache}")]);
    let download_id = progress.lines().find_map(|l| l.strip_suffix(" [builder] go mod download")).expect("a download step").to_string();
    assert!(
        progress.lines().any(|l| l.starts_with(&format!("{download_id} extracting sha256:"))),
        "the module layer was not loaded from the cache:\n{progress}"
    );
    assert_eq!(step_outcome(&progress, "[linux/amd64] go build"), "DONE", "the changed code was not compiled:\n{progress}");
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", &image, "report"]);
    assert!(out.contains("66 units worth 1,649.80 EUR"), "{out}");
}
