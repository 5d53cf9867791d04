//! What the frontend hands back to BuildKit: one result with an image config per platform
//! (keyed as BuildKit's exporters read them), the annotations, and each platform's SBOM as an
//! in-toto attestation.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use llb::Platform;
use llb_gen::image::ImageConfig;

use crate::gateway::Gateway;
use crate::keys::exporter;
use crate::proto::gw;

/// One platform's build: its result, image config and SBOM (a result holding
/// [`SBOM_FILE`]).
pub struct Built {
    pub platform: Platform,
    pub id: String,
    pub config: ImageConfig,
    pub sbom: Option<String>,
}

const SBOM_FILE: &str = "sbom.spdx.json";

/// Solves the build information of the binaries, reads it, and solves the SPDX document made
/// of it into a result of its own.
pub async fn make_sbom<G: Gateway>(
    client: &mut G,
    build_info: llb::pb::Definition,
    imports: Vec<gw::CacheOptionsEntry>,
    name: &str,
    binaries: &[String],
    platform: &Platform,
    created: Option<String>,
) -> Result<String> {
    let info = client.solve(build_info, imports).await?;
    let mut infos = Vec::new();
    for b in binaries {
        let text = client.read_file(&info, &format!("{b}.txt")).await?.with_context(|| format!("no build information of {b}"))?;
        let parsed = llb_gen::sbom::parse_version_m(&String::from_utf8_lossy(&text)).map_err(|e| anyhow::anyhow!("{b}: {e}"))?;
        infos.push((b.clone(), parsed));
    }
    let created = created.unwrap_or_else(|| humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string());
    let doc = llb_gen::sbom::spdx(name, &platform.id(), &created, &infos);
    let mut g = llb::Graph::new();
    let data = serde_json::to_vec_pretty(&doc).expect("json");
    let file = g.file(None, vec![llb::FileAction::Mkfile(llb::Mkfile { path: format!("/{SBOM_FILE}"), mode: 0o644, data, owner: None })]);
    g.meta(file.op).name = Some(format!("[{platform}] SBOM: {SBOM_FILE}"));
    client.solve(g.marshal(Some(file))?, vec![]).await
}

/// The result BuildKit's exporters expect: for several platforms (or when an index is asked
/// for), refs keyed by platform id with `containerimage.config/<id>`; otherwise one ref with
/// `containerimage.config`. `refs.platforms` is always there. SBOMs are in-toto attestations
/// of their platform's image.
pub fn result(built: Vec<Built>, force_multi: bool, annotations: &BTreeMap<String, String>) -> gw::Result {
    let mut attestations = BTreeMap::new();
    for b in &built {
        if let Some(sbom) = &b.sbom {
            let a = gw::Attestation {
                kind: gw::AttestationKind::InToto as i32,
                r#ref: Some(gw::Ref { id: sbom.clone(), def: None }),
                path: SBOM_FILE.into(),
                in_toto_predicate_type: "https://spdx.dev/Document".into(),
                in_toto_subjects: vec![gw::InTotoSubject { kind: gw::InTotoSubjectKind::Self_ as i32, ..Default::default() }],
                ..Default::default()
            };
            attestations.insert(b.platform.id(), gw::Attestations { attestation: vec![a] });
        }
    }
    let built: Vec<(Platform, String, ImageConfig)> = built.into_iter().map(|b| (b.platform, b.id, b.config)).collect();
    let multi = force_multi || built.len() > 1;
    let mut metadata: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    // The image exporter reads annotations from the result metadata (keys as BuildKit's
    // exptypes spells them): on every manifest, and on the index when there is one.
    for (k, v) in annotations {
        metadata.insert(format!("{}{k}", exporter::ANNOTATION_MANIFEST_PREFIX), v.clone().into_bytes());
        if multi {
            metadata.insert(format!("{}{k}", exporter::ANNOTATION_INDEX_PREFIX), v.clone().into_bytes());
        }
    }
    // A Windows image's platform names the Windows release it runs on: the exporter writes
    // `os.version` into the index from here, not from the config.
    let platforms: Vec<serde_json::Value> = built
        .iter()
        .map(|(p, _, config)| {
            let mut platform = p.to_oci_json();
            if let Some(v) = &config.os_version {
                platform["os.version"] = v.clone().into();
            }
            serde_json::json!({"ID": p.id(), "Platform": platform})
        })
        .collect();
    metadata.insert(exporter::REFS_PLATFORMS.into(), serde_json::to_vec(&serde_json::json!({ "Platforms": platforms })).expect("json"));
    let result = if multi {
        let mut refs = BTreeMap::new();
        for (p, id, config) in built {
            metadata.insert(format!("{}/{}", exporter::IMAGE_CONFIG, p.id()), serde_json::to_vec(&config).expect("json"));
            refs.insert(p.id(), gw::Ref { id, def: None });
        }
        gw::result::Result::Refs(gw::RefMap { refs })
    } else {
        let (_, id, config) = built.into_iter().next().expect("one platform");
        metadata.insert(exporter::IMAGE_CONFIG.into(), serde_json::to_vec(&config).expect("json"));
        gw::result::Result::Ref(gw::Ref { id, def: None })
    };
    gw::Result { result: Some(result), metadata, attestations }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(platform: &str, id: &str, config: ImageConfig, sbom: Option<&str>) -> Built {
        Built { platform: Platform::parse(platform).unwrap(), id: id.into(), config, sbom: sbom.map(str::to_string) }
    }

    #[test]
    fn multi_platform_result_has_a_config_per_platform() {
        let cfg = |arch: &str| ImageConfig { architecture: arch.into(), os: "linux".into(), ..Default::default() };
        let r = result(
            vec![built("linux/amd64", "r1", cfg("amd64"), None), built("linux/arm64", "r2", cfg("arm64"), Some("s2"))],
            false,
            &[("org.example.a".to_string(), "1".to_string())].into(),
        );
        let Some(gw::result::Result::Refs(refs)) = &r.result else { panic!("not refs") };
        assert_eq!(r.metadata["annotation-index.org.example.a"], b"1");
        assert_eq!(r.metadata["annotation-manifest.org.example.a"], b"1");
        assert_eq!(refs.refs["linux/arm64"].id, "r2");
        let c: serde_json::Value = serde_json::from_slice(&r.metadata["containerimage.config/linux/arm64"]).unwrap();
        assert_eq!(c["architecture"], "arm64");
        let p: serde_json::Value = serde_json::from_slice(&r.metadata["refs.platforms"]).unwrap();
        assert_eq!(p["Platforms"][1]["ID"], "linux/arm64");
        // The SBOM of arm64 is its attestation, of the image itself.
        assert!(!r.attestations.contains_key("linux/amd64"));
        let a = &r.attestations["linux/arm64"].attestation[0];
        assert_eq!(a.r#ref.as_ref().unwrap().id, "s2");
        assert_eq!((a.path.as_str(), a.in_toto_predicate_type.as_str()), ("sbom.spdx.json", "https://spdx.dev/Document"));
        assert_eq!(p["Platforms"][1]["Platform"]["architecture"], "arm64");
    }

    #[test]
    fn a_windows_platform_names_its_windows_release() {
        let windows = ImageConfig { architecture: "amd64".into(), os: "windows".into(), os_version: Some("10.0.20348.2849".into()), ..Default::default() };
        let linux = ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
        let r = result(vec![built("linux/amd64", "r1", linux, None), built("windows/amd64", "r2", windows, None)], false, &BTreeMap::new());
        let p: serde_json::Value = serde_json::from_slice(&r.metadata["refs.platforms"]).unwrap();
        assert_eq!(p["Platforms"][1]["ID"], "windows/amd64");
        assert_eq!(p["Platforms"][1]["Platform"]["os.version"], "10.0.20348.2849");
        assert!(p["Platforms"][0]["Platform"].get("os.version").is_none());
        let c: serde_json::Value = serde_json::from_slice(&r.metadata["containerimage.config/windows/amd64"]).unwrap();
        assert_eq!(c["os.version"], "10.0.20348.2849");
    }

    #[test]
    fn single_platform_result_is_one_ref() {
        let r = result(vec![built("linux/amd64", "r1", ImageConfig::default(), None)], false, &BTreeMap::new());
        assert!(matches!(r.result, Some(gw::result::Result::Ref(_))));
        assert!(r.metadata.contains_key("containerimage.config"));
        assert!(r.metadata.contains_key("refs.platforms"));
        let forced = result(vec![built("linux/amd64", "r1", ImageConfig::default(), None)], true, &BTreeMap::new());
        assert!(matches!(forced.result, Some(gw::result::Result::Refs(_))));
    }
}
