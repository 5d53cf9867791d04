//! Broken specs: one file per mistake users make, each with its rendered error checked in
//! (tests/snapshots/diagnostics__broken_specs@*.snap). Every error must name a line and column
//! and carry a hint.

use std::collections::BTreeMap;

use llb_gen::Severity;

fn load(bytes: &[u8]) -> Result<llb_gen::Loaded, llb_gen::Diagnostics> {
    llb_gen::load("goapp.yaml", bytes, &BTreeMap::new())
}

#[test]
fn broken_specs() {
    let mut count = 0;
    insta::glob!("specs/bad/*.yaml", |path| {
        count += 1;
        let bytes = std::fs::read(path).unwrap();
        let diags = match load(&bytes) {
            Ok(_) => panic!("{} loaded without errors", path.display()),
            Err(d) => d,
        };
        assert!(diags.has_errors(), "{}", path.display());
        for d in diags.errors() {
            assert!(d.span.start.line >= 1 && d.span.start.column >= 1, "{}: {d:?}", path.display());
            assert!(d.hint.as_deref().is_some_and(|h| !h.is_empty()), "{}: no hint for {d:?}", path.display());
        }
        insta::assert_snapshot!(diags.render(false));
    });
    assert!(count >= 60, "only {count} broken specs");
}

#[test]
fn exact_positions() {
    let cases: &[(&str, u32, u32, &str)] = &[
        ("name: hello\nmian: x\n", 2, 1, "unknown key `mian`"),
        ("name: hello\nruntime:\n  ports: [8080, 0]\n", 3, 17, "`0` is not a port"),
        ("name: hello\ngo:\n  cgo: yes\n", 3, 8, "must be true or false"),
        ("name: hello\nplatforms:\n  - linux/amd64\n  - linux/sparc\n", 4, 5, "sparc"),
    ];
    for (src, line, col, text) in cases {
        let d = load(src.as_bytes()).unwrap_err();
        let e = d.errors().next().unwrap();
        assert_eq!((e.span.start.line, e.span.start.column), (*line, *col), "{src}");
        assert!(e.message.contains(text), "{}", e.message);
    }
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/specs/bad/98-many-mistakes.yaml"));
    let bytes = bytes.unwrap_or_else(|_| {
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/specs/bad"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("many-mistakes.yaml"))
            .map(|p| std::fs::read(p).unwrap())
            .unwrap()
    });
    let d = load(&bytes).unwrap_err();
    let lines: Vec<u32> = d.errors().map(|e| e.span.start.line).collect();
    assert_eq!(lines, [1, 2, 3, 5, 7, 8, 9], "{}", d.render(false));
}

#[test]
fn a_ten_megabyte_spec_is_refused_before_parsing() {
    let mut big = b"name: hello\nx-padding: \"".to_vec();
    big.resize(10 << 20, b'a');
    big.extend(b"\"\n");
    let d = load(&big).unwrap_err();
    assert!(d.errors().next().unwrap().message.contains("the limit is"), "{}", d.summary());
}

#[test]
fn running_as_root_is_a_warning() {
    let loaded = load(b"name: hello\nruntime:\n  user: root\n").unwrap();
    assert_eq!(loaded.spec.runtime.user.value, llb_gen::spec::User::ROOT);
    let w = &loaded.warnings.items;
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].severity, Severity::Warning);
    assert_eq!(w[0].span.start.line, 3);
}

#[test]
fn a_warning_is_acknowledged_by_its_rule_in_a_check_directive() {
    let loaded = load(b"name: hello\nruntime:\n  user: root\n").unwrap();
    assert_eq!(loaded.warnings.items[0].rule, Some("RunsAsRoot"));
    // Among the comments before the first key, as a Dockerfile's `# check=` directive.
    let loaded = load(b"# syntax=localhost:5000/goapp-frontend:dev\n# check=skip=RunsAsRoot\nname: hello\nruntime:\n  user: root\n").unwrap();
    assert!(loaded.warnings.items.is_empty(), "{:?}", loaded.warnings.items);
    assert_eq!(loaded.skipped_rules, ["RunsAsRoot"]);
    // Another rule leaves this warning; after the first key it is a plain comment.
    let loaded = load(b"# check=skip=UncheckedHostKey\nname: hello\nruntime:\n  user: root\n").unwrap();
    assert_eq!(loaded.warnings.items.len(), 1);
    let loaded = load(b"name: hello\n# check=skip=RunsAsRoot\nruntime:\n  user: root\n").unwrap();
    assert_eq!(loaded.warnings.items.len(), 1);
    let all = load(b"# check=skip=all\nname: hello\nruntime:\n  user: root\n").unwrap();
    assert!(all.warnings.items.is_empty());
}

#[test]
fn an_ssh_host_without_known_hosts_is_a_warning() {
    let loaded = load(b"name: hello\ngo:\n  secrets:\n    - id: default\n      type: ssh\n      host: git.example.com:2222\n").unwrap();
    let w = &loaded.warnings.items;
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].message, "the SSH host key of `git.example.com` is not checked");
    assert_eq!(w[0].hint.as_deref(), Some("add `known_hosts:` with the lines `ssh-keyscan -p 2222 git.example.com` prints"));
    assert_eq!(w[0].span.start.line, 6);
}

#[test]
fn extension_keys_are_ignored_and_build_args_interpolated() {
    let args: BTreeMap<String, String> = [("VERSION".to_string(), "1.2.3".to_string())].into();
    let src = "name: hello\nx-owner: team-a\ngo:\n  ldflags: -X main.version=${VERSION} -X main.mode=${MODE:-prod}\nruntime:\n  x-note: {any: [thing]}\n";
    let loaded = llb_gen::load("goapp.yaml", src.as_bytes(), &args).unwrap();
    assert_eq!(loaded.spec.targets[0].ldflags, "-X main.version=1.2.3 -X main.mode=prod");
}

#[test]
fn every_example_loads() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    for entry in std::fs::read_dir(root).unwrap() {
        let spec = entry.unwrap().path().join("goapp.yaml");
        if spec.exists() {
            let bytes = std::fs::read(&spec).unwrap();
            if let Err(d) = load(&bytes) {
                panic!("{}:\n{}", spec.display(), d.render(false));
            }
        }
    }
}

#[test]
fn a_user_name_is_resolved_against_the_base_passwd() {
    let src = "name: hello\nruntime:\n  base: alpine\n  user: app\n";
    let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
    let spec = load(src.as_bytes()).unwrap().spec;
    assert_eq!(spec.runtime.user_name.as_ref().map(|n| n.value.as_str()), Some("app"));
    let user = llb_gen::checks::runtime_user(&spec, "alpine", Some(passwd)).unwrap().unwrap();
    assert_eq!((user.uid, user.gid), (1000, 1001));
    // A spec that names no user needs no lookup.
    let numeric = load(b"name: hello\nruntime:\n  base: alpine\n  user: \"1000\"\n").unwrap().spec;
    assert_eq!(llb_gen::checks::runtime_user(&numeric, "alpine", None), Ok(None));

    // A name the base lacks, with the names it has.
    let src2 = src.replace("user: app", "user: ap");
    let spec = load(src2.as_bytes()).unwrap().spec;
    let err = llb_gen::checks::runtime_user(&spec, "docker.io/library/alpine:3.20", Some(passwd)).unwrap_err();
    let text = llb_gen::Diagnostics::new("goapp.yaml", src2.clone(), vec![err]).render(false);
    assert!(text.contains("goapp.yaml:4:9"), "{text}");
    assert!(text.contains("the user `ap` is not in the /etc/passwd of docker.io/library/alpine:3.20"), "{text}");
    assert!(text.contains("did you mean `app`?"), "{text}");

    // A base without /etc/passwd.
    let spec = load(src.as_bytes()).unwrap().spec;
    let err = llb_gen::checks::runtime_user(&spec, "example.com/empty", None).unwrap_err();
    assert!(err.hint.as_deref().unwrap_or("").contains("example.com/empty has no /etc/passwd"), "{err:?}");

    // On the static base a name is an error at load time.
    let err = load(b"name: hello\nruntime:\n  user: app\n").unwrap_err();
    assert!(err.render(false).contains("the static and scratch bases only know `root` and `nonroot`"));
}

#[test]
fn every_error_rule_has_an_example_that_breaks_it() {
    for rule in llb_gen::diag::ERROR_RULES {
        let Some(example) = rule.example else { continue };
        let diags = load(example.as_bytes()).err().unwrap_or_else(|| panic!("{}: the example loads without errors", rule.name));
        assert!(diags.items.iter().any(|d| d.rule == Some(rule.name)), "{}: the example's errors are\n{}", rule.name, diags.render(false));
    }
    // Every error of the broken specs has a rule of the table.
    let names: Vec<&str> = llb_gen::diag::ERROR_RULES.iter().map(|r| r.name).collect();
    for path in std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/bad")).unwrap() {
        let path = path.unwrap().path();
        if let Err(d) = load(&std::fs::read(&path).unwrap()) {
            for e in d.errors() {
                assert!(e.rule.is_some_and(|r| names.contains(&r)), "{}: {e:?}", path.display());
            }
        }
    }
}
