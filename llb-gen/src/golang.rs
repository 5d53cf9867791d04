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

/// The proxy build args BuildKit's Dockerfile frontend predefines, in either case, with the
/// [`llb::pb::ProxyEnv`] field each one sets. Like a Dockerfile, goapp passes them to every
/// step that reaches the network (module downloads, git fetches, apt), where BuildKit sets
/// them in upper and lower case, and keeps them out of the cache key, the image config and
/// its history.
pub const PROXY_ARGS: &[&str] = &["HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"];

/// The proxy settings among `build_args` ([`PROXY_ARGS`], in any case, as the Dockerfile
/// frontend reads them); `None` without any. An empty value sets nothing; where several
/// cases are given, the upper-case one wins, then the lower-case one.
pub fn proxy_env(build_args: &std::collections::BTreeMap<String, String>) -> Option<llb::pb::ProxyEnv> {
    let get = |name: &str| {
        let set = |k: &str| build_args.get(k).filter(|v| !v.is_empty());
        set(name)
            .or_else(|| set(&name.to_ascii_lowercase()))
            .or_else(|| build_args.iter().find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty()).map(|(_, v)| v))
            .cloned()
            .unwrap_or_default()
    };
    let p = llb::pb::ProxyEnv {
        http_proxy: get("HTTP_PROXY"),
        https_proxy: get("HTTPS_PROXY"),
        ftp_proxy: get("FTP_PROXY"),
        no_proxy: get("NO_PROXY"),
        all_proxy: get("ALL_PROXY"),
    };
    (p != llb::pb::ProxyEnv::default()).then_some(p)
}

/// Whether a build arg is a proxy setting ([`PROXY_ARGS`], in any case).
pub fn is_proxy_arg(name: &str) -> bool {
    PROXY_ARGS.iter().any(|p| p.eq_ignore_ascii_case(name))
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

/// Windows architectures Go targets, by OCI architecture name.
const WINDOWS_ARCHES: &[(&str, &str)] = &[("386", "386"), ("amd64", "amd64"), ("arm64", "arm64")];

/// The platforms the error messages suggest.
pub const COMMON_PLATFORMS: &str =
    "linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6, linux/386, linux/ppc64le, linux/s390x, linux/riscv64, windows/amd64, windows/arm64";

/// The Go target for `p`, or why Go cannot build for it.
pub fn target(p: &Platform) -> Result<GoTarget, UnsupportedPlatform> {
    go_target(p).map_err(UnsupportedPlatform)
}

/// Whether `p` is a Windows platform, whose binaries are `NAME.exe`.
pub fn is_windows(p: &Platform) -> bool {
    p.os == "windows"
}

/// The file name of the binary `name` on `p`: `name`, or `name.exe` on Windows.
pub fn binary_file(name: &str, p: &Platform) -> String {
    if is_windows(p) { format!("{name}.exe") } else { name.to_string() }
}

fn go_target(p: &Platform) -> Result<GoTarget, String> {
    let (goos, arches) = match p.os.as_str() {
        "linux" => ("linux", LINUX_ARCHES),
        "windows" => ("windows", WINDOWS_ARCHES),
        _ => return Err(format!("goapp builds for Linux and Windows; `{p}` is neither")),
    };
    let Some((_, goarch)) = arches.iter().find(|(oci, _)| *oci == p.architecture) else {
        return Err(format!("Go cannot compile for the architecture `{}` on {goos}", p.architecture));
    };
    let variant = p.variant.as_deref();
    let extra = match (p.architecture.as_str(), variant) {
        (_, None) => vec![],
        ("arm", Some(v @ ("v5" | "v6" | "v7"))) => vec![("GOARM", v[1..].to_string())],
        ("amd64", Some(v @ ("v2" | "v3" | "v4"))) => vec![("GOAMD64", v.to_string())],
        (arch, Some(v)) => return Err(format!("Go has no `{v}` variant of {arch}")),
    };
    Ok(GoTarget { goos, goarch, extra })
}

/// A target platform's C toolchain, as Debian names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CTarget {
    /// Debian's architecture name (`dpkg --print-architecture`).
    pub debian_arch: &'static str,
    /// The GNU triplet: the prefix of the cross compiler and the multiarch directory name.
    pub triplet: &'static str,
    /// The machine the binaries' check reports: `readelf -h`'s for Linux, the file format
    /// `objdump -f` names for Windows.
    pub machine: &'static str,
    /// A Windows target, compiled by MinGW-w64 (always cross, always linked statically).
    pub windows: bool,
}

impl CTarget {
    /// The cross compilers' package suffix: the triplet with `_` as `-`.
    fn package_triplet(&self) -> String {
        self.triplet.replace('_', "-")
    }

    /// The packages of the cross C and C++ compilers for this target and its C library. For
    /// Windows, MinGW-w64's compilers with POSIX threads (C++ threads work) and the Windows
    /// headers and import libraries they depend on.
    pub fn cross_packages(&self) -> Vec<String> {
        if self.windows {
            let arch = if self.debian_arch == "i386" { "i686" } else { "x86-64" };
            return vec![format!("gcc-mingw-w64-{arch}-posix"), format!("g++-mingw-w64-{arch}-posix")];
        }
        let t = self.package_triplet();
        vec![format!("gcc-{t}"), format!("g++-{t}"), format!("libc6-dev-{}-cross", self.debian_arch)]
    }

    /// The cross C compiler and C++ compiler.
    pub fn cross_compilers(&self) -> (String, String) {
        let suffix = if self.windows { "-posix" } else { "" };
        (format!("{}-gcc{suffix}", self.triplet), format!("{}-g++{suffix}", self.triplet))
    }

    /// Where the cross toolchain's pkg-config files are.
    pub fn pkg_config_libdir(&self) -> String {
        let t = self.triplet;
        if self.windows { format!("/usr/{t}/lib/pkgconfig") } else { format!("/usr/lib/{t}/pkgconfig:/usr/share/pkgconfig") }
    }
}

const fn linux(debian_arch: &'static str, triplet: &'static str, machine: &'static str) -> CTarget {
    CTarget { debian_arch, triplet, machine, windows: false }
}

/// Targets with a glibc C toolchain in Debian, by OCI architecture and variant.
const C_TARGETS: &[(&str, Option<&str>, CTarget)] = &[
    ("amd64", None, linux("amd64", "x86_64-linux-gnu", "Advanced Micro Devices X86-64")),
    ("arm64", None, linux("arm64", "aarch64-linux-gnu", "AArch64")),
    ("arm", Some("v7"), linux("armhf", "arm-linux-gnueabihf", "ARM")),
    ("386", None, linux("i386", "i686-linux-gnu", "Intel 80386")),
    ("ppc64le", None, linux("ppc64el", "powerpc64le-linux-gnu", "PowerPC64")),
    ("s390x", None, linux("s390x", "s390x-linux-gnu", "IBM S/390")),
    ("riscv64", None, linux("riscv64", "riscv64-linux-gnu", "RISC-V")),
];

/// Windows targets with a MinGW-w64 C toolchain in Debian, by OCI architecture.
const WINDOWS_C_TARGETS: &[(&str, CTarget)] = &[
    ("amd64", CTarget { debian_arch: "amd64", triplet: "x86_64-w64-mingw32", machine: "pei-x86-64", windows: true }),
    ("386", CTarget { debian_arch: "i386", triplet: "i686-w64-mingw32", machine: "pei-i386", windows: true }),
];

/// Build machines Debian ships cross compilers for every target of [`C_TARGETS`] on.
const CROSS_HOSTS: &[&str] = &["amd64", "arm64"];

/// The C toolchain of a platform, or why cgo cannot build for it. An amd64 variant (v2, v3)
/// is amd64 to the C compiler.
pub fn c_target(p: &Platform) -> Result<CTarget, UnsupportedPlatform> {
    c_toolchain(p).map_err(UnsupportedPlatform)
}

fn c_toolchain(p: &Platform) -> Result<CTarget, String> {
    if is_windows(p) {
        return WINDOWS_C_TARGETS
            .iter()
            .find(|(arch, _)| *arch == p.architecture)
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("Debian has no C compiler for {p} (MinGW-w64 builds windows/amd64 and windows/386); build {p} without cgo"));
    }
    if p.os != "linux" {
        return Err(format!("goapp has no C toolchain for {p}: cgo builds for Linux and Windows platforms"));
    }
    let variant = p.variant.as_deref().filter(|_| p.architecture != "amd64");
    C_TARGETS.iter().find(|(arch, v, _)| *arch == p.architecture && *v == variant).map(|(_, _, t)| *t).ok_or_else(|| {
        format!(
            "goapp has no C toolchain for {p}: cgo builds for {}, windows/amd64 and windows/386",
            C_TARGETS.iter().map(|(a, v, _)| v.map(|v| format!("linux/{a}/{v}")).unwrap_or(format!("linux/{a}"))).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Whether a cgo build for `target` on `build` runs without a C cross compiler (the same
/// architecture).
pub fn same_c_arch(build: &Platform, target: &Platform) -> bool {
    matches!((c_target(build), c_target(target)), (Ok(b), Ok(t)) if b == t)
}

/// Whether Debian has a cross C compiler on `build` for `target`.
pub fn has_cross_compiler(build: &Platform, target: &Platform) -> bool {
    CROSS_HOSTS.contains(&build.architecture.as_str()) && c_target(build).is_ok() && c_target(target).is_ok()
}

text_error!(
    /// Why Go, or cgo, cannot build for a platform.
    UnsupportedPlatform
);

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<GoTarget, UnsupportedPlatform> {
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
    fn c_toolchains() {
        let p = |s: &str| Platform::parse(s).unwrap();
        assert_eq!(c_target(&p("linux/arm64")).unwrap().cross_packages(), ["gcc-aarch64-linux-gnu", "g++-aarch64-linux-gnu", "libc6-dev-arm64-cross"]);
        assert_eq!(c_target(&p("linux/amd64")).unwrap().cross_packages()[0], "gcc-x86-64-linux-gnu");
        assert_eq!(c_target(&p("linux/amd64/v3")).unwrap().triplet, "x86_64-linux-gnu");
        assert_eq!(c_target(&p("linux/arm/v7")).unwrap().debian_arch, "armhf");
        assert!(c_target(&p("linux/arm/v6")).unwrap_err().0.contains("linux/arm/v7"));
        assert!(same_c_arch(&p("linux/amd64"), &p("linux/amd64/v2")));
        assert!(!same_c_arch(&p("linux/amd64"), &p("linux/arm64")));
        assert!(has_cross_compiler(&p("linux/amd64"), &p("linux/riscv64")));
        assert!(!has_cross_compiler(&p("linux/s390x"), &p("linux/amd64")));
    }

    #[test]
    fn proxies_from_build_args_in_either_case() {
        let args = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>();
        assert_eq!(proxy_env(&args(&[("GOPROXY", "x"), ("VERSION", "1")])), None);
        let p =
            proxy_env(&args(&[("http_proxy", "http://lower:1"), ("HTTP_PROXY", "http://upper:1"), ("no_proxy", "localhost"), ("https_proxy", "")])).unwrap();
        assert_eq!((p.http_proxy.as_str(), p.no_proxy.as_str(), p.https_proxy.as_str()), ("http://upper:1", "localhost", ""));
        // An empty upper-case one does not hide a lower-case one; any case is read.
        let p = proxy_env(&args(&[("HTTPS_PROXY", ""), ("https_proxy", "http://lower:2"), ("All_Proxy", "socks5://mixed:3")])).unwrap();
        assert_eq!((p.https_proxy.as_str(), p.all_proxy.as_str()), ("http://lower:2", "socks5://mixed:3"));
        assert!(is_proxy_arg("all_proxy") && is_proxy_arg("FTP_PROXY") && is_proxy_arg("Http_Proxy") && !is_proxy_arg("GOPROXY"));
    }

    #[test]
    fn rejects_what_go_cannot_build() {
        assert!(t("linux/sparc").is_err());
        assert!(t("windows/s390x").is_err());
        assert!(t("darwin/arm64").is_err());
        assert!(t("linux/arm64/v9").is_err());
    }

    #[test]
    fn windows_binaries_are_exe_files_compiled_by_mingw_for_cgo() {
        let w = Platform::parse("windows/arm64").unwrap();
        assert_eq!(t("windows/arm64").unwrap().env(), ["GOOS=windows", "GOARCH=arm64"]);
        assert_eq!(binary_file("api", &w), "api.exe");
        assert_eq!(binary_file("api", &Platform::parse("linux/arm64").unwrap()), "api");
        // cgo for Windows is MinGW-w64's, never the Linux compiler of the same architecture.
        let mingw = c_target(&Platform::parse("windows/amd64").unwrap()).unwrap();
        assert_eq!(mingw.cross_compilers().0, "x86_64-w64-mingw32-gcc-posix");
        assert_eq!(mingw.cross_packages(), ["gcc-mingw-w64-x86-64-posix", "g++-mingw-w64-x86-64-posix"]);
        assert_eq!(c_target(&Platform::parse("windows/386").unwrap()).unwrap().cross_packages()[0], "gcc-mingw-w64-i686-posix");
        assert!(c_target(&Platform::parse("windows/arm64").unwrap()).unwrap_err().0.contains("without cgo"));
        assert!(!same_c_arch(&Platform::parse("linux/amd64").unwrap(), &Platform::parse("windows/amd64").unwrap()));
        assert!(has_cross_compiler(&Platform::parse("linux/arm64").unwrap(), &Platform::parse("windows/amd64").unwrap()));
    }
}
