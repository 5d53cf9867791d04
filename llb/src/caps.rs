//! The LLB capabilities a definition relies on, named as BuildKit's `solver/pb/caps.go`
//! names them, with the feature each one is and the first BuildKit release that has it, so
//! that a frontend can refuse a BuildKit that lacks one with an error that says what to
//! upgrade to, instead of a failure in the middle of a solve.

use std::collections::BTreeSet;

use prost::Message as _;

use crate::{attr, pb};

/// One capability: its id, what it is, and the first BuildKit release that has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap {
    pub id: &'static str,
    pub feature: &'static str,
    pub since: &'static str,
}

/// The capabilities [`used`] can report: all of them are ones BuildKit reports (some ids it
/// declares, such as `exec.meta.removemountstubs.recursive`, it never reports, so they cannot
/// be checked). The releases are the first `vX.Y.0` tag of BuildKit whose
/// `solver/pb/caps.go` reports the id (`v0.3.0`: that release or an earlier one).
pub const CAPS: &[Cap] = &[
    Cap { id: "file.base", feature: "file operations", since: "v0.5.0" },
    Cap { id: "file.copy.includeexcludepatterns", feature: "copies with include and exclude patterns", since: "v0.9.0" },
    Cap { id: "exec.mount.cache", feature: "cache mounts", since: "v0.3.0" },
    Cap { id: "exec.mount.cache.sharing", feature: "cache mount sharing modes", since: "v0.3.0" },
    Cap { id: "exec.mount.secret", feature: "secret mounts", since: "v0.3.0" },
    Cap { id: "exec.mount.ssh", feature: "SSH agent mounts", since: "v0.3.0" },
    Cap { id: "exec.mount.selector", feature: "mounts of a sub-directory", since: "v0.3.0" },
    Cap { id: "exec.meta.network", feature: "steps without network", since: "v0.3.0" },
    Cap { id: "exec.meta.proxyenv", feature: "proxy settings kept out of the cache (HTTP_PROXY and the like)", since: "v0.3.0" },
    Cap { id: "source.local.sharedkeyhint", feature: "incremental context transfer", since: "v0.3.0" },
    Cap { id: "source.local.differ", feature: "whole-file context transfer", since: "v0.9.0" },
    Cap { id: "source.local.followpaths", feature: "transferring named context files", since: "v0.3.0" },
    Cap { id: "source.local.includepatterns", feature: "context include patterns", since: "v0.3.0" },
    Cap { id: "source.local.excludepatterns", feature: "context exclude patterns (.dockerignore)", since: "v0.3.0" },
    Cap { id: "source.image.resolvemode", feature: "image resolve modes (--pull)", since: "v0.3.0" },
    Cap { id: "meta.ignorecache", feature: "--no-cache", since: "v0.3.0" },
    Cap { id: "source.git", feature: "git sources", since: "v0.3.0" },
    Cap { id: "source.git.fullurl", feature: "git URLs with a scheme", since: "v0.3.0" },
    Cap { id: "source.git.httpauth", feature: "git over HTTP with a token", since: "v0.8.0" },
    Cap { id: "source.git.keepgitdir", feature: "git sources with .git", since: "v0.3.0" },
    Cap { id: "source.git.subdir", feature: "a sub-directory of a git repository", since: "v0.9.0" },
];

/// The entry of [`CAPS`] for `id`.
pub fn cap(id: &str) -> Option<&'static Cap> {
    CAPS.iter().find(|c| c.id == id)
}

/// The capabilities the ops of `def` use.
pub fn used(def: &pb::Definition) -> BTreeSet<&'static str> {
    let mut caps = BTreeSet::new();
    for bytes in &def.def {
        let Ok(op) = pb::Op::decode(bytes.as_slice()) else { continue };
        match &op.op {
            Some(pb::op::Op::Exec(e)) => {
                if e.network == pb::NetMode::None as i32 {
                    caps.insert("exec.meta.network");
                }
                if e.meta.as_ref().is_some_and(|m| m.proxy_env.is_some()) {
                    caps.insert("exec.meta.proxyenv");
                }
                for m in &e.mounts {
                    if !m.selector.is_empty() {
                        caps.insert("exec.mount.selector");
                    }
                    match pb::MountType::try_from(m.mount_type) {
                        Ok(pb::MountType::Cache) => {
                            caps.insert("exec.mount.cache");
                            if m.cache_opt.as_ref().is_some_and(|c| c.sharing != pb::CacheSharingOpt::Shared as i32) {
                                caps.insert("exec.mount.cache.sharing");
                            }
                        }
                        Ok(pb::MountType::Secret) => {
                            caps.insert("exec.mount.secret");
                        }
                        Ok(pb::MountType::Ssh) => {
                            caps.insert("exec.mount.ssh");
                        }
                        _ => {}
                    }
                }
            }
            Some(pb::op::Op::File(f)) => {
                caps.insert("file.base");
                for a in &f.actions {
                    if let Some(pb::file_action::Action::Copy(c)) = &a.action
                        && (!c.include_patterns.is_empty() || !c.exclude_patterns.is_empty())
                    {
                        caps.insert("file.copy.includeexcludepatterns");
                    }
                }
            }
            Some(pb::op::Op::Source(s)) => {
                for (key, cap) in [
                    (attr::LOCAL_SHARED_KEY_HINT, "source.local.sharedkeyhint"),
                    (attr::LOCAL_DIFFER, "source.local.differ"),
                    (attr::LOCAL_FOLLOW, "source.local.followpaths"),
                    (attr::LOCAL_INCLUDE, "source.local.includepatterns"),
                    (attr::LOCAL_EXCLUDE, "source.local.excludepatterns"),
                    (attr::IMAGE_RESOLVE_MODE, "source.image.resolvemode"),
                ] {
                    if s.attrs.contains_key(key) {
                        caps.insert(cap);
                    }
                }
                if let Some(rest) = s.identifier.strip_prefix("git://") {
                    caps.insert("source.git");
                    for (key, cap) in [
                        (attr::GIT_FULL_URL, "source.git.fullurl"),
                        (attr::GIT_AUTH_TOKEN_SECRET, "source.git.httpauth"),
                        (attr::GIT_AUTH_HEADER_SECRET, "source.git.httpauth"),
                        (attr::GIT_KEEP_DIR, "source.git.keepgitdir"),
                    ] {
                        if s.attrs.contains_key(key) {
                            caps.insert(cap);
                        }
                    }
                    if rest.split_once('#').is_some_and(|(_, f)| f.contains(':')) {
                        caps.insert("source.git.subdir");
                    }
                }
            }
            _ => {}
        }
    }
    if def.metadata.values().any(|m| m.ignore_cache) {
        caps.insert("meta.ignorecache");
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CacheSharing, Exec, FileAction, Graph, Mkdir, Mount, MountKind, Platform, SecretMount};

    #[test]
    fn every_used_cap_is_known() {
        let p = Platform::parse("linux/amd64").unwrap();
        let mut g = Graph::new();
        let image = g.image("docker.io/library/golang:1.27", &p, Default::default());
        let ctx = g.local("context", [(attr::LOCAL_EXCLUDE.to_string(), "[]".to_string())].into());
        let git = g.source("git://example.com/r.git#main:sub", [(attr::GIT_FULL_URL.to_string(), "https://example.com/r.git".to_string())].into(), None);
        let secret = Mount {
            dest: "/run/secrets/s".into(),
            kind: MountKind::Secret(SecretMount { id: "s".into(), uid: 0, gid: 0, mode: 0o400, optional: false }),
            selector: String::new(),
            readonly: true,
            output: false,
        };
        let run = g.exec(
            Exec {
                args: vec!["true".into()],
                mounts: vec![
                    Mount::output("/", Some(image)),
                    Mount::readonly("/src", ctx),
                    Mount::readonly("/git", git),
                    Mount::cache("/c", "c", CacheSharing::Locked),
                    secret,
                ],
                no_network: true,
                proxy: None,
                ..Default::default()
            },
            &p,
        );
        g.meta(run.op).ignore_cache = true;
        let out = g.file(Some(run.get("/")), vec![FileAction::Mkdir(Mkdir { path: "/x".into(), mode: 0o755, parents: true, owner: None })]);
        let used = used(&g.marshal(Some(out)));
        for id in [
            "exec.meta.network",
            "source.git",
            "source.git.fullurl",
            "source.git.subdir",
            "exec.mount.cache",
            "exec.mount.cache.sharing",
            "exec.mount.secret",
            "file.base",
            "source.local.excludepatterns",
            "meta.ignorecache",
        ] {
            assert!(used.contains(id), "{id} in {used:?}");
        }
        assert!(!used.contains("exec.mount.ssh"));
        for id in used {
            assert!(cap(id).is_some(), "{id} has no entry in CAPS");
        }
    }
}
