//! Platforms as BuildKit and the OCI image spec name them (`os/arch[/variant]`), normalized the
//! way containerd normalizes them, because the ids of a multi-platform result must match
//! byte for byte what BuildKit computes.

use std::fmt;

/// A normalized target or build platform.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("`{0}` is not a platform: write it as os/arch or os/arch/variant, e.g. linux/arm64")]
    Shape(String),
    #[error("`{platform}` contradicts itself: that architecture is {implied}; write {implied}, or linux/arm/v7 for 32-bit ARM with a floating-point unit")]
    Contradiction { platform: String, implied: String },
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        normalize(os, architecture, variant.unwrap_or(""))
    }

    /// Parses `os/arch[/variant]` and normalizes it (`linux/aarch64` is `linux/arm64`,
    /// `linux/arm` is `linux/arm/v7`, `linux/x86_64` is `linux/amd64`).
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(PlatformError::Shape(s.to_string()));
        }
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, ""),
            [os, arch, variant] => (*os, *arch, *variant),
            _ => return Err(PlatformError::Shape(s.to_string())),
        };
        // Debian's names of the two ARM ABIs name their variant: another one is a contradiction,
        // not something to choose between.
        let implied = match arch.to_ascii_lowercase().as_str() {
            "armel" => Some("v6"),
            "armhf" => Some("v7"),
            _ => None,
        };
        if let Some(v) = implied
            && !variant.is_empty()
            && variant.to_ascii_lowercase().trim_start_matches('v') != &v[1..]
        {
            return Err(PlatformError::Contradiction { platform: s.to_string(), implied: format!("linux/arm/{v}") });
        }
        Ok(normalize(os, arch, variant))
    }

    /// The platform id BuildKit uses for result keys: `os/arch[/variant]`.
    pub fn id(&self) -> String {
        self.to_string()
    }

    pub fn to_pb(&self) -> crate::pb::Platform {
        crate::pb::Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone().unwrap_or_default(),
            ..Default::default()
        }
    }

    pub fn from_pb(p: &crate::pb::Platform) -> Self {
        normalize(&p.os, &p.architecture, &p.variant)
    }

    /// The platform as an OCI platform JSON object (`{"architecture":…,"os":…}`).
    pub fn to_oci_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("architecture".into(), self.architecture.clone().into());
        m.insert("os".into(), self.os.clone().into());
        if let Some(v) = &self.variant {
            m.insert("variant".into(), v.clone().into());
        }
        serde_json::Value::Object(m)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn normalize(os: &str, arch: &str, variant: &str) -> Platform {
    let mut os = os.to_ascii_lowercase();
    if os == "macos" {
        os = "darwin".into();
    }
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    let (arch, variant) = match (arch.as_str(), variant.as_str()) {
        ("i386", _) => ("386".to_string(), String::new()),
        ("x86_64" | "x86-64" | "amd64", "v1") => ("amd64".into(), String::new()),
        ("x86_64" | "x86-64", v) => ("amd64".into(), v.to_string()),
        ("aarch64" | "arm64", "8" | "v8" | "v8.0") => ("arm64".into(), String::new()),
        ("aarch64", v) => ("arm64".into(), v.to_string()),
        ("armhf", _) => ("arm".into(), "v7".into()),
        ("armel", _) => ("arm".into(), "v6".into()),
        ("arm", "" | "7" | "v7") => ("arm".into(), "v7".into()),
        ("arm", "5" | "6" | "8") => ("arm".into(), format!("v{variant}")),
        (a, v) => (a.to_string(), v.to_string()),
    };
    Platform { os, architecture: arch, variant: (!variant.is_empty()).then_some(variant) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_debian_arm_name_with_another_variant_is_refused() {
        assert_eq!(Platform::parse("linux/armel").unwrap().id(), "linux/arm/v6");
        assert_eq!(Platform::parse("linux/armel/v6").unwrap().id(), "linux/arm/v6");
        assert_eq!(Platform::parse("linux/armhf/7").unwrap().id(), "linux/arm/v7");
        let e = Platform::parse("linux/armel/v7").unwrap_err().to_string();
        assert!(e.contains("that architecture is linux/arm/v6"), "{e}");
    }

    #[test]
    fn normalizes_like_containerd() {
        for (input, id) in [
            ("linux/amd64", "linux/amd64"),
            ("linux/x86_64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3"),
            ("linux/aarch64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/6", "linux/arm/v6"),
            ("linux/armhf", "linux/arm/v7"),
            ("Linux/ARM64", "linux/arm64"),
            ("linux/i386", "linux/386"),
        ] {
            assert_eq!(Platform::parse(input).unwrap().id(), id, "{input}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["linux", "linux/", "/amd64", "linux/arm/v7/x", ""] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }
}
