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

    compile_workload_api()?;
    Ok(())
}

/// Generates the SPIFFE Workload API's server and client into
/// `$OUT_DIR/spiffe/`. Only the tests use them, to run a stand-in agent and
/// to call it without the security header; seam itself talks to the agent
/// through the `spiffe` crate's client.
fn compile_workload_api() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/spiffe/workload.proto";
    println!("cargo:rerun-if-changed={proto}");

    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("spiffe");
    std::fs::create_dir_all(&out)?;

    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(out)
        .compile_fds(descriptors)?;
    Ok(())
}
