//! A private git server: `integration-tests/env/private-git.py`, git's smart HTTP protocol
//! through `git http-backend`, with HTTP Basic auth, on the bridge gateway's port 80. It serves
//! a private Go module, `<gateway>/private/greet.git` v1.0.0, which the go command fetches
//! directly (GOPROXY=direct, GOINSECURE=<gateway>) with the credentials in a .netrc or from a
//! git credential helper, and the repositories the tests publish.
//!
//! Port 80 because a Go module path names a host and no port. So only one runs at a time on a
//! machine, which the end-to-end tests' one thread ensures.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::{Daemon, service_dir};
use crate::env::{bridge, repo_root};
use crate::fs::{copy_dir, temp_dir};
use crate::run::{Run, run_command};

/// The private module's version.
const VERSION: &str = "v1.0.0";

/// The private git server and its module; stopped when dropped.
pub struct PrivateGit {
    /// `<gateway>/private/greet.git`.
    pub module: String,
    /// The gateway address the server is on, the module path's host.
    pub host: String,
    pub version: String,
    /// The module's two go.sum lines.
    pub go_sum: String,
    /// The user and password of Basic auth.
    pub user: String,
    pub password: String,
    /// A token, sent as the password of the user `x-access-token`.
    pub token: String,
    root: PathBuf,
    _server: Daemon,
}

impl PrivateGit {
    pub fn start() -> PrivateGit {
        let host = bridge().gateway.clone();
        if let Err(e) = TcpListener::bind((host.as_str(), 80)) {
            panic!("port 80 of {host} is taken ({e}): the private git server needs it (is another test binary or an older environment's server running?)");
        }
        let dir = service_dir("private-git");
        let root = dir.join("repos");
        let module = format!("{host}/private/greet.git");
        let go_sum = make_module(&root.join("private/greet.git"), &module, &dir.join("greet"));
        let (password, token) = (random_secret(), random_secret());

        let script = repo_root().join("integration-tests/env/private-git.py");
        let mut cmd = Command::new("python3");
        cmd.arg("-u").arg(&script).args(["--bind", &host, "--port", "80", "--root"]).arg(&root);
        cmd.args(["--user", &format!("goapp:{password}"), "--user", &format!("x-access-token:{token}")]);
        let mut server = Daemon::spawn("the private git server", &mut cmd, &dir.join("server.log"), libc::SIGTERM);

        let probe = format!("http://{host}/private/greet.git/info/refs?service=git-upload-pack");
        let status = |creds: Option<&str>| {
            let mut curl = Command::new("curl");
            curl.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"]);
            if let Some(c) = creds {
                curl.args(["-u", c]);
            }
            String::from_utf8_lossy(&curl.arg(&probe).output().expect("curl runs").stdout).into_owned()
        };
        let user_pass = format!("goapp:{password}");
        server.wait_for("answer the user", Duration::from_secs(20), |_| (status(Some(&user_pass)) == "200").then_some(()));
        // Only those who log in are served.
        assert_eq!(status(None), "401", "the private git server answered without credentials");
        assert_eq!(status(Some(&format!("x-access-token:{token}"))), "200", "the private git server refused the token");
        assert_eq!(status(Some("goapp:wrong")), "401", "the private git server took a wrong password");

        PrivateGit { module, host, version: VERSION.to_string(), go_sum, user: "goapp".into(), password, token, root, _server: server }
    }

    /// The directory of the bare repositories served: `<root>/a/b.git` is `http://<host>/a/b.git`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Publishes the files of `dir` as the `main` branch of a new repository on this server
    /// (which needs the token); returns its URL.
    pub fn publish(&self, dir: &Path, name: &str) -> String {
        let repo = format!("e2e/{name}-{}.git", std::process::id());
        let bare = self.root.join(&repo);
        let _ = std::fs::remove_dir_all(&bare);
        let work = temp_dir(&format!("{name}-work"));
        copy_dir(dir, &work);
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "e2e"]);
        git(&work, &["clone", "-q", "--bare", ".", &bare.display().to_string()]);
        format!("http://{}/{repo}", self.host)
    }
}

/// A program that prints what the private module says, in a new directory `name`, with the
/// spec `spec`.
pub fn greeter(name: &str, p: &PrivateGit, spec: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("go.mod"), format!("module example.com/greeter\n\ngo 1.26\n\nrequire {} {}\n", p.module, p.version)).unwrap();
    std::fs::write(dir.join("go.sum"), &p.go_sum).unwrap();
    std::fs::write(
        dir.join("main.go"),
        format!("package main\n\nimport (\n\t\"fmt\"\n\n\tgreet \"{}\"\n)\n\nfunc main() {{\n\tfmt.Println(greet.Hello(\"goapp\"))\n}}\n", p.module),
    )
    .unwrap();
    std::fs::write(dir.join("goapp.yaml"), spec).unwrap();
    dir
}

/// git with fixed names and dates and no configuration of this machine's: the same commits
/// each time.
fn git(dir: &Path, args: &[&str]) -> Run {
    let r = run_command(
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "goapp tests")
            .env("GIT_AUTHOR_EMAIL", "tests@goapp.invalid")
            .env("GIT_COMMITTER_NAME", "goapp tests")
            .env("GIT_COMMITTER_EMAIL", "tests@goapp.invalid")
            .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z"),
    );
    assert!(r.status.success(), "git {} failed:\n{}{}", args.join(" "), r.stdout, r.stderr);
    r
}

/// Makes the bare repository `bare` of the module `module` at [`VERSION`] (its work tree in
/// `work`); returns its go.sum lines, as the go command computes them.
fn make_module(bare: &Path, module: &str, work: &Path) -> String {
    std::fs::create_dir_all(work).unwrap();
    std::fs::write(work.join("go.mod"), format!("module {module}\n\ngo 1.22\n")).unwrap();
    std::fs::write(work.join("greet.go"), "package greet\n\nfunc Hello(name string) string { return \"hello, \" + name + \", from a private module\" }\n")
        .unwrap();
    git(work, &["init", "-q", "-b", "main"]);
    git(work, &["add", "go.mod", "greet.go"]);
    git(work, &["commit", "-q", "-m", &format!("greet {VERSION}")]);
    git(work, &["tag", VERSION]);
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    let bare_s = bare.display().to_string();
    git(work, &["init", "-q", "--bare", "-b", "main", &bare_s]);
    git(bare, &["config", "http.receivepack", "false"]);
    git(bare, &["config", "uploadpack.allowReachableSHA1InWant", "true"]);
    git(work, &["push", "-q", &bare_s, "main", &format!("refs/tags/{VERSION}")]);
    let script = repo_root().join("integration-tests/env/private-git.py");
    let r = run_command(Command::new("python3").arg(&script).args(["gosum", "--module", module, "--version", VERSION, "--dir"]).arg(work));
    assert!(r.status.success() && r.stdout.lines().count() == 2, "go.sum of {module}:\n{}{}", r.stdout, r.stderr);
    r.stdout
}

/// 24 random hex digits.
fn random_secret() -> String {
    let mut bytes = [0u8; 12];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).expect("/dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
