//! A typed LLB graph builder. Ops are added in dependency order (an op can only use outputs
//! that already exist), so the order of ids is a topological order, and [`Graph::marshal`]
//! encodes each op once, digests its bytes, and refers to it by that digest from later ops.
//!
//! Determinism: exec mounts are sorted by destination (parents before children, as BuildKit's
//! Go client does), op inputs are de-duplicated in first-use order, every map is a BTreeMap.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message as _;

use crate::pb;
use crate::platform::Platform;

/// Identifies an op inside one [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(u32);

/// One output of an op: a filesystem state that later ops can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Output {
    pub op: OpId,
    pub index: u32,
}

/// A range of a source file (1-based lines and columns, inclusive) that an op came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceRange {
    /// Index returned by [`Graph::add_source_info`].
    pub source: usize,
    pub start_line: u32,
    pub start_column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

/// Data about an op that is not part of its digest.
#[derive(Clone, Debug, Default)]
pub struct OpMeta {
    /// The vertex name shown in BuildKit's progress output.
    pub name: Option<String>,
    /// Run the op again even when a cached result exists (`--no-cache`).
    pub ignore_cache: bool,
    /// The spec ranges this op implements; a failure of the op is reported against them.
    pub ranges: Vec<SourceRange>,
}

#[derive(Clone, Debug)]
enum NodeOp {
    Source {
        identifier: String,
        attrs: BTreeMap<String, String>,
    },
    Exec(Exec),
    /// `timestamp`: Unix nanoseconds given to what the actions create or copy, or -1 to
    /// leave it to BuildKit.
    File {
        base: Option<Output>,
        actions: Vec<FileAction>,
        timestamp: i64,
    },
    /// The result of a definition made elsewhere (a frontend input, such as another bake
    /// target's): its ops, carried as they are, and the vertex its terminal op names.
    Imported {
        ops: Vec<Vec<u8>>,
        metadata: BTreeMap<String, pb::OpMetadata>,
        digest: String,
    },
}

#[derive(Clone, Debug)]
struct Node {
    op: NodeOp,
    platform: Option<Platform>,
    meta: OpMeta,
}

/// How concurrent builds share a cache mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheSharing {
    /// Every writer sees the same directory at once.
    Shared,
    /// A writer that finds the cache in use gets a fresh one.
    Private,
    /// Writers wait for each other.
    Locked,
}

/// A persistent cache mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cache {
    pub id: String,
    pub sharing: CacheSharing,
}

/// A secret from the client session, mounted as a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretMount {
    pub id: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub optional: bool,
}

/// An SSH agent of the client session (`--ssh ID`), mounted as a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshMount {
    pub id: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub optional: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A filesystem state (`None` is an empty one).
    Bind(Option<Output>),
    Cache(Cache),
    Tmpfs,
    Secret(SecretMount),
    Ssh(SshMount),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub dest: String,
    pub kind: MountKind,
    /// A sub-path of the bound state to mount instead of its root.
    pub selector: String,
    pub readonly: bool,
    /// Whether the mount's final content is an output of the exec (bind mounts only).
    pub output: bool,
}

impl Mount {
    /// A writable bind mount whose result is an output of the exec.
    pub fn output(dest: &str, source: Option<Output>) -> Self {
        Mount { dest: dest.into(), kind: MountKind::Bind(source), selector: String::new(), readonly: false, output: true }
    }

    /// A read-only bind mount.
    pub fn readonly(dest: &str, source: Output) -> Self {
        Mount { dest: dest.into(), kind: MountKind::Bind(Some(source)), selector: String::new(), readonly: true, output: false }
    }

    /// A writable bind mount whose changes are thrown away.
    pub fn scratchpad(dest: &str, source: Output) -> Self {
        Mount { dest: dest.into(), kind: MountKind::Bind(Some(source)), selector: String::new(), readonly: false, output: false }
    }

    pub fn cache(dest: &str, id: &str, sharing: CacheSharing) -> Self {
        Mount { dest: dest.into(), kind: MountKind::Cache(Cache { id: id.into(), sharing }), selector: String::new(), readonly: false, output: false }
    }

    pub fn tmpfs(dest: &str) -> Self {
        Mount { dest: dest.into(), kind: MountKind::Tmpfs, selector: String::new(), readonly: false, output: false }
    }
}

/// A process run in a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exec {
    pub args: Vec<String>,
    /// `NAME=value` entries, in order.
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
    pub mounts: Vec<Mount>,
    /// Run without network access.
    pub no_network: bool,
    /// Proxy settings (`HTTP_PROXY` and the like). BuildKit sets them in the step's
    /// environment, in upper and lower case, but keeps them out of the cache key and the
    /// image: a changed proxy reruns nothing.
    pub proxy: Option<pb::ProxyEnv>,
}

/// The outputs of an exec, by mount destination.
#[derive(Clone, Debug)]
pub struct ExecOutputs {
    pub op: OpId,
    by_dest: BTreeMap<String, Output>,
}

impl ExecOutputs {
    /// The output of the mount at `dest`. A mount that was not declared as an output gives
    /// an output the exec does not have, which [`Graph::marshal`] refuses.
    pub fn get(&self, dest: &str) -> Output {
        match self.by_dest.get(dest) {
            Some(o) => *o,
            None => Output { op: self.op, index: NO_OUTPUT },
        }
    }
}

/// The index of an output an op does not have.
const NO_OUTPUT: u32 = u32::MAX;

/// A graph that cannot be marshalled: how it was built wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the build graph is not valid: {0}")]
pub struct GraphError(pub String);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mkdir {
    pub path: String,
    pub mode: u32,
    pub parents: bool,
    pub owner: Option<(u32, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mkfile {
    pub path: String,
    pub mode: u32,
    pub data: Vec<u8>,
    pub owner: Option<(u32, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copy {
    pub from: Output,
    pub src: String,
    pub dest: String,
    /// Permission bits to set; `None` keeps the source's mode.
    pub mode: Option<u32>,
    pub owner: Option<(u32, u32)>,
    pub dir_copy_contents: bool,
    pub create_dest_path: bool,
    pub follow_symlink: bool,
    pub allow_wildcard: bool,
    /// Copy only paths matching these patterns (`**` matches any number of directories).
    pub include_patterns: Vec<String>,
    pub exclude_patterns: Vec<String>,
}

impl Copy {
    pub fn new(from: Output, src: &str, dest: &str) -> Self {
        Copy {
            from,
            src: src.into(),
            dest: dest.into(),
            mode: None,
            owner: None,
            dir_copy_contents: false,
            create_dest_path: true,
            follow_symlink: true,
            allow_wildcard: false,
            include_patterns: Vec::new(),
            exclude_patterns: Vec::new(),
        }
    }

    pub fn include(mut self, patterns: &[&str]) -> Self {
        self.include_patterns = patterns.iter().map(|p| p.to_string()).collect();
        self
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.owner = Some((uid, gid));
        self
    }

    pub fn contents(mut self) -> Self {
        self.dir_copy_contents = true;
        self
    }

    pub fn exclude(mut self, patterns: &[&str]) -> Self {
        self.exclude_patterns = patterns.iter().map(|p| p.to_string()).collect();
        self
    }
}

/// One step of a file op. The steps of one file op apply in order, each to the result of the
/// one before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileAction {
    Mkdir(Mkdir),
    Mkfile(Mkfile),
    Copy(Copy),
    /// Removes a path (and what is under it); a path that is not there is not an error.
    Rm(String),
}

/// A build graph under construction.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    infos: Vec<pb::SourceInfo>,
    /// What was asked of the graph that it cannot do; [`Graph::marshal`] reports the first.
    problems: Vec<String>,
    /// The metadata written for an op that is not in this graph, thrown away.
    discarded: OpMeta,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, op: NodeOp, platform: Option<Platform>) -> OpId {
        let id = OpId(self.nodes.len() as u32);
        self.nodes.push(Node { op, platform, meta: OpMeta::default() });
        id
    }

    fn check(&mut self, o: Output) {
        if (o.op.0 as usize) >= self.nodes.len() {
            self.problems.push("an input is the output of an op of another graph".into());
        }
    }

    /// The metadata of an op, to name it or tie it to spec lines.
    pub fn meta(&mut self, op: OpId) -> &mut OpMeta {
        match self.nodes.get_mut(op.0 as usize) {
            Some(n) => &mut n.meta,
            None => {
                self.problems.push("metadata for an op of another graph".into());
                self.discarded = OpMeta::default();
                &mut self.discarded
            }
        }
    }

    /// Registers a source file for [`SourceRange`]s; returns its index.
    pub fn add_source_info(&mut self, filename: &str, data: &[u8], language: &str) -> usize {
        self.infos.push(pb::SourceInfo { filename: filename.into(), data: data.to_vec(), definition: None, language: language.into() });
        self.infos.len() - 1
    }

    /// A source op. Attribute values must not be empty: omit the key instead (Go's encoder
    /// writes empty map values, prost does not, and the bytes must match).
    pub fn source(&mut self, identifier: &str, attrs: BTreeMap<String, String>, platform: Option<Platform>) -> Output {
        if let Some((k, _)) = attrs.iter().find(|(_, v)| v.is_empty()) {
            self.problems.push(format!("the source {identifier} has an empty attribute {k}"));
        }
        let op = self.push(NodeOp::Source { identifier: identifier.into(), attrs }, platform);
        Output { op, index: 0 }
    }

    /// An image, pulled for `platform` (which must be set: without it BuildKit pulls the
    /// daemon's platform from a multi-platform index).
    pub fn image(&mut self, reference: &str, platform: &Platform, attrs: BTreeMap<String, String>) -> Output {
        self.source(&format!("docker-image://{reference}"), attrs, Some(platform.clone()))
    }

    /// A directory of the client, sent through the session. Local sources carry no platform,
    /// so one transfer serves every target platform.
    pub fn local(&mut self, name: &str, attrs: BTreeMap<String, String>) -> Output {
        self.source(&format!("local://{name}"), attrs, None)
    }

    /// A process run on `platform`.
    pub fn exec(&mut self, mut exec: Exec, platform: &Platform) -> ExecOutputs {
        if !exec.mounts.iter().any(|m| m.dest == "/" && matches!(m.kind, MountKind::Bind(_))) {
            self.problems.push(format!("the exec {:?} has no root mount", exec.args));
        }
        for m in &exec.mounts {
            if let MountKind::Bind(Some(o)) = m.kind {
                self.check(o);
            }
        }
        // Parents before children; secrets and SSH agents last, as BuildKit's Go client
        // orders them.
        exec.mounts.sort_by(|a, b| {
            let sa = matches!(a.kind, MountKind::Secret(_) | MountKind::Ssh(_));
            let sb = matches!(b.kind, MountKind::Secret(_) | MountKind::Ssh(_));
            sa.cmp(&sb).then_with(|| a.dest.cmp(&b.dest))
        });
        let outputs: Vec<String> = exec.mounts.iter().filter(|m| m.output && matches!(m.kind, MountKind::Bind(_))).map(|m| m.dest.clone()).collect();
        let op = self.push(NodeOp::Exec(exec), Some(platform.clone()));
        let by_dest = outputs.into_iter().enumerate().map(|(i, d)| (d, Output { op, index: i as u32 })).collect();
        ExecOutputs { op, by_dest }
    }

    /// A file op applying `actions` in order on top of `base` (`None`: an empty filesystem).
    pub fn file(&mut self, base: Option<Output>, actions: Vec<FileAction>) -> Output {
        self.file_at(base, actions, None)
    }

    /// A file op whose actions give what they create or copy the time `unix_seconds`
    /// (`SOURCE_DATE_EPOCH`), or leave it to BuildKit (`None`).
    pub fn file_at(&mut self, base: Option<Output>, actions: Vec<FileAction>, unix_seconds: Option<i64>) -> Output {
        let timestamp = unix_seconds.map(|s| s.saturating_mul(1_000_000_000)).unwrap_or(-1);
        if actions.is_empty() {
            self.problems.push("a file op without actions".into());
        }
        if let Some(b) = base {
            self.check(b);
        }
        for a in &actions {
            if let FileAction::Copy(c) = a {
                self.check(c.from);
            }
        }
        // File ops are not platform specific.
        let op = self.push(NodeOp::File { base, actions, timestamp }, None);
        Output { op, index: 0 }
    }

    /// The result of `def`, a definition made by another client (an input of the frontend):
    /// its ops join this graph's definitions as they are. `None` for a definition without a
    /// result (the empty filesystem).
    pub fn import(&mut self, def: &pb::Definition) -> Result<Option<Output>, GraphError> {
        let Some(last) = def.def.last() else { return Ok(None) };
        let terminal = pb::Op::decode(last.as_slice()).map_err(|e| GraphError(format!("an imported definition does not decode: {e}")))?;
        let Some(head) = terminal.inputs.first() else { return Ok(None) };
        let index = u32::try_from(head.index).map_err(|_| GraphError(format!("an imported definition names output {}", head.index)))?;
        let ops: Vec<Vec<u8>> = def.def[..def.def.len() - 1].to_vec();
        if !ops.iter().any(|o| crate::digest(o) == head.digest) {
            return Err(GraphError("an imported definition does not hold the vertex it returns".into()));
        }
        let op = self.push(NodeOp::Imported { ops, metadata: def.metadata.clone().into_iter().collect(), digest: head.digest.clone() }, None);
        Ok(Some(Output { op, index }))
    }

    /// Marshals the part of the graph that `head` depends on, ending with the terminal op.
    /// `None` is the empty filesystem (a definition without ops). A graph built wrong (an
    /// exec without a root, an output an op does not have, an empty source attribute, ...)
    /// is refused with what is wrong.
    pub fn marshal(&self, head: Option<Output>) -> Result<pb::Definition, GraphError> {
        if let Some(p) = self.problems.first() {
            return Err(GraphError(p.clone()));
        }
        let Some(head) = head else {
            return Ok(pb::Definition::default());
        };
        self.check_output(head)?;
        let reachable = self.reachable(head.op);
        for id in &reachable {
            for o in self.deps(&self.nodes[id.0 as usize]) {
                self.check_output(o)?;
            }
        }
        let mut digests: BTreeMap<OpId, String> = BTreeMap::new();
        let mut def = pb::Definition::default();
        let mut locations: BTreeMap<String, pb::Locations> = BTreeMap::new();
        for id in &reachable {
            let node = &self.nodes[id.0 as usize];
            if let NodeOp::Imported { ops, metadata, digest } = &node.op {
                for bytes in ops {
                    if !def.def.contains(bytes) {
                        def.def.push(bytes.clone());
                    }
                }
                for (d, m) in metadata {
                    def.metadata.entry(d.clone()).or_insert_with(|| m.clone());
                }
                digests.insert(*id, digest.clone());
                continue;
            }
            let op = self.encode(node, &digests);
            let bytes = op.encode_to_vec();
            let digest = crate::digest(&bytes);
            def.def.push(bytes);
            let mut meta = pb::OpMetadata { ignore_cache: node.meta.ignore_cache, ..Default::default() };
            if let Some(name) = &node.meta.name {
                meta.description.insert(crate::attr::CUSTOM_NAME.into(), name.clone());
            }
            if meta != pb::OpMetadata::default() {
                def.metadata.insert(digest.clone(), meta);
            }
            if !node.meta.ranges.is_empty() {
                let mut by_source: BTreeMap<usize, Vec<pb::Range>> = BTreeMap::new();
                for r in &node.meta.ranges {
                    by_source.entry(r.source).or_default().push(pb::Range {
                        start: Some(pb::Position { line: r.start_line as i32, character: r.start_column as i32 }),
                        end: Some(pb::Position { line: r.end_line as i32, character: r.end_column as i32 }),
                    });
                }
                locations.insert(
                    digest.clone(),
                    pb::Locations { locations: by_source.into_iter().map(|(s, ranges)| pb::Location { source_index: s as i32, ranges }).collect() },
                );
            }
            digests.insert(*id, digest);
        }
        let terminal = pb::Op { inputs: vec![pb::Input { digest: digests[&head.op].clone(), index: head.index as i64 }], ..Default::default() };
        def.def.push(terminal.encode_to_vec());
        if !locations.is_empty() {
            def.source = Some(pb::Source { locations, infos: self.infos.clone() });
        }
        Ok(def)
    }

    /// Whether `o` is an output its op has.
    fn check_output(&self, o: Output) -> Result<(), GraphError> {
        let Some(node) = self.nodes.get(o.op.0 as usize) else {
            return Err(GraphError("an input is the output of an op of another graph".into()));
        };
        let outputs = match &node.op {
            NodeOp::Exec(e) => e.mounts.iter().filter(|m| m.output && matches!(m.kind, MountKind::Bind(_))).count() as u32,
            NodeOp::Imported { .. } => u32::MAX,
            _ => 1,
        };
        if o.index >= outputs {
            let what = match &node.op {
                NodeOp::Exec(e) => format!("the exec {:?}", e.args),
                NodeOp::Source { identifier, .. } => format!("the source {identifier}"),
                NodeOp::File { .. } => "a file op".to_string(),
                NodeOp::Imported { .. } => "an imported definition".to_string(),
            };
            return Err(GraphError(format!(
                "{what} has no output {}",
                if o.index == NO_OUTPUT { "at the mount asked for".to_string() } else { o.index.to_string() }
            )));
        }
        Ok(())
    }

    fn reachable(&self, head: OpId) -> Vec<OpId> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![head];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            stack.extend(self.deps(&self.nodes[id.0 as usize]).into_iter().map(|o| o.op));
        }
        seen.into_iter().collect()
    }

    /// The outputs a node reads, in the order its op lists its inputs.
    fn deps(&self, node: &Node) -> Vec<Output> {
        let mut deps = Vec::new();
        let mut add = |o: Output| {
            if !deps.contains(&o) {
                deps.push(o);
            }
        };
        match &node.op {
            NodeOp::Source { .. } | NodeOp::Imported { .. } => {}
            NodeOp::Exec(e) => {
                for m in &e.mounts {
                    if let MountKind::Bind(Some(o)) = m.kind {
                        add(o);
                    }
                }
            }
            NodeOp::File { base, actions, .. } => {
                if let Some(b) = base {
                    add(*b);
                }
                for a in actions {
                    if let FileAction::Copy(c) = a {
                        add(c.from);
                    }
                }
            }
        }
        deps
    }

    fn encode(&self, node: &Node, digests: &BTreeMap<OpId, String>) -> pb::Op {
        let deps = self.deps(node);
        let inputs: Vec<pb::Input> = deps.iter().map(|o| pb::Input { digest: digests[&o.op].clone(), index: o.index as i64 }).collect();
        let index_of = |o: &Output| deps.iter().position(|d| d == o).expect("input listed") as i64;
        let op = match &node.op {
            NodeOp::Source { identifier, attrs } => pb::op::Op::Source(pb::SourceOp { identifier: identifier.clone(), attrs: attrs.clone() }),
            NodeOp::Exec(e) => {
                let mut next_output = 0i64;
                let mounts = e
                    .mounts
                    .iter()
                    .map(|m| {
                        let mut pm =
                            pb::Mount { dest: m.dest.clone(), selector: m.selector.clone(), readonly: m.readonly, input: -1, output: -1, ..Default::default() };
                        match &m.kind {
                            MountKind::Bind(src) => {
                                pm.mount_type = pb::MountType::Bind as i32;
                                if let Some(o) = src {
                                    pm.input = index_of(o);
                                }
                                if m.output {
                                    pm.output = next_output;
                                    next_output += 1;
                                }
                            }
                            MountKind::Cache(c) => {
                                pm.mount_type = pb::MountType::Cache as i32;
                                pm.cache_opt = Some(pb::CacheOpt {
                                    id: c.id.clone(),
                                    sharing: match c.sharing {
                                        CacheSharing::Shared => pb::CacheSharingOpt::Shared,
                                        CacheSharing::Private => pb::CacheSharingOpt::Private,
                                        CacheSharing::Locked => pb::CacheSharingOpt::Locked,
                                    } as i32,
                                });
                            }
                            MountKind::Tmpfs => {
                                pm.mount_type = pb::MountType::Tmpfs as i32;
                                pm.tmpfs_opt = Some(pb::TmpfsOpt::default());
                            }
                            MountKind::Secret(s) => {
                                pm.mount_type = pb::MountType::Secret as i32;
                                // BuildKit ignores the output of secret mounts; its Go client leaves 0.
                                pm.output = 0;
                                pm.secret_opt = Some(pb::SecretOpt { id: s.id.clone(), uid: s.uid, gid: s.gid, mode: s.mode, optional: s.optional });
                            }
                            MountKind::Ssh(s) => {
                                pm.mount_type = pb::MountType::Ssh as i32;
                                pm.output = 0;
                                pm.ssh_opt = Some(pb::SshOpt { id: s.id.clone(), uid: s.uid, gid: s.gid, mode: s.mode, optional: s.optional });
                            }
                        }
                        pm
                    })
                    .collect();
                pb::op::Op::Exec(pb::ExecOp {
                    meta: Some(pb::Meta {
                        args: e.args.clone(),
                        env: e.env.clone(),
                        cwd: e.cwd.clone(),
                        user: e.user.clone(),
                        proxy_env: e.proxy.clone(),
                        remove_mount_stubs_recursive: true,
                        ..Default::default()
                    }),
                    mounts,
                    network: if e.no_network { pb::NetMode::None as i32 } else { pb::NetMode::Unset as i32 },
                    ..Default::default()
                })
            }
            // Never encoded: `marshal` carries its ops as they are.
            NodeOp::Imported { .. } => return pb::Op::default(),
            NodeOp::File { base, actions, timestamp: ts } => {
                let ts = *ts;
                let n_inputs = inputs.len() as i64;
                let last = actions.len() - 1;
                let actions = actions
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        // The first action works on the base; each later one on the result of
                        // the action before it, which is numbered after the op's inputs.
                        let input = if i == 0 { base.as_ref().map(index_of).unwrap_or(-1) } else { n_inputs + i as i64 - 1 };
                        let output = if i == last { 0 } else { -1 };
                        let (secondary_input, action) = match a {
                            FileAction::Mkdir(m) => (
                                -1,
                                pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                                    path: m.path.clone(),
                                    mode: m.mode as i32,
                                    make_parents: m.parents,
                                    owner: m.owner.map(chown),
                                    timestamp: ts,
                                }),
                            ),
                            FileAction::Mkfile(m) => (
                                -1,
                                pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                                    path: m.path.clone(),
                                    mode: m.mode as i32,
                                    data: m.data.clone(),
                                    owner: m.owner.map(chown),
                                    timestamp: ts,
                                }),
                            ),
                            FileAction::Copy(c) => (
                                index_of(&c.from),
                                pb::file_action::Action::Copy(pb::FileActionCopy {
                                    src: c.src.clone(),
                                    dest: c.dest.clone(),
                                    owner: c.owner.map(chown),
                                    mode: c.mode.map(|m| m as i32).unwrap_or(-1),
                                    follow_symlink: c.follow_symlink,
                                    dir_copy_contents: c.dir_copy_contents,
                                    create_dest_path: c.create_dest_path,
                                    allow_wildcard: c.allow_wildcard,
                                    timestamp: ts,
                                    include_patterns: c.include_patterns.clone(),
                                    exclude_patterns: c.exclude_patterns.clone(),
                                    ..Default::default()
                                }),
                            ),
                            FileAction::Rm(path) => {
                                (-1, pb::file_action::Action::Rm(pb::FileActionRm { path: path.clone(), allow_not_found: true, allow_wildcard: false }))
                            }
                        };
                        pb::FileAction { input, secondary_input, output, action: Some(action) }
                    })
                    .collect();
                pb::op::Op::File(pb::FileOp { actions })
            }
        };
        pb::Op { inputs, op: Some(op), platform: node.platform.as_ref().map(Platform::to_pb), constraints: Some(pb::WorkerConstraints::default()) }
    }
}

fn chown((uid, gid): (u32, u32)) -> pb::ChownOpt {
    pb::ChownOpt {
        user: Some(pb::UserOpt { user: Some(pb::user_opt::User::ById(uid)) }),
        group: Some(pb::UserOpt { user: Some(pb::user_opt::User::ById(gid)) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn amd64() -> Platform {
        Platform::parse("linux/amd64").unwrap()
    }

    fn decode(def: &pb::Definition, i: usize) -> pb::Op {
        pb::Op::decode(def.def[i].as_slice()).unwrap()
    }

    #[test]
    fn terminal_op_points_at_head_and_digests_chain() {
        let mut g = Graph::new();
        let img = g.image("docker.io/library/golang:1.27", &amd64(), BTreeMap::new());
        let out = g.exec(
            Exec {
                args: vec!["go".into(), "version".into()],
                cwd: "/".into(),
                mounts: vec![Mount::scratchpad("/", img), Mount::output("/out", None)],
                ..Default::default()
            },
            &amd64(),
        );
        let def = g.marshal(Some(out.get("/out"))).unwrap();
        assert_eq!(def.def.len(), 3);
        let exec = decode(&def, 1);
        assert_eq!(exec.inputs[0].digest, crate::digest(&def.def[0]));
        let terminal = decode(&def, 2);
        assert!(terminal.op.is_none());
        assert_eq!(terminal.inputs, vec![pb::Input { digest: crate::digest(&def.def[1]), index: 0 }]);
        let Some(pb::op::Op::Exec(e)) = exec.op else { panic!("not an exec") };
        let dests: Vec<_> = e.mounts.iter().map(|m| (m.dest.as_str(), m.input, m.output)).collect();
        assert_eq!(dests, vec![("/", 0, -1), ("/out", -1, 0)]);
        assert_eq!(exec.platform.unwrap().architecture, "amd64");
    }

    #[test]
    fn mounts_are_sorted_and_outputs_numbered_in_mount_order() {
        let mut g = Graph::new();
        let img = g.image("x", &amd64(), BTreeMap::new());
        let out = g.exec(
            Exec {
                mounts: vec![
                    Mount::output("/z", None),
                    Mount::cache("/c", "id", CacheSharing::Locked),
                    Mount::output("/", Some(img)),
                    Mount::output("/a", None),
                ],
                ..Default::default()
            },
            &amd64(),
        );
        assert_eq!(out.get("/").index, 0);
        assert_eq!(out.get("/a").index, 1);
        assert_eq!(out.get("/z").index, 2);
        let def = g.marshal(Some(out.get("/z"))).unwrap();
        let Some(pb::op::Op::Exec(e)) = decode(&def, 1).op else { panic!() };
        let dests: Vec<_> = e.mounts.iter().map(|m| (m.dest.clone(), m.output)).collect();
        assert_eq!(dests, vec![("/".into(), 0), ("/a".into(), 1), ("/c".into(), -1), ("/z".into(), 2)]);
        assert_eq!(e.mounts[2].cache_opt.as_ref().unwrap().sharing, pb::CacheSharingOpt::Locked as i32);
    }

    #[test]
    fn file_actions_chain_and_only_the_last_has_an_output() {
        let mut g = Graph::new();
        let a = g.image("a", &amd64(), BTreeMap::new());
        let b = g.image("b", &amd64(), BTreeMap::new());
        let f = g.file(
            None,
            vec![
                FileAction::Mkdir(Mkdir { path: "/etc".into(), mode: 0o755, parents: true, owner: None }),
                FileAction::Copy(Copy::new(a, "/x", "/x").mode(0o755).owner(0, 0)),
                FileAction::Copy(Copy::new(b, "/y", "/y")),
                FileAction::Copy(Copy::new(a, "/z", "/z")),
            ],
        );
        let def = g.marshal(Some(f)).unwrap();
        let op = decode(&def, 2);
        assert_eq!(op.inputs.len(), 2, "inputs are de-duplicated");
        assert!(op.platform.is_none(), "file ops carry no platform");
        let Some(pb::op::Op::File(fo)) = op.op else { panic!() };
        let shape: Vec<_> = fo.actions.iter().map(|a| (a.input, a.secondary_input, a.output)).collect();
        assert_eq!(shape, vec![(-1, -1, -1), (2, 0, -1), (3, 1, -1), (4, 0, 0)]);
        let Some(pb::file_action::Action::Copy(c)) = &fo.actions[2].action else { panic!() };
        assert_eq!(c.mode, -1, "no mode means keep the source's");
        assert_eq!(c.timestamp, -1, "no timestamp means leave it to BuildKit");
    }

    #[test]
    fn marshal_is_deterministic_and_prunes_unused_ops() {
        let build = || {
            let mut g = Graph::new();
            let mut attrs = BTreeMap::new();
            attrs.insert("z".to_string(), "1".to_string());
            attrs.insert("a".to_string(), "2".to_string());
            let _unused = g.image("unused", &amd64(), BTreeMap::new());
            let l = g.local("context", attrs);
            let f = g.file(Some(l), vec![FileAction::Mkfile(Mkfile { path: "/f".into(), mode: 0o644, data: b"x".to_vec(), owner: None })]);
            g.meta(f.op).name = Some("write f".into());
            g.marshal(Some(f)).unwrap().encode_to_vec()
        };
        let one = build();
        assert_eq!(one, build());
        let def = pb::Definition::decode(one.as_slice()).unwrap();
        assert_eq!(def.def.len(), 3, "the unused image is not marshalled");
        assert_eq!(def.metadata.len(), 1);
    }

    #[test]
    fn source_ranges_are_keyed_by_op_digest() {
        let mut g = Graph::new();
        let src = g.add_source_info("goapp.yaml", b"name: x\n", "YAML");
        let l = g.local("context", BTreeMap::new());
        g.meta(l.op).ranges.push(SourceRange { source: src, start_line: 1, start_column: 1, end_line: 1, end_column: 8 });
        let def = g.marshal(Some(l)).unwrap();
        let source = def.source.unwrap();
        let locs = &source.locations[&crate::digest(&def.def[0])];
        assert_eq!(locs.locations[0].ranges[0].start.unwrap().line, 1);
        assert_eq!(source.infos[0].filename, "goapp.yaml");
    }

    #[test]
    fn pinned_digest_of_a_simple_source() {
        // Bytes: field 3 (source) { field 1 identifier } + field 11 (empty constraints).
        let mut g = Graph::new();
        let l = g.local("context", BTreeMap::new());
        let def = g.marshal(Some(l)).unwrap();
        let expected = [&[0x1a, 0x11, 0x0a, 0x0f][..], b"local://context", &[0x5a, 0x00]].concat();
        assert_eq!(def.def[0], expected);
    }

    #[test]
    fn a_graph_built_wrong_is_refused_not_a_panic() {
        let mut g = Graph::new();
        let img = g.image("docker.io/library/golang:1.27", &amd64(), BTreeMap::new());
        // An output the exec does not declare.
        let e = g.exec(Exec { args: vec!["true".into()], mounts: vec![Mount::output("/", Some(img))], ..Default::default() }, &amd64());
        let err = g.marshal(Some(e.get("/out"))).unwrap_err();
        assert!(err.to_string().contains("has no output at the mount asked for"), "{err}");
        assert!(g.marshal(Some(e.get("/"))).is_ok());
        // An exec without a root.
        let mut g = Graph::new();
        let e = g.exec(Exec { args: vec!["true".into()], mounts: vec![Mount::tmpfs("/tmp")], ..Default::default() }, &amd64());
        assert!(g.marshal(Some(e.get("/"))).unwrap_err().to_string().contains("has no root mount"));
        // An empty source attribute, and a file op without actions.
        let mut g = Graph::new();
        let l = g.local("", [("local.session".to_string(), String::new())].into());
        assert!(g.marshal(Some(l)).unwrap_err().to_string().contains("empty attribute local.session"));
        let mut g = Graph::new();
        let f = g.file(None, vec![]);
        assert!(g.marshal(Some(f)).unwrap_err().to_string().contains("without actions"));
        // An output of another graph.
        let mut other = Graph::new();
        let foreign = other.image("a", &amd64(), BTreeMap::new());
        let _ = other.image("b", &amd64(), BTreeMap::new());
        let mut g = Graph::new();
        g.meta(Output { op: OpId(5), index: 0 }.op).name = Some("x".into());
        assert!(g.marshal(Some(foreign)).is_err());
    }

    #[test]
    fn an_imported_definition_is_carried_as_it_is() {
        // Another client's definition: a local directory, returned.
        let mut other = Graph::new();
        let dir = other.local("site", BTreeMap::new());
        other.meta(dir.op).name = Some("the site".into());
        let def = other.marshal(Some(dir)).unwrap();
        let mut g = Graph::new();
        let site = g.import(&def).unwrap().expect("a result");
        let out = g.file(None, vec![FileAction::Copy(Copy::new(site, "/", "/www"))]);
        let mine = g.marshal(Some(out)).unwrap();
        // Its op is there, byte for byte, with its metadata; the copy reads it by digest.
        assert!(mine.def.contains(&def.def[0]));
        let digest = crate::digest(&def.def[0]);
        assert_eq!(mine.metadata[&digest].description[crate::attr::CUSTOM_NAME], "the site");
        let copy = pb::Op::decode(mine.def[mine.def.len() - 2].as_slice()).unwrap();
        assert_eq!(copy.inputs[0].digest, digest);
        // Nothing to import, or a definition that does not hold what it returns.
        assert_eq!(g.import(&pb::Definition::default()).unwrap(), None);
        let broken = pb::Definition { def: vec![def.def[1].clone()], ..Default::default() };
        assert!(g.import(&broken).is_err());
    }
}
