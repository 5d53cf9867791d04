//! Wine (Debian 12's wine64, which up.sh installs), to run the Windows console programs the
//! tests take out of images: a Wine prefix of its own and a server that stays up while the
//! guard lives, so that each program run takes a fraction of a second (up.sh, above
//! `wine_files`, says why each setting is there).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{Daemon, service_dir};
use crate::run::Run;

/// Wine's loader and server in Debian 12's wine64, which has no `wine` command.
const LOADER: &str = "/usr/lib/wine/wine64";
const SERVER: &str = "/usr/lib/wine/wineserver";

/// A Wine prefix with its server; both removed when dropped.
pub struct Wine {
    dir: PathBuf,
    prefix: PathBuf,
    server: Option<Daemon>,
}

impl Wine {
    /// Makes the prefix (3 to 5 s), with the DLLs Wine 8.0 lacks and Go programs load.
    pub fn start() -> Wine {
        let dir = service_dir("wine");
        let prefix = dir.join("prefix");
        let system32 = prefix.join("drive_c/windows/system32");
        std::fs::create_dir_all(&system32).unwrap();
        let dlls = &crate::env::env().wine_dlls;
        for e in std::fs::read_dir(dlls).unwrap_or_else(|e| panic!("{}: {e}: run integration-tests/env/up.sh tools", dlls.display())) {
            let e = e.unwrap();
            std::fs::copy(e.path(), system32.join(e.file_name())).unwrap();
        }
        let mut wine = Wine { dir: dir.clone(), prefix, server: None };
        let log = dir.join("wineserver.log");
        let server = wine.server.insert(Daemon::spawn("wineserver", wine.command(SERVER).args(["-p", "-f"]), &log, libc::SIGTERM));
        // Debian's Wine writes the name of the server's directory (under TMPDIR) into the
        // prefix's `wineserver` file, which every client reads to find the socket. A loader
        // started before that file and the socket are there would start a second server, and
        // the two would write the file in turn: wait for them.
        let prefix = wine.prefix.clone();
        server.wait_for("its socket", Duration::from_secs(30), |_| {
            let name = std::fs::read_to_string(prefix.join("wineserver")).ok()?;
            let sockets = std::fs::read_dir(dir.join(name.trim())).ok()?;
            sockets.flatten().any(|d| d.path().join("socket").exists()).then_some(())
        });
        // The prefix, made with no output to anyone's pipes (see up.sh): what it prints goes to
        // a file, shown if it fails.
        let boot_log = dir.join("wineboot.log");
        let out = std::fs::File::create(&boot_log).unwrap();
        let status = wine
            .command(LOADER)
            .env("WINEDEBUG", "-all,err+all")
            .args(["wineboot", "--init"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .status();
        if !status.as_ref().is_ok_and(|s| s.success()) {
            let server_log = wine.server.as_ref().map(Daemon::log).unwrap_or_default();
            let boot = std::fs::read_to_string(&boot_log).unwrap_or_default();
            panic!("wineboot --init failed in {}: {status:?}\nwineboot:\n{boot}\nwineserver:\n{server_log}", wine.prefix.display());
        }
        wine
    }

    /// Runs a Windows console program with `args`.
    pub fn run(&self, exe: &Path, args: &[&str]) -> Run {
        crate::run::run_command(self.command(LOADER).arg(exe).args(args).stdin(Stdio::null()))
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("WINEPREFIX", &self.prefix)
            .env("HOME", &self.dir)
            // Debian's Wine keeps its server's socket in a directory under TMPDIR: here, so
            // that it goes with the guard's directory.
            .env("TMPDIR", &self.dir)
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=;winemenubuilder.exe=d")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        cmd
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        // Ends the server and every process of the prefix, then the prefix (700 MB).
        let _ = self.command(SERVER).arg("-k").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        drop(self.server.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
