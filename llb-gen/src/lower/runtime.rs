//! The runtime stage: the base (assembled, `scratch`, or pulled and pinned, with what it
//! lacks copied from the builder), the spec's files with their modes set, and the layer of
//! the binaries with the program's directories; or, for `--target binaries`, the binaries
//! alone.

use llb::{Copy, Exec, FileAction, Graph, Mkdir, Mkfile, Mount, SourceRange};

use super::compile::Compiled;
use super::{BIN_DIR, BaseImage, CA_BUNDLE, DEFAULT_PATH, HISTORY_COMMENT, Input, LowerError, Lowered, Lowering, pinned};
use crate::golang;
use crate::image::{History, ImageConfig};
use crate::paths::WINDOWS_BIN_DIR;
use crate::spec::{Base, NONROOT_UID, Volume};

/// The pulled base of this platform, pinned, when the plan pulls one (the base is an image,
/// and the result needs it): its vertex serves the image and the cgo check.
pub(super) fn pulled_base<'a>(cx: &mut Lowering<'a>) -> Result<Option<(&'a BaseImage, llb::Output)>, LowerError> {
    let input = cx.input;
    let spec = input.spec;
    let Some(b) = input.base else { return Ok(None) };
    let r = pinned(&b.reference, &b.digest);
    let image = cx.g.image(&r.to_string(), input.target, Default::default());
    let span = if golang::is_windows(input.target) { spec.runtime.windows.base_span } else { spec.runtime.base.span };
    let range = cx.range(span);
    let m = cx.g.meta(image.op);
    m.name = Some(format!("[{}] FROM {r}", input.target));
    m.ranges.push(range);
    Ok(Some((b, image)))
}

/// The image: the base, the files, then the binaries with the program's directories; and
/// the history entry of each layer goapp adds.
pub(super) fn image(
    cx: &mut Lowering<'_>,
    builder: llb::Output,
    context: llb::Output,
    pulled: Option<(&BaseImage, llb::Output)>,
    compiled: &Compiled<'_>,
) -> Result<(llb::Output, Vec<String>), LowerError> {
    if golang::is_windows(cx.input.target) {
        return windows_image(cx, builder, context, pulled, compiled);
    }
    let input = cx.input;
    let spec = input.spec;
    let target = input.target;
    let rt = &spec.runtime;
    let mut history = Vec::new();
    let base_range = cx.range(rt.base.span);
    let base = match (rt.base.value, pulled) {
        (Base::Static, _) => {
            let b = static_base(&mut cx.g, builder, rt.ca_certificates, rt.tzdata, layer_time(input));
            let what = base_contents(rt, rt.ca_certificates, rt.tzdata);
            let m = cx.g.meta(b.op);
            m.name = Some(format!("[runtime] static base: {what}"));
            m.ranges.push(base_range);
            history.push(format!("goapp: static base ({what})"));
            Some(b)
        }
        (Base::Image, Some((b, image))) => {
            // What the base lacks and the spec wants comes from the builder: no step runs on
            // the target platform.
            let (ca, tz) = (rt.ca_certificates && !b.has_ca_certificates, rt.tzdata && !b.has_zoneinfo);
            match scratch_extras(&mut cx.g, builder, Some(image), ca, tz, layer_time(input)) {
                Some(added) => {
                    let what = base_contents(rt, ca, tz);
                    let m = cx.g.meta(added.op);
                    m.name = Some(format!("[{target}] add to the base from the builder: {what}"));
                    m.ranges.push(base_range);
                    history.push(format!("goapp: {what} from the builder"));
                    Some(added)
                }
                None => Some(image),
            }
        }
        (Base::Image, None) => return Err(LowerError::MissingBase { platform: target.id() }),
        (Base::Scratch, _) => {
            let b = scratch_extras(&mut cx.g, builder, None, rt.ca_certificates, rt.tzdata, layer_time(input));
            if let Some(b) = b {
                let what = base_contents(rt, rt.ca_certificates, rt.tzdata);
                let m = cx.g.meta(b.op);
                m.name = Some(format!("[runtime] scratch base: {what}"));
                m.ranges.push(base_range);
                history.push(format!("goapp: scratch base ({what})"));
            }
            b
        }
    };

    let mut state = base;
    if let Some((files, entry)) = files_layer(cx, builder, context, state, rt.base.value == Base::Static) {
        history.push(entry);
        state = Some(files);
    }

    let mut actions: Vec<FileAction> = compiled
        .binaries
        .iter()
        .map(|(t, out, path)| FileAction::Copy(Copy::new(*out, path, &format!("{BIN_DIR}/{}", t.name.value)).mode(0o755).owner(0, 0)))
        .collect();
    // The shared libraries of a cgo build that the base lacks, beside the binaries.
    actions.extend(compiled.libs.iter().map(|l| FileAction::Copy(Copy::new(*l, "/", "/").contents().owner(0, 0))));
    // Delve, for `--target debug`.
    actions.extend(compiled.delve.iter().map(|d| FileAction::Copy(Copy::new(*d, "/dlv", &format!("{BIN_DIR}/dlv")).mode(0o755).owner(0, 0))));
    // The workdir and the volumes, writable by the program: a volume the engine creates from
    // the image's directory takes its owner and mode.
    let writable = writable_dirs(rt, input.user);
    for (i, dir) in writable.iter().enumerate() {
        actions.extend(writable_dir(dir, &writable[..i]));
    }
    let actions = if rt.base.value == Base::Static && input.facts.epoch.is_some() { over_static_base(builder, actions) } else { actions };
    let image = layer(&mut cx.g, state, actions, layer_time(input));
    let names: Vec<String> =
        input.targets.iter().map(|t| format!("{BIN_DIR}/{}", t.name.value)).chain(compiled.delve.iter().map(|_| format!("{BIN_DIR}/dlv"))).collect();
    let range = cx.range(spec.name.span);
    let m = cx.g.meta(image.op);
    m.name = Some(format!("[{target}] add {}", names.join(", ")));
    m.ranges.push(range);
    let with_libs = if spec.go.cgo.as_ref().is_some_and(|c| !c.static_link) { " and the C libraries they need" } else { "" };
    // One entry for the one layer: the binaries, and the directories made beside them.
    let dirs = describe_dirs(&writable, input.user);
    history.push(format!(
        "goapp: go build {} -> {}{with_libs}{dirs}",
        input.targets.iter().map(|t| t.main.value.as_str()).collect::<Vec<_>>().join(" "),
        names.join(" ")
    ));
    Ok((image, history))
}

/// The layer of the spec's `files` on `state`, and its history entry; `None` without any.
/// `over_static`: on the static base, whose own directories a dated copy must keep.
fn files_layer(
    cx: &mut Lowering<'_>,
    builder: llb::Output,
    context: llb::Output,
    state: Option<llb::Output>,
    over_static: bool,
) -> Option<(llb::Output, String)> {
    let input = cx.input;
    let rt = &input.spec.runtime;
    if rt.files.is_empty() {
        return None;
    }
    let normalized = normalized_files(&mut cx.g, input, builder, context);
    if let Some(n) = normalized {
        let ranges: Vec<SourceRange> = rt.files.iter().filter(|f| f.mode.is_none()).map(|f| cx.range(f.src.span)).collect();
        cx.g.meta(n.op).ranges.extend(ranges);
    }
    let actions = rt
        .files
        .iter()
        .map(|f| {
            let from = match (f.mode, normalized) {
                (None, Some(n)) => n,
                _ => context,
            };
            let mut c = Copy::new(from, &format!("/{}", f.src.value), &f.dest).contents().owner(f.owner.uid, f.owner.gid);
            c.allow_wildcard = true;
            c.mode = f.mode;
            FileAction::Copy(c)
        })
        .collect();
    let actions = if over_static && input.facts.epoch.is_some() { over_static_base(builder, actions) } else { actions };
    let files = layer(&mut cx.g, state, actions, layer_time(input));
    let ranges: Vec<SourceRange> = rt.files.iter().map(|f| cx.range(f.src.span)).collect();
    let m = cx.g.meta(files.op);
    m.name = Some(format!("[{}] add files: {}", input.target, rt.files.iter().map(|f| f.dest.as_str()).collect::<Vec<_>>().join(", ")));
    m.ranges.extend(ranges);
    Some((files, format!("goapp: files {}", rt.files.iter().map(|f| format!("{} -> {}", f.src.value, f.dest)).collect::<Vec<_>>().join(", "))))
}

/// The image of a Windows platform: its Windows base (BuildKit writes the layers goapp adds
/// on it in the Windows layer format, each path under the drive's `Files/`); the spec's
/// files; then the binaries as `/app/NAME.exe` (`C:\app`) with the program's directories.
/// Nothing runs on Windows. Go on Windows takes CA certificates from Windows' own store, and
/// the time zone database is in the binaries (see `compile`).
fn windows_image(
    cx: &mut Lowering<'_>,
    builder: llb::Output,
    context: llb::Output,
    pulled: Option<(&BaseImage, llb::Output)>,
    compiled: &Compiled<'_>,
) -> Result<(llb::Output, Vec<String>), LowerError> {
    let input = cx.input;
    let target = input.target;
    let rt = &input.spec.runtime;
    let Some((_, base)) = pulled else { return Err(LowerError::MissingBase { platform: target.id() }) };
    let mut history = Vec::new();
    let mut state = base;
    if let Some((files, entry)) = files_layer(cx, builder, context, Some(state), false) {
        history.push(entry);
        state = files;
    }
    let names: Vec<String> = input.targets.iter().map(|t| format!("{WINDOWS_BIN_DIR}/{}", golang::binary_file(&t.name.value, target))).collect();
    let mut actions: Vec<FileAction> = compiled
        .binaries
        .iter()
        .map(|(t, out, path)| {
            FileAction::Copy(Copy::new(*out, path, &format!("{WINDOWS_BIN_DIR}/{}", golang::binary_file(&t.name.value, target))).mode(0o755).owner(0, 0))
        })
        .collect();
    // The check of a cgo build (it collects nothing for Windows: the binaries are static),
    // so that it is a step of the image.
    actions.extend(compiled.libs.iter().map(|l| FileAction::Copy(Copy::new(*l, "/", "/").contents().owner(0, 0))));
    // The workdir and the volumes: made, so that they exist; Windows gives them its own
    // access rules (the owner and mode of a Linux image do not carry over).
    let writable = writable_dirs(rt, crate::spec::User::ROOT);
    for (i, dir) in writable.iter().enumerate() {
        actions.extend(writable_dir(dir, &writable[..i]));
    }
    let image = layer(&mut cx.g, Some(state), actions, layer_time(input));
    let range = cx.range(input.spec.name.span);
    let m = cx.g.meta(image.op);
    m.name = Some(format!("[{target}] add {}", names.join(", ")));
    m.ranges.push(range);
    let dirs =
        if writable.is_empty() { String::new() } else { format!("; directories {}", writable.iter().map(|d| d.path.as_str()).collect::<Vec<_>>().join(" ")) };
    history.push(format!("goapp: go build {} -> {}{dirs}", input.targets.iter().map(|t| t.main.value.as_str()).collect::<Vec<_>>().join(" "), names.join(" ")));
    Ok((image, history))
}

/// Sets the modes of the files a `files` entry without `mode` copies, so that the image does
/// not depend on the machine that sent the context: directories 0755; files 0644, or 0755
/// when they are executable in the context and can be run (a `#!` script or an ELF
/// program). Windows sends every file executable, so the test of the content is what makes
/// a checkout there give the same image as one on Linux.
const NORMALIZE_MODES: &str = r##"set -eu
cd /files
find . -type d -exec chmod 0755 {} +
find . -type f ! -perm -u+x -exec chmod 0644 {} +
find . -type f -perm -u+x -exec sh -c '
elf=$(printf "\177ELF")
for f; do
  case $(head -c 4 "$f") in
  "#!"*|"$elf") chmod 0755 "$f" ;;
  *) chmod 0644 "$f" ;;
  esac
done' normalize {} +
"##;

/// The sources of the `files` entries without a `mode`, taken from the context (only those:
/// an edit elsewhere reruns nothing) with their modes set by [`NORMALIZE_MODES`], on the
/// build platform with no network. `None` when every entry has a mode.
fn normalized_files(g: &mut Graph, input: &Input<'_>, builder: llb::Output, context: llb::Output) -> Option<llb::Output> {
    let sources: Vec<&str> = input.spec.runtime.files.iter().filter(|f| f.mode.is_none()).map(|f| f.src.value.as_str()).collect();
    if sources.is_empty() {
        return None;
    }
    let mut copy = Copy::new(context, "/", "/").contents();
    if !sources.contains(&".") {
        copy = copy.include(&sources);
    }
    let picked = g.file(None, vec![FileAction::Copy(copy)]);
    g.meta(picked.op).name = Some(format!("[builder] files: {}", sources.join(" ")));
    let exec = g.exec(
        Exec {
            args: vec!["sh".into(), "-c".into(), NORMALIZE_MODES.into()],
            env: vec![format!("PATH={DEFAULT_PATH}")],
            cwd: "/".into(),
            user: String::new(),
            mounts: vec![Mount::readonly("/", builder), Mount::output("/files", Some(picked))],
            no_network: true,
            proxy: None,
        },
        input.build_platform,
    );
    g.meta(exec.op).name = Some("[builder] files: modes 0644, and 0755 for directories and programs".into());
    Some(exec.get("/files"))
}

/// The directories the program writes to: the workdir and the volumes, each once (a volume's
/// own `owner` and `mode` win over the workdir's), a directory before those inside it (so
/// that one inside another, `/data` and `/data/app`, are both made as asked: the outer one
/// is not first made as a root-owned parent).
fn writable_dirs(rt: &crate::spec::Runtime, user: crate::spec::User) -> Vec<Volume> {
    let mut dirs: Vec<Volume> = rt.workdir.iter().map(|w| Volume { path: w.value.clone(), owner: Some(user), mode: 0o755 }).collect();
    for v in &rt.volumes {
        let v = Volume { owner: Some(v.owner.unwrap_or(user)), ..v.clone() };
        match dirs.iter_mut().find(|d| d.path == v.path) {
            Some(d) => *d = v,
            None => dirs.push(v),
        }
    }
    dirs.retain(|d| d.path != "/");
    dirs.sort_by_key(|d| d.path.matches('/').count());
    dirs
}

/// Makes `dir` with its owner and mode; the parents it lacks are made owned by root with
/// mode 0755, as a package would make them (unless the parent is one of the directories
/// `made` already), and a directory the base has already is left as it is.
fn writable_dir(dir: &Volume, made: &[Volume]) -> Vec<FileAction> {
    let mut actions = Vec::new();
    if let Some((parent, _)) = dir.path.rsplit_once('/').filter(|(p, _)| !p.is_empty() && !made.iter().any(|m| m.path == *p)) {
        actions.push(FileAction::Mkdir(Mkdir { path: parent.to_string(), mode: 0o755, parents: true, owner: Some((0, 0)) }));
    }
    let owner = dir.owner.map(|u| (u.uid, u.gid));
    actions.push(FileAction::Mkdir(Mkdir { path: dir.path.clone(), mode: dir.mode, parents: false, owner }));
    actions
}

/// The history's words for the directories made for the program: those owned by the
/// runtime user with mode 0755 together, then each other one with its owner and mode.
fn describe_dirs(dirs: &[Volume], user: crate::spec::User) -> String {
    if dirs.is_empty() {
        return String::new();
    }
    let usual: Vec<&str> = dirs.iter().filter(|d| d.owner == Some(user) && d.mode == 0o755).map(|d| d.path.as_str()).collect();
    let mut parts = Vec::new();
    if !usual.is_empty() {
        parts.push(format!("{} owned by {}", usual.join(" "), user.config()));
    }
    for d in dirs.iter().filter(|d| !(d.owner == Some(user) && d.mode == 0o755)) {
        let owner = d.owner.unwrap_or(user);
        parts.push(format!("{} owned by {} mode {:04o}", d.path, owner.config(), d.mode));
    }
    format!("; directories {}", parts.join(", "))
}

/// The result of `--target binaries`: each binary at the root (`/<target name>`, 0755), and
/// for a cgo build the shared libraries the base lacks (under `/usr/lib/<triplet>`). The
/// config only names the platform, for exporters that want one.
pub(super) fn binaries_result(
    g: &mut Graph,
    input: &Input<'_>,
    binaries: &[(&crate::spec::Target, llb::Output, String)],
    libs: &[llb::Output],
    range: SourceRange,
) -> Result<Lowered, LowerError> {
    let mut actions = binaries_at_root(binaries, input.target);
    actions.extend(libs.iter().map(|l| FileAction::Copy(Copy::new(*l, "/", "/").contents().owner(0, 0))));
    let out = layer(g, None, actions, LayerTime::Staged(input.facts.epoch));
    let names: Vec<String> = binaries.iter().map(|(t, _, _)| golang::binary_file(&t.name.value, input.target)).collect();
    let m = g.meta(out.op);
    m.name = Some(format!("[{}] binaries: {}", input.target, names.join(", ")));
    m.ranges.push(range);
    let config = ImageConfig {
        architecture: input.target.architecture.clone(),
        os: input.target.os.clone(),
        variant: input.target.variant.clone(),
        created: input.facts.created.clone(),
        history: vec![History {
            created: input.facts.created.clone(),
            created_by: Some(format!(
                "goapp: go build {} -> /{}",
                input.targets.iter().map(|t| t.main.value.as_str()).collect::<Vec<_>>().join(" "),
                names.join(" /")
            )),
            comment: Some(HISTORY_COMMENT.into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    Ok(Lowered { definition: g.marshal(Some(out))?, config, build_info: None })
}

/// Copies of the binaries to `/<target name>`, 0755, owned by root.
pub(super) fn binaries_at_root(binaries: &[(&crate::spec::Target, llb::Output, String)], target: &llb::Platform) -> Vec<FileAction> {
    binaries
        .iter()
        .map(|(t, out, path)| FileAction::Copy(Copy::new(*out, path, &format!("/{}", golang::binary_file(&t.name.value, target))).mode(0o755).owner(0, 0)))
        .collect()
}

fn base_contents(rt: &crate::spec::Runtime, ca: bool, tz: bool) -> String {
    let mut parts = Vec::new();
    if ca {
        parts.push("CA certificates");
    }
    if tz {
        parts.push("zoneinfo");
    }
    if rt.base.value == Base::Static {
        parts.push("passwd and group");
        parts.push("/tmp");
    }
    parts.join(", ")
}

fn extras(builder: llb::Output, ca: bool, tz: bool) -> Vec<FileAction> {
    let mut actions = Vec::new();
    if ca {
        actions.push(FileAction::Copy(Copy::new(builder, CA_BUNDLE, CA_BUNDLE).mode(0o644).owner(0, 0)));
    }
    if tz {
        actions.push(FileAction::Copy(Copy::new(builder, "/usr/share/zoneinfo", "/usr/share/zoneinfo").contents().owner(0, 0)));
    }
    actions
}

/// The `static` base: what a Go program needs at run time besides itself, taken from the
/// builder image (already pulled, and the same for every target: these files do not depend
/// on the architecture), so no image is pulled and nothing runs on the target platform.
fn static_base(g: &mut Graph, builder: llb::Output, ca: bool, tz: bool, time: LayerTime) -> llb::Output {
    let passwd = format!("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{NONROOT_UID}:{NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n");
    let group = format!("root:x:0:\nnonroot:x:{NONROOT_UID}:\n");
    let mut actions = vec![
        FileAction::Mkdir(Mkdir { path: "/etc".into(), mode: 0o755, parents: true, owner: Some((0, 0)) }),
        FileAction::Mkfile(Mkfile { path: "/etc/passwd".into(), mode: 0o644, data: passwd.into_bytes(), owner: Some((0, 0)) }),
        FileAction::Mkfile(Mkfile { path: "/etc/group".into(), mode: 0o644, data: group.into_bytes(), owner: Some((0, 0)) }),
        FileAction::Mkfile(Mkfile { path: "/etc/nsswitch.conf".into(), mode: 0o644, data: b"hosts: files dns\n".to_vec(), owner: Some((0, 0)) }),
    ];
    actions.extend(extras(builder, ca, tz));
    actions.extend(static_base_dirs(builder).into_iter().map(|(_, a)| a));
    layer(g, None, actions, time)
}

/// The directories of the static base whose owner or mode is not a parent's (root, 0755),
/// with the actions that make them.
fn static_base_dirs(builder: llb::Output) -> Vec<(&'static str, FileAction)> {
    vec![
        // Copying the builder's /tmp (not its contents) carries its mode, 1777: a mkdir
        // cannot set the sticky bit.
        ("/tmp", FileAction::Copy(Copy::new(builder, "/tmp", "/tmp").exclude(&["*"]).owner(0, 0))),
        // Created one at a time: a parent made by `parents` gets the child's mode and owner.
        ("/home", FileAction::Mkdir(Mkdir { path: "/home".into(), mode: 0o755, parents: false, owner: Some((0, 0)) })),
        ("/home/nonroot", FileAction::Mkdir(Mkdir { path: "/home/nonroot".into(), mode: 0o700, parents: false, owner: Some((NONROOT_UID, NONROOT_UID)) })),
    ]
}

/// For a layer staged over the static base: its actions, after the static base's own
/// directories that they write in or make ([`static_base_dirs`]), made as the base has them,
/// so that the copy of the staged layer leaves those directories' owner and mode as they are
/// (a mkdir of a directory that is there already changes nothing).
fn over_static_base(builder: llb::Output, actions: Vec<FileAction>) -> Vec<FileAction> {
    let written = |a: &FileAction| -> String {
        match a {
            FileAction::Mkdir(m) => m.path.clone(),
            FileAction::Mkfile(m) => m.path.clone(),
            FileAction::Copy(c) => c.dest.clone(),
            FileAction::Rm(p) => p.clone(),
        }
    };
    let under = |path: &str, dir: &str| path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
    let mut out: Vec<FileAction> =
        static_base_dirs(builder).into_iter().filter(|(dir, _)| actions.iter().any(|a| under(&written(a), dir))).map(|(_, a)| a).collect();
    out.extend(actions);
    out
}

/// CA certificates and zoneinfo from the builder, on `scratch` (nothing) or a pulled base;
/// `None` when neither is wanted.
fn scratch_extras(g: &mut Graph, builder: llb::Output, on: Option<llb::Output>, ca: bool, tz: bool, time: LayerTime) -> Option<llb::Output> {
    let actions = extras(builder, ca, tz);
    (!actions.is_empty()).then(|| layer(g, on, actions, time))
}

/// How the files of a layer are dated.
#[derive(Clone, Copy, Debug)]
pub(super) enum LayerTime {
    /// By `SOURCE_DATE_EPOCH`, when the build gives one: the layer's files are made on an
    /// empty filesystem, then copied onto the one below in one copy that dates every file
    /// and directory it writes (after what is inside it), so that the layer is the same
    /// bytes on every machine. Made in place, a directory's time would be the moment a file
    /// was last added to it.
    Staged(Option<i64>),
    /// On a pulled base, whose directories may be symlinks (`/lib` on a merged-/usr
    /// Debian) that a copied tree must not replace: the files are dated, their directories
    /// are not.
    InPlace(Option<i64>),
}

/// The layer time of the image's layers: staged, except on a pulled base (a Windows
/// image's is always pulled).
fn layer_time(input: &Input<'_>) -> LayerTime {
    if golang::is_windows(input.target) {
        return LayerTime::InPlace(input.facts.epoch);
    }
    match input.spec.runtime.base.value {
        Base::Image => LayerTime::InPlace(input.facts.epoch),
        Base::Static | Base::Scratch => LayerTime::Staged(input.facts.epoch),
    }
}

/// A layer: `actions` on `on` (`None`: an empty filesystem), dated as `time` says.
pub(super) fn layer(g: &mut Graph, on: Option<llb::Output>, actions: Vec<FileAction>, time: LayerTime) -> llb::Output {
    match time {
        LayerTime::Staged(Some(epoch)) => {
            let staged = g.file(None, actions);
            g.meta(staged.op).name = Some("[runtime] the layer's files, before they are dated".into());
            g.file_at(on, vec![FileAction::Copy(Copy::new(staged, "/", "/").contents())], Some(epoch))
        }
        LayerTime::InPlace(epoch) | LayerTime::Staged(epoch @ None) => g.file_at(on, actions, epoch),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use llb::Platform;

    fn lower(yaml: &[u8]) -> crate::Lowered {
        let spec = crate::load("goapp.yaml", yaml, &BTreeMap::new()).unwrap().spec;
        let source = crate::plan::SpecSource { file: "goapp.yaml".into(), data: yaml.to_vec() };
        let plan = crate::plan::plan(spec, source, &crate::plan::Request::default(), &Default::default()).unwrap();
        let amd64 = Platform::parse("linux/amd64").unwrap();
        crate::lower::lower(&plan, &crate::lower::Resolved::unresolved(&plan), &amd64).unwrap()
    }

    #[test]
    fn a_volume_holding_the_workdir_is_the_programs_too() {
        let lowered = lower(b"name: app\nruntime:\n  workdir: /data/app\n  volumes: [/data, /srv/cache]\n");
        let text = llb::dump::to_text(&lowered.definition).unwrap();
        let mkdirs: Vec<&str> =
            text.lines().filter(|l| l.contains(": mkdir /data") || l.contains(": mkdir /srv")).map(|l| l.split(": mkdir ").nth(1).unwrap()).collect();
        assert_eq!(
            mkdirs,
            [
                "/data mode=755 owner=65532:65532",
                "/data/app mode=755 owner=65532:65532",
                "/srv mode=755 parents owner=0:0",
                "/srv/cache mode=755 owner=65532:65532 -> out0"
            ],
            "{text}"
        );
        // One history entry for the one layer that holds the binaries and the directories.
        let history = &lowered.config.history;
        assert!(history.last().unwrap().created_by.as_deref().unwrap().ends_with("directories /data /data/app /srv/cache owned by 65532:65532"), "{history:?}");
    }
}
