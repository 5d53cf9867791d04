//! Test directories: temporary ones, and copies of the examples.

use std::path::{Path, PathBuf};

use crate::env::repo_root;

/// A new empty directory for this test binary, named `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("goapp-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Copies a directory tree (an example) somewhere the test may change it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// A copy of `examples/<example>` whose spec `edit` changes, for a variant of the example.
pub fn example_variant(example: &str, name: &str, edit: impl FnOnce(&str) -> String) -> PathBuf {
    let dir = temp_dir(name);
    copy_dir(&repo_root().join("examples").join(example), &dir);
    let spec = std::fs::read_to_string(dir.join("goapp.yaml")).unwrap();
    let edited = edit(&spec);
    assert_ne!(spec, edited, "the edit left the spec of {example} unchanged");
    std::fs::write(dir.join("goapp.yaml"), edited).unwrap();
    dir
}

/// Every file under `dir`, at any depth.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
