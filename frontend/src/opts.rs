//! The options BuildKit hands a gateway frontend: one `BUILDKIT_FRONTEND_OPT_<n>` environment
//! variable per option, each `key=value` (split at the first `=`; values may hold more).
//! Keys are the ones buildx and BuildKit's Dockerfile frontend use, spelled the same.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use llb::Platform;

use crate::keys::{DEFAULT_CONTEXT_LOCAL, DEFAULT_SPEC_LOCAL, arg, opt};
use crate::proto::gw;

#[derive(Clone, Debug, Default)]
pub struct Opts {
    map: BTreeMap<String, String>,
}

impl Opts {
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars())
    }

    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let map = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("BUILDKIT_FRONTEND_OPT_"))
            .filter_map(|(_, v)| v.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        Opts { map }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// The spec's file name (`-f`); buildx sends its base name.
    pub fn filename(&self) -> &str {
        self.get(opt::FILENAME).filter(|f| !f.is_empty()).unwrap_or("goapp.yaml")
    }

    /// The session directory that holds the spec.
    pub fn spec_local_name(&self) -> &str {
        self.get(opt::SPEC_KEY).unwrap_or(DEFAULT_SPEC_LOCAL)
    }

    /// The session directory that holds the build context.
    pub fn context_local_name(&self) -> &str {
        self.get(opt::CONTEXT_KEY).unwrap_or(DEFAULT_CONTEXT_LOCAL)
    }

    /// `--platform`, normalized; empty when not given.
    pub fn platforms(&self) -> Result<Vec<Platform>> {
        let Some(v) = self.get(opt::PLATFORM).filter(|v| !v.is_empty()) else {
            return Ok(Vec::new());
        };
        v.split(',').map(|p| Platform::parse(p).with_context(|| format!("--platform {v}"))).collect()
    }

    /// Whether an index is asked for even for one platform.
    pub fn multi_platform(&self) -> Result<bool> {
        let flag = |what: &str, v: Option<&str>| match v.map(str::to_ascii_lowercase).as_deref() {
            None | Some("" | "false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(other) => bail!("{what}={other}: write true or false"),
        };
        Ok(flag(opt::MULTI_PLATFORM, self.get(opt::MULTI_PLATFORM))? | flag(arg::MULTI_PLATFORM, self.build_arg(arg::MULTI_PLATFORM))?)
    }

    /// Every `--build-arg`, by name.
    pub fn build_args(&self) -> BTreeMap<String, String> {
        self.map.iter().filter_map(|(k, v)| k.strip_prefix(opt::BUILD_ARG_PREFIX).map(|k| (k.to_string(), v.clone()))).collect()
    }

    pub fn build_arg(&self, name: &str) -> Option<&str> {
        self.get(&format!("{}{name}", opt::BUILD_ARG_PREFIX))
    }

    /// `--label` values.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.map.iter().filter_map(|(k, v)| k.strip_prefix(opt::LABEL_PREFIX).map(|k| (k.to_string(), v.clone()))).collect()
    }

    /// `--no-cache` (without a filter: every step).
    pub fn no_cache(&self) -> bool {
        self.get(opt::NO_CACHE) == Some("")
    }

    /// `default`, `pull` (`--pull`) or `local`.
    pub fn image_resolve_mode(&self) -> Result<&str> {
        match self.get(opt::IMAGE_RESOLVE_MODE).filter(|m| !m.is_empty()).unwrap_or("default") {
            m @ ("default" | "pull" | "local") => Ok(m),
            other => bail!("{}={other}: the image resolve mode is default, pull (--pull) or local", opt::IMAGE_RESOLVE_MODE),
        }
    }

    /// `--cache-from` entries, which the frontend must pass on with every solve.
    pub fn cache_imports(&self) -> Result<Vec<gw::CacheOptionsEntry>> {
        #[derive(serde::Deserialize)]
        struct Entry {
            #[serde(rename = "Type")]
            kind: String,
            #[serde(rename = "Attrs", default)]
            attrs: BTreeMap<String, String>,
        }
        let mut out = Vec::new();
        if let Some(json) = self.get(opt::CACHE_IMPORTS).filter(|v| !v.is_empty()) {
            let entries: Vec<Entry> = serde_json::from_str(json).context("the cache-imports option is not valid JSON")?;
            out.extend(entries.into_iter().map(|e| gw::CacheOptionsEntry { r#type: e.kind, attrs: e.attrs }));
        }
        if let Some(list) = self.get(opt::CACHE_FROM).filter(|v| !v.is_empty()) {
            for r in list.split(',') {
                out.push(gw::CacheOptionsEntry { r#type: "registry".into(), attrs: [("ref".to_string(), r.to_string())].into() });
            }
        }
        Ok(out)
    }

    /// A subrequest (`--call`, `--print`) instead of a build.
    pub fn request_id(&self) -> Option<&str> {
        self.get(opt::REQUEST_ID).filter(|r| !r.is_empty())
    }

    /// `--target NAME`: build only that target of the spec.
    pub fn target(&self) -> Option<&str> {
        self.get(opt::TARGET).filter(|t| !t.is_empty())
    }

    /// `--sbom` (`attest:sbom`) without a `generator` of its own: goapp attaches the SBOM it
    /// makes from the binaries' build information. With a generator, BuildKit runs that
    /// scanner on the image instead.
    pub fn sbom(&self) -> bool {
        let Some(v) = self.get(opt::ATTEST_SBOM).or_else(|| self.build_arg(arg::ATTEST_SBOM)) else { return false };
        let attrs: BTreeMap<&str, &str> = v.split(',').filter_map(|kv| kv.split_once('=')).collect();
        !matches!(attrs.get("disabled"), Some(&"true")) && !attrs.contains_key("generator")
    }

    /// Where the build context comes from: the client's directory, or the git repository
    /// buildx passes as `context` when the build's context is a git URL.
    pub fn context_source(&self) -> Result<llb_gen::context::ContextSource> {
        match self.get(opt::CONTEXT).filter(|c| !c.is_empty()) {
            None => Ok(llb_gen::context::ContextSource::Local),
            Some(url) => llb_gen::context::GitSource::parse(url)
                .map(llb_gen::context::ContextSource::Git)
                .map_err(|e| anyhow::anyhow!("the build context {e}; goapp builds from a local directory or a git repository")),
        }
    }

    /// `--build-context NAME=VALUE` entries, by name: `local:<session name>` for a directory,
    /// else the value as given (`docker-image://...`, a git URL, ...).
    pub fn named_contexts(&self) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.map {
            let Some(name) = k.strip_prefix(opt::NAMED_CONTEXT_PREFIX) else { continue };
            if let Some((name, platform)) = name.split_once("::") {
                bail!("--build-context {name}: a named context for one platform ({platform}) is not supported; give one for every platform");
            }
            out.insert(name.to_string(), v.clone());
        }
        Ok(out)
    }

    /// What the build asks for, for the plan: the options it depends on, checked.
    pub fn request(&self, build_platform: Platform, session: &str, context: llb_gen::context::ContextSource) -> Result<llb_gen::Request> {
        let get = |k: &str| self.get(k).filter(|v| !v.is_empty()).map(str::to_string);
        Ok(llb_gen::Request {
            target: self.target().map(str::to_string),
            platforms: self.platforms()?,
            build_platform,
            build_args: self.build_args(),
            named_contexts: self.named_contexts()?,
            labels: self.labels(),
            no_cache: self.no_cache(),
            sbom: self.sbom(),
            context,
            context_name: self.context_local_name().to_string(),
            session_id: session.to_string(),
            vcs_source: get(opt::VCS_SOURCE),
            vcs_revision: get(opt::VCS_REVISION),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[&str]) -> Opts {
        Opts::from_vars(pairs.iter().enumerate().map(|(i, p)| (format!("BUILDKIT_FRONTEND_OPT_{i}"), p.to_string())))
    }

    #[test]
    fn splits_at_the_first_equals_sign() {
        let o = opts(&["build-arg:X=a=b", "filename=app.yaml", "label:org.example=1"]);
        assert_eq!(o.build_arg("X"), Some("a=b"));
        assert_eq!(o.filename(), "app.yaml");
        assert_eq!(o.labels().get("org.example").map(String::as_str), Some("1"));
    }

    #[test]
    fn platforms_are_normalized() {
        let o = opts(&["platform=linux/amd64,linux/aarch64"]);
        let ids: Vec<String> = o.platforms().unwrap().iter().map(|p| p.id()).collect();
        assert_eq!(ids, ["linux/amd64", "linux/arm64"]);
        assert!(opts(&[]).platforms().unwrap().is_empty());
    }

    #[test]
    fn cache_imports_from_json_and_legacy_list() {
        let o = opts(&[r#"cache-imports=[{"Type":"registry","Attrs":{"ref":"localhost:5000/c"}}]"#, "cache-from=a,b"]);
        let c = o.cache_imports().unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].attrs["ref"], "localhost:5000/c");
        assert_eq!(c[2].attrs["ref"], "b");
    }

    #[test]
    fn sbom_unless_disabled_or_another_generator() {
        assert!(opts(&["attest:sbom=type=sbom,disabled=false"]).sbom());
        assert!(opts(&["attest:sbom="]).sbom());
        assert!(!opts(&["attest:sbom=type=sbom,disabled=true"]).sbom());
        assert!(!opts(&["attest:sbom=type=sbom,generator=example.com/scanner"]).sbom());
        assert!(!opts(&[]).sbom());
    }

    #[test]
    fn contexts() {
        use llb_gen::context::ContextSource;
        assert_eq!(opts(&[]).context_source().unwrap(), ContextSource::Local);
        let git = opts(&["context=https://example.com/app.git#v1"]).context_source().unwrap();
        assert!(matches!(git, ContextSource::Git(g) if g.reference == "v1"));
        let e = opts(&["context=https://example.com/app.tar.gz"]).context_source().unwrap_err().to_string();
        assert!(e.contains("not a git repository URL"), "{e}");
        let named =
            opts(&["context:example.com/lib=local:example.com/lib", "context:golang:1.27=docker-image://localhost:5000/go:1.27"]).named_contexts().unwrap();
        assert_eq!(named["example.com/lib"], "local:example.com/lib");
        assert_eq!(named["golang:1.27"], "docker-image://localhost:5000/go:1.27");
        assert!(opts(&["context:lib::linux/amd64=local:lib"]).named_contexts().is_err());
    }

    #[test]
    fn malformed_values_are_errors() {
        assert!(opts(&["multi-platform=yes please"]).multi_platform().unwrap_err().to_string().contains("write true or false"));
        assert!(opts(&["build-arg:BUILDKIT_MULTI_PLATFORM=1"]).multi_platform().unwrap());
        assert!(!opts(&[]).multi_platform().unwrap());
        assert_eq!(opts(&["image-resolve-mode=pull"]).image_resolve_mode().unwrap(), "pull");
        assert!(opts(&["image-resolve-mode=always"]).image_resolve_mode().is_err());
        assert!(opts(&["platform=linux/amd64,"]).platforms().is_err());
        assert!(opts(&["cache-imports=[{"]).cache_imports().is_err());
        assert!(opts(&["context=ftp://example.com/x"]).context_source().is_err());
    }

    #[test]
    fn no_cache_only_without_a_filter() {
        assert!(opts(&["no-cache="]).no_cache());
        assert!(!opts(&["no-cache=builder"]).no_cache());
        assert!(!opts(&[]).no_cache());
    }
}
