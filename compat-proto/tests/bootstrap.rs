//! Regenerates the checked-in Rust code from `proto/` and fails when it differs.
//!
//! Normal builds never run protoc: the generated files live in `src/generated/`.
//! This test compiles the schema with `protox` (pure Rust), runs the tonic/prost
//! generator into the source tree and asks git whether anything changed, so a
//! schema edit without regeneration cannot land.

use std::path::{Path, PathBuf};
use std::process::Command;

use compat_proto::{PROTO_FILES, RUST_ONLY_PROTO_FILES};

#[test]
fn generated_code_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto_dir = root.join("proto");
    let out_dir = root.join("src").join("generated");

    let files: Vec<PathBuf> = PROTO_FILES.iter().chain(RUST_ONLY_PROTO_FILES).map(|f| proto_dir.join(f)).collect();
    let fds = protox::compile(&files, [&proto_dir]).expect("the schema compiles");

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(true)
        .emit_rerun_if_changed(false)
        .out_dir(&out_dir)
        .compile_fds(fds)
        .expect("code generation succeeds");

    let status = Command::new("git").arg("diff").arg("--exit-code").arg("--").arg(&out_dir).status().expect("git runs");
    let untracked = Command::new("git")
        .args(["ls-files", "--others", "--exclude-standard", "--"])
        .arg(&out_dir)
        .output()
        .expect("git runs");
    assert!(
        untracked.stdout.is_empty(),
        "generated files are not checked in: {}",
        String::from_utf8_lossy(&untracked.stdout)
    );
    assert!(status.success(), "generated code in {} is stale: commit the regenerated files", out_dir.display());
}
