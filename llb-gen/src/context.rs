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
    pub fn parse(s: &str) -> Result<GitSource, String> {
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

/// What a named context holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamedSource {
    /// A directory of the client, by its session name.
    Local(String),
    Git(GitSource),
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
pub fn with_replacements(text: &str, file: &str, replacements: &[Replacement]) -> Result<String, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(e.contains("go.mod already replaces example.com/lib"), "{e}");
    }
}
