//! Loading, validating and lowering any bytes must not panic, hang or allocate without
//! bound. Run from fuzz/ (cargo-fuzz; `RUSTC_BOOTSTRAP=1` lets a stable toolchain build it):
//!   mkdir -p corpus/load && cp ../llb-gen/tests/specs/*/*.yaml corpus/load/
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run load --sanitizer none -- -max_total_time=180
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args: BTreeMap<String, String> = [("VERSION".to_string(), "1.0".to_string())].into();
    match llb_gen::load("goapp.yaml", data, &args) {
        Ok(loaded) => {
            let _ = loaded.warnings.render(false);
            let target = llb::Platform::parse("linux/arm64").unwrap();
            let build = llb::Platform::parse("linux/amd64").unwrap();
            let _ = llb_gen::lower::lower_unresolved(&loaded.spec, "goapp.yaml", data, &target, &build, None, &BTreeMap::new(), None);
        }
        Err(d) => {
            let _ = d.render(false);
            let _ = d.summary();
        }
    }
});
