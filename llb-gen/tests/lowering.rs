//! Lowering the examples: golden dumps of the LLB (decoded from the marshalled bytes),
//! determinism, and where each op runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llb::{Platform, pb};
use llb_gen::lower;
use prost::Message as _;

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path().join("goapp.yaml")).filter(|p| p.exists()).collect();
    specs.sort();
    assert!(!specs.is_empty(), "no examples found in {}", root.display());
    let ok = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/ok");
    let mut more: Vec<PathBuf> = std::fs::read_dir(&ok).unwrap().map(|e| e.unwrap().path()).collect();
    more.sort();
    specs.extend(more);
    specs
}

/// The config of a pulled base, as its registry serves it.
const BASE_CONFIG: &str = r#"{
  "architecture": "arm64", "os": "linux",
  "config": {
    "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
    "Cmd": ["/bin/sh"], "WorkingDir": "/srv", "User": "1000",
    "ExposedPorts": {"9090/tcp": {}},
    "Labels": {"org.opencontainers.image.title": "base", "com.example.base": "yes"}
  },
  "rootfs": {"type": "layers", "diff_ids": ["sha256:2222222222222222222222222222222222222222222222222222222222222222"]},
  "history": [{"created_by": "base layer"}]
}"#;

/// The config of a Windows base (nanoserver's shape).
const WINDOWS_BASE_CONFIG: &str = r#"{
  "architecture": "amd64", "os": "windows", "os.version": "10.0.26100.2605",
  "config": {"Env": ["PATH=C:\\Windows\\system32;C:\\Windows"], "User": "ContainerUser"},
  "rootfs": {"type": "layers", "diff_ids": ["sha256:3333333333333333333333333333333333333333333333333333333333333333"]},
  "history": [{"created_by": "Apply image 10.0.26100.2605"}]
}"#;

/// The settings of the request and the context that the examples' golden files leave at
/// their defaults.
#[derive(Default)]
struct Extra {
    binaries: bool,
    context_source: llb_gen::context::ContextSource,
    named_contexts: BTreeMap<String, String>,
    /// The platform BuildKit runs steps on; `None`: linux/amd64.
    build_platform: Option<&'static str>,
    /// `--target`.
    target: Option<&'static str>,
}

/// The commit buildx reports for the templates.
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn lower_example(path: &Path, target: &str) -> (llb_gen::Lowered, String) {
    lower_example_with(path, target, &BTreeMap::new())
}

fn lower_example_with(path: &Path, target: &str, build_args: &BTreeMap<String, String>) -> (llb_gen::Lowered, String) {
    lower_example_as(path, target, build_args, &Extra::default())
}

/// The plan of an example, as the frontend makes it: its context facts read from the
/// example's directory (go.mod, go.work, go.sum, vendor/modules.txt; a `.dockerignore` of
/// `*.md`), built on linux/amd64.
fn plan_example(path: &Path, target: &str, build_args: &BTreeMap<String, String>, extra: &Extra) -> llb_gen::Plan {
    let bytes = std::fs::read(path).unwrap();
    // The version templates take a commit buildx reports and the build's date.
    let stamp_args: BTreeMap<String, String> = [("SOURCE_DATE_EPOCH".to_string(), "1704164645".to_string())].into();
    let stamps = llb_gen::stamp::Stamps::new(&stamp_args, Some(COMMIT), None).unwrap();
    let spec = llb_gen::load_stamped("goapp.yaml", &bytes, build_args, &stamps).unwrap_or_else(|d| panic!("{}:\n{}", path.display(), d.render(false))).spec;
    // The named contexts the assets copy, sent by the client.
    let mut named_contexts = extra.named_contexts.clone();
    for a in &spec.assets {
        if let llb_gen::spec::AssetSource::Context(name) = &a.source.value {
            named_contexts.entry(name.clone()).or_insert_with(|| format!("local:{name}"));
        }
    }
    let files = llb_gen::context::FactFiles::of(&spec.module.value);
    let dir = path.parent().unwrap();
    let mut facts = files.facts(&extra.context_source, |f| if f == ".dockerignore" { Some(b"*.md\n".to_vec()) } else { std::fs::read(dir.join(f)).ok() });
    // The fixtures of tests/specs (no go.mod next to them) stand for modules with
    // dependencies.
    if facts.go_mod.is_none() && facts.go_work.is_none() {
        facts.no_download = false;
    }
    let request = llb_gen::Request {
        target: extra.target.map(str::to_string).or(extra.binaries.then(|| llb_gen::spec::BINARIES_TARGET.to_string())),
        platforms: vec![Platform::parse(target).unwrap()],
        build_platform: Platform::parse(extra.build_platform.unwrap_or("linux/amd64")).unwrap(),
        build_args: {
            let mut args = build_args.clone();
            args.entry("SOURCE_DATE_EPOCH".into()).or_insert_with(|| "1704164645".into());
            args
        },
        named_contexts,
        context: extra.context_source.clone(),
        session_id: "test-session".into(),
        vcs_source: Some("https://example.com/app.git".into()),
        vcs_revision: Some("0123456789abcdef".into()),
        ..Default::default()
    };
    let source = llb_gen::plan::SpecSource { file: "goapp.yaml".into(), data: bytes };
    llb_gen::plan(spec, source, &request, &facts).unwrap()
}

/// What BuildKit would resolve: the builder pinned with an environment; a pulled base with a
/// digest and a config to inherit, and (for the `debian` base) no CA bundle or zoneinfo.
fn resolved(plan: &llb_gen::Plan) -> llb_gen::Resolved {
    let mut r = llb_gen::Resolved::unresolved(plan);
    r.builder.digest = Some(format!("sha256:{}", "0".repeat(64)));
    r.builder.env = vec!["PATH=/usr/local/go/bin:/usr/bin:/bin".into(), "GOTOOLCHAIN=auto".into()];
    for base in r.bases.values_mut() {
        let bare_debian = base.reference.to_string().contains("debian:");
        base.digest = Some(format!("sha256:{}", "1".repeat(64)));
        let windows = base.reference.repository.starts_with("windows/");
        base.config = serde_json::from_str(if windows { WINDOWS_BASE_CONFIG } else { BASE_CONFIG }).unwrap();
        base.has_ca_certificates = !bare_debian;
        base.has_zoneinfo = !bare_debian;
    }
    r
}

fn lower_example_as(path: &Path, target: &str, build_args: &BTreeMap<String, String>, extra: &Extra) -> (llb_gen::Lowered, String) {
    let plan = plan_example(path, target, build_args, extra);
    let lowered = lower(&plan, &resolved(&plan), &plan.platforms[0]).unwrap();
    let name = if path.file_name().unwrap() == "goapp.yaml" {
        path.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned()
    } else {
        path.file_stem().unwrap().to_string_lossy().into_owned()
    };
    (lowered, name)
}

fn ops(def: &pb::Definition) -> Vec<pb::Op> {
    def.def.iter().map(|b| pb::Op::decode(b.as_slice()).unwrap()).collect()
}

#[test]
fn golden_llb_of_every_example() {
    for spec in examples() {
        for target in ["linux/amd64", "linux/arm64"] {
            let (lowered, name) = lower_example(&spec, target);
            let mut text = llb::dump::to_text(&lowered.definition).unwrap();
            text.push_str("image config\n");
            text.push_str(&serde_json::to_string_pretty(&lowered.config).unwrap());
            insta::assert_snapshot!(format!("{name}-{}", target.replace('/', "-")), text);
        }
    }
}

#[test]
fn lowering_is_deterministic() {
    for spec in examples() {
        let (a, _) = lower_example(&spec, "linux/arm64");
        for _ in 0..10 {
            let (b, _) = lower_example(&spec, "linux/arm64");
            assert_eq!(a.definition.encode_to_vec(), b.definition.encode_to_vec(), "{}", spec.display());
        }
    }
}

fn execs(def: &pb::Definition) -> Vec<(pb::ExecOp, String)> {
    ops(def)
        .into_iter()
        .filter_map(|o| match o.op {
            Some(pb::op::Op::Exec(e)) => Some((e, Platform::from_pb(o.platform.as_ref().unwrap()).id())),
            _ => None,
        })
        .collect()
}

/// On an arm64 build machine (Docker Desktop on Apple silicon, an arm64 CI runner): the
/// builder is the arm64 image and every step runs on linux/arm64; amd64 is cross-compiled.
/// `--target test` and `--target debug` of a spec with every setting of `test` and `debug`,
/// and of the hello and cgo examples (the test step runs on the build platform whatever the
/// target; the debug image is a debug build with Delve on the debug base).
#[test]
fn golden_llb_of_the_test_and_debug_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let specs = [root.join("tests/specs/ok/develop.yaml"), root.join("../examples/hello/goapp.yaml"), root.join("../examples/cgo/goapp.yaml")];
    for path in &specs {
        for target in ["test", "debug"] {
            let extra = Extra { target: Some(target), ..Default::default() };
            let (lowered, name) = lower_example_as(path, "linux/arm64", &BTreeMap::new(), &extra);
            let mut text = llb::dump::to_text(&lowered.definition).unwrap();
            if target == "debug" {
                text.push_str("image config\n");
                text.push_str(&serde_json::to_string_pretty(&lowered.config).unwrap());
            }
            insta::assert_snapshot!(format!("{name}-{target}"), text);
        }
    }
    // The tests run once, on the build platform, with no image.
    let extra = Extra { target: Some("test"), ..Default::default() };
    let plan = plan_example(&specs[1], "linux/arm64", &BTreeMap::new(), &extra);
    assert_eq!(plan.platforms, [Platform::parse("linux/amd64").unwrap()]);
    assert!(plan.images.base.is_none());
    // The debug image pulls the debug base for each platform.
    let extra = Extra { target: Some("debug"), ..Default::default() };
    let plan = plan_example(&specs[1], "linux/arm64", &BTreeMap::new(), &extra);
    assert_eq!(plan.images.base.as_ref().map(|b| b.written.to_string()).as_deref(), Some("docker.io/library/debian:bookworm-slim"));
}

#[test]
fn golden_llb_on_an_arm64_build_machine() {
    let on_arm64 = Extra { build_platform: Some("linux/arm64"), ..Default::default() };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for name in ["hello", "cgo"] {
        let path = root.join(name).join("goapp.yaml");
        for target in ["linux/amd64", "linux/arm64"] {
            let (lowered, _) = lower_example_as(&path, target, &BTreeMap::new(), &on_arm64);
            let text = llb::dump::to_text(&lowered.definition).unwrap();
            insta::assert_snapshot!(format!("{name}-{}-on-arm64", target.replace('/', "-")), text);
        }
    }
    for spec in examples().into_iter().filter(|p| !p.ends_with("cgo-emulated.yaml")) {
        for target in ["linux/amd64", "linux/arm64", "linux/arm/v7"] {
            let (lowered, _) = lower_example_as(&spec, target, &BTreeMap::new(), &on_arm64);
            for (_, platform) in execs(&lowered.definition) {
                assert_eq!(platform, "linux/arm64", "{} for {target}", spec.display());
            }
            for op in ops(&lowered.definition) {
                if let Some(pb::op::Op::Source(src)) = &op.op
                    && src.identifier.contains("golang:")
                {
                    assert_eq!(op.platform.as_ref().map(|p| p.architecture.as_str()), Some("arm64"), "{}: the builder", spec.display());
                }
            }
        }
    }
}

#[test]
fn every_exec_runs_on_the_build_platform() {
    // Every spec but the one that asks for emulation: without cgo Go cross-compiles, and
    // with cgo a cross C compiler does (also for linux/arm/v7 and linux/s390x).
    for spec in examples().into_iter().filter(|p| !p.ends_with("cgo-emulated.yaml")) {
        for target in ["linux/arm64", "linux/arm/v7", "linux/s390x"] {
            let (lowered, _) = lower_example(&spec, target);
            let execs = execs(&lowered.definition);
            assert!(!execs.is_empty());
            for (_, platform) in execs {
                assert_eq!(platform, "linux/amd64", "{} for {target}", spec.display());
            }
        }
    }
}

#[test]
fn cgo_emulated_compiles_on_the_target_and_checks_on_the_build_platform() {
    let spec = examples().into_iter().find(|p| p.ends_with("cgo-emulated.yaml")).unwrap();
    let (lowered, _) = lower_example(&spec, "linux/arm64");
    let mut seen = Vec::new();
    for (e, platform) in execs(&lowered.definition) {
        let args = &e.meta.as_ref().unwrap().args;
        let env = &e.meta.as_ref().unwrap().env;
        let step = match &args[..] {
            [go, build, ..] if go == "go" && build == "build" => {
                assert!(env.contains(&"CGO_ENABLED=1".to_string()) && env.contains(&"CC=gcc".to_string()), "{env:?}");
                // the modules of the download layer, mounted where Go looks for them
                let m = e.mounts.iter().find(|m| m.dest == "/go/pkg/mod").expect("module mount");
                assert_eq!(m.selector, "/go/pkg/mod");
                "build"
            }
            [go, m, ..] if go == "go" && m == "mod" => "download",
            [sh, _, _, name, ..] if sh == "sh" && name == "install" => {
                assert_eq!(args[4..], ["libpq-dev"], "plain packages of the target's own architecture");
                "toolchain"
            }
            [sh, _, _, name, machine, ..] if sh == "sh" && name == "check" => {
                assert_eq!(machine, "AArch64");
                assert!(e.mounts.iter().any(|m| m.dest == "/base"), "the check sees the base");
                "check"
            }
            other => panic!("unexpected exec {other:?}"),
        };
        let expected = if matches!(step, "build" | "toolchain") { "linux/arm64" } else { "linux/amd64" };
        assert_eq!(platform, expected, "{step}");
        seen.push(step);
    }
    seen.sort();
    assert_eq!(seen, ["build", "check", "download", "toolchain"]);
}

#[test]
fn cgo_cross_compiles_with_the_targets_compilers() {
    let spec = examples().into_iter().find(|p| p.ends_with("cgo/goapp.yaml")).unwrap();
    for (target, triplet, arch) in [("linux/arm64", "aarch64-linux-gnu", "arm64"), ("linux/s390x", "s390x-linux-gnu", "s390x")] {
        let (lowered, _) = lower_example(&spec, target);
        let execs = execs(&lowered.definition);
        let install = execs.iter().find(|(e, _)| e.meta.as_ref().unwrap().args.get(3).is_some_and(|a| a == "install")).expect("a toolchain step");
        let packages = &install.0.meta.as_ref().unwrap().args[4..];
        assert!(packages.contains(&format!("gcc-{triplet}")) && packages.contains(&format!("libsqlite3-dev:{arch}")), "{packages:?}");
        assert!(install.0.meta.as_ref().unwrap().args[2].contains(&format!("dpkg --add-architecture {arch}")));
        let build = execs.iter().find(|(e, _)| e.meta.as_ref().unwrap().args[..2] == ["go", "build"]).unwrap();
        let env = &build.0.meta.as_ref().unwrap().env;
        for v in [format!("CC={triplet}-gcc"), format!("CXX={triplet}-g++"), format!("PKG_CONFIG_LIBDIR=/usr/lib/{triplet}/pkgconfig:/usr/share/pkgconfig")] {
            assert!(env.contains(&v), "{v} not in {env:?}");
        }
    }
    // For the build machine's own architecture: the builder's compilers, no cross packages.
    let (lowered, _) = lower_example(&spec, "linux/amd64");
    let execs = execs(&lowered.definition);
    let install = execs.iter().find(|(e, _)| e.meta.as_ref().unwrap().args.get(3).is_some_and(|a| a == "install")).unwrap();
    assert_eq!(install.0.meta.as_ref().unwrap().args[4..], ["libsqlite3-dev"]);
}

#[test]
fn the_module_download_depends_on_module_files_only() {
    let inventory = examples().into_iter().find(|p| p.ends_with("inventory/goapp.yaml")).unwrap();
    let (lowered, _) = lower_example(&inventory, "linux/arm64");
    let ops = ops(&lowered.definition);
    let download = ops
        .iter()
        .find_map(|o| match &o.op {
            Some(pb::op::Op::Exec(e)) if e.meta.as_ref().is_some_and(|m| m.args[..] == ["go", "mod", "download"]) => Some((o, e)),
            _ => None,
        })
        .expect("a download step");
    let src = download.1.mounts.iter().find(|m| m.dest == "/src").unwrap();
    let input = &download.0.inputs[src.input as usize];
    let files = ops.iter().zip(&lowered.definition.def).find(|(_, b)| llb::digest(b) == input.digest).unwrap().0;
    let Some(pb::op::Op::File(f)) = &files.op else { panic!("the download's /src is not a file op") };
    let Some(pb::file_action::Action::Copy(c)) = &f.actions[0].action else { panic!() };
    assert_eq!(c.include_patterns, ["**/go.mod", "**/go.sum", "go.work", "go.work.sum"]);
}

#[test]
fn module_fetch_build_args_reach_every_go_command_and_nothing_else_does() {
    let args: BTreeMap<String, String> = [("GOPROXY", "http://proxy.internal:3000"), ("GONOSUMDB", "corp.example"), ("OTHER", "x")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let inventory = examples().into_iter().find(|p| p.ends_with("inventory/goapp.yaml")).unwrap();
    let (lowered, _) = lower_example_with(&inventory, "linux/arm64", &args);
    let execs: Vec<pb::ExecOp> = ops(&lowered.definition)
        .into_iter()
        .filter_map(|o| match o.op {
            Some(pb::op::Op::Exec(e)) => Some(e),
            _ => None,
        })
        .collect();
    assert!(execs.len() >= 2, "a download and a build step");
    for e in &execs {
        let env = &e.meta.as_ref().unwrap().env;
        assert!(env.contains(&"GOPROXY=http://proxy.internal:3000".to_string()), "{env:?}");
        assert!(env.contains(&"GONOSUMDB=corp.example".to_string()), "{env:?}");
        assert!(!env.iter().any(|v| v.starts_with("OTHER=")), "{env:?}");
    }
}

#[test]
fn proxy_build_args_reach_every_networked_step_and_nothing_else() {
    let args: BTreeMap<String, String> = [("HTTP_PROXY", "http://proxy.corp:3128"), ("https_proxy", "http://proxy.corp:3129"), ("no_proxy", "localhost")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // A cgo spec with modules to download has every kind of step: the module download, the
    // apt step, the compile (all of which may reach the network), and the binaries' check
    // (which may not).
    let cgo = examples().into_iter().find(|p| p.ends_with("cgo-emulated.yaml")).unwrap();
    let (lowered, _) = lower_example_with(&cgo, "linux/arm64", &args);
    let mut networked = 0;
    for (e, _) in execs(&lowered.definition) {
        let meta = e.meta.as_ref().unwrap();
        // Never in the environment, which is part of the cache key.
        assert!(!meta.env.iter().any(|v| v.to_ascii_lowercase().contains("proxy.corp")), "{:?}", meta.env);
        if e.network == pb::NetMode::None as i32 {
            assert!(meta.proxy_env.is_none(), "{:?}", meta.args);
            continue;
        }
        let p = meta.proxy_env.as_ref().unwrap_or_else(|| panic!("no proxy for {:?}", meta.args));
        assert_eq!((p.http_proxy.as_str(), p.https_proxy.as_str(), p.no_proxy.as_str()), ("http://proxy.corp:3128", "http://proxy.corp:3129", "localhost"));
        networked += 1;
    }
    assert_eq!(networked, 3, "the download, the apt step and the compile");
    assert!(llb::caps::used(&lowered.definition).contains("exec.meta.proxyenv"));
    let config = serde_json::to_string(&lowered.config).unwrap();
    assert!(!config.contains("proxy.corp"), "{config}");
    // Without proxy args, no proxy and no capability asked of BuildKit.
    let (plain, _) = lower_example(&cgo, "linux/arm64");
    assert!(execs(&plain.definition).iter().all(|(e, _)| e.meta.as_ref().unwrap().proxy_env.is_none()));
    assert!(!llb::caps::used(&plain.definition).contains("exec.meta.proxyenv"));
}

/// The files a definition's last op writes: the destinations of its copies.
fn copy_dests(def: &pb::Definition) -> Vec<String> {
    let ops = ops(def);
    // The last op is the return op (no op); the one before it is the result.
    let result = &ops[ops.len() - 2];
    let Some(pb::op::Op::File(f)) = &result.op else { panic!("the result is not a file op") };
    // A layer dated by SOURCE_DATE_EPOCH is one copy of the files staged before it.
    let staged = match &f.actions[..] {
        [pb::FileAction { action: Some(pb::file_action::Action::Copy(c)), secondary_input, .. }] if c.src == "/" && c.dest == "/" && c.timestamp >= 0 => {
            let digest = &result.inputs[*secondary_input as usize].digest;
            let op = def.def.iter().find(|b| llb::digest(b) == *digest).map(|b| pb::Op::decode(b.as_slice()).unwrap()).expect("the staged op");
            match op.op {
                Some(pb::op::Op::File(f)) => Some(f),
                _ => panic!("the staged files are not a file op"),
            }
        }
        _ => None,
    };
    let f = staged.as_ref().unwrap_or(f);
    f.actions
        .iter()
        .filter_map(|a| match &a.action {
            Some(pb::file_action::Action::Copy(c)) => Some(c.dest.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn windows_binaries_are_cross_compiled_as_exe_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // One binary (named by -o) and two built together (named by go build in a directory).
    for (example, names) in [("hello", &["/hello.exe"][..]), ("shop", &["/api.exe", "/worker.exe"])] {
        let extra = Extra { binaries: true, ..Default::default() };
        let (b, _) = lower_example_as(&root.join(format!("examples/{example}/goapp.yaml")), "windows/amd64", &BTreeMap::new(), &extra);
        let text = llb::dump::to_text(&b.definition).unwrap();
        assert_eq!(copy_dests(&b.definition), names, "{text}");
        assert!(text.contains("env GOOS=windows") && text.contains("env GOARCH=amd64"), "{text}");
        for (_, platform) in execs(&b.definition) {
            assert_eq!(platform, "linux/amd64", "{example}: every step runs on the build platform");
        }
        assert_eq!(b.config.os, "windows");
    }
    let (b, _) = lower_example_as(&root.join("examples/hello/goapp.yaml"), "windows/arm64", &BTreeMap::new(), &Extra { binaries: true, ..Default::default() });
    assert!(llb::dump::to_text(&b.definition).unwrap().contains("-o\", \"/out/hello.exe\""));
}

/// Windows images: hello (on nanoserver, by default) and a spec with cgo and every setting
/// that carries over to Windows. Every step runs on the build platform; the binaries are
/// `/app/NAME.exe` on the Windows base, pulled for the Windows platform.
#[test]
fn golden_llb_of_windows_images() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for path in [root.join("../examples/hello/goapp.yaml"), root.join("tests/specs/ok/windows.yaml")] {
        let (lowered, name) = lower_example(&path, "windows/amd64");
        let mut text = llb::dump::to_text(&lowered.definition).unwrap();
        for (_, platform) in execs(&lowered.definition) {
            assert_eq!(platform, "linux/amd64", "{name}: every step runs on the build platform");
        }
        assert_eq!(lowered.config.os_version.as_deref(), Some("10.0.26100.2605"), "{name}: the base's Windows release");
        text.push_str("image config\n");
        text.push_str(&serde_json::to_string_pretty(&lowered.config).unwrap());
        insta::assert_snapshot!(format!("{name}-windows-amd64"), text);
    }
}

#[test]
fn target_binaries_puts_the_binaries_alone_at_the_root() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // shop: two binaries on a pulled base; no base or files step is left in the graph.
    let (b, _) = lower_example_as(&root.join("examples/shop/goapp.yaml"), "linux/arm64", &BTreeMap::new(), &Extra { binaries: true, ..Default::default() });
    let text = llb::dump::to_text(&b.definition).unwrap();
    assert_eq!(copy_dests(&b.definition), ["/api", "/worker"], "{text}");
    assert!(!text.contains("distroless") && !text.contains("add files"), "{text}");
    assert_eq!(b.config.architecture, "arm64");
    assert!(b.config.config.entrypoint.is_none());
    // cgo on distroless/cc: the binary and the libraries the base lacks, which the check
    // against the base collects.
    let (c, _) = lower_example_as(&root.join("examples/cgo/goapp.yaml"), "linux/arm64", &BTreeMap::new(), &Extra { binaries: true, ..Default::default() });
    let text = llb::dump::to_text(&c.definition).unwrap();
    assert_eq!(copy_dests(&c.definition), ["/sums", "/"], "{text}");
    assert!(text.contains("cc-debian12"), "the check needs the base: {text}");
}

#[test]
fn a_git_context_and_a_replaced_module() {
    use llb_gen::context::{ContextSource, GitSource};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let extra = Extra {
        context_source: ContextSource::Git(GitSource::parse("https://example.com/inventory.git#main").unwrap()),
        named_contexts: [
            ("github.com/spf13/cobra".to_string(), "local:github.com/spf13/cobra".to_string()),
            ("gopkg.in/yaml.v3".to_string(), "https://example.com/yaml.git#v3.0.1".to_string()),
        ]
        .into(),
        ..Default::default()
    };
    let (l, _) = lower_example_as(&root.join("examples/inventory/goapp.yaml"), "linux/arm64", &BTreeMap::new(), &extra);
    let text = llb::dump::to_text(&l.definition).unwrap();
    let sources: Vec<(String, BTreeMap<String, String>)> = ops(&l.definition)
        .into_iter()
        .filter_map(|o| match o.op {
            Some(pb::op::Op::Source(s)) => Some((s.identifier, s.attrs.into_iter().collect())),
            _ => None,
        })
        .collect();
    let git = sources.iter().find(|(id, _)| id == "git://example.com/inventory.git#main").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(git.1["git.fullurl"], "https://example.com/inventory.git");
    assert_eq!(git.1["git.authtokensecret"], "GIT_AUTH_TOKEN");
    assert!(!sources.iter().any(|(id, _)| id == "local://context"), "no local context: {text}");
    assert!(sources.iter().any(|(id, _)| id == "local://github.com/spf13/cobra"), "{text}");
    assert!(sources.iter().any(|(id, _)| id == "git://example.com/yaml.git#v3.0.1"), "{text}");
    // The download and the compile see both replacements, and the edited go.mod.
    for (exec, name) in execs(&l.definition) {
        if exec.meta.as_ref().unwrap().args[0] != "go" {
            continue;
        }
        let dests: Vec<&str> = exec.mounts.iter().map(|m| m.dest.as_str()).collect();
        assert!(dests.contains(&"/goapp/replace/0") && dests.contains(&"/goapp/replace/1"), "{name}: {dests:?}");
    }
    assert!(text.contains("go.mod: replace github.com/spf13/cobra, gopkg.in/yaml.v3"), "{text}");
}

#[test]
fn platforms_share_the_builder_context_and_static_base() {
    for spec in examples() {
        let (amd, _) = lower_example(&spec, "linux/amd64");
        let (arm, _) = lower_example(&spec, "linux/arm64");
        let digests = |d: &pb::Definition| d.def.iter().map(|b| llb::digest(b)).collect::<std::collections::BTreeSet<_>>();
        let shared = digests(&amd.definition).intersection(&digests(&arm.definition)).count();
        // the builder image and the build context, and the base and files layers when there
        // are any: none of them depends on the target platform
        let layer = |what: &str| amd.config.history.iter().any(|h| h.created_by.as_deref().is_some_and(|c| c.contains(what))) as usize;
        // and the module download with its input (unless vendored)
        let download = ops(&amd.definition)
            .iter()
            .any(|o| matches!(&o.op, Some(pb::op::Op::Exec(e)) if e.meta.as_ref().is_some_and(|m| m.args[..] == ["go", "mod", "download"])));
        // and the known_hosts file of SSH secrets
        let known_hosts = ops(&amd.definition).iter().any(|o| matches!(&o.op, Some(pb::op::Op::File(f)) if f.actions.iter().any(|a| matches!(&a.action, Some(pb::file_action::Action::Mkfile(m)) if m.path == "/known_hosts"))));
        // and the files picked from the context with their modes set
        let modes = ops(&amd.definition)
            .iter()
            .any(|o| matches!(&o.op, Some(pb::op::Op::Exec(e)) if e.meta.as_ref().is_some_and(|m| m.args.iter().any(|a| a.contains("chmod 0644")))));
        // and the assets (the copy, and each named context it copies) and the `generate` step
        let custom = |what: &str| amd.definition.metadata.values().filter(|m| m.description.get("llb.customname").is_some_and(|n| n.contains(what))).count();
        let develop = custom("[builder] assets") + custom("(assets)") + custom("[builder] generate");
        // and the shared cache's program, compiled on the build platform, and its source
        let shared_cache = custom("go build goapp-cache") + custom("the shared cache program");
        // (the base and files layers are staged, then dated: two ops each; on a pulled base,
        // which is the platform's own, nothing above it is shared)
        let pulled = ops(&amd.definition)
            .iter()
            .any(|o| matches!(&o.op, Some(pb::op::Op::Source(s)) if s.identifier.starts_with("docker-image://") && !s.identifier.contains("golang:")));
        let files = if pulled { 0 } else { 2 * layer("goapp: files") };
        let expected = 2 + 2 * download as usize + 2 * layer(" base (") + files + known_hosts as usize + 2 * modes as usize + develop + shared_cache;
        assert_eq!(shared, expected, "{}", spec.display());
        assert_eq!(amd.config.architecture, "amd64");
        assert_eq!(arm.config.architecture, "arm64");
    }
}

#[test]
fn the_shared_cache_program_comes_from_the_frontend_image_for_a_compile_on_the_build_platform() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/ok/shared-cache.yaml");
    let frontend = format!("localhost:5000/goapp-frontend:dev@sha256:{}", "2".repeat(64));
    for target in ["linux/amd64", "linux/arm64"] {
        let plan = plan_example(&spec, target, &BTreeMap::new(), &Extra::default());
        let mut r = resolved(&plan);
        r.cache_program = Some(frontend.clone());
        let lowered = lower(&plan, &r, &plan.platforms[0]).unwrap();
        let all = ops(&lowered.definition);
        // No compile of the program: the image, on the build platform, is mounted instead.
        assert!(!execs(&lowered.definition).iter().any(|(e, _)| e.meta.as_ref().is_some_and(|m| m.args.iter().any(|a| a.ends_with("goapp-cache")))));
        let image = all
            .iter()
            .find(|o| matches!(&o.op, Some(pb::op::Op::Source(s)) if s.identifier.contains("goapp-frontend")))
            .expect("the frontend image is a source");
        assert_eq!(image.platform.as_ref().unwrap().architecture, "amd64", "{target}");
        let (build, _) = execs(&lowered.definition).into_iter().find(|(e, _)| e.meta.as_ref().is_some_and(|m| m.args[..2] == ["go", "build"])).unwrap();
        let program = build.mounts.iter().find(|m| m.dest == "/goapp/cache").expect("the program is mounted");
        assert_eq!((program.selector.as_str(), program.readonly), ("/lib/goapp", true));
        let env = &build.meta.as_ref().unwrap().env;
        assert!(
            env.iter().any(|e| e
                .starts_with("GOCACHEPROG=/goapp/cache/goapp-cache -dir=/root/.cache/go-build/goapp-shared -url=https://gocache.example.com/team/api -token=")),
            "{env:?}"
        );
        let secret = build.mounts.iter().find(|m| m.dest == "/run/secrets/goapp-shared-cache-token").expect("the token is mounted");
        assert!(secret.secret_opt.as_ref().is_some_and(|s| s.id == "gocache" && s.optional), "{secret:?}");
    }
}

#[test]
fn a_build_arg_makes_the_shared_cache_read_only() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/ok/shared-cache.yaml");
    let gocacheprog = |args: &[(&str, &str)]| {
        let args: BTreeMap<String, String> = args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (lowered, _) = lower_example_with(&spec, "linux/arm64", &args);
        let envs = execs(&lowered.definition).into_iter().filter_map(|(e, _)| e.meta.filter(|m| m.args[..2] == ["go", "build"]).map(|m| m.env));
        envs.flatten().find(|e| e.starts_with("GOCACHEPROG=")).expect("go build runs the cache program")
    };
    assert!(!gocacheprog(&[]).contains("-read-only"));
    assert!(gocacheprog(&[("CACHE_READ_ONLY", "true")]).ends_with(" -read-only -index=api/api-linux-arm64"));
}

#[test]
fn a_debug_build_keeps_an_index_of_its_own_in_the_shared_cache() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/ok/shared-cache.yaml");
    let index = |extra: &Extra| {
        let (lowered, _) = lower_example_as(&spec, "linux/amd64", &BTreeMap::new(), extra);
        let envs = execs(&lowered.definition).into_iter().filter_map(|(e, _)| e.meta.filter(|m| m.args[..2] == ["go", "build"]).map(|m| m.env));
        let prog = envs.flatten().find(|e| e.starts_with("GOCACHEPROG=")).expect("go build runs the cache program");
        prog.rsplit_once(" -index=").expect("an index").1.to_string()
    };
    assert_eq!(index(&Extra::default()), "api/api-linux-amd64");
    assert_eq!(index(&Extra { target: Some("debug"), ..Extra::default() }), "api/debug-api-linux-amd64");
}
