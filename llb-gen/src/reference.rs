//! Image references as Docker writes them (`golang:1.27`, `ghcr.io/org/img:tag@sha256:…`),
//! normalized to the full form BuildKit expects (`docker.io/library/golang:1.27`), and the
//! registry mirror rewrite used by air-gapped sites and by the tests.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// `docker.io`, `ghcr.io`, `localhost:5000`, …
    pub registry: String,
    /// `library/golang`, `org/img`, …
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`
    pub digest: Option<String>,
}

const DOCKER_HUB: &str = "docker.io";

impl ImageRef {
    /// Parses and normalizes a reference; a reference with neither tag nor digest gets
    /// `latest`.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        Self::parse_text(s).map_err(ReferenceError)
    }

    fn parse_text(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("`{s}` is not an image reference: {why}");
        if s.is_empty() || s.len() > 512 {
            return Err(bad("it is empty or too long"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains white space"));
        }
        if let Some((scheme, rest)) = s.split_once("://") {
            return Err(bad(&format!("an image reference has no `{scheme}://`: write `{rest}`")));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let hex = d.strip_prefix("sha256:").ok_or_else(|| bad("the digest must start with sha256:"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return Err(bad("the digest must be sha256: and 64 lower-case hex digits"));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(rest[last_slash + i + 1..].to_string())),
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !ok {
                return Err(bad("a tag is letters, digits, `_`, `.` and `-`"));
            }
        }
        if let Some((first, _)) = name.split_once('/')
            && let Some((_, port)) = first.split_once(':')
            && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.starts_with('0') || port.parse::<u32>().map_or(true, |p| p > 65535))
        {
            return Err(bad("a registry port is a number from 1 to 65535"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if first.contains('.') || first.contains(':') || first == "localhost" => (first.to_string(), path.to_string()),
            _ => (DOCKER_HUB.to_string(), if name.contains('/') { name.to_string() } else { format!("library/{name}") }),
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        };
        if !repository.split('/').all(component_ok) {
            return Err(bad("a repository name is lower-case letters, digits and separators (`.`, `_`, `-`, `/`)"));
        }
        let tag = if tag.is_none() && digest.is_none() { Some("latest".into()) } else { tag };
        Ok(ImageRef { registry, repository, tag, digest })
    }

    /// The same image served by `mirror` (`host[:port][/prefix]`). Docker Hub images keep
    /// their path (`docker.io/library/golang` → `<mirror>/library/golang`), as registry
    /// mirrors serve them; images of other registries get that registry as a first path
    /// component (`gcr.io/distroless/static` → `<mirror>/gcr.io/distroless/static`).
    ///
    /// An image on the mirror's own registry, or on a registry with a port (a private
    /// registry, which mirrors do not copy, and whose `host:port` cannot be a path
    /// component), is pulled as it is.
    pub fn mirrored(&self, mirror: &str) -> ImageRef {
        let mirror = mirror.trim_end_matches('/');
        let (registry, prefix) = match mirror.split_once('/') {
            Some((r, p)) => (r.to_string(), format!("{p}/")),
            None => (mirror.to_string(), String::new()),
        };
        if self.registry == registry || self.registry.contains(':') {
            return self.clone();
        }
        let repository =
            if self.registry == DOCKER_HUB { format!("{prefix}{}", self.repository) } else { format!("{prefix}{}/{}", self.registry, self.repository) };
        ImageRef { registry, repository, tag: self.tag.clone(), digest: self.digest.clone() }
    }

    /// The reference pinned to `digest`, keeping the tag for readers.
    pub fn pinned(&self, digest: &str) -> ImageRef {
        ImageRef { digest: Some(digest.to_string()), ..self.clone() }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

text_error!(
    /// Why a text is not an image reference.
    ReferenceError
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        for (i, o) in [
            ("golang", "docker.io/library/golang:latest"),
            ("golang:1.27", "docker.io/library/golang:1.27"),
            ("org/img:1", "docker.io/org/img:1"),
            ("localhost:5000/library/golang:1.27", "localhost:5000/library/golang:1.27"),
            ("gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12:nonroot"),
        ] {
            assert_eq!(ImageRef::parse(i).unwrap().to_string(), o);
        }
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(ImageRef::parse(&format!("golang@{d}")).unwrap().to_string(), format!("docker.io/library/golang@{d}"));
    }

    #[test]
    fn rejects() {
        for bad in ["", "Golang:1", "golang:", "golang@sha256:abc", "a b", "golang:1.27/x"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mirrors() {
        let r = ImageRef::parse("golang:1.27").unwrap();
        assert_eq!(r.mirrored("localhost:5000").to_string(), "localhost:5000/library/golang:1.27");
        let r = ImageRef::parse("gcr.io/distroless/static").unwrap();
        assert_eq!(r.mirrored("mirror.example/cache/").to_string(), "mirror.example/cache/gcr.io/distroless/static:latest");
        // Already on the mirror, or on a private registry: as it is.
        for own in ["localhost:5000/e2e/base:1", "registry.corp.example:5000/base:1"] {
            let r = ImageRef::parse(own).unwrap();
            assert_eq!(r.mirrored("localhost:5000"), r, "{own}");
        }
        let r = ImageRef::parse("mirror.example/team/base:1").unwrap();
        assert_eq!(r.mirrored("mirror.example/cache"), r);
    }
}
