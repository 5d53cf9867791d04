//! Version stamping: `{{.Version}}`, `{{.Commit}}`, `{{.ShortCommit}}`, `{{.Tag}}`,
//! `{{.CommitDate}}` and `{{.Date}}` in spec strings (GoReleaser's names), replaced while the
//! spec loads, after build args.
//!
//! The values come from what the build knows of its commit ([`GitFacts`]) without `.git` in
//! the builder: for a local context, the commit buildx reports (`vcs:revision`); for a git
//! context, what the frontend reads from the checkout BuildKit made ([`GIT_FACTS_SCRIPT`]);
//! and, over both, the build args [`COMMIT_ARG`], [`TAG_ARG`] and [`COMMIT_DATE_ARG`]. A
//! template whose value is not known is an error that names the build arg that gives it.

use std::collections::BTreeMap;

/// The templates, with what each one is.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("Version", "the tag without its leading `v` (`1.4.2` for `v1.4.2`)"),
    ("Commit", "the full commit hash"),
    ("ShortCommit", "the commit hash's first 7 characters"),
    ("Tag", "the commit's tag (`v1.4.2`): `GOAPP_GIT_TAG`, or the ref of a git context that names a tag"),
    ("CommitDate", "the commit's time, RFC 3339 in UTC (`2026-11-30T12:00:00Z`)"),
    ("Date", "the build's date: `SOURCE_DATE_EPOCH` (for a git context, the commit's time by default), RFC 3339 in UTC"),
];

/// The build arg that gives `{{.Commit}}` (over what buildx reports).
pub const COMMIT_ARG: &str = "GOAPP_GIT_COMMIT";
/// The build arg that gives `{{.Tag}}` (and so `{{.Version}}`).
pub const TAG_ARG: &str = "GOAPP_GIT_TAG";
/// The build arg that gives `{{.CommitDate}}`, in seconds since 1970.
pub const COMMIT_DATE_ARG: &str = "GOAPP_GIT_COMMIT_DATE";
/// The build arg of the build's date.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// The build args stamping reads, with what each gives.
pub const ARGS: &[(&str, &str)] = &[
    (COMMIT_ARG, "the commit of {{.Commit}} and {{.ShortCommit}}, e.g. $(git rev-parse HEAD)"),
    (TAG_ARG, "the tag of {{.Tag}} and {{.Version}}, e.g. $(git describe --tags --exact-match)"),
    (COMMIT_DATE_ARG, "the commit time of {{.CommitDate}}, in seconds since 1970: $(git log -1 --format=%ct)"),
];

/// What the build knows of the commit it builds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitFacts {
    /// The full hash, lower-case hex.
    pub commit: Option<String>,
    /// The commit's tag ([`GitFacts::tag_of`], or the build arg [`TAG_ARG`]).
    pub tag: Option<String>,
    /// Seconds since 1970.
    pub commit_time: Option<u64>,
    /// The tags a checkout has on its commit ([`GIT_FACTS_SCRIPT`]), which [`GitFacts::tag_of`]
    /// picks the tag from.
    pub tags_on_commit: Vec<String>,
}

/// Reads the commit of a git checkout at `/src` into `/out/git` (the hash, the commit time,
/// then the tags on it, newest version first; one per line), for [`GitFacts::parse`]. Run on
/// the builder, which has git.
pub const GIT_FACTS_SCRIPT: &str = r#"set -eu
cd /src
g() { git -c safe.directory='*' "$@"; }
{
  g rev-parse HEAD
  g log -1 --format=%ct HEAD
  g tag --points-at HEAD --sort=-version:refname
} > /out/git
"#;

impl GitFacts {
    /// The commit's tag, for a checkout of `reference`: the ref itself when it names a tag
    /// (`refs/tags/v1.2.3`, or `v1.2.3` when the checkout has that tag on the commit).
    /// BuildKit's checkout may also carry the ref it fetched as a tag (`main`), so a tag
    /// that is not the ref is not taken.
    pub fn tag_of(&mut self, reference: &str) {
        let version_like = |r: &str| r.strip_prefix('v').is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()));
        self.tag = match reference.strip_prefix("refs/tags/") {
            Some(t) if !t.is_empty() => Some(t.to_string()),
            _ if version_like(reference) && self.tags_on_commit.iter().any(|t| t == reference) => Some(reference.to_string()),
            _ => None,
        };
    }

    /// Reads what [`GIT_FACTS_SCRIPT`] wrote.
    pub fn parse(text: &str) -> Result<GitFacts, String> {
        let mut lines = text.lines().map(str::trim);
        let commit = lines.next().filter(|c| is_commit(c)).ok_or_else(|| format!("the checkout's commit could not be read from {text:?}"))?;
        let time = lines.next().and_then(|t| seconds(t).ok()).ok_or_else(|| format!("the commit time could not be read from {text:?}"))?;
        let tags = lines.filter(|t| !t.is_empty()).map(str::to_string).collect();
        Ok(GitFacts { commit: Some(commit.to_string()), tag: None, commit_time: Some(time), tags_on_commit: tags })
    }
}

/// Whether a spec's text may use a template (a value with `{{`).
pub fn uses_templates(spec: &[u8]) -> bool {
    spec.windows(2).any(|w| w == b"{{")
}

/// A full commit hash: 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_commit(v: &str) -> bool {
    (v.len() == 40 || v.len() == 64) && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The values the templates take in one build.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stamps {
    git: GitFacts,
    /// `SOURCE_DATE_EPOCH`, in seconds.
    epoch: Option<u64>,
    /// The context is a git repository whose commit is read later: templates are checked
    /// but left as written.
    pending: bool,
}

impl Stamps {
    /// The values of a build: `revision` is what buildx reports for a local context
    /// (`vcs:revision`), `git` what was read from a git context; the build args override both.
    /// A build arg that is not a value of its kind is an error.
    pub fn new(build_args: &BTreeMap<String, String>, revision: Option<&str>, git: Option<GitFacts>) -> Result<Stamps, String> {
        let arg = |name: &str| build_args.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut facts = git.unwrap_or_default();
        // buildx adds `-dirty` to a checkout with changes when BUILDX_GIT_CHECK_DIRTY is set.
        if let Some(r) = revision.map(str::trim).filter(|r| !r.is_empty()) {
            let hash = r.strip_suffix("-dirty").unwrap_or(r);
            if is_commit(hash) && facts.commit.is_none() {
                facts.commit = Some(hash.to_ascii_lowercase());
            }
        }
        if let Some(c) = arg(COMMIT_ARG) {
            if !is_commit(c) {
                return Err(format!("{COMMIT_ARG}={c} is not a full commit hash (40 hex digits): pass $(git rev-parse HEAD)"));
            }
            facts.commit = Some(c.to_ascii_lowercase());
        }
        if let Some(t) = arg(TAG_ARG) {
            if t.contains(char::is_whitespace) {
                return Err(format!("{TAG_ARG}={t:?} is not a git tag: a tag has no spaces"));
            }
            facts.tag = Some(t.to_string());
        }
        if let Some(d) = arg(COMMIT_DATE_ARG) {
            facts.commit_time = Some(seconds(d).map_err(|e| format!("{COMMIT_DATE_ARG}={d} {e}: pass $(git log -1 --format=%ct)"))?);
        }
        let epoch = match arg(SOURCE_DATE_EPOCH) {
            Some(v) => Some(seconds(v).map_err(|e| format!("SOURCE_DATE_EPOCH={v} {e}"))?),
            None => None,
        };
        Ok(Stamps { git: facts, epoch, pending: false })
    }

    /// For a git context whose commit is not read yet: each template takes a stand-in of the
    /// same form as its value (a hash of zeros, `v0.0.0`, 1970), so that the spec checks as
    /// it will with the commit's values.
    pub fn pending() -> Stamps {
        Stamps { pending: true, ..Default::default() }
    }

    /// The value of the template `name` (one of [`TEMPLATES`]); `Err` says how to give it.
    pub fn value(&self, name: &str) -> Result<String, String> {
        if self.pending {
            return Ok(match name {
                "Commit" => "0".repeat(40),
                "ShortCommit" => "0".repeat(7),
                "Tag" => "v0.0.0".into(),
                "Version" => "0.0.0".into(),
                _ => rfc3339(0),
            });
        }
        let commit = || {
            self.git.commit.clone().ok_or_else(|| {
                format!(
                    "the commit is not known: buildx reports it when the build context is a git checkout (unless BUILDX_GIT_INFO=0); else pass --build-arg {COMMIT_ARG}=$(git rev-parse HEAD)"
                )
            })
        };
        let tag = || {
            self.git.tag.clone().ok_or_else(|| {
                format!("the commit's tag is not known (buildx does not send tags, or the commit has none): pass --build-arg {TAG_ARG}=$(git describe --tags --exact-match)")
            })
        };
        let commit_date = || {
            self.git.commit_time.map(rfc3339).ok_or_else(|| {
                format!("the commit's time is not known (buildx does not send it for a local context): pass --build-arg {COMMIT_DATE_ARG}=$(git log -1 --format=%ct)")
            })
        };
        match name {
            "Commit" => commit(),
            "ShortCommit" => commit().map(|c| c[..7].to_string()),
            "Tag" => tag(),
            "Version" => tag().map(|t| t.strip_prefix('v').filter(|r| r.starts_with(|c: char| c.is_ascii_digit())).unwrap_or(&t).to_string()),
            "CommitDate" => commit_date(),
            "Date" => match self.epoch {
                Some(e) => Ok(rfc3339(e)),
                None => {
                    Err("the build's date is not fixed: pass --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) (a git context uses its commit's time)"
                        .into())
                }
            },
            _ => Err(format!("`{{{{.{name}}}}}` is not a template goapp knows")),
        }
    }
}

/// Seconds since 1970, before the year 10000.
fn seconds(v: &str) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(s) if s < 253_402_300_800 => Ok(s),
        Ok(_) => Err("is after the year 9999".into()),
        Err(_) => Err("is not a number of seconds since 1970".into()),
    }
}

/// RFC 3339 in UTC, to the second.
pub fn rfc3339(secs: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// What a template in a value is: `{{.Name}}` (spaces allowed inside the braces).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Template(&'a str),
}

/// Splits a value into text and templates; `Err` names what is not a template.
pub(crate) fn pieces(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("`{{{{` without a closing `}}}}` in `{s}`"));
        };
        let inner = after[..end].trim();
        // `{{"{{"}}` is a literal `{{`, as in a Go template.
        if inner == "\"{{\"" {
            out.push(Piece::Text("{{"));
            rest = &after[end + 2..];
            continue;
        }
        let name = inner.strip_prefix('.').filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric()));
        match name {
            Some(n) if TEMPLATES.iter().any(|(t, _)| *t == n) => out.push(Piece::Template(n)),
            _ => {
                let names: Vec<&str> = TEMPLATES.iter().map(|(t, _)| *t).collect();
                let guess = crate::diag::similar(inner.trim_start_matches('.'), &names).map(|g| format!(" (did you mean `{{{{.{g}}}}}`?)")).unwrap_or_default();
                return Err(format!("`{{{{{}}}}}` is not a template goapp knows{guess}", &after[..end]));
            }
        }
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef01234567";

    fn args(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn values_come_from_buildx_then_the_build_args() {
        let s = Stamps::new(&args(&[]), Some(&format!("{HASH}-dirty")), None).unwrap();
        assert_eq!(s.value("Commit").unwrap(), HASH);
        assert_eq!(s.value("ShortCommit").unwrap(), "0123456");
        assert!(s.value("Tag").unwrap_err().contains("--build-arg GOAPP_GIT_TAG="));
        assert!(s.value("CommitDate").unwrap_err().contains("GOAPP_GIT_COMMIT_DATE=$(git log -1 --format=%ct)"));
        assert!(s.value("Date").unwrap_err().contains("SOURCE_DATE_EPOCH"));
        let s = Stamps::new(&args(&[("GOAPP_GIT_TAG", "v1.4.2"), ("GOAPP_GIT_COMMIT_DATE", "1700000000"), ("SOURCE_DATE_EPOCH", "0")]), None, None).unwrap();
        assert_eq!(s.value("Tag").unwrap(), "v1.4.2");
        assert_eq!(s.value("Version").unwrap(), "1.4.2");
        assert_eq!(s.value("CommitDate").unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(s.value("Date").unwrap(), "1970-01-01T00:00:00Z");
        assert!(s.value("Commit").unwrap_err().contains("GOAPP_GIT_COMMIT=$(git rev-parse HEAD)"));
        // A git context's facts, overridden by a build arg.
        let mut git = GitFacts::parse(&format!("{HASH}\n1700000000\nv2.0.0\n")).unwrap();
        git.tag_of("refs/tags/v2.0.0");
        let s = Stamps::new(&args(&[("GOAPP_GIT_TAG", "release-7")]), None, Some(git)).unwrap();
        assert_eq!(s.value("Commit").unwrap(), HASH);
        assert_eq!(s.value("Version").unwrap(), "release-7");
    }

    #[test]
    fn before_a_git_contexts_commit_is_read_templates_take_stand_ins_of_their_form() {
        let p = Stamps::pending();
        assert_eq!(p.value("ShortCommit").unwrap(), "0000000");
        assert_eq!(p.value("Version").unwrap(), "0.0.0");
        assert_eq!(p.value("Date").unwrap(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn build_args_are_checked_for_what_they_mean() {
        assert!(Stamps::new(&args(&[("GOAPP_GIT_COMMIT", "abc")]), None, None).unwrap_err().contains("not a full commit hash"));
        assert!(Stamps::new(&args(&[("GOAPP_GIT_COMMIT_DATE", "2026-01-01")]), None, None).unwrap_err().contains("not a number of seconds"));
        assert!(Stamps::new(&args(&[("GOAPP_GIT_TAG", "v1 2")]), None, None).is_err());
        // What buildx sends that is not a commit is not used.
        let s = Stamps::new(&args(&[]), Some("main"), None).unwrap();
        assert!(s.value("Commit").is_err());
    }

    #[test]
    fn git_facts_are_read_from_the_checkout_script_output() {
        let f = GitFacts::parse(&format!("{HASH}\n1700000000\n\n")).unwrap();
        assert_eq!(f.tag, None);
        assert_eq!(f.commit_time, Some(1_700_000_000));
        assert!(GitFacts::parse("fatal: not a git repository\n").is_err());
        // A time no clock reaches is refused, not formatted.
        assert!(GitFacts::parse(&format!("{HASH}\n99999999999999999\n")).is_err());
        // The tag is the ref's, when the ref names one: a branch the checkout carries as a
        // tag is not a tag of the commit.
        let mut f = GitFacts::parse(&format!("{HASH}\n1700000000\nv1.2.3\nmain\n")).unwrap();
        f.tag_of("main");
        assert_eq!(f.tag, None);
        f.tag_of("v1.2.3");
        assert_eq!(f.tag.as_deref(), Some("v1.2.3"));
        f.tag_of("refs/tags/v1.3.0");
        assert_eq!(f.tag.as_deref(), Some("v1.3.0"));
        f.tag_of("v9.9.9");
        assert_eq!(f.tag, None);
    }

    #[test]
    fn templates_are_split_and_checked() {
        assert_eq!(
            pieces("v{{.Version}}-{{ .ShortCommit }}").unwrap(),
            [Piece::Text("v"), Piece::Template("Version"), Piece::Text("-"), Piece::Template("ShortCommit")]
        );
        assert!(pieces("{{.Comit}}").unwrap_err().contains("did you mean `{{.Commit}}`?"));
        assert!(pieces("{{.Commit").unwrap_err().contains("without a closing"));
        assert!(pieces("{{Commit}}").is_err());
        // A literal `{{`, for a command that has templates of its own.
        assert_eq!(pieces(r#"go list -f '{{"{{"}}.Dir}}' ./..."#).unwrap(), [Piece::Text("go list -f '"), Piece::Text("{{"), Piece::Text(".Dir}}' ./...")]);
    }
}
