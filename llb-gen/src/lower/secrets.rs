//! The spec's `go.secrets`: how the module download and the compile log in to private
//! module hosts without a secret reaching a layer, the cache key or the image.

use llb::{FileAction, Graph, Mkfile, Mount};

use crate::spec::{SecretKind, Spec};

/// Where a git token secret is mounted for its credential helper.
fn secret_path(id: &str) -> String {
    format!("/run/secrets/{id}")
}

/// Where a netrc secret is mounted: `$HOME/.netrc` of the builder (`/root` when its image
/// sets no HOME), where git (through curl) looks for it; `NETRC` points Go there too.
fn netrc_path(env: &[String]) -> String {
    let home = crate::image::env_get(env, "HOME").filter(|h| h.starts_with('/')).unwrap_or("/root");
    format!("{}/.netrc", home.trim_end_matches('/'))
}

/// Where the SSH agent of an `ssh` secret is mounted, and the known_hosts of its hosts.
const SSH_AGENT: &str = "/run/buildkit/ssh_agent.0";

const KNOWN_HOSTS_DIR: &str = "/goapp/ssh";

/// The spec's secrets, mounted for the `go` commands (module downloads) only: files, the SSH
/// agent socket, and a file of the `known_hosts` lines given. A secret is never part of a
/// layer or of the cache key: changing it reruns nothing.
pub(super) fn secret_mounts(g: &mut Graph, spec: &Spec, env: &[String]) -> Vec<Mount> {
    let mut mounts = Vec::new();
    let mut agent = false;
    let mut known_hosts = String::new();
    for s in &spec.go.secrets {
        let file = |dest: String| {
            let secret = llb::SecretMount { id: s.id.value.clone(), uid: 0, gid: 0, mode: 0o400, optional: false };
            Mount { dest, kind: llb::MountKind::Secret(secret), selector: String::new(), readonly: true, output: false }
        };
        match &s.kind {
            SecretKind::Netrc => mounts.push(file(netrc_path(env))),
            SecretKind::GitToken { .. } => mounts.push(file(secret_path(&s.id.value))),
            SecretKind::Ssh { known_hosts: k, .. } => {
                if !agent {
                    let ssh = llb::SshMount { id: s.id.value.clone(), uid: 0, gid: 0, mode: 0o600, optional: false };
                    mounts.push(Mount { dest: SSH_AGENT.into(), kind: llb::MountKind::Ssh(ssh), selector: String::new(), readonly: true, output: false });
                    agent = true;
                }
                if let Some(k) = k {
                    known_hosts.push_str(k.trim_end());
                    known_hosts.push('\n');
                }
            }
        }
    }
    if !known_hosts.is_empty() {
        let f = g.file(None, vec![FileAction::Mkfile(Mkfile { path: "/known_hosts".into(), mode: 0o644, data: known_hosts.into_bytes(), owner: None })]);
        g.meta(f.op).name = Some("[builder] SSH known_hosts of go.secrets".into());
        mounts.push(Mount::readonly(KNOWN_HOSTS_DIR, f));
    }
    mounts
}

/// What makes `go` and git use the secrets: `NETRC` (and `HOME` when the builder has none,
/// for git); for git tokens one credential helper per host, given as git configuration in
/// the environment (the helper reads the token from the mounted file when git asks for that
/// host, so the token is in no environment, command line or URL); for an SSH agent,
/// `SSH_AUTH_SOCK`, ssh's host key checking, and git's rewriting of the host's `https://`
/// and `http://` URLs to `ssh://`.
pub(super) fn secret_env(spec: &Spec, env: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut config: Vec<(String, String)> = Vec::new();
    let (mut ssh, mut all_known) = (false, true);
    for s in &spec.go.secrets {
        match &s.kind {
            SecretKind::Netrc => {
                out.push(("NETRC".to_string(), netrc_path(env)));
                if crate::image::env_get(env, "HOME").is_none() {
                    out.push(("HOME".to_string(), "/root".to_string()));
                }
            }
            SecretKind::GitToken { host, user } => config.push((
                "credential.helper".into(),
                format!(
                    "!f() {{ test \"$1\" = get || exit 0; while read -r l; do case \"$l\" in host=*) h=\"${{l#host=}}\";; esac; done; \
                     test \"$h\" = '{host}' || exit 0; printf 'username=%s\\npassword=%s\\n' '{user}' \"$(cat {})\"; }}; f",
                    secret_path(&s.id.value)
                ),
            )),
            SecretKind::Ssh { host, port, user, known_hosts } => {
                ssh = true;
                all_known &= known_hosts.is_some();
                let to = match port {
                    Some(p) => format!("ssh://{user}@{host}:{p}/"),
                    None => format!("ssh://{user}@{host}/"),
                };
                for scheme in ["https", "http"] {
                    config.push((format!("url.{to}.insteadOf"), format!("{scheme}://{host}/")));
                }
            }
        }
    }
    if ssh {
        out.push(("SSH_AUTH_SOCK".to_string(), SSH_AGENT.to_string()));
        let known = format!("{KNOWN_HOSTS_DIR}/known_hosts");
        // Unknown hosts are accepted only where the spec gives no keys (it warns then), and
        // nothing is written to the builder's home.
        // As Go's own default: never prompt, no shared connections.
        let base = "ssh -o ControlMaster=no -o BatchMode=yes";
        let command = match (all_known, spec.go.secrets.iter().any(|s| matches!(&s.kind, SecretKind::Ssh { known_hosts: Some(_), .. }))) {
            (true, _) => format!("{base} -o StrictHostKeyChecking=yes -o UserKnownHostsFile={known}"),
            (false, true) => format!("{base} -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={known}"),
            (false, false) => format!("{base} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"),
        };
        out.push(("GIT_SSH_COMMAND".to_string(), command));
    }
    if !config.is_empty() {
        out.push(("GIT_CONFIG_COUNT".to_string(), config.len().to_string()));
        for (i, (k, v)) in config.into_iter().enumerate() {
            out.push((format!("GIT_CONFIG_KEY_{i}"), k));
            out.push((format!("GIT_CONFIG_VALUE_{i}"), v));
        }
    }
    out
}
