//! The engine: whether it is there, QEMU emulation, and containers' servers.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::registry::REGISTRY;
use crate::run::{ok, run};

/// Fails the test with a clear message when the engine or the registry is not there.
pub fn require_engine() {
    let ok = Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "no Docker Engine answers: run the end-to-end tests with scripts/test, which starts one");
    let reg = Command::new("curl").args(["-fsS", &format!("http://{REGISTRY}/v2/")]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(reg, "the local registry {REGISTRY} does not answer: run scripts/test, which starts it");
}

/// Turns QEMU emulation of one architecture off until dropped, so that any step that would
/// run under emulation fails instead.
pub struct EmulationOff {
    entry: PathBuf,
}

impl EmulationOff {
    pub fn new(qemu_name: &str) -> Self {
        let entry = PathBuf::from(format!("/proc/sys/fs/binfmt_misc/{qemu_name}"));
        let state = std::fs::read_to_string(&entry).unwrap_or_else(|e| panic!("{} is not registered ({e}): run scripts/test", entry.display()));
        assert!(state.starts_with("enabled"), "{} is not enabled", entry.display());
        std::fs::write(&entry, "0").expect("disable binfmt entry");
        EmulationOff { entry }
    }
}

impl Drop for EmulationOff {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.entry, "1");
    }
}

/// `GET path` from the server of container `cid` on its published `port`, retried until the
/// server answers 200 (30 s at most); returns the whole response, headers included.
pub fn http_get(cid: &str, port: u16, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    ask_container(cid, port, &format!("GET {path}"), request.as_bytes(), |body| body.starts_with("HTTP/1.0 200"))
}

/// Sends `request` to container `cid` on its published `port` and reads the answer (to the
/// end, or what came within 5 s), retried until `done` accepts it (30 s at most, while the
/// server starts); the test fails with the container's log otherwise.
pub fn ask_container(cid: &str, port: u16, what: &str, request: &[u8], done: impl Fn(&str) -> bool) -> String {
    let published = ok(Path::new("/"), "docker", &["port", cid, &format!("{port}/tcp")]);
    let addr = published.lines().next().expect("a published port").trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = TcpStream::connect(&addr).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(request)?;
            let mut body = Vec::new();
            match s.read_to_end(&mut body) {
                Ok(_) => {}
                // A server that keeps the connection open: what it sent is the answer.
                Err(e) if !body.is_empty() && matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
            Ok(String::from_utf8_lossy(&body).into_owned())
        });
        match attempt {
            Ok(body) if done(&body) => return body,
            _ if Instant::now() > deadline => {
                let logs = run(Path::new("/"), "docker", &["logs", cid]);
                panic!("the server in {cid} did not answer {what} on {addr}: {attempt:?}\n{}{}", logs.stdout, logs.stderr);
            }
            _ => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}
