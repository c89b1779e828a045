//! Fuzzing of every decoder that reads Orbit bytes from the network or from etcd: protobuf
//! bytes to the proto types (prost) and on to the domain types (`TryFrom`), and the etcd keys.
//! Seeds are the golden vectors the real Kotlin classes wrote (`testdata/proto/*.bin`).
//!
//! What must hold for any input: no panic; a decode error or a conversion error is a value,
//! not a crash; and whatever converts to the domain converts back to a proto that converts to
//! the same domain value (nothing is lost or invented on the way).
//!
//! `FUZZ_CASES=1000000 cargo test --release -p orbit-compat-proto --test fuzz` for a long run.

use std::fmt::Debug;
use std::path::Path;

use compat_proto::render::{addressable_directory_key, node_directory_key, node_id_from_directory_key};
use compat_proto::{AddressableLease, AddressableReference, Key, Message, NodeId, NodeInfo, NodeLease, pb};
use orbit_fuzz_support as fuzz;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

/// The golden vectors' bytes: those of proto type `type_name` (e.g. `MessageProto`) first,
/// then all the others (a frame of one type is a fair seed for another: they share field
/// numbers and wire types). The strategy picks the first group four times in five.
fn seeds(type_name: &str) -> impl Strategy<Value = Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/proto");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    let (mut own, mut others) = (Vec::new(), Vec::new());
    for path in files {
        let described = std::fs::read_to_string(path.with_extension("json")).unwrap_or_default();
        let Ok(bytes) = std::fs::read(&path) else { continue };
        if described.contains(&format!("\"type\" : \"orbit.shared.{type_name}\"")) {
            own.push(bytes);
        } else {
            others.push(bytes);
        }
    }
    assert!(!own.is_empty() && others.len() >= 50, "golden vectors of {type_name}: {} (+{})", own.len(), others.len());
    prop_oneof![4 => fuzz::inputs(own, 256), 1 => fuzz::mutated(others)]
}

/// Decodes `bytes` as `P` and converts it to `D`; what converts must survive the round trip.
/// Returns whether the bytes made a domain value.
fn decodes_to<P, D>(bytes: &[u8]) -> Result<bool, TestCaseError>
where
    P: prost::Message + Default,
    D: TryFrom<P> + Into<P> + Clone + PartialEq + Debug,
    <D as TryFrom<P>>::Error: std::fmt::Display,
{
    let Ok(proto) = P::decode(bytes) else { return Ok(false) };
    match D::try_from(proto) {
        Ok(domain) => {
            let again = D::try_from(domain.clone().into());
            prop_assert!(again.as_ref().is_ok_and(|a| a == &domain), "round trip changed {domain:?}");
            Ok(true)
        }
        Err(error) => {
            prop_assert!(!error.to_string().is_empty(), "a conversion error says what is wrong");
            Ok(false)
        }
    }
}

fn run(name: &str, strategy: impl Strategy<Value = Vec<u8>>, check: impl Fn(&[u8]) -> Result<bool, TestCaseError>) {
    let mut runner = TestRunner::new(fuzz::config());
    let accepted = std::cell::Cell::new(0u64);
    let outcome = runner.run(&strategy, |bytes| {
        if check(&bytes)? {
            accepted.set(accepted.get() + 1);
        }
        Ok(())
    });
    println!("{name}: {} inputs, {} decoded to domain values", fuzz::cases(), accepted.get());
    if let Err(failure) = outcome {
        panic!("{name}: {failure}");
    }
}

#[test]
fn stream_messages_decode_or_fail_cleanly() {
    run("MessageProto", seeds("MessageProto"), decodes_to::<pb::MessageProto, Message>);
}

#[test]
fn etcd_values_decode_or_fail_cleanly() {
    run("NodeInfoProto", seeds("NodeInfoProto"), decodes_to::<pb::NodeInfoProto, NodeInfo>);
    run(
        "AddressableLeaseProto",
        seeds("AddressableLeaseProto"),
        decodes_to::<pb::AddressableLeaseProto, AddressableLease>,
    );
}

#[test]
fn request_parts_decode_or_fail_cleanly() {
    run("NodeLeaseProto", seeds("NodeLeaseProto"), decodes_to::<pb::NodeLeaseProto, NodeLease>);
    run(
        "AddressableReferenceProto",
        seeds("AddressableReferenceProto"),
        decodes_to::<pb::AddressableReferenceProto, AddressableReference>,
    );
    run("AddressableKeyProto", seeds("AddressableKeyProto"), decodes_to::<pb::AddressableKeyProto, Key>);
}

proptest! {
    #![proptest_config(fuzz::config())]

    /// Any text read back as a node key gives a node id or `None`, never a panic; a key we
    /// wrote for an id without `/` reads back as that id.
    #[test]
    fn etcd_keys_read_back(text in any::<String>(), key in "[^/]{0,40}", namespace in "[^/]{0,40}") {
        let _ = node_id_from_directory_key(&text);
        let id = NodeId::new(key, namespace);
        prop_assert_eq!(node_id_from_directory_key(&node_directory_key(&id)), Some(id.clone()));
        let reference = AddressableReference::new(text.clone(), Key::String(text));
        prop_assert!(addressable_directory_key(&id.namespace, &reference).starts_with("addressable/"));
    }
}
