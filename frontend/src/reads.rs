//! What the frontend reads from the client before planning: the spec, the few files of the
//! context that the plan depends on, and whether the spec's `runtime.files` are there.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use llb_gen::context::{ContextFacts, ContextSource, FactFiles};

use crate::errors;
use crate::frontend::Failure;
use crate::gateway::{self, Gateway, Session};

/// The `follow` paths of a local source (the spec's or the context's).
fn follow(paths: &[&str]) -> BTreeMap<String, String> {
    [(llb::attr::LOCAL_FOLLOW.to_string(), serde_json::to_string(paths).unwrap_or_default())].into()
}

/// Solves a local source of the client (with `attrs`: which paths) and returns its result
/// and the digest of its vertex.
async fn solve_local_vertex<G: Gateway>(
    s: &mut Session<G>,
    name: &str,
    mut attrs: BTreeMap<String, String>,
    shared_key: &str,
    title: String,
) -> Result<(String, String)> {
    attrs.insert(llb::attr::LOCAL_SHARED_KEY_HINT.to_string(), shared_key.to_string());
    attrs.insert(llb::attr::LOCAL_DIFFER.to_string(), "none".to_string());
    if !s.id.is_empty() {
        attrs.insert(llb::attr::LOCAL_SESSION.to_string(), s.id.clone());
    }
    let mut g = llb::Graph::new();
    let out = g.local(name, attrs);
    g.meta(out.op).name = Some(title.clone());
    let def = g.marshal(Some(out))?;
    let digest = gateway::head_digest(&def).unwrap_or_default();
    let id = s.gw.solve(def, vec![]).await.context(title)?;
    Ok((id, digest))
}

/// Files of the build context: the local directory's `paths` (with `attrs`, under
/// `shared_key`), or the whole git repository.
async fn context_files<G: Gateway>(s: &mut Session<G>, attrs: BTreeMap<String, String>, shared_key: &str, title: String) -> Result<(String, String)> {
    match s.context.clone() {
        ContextSource::Local => {
            let name = s.opts.context_local_name().to_string();
            solve_local_vertex(s, &name, attrs, shared_key, title).await
        }
        ContextSource::Git(git) => {
            let mut g = llb::Graph::new();
            let out = git.add(&mut g, false);
            g.meta(out.op).name = Some(format!("[internal] load git source {git}"));
            let def = g.marshal(Some(out))?;
            let digest = gateway::head_digest(&def).unwrap_or_default();
            let id = s.gw.solve(def, vec![]).await.with_context(|| format!("fetching {git}"))?;
            Ok((id, digest))
        }
    }
}

/// The spec's bytes, and the digest of the vertex that loaded them.
pub async fn read_spec<G: Gateway>(s: &mut Session<G>, filename: &str) -> Result<(Vec<u8>, String)> {
    let title = format!("[internal] load build definition from {filename}");
    // With a git context the spec is a file of the repository, unless buildx sends it from
    // the client (an absolute `-f` path, or `-f -`), as the `dockerfilekey` directory.
    let from_git = matches!(s.context, ContextSource::Git(_)) && s.opts.get(crate::keys::opt::SPEC_KEY).is_none();
    let (id, digest) = if from_git {
        context_files(s, BTreeMap::new(), "", title).await?
    } else {
        let name = s.opts.spec_local_name().to_string();
        solve_local_vertex(s, &name, follow(&[filename]), "dockerfile", title).await?
    };
    // One byte past the limit: the loader refuses the spec then, without the rest of it.
    match s.gw.read_file_head(&id, filename, llb_gen::load::MAX_SPEC_BYTES + 1).await? {
        Some(data) => Ok((data, digest)),
        None => match &s.context {
            ContextSource::Git(git) if from_git => bail!("{filename} was not found in {git}: -f names a file of the repository"),
            _ => bail!("{filename} was not found: pass the spec with -f"),
        },
    }
}

/// The names in a directory of the build context (one level, without .dockerignore's
/// patterns, so that a name left out can be told from one mistyped).
async fn names_in<G: Gateway>(s: &mut Session<G>, dir: &str) -> Result<Vec<String>> {
    let prefix = if dir == "." { String::new() } else { format!("{dir}/") };
    let mut attrs = BTreeMap::new();
    attrs.insert(llb::attr::LOCAL_INCLUDE.to_string(), serde_json::to_string(&[format!("{prefix}*")]).unwrap_or_default());
    attrs.insert(llb::attr::LOCAL_EXCLUDE.to_string(), serde_json::to_string(&[format!("{prefix}*/*")]).unwrap_or_default());
    let title = "[internal] list a runtime.files directory".to_string();
    let (listing, _) = context_files(s, attrs, "context-files-listing", title).await?;
    Ok(s.gw.read_dir(&listing, dir).await?.into_iter().map(|(name, _)| name).collect())
}

/// Which of `paths` (relative to the context) the context lacks.
pub async fn missing<G: Gateway>(s: &mut Session<G>, paths: &[String]) -> Result<Vec<String>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut attrs = BTreeMap::new();
    attrs.insert(llb::attr::LOCAL_INCLUDE.to_string(), serde_json::to_string(paths).unwrap_or_default());
    let (found, _) = context_files(s, attrs, "context-embeds", "[internal] look for the go:embed paths".to_string()).await?;
    let mut out = Vec::new();
    for p in paths {
        if !s.gw.exists(&found, p).await? {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The module of a build without a spec (`-f go.mod`, `-f go.work`): the module file the
/// client sent, and the Go files of the context's packages (each at most
/// [`llb_gen::infer::MAX_GO_FILE_BYTES`]) with every path, read from the context: only its
/// `.go` files and `vendor/modules.txt` are sent, then listed directory by directory.
pub async fn read_module<G: Gateway>(s: &mut Session<G>, file: &str, text: &[u8]) -> Result<llb_gen::infer::Module> {
    let mut attrs = BTreeMap::new();
    attrs.insert(llb::attr::LOCAL_INCLUDE.to_string(), serde_json::to_string(&["**/*.go", "vendor/modules.txt"]).unwrap_or_default());
    attrs.insert(llb::attr::LOCAL_EXCLUDE.to_string(), serde_json::to_string(&["vendor/**/*.go", "**/testdata", ".git"]).unwrap_or_default());
    let title = "[internal] load the module's Go files".to_string();
    let (files, _) = context_files(s, attrs, "context-go-files", title).await?;
    let base = file.rsplit('/').next().unwrap_or(file);
    let mut module = llb_gen::infer::Module { file: base.to_string(), text: String::from_utf8_lossy(text).into_owned(), ..Default::default() };
    module.vendored = s.gw.exists(&files, "vendor/modules.txt").await?;
    let mut pending = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let dir = if rel.is_empty() { ".".to_string() } else { rel.clone() };
        for (name, is_dir) in s.gw.read_dir(&files, &dir).await? {
            let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            if is_dir {
                if !llb_gen::infer::skipped_dir(&name) {
                    module.paths.insert(path.clone());
                    pending.push(path);
                }
                continue;
            }
            module.paths.insert(path.clone());
            if llb_gen::infer::is_go_source(&name)
                && let Some(data) = s.gw.read_file_head(&files, &path, llb_gen::infer::MAX_GO_FILE_BYTES).await?
            {
                module.go_files.insert(path, String::from_utf8_lossy(&data).into_owned());
            }
        }
    }
    Ok(module)
}

/// Whether `name` matches the pattern of a `files` source's last component: `*` any
/// characters, `?` one, `[...]` one of a set.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // One character of a `[...]` set at p[i..]: whether it takes `c`, and where the set ends.
    let class = |i: usize, c: char| -> Option<(bool, usize)> {
        let end = i + 1 + p[i + 1..].iter().position(|x| *x == ']')?;
        let (negate, set) = match p.get(i + 1) {
            Some('!' | '^') => (true, &p[i + 2..end]),
            _ => (false, &p[i + 1..end]),
        };
        let mut hit = false;
        let mut k = 0;
        while k < set.len() {
            if k + 2 < set.len() && set[k + 1] == '-' {
                hit |= set[k] <= c && c <= set[k + 2];
                k += 3;
            } else {
                hit |= set[k] == c;
                k += 1;
            }
        }
        Some((hit != negate, end + 1))
    };
    // reach[j]: the pattern so far matches the first j characters of the name.
    let mut reach = vec![false; n.len() + 1];
    reach[0] = true;
    let mut i = 0;
    while i < p.len() {
        let mut next = vec![false; n.len() + 1];
        let mut step = i + 1;
        match p[i] {
            '*' => {
                let mut any = false;
                for j in 0..=n.len() {
                    any |= reach[j];
                    next[j] = any;
                }
            }
            '[' if class(i, ' ').is_some() => {
                for j in 0..n.len() {
                    if let Some((hit, end)) = class(i, n[j]) {
                        next[j + 1] = reach[j] && hit;
                        step = end;
                    }
                }
                step = class(i, ' ').map(|(_, end)| end).unwrap_or(step);
            }
            c => {
                for j in 0..n.len() {
                    next[j + 1] = reach[j] && (c == '?' || c == n[j]);
                }
            }
        }
        reach = next;
        i = step;
    }
    reach[n.len()]
}

/// The most of a go.mod, go.work or .dockerignore the frontend reads.
const FACT_FILE_MAX: usize = 1 << 20;

/// Reads the [`ContextFacts`] of the module in `module`; of a local context, only those
/// files are transferred.
pub async fn read_context_facts<G: Gateway>(s: &mut Session<G>, module: &str) -> Result<ContextFacts> {
    let files = FactFiles::of(module);
    let title = "[internal] load .dockerignore, go.mod and vendor/modules.txt".to_string();
    let (id, _) = context_files(s, follow(&files.paths()), "context-.dockerignore", title).await?;
    let mut found = BTreeMap::new();
    // go.sum is read only to see whether it is empty; the others are small, or refused.
    for path in files.paths() {
        let max = if path == files.go_sum { 4096 } else { FACT_FILE_MAX };
        found.insert(path.to_string(), s.gw.read_file_head(&id, path, max).await?);
    }
    Ok(files.facts(&s.context, |p| found.get(p).cloned().flatten()))
}

/// Checks that every `runtime.files` source is in the build context (after `.dockerignore`),
/// so that a missing file or a wrong letter case is reported at its spec line with the name
/// it probably meant, before anything builds.
pub async fn check_files<G: Gateway>(s: &mut Session<G>, plan: &llb_gen::Plan) -> Result<(), Failure> {
    let files = plan.files_to_check();
    if files.is_empty() {
        return Ok(());
    }
    let srcs: Vec<&str> = files.iter().map(|f| f.value.as_str()).collect();
    let mut attrs = follow(&srcs);
    attrs.insert(llb::attr::LOCAL_EXCLUDE.to_string(), serde_json::to_string(&plan.excludes).unwrap_or_default());
    let (id, _) = context_files(s, attrs, "context-files", "[internal] check the files the spec names".into()).await?;
    let mut diags = Vec::new();
    for f in files {
        let wildcard = f.value.contains(['*', '?', '[']);
        if !wildcard && s.gw.exists(&id, &f.value).await? {
            continue;
        }
        // Walk down to the file's directory, each directory as written, or as the context
        // has it in another letter case; then look for the file (or the pattern) there.
        let parts: Vec<&str> = f.value.split('/').collect();
        let (dirs, base) = parts.split_at(parts.len() - 1);
        let base = base[0];
        let mut found: Vec<String> = Vec::new();
        let mut names = names_in(s, ".").await?;
        let mut lost = None;
        for part in dirs {
            let Some(n) = names.iter().find(|n| n.as_str() == *part).or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(part))).cloned() else {
                lost = Some(*part);
                break;
            };
            found.push(n);
            names = names_in(s, &found.join("/")).await?;
        }
        let prefix: String = found.iter().map(|d| format!("{d}/")).collect();
        // The directories are there as written (not only in another letter case).
        let exact = found.iter().zip(dirs).all(|(f, d)| f == d);
        let (message, hint) = match lost {
            Some(part) => (
                format!("`{}` is not in the build context", f.value),
                format!(
                    "there is no directory `{prefix}{part}`: paths are relative to the build context (the directory given to `docker buildx build`) and case-sensitive"
                ),
            ),
            None if wildcard && exact => {
                if names.iter().any(|n| glob(base, n)) {
                    continue;
                }
                (
                    format!("`{}` matches nothing in the build context", f.value),
                    "check the pattern, and .dockerignore, which may leave the files out".to_string(),
                )
            }
            // Listed without .dockerignore's patterns: the name itself means .dockerignore left
            // it out.
            None if exact && names.iter().any(|n| n == base) => (
                format!("`{}` is not in the build context: .dockerignore leaves it out", f.value),
                "remove the pattern that matches it from .dockerignore, or the entry from runtime.files".to_string(),
            ),
            None => {
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let near = refs.iter().find(|n| n.eq_ignore_ascii_case(base)).copied().or_else(|| llb_gen::diag::similar(base, &refs));
                let hint = match near {
                    Some(n) => format!("did you mean `{prefix}{n}`? (paths are case-sensitive)"),
                    None => {
                        "paths are relative to the build context (the directory given to `docker buildx build`) and case-sensitive; check .dockerignore too"
                            .into()
                    }
                };
                (format!("`{}` is not in the build context", f.value), hint)
            }
        };
        diags.push(llb_gen::Diagnostic::error("FileNotInContext", f.span, message).hint(hint));
    }
    if diags.is_empty() {
        return Ok(());
    }
    let d = llb_gen::Diagnostics::new(plan.source.file.clone(), String::from_utf8_lossy(&plan.source.data), diags);
    Err(Failure(errors::spec_status(&d)))
}

/// What the commit of a git context is (its hash, time and tag), read from a checkout of the
/// whole repository (with `.git`, which the build itself never gets) by git on the builder,
/// with no network: for the version templates and the default `SOURCE_DATE_EPOCH`.
pub async fn git_facts<G: Gateway>(
    s: &mut Session<G>,
    git: &llb_gen::context::GitSource,
    builder: &llb_gen::BuilderImage,
    platform: &llb::Platform,
) -> Result<llb_gen::stamp::GitFacts> {
    let whole = llb_gen::context::GitSource { subdir: String::new(), ..git.clone() };
    let mut g = llb::Graph::new();
    let repo = whole.add(&mut g, true);
    g.meta(repo.op).name = Some(format!("[internal] load git source {whole} (with .git)"));
    let reference = match &builder.digest {
        Some(d) => builder.reference.pinned(d),
        None => builder.reference.clone(),
    };
    let image = g.image(&reference.to_string(), platform, BTreeMap::new());
    let exec = g.exec(
        llb::Exec {
            args: vec!["sh".into(), "-c".into(), llb_gen::stamp::GIT_FACTS_SCRIPT.into()],
            env: builder.env.clone(),
            cwd: "/".into(),
            user: String::new(),
            mounts: vec![llb::Mount::output("/", Some(image)), llb::Mount::readonly("/src", repo), llb::Mount::output("/out", None)],
            no_network: true,
            proxy: None,
        },
        platform,
    );
    g.meta(exec.op).name = Some(format!("[internal] read the commit of {whole}"));
    let def = g.marshal(Some(exec.get("/out")))?;
    let id = s.gw.solve(def, vec![]).await.with_context(|| format!("reading the commit of {whole} (git on the builder {reference})"))?;
    let text = s.gw.read_file(&id, "/git").await?.with_context(|| format!("no commit was read from {whole}"))?;
    let mut facts = llb_gen::stamp::GitFacts::parse(&String::from_utf8_lossy(&text)).map_err(|e| anyhow::anyhow!("{whole}: {e}"))?;
    facts.tag_of(&git.reference);
    Ok(facts)
}

#[cfg(test)]
mod tests {
    #[test]
    fn globs() {
        use super::glob;
        assert!(glob("*.html", "index.html") && !glob("*.html", "index.htm"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
        assert!(glob("v[0-9].txt", "v7.txt") && !glob("v[!0-9].txt", "v7.txt") && glob("v[!0-9].txt", "vx.txt"));
        assert!(glob("*", "") && glob("**a", "a"));
        // Linear, however many stars.
        assert!(!glob(&"*a".repeat(100), &"a".repeat(99)));
    }
}
