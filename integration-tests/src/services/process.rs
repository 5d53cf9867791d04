//! Guards over what a service is made of: a process, a container, a firewall rule.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::fs::temp_dir;
use crate::run::{ok, run};

/// A new directory for one service of this test binary (its configuration, logs, data).
pub(crate) fn service_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    temp_dir(&format!("{name}-{}", N.fetch_add(1, Ordering::SeqCst)))
}

/// A port on `address` that nothing listens on now, as the OS hands them out, for a program
/// that cannot be told to pick one itself.
pub fn free_port(address: &str) -> u16 {
    let listener = TcpListener::bind((address, 0)).unwrap_or_else(|e| panic!("cannot listen on {address}: {e}"));
    listener.local_addr().unwrap().port()
}

/// A program running in the background, its stdout and stderr in a log file; sent `stop`
/// (then SIGKILL, if it has not exited 30 s later) when dropped.
pub struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
    stop: i32,
}

impl Daemon {
    /// Starts `cmd`. It is sent `stop` too if the thread that started it ends first.
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path, stop: i32) -> Daemon {
        let out = File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        cmd.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out);
        // SAFETY: prctl is async-signal-safe, and nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, stop as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name} ({:?}): {e}", cmd.get_program()));
        Daemon { name: name.to_string(), child, log: log.to_path_buf(), stop }
    }

    /// What it has printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `ready` returns something (checked every 100 ms, `timeout` at most); fails
    /// the test with the log if the program exits first or the time is up.
    pub fn wait_for<T>(&mut self, what: &str, timeout: Duration, mut ready: impl FnMut(&Self) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = ready(self) {
                return v;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited ({status}) before {what}:\n{}", self.name, self.log());
            }
            if Instant::now() > deadline {
                panic!("{} did not {what} in {timeout:?}:\n{}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SAFETY: the child has not been waited for, so its id is still its own.
        unsafe { libc::kill(self.child.id() as libc::pid_t, self.stop) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop in 30 s: killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The label of the containers the tests run: the id of the test binary's process.
const OWNER_LABEL: &str = "goapp-e2e.owner";

/// A container started with `docker run -d --rm`, removed when dropped.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `docker run -d --rm --name goapp-e2e-<name>-<pid>-<n> --label goapp-e2e.owner=<pid>
    /// ARGS...` (ARGS: options, the image, its command), once the containers that killed test
    /// binaries left are removed.
    pub fn run(name: &str, args: &[&str]) -> Container {
        remove_orphans();
        static N: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let name = format!("goapp-e2e-{name}-{pid}-{}", N.fetch_add(1, Ordering::SeqCst));
        let label = format!("{OWNER_LABEL}={pid}");
        let mut all = vec!["run", "-d", "--rm", "--name", &name, "--label", &label];
        all.extend_from_slice(args);
        ok(Path::new("/"), "docker", &all);
        Container { name }
    }

    /// The port of this machine that the container's `port` (TCP) is published on.
    pub fn published_port(&self, port: u16) -> u16 {
        let out = ok(Path::new("/"), "docker", &["port", &self.name, &format!("{port}/tcp")]);
        let first = out.lines().next().unwrap_or_else(|| panic!("{} publishes no port {port}", self.name));
        first.rsplit(':').next().unwrap().trim().parse().unwrap_or_else(|e| panic!("{first}: {e}"))
    }

    /// The container's log.
    pub fn logs(&self) -> String {
        let r = run(Path::new("/"), "docker", &["logs", &self.name]);
        format!("{}{}", r.stdout, r.stderr)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = run(Path::new("/"), "docker", &["rm", "-f", &self.name]);
    }
}

/// Removes the containers of test binaries that no longer run.
fn remove_orphans() {
    let format = format!("{{{{.ID}}}} {{{{.Label \"{OWNER_LABEL}\"}}}}");
    let list = ok(Path::new("/"), "docker", &["ps", "-a", "--filter", &format!("label={OWNER_LABEL}"), "--format", &format]);
    for line in list.lines() {
        let Some((id, owner)) = line.split_once(' ') else { continue };
        if !Path::new("/proc").join(owner.trim()).exists() {
            let _ = run(Path::new("/"), "docker", &["rm", "-f", id]);
        }
    }
}

/// A firewall rule (commented `goapp-e2e`), deleted when dropped.
pub struct FirewallRule {
    table: String,
    chain: String,
    rule: Vec<String>,
}

impl FirewallRule {
    /// `iptables -I INPUT RULE...`.
    pub fn insert(rule: &[&str]) -> FirewallRule {
        FirewallRule::insert_in("filter", "INPUT", rule)
    }

    /// `iptables -t TABLE -I CHAIN RULE...`.
    pub fn insert_in(table: &str, chain: &str, rule: &[&str]) -> FirewallRule {
        let mut rule: Vec<String> = rule.iter().map(|s| s.to_string()).collect();
        rule.extend(["-m", "comment", "--comment", "goapp-e2e"].map(String::from));
        let mut args = vec!["-t", table, "-I", chain];
        args.extend(rule.iter().map(String::as_str));
        ok(Path::new("/"), "iptables", &args);
        FirewallRule { table: table.into(), chain: chain.into(), rule }
    }
}

impl Drop for FirewallRule {
    fn drop(&mut self) {
        let mut args = vec!["-t", &self.table, "-D", &self.chain];
        args.extend(self.rule.iter().map(String::as_str));
        let _ = run(Path::new("/"), "iptables", &args);
    }
}
