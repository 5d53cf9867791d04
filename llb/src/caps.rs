//! The LLB capabilities a definition relies on, named as BuildKit's `solver/pb/caps.go`
//! names them, with the feature each one is and the first BuildKit release that has it, so
//! that a frontend can refuse a BuildKit that lacks one with an error that says what to
//! upgrade to, instead of a failure in the middle of a solve.

use std::collections::BTreeSet;

use prost::Message as _;

use crate::{attr, pb};

/// The ids of [`CAPS`], spelled as BuildKit spells them.
pub mod id {
    pub const FILE_BASE: &str = "file.base";
    pub const FILE_COPY_INCLUDEEXCLUDEPATTERNS: &str = "file.copy.includeexcludepatterns";
    pub const EXEC_MOUNT_CACHE: &str = "exec.mount.cache";
    pub const EXEC_MOUNT_CACHE_SHARING: &str = "exec.mount.cache.sharing";
    pub const EXEC_MOUNT_SECRET: &str = "exec.mount.secret";
    pub const EXEC_MOUNT_SSH: &str = "exec.mount.ssh";
    pub const EXEC_MOUNT_SELECTOR: &str = "exec.mount.selector";
    pub const EXEC_META_NETWORK: &str = "exec.meta.network";
    pub const EXEC_META_PROXYENV: &str = "exec.meta.proxyenv";
    pub const SOURCE_LOCAL_SHAREDKEYHINT: &str = "source.local.sharedkeyhint";
    pub const SOURCE_LOCAL_DIFFER: &str = "source.local.differ";
    pub const SOURCE_LOCAL_FOLLOWPATHS: &str = "source.local.followpaths";
    pub const SOURCE_LOCAL_INCLUDEPATTERNS: &str = "source.local.includepatterns";
    pub const SOURCE_LOCAL_EXCLUDEPATTERNS: &str = "source.local.excludepatterns";
    pub const SOURCE_IMAGE_RESOLVEMODE: &str = "source.image.resolvemode";
    pub const META_IGNORECACHE: &str = "meta.ignorecache";
    pub const SOURCE_GIT: &str = "source.git";
    pub const SOURCE_GIT_FULLURL: &str = "source.git.fullurl";
    pub const SOURCE_GIT_HTTPAUTH: &str = "source.git.httpauth";
    pub const SOURCE_GIT_KEEPGITDIR: &str = "source.git.keepgitdir";
    pub const SOURCE_GIT_SUBDIR: &str = "source.git.subdir";
}

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
    Cap { id: id::FILE_BASE, feature: "file operations", since: "v0.5.0" },
    Cap { id: id::FILE_COPY_INCLUDEEXCLUDEPATTERNS, feature: "copies with include and exclude patterns", since: "v0.9.0" },
    Cap { id: id::EXEC_MOUNT_CACHE, feature: "cache mounts", since: "v0.3.0" },
    Cap { id: id::EXEC_MOUNT_CACHE_SHARING, feature: "cache mount sharing modes", since: "v0.3.0" },
    Cap { id: id::EXEC_MOUNT_SECRET, feature: "secret mounts", since: "v0.3.0" },
    Cap { id: id::EXEC_MOUNT_SSH, feature: "SSH agent mounts", since: "v0.3.0" },
    Cap { id: id::EXEC_MOUNT_SELECTOR, feature: "mounts of a sub-directory", since: "v0.3.0" },
    Cap { id: id::EXEC_META_NETWORK, feature: "steps without network", since: "v0.3.0" },
    Cap { id: id::EXEC_META_PROXYENV, feature: "proxy settings kept out of the cache (HTTP_PROXY and the like)", since: "v0.3.0" },
    Cap { id: id::SOURCE_LOCAL_SHAREDKEYHINT, feature: "incremental context transfer", since: "v0.3.0" },
    Cap { id: id::SOURCE_LOCAL_DIFFER, feature: "whole-file context transfer", since: "v0.9.0" },
    Cap { id: id::SOURCE_LOCAL_FOLLOWPATHS, feature: "transferring named context files", since: "v0.3.0" },
    Cap { id: id::SOURCE_LOCAL_INCLUDEPATTERNS, feature: "context include patterns", since: "v0.3.0" },
    Cap { id: id::SOURCE_LOCAL_EXCLUDEPATTERNS, feature: "context exclude patterns (.dockerignore)", since: "v0.3.0" },
    Cap { id: id::SOURCE_IMAGE_RESOLVEMODE, feature: "image resolve modes (--pull)", since: "v0.3.0" },
    Cap { id: id::META_IGNORECACHE, feature: "--no-cache", since: "v0.3.0" },
    Cap { id: id::SOURCE_GIT, feature: "git sources", since: "v0.3.0" },
    Cap { id: id::SOURCE_GIT_FULLURL, feature: "git URLs with a scheme", since: "v0.3.0" },
    Cap { id: id::SOURCE_GIT_HTTPAUTH, feature: "git over HTTP with a token", since: "v0.8.0" },
    Cap { id: id::SOURCE_GIT_KEEPGITDIR, feature: "git sources with .git", since: "v0.3.0" },
    Cap { id: id::SOURCE_GIT_SUBDIR, feature: "a sub-directory of a git repository", since: "v0.9.0" },
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
                    caps.insert(id::EXEC_META_NETWORK);
                }
                if e.meta.as_ref().is_some_and(|m| m.proxy_env.is_some()) {
                    caps.insert(id::EXEC_META_PROXYENV);
                }
                for m in &e.mounts {
                    if !m.selector.is_empty() {
                        caps.insert(id::EXEC_MOUNT_SELECTOR);
                    }
                    match pb::MountType::try_from(m.mount_type) {
                        Ok(pb::MountType::Cache) => {
                            caps.insert(id::EXEC_MOUNT_CACHE);
                            if m.cache_opt.as_ref().is_some_and(|c| c.sharing != pb::CacheSharingOpt::Shared as i32) {
                                caps.insert(id::EXEC_MOUNT_CACHE_SHARING);
                            }
                        }
                        Ok(pb::MountType::Secret) => {
                            caps.insert(id::EXEC_MOUNT_SECRET);
                        }
                        Ok(pb::MountType::Ssh) => {
                            caps.insert(id::EXEC_MOUNT_SSH);
                        }
                        _ => {}
                    }
                }
            }
            Some(pb::op::Op::File(f)) => {
                caps.insert(id::FILE_BASE);
                for a in &f.actions {
                    if let Some(pb::file_action::Action::Copy(c)) = &a.action
                        && (!c.include_patterns.is_empty() || !c.exclude_patterns.is_empty())
                    {
                        caps.insert(id::FILE_COPY_INCLUDEEXCLUDEPATTERNS);
                    }
                }
            }
            Some(pb::op::Op::Source(s)) => {
                for (key, cap) in [
                    (attr::LOCAL_SHARED_KEY_HINT, id::SOURCE_LOCAL_SHAREDKEYHINT),
                    (attr::LOCAL_DIFFER, id::SOURCE_LOCAL_DIFFER),
                    (attr::LOCAL_FOLLOW, id::SOURCE_LOCAL_FOLLOWPATHS),
                    (attr::LOCAL_INCLUDE, id::SOURCE_LOCAL_INCLUDEPATTERNS),
                    (attr::LOCAL_EXCLUDE, id::SOURCE_LOCAL_EXCLUDEPATTERNS),
                    (attr::IMAGE_RESOLVE_MODE, id::SOURCE_IMAGE_RESOLVEMODE),
                ] {
                    if s.attrs.contains_key(key) {
                        caps.insert(cap);
                    }
                }
                if let Some(rest) = s.identifier.strip_prefix("git://") {
                    caps.insert(id::SOURCE_GIT);
                    for (key, cap) in [
                        (attr::GIT_FULL_URL, id::SOURCE_GIT_FULLURL),
                        (attr::GIT_AUTH_TOKEN_SECRET, id::SOURCE_GIT_HTTPAUTH),
                        (attr::GIT_AUTH_HEADER_SECRET, id::SOURCE_GIT_HTTPAUTH),
                        (attr::GIT_KEEP_DIR, id::SOURCE_GIT_KEEPGITDIR),
                    ] {
                        if s.attrs.contains_key(key) {
                            caps.insert(cap);
                        }
                    }
                    if rest.split_once('#').is_some_and(|(_, f)| f.contains(':')) {
                        caps.insert(id::SOURCE_GIT_SUBDIR);
                    }
                }
            }
            _ => {}
        }
    }
    if def.metadata.values().any(|m| m.ignore_cache) {
        caps.insert(id::META_IGNORECACHE);
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
        let used = used(&g.marshal(Some(out)).unwrap());
        for id in [
            id::EXEC_META_NETWORK,
            id::SOURCE_GIT,
            id::SOURCE_GIT_FULLURL,
            id::SOURCE_GIT_SUBDIR,
            id::EXEC_MOUNT_CACHE,
            id::EXEC_MOUNT_CACHE_SHARING,
            id::EXEC_MOUNT_SECRET,
            id::FILE_BASE,
            id::SOURCE_LOCAL_EXCLUDEPATTERNS,
            id::META_IGNORECACHE,
        ] {
            assert!(used.contains(id), "{id} in {used:?}");
        }
        assert!(!used.contains(id::EXEC_MOUNT_SSH));
        for id in used {
            assert!(cap(id).is_some(), "{id} has no entry in CAPS");
        }
    }
}
