//! Compiles proto/ops.proto with protox (a protobuf compiler written in Rust), so a build
//! needs no system `protoc`. Every protobuf map becomes a BTreeMap: prost encodes maps in
//! iteration order, and op bytes must be the same on every run for their digests to be.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/ops.proto");
    let fds = protox::compile(["ops.proto"], ["proto"])?;
    prost_build::Config::new().btree_map(["."]).compile_fds(fds)?;
    Ok(())
}
