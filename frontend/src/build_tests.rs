//! The whole frontend, from options to BuildKit's answer, against the in-memory gateway of
//! [`crate::fake`]: what is read, looked up and solved, and what the user is told.

use llb::pb;
use prost::Message as _;
use serde_json::{Value, json};

use crate::fake::{Fake, Files, Image};
use crate::frontend::run;
use crate::gateway::Caps;
use crate::opts::Opts;
use crate::proto::gw;

const HELLO: &str = "name: hello\nmain: ./cmd/hello\nplatforms: [linux/amd64, linux/arm64]\n";

fn golang(version: &str) -> Image {
    Image {
        digest: format!("sha256:{}", "a".repeat(64)),
        config: json!({"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/usr/local/go/bin:/usr/bin:/bin", format!("GOLANG_VERSION={version}")]}}),
        files: Files::new(),
    }
}

/// A client with `spec` and a module needing Go `go_line`, and a registry (behind the mirror
/// `localhost:5000`) with Go 1.27.3 and 1.26.10 builders.
fn client(spec: &str, go_line: &str) -> Fake {
    let f = Fake::default();
    f.local("dockerfile", "goapp.yaml", spec)
        .local("context", "go.mod", &format!("module example.com/hello\n\ngo {go_line}\n"))
        .local("context", "cmd/hello/main.go", "package main\n\nfunc main() {}\n")
        .image("localhost:5000/library/golang:1.27", golang("1.27.3"))
        .image("localhost:5000/library/golang:1.26", golang("1.26.10"));
    f.state().caps =
        Caps { llb: Vec::new(), frontend: vec![crate::keys::cap::WARNINGS.into()], build_platform: Some(llb::Platform::parse("linux/amd64").unwrap()) };
    f
}

fn opts(extra: &[&str]) -> Opts {
    let all = std::iter::once("build-arg:GOAPP_REGISTRY_MIRROR=localhost:5000").chain(extra.iter().copied());
    Opts::from_vars(all.enumerate().map(|(i, o)| (format!("BUILDKIT_FRONTEND_OPT_{i}"), o.to_string())))
}

/// Runs a build and returns BuildKit's answer.
async fn build(f: &Fake, extra: &[&str]) -> gw::ReturnRequest {
    run(f.clone(), opts(extra), "session-1".into()).await.unwrap();
    f.state().answer.clone().expect("an answer")
}

fn error(answer: &gw::ReturnRequest) -> String {
    answer.error.as_ref().map(|e| e.message.clone()).unwrap_or_else(|| panic!("the build succeeded: {answer:?}"))
}

fn metadata(answer: &gw::ReturnRequest, key: &str) -> Value {
    let result = answer.result.as_ref().unwrap_or_else(|| panic!("the build failed: {answer:?}"));
    serde_json::from_slice(&result.metadata[key]).unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// The `exec` ops of every solve, as their argument lists.
fn execs(f: &Fake) -> Vec<Vec<String>> {
    let state = f.state();
    state
        .solved
        .iter()
        .flat_map(|d| d.def.iter())
        .filter_map(|b| match pb::Op::decode(b.as_slice()).ok()?.op {
            Some(pb::op::Op::Exec(e)) => Some(e.meta?.args),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_platform_is_built_and_gets_its_config() {
    let f = client(HELLO, "1.27");
    let answer = build(&f, &[]).await;
    let Some(gw::result::Result::Refs(refs)) = answer.result.as_ref().and_then(|r| r.result.clone()) else { panic!("{answer:?}") };
    assert_eq!(refs.refs.keys().collect::<Vec<_>>(), ["linux/amd64", "linux/arm64"]);
    assert_eq!(metadata(&answer, "containerimage.config/linux/arm64")["architecture"], "arm64");
    // The builder was looked up through the mirror, for the build platform, with the release
    // and what chose it on the progress line.
    let lookups = f.state().lookups.clone();
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(lookups[0].0, "localhost:5000/library/golang:1.27");
    assert!(lookups[0].2.ends_with("(linux/amd64): Go 1.27 (the go line, go.mod:3)"), "{lookups:?}");
    // One go build per platform, cross-compiled on the build platform.
    let builds: Vec<Vec<String>> = execs(&f).into_iter().filter(|a| a.starts_with(&["go".into(), "build".into()])).collect();
    assert_eq!(builds.len(), 2, "{builds:?}");
}

#[tokio::test]
async fn a_broken_spec_fails_at_its_line_before_anything_is_looked_up() {
    let f = client("name: hello\nruntime:\n  stop_signal: SIGFOO\n", "1.27");
    let e = error(&build(&f, &[]).await);
    assert!(e.contains("goapp.yaml:3:16"), "{e}");
    assert!(e.contains("`SIGFOO` is not a signal"), "{e}");
    assert!(f.state().lookups.is_empty());
}

#[tokio::test]
async fn a_file_not_in_the_context_is_reported_with_the_name_meant() {
    let spec = format!("{HELLO}runtime:\n  files:\n    - src: config/App.json\n      dest: /etc/app/\n    - src: secret.json\n      dest: /etc/app/\n");
    let f = client(&spec, "1.27");
    f.local("context", "config/app.json", "{}").local("context", "secret.json", "{}").local("context", ".dockerignore", "secret.json\n");
    let e = error(&build(&f, &[]).await);
    assert!(e.contains("`config/App.json` is not in the build context"), "{e}");
    assert!(e.contains("did you mean `config/app.json`?"), "{e}");
    // Left out by .dockerignore: said so, not "did you mean" the same name.
    assert!(e.contains("`secret.json` is not in the build context: .dockerignore leaves it out"), "{e}");
    assert!(!execs(&f).iter().any(|a| a.starts_with(&["go".into(), "build".into()])));
}

#[tokio::test]
async fn a_builder_older_than_go_mod_fails_before_the_compile() {
    let f = client(HELLO, "1.27.9");
    let e = error(&build(&f, &[]).await);
    assert!(e.starts_with("go.mod:3:4: go.mod needs Go 1.27.9 or later"), "{e}");
    assert!(execs(&f).is_empty(), "{:?}", execs(&f));
}

#[tokio::test]
async fn an_unresolvable_builder_is_reported_at_the_line_that_chose_it() {
    let f = client(HELLO, "1.25");
    let e = error(&build(&f, &[]).await);
    assert!(e.starts_with("go.mod:3:4: cannot resolve the builder image `docker.io/library/golang:1.25`"), "{e}");
    assert!(e.contains("looked up as localhost:5000/library/golang:1.25 through the registry mirror localhost:5000"), "{e}");
}

#[tokio::test]
async fn a_user_name_is_looked_up_in_the_pulled_base() {
    let spec = format!("{HELLO}runtime:\n  base: registry.example.com/base:1\n  user: app\n");
    let f = client(&spec, "1.27");
    let mut files = Files::new();
    files.insert("etc/passwd".into(), b"root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n".to_vec());
    let base = Image { digest: format!("sha256:{}", "b".repeat(64)), config: json!({"architecture": "amd64", "os": "linux"}), files };
    f.image("localhost:5000/registry.example.com/base:1", base);
    let answer = build(&f, &[]).await;
    assert_eq!(metadata(&answer, "containerimage.config/linux/amd64")["config"]["User"], "1000:1001");
    // A name the base does not have.
    let f = client(&spec.replace("user: app", "user: ap"), "1.27");
    let without_passwd = f.state().images["localhost:5000/library/golang:1.27"].clone();
    f.image("localhost:5000/registry.example.com/base:1", without_passwd);
    let e = error(&build(&f, &[]).await);
    assert!(e.contains("goapp.yaml:6:9") && e.contains("the user `ap` is not in the /etc/passwd"), "{e}");
}

#[tokio::test]
async fn warnings_are_sent_with_their_rule_and_line() {
    let f = client(&format!("{HELLO}runtime:\n  user: root\n"), "1.27");
    build(&f, &[]).await;
    let warnings: Vec<String> = f.state().warnings.iter().map(|w| String::from_utf8_lossy(&w.short).into_owned()).collect();
    assert_eq!(warnings, ["RunsAsRoot: the program runs as root (goapp.yaml:5:9)"]);
}

#[tokio::test]
async fn the_sbom_is_made_of_what_go_version_m_says() {
    let f = client(HELLO, "1.27");
    let mut info = Files::new();
    info.insert("hello.txt".into(), b"/bins/hello: go1.27.3\n\tpath\texample.com/hello/cmd/hello\n\tmod\texample.com/hello\t(devel)\t\n".to_vec());
    f.state().exec_outputs.push(("go version -m".into(), info));
    let answer = build(&f, &["attest:sbom="]).await;
    let attestations = &answer.result.as_ref().unwrap().attestations;
    assert_eq!(attestations.keys().collect::<Vec<_>>(), ["linux/amd64", "linux/arm64"]);
    // The document, as solved into a file of its own.
    let state = f.state();
    let doc = state
        .solved
        .iter()
        .flat_map(|d| d.def.iter())
        .filter_map(|b| match pb::Op::decode(b.as_slice()).ok()?.op {
            Some(pb::op::Op::File(f)) => f.actions.into_iter().find_map(|a| match a.action {
                Some(pb::file_action::Action::Mkfile(m)) if m.path == "/sbom.spdx.json" => Some(String::from_utf8_lossy(&m.data).into_owned()),
                _ => None,
            }),
            _ => None,
        })
        .next()
        .expect("an SBOM");
    assert!(doc.contains("pkg:golang/example.com/hello") && doc.contains("SPDX-2.3"), "{doc}");
}

#[tokio::test]
async fn a_bug_that_panics_still_answers() {
    let f = client(HELLO, "1.27");
    f.state().panic_on_ping = true;
    let e = error(&build(&f, &[]).await);
    assert!(e.contains("goapp failed unexpectedly"), "{e}");
}

#[tokio::test]
async fn malformed_options_are_errors_that_name_them() {
    for (option, expected) in [
        ("context:example.com/lib=local:", "`local:` needs the name of a directory"),
        ("image-resolve-mode=always", "image-resolve-mode=always"),
        ("platform=linux/amd64,", "--platform linux/amd64,"),
        ("target=wrold", "--target wrold: the spec has no target named `wrold`"),
        ("build-arg:SOURCE_DATE_EPOCH=yesterday", "SOURCE_DATE_EPOCH=yesterday is not a number"),
    ] {
        let f = client(HELLO, "1.27");
        let e = error(&build(&f, &[option]).await);
        assert!(e.contains(expected), "{option}: {e}");
        assert!(!execs(&f).iter().any(|a| a.starts_with(&["go".into(), "build".into()])), "{option}");
    }
}

#[tokio::test]
async fn the_plan_is_answered_without_building() {
    let f = client(HELLO, "1.26");
    let answer = build(&f, &["requestid=frontend.goapp.plan", "target=binaries"]).await;
    let plan = metadata(&answer, "result.json");
    assert_eq!(plan["result"], "binaries");
    assert_eq!(plan["platforms"], json!(["linux/amd64", "linux/arm64"]));
    assert_eq!(plan["builder"]["reference"], "localhost:5000/library/golang:1.26");
    assert!(f.state().lookups.is_empty() && execs(&f).is_empty());
}

#[tokio::test]
async fn a_spec_past_the_size_limit_is_refused_unread() {
    let huge = format!("{HELLO}x-padding: \"{}\"\n", "a".repeat(llb_gen::load::MAX_SPEC_BYTES));
    let f = client(&huge, "1.27");
    let e = error(&build(&f, &[]).await);
    assert!(e.contains(&format!("the spec is {} bytes; the limit is {}", llb_gen::load::MAX_SPEC_BYTES + 1, llb_gen::load::MAX_SPEC_BYTES)), "{e}");
}

#[tokio::test]
async fn files_sources_may_be_patterns_and_a_directory_in_the_wrong_case_is_named() {
    let with = |src: &str| format!("{HELLO}runtime:\n  files:\n    - src: {src}\n      dest: /srv/www/\n");
    let site = |f: &Fake| {
        f.local("context", "static/index.html", "<p>hi</p>").local("context", "static/about.html", "<p>about</p>");
    };
    // A pattern that matches files of the context builds.
    let f = client(&with("static/*.html"), "1.27");
    site(&f);
    assert!(build(&f, &[]).await.error.is_none());
    // One that matches nothing is refused at its line.
    let f = client(&with("static/*.css"), "1.27");
    site(&f);
    let e = error(&build(&f, &[]).await);
    assert!(e.contains("goapp.yaml:6:12: `static/*.css` matches nothing in the build context"), "{e}");
    // A directory in the wrong letter case: the path meant.
    let f = client(&with("Static/index.html"), "1.27");
    site(&f);
    let e = error(&build(&f, &[]).await);
    assert!(e.contains("did you mean `static/index.html`?"), "{e}");
    // A directory that is not there at all.
    let f = client(&with("public/index.html"), "1.27");
    site(&f);
    let e = error(&build(&f, &[]).await);
    assert!(e.contains("there is no directory `public`"), "{e}");
}

#[tokio::test]
async fn an_asset_from_another_build_is_its_definition_carried_into_the_build() {
    // As bake sends `contexts = { site = "target:site" }`: the target's definition as the
    // frontend input `site`, and the named context `input:site`.
    let spec = format!("{HELLO}assets:\n  - context: site\n    to: internal/site\n");
    let f = client(&spec, "1.27");
    let mut other = llb::Graph::new();
    let site = other.local("site-target", Default::default());
    let def = other.marshal(Some(site)).unwrap();
    f.state().inputs.insert("site".into(), def.clone());
    let answer = build(&f, &["context:site=input:site"]).await;
    assert!(answer.error.is_none(), "{answer:?}");
    // The other build's op is in every platform's graph, and the assets copy reads it.
    let carried = f.state().solved.iter().filter(|d| d.def.contains(&def.def[0])).count();
    assert_eq!(carried, 2, "one build per platform carries the input");
    // Without the input, the build says what is missing.
    let f = client(&spec, "1.27");
    let e = error(&build(&f, &["context:site=input:site"]).await);
    assert!(e.contains("the build context site is the result of another build, which the client did not send"), "{e}");
    // A module cannot be replaced by another build's result.
    let f = client(HELLO, "1.27");
    let e = error(&build(&f, &["context:example.com/lib=input:lib"]).await);
    assert!(e.contains("can be the source of `assets`, not a Go module"), "{e}");
}

/// A client with no spec: `-f go.mod` names the module, whose Go files are `files`.
fn module_client(files: &[(&str, &str)]) -> Fake {
    let go_mod = "module example.com/shop\n\ngo 1.27\n";
    let f = Fake::default();
    f.local("dockerfile", "go.mod", go_mod).local("context", "go.mod", go_mod).image("localhost:5000/library/golang:1.27", golang("1.27.3"));
    for (path, text) in files {
        f.local("context", path, text);
    }
    f.state().caps = Caps { llb: Vec::new(), frontend: Vec::new(), build_platform: Some(llb::Platform::parse("linux/amd64").unwrap()) };
    f
}

#[tokio::test]
async fn a_module_without_a_spec_builds_its_programs_under_cmd() {
    let f = module_client(&[
        ("cmd/api/main.go", "package main\n\nfunc main() {}\n"),
        ("cmd/worker/main.go", "// Command worker.\npackage main\n\nfunc main() {}\n"),
        ("internal/store/store.go", "package store\n"),
        ("tools/gen.go", "//go:build ignore\n\npackage main\n"),
    ]);
    let answer = build(&f, &["filename=go.mod"]).await;
    assert!(answer.error.is_none(), "{answer:?}");
    let builds: Vec<Vec<String>> = execs(&f).into_iter().filter(|a| a.starts_with(&["go".into(), "build".into()])).collect();
    assert_eq!(builds.len(), 1, "{builds:?}");
    assert!(builds[0].ends_with(&["./cmd/api".to_string(), "./cmd/worker".to_string()]), "{builds:?}");
    let config = metadata(&answer, "containerimage.config");
    assert_eq!(config["config"]["Entrypoint"], json!(["/usr/local/bin/api"]));
    assert_eq!(config["config"]["User"], "65532:65532");
    // The same inference answers --call targets.
    let f = module_client(&[("cmd/api/main.go", "package main\n"), ("cmd/worker/main.go", "package main\n")]);
    let targets = metadata(&build(&f, &["filename=go.mod", "requestid=frontend.targets"]).await, "result.json");
    let names: Vec<&str> = targets["targets"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.starts_with(&["api", "worker"]), "{targets}");
}

#[tokio::test]
async fn a_module_that_needs_a_spec_fails_with_the_spec() {
    let f = module_client(&[("main.go", "package main\n\n// #cgo LDFLAGS: -lsqlite3\nimport \"C\"\n\nfunc main() {}\n")]);
    let e = error(&build(&f, &["filename=go.mod"]).await);
    assert!(e.contains("uses cgo") && e.contains("c_packages: [libsqlite3-dev]"), "{e}");
    assert!(!execs(&f).iter().any(|a| a.starts_with(&["go".into(), "build".into()])));
    let f = module_client(&[("lib.go", "package shop\n")]);
    assert!(error(&build(&f, &["filename=go.mod"]).await).contains("no `package main`"));
}

#[tokio::test]
async fn goapp_init_answers_with_the_commented_spec() {
    let f = module_client(&[("cmd/shop/main.go", "package main\n\nfunc main() { http.ListenAndServe(\":8080\", nil) }\n")]);
    let answer = build(&f, &["filename=go.mod", "requestid=frontend.goapp.init", "build-arg:BUILDKIT_SYNTAX=registry.example.com/goapp-frontend:1"]).await;
    let spec = metadata(&answer, "result.json")["spec"].as_str().unwrap().to_string();
    assert!(spec.starts_with("# syntax=registry.example.com/goapp-frontend:1\n"), "{spec}");
    assert!(spec.contains("main: ./cmd/shop\n") && spec.contains("ports: [8080]"), "{spec}");
    // A spec file is not a module.
    let f = client(HELLO, "1.27");
    assert!(error(&build(&f, &["requestid=frontend.goapp.init"]).await).contains("name its go.mod"));
}

/// The timing log (`GOAPP_FRONTEND_TIMING`, for scripts/profile-warm) changes nothing the
/// build asks of BuildKit or answers.
#[tokio::test]
async fn a_timed_build_asks_and_answers_the_same() {
    let (plain, timed) = (client(HELLO, "1.27"), client(HELLO, "1.27"));
    let a = build(&plain, &[]).await;
    let gw = crate::gateway::Timed::new(timed.clone(), Some("test"), std::time::SystemTime::now());
    run(gw, opts(&[]), "session-1".into()).await.unwrap();
    let b = timed.state().answer.clone().expect("an answer");
    assert_eq!(a, b);
    assert_eq!(plain.state().solved, timed.state().solved);
    assert_eq!(plain.state().lookups, timed.state().lookups);
}
