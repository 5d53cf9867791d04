//! The test environment, as `integration-tests/env/up.sh` leaves it: read once, typed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;

/// The layout of `env.json` this harness reads; `up.sh` writes the same number.
pub const FORMAT: u32 = 4;

/// What `up.sh tools` provisioned for the tests (`$GOAPP_STATE/env.json`): the only state that
/// passes from `up.sh` to the tests. The services that use these files are started by the
/// tests ([`crate::services`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Env {
    /// [`FORMAT`], when `up.sh` and this harness agree.
    pub format: u32,
    /// The local registry, `localhost:5000` (the examples' `# syntax=` lines name it).
    pub registry: String,
    /// A Go module proxy as files (the GOPROXY layout), made from Debian's Go source packages.
    pub module_proxy_files: PathBuf,
    /// Debian 12's `dockerd` 20.10 (BuildKit v0.8), unpacked from its package.
    pub old_dockerd: PathBuf,
    /// Where that engine keeps its images and build cache between runs.
    pub old_engine_data: PathBuf,
    /// A `DOCKER_CONFIG` directory whose `cli-plugins/docker-buildx` is a current buildx.
    pub current_buildx_config: PathBuf,
    /// A root with Debian's arm64 Docker Engine (and amd64 runc), for [`crate::services::Arm64Engine`].
    pub arm64_engine_root: PathBuf,
    /// Where that engine keeps its images and build cache between runs.
    pub arm64_engine_data: PathBuf,
    /// The DLLs Debian 12's Wine 8.0 lacks and Go programs load (`bcryptprimitives.dll`),
    /// which [`crate::services::Wine`] puts in its prefix's system32.
    pub wine_dlls: PathBuf,
    /// Debian 12's `nginx` binary (1.22, with its WebDAV module), unpacked from its package,
    /// which [`crate::services::CacheStore`] runs as the HTTP object store of a Go build cache.
    pub nginx: PathBuf,
}

/// Where `up.sh` keeps its state (`GOAPP_STATE`, as for `up.sh`).
pub fn state_dir() -> PathBuf {
    PathBuf::from(std::env::var("GOAPP_STATE").unwrap_or_else(|_| "/var/lib/goapp-e2e".into()))
}

/// The test environment, read from `env.json` on first use.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let file = state_dir().join("env.json");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}: run scripts/test, or integration-tests/env/up.sh (as root), which writes it", file.display()));
        let env: Env =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: run integration-tests/env/up.sh tools again to write it anew", file.display()));
        assert_eq!(env.format, FORMAT, "{} is of another layout: run integration-tests/env/up.sh tools again", file.display());
        assert_eq!(env.registry, crate::registry::REGISTRY, "the tests and the examples use the registry {}", crate::registry::REGISTRY);
        env
    })
}

/// The workspace's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// The engine's default bridge network, where build steps and containers reach the services
/// the tests run on this machine.
#[derive(Debug)]
pub struct Bridge {
    /// This machine's address on the bridge (`172.17.0.1`).
    pub gateway: String,
    /// The bridge's subnet (`172.17.0.0/16`).
    pub subnet: String,
}

/// The engine's default bridge, asked of the engine once.
pub fn bridge() -> &'static Bridge {
    static BRIDGE: OnceLock<Bridge> = OnceLock::new();
    BRIDGE.get_or_init(|| {
        let out = Command::new("docker")
            .args(["network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}} {{(index .IPAM.Config 0).Subnet}}"])
            .output()
            .expect("docker runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let (gateway, subnet) =
            text.trim().split_once(' ').unwrap_or_else(|| panic!("the engine's bridge network: {text}{}", String::from_utf8_lossy(&out.stderr)));
        Bridge { gateway: gateway.to_string(), subnet: subnet.to_string() }
    })
}
