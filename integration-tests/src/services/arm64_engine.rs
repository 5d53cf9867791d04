//! An arm64 build machine: Debian's arm64 Docker Engine (dockerd, containerd and its shim) under
//! qemu-user, so BuildKit's own platform is linux/arm64, as on Docker Desktop on Apple silicon
//! or an arm64 CI runner. `up.sh tools` unpacks it into a root
//! ([`crate::env::Env::arm64_engine_root`]); the engine runs there, chrooted in a mount
//! namespace of its own, with its own socket, bridge and data
//! ([`crate::env::Env::arm64_engine_data`], kept between runs). It shares the machine's network
//! (so `localhost:5000` is the registry); its bridge's traffic out is masqueraded, for steps
//! that reach the network (the apt step of a cgo build).
//!
//! Containers are started by the amd64 runc `up.sh` puts in the root (arm64 runc cannot start
//! one under qemu-user), through `goapp-e2e-runc` (`src/bin`), which makes the engine's
//! network hook run under the emulator.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::{Daemon, FirewallRule, service_dir};
use crate::env::env;
use crate::run::{ok, run};

const BRIDGE: &str = "goapparm64";
const BRIDGE_ADDRESS: &str = "10.238.0.1/24";
const SUBNET: &str = "10.238.0.0/24";

/// Mounts what the engine needs in its root, then starts it there. Run by `unshare --mount`,
/// so the mounts are the engine's own and go when it stops. $1: the root, $2: the engine's
/// data, $3: a directory for its sockets (`/run` inside), $4: its configuration directory.
const START: &str = r#"set -e
root=$1
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount --bind "$2" "$root/var/lib/docker"
mount --bind "$3" "$root/run"
mount --bind "$4" "$root/etc/docker"
mount --bind /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || { : > "$root/etc/resolv.conf"; mount --bind /etc/resolv.conf "$root/etc/resolv.conf"; }
exec chroot "$root" /usr/sbin/dockerd --config-file /etc/docker/daemon.json -H unix:///run/docker.sock \
  --bridge="$5" --iptables=false --ip6tables=false
"#;

/// The arm64 engine; stopped when dropped, with its bridge and firewall rules.
pub struct Arm64Engine {
    /// `unix://<socket>`, for `DOCKER_HOST`.
    pub host: String,
    daemon: Option<Daemon>,
    _rules: Vec<FirewallRule>,
}

impl Arm64Engine {
    /// Starts it. `runc` is the `goapp-e2e-runc` binary (a test has its path:
    /// `env!("CARGO_BIN_EXE_goapp-e2e-runc")`).
    pub fn start(runc: &Path) -> Arm64Engine {
        let root = &env().arm64_engine_root;
        assert!(root.join("usr/sbin/dockerd").exists(), "no arm64 engine in {}: run integration-tests/env/up.sh tools", root.display());
        if !run(Path::new("/"), "ip", &["link", "show", BRIDGE]).status.success() {
            ok(Path::new("/"), "ip", &["link", "add", BRIDGE, "type", "bridge"]);
            ok(Path::new("/"), "ip", &["addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE]);
        }
        ok(Path::new("/"), "ip", &["link", "set", BRIDGE, "up"]);
        let rules = vec![
            FirewallRule::insert_in("nat", "POSTROUTING", &["-s", SUBNET, "!", "-o", BRIDGE, "-j", "MASQUERADE"]),
            FirewallRule::insert_in("filter", "FORWARD", &["-i", BRIDGE, "-j", "ACCEPT"]),
            FirewallRule::insert_in("filter", "FORWARD", &["-o", BRIDGE, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"]),
        ];

        // The runc wrapper, at the path the engine is told to use.
        let wrapper = root.join("goapp/runc");
        std::fs::copy(runc, &wrapper).unwrap_or_else(|e| panic!("{} to {}: {e}", runc.display(), wrapper.display()));

        let dir = service_dir("arm64-engine");
        let (run_dir, config) = (dir.join("run"), dir.join("config"));
        std::fs::create_dir_all(&run_dir).unwrap();
        std::fs::create_dir_all(&config).unwrap();
        // The containerd image store, as the real engine has: it keeps multi-platform images.
        std::fs::write(config.join("daemon.json"), "{\"features\": {\"containerd-snapshotter\": true}}\n").unwrap();
        let host = format!("unix://{}", run_dir.join("docker.sock").display());
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", START, "sh"]);
        cmd.args([root, &env().arm64_engine_data, &run_dir, &config]);
        cmd.arg(BRIDGE);
        cmd.env("DOCKER_BUILDKIT_RUNC_COMMAND", "/goapp/runc");
        let mut daemon = Daemon::spawn("the arm64 engine", &mut cmd, &dir.join("dockerd.log"), libc::SIGTERM);
        daemon.wait_for("answer on its socket", Duration::from_secs(180), |_| {
            let out = Command::new("docker").args(["version", "--format", "{{.Server.Arch}}"]).env("DOCKER_HOST", &host).output().ok()?;
            out.status.success().then_some(())
        });
        Arm64Engine { host, daemon: Some(daemon), _rules: rules }
    }

    /// `docker ARGS` against this engine, in `dir`.
    pub fn docker(&self, dir: &Path, args: &[&str]) -> crate::run::Run {
        crate::run::run_command(Command::new("docker").args(args).current_dir(dir).env("DOCKER_HOST", &self.host))
    }

    /// What the engine has printed so far.
    pub fn log(&self) -> String {
        self.daemon.as_ref().map(Daemon::log).unwrap_or_default()
    }
}

impl Drop for Arm64Engine {
    fn drop(&mut self) {
        // The engine first: it lets go of its bridge when it stops. Its containerd goes with it;
        // a shim it left would keep running in the root, so any process there is ended too.
        drop(self.daemon.take());
        let root = env().arm64_engine_root.clone();
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
                if std::fs::read_link(p.path().join("root")).is_ok_and(|r| r == root) {
                    // SAFETY: kill has no memory effects.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = run(Path::new("/"), "ip", &["link", "del", BRIDGE]);
    }
}
