//! End to end: the work around the image, from the spec of examples/webapp. `--target test`
//! (passing, with its report exported; failing, with the test's name and line in the error),
//! `--target debug` (Delve from the module proxy answering on its port), version templates
//! (a binary stamped with the commit buildx reports), and the assets and `go generate` that
//! the embedded page comes from.

use std::path::{Path, PathBuf};

use integration_tests::prelude::*;
use integration_tests::services::ModuleProxy;

/// A copy of examples/webapp with `edit` applied to the file `file` of it.
fn webapp_with(name: &str, file: &str, edit: impl FnOnce(&str) -> String) -> PathBuf {
    let dir = temp_dir(name);
    copy_dir(&repo_root().join("examples/webapp"), &dir);
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(&text);
    assert_ne!(text, edited, "the edit left {file} unchanged");
    std::fs::write(&path, edited).unwrap();
    dir
}

#[test]
fn the_tests_pass_and_their_report_is_exported() {
    require_engine();
    let dir = repo_root().join("examples/webapp");
    let out = temp_dir("webapp-test-report");
    let dest = format!("type=local,dest={}", out.display());
    // --no-cache: the tests really run (a cached step shows none of their output).
    let r = buildx(&dir, "linux/arm64", &["--target", "test", "--no-cache", "--output", &dest]);
    assert!(r.status.success(), "{}", r.stderr);
    // The tests ran on the build platform (nothing under emulation), after go vet and go
    // generate (the package that embeds the generated list of pages builds).
    assert!(r.stderr.contains("[test] go vet, go test ./..."), "{}", r.stderr);
    assert!(r.stderr.contains("goapp: 2 tests passed"), "{}", r.stderr);
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<testcase classname="example.com/webapp/internal/greet" name="TestGreeting""#), "{junit}");
    assert!(junit.contains(r#"<testsuites tests="2" failures="0""#), "{junit}");
    let events = std::fs::read_to_string(out.join("test.json")).unwrap();
    let passed =
        events.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).filter(|e| e["Action"] == "pass" && e["Test"].is_string()).count();
    assert_eq!(passed, 2, "{events}");
    let coverage = std::fs::read_to_string(out.join("coverage.out")).unwrap();
    assert!(coverage.starts_with("mode: set\n") && coverage.contains("internal/greet/greet.go"), "{coverage}");
    // Nothing changed: BuildKit keeps the step's result.
    let again = buildx(&dir, "linux/arm64", &["--target", "test"]);
    assert!(again.status.success(), "{}", again.stderr);
    assert!(step_outcome(&again.stderr, "[test] go vet, go test").contains("CACHED"), "{}", again.stderr);
}

#[test]
fn a_failing_test_fails_the_build_with_its_name_and_line() {
    require_engine();
    let dir = webapp_with("webapp-failing-test", "internal/greet/greet_test.go", |t| {
        t.replace("\"hello world from linux/arm64\"", "\"hello nobody from linux/arm64\"")
    });
    let r = buildx(&dir, "linux/amd64", &["--target", "test"]);
    assert!(!r.status.success(), "a failing test passed:\n{}", r.stderr);
    // The error block buildx prints at the end names the test and where it failed.
    let error_block = r.stderr.rsplit_once(" > [test] go vet, go test").map(|(_, block)| block).unwrap_or_else(|| panic!("no error block:\n{}", r.stderr));
    // The t.Errorf on the line after the check (lines count from 1).
    let check = std::fs::read_to_string(dir.join("internal/greet/greet_test.go")).unwrap().lines().position(|l| l.contains("Greeting(\"\", ")).unwrap();
    let expected = format!("goapp: FAIL TestGreetingWithoutName example.com/webapp/internal/greet at internal/greet/greet_test.go:{}", check + 2);
    assert!(error_block.contains(&expected), "no `{expected}` in the error block:\n{}", r.stderr);
    assert!(!r.stderr.contains("FAIL TestGreeting example.com"), "a passing test named as failing:\n{}", r.stderr);
}

#[test]
fn the_debug_image_runs_the_program_under_delve_on_its_port() {
    require_engine();
    let dir = repo_root().join("examples/webapp");
    let proxy = ModuleProxy::start();
    let goproxy = format!("GOPROXY={}", proxy.url);
    let image = unique_tag("webapp-debug");
    let progress = buildx_push(&dir, "linux/amd64", &image, &["--target", "debug", "--build-arg", &goproxy, "--build-arg", "GOSUMDB=off"]);
    assert!(progress.contains("go install github.com/go-delve/delve/cmd/dlv@latest"), "{progress}");
    let img = single_image(&image);
    let cfg = &img.config["config"];
    assert_eq!(cfg["Entrypoint"][0], "/usr/local/bin/dlv", "{cfg}");
    assert!(cfg["ExposedPorts"]["2345/tcp"].is_object(), "{cfg}");
    let files = image_files(&image, &img);
    let has = |path: &str| files.iter().any(|l| l.split(" -> ").next().is_some_and(|name| name.ends_with(path)));
    assert!(has("usr/local/bin/dlv"), "{files:#?}");
    assert!(has("bin/sh"), "the debug base has a shell: {files:#?}");
    // Built for a debugger: the binary keeps its symbol table and DWARF.
    let created = ok(Path::new("/"), "docker", &["create", &image]).trim().to_string();
    let binary = temp_dir("webapp-debug-binary").join("webapp");
    ok(Path::new("/"), "docker", &["cp", &format!("{created}:/usr/local/bin/webapp"), &binary.display().to_string()]);
    let _ = run(Path::new("/"), "docker", &["rm", &created]);
    let sections = ok(Path::new("/"), "readelf", &["-S", "-W", &binary.display().to_string()]);
    assert!(sections.contains(".symtab") && sections.contains(".debug_info"), "{sections}");
    // and the paths it was compiled at (no -trimpath), which an editor maps to its checkout.
    let bytes = std::fs::read(&binary).unwrap();
    assert!(bytes.windows(b"/src/main.go".len()).any(|w| w == b"/src/main.go"), "the debug binary has no /src paths");

    let cid = ok(Path::new("/"), "docker", &["run", "-d", "-p", "127.0.0.1::2345", "-p", "127.0.0.1::8080", &image]).trim().to_string();
    let answer = delve_version(&cid);
    // The program runs (Delve continued it): its server answers.
    let hello = http_get(&cid, 8080, "/hello?name=debugger");
    let _ = run(Path::new("/"), "docker", &["rm", "-f", &cid]);
    assert!(answer.contains("\"DelveVersion\""), "{answer}");
    assert!(hello.contains("hello debugger from linux/amd64"), "{hello}");
}

/// Asks the Delve server of container `cid` for its version over its JSON-RPC API (what an
/// editor does first when it attaches), retried while Delve starts.
fn delve_version(cid: &str) -> String {
    let request = br#"{"method":"RPCServer.GetVersion","params":[{}],"id":1}"#;
    ask_container(cid, 2345, "RPCServer.GetVersion", request, |a| a.contains("\"id\":1"))
}

#[test]
fn a_binary_is_stamped_with_the_commit_buildx_reports() {
    require_engine();
    let dir = webapp_with("webapp-stamped", "goapp.yaml", |s| {
        s.replace("    main.version: ${VERSION:-dev}", "    main.version: ${VERSION:-dev}\n    main.commit: \"{{.ShortCommit}}-{{.Commit}}\"")
    });
    for args in
        [&["init", "-q", "-b", "main"][..], &["add", "-A"], &["-c", "user.name=e2e", "-c", "user.email=e2e@example.com", "commit", "-q", "-m", "stamped"]]
    {
        ok(&dir, "git", args);
    }
    let commit = ok(&dir, "git", &["rev-parse", "HEAD"]).trim().to_string();
    let image = unique_tag("webapp-stamped");
    buildx_push(&dir, "linux/amd64", &image, &[]);
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", &image, "--version"]);
    assert_eq!(out.trim(), format!("webapp dev (commit {}-{commit}) linux/amd64", &commit[..7]));

    // A template whose value buildx does not send is an error that says how to give it.
    let tagged = webapp_with("webapp-tagged", "goapp.yaml", |s| s.replace("${VERSION:-dev}", "\"{{.Version}}\""));
    let r = buildx(&tagged, "linux/amd64", &[]);
    assert!(!r.status.success(), "built without a tag:\n{}", r.stderr);
    assert!(r.stderr.contains("`{{.Version}}` has no value in this build"), "{}", r.stderr);
    assert!(r.stderr.contains("--build-arg GOAPP_GIT_TAG="), "{}", r.stderr);
    // Given, it stamps the version.
    let image = unique_tag("webapp-tagged");
    buildx_push(&tagged, "linux/amd64", &image, &["--build-arg", "GOAPP_GIT_TAG=v2.3.4"]);
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", &image, "--version"]);
    assert!(out.starts_with("webapp 2.3.4 "), "{out}");
}

#[test]
fn the_embedded_page_comes_from_the_assets_and_generate() {
    require_engine();
    let dir = repo_root().join("examples/webapp");
    let image = unique_tag("webapp");
    let progress = buildx_push(&dir, "linux/amd64,linux/arm64", &image, &[]);
    assert!(progress.contains("[builder] assets: web -> internal/web/dist"), "{progress}");
    assert!(progress.contains("[builder] generate: go generate ./..."), "{progress}");
    for platform in ["linux/amd64", "linux/arm64"] {
        let page = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, &image, "--page", "index.html"]);
        assert!(page.contains("Hello from the embedded page"), "{platform}: {page}");
    }
    let cid = ok(Path::new("/"), "docker", &["run", "-d", "-p", "127.0.0.1::8080", &image]).trim().to_string();
    let served = http_get(&cid, 8080, "/");
    let pages = http_get(&cid, 8080, "/pages");
    let _ = run(Path::new("/"), "docker", &["rm", "-f", &cid]);
    assert!(served.contains("Hello from the embedded page"), "{served}");
    // The list go generate wrote from the copied assets (not the placeholder in the module).
    assert!(pages.ends_with("about.html\nindex.html\n"), "{pages}");

    // From a named build context instead (as a bake target's output would be).
    let site = temp_dir("webapp-site");
    std::fs::write(site.join("index.html"), "<h1>Hello from the named context</h1>\n").unwrap();
    let named = example_variant("webapp", "webapp-named-assets", |s| s.replace("  - from: web\n", "  - context: site\n"));
    let image = unique_tag("webapp-named");
    let context = format!("site={}", site.display());
    buildx_push(&named, "linux/amd64", &image, &["--build-context", &context]);
    let page = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", &image, "--page", "index.html"]);
    assert!(page.contains("Hello from the named context"), "{page}");
    // Without it, the error says what to pass.
    let r = buildx(&named, "linux/amd64", &[]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("pass --build-context site=DIR"), "{}", r.stderr);
}

#[test]
fn a_bake_target_feeds_the_assets() {
    require_engine();
    // The page comes from another bake target (a Dockerfile that stands for an npm build),
    // which bake builds first and hands to goapp as the named context `site`.
    let dir = example_variant("webapp", "webapp-bake", |s| s.replace("  - from: web\n", "  - context: site\n"));
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(dir.join("site/index.html"), "<h1>Hello from the bake target</h1>\n").unwrap();
    std::fs::write(dir.join("site.Dockerfile"), "FROM scratch\nCOPY site/ /\n").unwrap();
    let image = unique_tag("webapp-bake");
    let bake = format!(
        r#"target "site" {{
  dockerfile = "site.Dockerfile"
}}

target "webapp" {{
  dockerfile = "goapp.yaml"
  contexts = {{ site = "target:site" }}
  platforms = ["linux/amd64"]
  args = {{ GOAPP_REGISTRY_MIRROR = "{REGISTRY}" }}
  tags = ["{image}"]
}}
"#
    );
    std::fs::write(dir.join("docker-bake.hcl"), bake).unwrap();
    let r = docker_push(&dir, &["buildx", "bake", "-f", "docker-bake.hcl", "--progress=plain", "--push", "webapp"]);
    assert!(r.status.success(), "{}", r.stderr);
    let page = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", &image, "--page", "index.html"]);
    assert!(page.contains("Hello from the bake target"), "{page}");
}
