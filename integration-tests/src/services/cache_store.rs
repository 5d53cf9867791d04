//! An HTTP object store for a shared Go build cache: Debian 12's nginx
//! ([`crate::env::Env::nginx`]) with its WebDAV module's PUT, on the bridge gateway, where
//! build steps reach it. An object is a file: PUT writes it (nginx takes in the whole body
//! before it renames it into place, so a reader never sees half of one), GET reads it, and a
//! missing one is a 404. Every request must carry the store's bearer token, or gets a 401.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::{Daemon, free_port, service_dir};
use crate::env::{bridge, env};
use crate::fs::walk;

/// The path of the object the store is probed with as it starts; its requests are not among
/// [`CacheStore::requests`].
const PROBE: &str = "goapp-e2e-probe";

/// The object store, on a port of its own; stopped when dropped.
pub struct CacheStore {
    /// `http://<gateway>:<port>/gocache`: the object `KEY` is `<url>/KEY` (a base path, which
    /// the client must keep).
    pub url: String,
    /// What every request must carry, as `Authorization: Bearer <token>`.
    pub token: String,
    /// The store's directory: its nginx.conf and logs, and `store`, where the objects are
    /// (`<url>/a/b` is the file `store/a/b`).
    pub root: PathBuf,
    access_log: PathBuf,
    _nginx: Daemon,
}

impl CacheStore {
    pub fn start() -> CacheStore {
        let nginx = &env().nginx;
        assert!(nginx.exists(), "{} is missing: run integration-tests/env/up.sh tools", nginx.display());
        let gateway = &bridge().gateway;
        let root = service_dir("cache-store");
        let store = root.join("store");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::create_dir_all(root.join("temp")).unwrap();
        let access_log = root.join("access.log");
        let token = random_token();
        // nginx is told its port: one the OS has just handed out.
        let port = free_port(gateway);
        let conf = root.join("nginx.conf");
        std::fs::write(&conf, config(&root, gateway, port, &token)).unwrap();

        let mut cmd = Command::new(nginx);
        // (-e: the error log nginx uses before it has read its configuration, as Debian's
        // build has it too; -p: the prefix of relative paths, though the configuration has
        // none.)
        cmd.arg("-p").arg(&root).arg("-c").arg(&conf).args(["-e", "stderr"]);
        let mut server = Daemon::spawn("the cache store (nginx)", &mut cmd, &root.join("nginx.log"), libc::SIGTERM);

        let url = format!("http://{gateway}:{port}/gocache");
        let probe = format!("{url}/{PROBE}");
        let auth = format!("Authorization: Bearer {token}");
        server.wait_for("store and serve an object", Duration::from_secs(20), |_| {
            // (201 Created, or 204 when a try before this one stored it and failed after.)
            let put = curl(&["-X", "PUT", "--data-binary", "probe", "-H", &auth, &probe]).0;
            ((put == "201" || put == "204") && curl(&["-H", &auth, &probe]) == ("200".into(), "probe".into())).then_some(())
        });
        // Only those who have the token are served; a missing object is a 404.
        assert_eq!(curl(&[&probe]).0, "401", "the cache store answered without the token");
        assert_eq!(curl(&["-H", "Authorization: Bearer wrong", &probe]).0, "401", "the cache store took a wrong token");
        assert_eq!(curl(&["-X", "PUT", "--data-binary", "x", &probe]).0, "401", "the cache store stored an object without the token");
        assert_eq!(curl(&["-H", &auth, &format!("{probe}-missing")]).0, "404", "the cache store served a missing object");
        std::fs::remove_file(store.join(PROBE)).unwrap_or_else(|e| panic!("the probe object in {}: {e}", store.display()));

        CacheStore { url, token, root, access_log, _nginx: server }
    }

    /// The requests served so far, as (method, URI path, status), in the order nginx logged
    /// them (as each ends: a request's line may follow its response by a moment), but for the
    /// store's probe as it started.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        let text = std::fs::read_to_string(&self.access_log).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                // "$request_method $uri $status"
                let (method, rest) = line.split_once(' ')?;
                let (uri, status) = rest.rsplit_once(' ')?;
                Some((method.to_string(), uri.to_string(), status.parse().ok()?))
            })
            .filter(|(_, uri, _)| !uri.strip_prefix("/gocache/").is_some_and(|key| key.starts_with(PROBE)))
            .collect()
    }

    /// Every object stored: the files under `root/store`, at any depth, sorted.
    pub fn objects(&self) -> Vec<PathBuf> {
        let mut files = walk(&self.root.join("store"));
        files.sort();
        files
    }
}

/// nginx's configuration (`integration-tests/env/cache-store.conf`): everything it writes is
/// in `dir`; the one location, `/gocache/`, is `dir/store`.
fn config(dir: &Path, gateway: &str, port: u16, token: &str) -> String {
    include_str!("../../env/cache-store.conf")
        .replace("@DIR@", &dir.display().to_string())
        .replace("@LISTEN@", &format!("{gateway}:{port}"))
        .replace("@TOKEN@", token)
}

/// `curl ARGS...`: the status it got and the body.
fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl").args(["-sS", "--noproxy", "*", "-o", "-", "-w", "\n%{http_code}"]).args(args).output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.to_string(), body.to_string())
}

/// 16 random bytes, in hex.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).expect("/dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
