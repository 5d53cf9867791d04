//! A [`Gateway`] for the unit tests: the client's directories, the registry's images and
//! the results of solves are files in memory; every solve, image lookup, warning and the
//! final answer is recorded. A solve of a local source yields the files of that directory
//! (only the `followpaths`, when given, and without the `excludepatterns`); of an image, the
//! image's files; of anything else, an empty result, unless an exec of it runs a command
//! the test gave an answer for (`go version -m`, say).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Result, anyhow};
use llb::{Platform, pb};
use llb_gen::reference::ImageRef;
use prost::Message as _;

use crate::gateway::{Caps, Gateway};
use crate::proto::gw;

/// Files by path, without a leading `/`.
pub type Files = BTreeMap<String, Vec<u8>>;

/// An image of the fake registry.
#[derive(Clone, Debug, Default)]
pub struct Image {
    pub digest: String,
    pub config: serde_json::Value,
    pub files: Files,
}

#[derive(Default)]
pub struct State {
    pub caps: Caps,
    /// The client's directories, by session name (`context`, `dockerfile`, ...).
    pub locals: BTreeMap<String, Files>,
    /// Images by reference, as written in the lookup (without a digest).
    pub images: BTreeMap<String, Image>,
    /// Answers for execs: when an exec's arguments contain the text, its output mount holds
    /// the files.
    pub exec_outputs: Vec<(String, Files)>,
    /// Everything that happened.
    pub solved: Vec<pb::Definition>,
    pub lookups: Vec<(String, String, String)>,
    pub warnings: Vec<gw::WarnRequest>,
    pub answer: Option<gw::ReturnRequest>,
    /// When set, `ping` panics: a bug in the frontend, as far as `run` can tell.
    pub panic_on_ping: bool,
    /// The frontend's inputs, by name.
    pub inputs: BTreeMap<String, pb::Definition>,
    results: BTreeMap<String, Files>,
}

#[derive(Clone, Default)]
pub struct Fake(Arc<Mutex<State>>);

impl Fake {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a file to a directory of the client.
    pub fn local(&self, name: &str, path: &str, data: &str) -> &Self {
        self.state().locals.entry(name.into()).or_default().insert(path.into(), data.as_bytes().to_vec());
        self
    }

    pub fn image(&self, reference: &str, image: Image) -> &Self {
        self.state().images.insert(reference.into(), image);
        self
    }
}

/// The op a definition returns, and every op by digest.
fn head(def: &pb::Definition) -> Option<(pb::Op, BTreeMap<String, pb::Op>)> {
    let ops: Vec<(String, pb::Op)> = def.def.iter().map(|b| (llb::digest(b), pb::Op::decode(b.as_slice()).unwrap_or_default())).collect();
    let last = ops.last()?.1.clone();
    let input = last.inputs.first()?;
    let by_digest: BTreeMap<String, pb::Op> = ops.into_iter().collect();
    Some((by_digest.get(&input.digest)?.clone(), by_digest))
}

/// Whether `path` is left out by one of the exclude `patterns` (a pattern names a file or
/// a directory; `*` stands for any characters but `/`).
fn excluded(path: &str, patterns: &[String]) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && glob(p, &s[1..])),
            (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
            _ => false,
        }
    }
    patterns.iter().any(|p| {
        let mut prefix = String::new();
        path.split('/').any(|part| {
            prefix = if prefix.is_empty() { part.to_string() } else { format!("{prefix}/{part}") };
            glob(p.as_bytes(), prefix.as_bytes())
        })
    })
}

impl State {
    fn files_of(&self, def: &pb::Definition) -> Files {
        let Some((op, _)) = head(def) else { return Files::new() };
        match op.op {
            Some(pb::op::Op::Source(src)) => {
                if let Some(name) = src.identifier.strip_prefix("local://") {
                    let all = self.locals.get(name).cloned().unwrap_or_default();
                    let list = |k: &str| src.attrs.get(k).and_then(|v| serde_json::from_str::<Vec<String>>(v).ok());
                    let follow = list(llb::attr::LOCAL_FOLLOW);
                    let exclude = list(llb::attr::LOCAL_EXCLUDE).unwrap_or_default();
                    let followed: Files =
                        all.into_iter().filter(|(p, _)| follow.as_ref().is_none_or(|f| f.iter().any(|f| p == f || p.starts_with(&format!("{f}/"))))).collect();
                    let mut kept = Files::new();
                    for (p, data) in followed {
                        if !excluded(&p, &exclude) {
                            kept.insert(p, data);
                            continue;
                        }
                        // A directory is sent even when what it holds is left out: marked by
                        // a name ending in `/`.
                        let mut dir = String::new();
                        for part in p.split('/').take(p.split('/').count() - 1) {
                            dir = if dir.is_empty() { part.to_string() } else { format!("{dir}/{part}") };
                            if !excluded(&dir, &exclude) {
                                kept.insert(format!("{dir}/"), Vec::new());
                            }
                        }
                    }
                    kept
                } else if let Some(reference) = src.identifier.strip_prefix("docker-image://") {
                    let unpinned = reference.split('@').next().unwrap_or(reference);
                    self.images
                        .iter()
                        .find(|(r, _)| ImageRef::parse(r).is_ok_and(|r| r.to_string() == unpinned))
                        .map(|(_, i)| i.files.clone())
                        .unwrap_or_default()
                } else {
                    Files::new()
                }
            }
            Some(pb::op::Op::Exec(e)) => {
                let args = e.meta.map(|m| m.args.join(" ")).unwrap_or_default();
                self.exec_outputs.iter().find(|(needle, _)| args.contains(needle.as_str())).map(|(_, f)| f.clone()).unwrap_or_default()
            }
            _ => Files::new(),
        }
    }
}

fn clean(path: &str) -> String {
    path.trim_start_matches('/').trim_end_matches('/').to_string()
}

impl Gateway for Fake {
    fn ping(&mut self) -> impl Future<Output = Result<Caps>> + Send {
        let state = self.state();
        let caps = state.caps.clone();
        let panic = state.panic_on_ping;
        drop(state);
        async move {
            if panic {
                panic!("a bug in the frontend");
            }
            Ok(caps)
        }
    }

    fn inputs(&mut self) -> impl Future<Output = Result<BTreeMap<String, pb::Definition>>> + Send {
        let inputs = self.state().inputs.clone();
        async move { Ok(inputs) }
    }

    fn solve(&mut self, def: pb::Definition, _: Vec<gw::CacheOptionsEntry>) -> impl Future<Output = Result<String>> + Send {
        let mut state = self.state();
        let files = state.files_of(&def);
        state.solved.push(def);
        let id = format!("result-{}", state.results.len());
        state.results.insert(id.clone(), files);
        async move { Ok(id) }
    }

    fn read_file(&mut self, reference: &str, path: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send {
        let state = self.state();
        let found = match state.results.get(reference) {
            Some(files) => Ok(files.get(&clean(path)).cloned()),
            None => Err(anyhow!("no result {reference}")),
        };
        async move { found }
    }

    fn read_file_head(&mut self, reference: &str, path: &str, max: usize) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send {
        let found = self.state().results.get(reference).map(|files| files.get(&clean(path)).map(|d| d[..d.len().min(max)].to_vec()));
        let reference = reference.to_string();
        async move { found.ok_or_else(|| anyhow!("no result {reference}")) }
    }

    fn exists(&mut self, reference: &str, path: &str) -> impl Future<Output = Result<bool>> + Send {
        let state = self.state();
        let path = clean(path);
        let found = match state.results.get(reference) {
            Some(files) => Ok(files.keys().any(|p| *p == path || p.starts_with(&format!("{path}/")))),
            None => Err(anyhow!("no result {reference}")),
        };
        async move { found }
    }

    fn read_dir(&mut self, reference: &str, dir: &str) -> impl Future<Output = Result<Vec<(String, bool)>>> + Send {
        let state = self.state();
        let dir = clean(dir);
        let prefix = if dir.is_empty() || dir == "." { String::new() } else { format!("{dir}/") };
        let names = match state.results.get(reference) {
            Some(files) => {
                let mut names: Vec<(String, bool)> = files
                    .keys()
                    .filter_map(|p| p.strip_prefix(&prefix))
                    .map(|rest| match rest.split_once('/') {
                        Some((name, _)) => (name.to_string(), true),
                        None => (rest.to_string(), false),
                    })
                    .filter(|(n, _)| !n.is_empty())
                    .collect();
                names.dedup();
                Ok(names)
            }
            None => Err(anyhow!("no result {reference}")),
        };
        async move { names }
    }

    fn resolve_image(
        &mut self,
        reference: &ImageRef,
        platform: &Platform,
        _: &str,
        log_name: String,
    ) -> impl Future<Output = Result<(Option<String>, Vec<u8>)>> + Send {
        let mut state = self.state();
        state.lookups.push((reference.to_string(), platform.id(), log_name));
        let found = state.images.iter().find(|(r, _)| ImageRef::parse(r).is_ok_and(|r| r == *reference)).map(|(_, i)| i.clone());
        let reference = reference.to_string();
        async move {
            let image = found.ok_or_else(|| anyhow!("{reference}: not found"))?;
            Ok((Some(image.digest), serde_json::to_vec(&image.config)?))
        }
    }

    fn warn(&mut self, request: gw::WarnRequest) -> impl Future<Output = Result<()>> + Send {
        self.state().warnings.push(request);
        async { Ok(()) }
    }

    fn finish(&mut self, request: gw::ReturnRequest) -> impl Future<Output = Result<()>> + Send {
        self.state().answer = Some(request);
        async { Ok(()) }
    }
}
