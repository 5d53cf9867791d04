//! End to end: the frontend image itself, as `scripts/build-frontend` makes it. One index for
//! linux/amd64 and linux/arm64, each `scratch` plus one static binary (the arm64 one
//! cross-compiled on this machine); the arm64 binary gives the same answers as the amd64 one,
//! run under QEMU; and BuildKit runs the arm64 image when a spec pins its digest.

use std::path::{Path, PathBuf};
use std::process::Command;

use integration_tests::buildx::current_buildx;
use integration_tests::prelude::*;

const FRONTEND: &str = "localhost:5000/goapp-frontend:dev";

/// The binary `scripts/build-frontend` built for ARCH (and put in the image).
fn dist(arch: &str) -> PathBuf {
    let path = repo_root().join("target/dist").join(arch).join("goapp-frontend");
    assert!(path.exists(), "no {}: run scripts/build-frontend", path.display());
    path
}

/// The ELF machine of a binary, and whether it asks for a program interpreter (is dynamic).
fn elf_machine_and_interp(bin: &[u8]) -> (u16, bool) {
    assert!(bin.len() > 64 && &bin[..4] == b"\x7fELF" && bin[4] == 2 && bin[5] == 1, "not a 64-bit little-endian ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([bin[o], bin[o + 1]]);
    let phoff = u64::from_le_bytes(bin[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(54) as usize, u16_at(56) as usize);
    const PT_INTERP: u32 = 3;
    let interp = (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(bin[o..o + 4].try_into().unwrap()) == PT_INTERP
    });
    (u16_at(18), interp)
}

#[test]
fn the_frontend_image_is_one_index_of_static_binaries_for_amd64_and_arm64() {
    require_engine();
    let images = index_images(FRONTEND);
    let mut platforms: Vec<&str> = images.iter().map(|i| i.platform.as_str()).collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    for img in &images {
        let arch = img.platform.rsplit('/').next().unwrap();
        assert_eq!(img.config["architecture"], arch);
        let cfg = &img.config["config"];
        assert_eq!(cfg["Entrypoint"], serde_json::json!(["/goapp-frontend", "gateway"]), "{}", img.platform);
        assert_eq!(cfg["Labels"]["moby.buildkit.frontend.network.none"], "true");
        assert!(cfg["Labels"]["moby.buildkit.frontend.caps"].as_str().unwrap_or("").contains("moby.buildkit.frontend.subrequests"), "{cfg}");

        // scratch plus two files, executable by anyone, a layer each: the binary and the
        // shared cache's program.
        let layers = img.manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2, "{}: {layers:?}", img.platform);
        let files: Vec<String> = image_files(FRONTEND, img).into_iter().filter(|l| !l.starts_with('d')).collect();
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files[0].starts_with("-rwxr-xr-x 0/0 ") && files[0].ends_with(" goapp-frontend"), "{}", files[0]);
        assert!(files[1].starts_with("-rwxr-xr-x 0/0 ") && files[1].ends_with(" lib/goapp/goapp-cache"), "{}", files[1]);

        // Each layer holds its program built for this platform, linked statically.
        let (repo, _) = repo_and_tag(FRONTEND);
        for (layer, path) in layers.iter().zip(["goapp-frontend", "lib/goapp/goapp-cache"]) {
            let url = format!("http://{REGISTRY}/v2/{repo}/blobs/{}", layer["digest"].as_str().unwrap());
            let out = Command::new("sh").args(["-c", &format!("curl -fsS '{url}' | tar xzOf - {path}")]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let (machine, dynamic) = elf_machine_and_interp(&out.stdout);
            const EM_X86_64: u16 = 62;
            const EM_AARCH64: u16 = 183;
            assert_eq!(machine, if arch == "amd64" { EM_X86_64 } else { EM_AARCH64 }, "{} {path}", img.platform);
            assert!(!dynamic, "{}: {path} asks for a dynamic loader", img.platform);
            if path == "goapp-frontend" {
                assert!(out.stdout == std::fs::read(dist(arch)).unwrap(), "{}: the image holds another binary than target/dist/{arch}", img.platform);
            }
            eprintln!("{}: {path}: layer {} bytes compressed, binary {} bytes", img.platform, layer["size"], out.stdout.len());
        }
    }
}

/// What a command printed and how it ended, for comparing two runs of it.
fn answer(mut cmd: Command) -> (Option<i32>, String, String) {
    let r = integration_tests::run::run_command(&mut cmd);
    (r.status.code(), r.stdout, r.stderr)
}

#[test]
fn the_arm64_binary_answers_as_the_amd64_one_under_qemu() {
    require_engine();
    let (amd64, arm64) = (dist("amd64"), dist("arm64"));
    let run_both = |dir: &Path, args: &[&str]| {
        let mut native = Command::new(&amd64);
        native.args(args).current_dir(dir);
        // qemu-aarch64 named, not left to binfmt_misc: the arm64 binary really runs emulated.
        let mut emulated = Command::new("qemu-aarch64-static");
        emulated.arg(&arm64).args(args).current_dir(dir);
        let (a, b) = (answer(native), answer(emulated));
        assert_eq!(a, b, "`goapp-frontend {}` in {} answers differently on arm64", args.join(" "), dir.display());
        a
    };
    let mut examples = 0;
    for entry in std::fs::read_dir(repo_root().join("examples")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("goapp.yaml").exists() {
            continue;
        }
        examples += 1;
        let (code, out, _) = run_both(&dir, &["validate", "goapp.yaml"]);
        assert_eq!(code, Some(0), "{}: {out}", dir.display());
        run_both(&dir, &["targets", "goapp.yaml"]);
        run_both(&dir, &["plan", "--platform", "linux/amd64,linux/arm64", "goapp.yaml"]);
        for build in ["linux/amd64", "linux/arm64"] {
            for target in ["linux/amd64", "linux/arm64", "linux/arm/v7"] {
                let (code, dump, err) = run_both(&dir, &["llb", "--build-platform", build, "--platform", target, "goapp.yaml"]);
                assert_eq!(code, Some(0), "{}: {err}", dir.display());
                assert!(dump.contains("\"go\", \"build\""), "{dump}");
                run_both(&dir, &["llb", "--raw", "--build-platform", build, "--platform", target, "goapp.yaml"]);
            }
        }
    }
    assert!(examples >= 6, "examples/ has {examples} specs");
    // And the errors: every broken spec of the diagnostics tests gives the same message.
    let bad = repo_root().join("llb-gen/tests/specs/bad");
    let mut broken = 0;
    for entry in std::fs::read_dir(&bad).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") {
            broken += 1;
            let (code, _, err) = run_both(&bad, &["validate", &name]);
            assert_ne!(code, Some(0), "{name}: {err}");
        }
    }
    assert!(broken > 100, "{broken} broken specs");
}

#[test]
fn a_spec_that_pins_the_arm64_frontend_image_is_built_by_it() {
    require_engine();
    let arm64 = index_images(FRONTEND).into_iter().find(|i| i.platform == "linux/arm64").expect("an arm64 frontend image");
    let pinned = format!("# syntax=localhost:5000/goapp-frontend@{}", arm64.digest);
    let dir = example_variant("hello", "arm64-frontend", |spec| {
        let (first, rest) = spec.split_once('\n').unwrap();
        assert!(first.starts_with("# syntax="), "{first}");
        format!("{pinned}\n{rest}")
    });

    // BuildKit runs that image (under QEMU here): the plan says which binary made it.
    let r = current_buildx(&dir, &["--progress=quiet", "--call", "goapp.plan"]);
    assert!(r.status.success(), "{}", r.stderr);
    let json = &r.stdout[r.stdout.find('{').unwrap_or_else(|| panic!("a JSON document in {}", r.stdout))..];
    let plan: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(plan["frontend"]["platform"], "linux/arm64", "{plan}");

    // And it builds both platforms, each image running.
    let image = unique_tag("hello-arm64-frontend");
    buildx_push(&dir, "linux/amd64,linux/arm64", &image, &[]);
    assert_eq!(index_platforms(&image), ["linux/amd64", "linux/arm64"]);
    for p in ["linux/amd64", "linux/arm64"] {
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", p, &image, "--once"]);
        assert!(out.contains(&format!("hi from {p}")), "{p}: {out}");
    }
}
