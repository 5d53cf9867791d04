//! What the source tree gets before the compile: the `assets` (directories of the build
//! context, or named build contexts, copied into the module) and the changes of the
//! `generate` commands.

use llb::{CacheSharing, Copy, Exec, FileAction, Mkdir, Mount, SourceRange};

use super::builder::{Sources, go_env, local_dir, module_cache_mount};
use super::{GOCACHE, LowerError, Lowering, SRC};
use crate::context::NamedSource;
use crate::spec::AssetSource;

/// The sources with the assets copied in: each `to` directory emptied, then filled with its
/// asset's files. `go_src` when the spec has none.
pub(super) fn copy(cx: &mut Lowering<'_>, context: llb::Output, go_src: llb::Output) -> Result<llb::Output, LowerError> {
    let input = cx.input;
    let spec = input.spec;
    if spec.assets.is_empty() {
        return Ok(go_src);
    }
    let module = if spec.module.value == "." { String::new() } else { format!("/{}", spec.module.value) };
    let mut actions = Vec::new();
    let mut what = Vec::new();
    for a in &spec.assets {
        what.push(match &a.source.value {
            AssetSource::Dir(d) => format!("{d} -> {}", a.to.value),
            AssetSource::Context(n) => format!("context {n} -> {}", a.to.value),
        });
        let (from, src) = match &a.source.value {
            AssetSource::Dir(dir) => (context, format!("/{dir}")),
            AssetSource::Context(name) => {
                let out = match input.asset_contexts.get(name) {
                    Some(NamedSource::Local(local)) => local_dir(&mut cx.g, input, local, &[]),
                    Some(NamedSource::Git(git)) => git.add(&mut cx.g, false),
                    Some(NamedSource::Input(name)) => match input.inputs.get(name) {
                        Some(def) => match cx.g.import(def)? {
                            Some(out) => out,
                            // An empty result: nothing to copy, the directory is left empty.
                            None => {
                                actions.push(FileAction::Rm(format!("{module}/{}", a.to.value)));
                                actions.push(FileAction::Mkdir(Mkdir { path: format!("{module}/{}", a.to.value), mode: 0o755, parents: true, owner: None }));
                                continue;
                            }
                        },
                        None => return Err(LowerError::MissingInput { name: name.clone() }),
                    },
                    // The plan refuses an asset whose context the build lacks.
                    None => continue,
                };
                cx.g.meta(out.op).name = Some(format!("[internal] load build context {name} (assets)"));
                (out, "/".to_string())
            }
        };
        let dest = format!("{module}/{}", a.to.value);
        actions.push(FileAction::Rm(dest.clone()));
        actions.push(FileAction::Mkdir(Mkdir { path: dest.clone(), mode: 0o755, parents: true, owner: None }));
        actions.push(FileAction::Copy(Copy::new(from, &src, &dest).contents()));
    }
    let out = cx.g.file(Some(go_src), actions);
    let ranges: Vec<SourceRange> = spec.assets.iter().map(|a| cx.range(a.source.span)).collect();
    let m = cx.g.meta(out.op);
    m.name = Some(format!("[builder] assets: {}", what.join(", ")));
    m.ranges.extend(ranges);
    Ok(out)
}

/// Runs the `generate` commands in the module's directory on the build platform, on `root`
/// (the builder with the downloaded modules), and returns the source tree they changed;
/// `go_src` when the spec has none. The step is the same for every target platform.
pub(super) fn generate(cx: &mut Lowering<'_>, root: llb::Output, go_src: llb::Output, secrets: &[Mount], sources: &Sources, cwd: &str) -> llb::Output {
    let input = cx.input;
    let spec = input.spec;
    if spec.generate.is_empty() {
        return go_src;
    }
    let mut script = String::from("set -eu\n");
    for c in &spec.generate {
        script.push_str(&c.value);
        script.push('\n');
    }
    let mounts = module_cache_mount(spec)
        .into_iter()
        .chain(secrets.iter().cloned())
        .chain(sources.replaced.iter().map(|(dir, full, _)| Mount::readonly(dir, *full)))
        .chain([
            Mount::output("/", Some(root)),
            // The sources are the step's output: writable, and what the compile reads.
            Mount::output(SRC, Some(go_src)),
            Mount::cache(GOCACHE, "goapp-go-build", CacheSharing::Shared),
        ])
        .collect();
    let exec = cx.g.exec(
        Exec {
            args: vec!["sh".into(), "-c".into(), script],
            env: go_env(input, input.targets[0], &[], &[]),
            cwd: cwd.to_string(),
            user: String::new(),
            mounts,
            no_network: false,
            proxy: input.proxy.cloned(),
        },
        input.build_platform,
    );
    let ranges: Vec<SourceRange> = spec.generate.iter().map(|c| cx.range(c.span)).collect();
    let m = cx.g.meta(exec.op);
    m.name = Some(format!("[builder] generate: {}", spec.generate.iter().map(|c| c.value.as_str()).collect::<Vec<_>>().join("; ")));
    m.ignore_cache = input.no_cache;
    m.ranges.extend(ranges);
    exec.get(SRC)
}
