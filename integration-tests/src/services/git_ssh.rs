//! The private git server's repositories over SSH: Debian's sshd in a container (the image
//! `base-images.sh git-sshd` makes), published on the bridge gateway on a port the engine
//! picks, serving them read-only to the user `git` with a key made for the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::private_git::PrivateGit;
use super::process::{Container, service_dir};
use crate::env::bridge;
use crate::registry::REGISTRY;
use crate::run::ok;

/// The SSH git server; removed when dropped.
pub struct GitSsh {
    /// The bridge gateway, where the port is published.
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The client's private key, which the server accepts.
    pub key: PathBuf,
    /// The server's `known_hosts` line (`[host]:port ssh-ed25519 ...`).
    pub known_hosts: String,
    _container: Container,
}

impl GitSsh {
    /// Serves the repositories of `git` (its `private/` directory, as `/private`) over SSH.
    pub fn start(git: &PrivateGit) -> GitSsh {
        let dir = service_dir("git-ssh");
        let keygen = |file: &str, comment: &str| ok(&dir, "ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
        keygen("ssh_host_ed25519_key", "goapp-e2e-host");
        keygen("client_key", "goapp-e2e-client");
        std::fs::create_dir_all(dir.join("authorized_keys")).unwrap();
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys/git")).unwrap();
        std::fs::write(
            dir.join("sshd_config"),
            "HostKey /etc/ssh/goapp/ssh_host_ed25519_key\nAuthorizedKeysFile /etc/ssh/goapp/authorized_keys/%u\nAllowUsers git\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\nUsePAM no\nLogLevel VERBOSE\n",
        )
        .unwrap();

        let host = bridge().gateway.clone();
        let image = format!("{REGISTRY}/e2e/git-sshd:1");
        let publish = format!("{host}::22");
        let config = format!("{}:/etc/ssh/goapp:ro", dir.display());
        let repos = format!("{}:/private:ro", git.root().join("private").display());
        let container = Container::run(
            "git-sshd",
            &[
                "--pull=always",
                "-p",
                &publish,
                "-v",
                &config,
                "-v",
                &repos,
                &image,
                "sh",
                "-c",
                "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f /etc/ssh/goapp/sshd_config",
            ],
        );
        let port = container.published_port(22);
        let host_key = std::fs::read_to_string(dir.join("ssh_host_ed25519_key.pub")).unwrap();
        let known_hosts = format!("[{host}]:{port} {}", host_key.split_whitespace().take(2).collect::<Vec<_>>().join(" "));

        // The repository answers over SSH with the key.
        let key = dir.join("client_key");
        wait_for_ls_remote(&container, &key, &format!("ssh://git@{host}:{port}/private/greet.git"));
        GitSsh { host, port, user: "git".into(), key, known_hosts, _container: container }
    }
}

fn wait_for_ls_remote(container: &Container, key: &Path, url: &str) {
    let ssh = format!("ssh -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR", key.display());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("git").args(["ls-remote", url]).env("GIT_SSH_COMMAND", &ssh).output().expect("git runs");
        if out.status.success() {
            return;
        }
        if Instant::now() > deadline {
            panic!("the SSH git server does not answer {url}:\n{}\n{}", String::from_utf8_lossy(&out.stderr), container.logs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
