//! A second engine beside the real one, of the same version: the `dockerd` binary the real
//! engine runs, with the registry settings and image store of its `/etc/docker/daemon.json`,
//! but everything else of its own: a containerd it starts for itself, its data (a new, empty
//! directory at each start, removed when it stops, so every build on it is a clean one: no
//! build cache, no image), exec root, socket, pidfile, containerd namespace and bridge, and no
//! firewall rules. It pulls from the local registry and builds through `docker buildx build`
//! with `DOCKER_HOST` set to [`SecondEngine::host`] (buildx's `docker` driver), for the tests
//! that compare what two engines build from the same inputs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::{Daemon, service_dir};
use crate::buildx::{buildx_on, pushed};
use crate::run::{Run, ok, run, run_command};

/// Its bridge: with none of its own, it would take docker0 down, which the real engine owns.
const BRIDGE: &str = "goappsecond";
const BRIDGE_ADDRESS: &str = "10.239.0.1/24";

/// Its containerd namespaces (in a containerd of its own).
const NAMESPACE: &str = "goapp-second";

/// The name of its directories under the temporary directory ([`service_dir`]).
const SERVICE: &str = "second-engine";

/// The keys of the real engine's `daemon.json` the second engine copies: the registries it may
/// reach over plain HTTP, its mirrors, and the image store (the containerd image store, which
/// the `docker` driver needs for a multi-platform image).
const SHARED_SETTINGS: [&str; 4] = ["insecure-registries", "registry-mirrors", "allow-nondistributable-artifacts", "features"];

/// The real engine's configuration file and pidfile (dockerd's defaults, as `up.sh` starts it).
const MAIN_CONFIG: &str = "/etc/docker/daemon.json";
const MAIN_PIDFILE: &str = "/var/run/docker.pid";

/// The second engine; stopped when dropped, then its containerd, its directory and its bridge
/// removed.
pub struct SecondEngine {
    /// `unix://<socket>`, for `DOCKER_HOST`.
    pub host: String,
    /// Its directory: configuration, sockets, logs, data.
    pub dir: PathBuf,
    dockerd: Option<Daemon>,
    containerd: Option<Daemon>,
}

impl SecondEngine {
    pub fn start() -> SecondEngine {
        remove_leftovers();
        let dockerd = main_dockerd();
        // A bridge left by a killed test binary is taken over (and removed when done).
        if !run(Path::new("/"), "ip", &["link", "show", BRIDGE]).status.success() {
            ok(Path::new("/"), "ip", &["link", "add", BRIDGE, "type", "bridge"]);
            ok(Path::new("/"), "ip", &["addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE]);
        }
        ok(Path::new("/"), "ip", &["link", "set", BRIDGE, "up"]);

        let dir = service_dir(SERVICE);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();

        // Its own containerd: its images, content and snapshots are in the data directory,
        // and go with it.
        let containerd_socket = dir.join("containerd.sock");
        let toml = format!(
            "version = 2\nroot = {root:?}\nstate = {state:?}\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\n\
             [grpc]\n  address = {grpc:?}\n\n[ttrpc]\n  address = {ttrpc:?}\n\n[debug]\n  address = \"\"\n\n[metrics]\n  address = \"\"\n\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = {opt:?}\n",
            root = data.join("containerd").display().to_string(),
            state = dir.join("containerd-state").display().to_string(),
            grpc = containerd_socket.display().to_string(),
            ttrpc = dir.join("containerd.sock.ttrpc").display().to_string(),
            opt = data.join("containerd-opt").display().to_string(),
        );
        std::fs::write(dir.join("containerd.toml"), toml).unwrap();
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(dir.join("containerd.toml"));
        let mut containerd = Daemon::spawn("the second engine's containerd", &mut cmd, &dir.join("containerd.log"), libc::SIGTERM);
        containerd.wait_for("answer on its socket", Duration::from_secs(60), |_| {
            let out = Command::new("ctr").arg("--address").arg(&containerd_socket).arg("version").output().ok()?;
            out.status.success().then_some(())
        });

        std::fs::write(dir.join("daemon.json"), shared_settings()).unwrap();
        let host = format!("unix://{}", dir.join("docker.sock").display());
        let mut cmd = Command::new(&dockerd);
        cmd.arg("--config-file").arg(dir.join("daemon.json"));
        cmd.arg("--data-root").arg(data.join("docker"));
        cmd.arg("--exec-root").arg(dir.join("exec"));
        cmd.arg("--pidfile").arg(dir.join("dockerd.pid"));
        cmd.arg(format!("--containerd={}", containerd_socket.display()));
        cmd.args(["-H", &host, &format!("--containerd-namespace={NAMESPACE}"), &format!("--containerd-plugins-namespace={NAMESPACE}-plugins")]);
        cmd.args([&format!("--bridge={BRIDGE}"), "--iptables=false", "--ip6tables=false"]);
        let mut daemon = Daemon::spawn("the second engine", &mut cmd, &dir.join("dockerd.log"), libc::SIGTERM);
        daemon.wait_for("answer on its socket", Duration::from_secs(60), |_| {
            let out = Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]).env("DOCKER_HOST", &host).output().ok()?;
            out.status.success().then_some(())
        });
        let engine = SecondEngine { host, dir, dockerd: Some(daemon), containerd: Some(containerd) };

        // The same engine as the real one, with the same registry settings and image store.
        let versions = "{{.Server.Version}} {{range .Server.Components}}{{.Name}}={{.Version}} {{end}}";
        let info = "{{json .RegistryConfig}} {{.Driver}} {{json .DriverStatus}}";
        for (what, args) in [("version", ["version", "--format", versions]), ("registry settings and image store", ["info", "--format", info])] {
            let main = ok(Path::new("/"), "docker", &args);
            let second = engine.docker(Path::new("/"), &args);
            assert!(second.status.success(), "{}\n{}", second.stderr, engine.log());
            assert_eq!(second.stdout, main, "the second engine's {what} (left) differ from the real engine's (right)");
        }
        engine
    }

    /// `docker ARGS` against this engine, in `dir`.
    pub fn docker(&self, dir: &Path, args: &[&str]) -> Run {
        run_command(Command::new("docker").args(args).current_dir(dir).env("DOCKER_HOST", &self.host))
    }

    /// [`crate::buildx::buildx`] on this engine.
    pub fn buildx(&self, dir: &Path, platforms: &str, extra: &[&str]) -> Run {
        buildx_on(Some(&self.host), dir, platforms, extra)
    }

    /// [`crate::buildx::buildx_push`] on this engine: builds `dir` and pushes it to `image`
    /// (in the local registry, [`crate::registry::manifest_digest`] reads what it pushed);
    /// returns the build's progress.
    pub fn buildx_push(&self, dir: &Path, platforms: &str, image: &str, extra: &[&str]) -> String {
        let mut args = extra.to_vec();
        args.extend(["-t", image, "--push"]);
        let r = pushed(|| self.buildx(dir, platforms, &args));
        assert!(r.status.success(), "the build of {} on the second engine failed:\n{}\nthe engine's log:\n{}", dir.display(), r.stderr, self.log());
        r.stderr
    }

    /// The images in its store (`docker image ls -aq`) and its build cache records (`docker
    /// buildx du`), one a line: nothing on a new engine.
    pub fn contents(&self) -> String {
        let images = self.docker(Path::new("/"), &["image", "ls", "-aq"]);
        let cache = self.docker(Path::new("/"), &["buildx", "du"]);
        assert!(images.status.success() && cache.status.success(), "{}{}", images.stderr, cache.stderr);
        let records =
            cache.stdout.lines().filter(|l| !(l.starts_with("ID") || l.starts_with("Reclaimable:") || l.starts_with("Total:") || l.trim().is_empty()));
        images.stdout.lines().map(str::to_string).chain(records.map(str::to_string)).collect::<Vec<_>>().join("\n")
    }

    /// What the engine and its containerd have printed so far.
    pub fn log(&self) -> String {
        let of = |d: &Option<Daemon>| d.as_ref().map(Daemon::log).unwrap_or_default();
        format!("{}\nits containerd:\n{}", of(&self.dockerd), of(&self.containerd))
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        // The engine first (it lets go of its bridge and its mounts when it stops), then its
        // containerd, then everything they kept.
        drop(self.dockerd.take());
        drop(self.containerd.take());
        remove_dir(&self.dir);
        let _ = run(Path::new("/"), "ip", &["link", "del", BRIDGE]);
    }
}

/// The `dockerd` the real engine runs (read from its pidfile), else the one on `PATH`.
fn main_dockerd() -> PathBuf {
    let from_pid =
        std::fs::read_to_string(MAIN_PIDFILE).ok().and_then(|pid| std::fs::read_link(format!("/proc/{}/exe", pid.trim())).ok()).filter(|exe| exe.exists());
    from_pid.unwrap_or_else(|| PathBuf::from("dockerd"))
}

/// The real engine's settings that the second engine shares ([`SHARED_SETTINGS`]), as a
/// `daemon.json`.
fn shared_settings() -> String {
    let main: serde_json::Value = match std::fs::read_to_string(MAIN_CONFIG) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| panic!("{MAIN_CONFIG}: {e}")),
        Err(_) => serde_json::json!({}),
    };
    let mut own = serde_json::Map::new();
    for key in SHARED_SETTINGS {
        if let Some(v) = main.get(key) {
            own.insert(key.to_string(), v.clone());
        }
    }
    format!("{}\n", serde_json::Value::Object(own))
}

/// Unmounts whatever is still mounted under `dir`, deepest first, then removes it.
fn remove_dir(dir: &Path) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")))
        .filter(|p| p.starts_with(dir))
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for m in mounts {
        let Ok(c) = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()) else { continue };
        // SAFETY: a valid C string; umount2 has no other memory effects.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
    if let Err(e) = std::fs::remove_dir_all(dir)
        && dir.exists()
    {
        eprintln!("cannot remove the second engine's directory {}: {e}", dir.display());
    }
}

/// Removes the directories of second engines whose test binary was killed before it could.
fn remove_leftovers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    let prefix = format!("goapp-e2e-{SERVICE}-");
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else { continue };
        let Some(pid) = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            remove_dir(&e.path());
        }
    }
}
