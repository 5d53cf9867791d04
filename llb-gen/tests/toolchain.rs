//! The Go release of the builder: Go's version ordering, go.mod's `go` and `toolchain`
//! lines, the choice of release, and the checks of a builder against the module.

use llb_gen::Spec;
use llb_gen::diag::Pos;
use llb_gen::toolchain::*;

fn v(s: &str) -> GoVersion {
    GoVersion::parse(s).unwrap_or_else(|| panic!("{s}"))
}

#[test]
fn versions_as_go_orders_them() {
    assert!(v("1.27") < v("1.27beta1"));
    assert!(v("1.27beta2") < v("1.27rc1"));
    assert!(v("1.27rc1") < v("1.27.0"));
    assert!(v("1.27.0") < v("1.27.3"));
    assert!(v("1.26.10") < v("1.27"));
    assert_eq!(v("1.27.3").minor_release(), "1.27");
    assert_eq!(v("1.21rc1").to_string(), "1.21rc1");
    for bad in ["1", "1.", "1.27.", "01.2", "1.027", "1.27.3.4", "1.27alpha1", "1.27rc", "1.27.1rc1", "go1.27", "1.27-x", "0.1", " 1.27"] {
        assert!(GoVersion::parse(bad).is_none(), "{bad}");
    }
    // What an image tag promises: any release of it.
    assert!(v("1.27").satisfies(&v("1.27.3")));
    assert!(!v("1.26").satisfies(&v("1.27")));
    assert!(!v("1.27.2").satisfies(&v("1.27.3")));
    assert!(v("1.27.3").satisfies(&v("1.27")));
}

#[test]
fn reads_the_go_and_toolchain_lines() {
    let m =
        ModFile::parse("go.mod", "// a module\nmodule example.com/app\n\ngo 1.26 // the oldest\n\ntoolchain go1.27.3\n\nrequire (\n\tgo.example/x v1.0.0\n)\n")
            .unwrap();
    let go = m.go.as_ref().unwrap();
    assert_eq!((go.version.clone(), go.span.start), (v("1.26"), Pos { line: 4, column: 4 }));
    assert_eq!(go.text, "go 1.26");
    assert_eq!(m.toolchain.as_ref().unwrap().version, v("1.27.3"));
    assert_eq!(m.at(go), "go.mod:4");
    // `default`, a custom suffix, and none at all.
    assert!(ModFile::parse("go.mod", "module m\ntoolchain default\n").unwrap().toolchain.is_none());
    assert!(ModFile::parse("go.mod", "module m\ntoolchain go1\n").unwrap().toolchain.is_none());
    assert_eq!(ModFile::parse("go.mod", "module m\ntoolchain go1.27.1-corp\n").unwrap().toolchain.unwrap().version, v("1.27.1"));
    assert_eq!(ModFile::parse("go.work", "go 1.27\n\nuse ./api\n").unwrap().go.unwrap().version, v("1.27"));
}

#[test]
fn malformed_lines_are_errors_at_their_column() {
    let d = ModFile::parse("go.mod", "module m\n\ngo  1.27.x\n").unwrap_err();
    assert_eq!(d.items[0].span.start, Pos { line: 3, column: 5 });
    assert!(d.items[0].message.contains("`1.27.x` is not a Go version"), "{}", d.items[0].message);
    let d = ModFile::parse("go.mod", "module m\ngo 1.27\ntoolchain 1.27.3\ngo 1.26\n").unwrap_err();
    assert_eq!(d.items.len(), 2);
    assert!(d.items[0].message.contains("not a Go toolchain"));
    assert!(d.items[1].message.contains("a second go line"));
    assert_eq!(d.items[1].span.start.line, 4);
    let d = ModFile::parse("go.mod", "go\n").unwrap_err();
    assert!(d.items[0].message.contains("takes one version"));
}

fn spec(yaml: &str) -> Spec {
    llb_gen::load("goapp.yaml", yaml.as_bytes(), &Default::default()).unwrap().spec
}

#[test]
fn the_release_comes_from_the_spec_then_the_module() {
    let m = |text: &str| ModFile::parse("go.mod", text).unwrap();
    let plain = spec("name: app\n");
    let r = choose(&plain, Some(&m("module m\ngo 1.26\n")));
    assert_eq!(r.version, "1.26");
    assert_eq!(r.describe("goapp.yaml"), "Go 1.26 (the go line, go.mod:2)");
    let r = choose(&plain, Some(&m("module m\ngo 1.26\ntoolchain go1.27.3\n")));
    assert_eq!((r.version.as_str(), r.source("goapp.yaml")), ("1.27", "the toolchain line, go.mod:3".to_string()));
    // A toolchain older than the go line cannot build the module: the go line wins.
    assert_eq!(choose(&plain, Some(&m("module m\ngo 1.27.1\ntoolchain go1.26.10\n"))).version, "1.27");
    assert_eq!(choose(&plain, Some(&m("module m\n"))), GoRelease::default_release());
    assert_eq!(choose(&plain, None).version, DEFAULT_RELEASE);
    let pinned = spec("name: app\ngo:\n  version: \"1.26\"\n");
    let r = choose(&pinned, Some(&m("module m\ngo 1.27\n")));
    assert_eq!(r.describe("goapp.yaml"), "Go 1.26 (go.version, goapp.yaml:3)");
    assert!(DEFAULT_RELEASE == "1.27" && SUPPORTED_RELEASES.contains(&DEFAULT_RELEASE));
}

#[test]
fn a_release_out_of_support_is_a_warning_at_the_line_that_chose_it() {
    let m = ModFile::parse("go.mod", "module m\n\ngo 1.22\n").unwrap();
    let (file, w) = support_warning(&choose(&spec("name: app\n"), Some(&m)), "goapp.yaml").unwrap();
    assert_eq!(file.as_deref(), Some("go.mod"));
    assert_eq!(w.span.start, Pos { line: 3, column: 4 });
    assert_eq!(w.message, "Go 1.22 (the go line, go.mod:3) is out of support: goapp supports Go 1.26 and 1.27");
    let (file, w) = support_warning(&choose(&spec("name: app\ngo:\n  version: \"1.25.1\"\n"), Some(&m)), "goapp.yaml").unwrap();
    assert_eq!((file, w.span.start.line), (None, 3));
    assert!(support_warning(&choose(&spec("name: app\n"), None), "goapp.yaml").is_none());
    let current = ModFile::parse("go.mod", "module m\n\ngo 1.26.2\n").unwrap();
    assert!(support_warning(&choose(&spec("name: app\n"), Some(&current)), "goapp.yaml").is_none());
}

#[test]
fn a_builder_older_than_the_go_line_is_refused() {
    let m = ModFile::parse("go.mod", "module m\n\ngo 1.27\n").unwrap();
    let pinned = spec("name: app\ngo:\n  version: \"1.26\"\n");
    let r = choose(&pinned, Some(&m));
    let e = check(&r, "goapp.yaml", "golang:1.26", Some(v("1.26.10")), Some(&m)).unwrap_err();
    assert!(e.message.starts_with("go.mod needs Go 1.27 or later (`go 1.27`, go.mod:3), but go.version (goapp.yaml:3) chooses Go 1.26.10"), "{}", e.message);
    assert!(e.hint.contains("remove go.version"), "{}", e.hint);
    assert_eq!(e.spec.unwrap().start.line, 3);
    assert_eq!(e.module.2.start, Pos { line: 3, column: 4 });
    // Without GOLANG_VERSION, the tag's release is what the image promises.
    assert!(check(&r, "goapp.yaml", "golang:1.26", None, Some(&m)).is_err());
    let image = spec("name: app\ngo:\n  image: registry.example/go:old\n");
    let r = choose(&image, Some(&m));
    let e = check(&r, "goapp.yaml", "registry.example/go:old", Some(v("1.25.3")), Some(&m)).unwrap_err();
    assert!(e.message.contains("the builder of go.image (goapp.yaml:3) has Go 1.25.3"), "{}", e.message);
    assert!(check(&r, "goapp.yaml", "registry.example/go:old", None, Some(&m)).is_ok(), "an image that does not say is not checked here");
    // A patch release the module needs, newer than the image's.
    let patch = ModFile::parse("go.mod", "module m\ngo 1.27.5\n").unwrap();
    let r = choose(&spec("name: app\n"), Some(&patch));
    assert!(check(&r, "goapp.yaml", "golang:1.27", Some(v("1.27.3")), Some(&patch)).unwrap_err().hint.contains("--pull"));
    assert!(check(&r, "goapp.yaml", "golang:1.27", Some(v("1.27.5")), Some(&patch)).is_ok());
    assert!(check(&r, "goapp.yaml", "golang:1.27", None, Some(&patch)).is_ok());
    // What an image's environment says, read as Go reads it; an empty value says nothing.
    let env = |v: &str| vec!["PATH=/go/bin".to_string(), format!("GOLANG_VERSION={v}")];
    assert_eq!(image_go_version(&env("1.26.10")), Some(v("1.26.10")));
    assert_eq!(image_go_version(&env("go1.27.3")), Some(v("1.27.3")));
    assert_eq!(image_go_version(&env("")), None);
    assert_eq!(image_go_version(&["PATH=/bin".to_string()]), None);
}
