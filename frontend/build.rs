//! Compiles the gateway protocol with protox (a protobuf compiler written in Rust), so a build
//! needs no system `protoc`. LLB messages (`pb.*`) are not generated again: they come from
//! the `llb` crate.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    for f in ["gateway.proto", "caps.proto", "worker.proto", "stat.proto", "google/rpc/status.proto", "../../llb/proto/ops.proto"] {
        println!("cargo:rerun-if-changed=proto/{f}");
    }
    let fds = protox::compile(["gateway.proto"], ["proto", "../llb/proto"])?;
    tonic_prost_build::configure().build_server(false).btree_map(".").extern_path(".pb", "::llb::pb").compile_fds(fds)?;
    Ok(())
}
