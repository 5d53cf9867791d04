//! The image's SBOM, from what Go records in each binary: the Go release, the main module
//! and every module linked in (`go version -m`), as an SPDX 2.3 document. This is exactly
//! what the image's programs are made of, without scanning the filesystem.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// A module as `go version -m` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub version: String,
    /// The `h1:` hash of the module's content, when Go recorded one.
    pub sum: String,
}

/// What `go version -m` says of one binary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildInfo {
    /// e.g. `go1.27.3`
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    pub main: Option<Module>,
    /// Dependencies, each with the module that replaced it (what was linked), if any.
    pub deps: Vec<(Module, Option<Module>)>,
    /// `build` settings: GOOS, GOARCH, CGO_ENABLED, -ldflags, vcs.revision, ...
    pub settings: Vec<(String, String)>,
}

/// Parses the output of `go version -m FILE`: a first line `FILE: goVERSION`, then
/// tab-separated lines `path`, `mod`, `dep`, `=>` (the replacement of the `dep` above) and
/// `build`.
pub fn parse_version_m(text: &str) -> Result<BuildInfo, BuildInfoError> {
    parse_build_info(text).map_err(BuildInfoError)
}

fn parse_build_info(text: &str) -> Result<BuildInfo, String> {
    let mut lines = text.lines();
    let first = lines.next().ok_or("`go version -m` printed nothing")?;
    // `FILE: go1.27.3`, or with experiments `FILE: go1.27.3 X:boringcrypto`.
    let release = first.rsplit_once(": ").map(|(_, v)| v.trim()).ok_or_else(|| format!("unexpected first line `{first}`"))?;
    let go_version = release.split_whitespace().next().unwrap_or("").to_string();
    if !go_version.starts_with("go") {
        return Err(format!("`{first}` names no Go release"));
    }
    let mut info = BuildInfo { go_version, ..Default::default() };
    for line in lines {
        let fields: Vec<&str> = line.trim_start_matches('\t').split('\t').collect();
        let module = |f: &[&str]| Module {
            path: f.get(1).copied().unwrap_or("").to_string(),
            version: f.get(2).copied().unwrap_or("").to_string(),
            sum: f.get(3).copied().unwrap_or("").to_string(),
        };
        match fields[0] {
            "path" => info.path = fields.get(1).copied().unwrap_or("").to_string(),
            "mod" => info.main = Some(module(&fields)),
            "dep" => info.deps.push((module(&fields), None)),
            "=>" => match info.deps.last_mut() {
                Some(last) => last.1 = Some(module(&fields)),
                None => return Err(format!("a replacement with no module before it: `{line}`")),
            },
            "build" => {
                let kv = fields.get(1).copied().unwrap_or("");
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                info.settings.push((k.to_string(), v.to_string()));
            }
            // Kinds a later Go may add say nothing the SBOM uses.
            _ => {}
        }
    }
    Ok(info)
}

/// The package URL of a Go module.
fn purl(path: &str, version: &str) -> String {
    if version.is_empty() || version == "(devel)" { format!("pkg:golang/{path}") } else { format!("pkg:golang/{path}@{version}") }
}

/// An SPDX 2.3 document (JSON) of the programs of an image: one package per module (the
/// main modules, each linked dependency as replaced, and the Go standard library), the main
/// modules described by the document and depending on the others. `binaries` are the image's
/// binaries by name; `created` is RFC 3339.
pub fn spdx(name: &str, platform: &str, created: &str, binaries: &[(String, BuildInfo)]) -> Value {
    // Each package once, by (path, version): several binaries share modules.
    let mut ids: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut packages = Vec::new();
    let mut add = |path: &str, version: &str, sum: &str, comment: Option<String>| -> String {
        let key = (path.to_string(), version.to_string());
        if let Some(id) = ids.get(&key) {
            return id.clone();
        }
        let clean: String = format!("{path}-{version}").chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect();
        let id = format!("SPDXRef-Package-{}-{clean}", ids.len() + 1);
        let mut p = json!({
            "SPDXID": id,
            "name": path,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl(path, version)}],
        });
        if !version.is_empty() {
            p["versionInfo"] = json!(version);
        }
        let mut notes: Vec<String> = Vec::new();
        if !sum.is_empty() {
            notes.push(format!("go.sum hash {sum}"));
        }
        notes.extend(comment);
        if !notes.is_empty() {
            p["comment"] = json!(notes.join("; "));
        }
        packages.push(p);
        ids.insert(key, id.clone());
        id
    };
    let mut relationships = Vec::new();
    for (binary, info) in binaries {
        let main = info.main.clone().unwrap_or(Module { path: info.path.clone(), version: String::new(), sum: String::new() });
        let main_id = add(&main.path, &main.version, &main.sum, Some(format!("the binary {binary} (package {})", info.path)));
        relationships.push(json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": main_id}));
        let go = info.go_version.trim_start_matches("go");
        let std_id = add("stdlib", &format!("v{go}"), "", Some(format!("the Go standard library of {}", info.go_version)));
        relationships.push(json!({"spdxElementId": main_id, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": std_id}));
        for (dep, replaced) in &info.deps {
            let id = match replaced {
                // A directory (such as a `--build-context` of the module): no version to name.
                Some(r) if r.path.starts_with('/') || r.path.starts_with('.') => {
                    add(&dep.path, "", "", Some(format!("{}@{} replaced by the directory {}", dep.path, dep.version, r.path)))
                }
                Some(r) => add(&r.path, &r.version, &r.sum, Some(format!("replaces {}@{}", dep.path, dep.version))),
                None => add(&dep.path, &dep.version, &dep.sum, None),
            };
            relationships.push(json!({"spdxElementId": main_id, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": id}));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    relationships.retain(|r| seen.insert(r.to_string()));
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{name} ({platform})"),
        // Unique per content: the same name, platform and time with other modules differ.
        "documentNamespace": format!(
            "https://goapp.invalid/spdx/{name}/{}/{created}/{}",
            platform.replace('/', "-"),
            &llb::digest(serde_json::to_string(&packages).expect("json").as_bytes())["sha256:".len()..][..16]
        ),
        "creationInfo": {"created": created, "creators": [format!("Tool: goapp-{}", env!("CARGO_PKG_VERSION"))]},
        "packages": packages,
        "relationships": relationships,
    })
}

text_error!(
    /// Why the output of `go version -m` could not be read.
    BuildInfoError
);

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "/bins/api: go1.27.3\n\tpath\texample.com/shop/cmd/api\n\tmod\texample.com/shop\t(devel)\t\n\tdep\tgithub.com/spf13/cobra\tv1.8.0\th1:abc=\n\tdep\tgopkg.in/yaml.v3\tv3.0.1\n\t=>\t/goapp/replace/0\t(devel)\t\n\tbuild\t-ldflags=\"-s -w\"\n\tbuild\tGOARCH=arm64\n";

    #[test]
    fn go_version_m_is_parsed() {
        let info = parse_version_m(OUT).unwrap();
        assert_eq!(info.go_version, "go1.27.3");
        assert_eq!(info.path, "example.com/shop/cmd/api");
        assert_eq!(info.main.as_ref().unwrap().version, "(devel)");
        assert_eq!(info.deps.len(), 2);
        assert_eq!(info.deps[0].0.sum, "h1:abc=");
        assert_eq!(info.deps[1].1.as_ref().unwrap().path, "/goapp/replace/0");
        assert!(info.settings.contains(&("GOARCH".to_string(), "arm64".to_string())));
        assert!(parse_version_m("").is_err());
        assert!(parse_version_m("x: go1.27\n\t=>\ta\tb\n").is_err());
        let experiment = parse_version_m("/bins/api: go1.27.3 X:boringcrypto\n\tpath\tx\n\tnewkind\tsomething\n").unwrap();
        assert_eq!(experiment.go_version, "go1.27.3");
    }

    #[test]
    fn one_package_per_module_shared_by_binaries() {
        let info = parse_version_m(OUT).unwrap();
        let doc = spdx("shop", "linux/arm64", "2024-01-02T03:04:05Z", &[("api".into(), info.clone()), ("worker".into(), info)]);
        let packages = doc["packages"].as_array().unwrap();
        let purls: Vec<&str> = packages.iter().map(|p| p["externalRefs"][0]["referenceLocator"].as_str().unwrap()).collect();
        assert_eq!(
            purls,
            ["pkg:golang/example.com/shop", "pkg:golang/stdlib@v1.27.3", "pkg:golang/github.com/spf13/cobra@v1.8.0", "pkg:golang/gopkg.in/yaml.v3"]
        );
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        let ids: std::collections::BTreeSet<&str> = packages.iter().map(|p| p["SPDXID"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), packages.len(), "SPDX ids are unique");
        assert!(ids.iter().all(|id| id.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')), "{ids:?}");
        let rels = doc["relationships"].as_array().unwrap();
        assert_eq!(rels.iter().filter(|r| r["relationshipType"] == "DESCRIBES").count(), 1, "the shared main module once");
    }
}
