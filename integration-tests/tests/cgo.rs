//! End to end: examples/cgo (C code of its own, linked against SQLite's C library from
//! Debian) built for linux/amd64 and linux/arm64 with Debian's cross compilers, under QEMU,
//! and linked statically; and the bases a cgo binary cannot run on, refused before the build.

use std::path::Path;

use integration_tests::prelude::*;

/// What examples/cgo prints on `platform`: two results computed in C, one of them by SQLite.
fn assert_runs(image: &str, platform: &str) {
    let out = ok(Path::new("/"), "docker", &["run", "--rm", "--pull=always", "--platform", platform, image]);
    assert!(out.contains("fib(90) = 2880067194370816120 (C)"), "{platform}: {out}");
    assert!(out.contains("sum of squares 1..100 = 338350 (SQLite 3."), "{platform}: {out}");
    assert!(out.contains(&format!("platform {platform}")), "{platform}: {out}");
}

fn has_file(image: &str, img: &PlatformImage, path: &str) -> bool {
    image_files(image, img).iter().any(|l| l.split(" -> ").next().unwrap_or(l).split_whitespace().last().is_some_and(|n| n.trim_start_matches("./") == path))
}

#[test]
fn cgo_cross_compiles_without_emulation_and_runs_on_each_platform() {
    require_engine();
    let dir = repo_root().join("examples/cgo");
    let image = unique_tag("cgo-native");
    let progress = {
        // No step may run under emulation: with arm64's emulator off, one that did would fail.
        let _off = EmulationOff::new("qemu-aarch64");
        buildx_push(&dir, "linux/amd64,linux/arm64", &image, &[])
    };
    assert!(progress.contains("[linux/arm64] go build ./cmd/sums (cgo cross-compiled, glibc)"), "{progress}");
    assert!(progress.contains("[linux/amd64] go build ./cmd/sums (cgo native, glibc)"), "{progress}");
    assert!(
        progress.contains("[linux/arm64] C toolchain: apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross libsqlite3-dev:arm64")
    );
    assert_ne!(step_outcome(&progress, "[linux/arm64] check sums: AArch64"), "ERROR");
    let images = index_images(&image);
    assert_eq!(images.len(), 2);
    for img in &images {
        // SQLite's library is not in distroless/cc: it comes with the binary, for its platform.
        let triplet = if img.platform == "linux/arm64" { "aarch64-linux-gnu" } else { "x86_64-linux-gnu" };
        assert!(has_file(&image, img, &format!("usr/lib/{triplet}/libsqlite3.so.0")), "libsqlite3 in the {} image", img.platform);
        assert_runs(&image, &img.platform);
    }
}

#[test]
fn cgo_emulated_compiles_on_the_target_under_qemu() {
    require_engine();
    let dir = repo_root().join("examples/cgo");
    let image = unique_tag("cgo-emulated");
    let progress = buildx_push(&dir, "linux/amd64,linux/arm64", &image, &["--build-arg", "CGO_MODE=emulated"]);
    assert!(progress.contains("[linux/arm64] go build ./cmd/sums (cgo emulated, glibc)"), "{progress}");
    // The build machine's own architecture needs no emulation.
    assert!(progress.contains("[linux/amd64] go build ./cmd/sums (cgo native, glibc)"), "{progress}");
    assert!(progress.contains("[linux/arm64] C toolchain: apt-get install libsqlite3-dev\n"), "plain packages on the target: {progress}");
    for img in index_images(&image) {
        assert_runs(&image, &img.platform);
    }
}

#[test]
fn cgo_linked_statically_runs_on_the_static_base() {
    require_engine();
    let dir = example_variant("cgo", "cgo-static", |spec| {
        spec.replace("  cgo: true\n", "  cgo: true\n  static: true\n").replace("base: distroless/cc", "base: static")
    });
    let image = unique_tag("cgo-static");
    let progress = buildx_push(&dir, "linux/amd64,linux/arm64", &image, &[]);
    assert_ne!(step_outcome(&progress, "[linux/arm64] check sums: AArch64, statically linked"), "ERROR");
    assert_ne!(step_outcome(&progress, "[linux/amd64] check sums: Advanced Micro Devices X86-64, statically linked"), "ERROR");
    for img in index_images(&image) {
        // The static base has no C library and no dynamic loader: the binary runs only if
        // it needs neither.
        assert!(!image_files(&image, &img).iter().any(|l| l.contains("libc.so.6") || l.contains("libsqlite3")), "{}", img.platform);
        assert_runs(&image, &img.platform);
    }
}

#[test]
fn cgo_on_a_base_without_glibc_fails_before_building() {
    require_engine();
    // A named base: refused by the spec check.
    let dir = example_variant("cgo", "cgo-alpine", |spec| spec.replace("base: distroless/cc", "base: alpine"));
    let r = buildx(&dir, "linux/amd64,linux/arm64", &[]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("has musl, not glibc"), "{}", r.stderr);
    assert!(r.stderr.contains("goapp.yaml:14"), "the error names the base's line: {}", r.stderr);
    assert!(!r.stderr.contains("go build"), "nothing was built: {}", r.stderr);

    // An image the spec cannot know: its files are looked at once it is resolved.
    ok(
        Path::new("/"),
        "docker",
        &["buildx", "imagetools", "create", "-t", "localhost:5000/example.org/nolibc:1", "localhost:5000/gcr.io/distroless/static-debian12:nonroot"],
    );
    let dir = example_variant("cgo", "cgo-nolibc", |spec| spec.replace("base: distroless/cc", "base: example.org/nolibc:1"));
    let r = buildx(&dir, "linux/amd64,linux/arm64", &[]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("the base `example.org/nolibc:1` has no glibc (libc.so.6)"), "{}", r.stderr);
    assert!(!r.stderr.contains("go build"), "nothing was built: {}", r.stderr);
}
