//! The gRPC client of BuildKit's LLBBridge, over the frontend's stdin and stdout.
//!
//! BuildKit serves HTTP/2 (prior knowledge, no TLS) on the pipes it gives the frontend
//! process; we are the client. The connector hands out the stdio stream once: a second
//! reader of stdin would corrupt the stream, so a reconnect is an error, never a new reader.
//! Nothing else may write to stdout.

use std::future::Future;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use hyper_util::rt::TokioIo;
use llb::Platform;
use llb_gen::context::ContextSource;
use llb_gen::reference::ImageRef;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::opts::Opts;
use crate::proto::{LlbBridgeClient, gw};

/// BuildKit's message size limit on this connection (containerd's default), both ways.
const MAX_MESSAGE: usize = 16 << 20;

/// What the frontend asks of BuildKit: [`Bridge`] over stdio in a build, an in-memory fake
/// in the unit tests. A gateway is cheap to clone; clones share the connection, so the
/// platforms of a build are solved concurrently.
pub trait Gateway: Clone + Send + Sync + 'static {
    /// What BuildKit can do.
    fn ping(&mut self) -> impl Future<Output = Result<Caps>> + Send;
    /// Solves a definition and returns the id of its result (empty for an empty filesystem).
    fn solve(&mut self, def: llb::pb::Definition, cache_imports: Vec<gw::CacheOptionsEntry>) -> impl Future<Output = Result<String>> + Send;
    /// A file of a solved result; `Ok(None)` when it does not exist.
    fn read_file(&mut self, reference: &str, path: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    /// The first `max` bytes of a file of a solved result, so that a file larger than any
    /// the frontend reads costs no more than `max`.
    fn read_file_head(&mut self, reference: &str, path: &str, max: usize) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    /// Whether a path exists in a solved result (a symbolic link counts, whatever it points to).
    fn exists(&mut self, reference: &str, path: &str) -> impl Future<Output = Result<bool>> + Send;
    /// The names in a directory of a solved result, each with whether it is a directory.
    fn read_dir(&mut self, reference: &str, dir: &str) -> impl Future<Output = Result<Vec<(String, bool)>>> + Send;
    /// The digest (if the registry gives one) and the config of an image for a platform;
    /// `log_name` is the progress line of the lookup.
    fn resolve_image(
        &mut self,
        reference: &ImageRef,
        platform: &Platform,
        mode: &str,
        log_name: String,
    ) -> impl Future<Output = Result<(Option<String>, Vec<u8>)>> + Send;
    /// The frontend's inputs: definitions the client made for named contexts (`input:NAME`),
    /// such as the results of other bake targets.
    fn inputs(&mut self) -> impl Future<Output = Result<std::collections::BTreeMap<String, llb::pb::Definition>>> + Send;
    /// A warning shown by buildx.
    fn warn(&mut self, request: gw::WarnRequest) -> impl Future<Output = Result<()>> + Send;
    /// The build's result or error: the last call.
    fn finish(&mut self, request: gw::ReturnRequest) -> impl Future<Output = Result<()>> + Send;
}

/// One build: the gateway, the frontend's options, the client session that serves local
/// directories, where the build context comes from, and what BuildKit can do.
pub struct Session<G: Gateway> {
    pub gw: G,
    pub opts: Opts,
    /// `BUILDKIT_SESSION_ID` (empty: any session of the build).
    pub id: String,
    pub context: ContextSource,
    pub caps: Caps,
}

/// BuildKit's LLBBridge, over the frontend's stdin and stdout.
#[derive(Clone)]
pub struct Bridge(LlbBridgeClient<Channel>);

/// Whether a gRPC status says a path does not exist.
fn not_found(s: &tonic::Status) -> bool {
    s.code() == tonic::Code::NotFound || s.message().contains("no such file")
}

impl Bridge {
    /// A file of a solved result, or `range` of it; `Ok(None)` when it does not exist.
    fn read(&mut self, reference: &str, path: &str, range: Option<gw::FileRange>) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send {
        let request = gw::ReadFileRequest { r#ref: reference.into(), file_path: path.into(), range };
        async move {
            match self.0.read_file(request).await {
                Ok(r) => Ok(Some(r.into_inner().data)),
                Err(s) if not_found(&s) => Ok(None),
                Err(s) => Err(anyhow::Error::new(s).context("reading a file")),
            }
        }
    }
}

impl Gateway for Bridge {
    async fn ping(&mut self) -> Result<Caps> {
        Ok(Caps::from_pong(&self.0.ping(gw::PingRequest {}).await.context("ping")?.into_inner()))
    }

    async fn inputs(&mut self) -> Result<std::collections::BTreeMap<String, llb::pb::Definition>> {
        let resp = self.0.inputs(gw::InputsRequest {}).await.context("reading the frontend's inputs")?.into_inner();
        Ok(resp.definitions.into_iter().collect())
    }

    async fn solve(&mut self, def: llb::pb::Definition, cache_imports: Vec<gw::CacheOptionsEntry>) -> Result<String> {
        let request = gw::SolveRequest { definition: Some(def), allow_result_return: true, allow_result_array_ref: true, cache_imports, ..Default::default() };
        let resp = self.0.solve(request).await?.into_inner();
        match resp.result.and_then(|r| r.result) {
            Some(gw::result::Result::Ref(r)) => Ok(r.id),
            Some(gw::result::Result::RefDeprecated(id)) => Ok(id),
            None if !resp.r#ref.is_empty() => Ok(resp.r#ref),
            None => Ok(String::new()),
            Some(other) => anyhow::bail!("BuildKit answered a solve with an unexpected result: {other:?}"),
        }
    }

    fn read_file(&mut self, reference: &str, path: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send {
        self.read(reference, path, None)
    }

    fn read_file_head(&mut self, reference: &str, path: &str, max: usize) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send {
        self.read(reference, path, Some(gw::FileRange { offset: 0, length: i64::try_from(max).unwrap_or(i64::MAX) }))
    }

    fn exists(&mut self, reference: &str, path: &str) -> impl Future<Output = Result<bool>> + Send {
        let request = gw::StatFileRequest { r#ref: reference.into(), path: path.into() };
        async move {
            match self.0.stat_file(request).await {
                Ok(_) => Ok(true),
                Err(s) if not_found(&s) => Ok(false),
                Err(s) => Err(anyhow::Error::new(s).context("looking for a file")),
            }
        }
    }

    fn read_dir(&mut self, reference: &str, dir: &str) -> impl Future<Output = Result<Vec<(String, bool)>>> + Send {
        let request = gw::ReadDirRequest { r#ref: reference.into(), dir_path: dir.into(), include_pattern: String::new() };
        let dir = dir.to_string();
        async move {
            let resp = self.0.read_dir(request).await.map_err(|s| anyhow::Error::new(s).context(format!("listing {dir}")))?.into_inner();
            // (os.ModeDir, in Go's file mode bits.)
            Ok(resp.entries.into_iter().map(|e| (e.path.rsplit('/').next().unwrap_or_default().to_string(), e.mode & (1 << 31) != 0)).collect())
        }
    }

    fn resolve_image(
        &mut self,
        reference: &ImageRef,
        platform: &Platform,
        mode: &str,
        log_name: String,
    ) -> impl Future<Output = Result<(Option<String>, Vec<u8>)>> + Send {
        let request = gw::ResolveImageConfigRequest {
            r#ref: reference.to_string(),
            platform: Some(platform.to_pb()),
            resolve_mode: mode.to_string(),
            log_name,
            ..Default::default()
        };
        async move {
            let resp = self.0.resolve_image_config(request).await?.into_inner();
            Ok(((!resp.digest.is_empty()).then_some(resp.digest), resp.config))
        }
    }

    async fn warn(&mut self, request: gw::WarnRequest) -> Result<()> {
        self.0.warn(request).await.context("sending a warning to BuildKit")?;
        Ok(())
    }

    async fn finish(&mut self, request: gw::ReturnRequest) -> Result<()> {
        self.0.r#return(request).await.context("returning the result to BuildKit")?;
        Ok(())
    }
}

pub async fn connect_stdio() -> Result<Bridge> {
    // The stdio fds are pipes: use them as non-blocking pipes driven by the reactor, rather
    // than tokio's Stdin/Stdout (which go through std's line-buffered stdout and blocking
    // threads).
    use std::os::fd::AsFd as _;
    let rx = std::io::stdin().as_fd().try_clone_to_owned().context("duplicating stdin")?;
    let tx = std::io::stdout().as_fd().try_clone_to_owned().context("duplicating stdout")?;
    let rx = tokio::net::unix::pipe::Receiver::from_owned_fd(rx).context("stdin is not a pipe")?;
    let tx = tokio::net::unix::pipe::Sender::from_owned_fd(tx).context("stdout is not a pipe")?;
    let stdio = tokio::io::join(rx, tx);
    let slot = Arc::new(Mutex::new(Some(stdio)));
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let slot = slot.clone();
            async move {
                let io = slot
                    .lock()
                    .map_err(|_| std::io::Error::other("stdio lock poisoned"))?
                    .take()
                    .ok_or_else(|| std::io::Error::other("the gateway connection over stdio was lost and cannot be reopened"))?;
                Ok::<_, std::io::Error>(TokioIo::new(io))
            }
        }))
        .await
        .context("connecting to BuildKit over stdin/stdout")?;
    Ok(Bridge(LlbBridgeClient::new(channel).max_decoding_message_size(MAX_MESSAGE).max_encoding_message_size(MAX_MESSAGE)))
}

/// The build arg that turns on [`Timed`]'s log; its value tags the lines.
pub const TIMING_ARG: &str = "GOAPP_FRONTEND_TIMING";

/// A gateway that writes one line per call to stderr (which BuildKit passes to its own:
/// dockerd's log, with Docker's builder), for `scripts/profile-warm`:
/// `goapp-timing TAG START END CALL WHAT`, times in Unix nanoseconds; `start` is the
/// process's. Silent unless the build arg [`TIMING_ARG`] gives a tag.
#[derive(Clone)]
pub struct Timed<G> {
    inner: G,
    tag: Option<Arc<str>>,
}

/// Unix nanoseconds.
pub fn unix_nanos(t: std::time::SystemTime) -> u128 {
    t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

/// The tag of the timing log's lines: the build arg's value, if it is one word of letters,
/// digits, `.`, `_` and `-` (anything else could forge lines of the engine's log).
fn timing_tag(tag: Option<&str>) -> Option<&str> {
    tag.filter(|t| !t.is_empty() && t.len() <= 128 && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
}

/// The timing log's last line, `exit`, when the build arg [`TIMING_ARG`] asks for the log.
pub fn log_exit(opts: &Opts) {
    if let Some(tag) = timing_tag(opts.build_arg(TIMING_ARG)) {
        let now = unix_nanos(std::time::SystemTime::now());
        eprintln!("goapp-timing {tag} {now} {now} exit ");
    }
}

impl<G: Gateway> Timed<G> {
    /// Logs the process's start at `started` when `tag` is given.
    pub fn new(inner: G, tag: Option<&str>, started: std::time::SystemTime) -> Self {
        let t = Timed { inner, tag: timing_tag(tag).map(Arc::from) };
        t.log(unix_nanos(started), "start", "");
        t
    }

    fn now(&self) -> u128 {
        if self.tag.is_some() { unix_nanos(std::time::SystemTime::now()) } else { 0 }
    }

    fn log(&self, start: u128, call: &str, what: &str) {
        if let Some(tag) = &self.tag {
            let end = unix_nanos(std::time::SystemTime::now());
            eprintln!("goapp-timing {tag} {start} {end} {call} {}", what.replace(char::is_whitespace, "_"));
        }
    }

    /// The name of the vertex a definition returns.
    fn head_name(&self, def: &llb::pb::Definition) -> String {
        if self.tag.is_none() {
            return String::new();
        }
        head_digest(def).and_then(|d| def.metadata.get(&d)?.description.get(llb::attr::CUSTOM_NAME).cloned()).unwrap_or_default()
    }
}

impl<G: Gateway> Gateway for Timed<G> {
    async fn ping(&mut self) -> Result<Caps> {
        let t = self.now();
        let r = self.inner.ping().await;
        self.log(t, "ping", "");
        r
    }

    async fn solve(&mut self, def: llb::pb::Definition, cache_imports: Vec<gw::CacheOptionsEntry>) -> Result<String> {
        let (t, what) = (self.now(), self.head_name(&def));
        let r = self.inner.solve(def, cache_imports).await;
        self.log(t, "solve", &what);
        r
    }

    async fn read_file(&mut self, reference: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let t = self.now();
        let r = self.inner.read_file(reference, path).await;
        self.log(t, "read_file", path);
        r
    }

    async fn read_file_head(&mut self, reference: &str, path: &str, max: usize) -> Result<Option<Vec<u8>>> {
        let t = self.now();
        let r = self.inner.read_file_head(reference, path, max).await;
        self.log(t, "read_file", path);
        r
    }

    async fn exists(&mut self, reference: &str, path: &str) -> Result<bool> {
        let t = self.now();
        let r = self.inner.exists(reference, path).await;
        self.log(t, "stat", path);
        r
    }

    async fn read_dir(&mut self, reference: &str, dir: &str) -> Result<Vec<(String, bool)>> {
        let t = self.now();
        let r = self.inner.read_dir(reference, dir).await;
        self.log(t, "read_dir", dir);
        r
    }

    async fn resolve_image(&mut self, reference: &ImageRef, platform: &Platform, mode: &str, log_name: String) -> Result<(Option<String>, Vec<u8>)> {
        let t = self.now();
        let r = self.inner.resolve_image(reference, platform, mode, log_name).await;
        self.log(t, "resolve_image", &format!("{reference}({})", platform.id()));
        r
    }

    async fn inputs(&mut self) -> Result<std::collections::BTreeMap<String, llb::pb::Definition>> {
        let t = self.now();
        let r = self.inner.inputs().await;
        self.log(t, "inputs", "");
        r
    }

    async fn warn(&mut self, request: gw::WarnRequest) -> Result<()> {
        let t = self.now();
        let r = self.inner.warn(request).await;
        self.log(t, "warn", "");
        r
    }

    async fn finish(&mut self, request: gw::ReturnRequest) -> Result<()> {
        let t = self.now();
        let r = self.inner.finish(request).await;
        self.log(t, "return", "");
        r
    }
}

/// What the gateway told us about itself.
#[derive(Clone, Debug, Default)]
pub struct Caps {
    pub llb: Vec<String>,
    /// The gateway API's capabilities (`gateway.warnings`, ...).
    pub frontend: Vec<String>,
    pub build_platform: Option<llb::Platform>,
}

impl Caps {
    pub fn from_pong(p: &gw::PongResponse) -> Self {
        let enabled = |caps: &[crate::proto::moby::buildkit::v1::apicaps::ApiCap]| caps.iter().filter(|c| c.enabled).map(|c| c.id.clone()).collect();
        Caps {
            llb: enabled(&p.llb_caps),
            frontend: enabled(&p.frontend_api_caps),
            build_platform: p.workers.first().and_then(|w| w.platforms.first()).map(llb::Platform::from_pb),
        }
    }
}

impl Caps {
    /// Fails, naming the feature and the BuildKit release that has it, when BuildKit lacks
    /// one of the LLB capabilities `needed` ([`llb::caps::CAPS`] ids).
    /// An empty list comes from servers too old to report caps; they are let through.
    pub fn require_llb<'a>(&self, needed: impl IntoIterator<Item = &'a str>) -> Result<()> {
        if self.llb.is_empty() {
            return Ok(());
        }
        for id in needed {
            if self.llb.iter().any(|c| c == id) {
                continue;
            }
            let (feature, since) = match llb::caps::cap(id) {
                Some(c) => (c.feature, c.since),
                None => (id, "a newer release"),
            };
            // The spec field that asks for it, where one does.
            let why = match id {
                llb::caps::id::EXEC_MOUNT_SECRET | llb::caps::id::EXEC_MOUNT_SSH => " for `go.secrets`",
                _ => "",
            };
            anyhow::bail!(
                "this BuildKit lacks {feature}{why} (LLB capability `{id}`), which BuildKit has since {since}: upgrade BuildKit (or Docker Engine), or build with a buildx builder of a newer BuildKit (`docker buildx create --use`)"
            );
        }
        Ok(())
    }
}

/// The digest of the vertex a marshalled definition returns: what BuildKit attaches
/// messages about it (warnings) to.
pub fn head_digest(def: &llb::pb::Definition) -> Option<String> {
    use prost::Message as _;
    let last = llb::pb::Op::decode(def.def.last()?.as_slice()).ok()?;
    last.inputs.first().map(|i| i.digest.clone())
}

/// A warning of the spec, shown by buildx with its location, attached to the vertex `digest`
/// (the one that loaded the spec).
pub fn warning(digest: &str, file: &str, data: &[u8], d: &llb_gen::Diagnostic) -> gw::WarnRequest {
    let source = std::str::from_utf8(data).unwrap_or("");
    let span = llb_gen::diag::token_span(source, d.span);
    let position = |p: llb_gen::diag::Pos| llb::pb::Position { line: p.line as i32, character: p.column as i32 };
    // As the Dockerfile frontend writes its warnings: `Rule: what (where)`.
    let rule = d.rule.map(|r| format!("{r}: ")).unwrap_or_default();
    gw::WarnRequest {
        digest: digest.to_string(),
        level: 1,
        short: format!("{rule}{} ({file}:{}:{})", d.message, d.span.start.line, d.span.start.column).into_bytes(),
        detail: d.hint.iter().map(|h| h.clone().into_bytes()).collect(),
        url: String::new(),
        info: Some(llb::pb::SourceInfo { filename: file.to_string(), data: data.to_vec(), definition: None, language: crate::errors::language(file).into() }),
        ranges: vec![llb::pb::Range { start: Some(position(span.start)), end: Some(position(span.end)) }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(llb: &[&str]) -> Caps {
        Caps { llb: llb.iter().map(|c| c.to_string()).collect(), ..Default::default() }
    }

    #[test]
    fn the_timing_tag_is_one_plain_word() {
        assert_eq!(timing_tag(Some("p12r0t99")), Some("p12r0t99"));
        assert_eq!(timing_tag(Some("")), None);
        assert_eq!(timing_tag(Some("a b")), None);
        assert_eq!(timing_tag(Some("a\ngoapp-timing x")), None);
        assert_eq!(timing_tag(None), None);
    }

    #[test]
    fn a_missing_capability_names_the_feature_and_the_release_that_has_it() {
        let old = caps(&["file.base", "exec.mount.cache"]);
        assert!(old.require_llb(["file.base", "exec.mount.cache"]).is_ok());
        let e = old.require_llb(["file.base", "file.copy.includeexcludepatterns"]).unwrap_err().to_string();
        assert!(e.contains("lacks copies with include and exclude patterns (LLB capability `file.copy.includeexcludepatterns`)"), "{e}");
        assert!(e.contains("since v0.9.0"), "{e}");
        let e = old.require_llb(["exec.mount.secret"]).unwrap_err().to_string();
        assert!(e.contains("secret mounts for `go.secrets`"), "{e}");
        // A server that reports no caps at all is too old to say; it is let through.
        assert!(caps(&[]).require_llb(["exec.mount.secret"]).is_ok());
    }
}
