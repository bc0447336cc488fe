//! Compiles seam's own protobuf messages without a system `protoc`: `protox`
//! parses the `.proto` files in pure Rust and hands `prost-build` the
//! descriptors.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/seam/v1/record.proto"];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }

    let descriptors = protox::compile(protos, ["proto"])?;

    let mut config = prost_build::Config::new();
    // Records are written as JSON lines; serde gives them a stable,
    // snake_case shape that matches the field names in the proto.
    config.type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]");
    config.type_attribute(".", "#[serde(default)]");
    config.compile_fds(descriptors)?;
    Ok(())
}
