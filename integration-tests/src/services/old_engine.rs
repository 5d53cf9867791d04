//! An older engine beside the real one: Debian 12's Docker 20.10 (BuildKit v0.8), for the test
//! of how goapp refuses a BuildKit that lacks a capability. It runs with its own socket, exec
//! root, bridge and containerd namespace, and no networking of its own (it only pulls the
//! frontend image from the local registry); its data stays between runs
//! ([`crate::env::Env::old_engine_data`]).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::{Daemon, service_dir};
use crate::env::env;
use crate::run::{ok, run};

/// Its bridge: with none of its own, it would take docker0 down, which the real engine owns.
const BRIDGE: &str = "goapp20";
const BRIDGE_ADDRESS: &str = "10.237.0.1/24";

/// The older engine; stopped when dropped, and its bridge removed.
pub struct OldEngine {
    /// `unix://<socket>`, for `DOCKER_HOST`.
    pub host: String,
    daemon: Option<Daemon>,
}

impl OldEngine {
    pub fn start() -> OldEngine {
        let dockerd = &env().old_dockerd;
        assert!(dockerd.exists(), "no {}: run integration-tests/env/up.sh tools", dockerd.display());
        // A bridge left by a killed test binary is taken over (and removed when done).
        if !run(Path::new("/"), "ip", &["link", "show", BRIDGE]).status.success() {
            ok(Path::new("/"), "ip", &["link", "add", BRIDGE, "type", "bridge"]);
            ok(Path::new("/"), "ip", &["addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE]);
        }
        ok(Path::new("/"), "ip", &["link", "set", BRIDGE, "up"]);

        let dir = service_dir("old-engine");
        // Its own (empty) configuration, not the real engine's /etc/docker/daemon.json.
        std::fs::write(dir.join("daemon.json"), "{}\n").unwrap();
        let host = format!("unix://{}", dir.join("docker.sock").display());
        let mut cmd = Command::new(dockerd);
        cmd.arg("--config-file").arg(dir.join("daemon.json"));
        cmd.arg("--data-root").arg(&env().old_engine_data);
        cmd.arg("--exec-root").arg(dir.join("exec"));
        cmd.arg("--pidfile").arg(dir.join("dockerd.pid"));
        cmd.args(["-H", &host, "--containerd=/run/containerd/containerd.sock", "--containerd-namespace=goapp20"]);
        cmd.args(["--containerd-plugins-namespace=goapp20-plugins", &format!("--bridge={BRIDGE}"), "--iptables=false", "--ip6tables=false"]);
        let mut daemon = Daemon::spawn("Docker 20.10", &mut cmd, &dir.join("dockerd.log"), libc::SIGTERM);
        daemon.wait_for("answer on its socket", Duration::from_secs(60), |_| {
            let out = Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]).env("DOCKER_HOST", &host).output().ok()?;
            out.status.success().then_some(())
        });
        OldEngine { host, daemon: Some(daemon) }
    }

    /// The engine's version, as it reports it.
    pub fn version(&self) -> String {
        let out = Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]).env("DOCKER_HOST", &self.host).output().expect("docker runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for OldEngine {
    fn drop(&mut self) {
        // The engine first: it lets go of its bridge when it stops.
        drop(self.daemon.take());
        let _ = run(Path::new("/"), "ip", &["link", "del", BRIDGE]);
    }
}
