//! A Go module proxy: the files of [`crate::env::Env::module_proxy_files`] served by Python's
//! http.server on the engine's bridge, where build steps and containers reach it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::{Daemon, service_dir};
use crate::env::{bridge, env};

/// A module proxy serving the test environment's modules on a port of its own; stopped when
/// dropped. Its URL is what `--build-arg GOPROXY=` takes.
pub struct ModuleProxy {
    /// `http://<gateway>:<port>`.
    pub url: String,
    pub port: u16,
    _server: Daemon,
}

impl ModuleProxy {
    /// Serves the modules on the bridge gateway.
    pub fn start() -> ModuleProxy {
        Self::serve(&env().module_proxy_files, "module-proxy")
    }

    /// Serves the GOPROXY tree `files` on the bridge gateway, on the port the OS picks.
    pub(crate) fn serve(files: &Path, name: &str) -> ModuleProxy {
        assert!(files.join("golang.org/x/text/@v/list").exists(), "{} is no module proxy: run integration-tests/env/up.sh tools", files.display());
        let gateway = &bridge().gateway;
        let log = service_dir(name).join("http.log");
        let mut cmd = Command::new("python3");
        // (-u: the line that says the port is not held in a buffer.)
        cmd.args(["-u", "-m", "http.server", "--bind", gateway, "0", "--directory"]).arg(files);
        let mut server = Daemon::spawn(name, &mut cmd, &log, libc::SIGTERM);
        // "Serving HTTP on 172.17.0.1 port 43125 (http://172.17.0.1:43125/) ..."
        let port = server.wait_for("say its port", Duration::from_secs(20), |d| {
            let log = d.log();
            let rest = log.lines().find_map(|l| l.strip_prefix("Serving HTTP on "))?;
            rest.split_whitespace().nth(2)?.parse::<u16>().ok()
        });
        ModuleProxy { url: format!("http://{gateway}:{port}"), port, _server: server }
    }
}
