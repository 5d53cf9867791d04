//! The image config: what the image's metadata says of the program and where it came from.

use std::collections::BTreeMap;

use super::{BIN_DIR, BaseImage, CA_BUNDLE, DEFAULT_PATH, HISTORY_COMMENT, Input};
use crate::golang;
use crate::image::{ContainerConfig, Empty, HealthConfig, History, ImageConfig, env_set};
use crate::paths::{WINDOWS_BIN_DIR, windows_path};
use crate::plan::ResultKind;
use crate::reference::ImageRef;
use crate::spec::{Base, Debug, Healthcheck};

/// The image config. On a pulled base it starts from the base's config:
/// - `Env`: the base's, with `/usr/local/bin` put first on a `PATH` that lacks it (and
///   `PATH` set when the base has none), `SSL_CERT_FILE` when the image has the CA bundle,
///   then `runtime.env`;
/// - `ExposedPorts`, `Volumes`: the base's and the spec's;
/// - `Labels`: the base's, then the OCI labels goapp fills, then `runtime.labels`, then
///   `--label`;
/// - `WorkingDir`, `StopSignal`, `Healthcheck`: the spec's, else the base's;
/// - `User`, `Entrypoint`, `Cmd`: the spec's only (non-root by default; the base's command
///   is not the app's);
/// - `history`: the base's entries, then one per layer goapp adds.
pub(super) fn image_config(input: &Input<'_>, history: Vec<String>) -> ImageConfig {
    if golang::is_windows(input.target) {
        return windows_config(input, history);
    }
    let spec = input.spec;
    let rt = &spec.runtime;
    let base = input.base.filter(|_| rt.base.value == Base::Image);
    let inherited = base.map(|b| b.config.config.clone()).unwrap_or_default();

    let mut env = inherited.env.clone().unwrap_or_default();
    match crate::image::env_get(&env, "PATH").map(str::to_string) {
        None => env_set(&mut env, "PATH", DEFAULT_PATH),
        Some(p) if !p.split(':').any(|d| d == BIN_DIR) => env_set(&mut env, "PATH", &format!("{BIN_DIR}:{p}")),
        Some(_) => {}
    }
    if rt.ca_certificates {
        env_set(&mut env, "SSL_CERT_FILE", CA_BUNDLE);
    }
    for (k, v) in &rt.env {
        env_set(&mut env, k, v);
    }
    if input.result == ResultKind::Debug {
        // Delve keeps its settings under the user's configuration directory: one the
        // program's user can write, whatever its home.
        env_set(&mut env, "XDG_CONFIG_HOME", "/tmp");
    }
    let mut ports: BTreeMap<String, Empty> = inherited.exposed_ports.clone().unwrap_or_default();
    ports.extend(rt.ports.iter().map(|p| (p.key(), Empty {})));
    let debug = (input.result == ResultKind::Debug).then_some(&spec.debug);
    if let Some(d) = debug {
        ports.insert(format!("{}/tcp", d.port), Empty {});
    }
    let mut volumes: BTreeMap<String, Empty> = inherited.volumes.clone().unwrap_or_default();
    volumes.extend(rt.volumes.iter().map(|v| (v.path.clone(), Empty {})));

    let labels = labels(input, base, inherited.labels.clone(), rt.base_image.as_ref());
    let healthcheck = match &rt.healthcheck {
        Some(h) => Some(health_config(h, h.command.clone())),
        None => inherited.healthcheck.clone(),
    };
    let working_dir = match &rt.workdir {
        Some(w) => w.value.clone(),
        None => inherited.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or("/".into()),
    };
    let facts = input.facts;
    ImageConfig {
        architecture: input.target.architecture.clone(),
        os: input.target.os.clone(),
        os_version: None,
        variant: input.target.variant.clone(),
        created: facts.created.clone(),
        config: ContainerConfig {
            user: Some(input.user.config()),
            exposed_ports: (!ports.is_empty()).then_some(ports),
            env: Some(env),
            entrypoint: Some(match debug {
                Some(d) => delve_command(d, &format!("{BIN_DIR}/{}", input.entrypoint.name.value)),
                None => vec![format!("{BIN_DIR}/{}", input.entrypoint.name.value)],
            }),
            cmd: (!rt.args.is_empty()).then(|| rt.args.clone()),
            working_dir: Some(working_dir),
            labels: Some(labels),
            volumes: (!volumes.is_empty()).then_some(volumes),
            stop_signal: rt.stop_signal.as_ref().map(|s| s.value.clone()).or(inherited.stop_signal.clone()),
            healthcheck,
        },
        rootfs: Default::default(),
        history: history_entries(input, base, history),
    }
}

/// The image config of a Windows platform, on its Windows base (see "Windows images" in
/// the reference): the base's `os.version` (the Windows release the image runs on);
/// `User` the spec's Windows account; the entrypoint `C:\app\NAME.exe`; `PATH` the base's
/// with `C:\app` first (`;`-separated); the spec's env, ports, labels and arguments as on Linux; the workdir,
/// volumes and health check at their Windows paths (`/data` is `C:\data`). No stop signal:
/// Windows stops a container with a shutdown event.
fn windows_config(input: &Input<'_>, history: Vec<String>) -> ImageConfig {
    let spec = input.spec;
    let rt = &spec.runtime;
    let base = input.base;
    let inherited = base.map(|b| b.config.config.clone()).unwrap_or_default();
    let mut env = inherited.env.clone().unwrap_or_default();
    let bin = windows_path(WINDOWS_BIN_DIR);
    let path = crate::image::env_get(&env, "PATH").map(str::to_string).unwrap_or_else(|| DEFAULT_WINDOWS_PATH.to_string());
    if !path.split(';').any(|d| d.eq_ignore_ascii_case(&bin)) {
        env_set(&mut env, "PATH", &format!("{bin};{path}"));
    }
    for (k, v) in &rt.env {
        env_set(&mut env, k, v);
    }
    let mut ports: BTreeMap<String, Empty> = inherited.exposed_ports.clone().unwrap_or_default();
    ports.extend(rt.ports.iter().map(|p| (p.key(), Empty {})));
    let mut volumes: BTreeMap<String, Empty> = inherited.volumes.clone().unwrap_or_default();
    volumes.extend(rt.volumes.iter().map(|v| (windows_path(&v.path), Empty {})));
    let labels = labels(input, base, inherited.labels.clone(), Some(&rt.windows.base_image));
    let program = |p: &str| match p.strip_prefix(&format!("{BIN_DIR}/")) {
        Some(name) => windows_path(&format!("{WINDOWS_BIN_DIR}/{name}.exe")),
        None => windows_path(p),
    };
    let healthcheck = match &rt.healthcheck {
        Some(h) => Some(health_config(h, std::iter::once(program(&h.command[0])).chain(h.command[1..].iter().cloned()).collect())),
        None => inherited.healthcheck.clone(),
    };
    let working_dir = match &rt.workdir {
        Some(w) => windows_path(&w.value),
        None => inherited.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| windows_path("/")),
    };
    let facts = input.facts;
    ImageConfig {
        architecture: input.target.architecture.clone(),
        os: input.target.os.clone(),
        os_version: base.and_then(|b| b.config.os_version.clone()),
        variant: input.target.variant.clone(),
        created: facts.created.clone(),
        config: ContainerConfig {
            user: Some(rt.windows.user.clone()),
            exposed_ports: (!ports.is_empty()).then_some(ports),
            env: Some(env),
            entrypoint: Some(vec![program(&format!("{BIN_DIR}/{}", input.entrypoint.name.value))]),
            cmd: (!rt.args.is_empty()).then(|| rt.args.clone()),
            working_dir: Some(working_dir),
            labels: Some(labels),
            volumes: (!volumes.is_empty()).then_some(volumes),
            stop_signal: None,
            healthcheck,
        },
        rootfs: Default::default(),
        history: history_entries(input, base, history),
    }
}

/// The `PATH` of a Windows image whose base sets none: Windows' own.
const DEFAULT_WINDOWS_PATH: &str = "C:\\Windows\\system32;C:\\Windows";

/// The labels: the base's, then the OCI labels goapp fills, then `runtime.labels`, then
/// `--label`. `written` is the base as the spec names it.
fn labels(input: &Input<'_>, base: Option<&BaseImage>, inherited: Option<BTreeMap<String, String>>, written: Option<&ImageRef>) -> BTreeMap<String, String> {
    let spec = input.spec;
    let mut labels = inherited.unwrap_or_default();
    let oci = |k: &str| format!("org.opencontainers.image.{k}");
    labels.insert(oci("title"), spec.name.value.clone());
    let facts = input.facts;
    for (k, v) in [
        ("version", spec.version.clone()),
        ("source", spec.source.clone().or_else(|| facts.vcs_source.clone())),
        ("revision", facts.vcs_revision.clone()),
        ("created", facts.created.clone()),
        ("base.name", base.and_then(|b| b.replaced_by.as_ref()).or(written).map(|r| r.to_string())),
        ("base.digest", base.and_then(|b| b.digest.clone())),
    ] {
        match v {
            Some(v) => labels.insert(oci(k), v),
            // A base's own OCI labels describe the base, not this image.
            None => labels.remove(&oci(k)),
        };
    }
    labels.extend(spec.runtime.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels.extend(input.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels
}

/// The health check of the config, with `command` as the image runs it.
fn health_config(h: &Healthcheck, command: Vec<String>) -> HealthConfig {
    HealthConfig {
        test: std::iter::once("CMD".to_string()).chain(command).collect(),
        interval: h.interval.unwrap_or(0),
        timeout: h.timeout.unwrap_or(0),
        start_period: h.start_period.unwrap_or(0),
        retries: h.retries.unwrap_or(0),
    }
}

/// The history: the base's entries, then one per layer goapp adds.
fn history_entries(input: &Input<'_>, base: Option<&BaseImage>, history: Vec<String>) -> Vec<History> {
    let mut entries: Vec<History> = base.map(|b| b.config.history.clone()).unwrap_or_default();
    entries.extend(history.into_iter().map(|h| History {
        created: input.facts.created.clone(),
        created_by: Some(h),
        comment: Some(HISTORY_COMMENT.into()),
        ..Default::default()
    }));
    entries
}

/// The debug image's entrypoint: Delve, headless on its port, running the program (whose
/// arguments, the image's `Cmd`, follow the `--`). It accepts any number of clients, one
/// after another, from outside the container (`--only-same-user=false`: the engine's port
/// forwarding connects as another user), and does not refuse a Go newer than it knows.
fn delve_command(d: &Debug, program: &str) -> Vec<String> {
    let mut args = vec![
        format!("{BIN_DIR}/dlv"),
        "exec".into(),
        program.into(),
        format!("--listen=:{}", d.port),
        "--headless".into(),
        "--api-version=2".into(),
        "--accept-multiclient".into(),
        "--only-same-user=false".into(),
        "--check-go-version=false".into(),
    ];
    if !d.wait {
        args.push("--continue".into());
    }
    args.push("--".into());
    args
}
