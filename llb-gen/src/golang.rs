//! Which platforms Go can compile for, and the environment that selects each one.

use llb::Platform;

/// Build args passed to every `go` command as environment variables, so that
/// `--build-arg GOPROXY=https://proxy.example` works as it does with a Dockerfile that declares
/// `ARG GOPROXY`: where modules come from and which of them are private.
pub const MODULE_FETCH_ARGS: &[&str] = &["GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOINSECURE", "GOVCS"];

/// The [`MODULE_FETCH_ARGS`] among `build_args`.
pub fn module_fetch_env(build_args: &std::collections::BTreeMap<String, String>) -> std::collections::BTreeMap<String, String> {
    build_args.iter().filter(|(k, _)| MODULE_FETCH_ARGS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The `go build` environment for one target platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoTarget {
    pub goos: &'static str,
    pub goarch: &'static str,
    /// GOARM, GOAMD64 and the like, from the platform's variant.
    pub extra: Vec<(&'static str, String)>,
}

impl GoTarget {
    pub fn env(&self) -> Vec<String> {
        let mut env = vec![format!("GOOS={}", self.goos), format!("GOARCH={}", self.goarch)];
        env.extend(self.extra.iter().map(|(k, v)| format!("{k}={v}")));
        env
    }
}

/// Linux architectures Go targets (`go tool dist list`), by OCI architecture name.
const LINUX_ARCHES: &[(&str, &str)] = &[
    ("386", "386"),
    ("amd64", "amd64"),
    ("arm", "arm"),
    ("arm64", "arm64"),
    ("loong64", "loong64"),
    ("mips", "mips"),
    ("mips64", "mips64"),
    ("mips64le", "mips64le"),
    ("mipsle", "mipsle"),
    ("ppc64", "ppc64"),
    ("ppc64le", "ppc64le"),
    ("riscv64", "riscv64"),
    ("s390x", "s390x"),
];

/// The platforms the error messages suggest.
pub const COMMON_PLATFORMS: &str = "linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6, linux/386, linux/ppc64le, linux/s390x, linux/riscv64";

/// The Go target for `p`, or why Go cannot build a Linux image for it.
pub fn target(p: &Platform) -> Result<GoTarget, String> {
    if p.os != "linux" {
        return Err(format!("goapp builds Linux images; `{p}` is not a Linux platform"));
    }
    let Some((_, goarch)) = LINUX_ARCHES.iter().find(|(oci, _)| *oci == p.architecture) else {
        return Err(format!("Go cannot compile for the architecture `{}`", p.architecture));
    };
    let variant = p.variant.as_deref();
    let extra = match (p.architecture.as_str(), variant) {
        (_, None) => vec![],
        ("arm", Some(v @ ("v5" | "v6" | "v7"))) => vec![("GOARM", v[1..].to_string())],
        ("amd64", Some(v @ ("v2" | "v3" | "v4"))) => vec![("GOAMD64", v.to_string())],
        (arch, Some(v)) => return Err(format!("Go has no `{v}` variant of {arch}")),
    };
    Ok(GoTarget { goos: "linux", goarch, extra })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<GoTarget, String> {
        target(&Platform::parse(s).unwrap())
    }

    #[test]
    fn maps_variants() {
        assert_eq!(t("linux/arm/v7").unwrap().env(), ["GOOS=linux", "GOARCH=arm", "GOARM=7"]);
        assert_eq!(t("linux/arm/v6").unwrap().env(), ["GOOS=linux", "GOARCH=arm", "GOARM=6"]);
        assert_eq!(t("linux/amd64/v3").unwrap().env(), ["GOOS=linux", "GOARCH=amd64", "GOAMD64=v3"]);
        assert_eq!(t("linux/arm64").unwrap().env(), ["GOOS=linux", "GOARCH=arm64"]);
    }

    #[test]
    fn rejects_what_go_cannot_build() {
        assert!(t("linux/sparc").is_err());
        assert!(t("windows/amd64").is_err());
        assert!(t("linux/arm64/v9").is_err());
    }
}
