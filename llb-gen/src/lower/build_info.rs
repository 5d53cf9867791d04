//! What the SBOM is made of: `go version -m` of each binary, on the build platform.

use llb::{Exec, Graph, Mount};

use super::Input;
use super::runtime::binaries_at_root;
use crate::image::env_set;

/// `go version -m` of every binary, on the build platform with no network: `/<name>.txt`.
pub(super) fn build_info(g: &mut Graph, input: &Input<'_>, builder: llb::Output, binaries: &[(&crate::spec::Target, llb::Output, String)]) -> llb::Output {
    let bins = g.file(None, binaries_at_root(binaries, input.target));
    let mut args = vec!["sh".to_string(), "-c".into(), "set -e\nfor b; do go version -m \"/bins/$b\" > \"/info/$b.txt\"; done\n".into(), "build-info".into()];
    args.extend(binaries.iter().map(|(t, _, _)| crate::golang::binary_file(&t.name.value, input.target)));
    let mut env = input.builder.env.clone();
    env_set(&mut env, "GOTOOLCHAIN", "local");
    let exec = g.exec(
        Exec {
            args,
            env,
            cwd: "/".into(),
            user: String::new(),
            mounts: vec![Mount::readonly("/", builder), Mount::readonly("/bins", bins), Mount::output("/info", None)],
            no_network: true,
            proxy: None,
        },
        input.build_platform,
    );
    g.meta(exec.op).name = Some(format!("[{}] SBOM: go version -m", input.target));
    exec.get("/info")
}
