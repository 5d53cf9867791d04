//! End to end: Windows images from the same spec as the Linux ones, built on this Linux
//! engine with nothing run on Windows. Microsoft's registry is out of reach, so the Windows
//! bases are the test environment's stand-ins (base-images.sh: the Windows layer format, a
//! Windows config with `os.version`); the programs taken out of the images run under Wine.
//! What this cannot show is a Windows host running the image.

use std::collections::BTreeMap;
use std::path::Path;

use integration_tests::prelude::*;
use integration_tests::services::Wine;

/// The stand-in for `runtime.windows.base`'s default, behind the registry mirror.
const NANOSERVER: &str = "localhost:5000/mcr.microsoft.com/windows/nanoserver:ltsc2022";

/// The Windows release of the stand-in base: `os.version` of its entry in its index.
fn base_os_version() -> String {
    let images = index_images(NANOSERVER);
    let w = images
        .iter()
        .find(|i| i.platform == "windows/amd64")
        .unwrap_or_else(|| panic!("{NANOSERVER} has no windows/amd64 image: run integration-tests/env/up.sh"));
    w.index_platform["os.version"].as_str().unwrap_or_else(|| panic!("{NANOSERVER}: no os.version in {}", w.index_platform)).to_string()
}

#[test]
fn one_index_holds_linux_and_windows_images_in_the_windows_layer_format() {
    require_engine();
    let hello = repo_root().join("examples/hello");
    let image = unique_tag("windows");
    buildx_push(&hello, "linux/amd64,linux/arm64,windows/amd64", &image, &["--sbom=true", "--provenance=mode=max"]);
    assert_eq!(index_platforms(&image), ["linux/amd64", "linux/arm64", "windows/amd64"]);

    let images = index_images(&image);
    let w = images.iter().find(|i| i.platform == "windows/amd64").unwrap();
    // The Windows release the image runs on, in the index (where Windows hosts choose by
    // it) and in the config: the base's.
    let release = base_os_version();
    assert_eq!(w.index_platform["os.version"], release.as_str(), "{}", w.index_platform);
    assert_eq!(w.config["os.version"], release.as_str());
    assert!(images.iter().filter(|i| i.platform.starts_with("linux/")).all(|i| i.index_platform.get("os.version").is_none()));

    // The config, for Windows.
    let c = &w.config["config"];
    assert_eq!(w.config["os"], "windows");
    assert_eq!(c["User"], "ContainerUser", "{c}");
    assert_eq!(c["Entrypoint"], serde_json::json!(["C:\\app\\hello.exe"]), "{c}");
    assert_eq!(c["Cmd"], serde_json::json!(["--listen", ":8080"]), "{c}");
    assert_eq!(c["WorkingDir"], "C:\\", "{c}");
    assert!(c["ExposedPorts"]["8080/tcp"].is_object(), "{c}");
    assert!(c.get("StopSignal").is_none(), "{c}");
    let env: Vec<&str> = c["Env"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or_else(|| panic!("no PATH: {env:?}"));
    assert!(path.starts_with("C:\\app;") && path.contains("C:\\Windows"), "{path}");
    assert!(env.contains(&"GREETING=hi"), "{env:?}");
    assert_eq!(c["Labels"]["org.opencontainers.image.base.name"], "mcr.microsoft.com/windows/nanoserver:ltsc2022", "{c}");

    // The layers: the base's, as they are, then goapp's in the Windows layer format: every
    // path under `Files/` (the C: drive) or `Hives/` (the registry), each entry with the
    // file attributes Windows reads from its PAX records.
    let (repo, _) = repo_and_tag(&image);
    let (base_repo, _) = repo_and_tag(NANOSERVER);
    let base = index_images(NANOSERVER).into_iter().find(|i| i.platform == "windows/amd64").unwrap();
    let base_layers = base.manifest["layers"].as_array().unwrap();
    let layers = w.manifest["layers"].as_array().unwrap();
    assert_eq!(&layers[..base_layers.len()], &base_layers[..], "the base's layers come first, unchanged");
    assert!(!layer_entries(base_repo, base_layers[0]["digest"].as_str().unwrap()).is_empty());
    let mut exe = None;
    let mut paths = Vec::new();
    for layer in &layers[base_layers.len()..] {
        for e in layer_entries(repo, layer["digest"].as_str().unwrap()) {
            assert!(e.path == "Files" || e.path == "Hives" || e.path.starts_with("Files/") || e.path.starts_with("Hives/"), "not a Windows layer: {}", e.path);
            // (No links: BuildKit writes a symbolic link's target under `Files/` too, which
            // Windows would read as another path.)
            assert!(e.link.is_none(), "{} is a link to {:?}", e.path, e.link);
            paths.push(e.path.clone());
            let attrs: u32 = e.pax.get("MSWINDOWS.fileattr").unwrap_or_else(|| panic!("{}: no MSWINDOWS.fileattr in {:?}", e.path, e.pax)).parse().unwrap();
            // FILE_ATTRIBUTE_DIRECTORY on directories only.
            assert_eq!(attrs & 0x10 != 0, e.directory, "{}: attributes {attrs:#x}", e.path);
            if e.path == "Files/app/hello.exe" {
                exe = Some(e.data.clone());
            }
        }
    }
    assert!(!paths.iter().any(|p| p.contains("zoneinfo")), "the binaries carry the time zone database: {paths:?}");
    let exe = exe.unwrap_or_else(|| panic!("no Files/app/hello.exe in goapp's layers: {paths:?}"));

    // The program, taken out of the image, runs under Wine and says where it runs.
    let dir = temp_dir("windows-exe");
    let file = dir.join("hello.exe");
    std::fs::write(&file, &exe).unwrap();
    let r = Wine::start().run(&file, &["-once"]);
    assert!(r.status.success(), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("hello from windows/amd64 (go1."), "{}", r.stdout);

    // An SBOM and a provenance attestation for every platform, the Windows one too.
    let index = registry_json(&format!("{repo}/manifests/{}", repo_and_tag(&image).1));
    let mut attested: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in index["manifests"].as_array().unwrap().iter().filter(|m| m["annotations"]["vnd.docker.reference.type"] == "attestation-manifest") {
        let manifest = registry_json(&format!("{repo}/manifests/{}", m["digest"].as_str().unwrap()));
        let kinds =
            manifest["layers"].as_array().unwrap().iter().map(|l| l["annotations"]["in-toto.io/predicate-type"].as_str().unwrap().to_string()).collect();
        attested.insert(m["annotations"]["vnd.docker.reference.digest"].as_str().unwrap().to_string(), kinds);
    }
    let kinds = attested.get(&w.digest).unwrap_or_else(|| panic!("no attestations of the Windows image: {index}"));
    assert!(kinds.contains(&"https://spdx.dev/Document".to_string()) && kinds.iter().any(|k| k.starts_with("https://slsa.dev/provenance/")), "{kinds:?}");
    assert_eq!(attested.len(), 3, "{index}");
}

/// A cgo program for Windows: its C code compiled by MinGW-w64 on the build platform, linked
/// statically (the check in the build says which DLLs it imports: none of MinGW's), and run
/// under Wine, with the time zone database in it; on servercore, with the Windows account and
/// paths the spec sets.
#[test]
fn cgo_for_windows_is_cross_compiled_by_mingw_and_linked_statically() {
    require_engine();
    let dir = temp_dir("windows-cgo");
    std::fs::write(dir.join("go.mod"), "module example.com/wincalc\n\ngo 1.26\n").unwrap();
    std::fs::write(
        dir.join("main.go"),
        r#"// Command wincalc adds in C and says where it runs.
package main

/*
#include <stdio.h>
static int add(int a, int b) { return a + b; }
static void hello(void) { printf("C says hello\n"); fflush(stdout); }
*/
import "C"

import (
	"fmt"
	"runtime"
	"time"
)

func main() {
	C.hello()
	fmt.Printf("2+3=%d on %s/%s\n", int(C.add(2, 3)), runtime.GOOS, runtime.GOARCH)
	loc, err := time.LoadLocation("Europe/Paris")
	fmt.Printf("zone %v %v\n", loc, err)
}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("goapp.yaml"),
        "# syntax=localhost:5000/goapp-frontend:dev\nname: wincalc\nmain: .\ngo:\n  cgo: true\n  static: true\nruntime:\n  workdir: /data\n  windows:\n    base: servercore\n    user: ContainerAdministrator\n",
    )
    .unwrap();
    let image = unique_tag("windows-cgo");
    // --no-cache: the compile and its check really run (a cached step prints nothing).
    let r = pushed(|| buildx(&dir, "windows/amd64", &["-t", &image, "--push", "--progress=plain", "--no-cache"]));
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("x86_64-w64-mingw32-gcc-posix") || r.stderr.contains("MinGW-w64"), "{}", r.stderr);
    // The check after the compile: a PE program for x86-64 importing Windows' own DLLs.
    let check =
        r.stderr.lines().find(|l| l.contains("wincalc.exe: pei-x86-64, statically linked; imports")).unwrap_or_else(|| panic!("no check line:\n{}", r.stderr));
    assert!(!check.to_ascii_lowercase().contains("libwinpthread") && check.contains("KERNEL32.dll"), "{check}");

    let img = single_image(&image);
    assert_eq!(img.platform, "windows/amd64");
    let c = &img.config["config"];
    assert_eq!(c["User"], "ContainerAdministrator");
    assert_eq!(c["WorkingDir"], "C:\\data");
    assert_eq!(c["Labels"]["org.opencontainers.image.base.name"], "mcr.microsoft.com/windows/servercore:ltsc2022");
    let (repo, _) = repo_and_tag(&image);
    let layers = img.manifest["layers"].as_array().unwrap();
    let exe = layers
        .iter()
        .flat_map(|l| layer_entries(repo, l["digest"].as_str().unwrap()))
        .find(|e| e.path == "Files/app/wincalc.exe")
        .unwrap_or_else(|| panic!("no Files/app/wincalc.exe in {image}"));
    let file = temp_dir("windows-cgo-exe").join("wincalc.exe");
    std::fs::write(&file, &exe.data).unwrap();
    let dlls = ok(Path::new("/"), "objdump", &["-p", file.to_str().unwrap()]);
    let imported: Vec<&str> = dlls.lines().filter_map(|l| l.trim().strip_prefix("DLL Name: ")).collect();
    assert!(!imported.is_empty() && imported.iter().all(|d| !d.to_ascii_lowercase().starts_with("lib")), "{imported:?}");
    let r = Wine::start().run(&file, &[]);
    assert!(r.status.success(), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("C says hello") && r.stdout.contains("2+3=5 on windows/amd64"), "{}", r.stdout);
    // The time zone database, in the binary (Windows has none that Go reads).
    assert!(r.stdout.contains("zone Europe/Paris <nil>"), "{}", r.stdout);
}

/// Settings a Windows image cannot have are refused at their lines, with what to do, when
/// `--platform` asks for Windows.
#[test]
fn a_stop_signal_windows_cannot_send_is_refused_at_its_line() {
    require_engine();
    let shop = repo_root().join("examples/shop");
    let spec = std::fs::read_to_string(shop.join("goapp.yaml")).unwrap();
    let line = spec.lines().position(|l| l.trim_start().starts_with("stop_signal:")).unwrap() + 1;
    let r = buildx(&shop, "linux/amd64,windows/amd64", &[]);
    assert!(!r.status.success(), "a Windows image stopped by SIGINT was built:\n{}", r.stderr);
    assert!(r.stderr.contains(&format!("goapp.yaml:{line}")), "{}", r.stderr);
    assert!(r.stderr.contains("a Windows container cannot be stopped with SIGINT"), "{}", r.stderr);
    assert!(!r.stderr.contains("go build"), "{}", r.stderr);
}
