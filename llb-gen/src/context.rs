//! Sources of the build besides the local build context: a git repository given as the build
//! context (`docker buildx build https://host/repo.git#ref -f goapp.yaml`), and named contexts
//! (`--build-context NAME=...`) that stand in for a Go module the build requires.
//!
//! A module is replaced the way a developer would do it by hand: the build's go.mod (or
//! go.work) gets a `replace NAME => DIR` directive, and the named context is mounted at DIR
//! for the `go` commands.

use std::collections::BTreeMap;

use llb::{Graph, Output};

/// A git repository at a ref, as buildx and BuildKit write it: `https://host/path.git`,
/// `http://host/path.git` or `git://host/path`, with an optional `#ref` and `#ref:subdir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitSource {
    /// The URL git fetches, without the fragment.
    pub remote: String,
    /// A branch, tag or commit; empty for the default branch.
    pub reference: String,
    /// A directory of the repository to use instead of its root.
    pub subdir: String,
}

impl GitSource {
    /// Parses a git URL. HTTP(S) URLs must end in `.git`, as buildx requires to tell them
    /// from other URLs.
    pub fn parse(s: &str) -> Result<GitSource, GitUrlError> {
        Self::parse_text(s).map_err(GitUrlError)
    }

    fn parse_text(s: &str) -> Result<GitSource, String> {
        let (base, fragment) = s.split_once('#').unwrap_or((s, ""));
        let url = url::Url::parse(base).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
        match url.scheme() {
            "https" | "http" if !url.path().ends_with(".git") => {
                return Err(format!("`{s}` is not a git repository URL: an HTTP(S) git URL ends in `.git` (e.g. https://github.com/org/repo.git#main)"));
            }
            "https" | "http" | "git" => {}
            "ssh" => return Err(format!("`{s}`: git over SSH is not supported yet; use an https:// URL with a token (--secret id=GIT_AUTH_TOKEN)")),
            other => return Err(format!("`{s}`: `{other}://` is not a git URL scheme goapp takes (https, http, git)")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{s}` has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{s}` carries credentials, which would be recorded in the build: pass a token with --secret id=GIT_AUTH_TOKEN instead"));
        }
        let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
        let subdir = subdir.trim_matches('/');
        if subdir.split('/').any(|c| c == "..") {
            return Err(format!("`{s}`: the sub-directory `{subdir}` leaves the repository"));
        }
        Ok(GitSource { remote: base.to_string(), reference: reference.to_string(), subdir: subdir.to_string() })
    }

    /// The source identifier BuildKit keys the repository by: `git://host/path#ref[:subdir]`,
    /// without the scheme (which `git.fullurl` carries).
    pub fn identifier(&self) -> String {
        let url = url::Url::parse(&self.remote).expect("parsed before");
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let mut id = format!("git://{host}{}", url.path());
        if !self.reference.is_empty() || !self.subdir.is_empty() {
            id.push('#');
            id.push_str(&self.reference);
            if !self.subdir.is_empty() {
                id.push(':');
                id.push_str(&self.subdir);
            }
        }
        id
    }

    /// The repository as a source of `g`. Git asks for credentials through the secrets
    /// `GIT_AUTH_TOKEN` and `GIT_AUTH_HEADER` (or `GIT_AUTH_TOKEN.<host>`), BuildKit's names,
    /// when the build passes them with `--secret`. `keep_git_dir` keeps `.git` (for VCS
    /// stamping).
    pub fn add(&self, g: &mut Graph, keep_git_dir: bool) -> Output {
        let mut attrs = BTreeMap::new();
        attrs.insert(llb::attr::GIT_FULL_URL.to_string(), self.remote.clone());
        attrs.insert(llb::attr::GIT_AUTH_TOKEN_SECRET.to_string(), "GIT_AUTH_TOKEN".to_string());
        attrs.insert(llb::attr::GIT_AUTH_HEADER_SECRET.to_string(), "GIT_AUTH_HEADER".to_string());
        if keep_git_dir {
            attrs.insert(llb::attr::GIT_KEEP_DIR.to_string(), "true".to_string());
        }
        g.source(&self.identifier(), attrs, None)
    }
}

impl std::fmt::Display for GitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.remote)?;
        if !self.reference.is_empty() || !self.subdir.is_empty() {
            write!(f, "#{}", self.reference)?;
            if !self.subdir.is_empty() {
                write!(f, ":{}", self.subdir)?;
            }
        }
        Ok(())
    }
}

/// Where the build context comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ContextSource {
    /// The client's directory, through the session.
    #[default]
    Local,
    /// A git repository (`.dockerignore` does not apply, as with Dockerfiles).
    Git(GitSource),
}

/// What the build needs to know of the context before planning, read from a few files of
/// it ([`FactFiles`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContextFacts {
    /// `.dockerignore` patterns (read as the Dockerfile frontend reads them; none for a git
    /// context, as with Dockerfiles).
    pub excludes: Vec<String>,
    /// Whether the module needs no download: it is vendored, or has no go.sum and no go.work
    /// (it requires no module).
    pub no_download: bool,
    /// Whether it has `vendor/modules.txt`.
    pub vendored: bool,
    /// The module's go.mod and go.work (path in the context, text), when present.
    pub go_mod: Option<(String, String)>,
    pub go_work: Option<(String, String)>,
}

/// The files of the context that [`ContextFacts`] come from, for a module in `module`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactFiles {
    pub dockerignore: String,
    pub modules_txt: String,
    pub go_sum: String,
    pub go_work: String,
    pub go_mod: String,
}

impl FactFiles {
    pub fn of(module: &str) -> FactFiles {
        let in_module = |f: &str| if module == "." { f.to_string() } else { format!("{module}/{f}") };
        FactFiles {
            dockerignore: ".dockerignore".into(),
            modules_txt: in_module("vendor/modules.txt"),
            go_sum: in_module("go.sum"),
            go_work: in_module("go.work"),
            go_mod: in_module("go.mod"),
        }
    }

    /// Every path, for a transfer of these files only.
    pub fn paths(&self) -> [&str; 5] {
        [&self.dockerignore, &self.modules_txt, &self.go_sum, &self.go_work, &self.go_mod]
    }

    /// The facts, from what `read` returns for each path (`None`: no such file). A git
    /// context's `.dockerignore` is not read.
    pub fn facts(&self, context: &ContextSource, read: impl Fn(&str) -> Option<Vec<u8>>) -> ContextFacts {
        let text = |b: Option<Vec<u8>>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
        let excludes = match context {
            ContextSource::Local => read(&self.dockerignore).map(|d| dockerignore_patterns(&String::from_utf8_lossy(&d))).unwrap_or_default(),
            ContextSource::Git(_) => Vec::new(),
        };
        let vendored = read(&self.modules_txt).is_some();
        let go_work = text(read(&self.go_work));
        let requires_nothing = read(&self.go_sum).is_none_or(|s| s.iter().all(u8::is_ascii_whitespace)) && go_work.is_none();
        ContextFacts {
            excludes,
            no_download: vendored || requires_nothing,
            vendored,
            go_mod: text(read(&self.go_mod)).map(|t| (self.go_mod.clone(), t)),
            go_work: go_work.map(|t| (self.go_work.clone(), t)),
        }
    }
}

impl ContextFacts {
    /// The Go lines of the workspace's go.work, else of the module's go.mod; a line Go
    /// would refuse is an error at its line and column.
    pub fn go_module(&self) -> Result<Option<crate::toolchain::ModFile>, crate::Diagnostics> {
        let Some((path, text)) = self.go_work.as_ref().or(self.go_mod.as_ref()) else { return Ok(None) };
        crate::toolchain::ModFile::parse(path, text).map(Some)
    }
}

/// Parses `.dockerignore`: comments and blank lines dropped, each pattern trimmed, cleaned and
/// made relative to the context root; a leading `!` (re-include) is kept.
pub fn dockerignore_patterns(text: &str) -> Vec<String> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (neg, pat) = match l.strip_prefix('!') {
                Some(p) => ("!", p.trim()),
                None => ("", l),
            };
            let parts: Vec<&str> = pat.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
            (!parts.is_empty()).then(|| format!("{neg}{}", parts.join("/")))
        })
        .collect()
}

/// What a named context holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamedSource {
    /// A directory of the client, by its session name.
    Local(String),
    Git(GitSource),
    /// An input of the frontend, by its name: the result of another build the client made
    /// first, such as a bake target named in `contexts = { NAME = "target:web" }`.
    Input(String),
}

/// A Go module the build requires, replaced by a named context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    pub module: String,
    pub source: NamedSource,
}

/// Where the `i`th replacement is mounted for the `go` commands.
pub fn replacement_dir(i: usize) -> String {
    format!("/goapp/replace/{i}")
}

/// Whether go.mod (or go.work) `text` names `module` in a `require` directive.
pub fn requires(text: &str, module: &str) -> bool {
    directive_paths(text, "require").any(|m| m == module)
}

/// The module paths that the `kind` directives (`require`, `replace`) of a go.mod or go.work
/// name first, in both the one-line and the block form.
fn directive_paths<'a>(text: &'a str, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut in_block = false;
    text.lines().filter_map(move |line| {
        let line = line.split("//").next().unwrap_or("").trim();
        if in_block {
            if line == ")" {
                in_block = false;
                return None;
            }
            return line.split_whitespace().next().map(|m| m.trim_matches('"'));
        }
        let rest = line.strip_prefix(kind).filter(|r| r.starts_with([' ', '\t', '(']))?.trim_start();
        if rest == "(" {
            in_block = true;
            return None;
        }
        rest.split_whitespace().next().map(|m| m.trim_matches('"'))
    })
}

/// `text` (a go.mod or go.work) with a `replace` directive for each replacement, pointing
/// at its [`replacement_dir`]. A module the file already replaces is an error: two
/// replacements of one module are an error to Go too.
pub fn with_replacements(text: &str, file: &str, replacements: &[Replacement]) -> Result<String, ReplaceError> {
    replaced(text, file, replacements).map_err(ReplaceError)
}

fn replaced(text: &str, file: &str, replacements: &[Replacement]) -> Result<String, String> {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("\n// Added by goapp for --build-context.\n");
    for (i, r) in replacements.iter().enumerate() {
        if directive_paths(text, "replace").any(|m| m == r.module) {
            return Err(format!("{file} already replaces {}: remove that replace directive, or the --build-context of the module", r.module));
        }
        out.push_str(&format!("replace {} => {}\n", r.module, replacement_dir(i)));
    }
    Ok(out)
}

text_error!(
    /// Why a text is not a git repository URL goapp takes.
    GitUrlError
);

text_error!(
    /// Why a go.mod or go.work cannot take the `replace` directives of named contexts.
    ReplaceError
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore() {
        let p = dockerignore_patterns("\u{feff}# comment\n\n/target\n./a/b/\n!keep.txt\n*.md\n");
        assert_eq!(p, ["target", "a/b", "!keep.txt", "*.md"]);
    }

    #[test]
    fn facts_of_a_module_in_a_directory() {
        let files = FactFiles::of("svc");
        assert_eq!(files.paths(), [".dockerignore", "svc/vendor/modules.txt", "svc/go.sum", "svc/go.work", "svc/go.mod"]);
        let read = |p: &str| match p {
            ".dockerignore" => Some(b"*.md\n".to_vec()),
            "svc/go.mod" => Some(b"module m\n\ngo 1.27\n".to_vec()),
            "svc/go.sum" => Some(b"\n".to_vec()),
            _ => None,
        };
        let facts = files.facts(&ContextSource::Local, read);
        assert_eq!(facts.excludes, ["*.md"]);
        // An empty go.sum and no go.work: the module requires nothing.
        assert!(facts.no_download && !facts.vendored);
        assert_eq!(facts.go_module().unwrap().unwrap().go.unwrap().version.to_string(), "1.27");
        // A git context's .dockerignore does not apply, as with Dockerfiles.
        let git = ContextSource::Git(GitSource::parse("https://example.com/r.git").unwrap());
        assert!(files.facts(&git, read).excludes.is_empty());
    }

    #[test]
    fn git_urls_as_buildx_writes_them() {
        let g = GitSource::parse("https://github.com/org/repo.git#v1.2.0:services/api").unwrap();
        assert_eq!(g.remote, "https://github.com/org/repo.git");
        assert_eq!((g.reference.as_str(), g.subdir.as_str()), ("v1.2.0", "services/api"));
        assert_eq!(g.identifier(), "git://github.com/org/repo.git#v1.2.0:services/api");
        assert_eq!(g.to_string(), "https://github.com/org/repo.git#v1.2.0:services/api");
        let g = GitSource::parse("http://172.17.0.1:8080/private/hello.git").unwrap();
        assert_eq!(g.identifier(), "git://172.17.0.1:8080/private/hello.git");
        assert_eq!(GitSource::parse("git://example.com/repo#main").unwrap().identifier(), "git://example.com/repo#main");
        for bad in [
            "https://example.com/archive.tar.gz",
            "ssh://git@example.com/repo.git",
            "ftp://x/y.git",
            "https://u:p@example.com/r.git",
            "https://example.com/r.git#main:../x",
            "repo.git",
        ] {
            assert!(GitSource::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replace_directives_are_appended() {
        let go_mod = "module example.com/app\n\ngo 1.22\n\nrequire (\n\texample.com/lib v1.0.0 // indirect\n\tgolang.org/x/text v0.14.0\n)\n\nrequire example.com/single v0.1.0\n";
        assert!(requires(go_mod, "example.com/lib"));
        assert!(requires(go_mod, "example.com/single"));
        assert!(!requires(go_mod, "example.com/app"));
        let r = |m: &str| Replacement { module: m.into(), source: NamedSource::Local(m.into()) };
        let out = with_replacements(go_mod, "go.mod", &[r("example.com/lib"), r("example.com/single")]).unwrap();
        assert!(out.starts_with(go_mod));
        assert!(out.ends_with("replace example.com/lib => /goapp/replace/0\nreplace example.com/single => /goapp/replace/1\n"), "{out}");
        let replaced = format!("{go_mod}\nreplace (\n\texample.com/lib => ../lib\n)\n");
        let e = with_replacements(&replaced, "go.mod", &[r("example.com/lib")]).unwrap_err();
        assert!(e.0.contains("go.mod already replaces example.com/lib"), "{e}");
    }
}
