//! The runc of the tests' arm64 engine ([`integration_tests::services::Arm64Engine`]): runs
//! `/usr/sbin/runc` (Debian's amd64 runc) with the same arguments, after one change to the
//! container's OCI config.
//!
//! The engine's dockerd is an arm64 program under qemu-user. For a build step on its bridge
//! network, it asks runc to run a prestart hook that starts dockerd itself again,
//! `/proc/<dockerd's pid>/exe libnetwork-setkey ...`; but under qemu-user that file is the
//! emulator, which would take the arguments as its own and fail. The hook is rewritten to run
//! the emulator on dockerd's binary with the name dockerd expects:
//! `qemu-aarch64-static -0 libnetwork-setkey /usr/sbin/dockerd ...`. Nothing else changes.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

const RUNC: &str = "/usr/sbin/runc";
const QEMU: &str = "/usr/bin/qemu-aarch64-static";
const DOCKERD: &str = "/usr/sbin/dockerd";

/// The bundle directory of a `runc run`/`create` command line (`--bundle DIR`, `-b DIR`, `--bundle=DIR`).
fn bundle(args: &[String]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--bundle" || a == "-b" {
            return it.next().map(PathBuf::from);
        }
        if let Some(dir) = a.strip_prefix("--bundle=") {
            return Some(PathBuf::from(dir));
        }
    }
    None
}

/// Whether `path` is `/proc/<pid>/exe`.
fn is_proc_exe(path: &str) -> bool {
    path.strip_prefix("/proc/").and_then(|p| p.strip_suffix("/exe")).is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Rewrites the re-exec hooks of the config; returns whether it changed any.
fn rewrite(config: &mut serde_json::Value) -> bool {
    let mut changed = false;
    let Some(hooks) = config.get_mut("hooks").and_then(|h| h.as_object_mut()) else { return false };
    for list in hooks.values_mut().filter_map(|l| l.as_array_mut()) {
        for hook in list {
            let path = hook["path"].as_str().unwrap_or("");
            let args: Vec<String> = hook["args"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
            if !is_proc_exe(path) || args.is_empty() {
                continue;
            }
            let mut new_args = vec!["qemu-aarch64-static".to_string(), "-0".into(), args[0].clone(), DOCKERD.into()];
            new_args.extend(args[1..].iter().cloned());
            hook["path"] = QEMU.into();
            hook["args"] = new_args.into();
            changed = true;
        }
    }
    changed
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(dir) = bundle(&args) {
        let file = dir.join("config.json");
        if let Ok(text) = std::fs::read(&file) {
            let mut config: serde_json::Value = match serde_json::from_slice(&text) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("goapp-e2e-runc: {} is not JSON: {e}", file.display());
                    return ExitCode::FAILURE;
                }
            };
            if rewrite(&mut config)
                && let Err(e) = std::fs::write(&file, serde_json::to_vec(&config).expect("JSON"))
            {
                eprintln!("goapp-e2e-runc: cannot write {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let e = Command::new(RUNC).args(&args).exec();
    eprintln!("goapp-e2e-runc: cannot run {RUNC}: {e}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setkey_hook_runs_dockerd_under_the_emulator_and_nothing_else_changes() {
        let mut config = serde_json::json!({
            "hooks": {"prestart": [
                {"path": "/proc/4242/exe", "args": ["libnetwork-setkey", "-exec-root=/var/run/docker", "c0ffee", "abc123"]},
                {"path": "/usr/bin/other", "args": ["other"]}
            ]},
            "process": {"args": ["go", "build"]}
        });
        assert!(rewrite(&mut config));
        assert_eq!(config["hooks"]["prestart"][0]["path"], QEMU);
        assert_eq!(
            config["hooks"]["prestart"][0]["args"],
            serde_json::json!(["qemu-aarch64-static", "-0", "libnetwork-setkey", DOCKERD, "-exec-root=/var/run/docker", "c0ffee", "abc123"])
        );
        assert_eq!(config["hooks"]["prestart"][1]["path"], "/usr/bin/other");
        assert!(!rewrite(&mut serde_json::json!({"process": {}})));
        assert!(!is_proc_exe("/proc/self/exe") && !is_proc_exe("/proc//exe") && is_proc_exe("/proc/1/exe"));
        assert_eq!(bundle(&["run".into(), "--bundle".into(), "/b".into(), "id".into()]), Some(PathBuf::from("/b")));
        assert_eq!(bundle(&["--root".into(), "/r".into(), "run".into(), "--bundle=/c".into()]), Some(PathBuf::from("/c")));
    }
}
