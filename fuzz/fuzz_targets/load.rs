//! Loading, validating, planning and lowering any bytes must not panic, hang or allocate
//! without bound. The input is a spec, optionally followed by a NUL byte and build options,
//! one `key=value` per line: `target`, `platform`, `context:NAME` (a named context),
//! `build-arg:NAME`. Run from fuzz/ (cargo-fuzz; `RUSTC_BOOTSTRAP=1` lets a stable toolchain
//! build it), with inputs up to 64 KiB and the spec's words in the dictionary:
//!   mkdir -p corpus/load && cp ../llb-gen/tests/specs/*/*.yaml corpus/load/
//!   for e in ../examples/*/; do cp "$e/goapp.yaml" "corpus/load/example-$(basename "$e").yaml"; done
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run load --sanitizer none -- \
//!     -max_len=65536 -len_control=0 -dict=yaml.dict -rss_limit_mb=512 -max_total_time=1800
#![no_main]


use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (spec, options) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut request = llb_gen::Request { build_args: [("VERSION".to_string(), "1.0".to_string())].into(), ..Default::default() };
    for line in String::from_utf8_lossy(options).lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        if k == "target" {
            request.target = Some(v.to_string());
        } else if k == "platform" {
            match llb::Platform::parse(v) {
                Ok(p) => request.platforms.push(p),
                Err(_) => return,
            }
        } else if let Some(name) = k.strip_prefix("context:") {
            request.named_contexts.insert(name.to_string(), v.to_string());
        } else if let Some(name) = k.strip_prefix("build-arg:") {
            request.build_args.insert(name.to_string(), v.to_string());
        }
    }
    match llb_gen::load("goapp.yaml", spec, &request.build_args) {
        Ok(loaded) => {
            let _ = loaded.warnings.render(false);
            let facts = llb_gen::context::ContextFacts {
                go_mod: Some(("go.mod".into(), "module example.com/app\n\ngo 1.27\n\nrequire example.com/lib v1.0.0\n".into())),
                ..Default::default()
            };
            let source = llb_gen::plan::SpecSource { file: "goapp.yaml".into(), data: spec.to_vec() };
            if let Ok(plan) = llb_gen::plan(loaded.spec, source, &request, &facts) {
                let _ = plan.summary();
                let resolved = llb_gen::Resolved::unresolved(&plan);
                for p in &plan.platforms {
                    let _ = llb_gen::lower(&plan, &resolved, p);
                }
            }
        }
        Err(d) => {
            let _ = d.render(false);
            let _ = d.summary();
        }
    }
});
