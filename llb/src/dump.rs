//! A readable text form of a marshalled [`pb::Definition`]. It is decoded from the bytes that
//! go over the wire, so a golden test of it checks exactly what BuildKit receives. Ops are
//! numbered in the order they appear; digests are listed in a footer so that a change to one
//! op reads as a small change in the body.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use prost::Message as _;

use crate::pb;

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("op {index} is not a valid LLB op: {source}")]
    Decode { index: usize, source: prost::DecodeError },
}

pub fn to_text(def: &pb::Definition) -> Result<String, DumpError> {
    let mut out = String::new();
    if def.def.is_empty() {
        out.push_str("(empty filesystem)\n");
        return Ok(out);
    }
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut ops = Vec::new();
    for (i, bytes) in def.def.iter().enumerate() {
        let op = pb::Op::decode(bytes.as_slice()).map_err(|source| DumpError::Decode { index: i, source })?;
        names.insert(crate::digest(bytes), format!("op{i}"));
        ops.push(op);
    }
    let input_name = |inp: &pb::Input| {
        let n = names.get(&inp.digest).cloned().unwrap_or_else(|| inp.digest.clone());
        format!("{n}:{}", inp.index)
    };
    for (i, op) in ops.iter().enumerate() {
        let platform = op.platform.as_ref().map(|p| format!("  platform={}", crate::Platform::from_pb(p))).unwrap_or_default();
        match &op.op {
            None => {
                let _ = writeln!(out, "op{i} return {}", op.inputs.iter().map(input_name).collect::<Vec<_>>().join(", "));
            }
            Some(pb::op::Op::Source(s)) => {
                let _ = writeln!(out, "op{i} source {}{platform}", s.identifier);
                for (k, v) in &s.attrs {
                    let _ = writeln!(out, "      attr {k}={v}");
                }
            }
            Some(pb::op::Op::Exec(e)) => {
                let meta = e.meta.clone().unwrap_or_default();
                let _ = writeln!(out, "op{i} exec {:?}{platform}", meta.args);
                let _ = writeln!(out, "      cwd {}", meta.cwd);
                if !meta.user.is_empty() {
                    let _ = writeln!(out, "      user {}", meta.user);
                }
                for env in &meta.env {
                    let _ = writeln!(out, "      env {env}");
                }
                // Which proxies are set, not their values: a proxy URL may carry credentials.
                if let Some(p) = &meta.proxy_env {
                    let set: Vec<&str> =
                        [("http", &p.http_proxy), ("https", &p.https_proxy), ("ftp", &p.ftp_proxy), ("no", &p.no_proxy), ("all", &p.all_proxy)]
                            .into_iter()
                            .filter(|(_, v)| !v.is_empty())
                            .map(|(k, _)| k)
                            .collect();
                    let _ = writeln!(out, "      proxy {}", set.join(","));
                }
                if e.network == pb::NetMode::None as i32 {
                    let _ = writeln!(out, "      network none");
                }
                for m in &e.mounts {
                    let _ = writeln!(out, "      mount {}", mount_text(m, &op.inputs, &input_name));
                }
            }
            Some(pb::op::Op::File(f)) => {
                let _ = writeln!(out, "op{i} file");
                let n = op.inputs.len() as i64;
                let state = |idx: i64| -> String {
                    if idx < 0 {
                        "scratch".into()
                    } else if idx < n {
                        input_name(&op.inputs[idx as usize])
                    } else {
                        format!("action{}", idx - n)
                    }
                };
                for (ai, a) in f.actions.iter().enumerate() {
                    let out_note = if a.output >= 0 { format!(" -> out{}", a.output) } else { String::new() };
                    // The time given to what the action writes, in seconds (BuildKit's is nanoseconds).
                    let at = |ts: i64| if ts >= 0 { format!(" time={}", ts / 1_000_000_000) } else { String::new() };
                    let text = match &a.action {
                        Some(pb::file_action::Action::Mkdir(m)) => {
                            format!("mkdir {} mode={:o}{}{}{}", m.path, m.mode, if m.make_parents { " parents" } else { "" }, owner(&m.owner), at(m.timestamp))
                        }
                        Some(pb::file_action::Action::Mkfile(m)) => format!(
                            "mkfile {} mode={:o}{}{} ({} bytes, sha256 {})",
                            m.path,
                            m.mode,
                            owner(&m.owner),
                            at(m.timestamp),
                            m.data.len(),
                            &crate::digest(&m.data)[7..19]
                        ),
                        Some(pb::file_action::Action::Copy(c)) => format!(
                            "copy {}:{} -> {}{}{}{}{}{}{}",
                            state(a.secondary_input),
                            c.src,
                            c.dest,
                            if c.mode >= 0 { format!(" mode={:o}", c.mode) } else { String::new() },
                            owner(&c.owner),
                            if c.dir_copy_contents { " contents" } else { "" },
                            at(c.timestamp),
                            if c.include_patterns.is_empty() { String::new() } else { format!(" include={:?}", c.include_patterns) },
                            if c.exclude_patterns.is_empty() { String::new() } else { format!(" exclude={:?}", c.exclude_patterns) },
                        ),
                        Some(pb::file_action::Action::Rm(r)) => format!("rm {}", r.path),
                        Some(pb::file_action::Action::Symlink(s)) => {
                            format!("symlink {} -> {}", s.newpath, s.oldpath)
                        }
                        None => "(empty action)".into(),
                    };
                    let _ = writeln!(out, "      action{ai} on {}: {text}{out_note}", state(a.input));
                }
            }
            Some(other) => {
                let _ = writeln!(out, "op{i} {other:?}");
            }
        }
    }
    for (digest, meta) in &def.metadata {
        let name = names.get(digest).cloned().unwrap_or_else(|| digest.clone());
        for (k, v) in &meta.description {
            let _ = writeln!(out, "meta {name} {k}={v:?}");
        }
        if meta.ignore_cache {
            let _ = writeln!(out, "meta {name} ignore_cache");
        }
    }
    if let Some(src) = &def.source {
        for (digest, locs) in &src.locations {
            let name = names.get(digest).cloned().unwrap_or_else(|| digest.clone());
            for l in &locs.locations {
                let file = src.infos.get(l.source_index as usize).map(|i| i.filename.as_str()).unwrap_or("?");
                for r in &l.ranges {
                    let (s, e) = (r.start.unwrap_or_default(), r.end.unwrap_or_default());
                    let _ = writeln!(out, "source {name} {file}:{}:{}-{}:{}", s.line, s.character, e.line, e.character);
                }
            }
        }
    }
    let _ = writeln!(out, "digests");
    for (i, bytes) in def.def.iter().enumerate() {
        let _ = writeln!(out, "  op{i} {}", crate::digest(bytes));
    }
    Ok(out)
}

fn owner(o: &Option<pb::ChownOpt>) -> String {
    let id = |u: &Option<pb::UserOpt>| match u.as_ref().and_then(|u| u.user.as_ref()) {
        Some(pb::user_opt::User::ById(id)) => id.to_string(),
        Some(pb::user_opt::User::ByName(n)) => n.name.clone(),
        None => "-".into(),
    };
    match o {
        Some(c) => format!(" owner={}:{}", id(&c.user), id(&c.group)),
        None => String::new(),
    }
}

fn mount_text(m: &pb::Mount, inputs: &[pb::Input], input_name: &dyn Fn(&pb::Input) -> String) -> String {
    let src = if m.input >= 0 { inputs.get(m.input as usize).map(input_name).unwrap_or_else(|| "?".into()) } else { "scratch".into() };
    let mut s = match pb::MountType::try_from(m.mount_type).unwrap_or(pb::MountType::Bind) {
        pb::MountType::Bind => format!("{} bind {src}", m.dest),
        pb::MountType::Cache => {
            let c = m.cache_opt.clone().unwrap_or_default();
            let sharing = pb::CacheSharingOpt::try_from(c.sharing).map(|s| s.as_str_name()).unwrap_or("?");
            format!("{} cache id={} sharing={}", m.dest, c.id, sharing.to_ascii_lowercase())
        }
        pb::MountType::Tmpfs => format!("{} tmpfs", m.dest),
        pb::MountType::Secret => {
            let o = m.secret_opt.clone().unwrap_or_default();
            format!("{} secret id={} mode={:o}{}", m.dest, o.id, o.mode, if o.optional { " optional" } else { "" })
        }
        pb::MountType::Ssh => format!("{} ssh id={}", m.dest, m.ssh_opt.clone().unwrap_or_default().id),
    };
    if !m.selector.is_empty() {
        let _ = write!(s, " selector={}", m.selector);
    }
    if m.readonly {
        s.push_str(" ro");
    }
    if m.output >= 0 && m.mount_type == pb::MountType::Bind as i32 {
        let _ = write!(s, " -> out{}", m.output);
    }
    s
}
