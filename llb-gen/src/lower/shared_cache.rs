//! `go.shared_cache`: Go's build cache in a store shared between machines, through the
//! cache program goapp ships ([`PROGRAM`]), which `go build` and `go test` run as their
//! `GOCACHEPROG`:
//!
//! ```text
//! the frontend's image (B), pinned: /lib/goapp/goapp-cache ─┐  (for a compile on B)
//!   or: goapp-cache source (written by goapp) ─┐            │
//!       builder image (B) ─────────────────────┴─> exec on B: go build goapp-cache
//!                      (no network; for the platform the compile runs on, when it is not B)
//! goapp-cache, the token's secret (optional) ─> mounted into each `go build` / `go test`
//! ```
//!
//! The program keeps objects in the build cache mount first (a warm engine asks the store
//! only for the command's index of what it used), then in the store. The secret is mounted only while `go` runs; the URL and the
//! mode are part of the step, the token is not.

use llb::{Mount, Platform};

use super::{GOCACHE, Lowering};
use crate::golang;
use crate::image::env_set;
use crate::paths::CACHE_PROGRAM;
use crate::spec::SharedCache;

/// The cache program, Go with the standard library only.
const PROGRAM: &str = include_str!("sharedcache.go");

const TOOL_DIR: &str = "/goapp/cache";

/// Where the token's secret is mounted.
const TOKEN: &str = "/run/secrets/goapp-shared-cache-token";

/// What a `go` command needs to use the shared cache: its `GOCACHEPROG` and the mounts of
/// the program and the token.
#[derive(Clone)]
pub(super) struct SharedCacheUse {
    pub gocacheprog: String,
    pub mounts: Vec<Mount>,
}

impl SharedCacheUse {
    /// Sets `GOCACHEPROG` for a `go` command that `project` (the spec's name), `command`
    /// (`test`, or the first target of a `go build`) and `platform` name: the store's index of
    /// what it used last time (see the program), so that the next one fetches it ahead.
    pub fn set_env(&self, env: &mut Vec<String>, project: &str, command: &str, platform: &Platform) {
        env_set(env, "GOCACHEPROG", &format!("{} -index={}", self.gocacheprog, index_name(project, command, platform)));
    }
}

/// `PROJECT/COMMAND-OS-ARCH[-VARIANT]`, in the characters the program takes.
fn index_name(project: &str, command: &str, platform: &Platform) -> String {
    let clean = |s: &str| -> String {
        let s: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' }).collect();
        if s.is_empty() || s == "." || s == ".." { "-".into() } else { s }
    };
    let mut leaf = format!("{command}-{}-{}", platform.os, platform.architecture);
    if let Some(v) = platform.variant.as_deref().filter(|v| !v.is_empty()) {
        leaf = format!("{leaf}-{v}");
    }
    format!("{}/{}", clean(project), clean(&leaf))
}

/// The cache program for `go` commands that run on `platform`: the frontend image's, when
/// the caller has it and `platform` is the build platform (an engine that has never built
/// the project then compiles nothing for it); else compiled on the build platform from
/// `builder` (the image itself: the step does not change with go.mod).
pub(super) fn prepare(cx: &mut Lowering<'_>, builder: llb::Output, platform: &Platform) -> Option<SharedCacheUse> {
    let input = cx.input;
    let cache = input.spec.go.shared_cache.as_ref()?;
    let program = match input.cache_program.filter(|_| platform == input.build_platform) {
        Some(image) => {
            let image = cx.g.image(image, platform, Default::default());
            let range = cx.range(cache.span);
            let m = cx.g.meta(image.op);
            m.name = Some(format!("[builder] the shared cache program, from {}", input.cache_program.unwrap_or_default()));
            m.ranges.push(range);
            image
        }
        None => compile(cx, builder, platform, cache),
    };
    let (dir, _) = CACHE_PROGRAM.rsplit_once('/').expect("an absolute path");
    let mut program = Mount::readonly(TOOL_DIR, program);
    program.selector = dir.into();
    let mut mounts = vec![program];
    if let Some(t) = &cache.token {
        let secret = llb::SecretMount { id: t.value.clone(), uid: 0, gid: 0, mode: 0o400, optional: true };
        mounts.push(Mount { dest: TOKEN.into(), kind: llb::MountKind::Secret(secret), selector: String::new(), readonly: true, output: false });
    }
    Some(SharedCacheUse { gocacheprog: gocacheprog(cache), mounts })
}

/// The cache program compiled from its source on the build platform, for `platform`, at
/// [`CACHE_PROGRAM`] of the result.
fn compile(cx: &mut Lowering<'_>, builder: llb::Output, platform: &Platform, cache: &SharedCache) -> llb::Output {
    // The compile runs on the build platform, or on the target under emulation (cgo).
    let target_env = golang::target(platform).map(|t| t.env()).unwrap_or_default();
    let names = ["[builder] the shared cache program".to_string(), format!("[builder] go build goapp-cache ({platform})")];
    let exec = super::builder::shipped_program(cx, builder, PROGRAM, CACHE_PROGRAM.trim_start_matches('/'), &target_env, names);
    let range = cx.range(cache.span);
    cx.g.meta(exec.op).ranges.push(range);
    exec.get("/out")
}

/// The `GOCACHEPROG` value: the program and its flags. Go splits it at spaces, honouring
/// quotes; the URL (normalized by the loader) has neither.
fn gocacheprog(cache: &SharedCache) -> String {
    let url = cache.url.replace(' ', "%20").replace('\'', "%27").replace('"', "%22");
    let mut prog = format!("{TOOL_DIR}/goapp-cache -dir={GOCACHE}/goapp-shared -url={url}");
    if cache.token.is_some() {
        prog.push_str(&format!(" -token={TOKEN}"));
    }
    if cache.read_only {
        prog.push_str(" -read-only");
    }
    prog
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;
    use crate::spec::Spanned;

    #[test]
    fn the_index_is_named_after_the_project_the_command_and_the_platform() {
        let arm = Platform { os: "linux".into(), architecture: "arm".into(), variant: Some("v7".into()) };
        assert_eq!(index_name("api", "api", &arm), "api/api-linux-arm-v7");
        let amd = Platform { os: "linux".into(), architecture: "amd64".into(), variant: None };
        assert_eq!(index_name("shop", "test", &amd), "shop/test-linux-amd64");
        assert_eq!(index_name("..", "a/b c", &amd), "-/a-b-c-linux-amd64");
    }

    #[test]
    fn the_program_is_told_the_url_the_token_file_and_the_mode() {
        let mut cache = SharedCache { span: Span::default(), url: "https://cache.example.com/go/a'b".into(), token: None, read_only: false };
        assert_eq!(gocacheprog(&cache), "/goapp/cache/goapp-cache -dir=/root/.cache/go-build/goapp-shared -url=https://cache.example.com/go/a%27b");
        cache.token = Some(Spanned::new("gocache".into(), Span::default()));
        cache.read_only = true;
        assert_eq!(
            gocacheprog(&cache),
            "/goapp/cache/goapp-cache -dir=/root/.cache/go-build/goapp-shared -url=https://cache.example.com/go/a%27b -token=/run/secrets/goapp-shared-cache-token -read-only"
        );
    }
}
