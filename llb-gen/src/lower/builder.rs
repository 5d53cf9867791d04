//! The builder stage: the builder image (checked against go.mod's `go` line when it does not
//! say its Go), the sources the `go` commands read (the build context, a go.mod that replaces
//! modules, the named contexts that replace them), the module download, and the environment
//! of every `go` command.

use std::collections::BTreeMap;

use llb::{CacheSharing, Copy, Exec, FileAction, Graph, Mkfile, Mount, SourceRange};

use super::secrets::secret_env;
use super::{GOCACHE, GOMODCACHE, Input, Lowering, SRC, pinned};
use crate::context::{ContextSource, NamedSource, replacement_dir};
use crate::image::env_set;
use crate::spec::Spec;
use crate::spec::raw::{ModMode, ModuleCache};
use crate::toolchain::Origin;

/// The builder image for the build platform, pinned, named after the Go release that chose
/// it and pointing at the line that did (the spec's, or go.mod's); for a `go.image` that
/// does not say its Go, the root that passed [`go_version_guard`].
pub(super) fn image(cx: &mut Lowering<'_>) -> llb::Output {
    let input = cx.input;
    let builder_ref = pinned(&input.builder.reference, &input.builder.digest);
    let builder = cx.g.image(&builder_ref.to_string(), input.build_platform, BTreeMap::new());
    cx.g.meta(builder.op).name = Some(format!("[builder] FROM {builder_ref}: {}", input.go_release.describe(input.spec_file)));
    match (&input.go_release.origin, input.go_module) {
        (Origin::SpecVersion(span) | Origin::SpecImage(span), _) => {
            let r = cx.range(*span);
            cx.g.meta(builder.op).ranges.push(r);
        }
        (Origin::Toolchain(_, span) | Origin::GoLine(_, span), Some(m)) => {
            let src = cx.g.add_source_info(&m.path, m.source.as_bytes(), crate::diag::GO_MOD_LANGUAGE);
            let span = *span;
            cx.g.meta(builder.op).ranges.push(SourceRange {
                source: src,
                start_line: span.start.line,
                start_column: span.start.column,
                end_line: span.end.line,
                end_column: span.end.column,
            });
        }
        _ => {}
    }
    match go_version_guard(&mut cx.g, input, builder) {
        Some(guard) => {
            let span = input.spec.go.image.as_ref().map(|i| i.span).unwrap_or_default();
            let r = cx.range(span);
            cx.g.meta(guard.op).ranges.push(r);
            guard.get("/")
        }
        None => builder,
    }
}

/// What the build reads besides the builder.
pub(super) struct Sources {
    /// The build context, as it is (`runtime.files` come from it).
    pub context: llb::Output,
    /// What the `go` commands see: the context, with the go.mod that replaces modules by
    /// named contexts.
    pub go_src: llb::Output,
    /// Each replacing named context: where it is mounted, all of it (for the compile), and
    /// its module files (for the download).
    pub replaced: Vec<(String, llb::Output, llb::Output)>,
}

/// The build context (the client's directory or a git repository), and the named contexts
/// that replace modules.
pub(super) fn sources(cx: &mut Lowering<'_>) -> Result<Sources, super::LowerError> {
    let input = cx.input;
    let context = match input.context_source {
        ContextSource::Local => {
            let c = local_dir(&mut cx.g, input, input.context_name, input.context_excludes);
            cx.g.meta(c.op).name = Some("[internal] load build context".into());
            c
        }
        ContextSource::Git(git) => {
            let c = git.add(&mut cx.g, input.spec.go.vcs);
            cx.g.meta(c.op).name = Some(format!("[internal] load git source {git}"));
            c
        }
    };
    let go_src = match input.module_file {
        Some((path, text)) => {
            let edited = cx
                .g
                .file(Some(context), vec![FileAction::Mkfile(Mkfile { path: format!("/{path}"), mode: 0o644, data: text.as_bytes().to_vec(), owner: None })]);
            let modules: Vec<&str> = input.replacements.iter().map(|r| r.module.as_str()).collect();
            cx.g.meta(edited.op).name = Some(format!("[builder] {path}: replace {}", modules.join(", ")));
            edited
        }
        None => context,
    };
    let mut replaced = Vec::new();
    for (i, r) in input.replacements.iter().enumerate() {
        let full = match &r.source {
            NamedSource::Local(name) => local_dir(&mut cx.g, input, name, &[]),
            NamedSource::Git(git) => git.add(&mut cx.g, false),
            // The plan takes inputs for assets only.
            NamedSource::Input(name) => return Err(super::LowerError::MissingInput { name: name.clone() }),
        };
        cx.g.meta(full.op).name = Some(format!("[internal] load build context {} (replaces the module)", r.module));
        let files = cx.g.file(None, vec![FileAction::Copy(Copy::new(full, "/", "/").contents().include(MODULE_FILES))]);
        cx.g.meta(files.op).name = Some(format!("[builder] module files of {}", r.module));
        replaced.push((replacement_dir(i), full, files));
    }
    let go_src = super::assets::copy(cx, context, go_src)?;
    Ok(Sources { context, go_src, replaced })
}

/// Checks that Go 1.21 or later can build a module with go.mod's `go` line: Go compares
/// the releases itself (a module saying it needs a newer Go fails to load with
/// `GOTOOLCHAIN=local`), and the script says what to do.
const GO_VERSION_GUARD: &str = r#"set -eu
need=$1 at=$2 image=$3 spec=$4
d=$(mktemp -d)
printf 'module goapp.invalid/check\n\ngo %s\n' "$need" > "$d/go.mod"
if out=$(cd "$d" && GOTOOLCHAIN=local GOFLAGS= GOWORK=off GOMODCACHE="$d/mod" GOCACHE="$d/cache" go list -m 2>&1); then
  rm -rf "$d"
  exit 0
fi
rm -rf "$d"
case "$out" in
*"requires go >="*)
  have=$(go env GOVERSION 2>/dev/null || echo "an unknown Go")
  printf 'goapp: %s needs Go %s or later (%s), but the builder of go.image (%s, %s) has %s: use a builder image with Go %s or later, or remove go.image\n' \
    "${at%%:*}" "$need" "$at" "$image" "$spec" "$have" "$need" >&2 ;;
*)
  printf 'goapp: the go command of go.image (%s, %s) cannot read a module that needs Go %s (%s): %s\n' "$image" "$spec" "$need" "$at" "$out" >&2 ;;
esac
exit 1
"#;

/// The step that runs [`GO_VERSION_GUARD`] on the builder: for a `go.image` whose config
/// does not say its Go release (`GOLANG_VERSION`), when go.mod has a `go` line. Its root is
/// what the build then runs on, so nothing runs before it passes. `None` when the release is
/// known (the frontend checks it before lowering) or there is nothing to check against.
fn go_version_guard(g: &mut Graph, input: &Input<'_>, builder: llb::Output) -> Option<llb::ExecOutputs> {
    let image = input.spec.go.image.as_ref()?;
    let module = input.go_module?;
    let need = module.go.as_ref()?;
    if crate::toolchain::image_go_version(&input.builder.env).is_some() {
        return None;
    }
    let mut env = input.builder.env.clone();
    env_set(&mut env, "GOTOOLCHAIN", "local");
    let args = vec![
        "sh".to_string(),
        "-c".into(),
        GO_VERSION_GUARD.into(),
        "go-version".into(),
        need.version.to_string(),
        module.at(need),
        image.value.clone(),
        format!("{}:{}", input.spec_file, image.span.start.line),
    ];
    let guard = g.exec(
        Exec { args, env, cwd: "/".into(), user: String::new(), mounts: vec![Mount::output("/", Some(builder))], no_network: true, proxy: None },
        input.build_platform,
    );
    g.meta(guard.op).name = Some(format!("[builder] check the Go of {} against {}", image.value, module.at(need)));
    Some(guard)
}

/// The environment of every `go` command: the builder image's, then the target's settings,
/// then the module fetch settings of the build args, then what goapp controls.
pub(super) fn go_env(input: &Input<'_>, target: &crate::spec::Target, cgo: &[String], extra: &[String]) -> Vec<String> {
    let mut env = input.builder.env.clone();
    // The C settings come before the spec's environment, which may choose another compiler.
    for kv in cgo {
        let (k, v) = kv.split_once('=').expect("K=V");
        env_set(&mut env, k, v);
    }
    env_set(&mut env, "GOTOOLCHAIN", "local");
    for (k, v) in target.env.iter().map(|(k, v)| (k, v)).chain(input.go_args) {
        env_set(&mut env, k, v);
    }
    for (k, v) in secret_env(input.spec, &env) {
        env_set(&mut env, &k, &v);
    }
    let cgo_enabled = if cgo.is_empty() { "0" } else { "1" };
    for (k, v) in [("CGO_ENABLED", cgo_enabled), ("GOCACHE", GOCACHE), ("GOMODCACHE", GOMODCACHE)] {
        env_set(&mut env, k, v);
    }
    for kv in extra {
        let (k, v) = kv.split_once('=').expect("K=V");
        env_set(&mut env, k, v);
    }
    env
}

/// `go mod download` as a step of its own, on the build platform, whose only inputs are the
/// module files: a code change never runs it again, a go.mod change downloads only what is
/// new (into the shared module cache), and it is one vertex for every target platform. The
/// compile steps run on its result. `None` when nothing needs downloading.
/// `extra` are mounted too: the secrets and the module files of replacements.
pub(super) fn download_modules(
    g: &mut Graph,
    input: &Input<'_>,
    builder: llb::Output,
    context: llb::Output,
    cwd: &str,
    extra: &[Mount],
) -> Option<llb::ExecOutputs> {
    let spec = input.spec;
    if input.no_download || spec.go.module_mode == Some(ModMode::Vendor) {
        return None;
    }
    let files = g.file(None, vec![FileAction::Copy(Copy::new(context, "/", "/").contents().include(MODULE_FILES))]);
    g.meta(files.op).name = Some(format!("[builder] module files: {}", MODULE_FILES.join(" ")));
    let download = g.exec(
        Exec {
            args: vec!["go".into(), "mod".into(), "download".into()],
            env: go_env(input, input.targets[0], &[], &[]),
            cwd: cwd.to_string(),
            user: String::new(),
            mounts: module_cache_mount(spec)
                .into_iter()
                .chain(extra.iter().cloned())
                .chain([Mount::output("/", Some(builder)), Mount::readonly(SRC, files)])
                .collect(),
            no_network: false,
            proxy: input.proxy.cloned(),
        },
        input.build_platform,
    );
    let m = g.meta(download.op);
    m.name = Some("[builder] go mod download".into());
    m.ignore_cache = input.no_cache;
    Some(download)
}

/// A directory of the client (the build context, or a named context), through the session,
/// without `excludes` and, unless VCS information is stamped, without `.git`.
pub(super) fn local_dir(g: &mut Graph, input: &Input<'_>, name: &str, excludes: &[String]) -> llb::Output {
    let mut attrs = BTreeMap::new();
    if !input.session_id.is_empty() {
        attrs.insert(llb::attr::LOCAL_SESSION.to_string(), input.session_id.to_string());
    }
    attrs.insert(llb::attr::LOCAL_SHARED_KEY_HINT.to_string(), name.to_string());
    let mut excludes = excludes.to_vec();
    if !input.spec.go.vcs {
        // The build needs no repository history unless it stamps VCS information: leaving
        // .git out keeps the transfer small and a commit from invalidating the build.
        excludes.push(".git".into());
    }
    attrs.insert(llb::attr::LOCAL_EXCLUDE.to_string(), serde_json::to_string(&excludes).expect("strings serialize"));
    g.local(name, attrs)
}

/// A Go program goapp ships as one source file of the standard library only, compiled on the
/// build platform from `builder` with no network, for `target_env` (GOOS, GOARCH, ...; none:
/// the build platform), at `/out/<path>` of the exec. `names`: the source's step, then the
/// compile's.
pub(super) fn shipped_program(
    cx: &mut super::Lowering<'_>,
    builder: llb::Output,
    source: &str,
    path: &str,
    target_env: &[String],
    names: [String; 2],
) -> llb::ExecOutputs {
    let input = cx.input;
    let [source_name, build_name] = names;
    let source = cx.g.file(None, vec![FileAction::Mkfile(Mkfile { path: "/main.go".into(), mode: 0o644, data: source.as_bytes().to_vec(), owner: None })]);
    cx.g.meta(source.op).name = Some(source_name);
    let mut env = input.builder.env.clone();
    for (k, v) in [("GOTOOLCHAIN", "local"), ("GOFLAGS", ""), ("GOWORK", "off"), ("GO111MODULE", "on"), ("CGO_ENABLED", "0"), ("GOCACHE", GOCACHE)] {
        env_set(&mut env, k, v);
    }
    for kv in target_env {
        let (k, v) = kv.split_once('=').expect("K=V");
        env_set(&mut env, k, v);
    }
    let exec = cx.g.exec(
        Exec {
            args: ["go", "build", "-trimpath", "-ldflags=-s -w", "-o"]
                .map(String::from)
                .into_iter()
                .chain([format!("/out/{path}"), "/tool/main.go".into()])
                .collect(),
            env,
            cwd: "/tool".into(),
            user: String::new(),
            mounts: vec![
                Mount::output("/", Some(builder)),
                Mount::readonly("/tool", source),
                Mount::output("/out", None),
                Mount::cache(GOCACHE, "goapp-go-build", CacheSharing::Shared),
            ],
            no_network: true,
            proxy: None,
        },
        input.build_platform,
    );
    cx.g.meta(exec.op).name = Some(build_name);
    exec
}

/// The module cache as a cache mount (Go locks its entries, so sharing it is safe), or
/// nothing when the modules live in the download step's layer.
pub(super) fn module_cache_mount(spec: &Spec) -> Option<Mount> {
    (spec.go.module_cache == ModuleCache::Mount).then(|| Mount::cache(GOMODCACHE, "goapp-go-mod", CacheSharing::Shared))
}

/// What `go mod download` reads.
pub(super) const MODULE_FILES: &[&str] = &["**/go.mod", "**/go.sum", "go.work", "go.work.sum"];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use llb::Platform;

    fn dump(yaml: &[u8], module: Option<&str>) -> String {
        let spec = crate::load("goapp.yaml", yaml, &BTreeMap::new()).unwrap().spec;
        let source = crate::plan::SpecSource { file: "goapp.yaml".into(), data: yaml.to_vec() };
        let facts = crate::context::ContextFacts { go_mod: module.map(|m| ("go.mod".to_string(), m.to_string())), ..Default::default() };
        let plan = crate::plan::plan(spec, source, &crate::plan::Request::default(), &facts).unwrap();
        let amd64 = Platform::parse("linux/amd64").unwrap();
        let lowered = crate::lower::lower(&plan, &crate::lower::Resolved::unresolved(&plan), &amd64).unwrap();
        llb::dump::to_text(&lowered.definition).unwrap()
    }

    #[test]
    fn a_go_image_that_does_not_say_its_go_is_checked_before_anything_runs_on_it() {
        let yaml = b"name: app\ngo:\n  image: registry.example/tools/go:2\n";
        let text = dump(yaml, Some("module m\n\ngo 1.27\n"));
        assert!(text.contains("check the Go of registry.example/tools/go:2 against go.mod:3"), "{text}");
        assert!(text.contains(r#""go-version", "1.27", "go.mod:3", "registry.example/tools/go:2", "goapp.yaml:3"]"#), "{text}");
        // The compile runs on what the check passed.
        let guard = text.lines().position(|l| l.contains(r#""go-version""#)).unwrap();
        let build = text.lines().position(|l| l.contains(r#"exec ["go", "build""#)).unwrap();
        assert!(guard < build);
        // Nothing to check: no go line, or no go.image (the frontend checks the release).
        assert!(!dump(yaml, Some("module m\n")).contains("go-version"));
        assert!(!dump(b"name: app\n", Some("module m\n\ngo 1.27\n")).contains("go-version"));
    }
}
