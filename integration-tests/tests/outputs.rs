//! End to end: where a goapp build goes with buildx's flags: the binaries alone to a
//! directory (`--target binaries --output type=local`), a tar of the filesystem, an OCI
//! layout, the engine's image store (`--load`), a registry with provenance attestations and
//! `--label`s, and a spec under any file name in any directory, built for its own platforms.

use std::path::Path;

use integration_tests::prelude::*;
use integration_tests::services::ModuleProxy;

/// The ELF machine of a Linux binary: 62 for x86-64, 183 for AArch64.
fn elf_machine(path: &Path) -> u16 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is not an ELF file", path.display());
    u16::from_le_bytes([bytes[18], bytes[19]])
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    n.sort();
    n
}

#[test]
fn target_binaries_exports_each_platforms_binaries_to_a_directory() {
    require_engine();
    let shop = repo_root().join("examples/shop");
    let dest = temp_dir("binaries");
    let output = format!("type=local,dest={}", dest.display());
    let r = buildx(&shop, "linux/amd64,linux/arm64", &["--target", "binaries", "--build-arg", "VERSION=3.1.4", "--output", &output]);
    assert!(r.status.success(), "{}", r.stderr);
    // Nothing of the runtime stage is built: no base, no files, no image.
    assert!(!r.stderr.contains("add files") && !r.stderr.contains("static base"), "{}", r.stderr);

    assert_eq!(names(&dest), ["linux_amd64", "linux_arm64"]);
    for (platform, machine) in [("linux_amd64", 62), ("linux_arm64", 183)] {
        let dir = dest.join(platform);
        assert_eq!(names(&dir), ["api", "worker"], "{platform}: only the binaries");
        for bin in ["api", "worker"] {
            assert_eq!(elf_machine(&dir.join(bin)), machine, "{platform}/{bin}");
            let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.join(bin)).unwrap().permissions());
            assert_eq!(mode & 0o777, 0o755, "{platform}/{bin}");
        }
    }
    // The binary for this machine runs here, as it would from a release archive.
    let version = ok(Path::new("/"), &dest.join("linux_amd64/api").display().to_string(), &["--version"]);
    assert!(version.contains("3.1.4"), "{version}");
}

#[test]
fn tar_oci_and_load_outputs() {
    require_engine();
    let hello = repo_root().join("examples/hello");
    let out = temp_dir("outputs");

    // type=tar: the image's filesystem.
    let tar = out.join("fs.tar");
    let r = buildx(&hello, "linux/arm64", &["--output", &format!("type=tar,dest={}", tar.display())]);
    assert!(r.status.success(), "{}", r.stderr);
    let listing = ok(&out, "tar", &["tf", "fs.tar"]);
    for path in ["usr/local/bin/hello", "etc/ssl/certs/ca-certificates.crt", "etc/passwd"] {
        assert!(listing.lines().any(|l| l.trim_start_matches("./") == path), "{path} in:\n{listing}");
    }

    // type=oci: an OCI image layout with the index of both platforms.
    let oci = out.join("oci.tar");
    let r = buildx(&hello, "linux/amd64,linux/arm64", &["--output", &format!("type=oci,dest={}", oci.display())]);
    assert!(r.status.success(), "{}", r.stderr);
    let layout = out.join("oci");
    std::fs::create_dir_all(&layout).unwrap();
    ok(&layout, "tar", &["xf", "../oci.tar"]);
    let index: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(layout.join("index.json")).unwrap()).unwrap();
    let top = index["manifests"][0]["digest"].as_str().expect("one index").trim_start_matches("sha256:").to_string();
    let inner: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(layout.join("blobs/sha256").join(top)).unwrap()).unwrap();
    let mut platforms: Vec<String> = inner["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["platform"]["os"] != "unknown")
        .map(|m| format!("{}/{}", m["platform"]["os"].as_str().unwrap(), m["platform"]["architecture"].as_str().unwrap()))
        .collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{inner}");

    // --load: into the engine's image store, where it runs.
    let tag = format!("goapp-e2e/hello-load:{}", std::process::id());
    let r = buildx(&hello, "linux/amd64", &["--load", "-t", &tag]);
    assert!(r.status.success(), "{}", r.stderr);
    let said = ok(Path::new("/"), "docker", &["run", "--rm", &tag, "--once"]);
    let _ = run(Path::new("/"), "docker", &["image", "rm", &tag]);
    assert!(said.contains("hi from linux/amd64"), "{said}");
}

#[test]
fn provenance_attestations_and_labels_reach_the_registry() {
    require_engine();
    let hello = repo_root().join("examples/hello");
    let image = unique_tag("provenance");
    buildx_push(&hello, "linux/amd64,linux/arm64", &image, &["--provenance=mode=max", "--label", "org.example.team=payments"]);

    let (repo, tag) = repo_and_tag(&image);
    let index = registry_json(&format!("{repo}/manifests/{tag}"));
    let manifests = index["manifests"].as_array().unwrap();
    let attestations: Vec<&serde_json::Value> = manifests.iter().filter(|m| m["annotations"]["vnd.docker.reference.type"] == "attestation-manifest").collect();
    assert_eq!(attestations.len(), 2, "one attestation manifest per platform: {index}");
    for a in attestations {
        let m = registry_json(&format!("{repo}/manifests/{}", a["digest"].as_str().unwrap()));
        let layer = m["layers"].as_array().unwrap().iter().find(|l| l["annotations"]["in-toto.io/predicate-type"] == "https://slsa.dev/provenance/v0.2");
        let layer = layer.unwrap_or_else(|| panic!("no provenance in {m}"));
        let statement = registry_json(&format!("{repo}/blobs/{}", layer["digest"].as_str().unwrap()));
        // mode=max records the build's steps (goapp's compile among them), the images it
        // pulled and the spec the steps map to.
        let text = statement.to_string();
        assert!(text.contains(r#"["go","build""#), "{text}");
        assert!(text.contains("pkg:docker/localhost%3A5000/library/golang@1.27"), "{text}");
        assert!(text.contains(r#""filename":"goapp.yaml","language":"YAML""#), "{text}");
        assert_eq!(statement["predicate"]["invocation"]["parameters"]["frontend"], "gateway.v0", "{text}");
    }
    for img in index_images(&image) {
        assert_eq!(img.config["config"]["Labels"]["org.example.team"], "payments", "{}", img.platform);
    }
}

#[test]
fn sbom_attestations_list_the_modules_linked_into_each_platforms_binaries() {
    require_engine();
    let inventory = repo_root().join("examples/inventory");
    let image = unique_tag("sbom");
    let modules = ModuleProxy::start();
    let proxy = format!("GOPROXY={}", modules.url);
    // BuildKit's own scanner image (docker.io) is out of reach here: the build passing shows
    // that goapp's SBOM stands in for it.
    buildx_push(&inventory, "linux/amd64,linux/arm64", &image, &["--sbom=true", "--build-arg", &proxy]);

    let (repo, tag) = repo_and_tag(&image);
    let index = registry_json(&format!("{repo}/manifests/{tag}"));
    let mut seen = 0;
    for m in index["manifests"].as_array().unwrap() {
        if m["annotations"]["vnd.docker.reference.type"] != "attestation-manifest" {
            continue;
        }
        let manifest = registry_json(&format!("{repo}/manifests/{}", m["digest"].as_str().unwrap()));
        let layer = manifest["layers"].as_array().unwrap().iter().find(|l| l["annotations"]["in-toto.io/predicate-type"] == "https://spdx.dev/Document");
        let layer = layer.unwrap_or_else(|| panic!("no SBOM in {manifest}"));
        let statement = registry_json(&format!("{repo}/blobs/{}", layer["digest"].as_str().unwrap()));
        // The statement is about the platform's image.
        let subject = statement["subject"][0]["digest"]["sha256"].as_str().unwrap();
        assert_eq!(format!("sha256:{subject}"), m["annotations"]["vnd.docker.reference.digest"].as_str().unwrap());
        let doc = &statement["predicate"];
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        let purls: Vec<&str> = doc["packages"].as_array().unwrap().iter().filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str()).collect();
        for want in [
            "pkg:golang/example.com/inventory",
            "pkg:golang/github.com/spf13/cobra@v1.6.1",
            "pkg:golang/golang.org/x/text@v0.7.0",
            "pkg:golang/gopkg.in/yaml.v3@v3.0.1",
        ] {
            assert!(purls.contains(&want), "{want} in {purls:?}");
        }
        assert!(purls.iter().any(|p| p.starts_with("pkg:golang/stdlib@v1.26")), "{purls:?}");
        seen += 1;
    }
    assert_eq!(seen, 2, "an SBOM per platform: {index}");
}

#[test]
fn an_imported_cache_skips_the_compile_on_an_empty_engine() {
    require_engine();
    let hello = repo_root().join("examples/hello");
    let local = temp_dir("cache-local");
    let registry = unique_tag("cache-store");
    for (to, from) in [
        (format!("type=local,dest={},mode=max", local.display()), format!("type=local,src={}", local.display())),
        (format!("type=registry,ref={registry},mode=max"), format!("type=registry,ref={registry}")),
    ] {
        buildx_push(&hello, "linux/amd64,linux/arm64", &unique_tag("cache"), &["--cache-to", &to]);
        // An engine with no build cache, as on a fresh CI runner.
        ok(Path::new("/"), "docker", &["buildx", "prune", "-af"]);
        let image = unique_tag("cache");
        let progress = buildx_push(&hello, "linux/amd64,linux/arm64", &image, &["--cache-from", &from]);
        for platform in ["linux/amd64", "linux/arm64"] {
            assert_eq!(step_outcome(&progress, &format!("[{platform}] go build")), "CACHED", "{from}: {platform} compiled again:\n{progress}");
        }
        let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", "linux/arm64", &image, "--once"]);
        assert!(out.contains("hi from linux/arm64"), "{from}: {out}");
    }
}

#[test]
fn pull_resolves_the_base_in_the_registry_again() {
    require_engine();
    // The engine holds one image under the base's tag (a copy of the alpine stand-in); the
    // registry has since moved the tag to another (the debian stand-in).
    let base = unique_tag("pull-base");
    ok(Path::new("/"), "docker", &["buildx", "imagetools", "create", "-t", &base, "localhost:5000/library/alpine:3.20"]);
    ok(Path::new("/"), "docker", &["pull", "-q", "--platform", "linux/amd64", &base]);
    let local = ok(Path::new("/"), "docker", &["image", "inspect", "-f", "{{.Id}}", &base]).trim().to_string();
    ok(Path::new("/"), "docker", &["buildx", "imagetools", "create", "-t", &base, "localhost:5000/library/debian:bookworm-slim"]);
    let remote =
        ok(Path::new("/"), "docker", &["buildx", "imagetools", "inspect", "--format", "{{json .Manifest.Digest}}", &base]).trim().trim_matches('"').to_string();
    assert_ne!(local, remote);

    let dir = example_variant("hello", "pull", |spec| spec.replace("base: static", &format!("base: {base}")));
    let base_digest = |extra: &[&str]| {
        let image = unique_tag("pull");
        buildx_push(&dir, "linux/amd64", &image, extra);
        let img = index_images(&image).into_iter().next().unwrap();
        img.config["config"]["Labels"]["org.opencontainers.image.base.digest"].as_str().unwrap().to_string()
    };
    // Without --pull the engine's image serves; with it, the registry's.
    assert_eq!(base_digest(&[]), local);
    assert_eq!(base_digest(&["--pull"]), remote);
    let _ = run(Path::new("/"), "docker", &["image", "rm", &base]);
}

#[test]
fn dockerignore_keeps_files_out_of_the_context() {
    require_engine();
    let dir = example_variant("hello", "dockerignore", |spec| format!("{spec}  files:\n    - src: assets\n      dest: /assets/\n"));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("assets/keep.txt"), "kept\n").unwrap();
    std::fs::write(dir.join("assets/drop.txt"), "dropped\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "# not sent\nassets/drop.txt\n").unwrap();
    let image = unique_tag("dockerignore");
    buildx_push(&dir, "linux/amd64", &image, &[]);
    let img = index_images(&image).into_iter().next().unwrap();
    let files = image_files(&image, &img);
    assert!(files.iter().any(|l| l.ends_with("assets/keep.txt")), "{files:#?}");
    assert!(!files.iter().any(|l| l.ends_with("assets/drop.txt")), "{files:#?}");
}

#[test]
fn a_spec_with_any_name_in_a_subdirectory_builds_for_its_own_platforms() {
    require_engine();
    let dir = temp_dir("any-name");
    copy_dir(&repo_root().join("examples/hello"), &dir);
    std::fs::create_dir_all(dir.join("deploy")).unwrap();
    std::fs::rename(dir.join("goapp.yaml"), dir.join("deploy/hello.goapp.yml")).unwrap();
    let image = unique_tag("any-name");
    // No --platform: the spec's platforms (linux/amd64 and linux/arm64).
    let args = [
        "buildx",
        "build",
        "--progress=plain",
        "--build-arg",
        "GOAPP_REGISTRY_MIRROR=localhost:5000",
        "-f",
        "deploy/hello.goapp.yml",
        "-t",
        &image,
        "--push",
        ".",
    ];
    let r = docker_push(&dir, &args);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("load build definition from hello.goapp.yml"), "{}", r.stderr);
    assert_eq!(index_platforms(&image), ["linux/amd64", "linux/arm64"]);
}

#[test]
fn file_modes_do_not_depend_on_the_sending_machine() {
    require_engine();
    use std::os::unix::fs::PermissionsExt;
    let dir = example_variant("hello", "file-modes", |spec| format!("{spec}  files:\n    - src: assets\n      dest: /srv/assets/\n"));
    std::fs::create_dir_all(dir.join("assets/sub")).unwrap();
    std::fs::write(dir.join("assets/run.sh"), "#!/bin/sh\necho run\n").unwrap();
    std::fs::write(dir.join("assets/notes.txt"), "notes\n").unwrap();
    std::fs::write(dir.join("assets/sub/data.json"), "{}\n").unwrap();
    std::fs::copy("/bin/true", dir.join("assets/true")).unwrap();
    let chmod = |path: &str, mode: u32| std::fs::set_permissions(dir.join(path), std::fs::Permissions::from_mode(mode)).unwrap();
    // What three machines send for the same files: a Linux checkout with umask 022, one with
    // umask 077 and 002 mixed, and Windows, where everything arrives 0755.
    let machines: [(&str, [u32; 6]); 3] =
        [("linux", [0o755, 0o755, 0o755, 0o644, 0o644, 0o755]), ("umask", [0o775, 0o700, 0o700, 0o664, 0o600, 0o750]), ("windows", [0o755; 6])];
    let mut manifests = Vec::new();
    for (machine, [assets, sub, run, notes, data, program]) in machines {
        chmod("assets", assets);
        chmod("assets/sub", sub);
        chmod("assets/run.sh", run);
        chmod("assets/notes.txt", notes);
        chmod("assets/sub/data.json", data);
        chmod("assets/true", program);
        let image = unique_tag(&format!("file-modes-{machine}"));
        buildx_push(&dir, "linux/amd64", &image, &[]);
        let img = index_images(&image).into_iter().next().unwrap();
        let files = image_files(&image, &img);
        let mode = |path: &str| {
            let line = files.iter().find(|l| l.split_whitespace().last() == Some(path)).unwrap_or_else(|| panic!("no {path} in {files:#?}"));
            line.split_whitespace().next().unwrap().to_string()
        };
        assert_eq!(mode("srv/assets/"), "drwxr-xr-x", "{machine}");
        assert_eq!(mode("srv/assets/sub/"), "drwxr-xr-x", "{machine}");
        assert_eq!(mode("srv/assets/run.sh"), "-rwxr-xr-x", "{machine}");
        assert_eq!(mode("srv/assets/true"), "-rwxr-xr-x", "{machine}");
        assert_eq!(mode("srv/assets/notes.txt"), "-rw-r--r--", "{machine}");
        assert_eq!(mode("srv/assets/sub/data.json"), "-rw-r--r--", "{machine}");
        manifests.push((machine, img.manifest));
    }
    for (machine, manifest) in &manifests[1..] {
        assert_eq!(manifest, &manifests[0].1, "the image from {machine} differs from the one from {}", manifests[0].0);
    }
}

#[test]
fn a_files_pattern_copies_what_it_matches_and_a_wrong_directory_case_is_named() {
    require_engine();
    let dir = example_variant("hello", "files-pattern", |spec| format!("{spec}  files:\n    - src: site/*.html\n      dest: /srv/www/\n"));
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(dir.join("site/index.html"), "<p>hi</p>\n").unwrap();
    std::fs::write(dir.join("site/about.html"), "<p>about</p>\n").unwrap();
    std::fs::write(dir.join("site/style.css"), "p {}\n").unwrap();
    let image = unique_tag("files-pattern");
    buildx_push(&dir, "linux/amd64", &image, &[]);
    let img = index_images(&image).into_iter().next().unwrap();
    let files = image_files(&image, &img);
    for (path, there) in [("srv/www/index.html", true), ("srv/www/about.html", true), ("srv/www/style.css", false)] {
        assert_eq!(files.iter().any(|l| l.ends_with(path)), there, "{path}: {files:#?}");
    }
    // The directory written in the wrong case: the path meant, before anything builds.
    let wrong = example_variant("hello", "files-wrong-dir", |spec| format!("{spec}  files:\n    - src: Site/index.html\n      dest: /srv/www/\n"));
    std::fs::create_dir_all(wrong.join("site")).unwrap();
    std::fs::write(wrong.join("site/index.html"), "<p>hi</p>\n").unwrap();
    let r = buildx(&wrong, "linux/amd64", &[]);
    assert!(!r.status.success(), "the build passed");
    assert!(r.stderr.contains("did you mean `site/index.html`?"), "{}", r.stderr);
    assert!(!r.stderr.contains("go build"), "{}", r.stderr);
}

#[test]
fn windows_binaries_are_exe_files_cross_compiled_beside_the_linux_ones() {
    require_engine();
    let shop = repo_root().join("examples/shop");
    let dest = temp_dir("windows-binaries");
    let output = format!("type=local,dest={}", dest.display());
    let r = buildx(&shop, "linux/amd64,windows/amd64,windows/arm64", &["--target", "binaries", "--output", &output]);
    assert!(r.status.success(), "{}", r.stderr);
    assert_eq!(names(&dest), ["linux_amd64", "windows_amd64", "windows_arm64"]);
    assert_eq!(names(&dest.join("linux_amd64")), ["api", "worker"]);
    // PE files for the machine of each platform (IMAGE_FILE_MACHINE_AMD64, _ARM64).
    for (platform, machine) in [("windows_amd64", 0x8664), ("windows_arm64", 0xaa64)] {
        let dir = dest.join(platform);
        assert_eq!(names(&dir), ["api.exe", "worker.exe"], "{platform}");
        for bin in ["api.exe", "worker.exe"] {
            assert_eq!(pe_machine(&dir.join(bin)), machine, "{platform}/{bin}");
        }
    }
}

/// The machine field of a PE file's COFF header.
fn pe_machine(path: &Path) -> u16 {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..2], b"MZ", "{} is not a PE file", path.display());
    let pe = u32::from_le_bytes(bytes[0x3c..0x40].try_into().unwrap()) as usize;
    assert_eq!(&bytes[pe..pe + 4], b"PE\0\0", "{}: no PE signature", path.display());
    u16::from_le_bytes([bytes[pe + 4], bytes[pe + 5]])
}
