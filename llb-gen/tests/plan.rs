//! Planning: what a build will do, from the spec, the request and the context's facts.

use std::collections::BTreeMap;

use llb::Platform;
use llb_gen::Spec;
use llb_gen::context::{ContextFacts, NamedSource};
use llb_gen::plan::{MIRROR_ARG, Plan, PlanError, Request, ResultKind, SpecSource, plan};
use llb_gen::spec::BINARIES_TARGET;

fn load(yaml: &str) -> Spec {
    llb_gen::load("goapp.yaml", yaml.as_bytes(), &BTreeMap::new()).unwrap().spec
}

fn source(yaml: &str) -> SpecSource {
    SpecSource { file: "goapp.yaml".into(), data: yaml.as_bytes().to_vec() }
}

fn plan_of(yaml: &str, request: &Request, facts: &ContextFacts) -> Result<Plan, PlanError> {
    plan(load(yaml), source(yaml), request, facts)
}

#[test]
fn named_contexts_replace_images_or_required_modules() {
    let yaml = "name: app\nruntime:\n  base: distroless\n";
    let named: BTreeMap<String, String> = [
        ("golang:1.27".to_string(), "docker-image://mirror.example/go:1.27".to_string()),
        ("gcr.io/distroless/static-debian12:nonroot".to_string(), "docker-image://mirror.example/static:1".to_string()),
        ("example.com/lib".to_string(), "local:example.com/lib".to_string()),
    ]
    .into();
    let facts = |vendored: bool| ContextFacts {
        excludes: vec![],
        no_download: vendored,
        vendored,
        go_mod: Some(("go.mod".into(), "module example.com/app\n\nrequire example.com/lib v1.0.0\n".into())),
        go_work: None,
    };
    let request = Request { named_contexts: named.clone(), build_args: [(MIRROR_ARG.to_string(), "localhost:5000".to_string())].into(), ..Request::default() };
    let p = plan_of(yaml, &request, &facts(false)).unwrap();
    assert_eq!(p.images.builder.reference.to_string(), "mirror.example/go:1.27");
    assert_eq!(p.images.builder.written.to_string(), "docker.io/library/golang:1.27");
    assert_eq!(p.images.base.as_ref().unwrap().reference.to_string(), "mirror.example/static:1");
    assert_eq!(p.replacements[0].source, NamedSource::Local("example.com/lib".into()));
    let (path, text) = p.module_file.unwrap();
    assert_eq!(path, "go.mod");
    assert!(text.ends_with("replace example.com/lib => /goapp/replace/0\n"), "{text}");
    // vendor/ would no longer match go.mod.
    let e = plan_of(yaml, &request, &facts(true)).unwrap_err().to_string();
    assert!(e.contains("set `go.mod: mod`"), "{e}");
    // An image of the build replaced by something other than an image.
    let bad = Request { named_contexts: [("golang:1.27".to_string(), "local:golang:1.27".to_string())].into(), ..Request::default() };
    assert!(plan_of(yaml, &bad, &facts(false)).unwrap_err().to_string().contains("docker-image://REF"));
    // A module go.mod does not require.
    let other = Request { named_contexts: [("example.com/other".to_string(), "local:x".to_string())].into(), ..Request::default() };
    let e = plan_of(yaml, &other, &facts(false)).unwrap_err().to_string();
    assert!(e.contains("go.mod does not require the module example.com/other"), "{e}");
    // `local:` with no directory name.
    let empty = Request { named_contexts: [("example.com/lib".to_string(), "local:".to_string())].into(), ..Request::default() };
    let e = plan_of(yaml, &empty, &facts(false)).unwrap_err().to_string();
    assert!(e.contains("`local:` needs the name of a directory"), "{e}");
}

#[test]
fn platforms_come_from_the_request_then_the_spec_then_the_build_platform() {
    let yaml = "name: app\nplatforms: [linux/arm64, linux/arm/v7]\n";
    let facts = ContextFacts::default();
    let arm = Platform::parse("linux/arm64").unwrap();
    assert_eq!(plan_of(yaml, &Request::default(), &facts).unwrap().platforms.iter().map(Platform::id).collect::<Vec<_>>(), ["linux/arm64", "linux/arm/v7"]);
    let asked = Request { platforms: vec![Platform::parse("linux/riscv64").unwrap()], ..Request::default() };
    assert_eq!(plan_of(yaml, &asked, &facts).unwrap().platforms[0].id(), "linux/riscv64");
    let on_arm = Request { build_platform: arm.clone(), ..Request::default() };
    assert_eq!(plan_of("name: app\n", &on_arm, &facts).unwrap().platforms, [arm]);
}

#[test]
fn a_target_is_selected_without_changing_the_spec() {
    let yaml = "name: shop\ntargets:\n  - name: api\n    main: ./cmd/api\n  - name: worker\n    main: ./cmd/worker\nruntime:\n  entrypoint: api\n";
    let facts = ContextFacts::default();
    let p = plan_of(yaml, &Request { target: Some("worker".into()), ..Request::default() }, &facts).unwrap();
    assert_eq!((p.targets.clone(), p.entrypoint, p.spec.targets.len()), (vec![1], 1, 2));
    assert_eq!(p.entrypoint().name.value, "worker");
    let e = plan_of(yaml, &Request { target: Some("wroker".into()), ..Request::default() }, &facts).unwrap_err().to_string();
    assert!(e.contains("did you mean `worker`?"), "{e}");
    let bins = plan_of(yaml, &Request { target: Some(BINARIES_TARGET.into()), ..Request::default() }, &facts).unwrap();
    assert_eq!((bins.result, bins.targets.clone()), (ResultKind::Binaries, vec![0, 1]));
    assert!(bins.summary()["entrypoint"].is_null());
}

#[test]
fn source_date_epoch_is_checked() {
    let facts = ContextFacts::default();
    let with = |v: &str| Request { build_args: [("SOURCE_DATE_EPOCH".to_string(), v.to_string())].into(), ..Request::default() };
    assert_eq!(plan_of("name: app\n", &with("1700000000"), &facts).unwrap().facts.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert!(plan_of("name: app\n", &with("soon"), &facts).unwrap_err().to_string().contains("not a number"));
    assert!(plan_of("name: app\n", &with("99999999999999"), &facts).unwrap_err().to_string().contains("after the year 9999"));
}

/// `--platform` with a Windows platform: the Windows base is planned beside the Linux one
/// (mirrored, replaceable by a named context), and the spec's settings a Windows image
/// cannot have are refused at their lines, as the loader refuses them for the spec's own
/// `platforms`.
#[test]
fn windows_platforms_plan_their_own_base_and_refuse_what_windows_lacks() {
    let yaml = "name: app\nruntime:\n  base: distroless\n  windows:\n    base: servercore\n";
    let platforms = vec![Platform::parse("linux/amd64").unwrap(), Platform::parse("windows/amd64").unwrap()];
    let request = Request {
        platforms: platforms.clone(),
        build_args: [(MIRROR_ARG.to_string(), "localhost:5000".to_string())].into(),
        named_contexts: [("mcr.microsoft.com/windows/servercore:ltsc2022".to_string(), "docker-image://mirror.example/sc:1".to_string())].into(),
        ..Request::default()
    };
    let p = plan_of(yaml, &request, &ContextFacts::default()).unwrap();
    assert_eq!(p.images.base_for(&platforms[0]).unwrap().reference.to_string(), "localhost:5000/gcr.io/distroless/static-debian12:nonroot");
    let w = p.images.base_for(&platforms[1]).unwrap();
    assert_eq!(w.written.to_string(), "mcr.microsoft.com/windows/servercore:ltsc2022");
    assert_eq!(w.reference.to_string(), "mirror.example/sc:1");
    // Windows alone pulls no Linux base; binaries alone pull no Windows base.
    let only = Request { platforms: vec![platforms[1].clone()], ..Request::default() };
    let p = plan_of(yaml, &only, &ContextFacts::default()).unwrap();
    assert!(p.images.base.is_none());
    assert_eq!(p.images.windows_base.as_ref().unwrap().reference.to_string(), "mcr.microsoft.com/windows/servercore:ltsc2022");
    let binaries = Request { target: Some(BINARIES_TARGET.into()), ..only.clone() };
    assert!(plan_of(yaml, &binaries, &ContextFacts::default()).unwrap().images.windows_base.is_none());
    // A stop signal Windows cannot send, refused at its line.
    let yaml = "name: app\nruntime:\n  stop_signal: SIGINT\n";
    let Err(PlanError::Diagnostics(d)) = plan_of(yaml, &only, &ContextFacts::default()) else { panic!("a Windows image with SIGINT was planned") };
    assert_eq!((d.items[0].rule, d.items[0].span.start.line), (Some("NotOnWindows"), 3), "{}", d.render(false));
    // SIGTERM, by name or by number, is what Windows gives the program.
    for sigterm in ["SIGTERM", "TERM", "15"] {
        assert!(plan_of(&format!("name: app\nruntime:\n  stop_signal: {sigterm}\n"), &only, &ContextFacts::default()).is_ok(), "{sigterm}");
    }
    // Building the binaries alone, it does not matter.
    assert!(plan_of(yaml, &binaries, &ContextFacts::default()).is_ok());
    // windows/386 has binaries, and no container image.
    let x86 = Request { platforms: vec![Platform::parse("windows/386").unwrap()], ..Request::default() };
    let e = plan_of("name: app\n", &x86, &ContextFacts::default()).unwrap_err().to_string();
    assert!(e.contains("no windows/386 image; build its NAME.exe with --target binaries"), "{e}");
    assert!(plan_of("name: app\n", &Request { target: Some(BINARIES_TARGET.into()), ..x86 }, &ContextFacts::default()).is_ok());
}
