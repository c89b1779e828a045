//! Golden vectors: bytes made by the real Kotlin Orbit classes, and bytes we make for Kotlin.
//!
//! * `testdata/proto/<name>.{bin,json}` come from the harness's `vectors` command, which
//!   builds domain objects with Kotlin Orbit 2.0.0-alpha.108 and encodes them with its own
//!   converters. Each `.json` names the proto type and gives the message in proto3 JSON.
//!   For every vector we decode the bytes, compare them with the description, re-encode
//!   them (identical bytes required), and also pass them through our domain conversions
//!   (identical bytes again), comparing our renderings with Kotlin's `toString()`.
//! * `testdata/payloads/*.json` are invocation payloads from the real orbit-client
//!   serializer; here we check their envelope. The codec itself comes with the actor runtime.
//! * `testdata/rust/` holds bytes we encode for the JVM test in `interop-tests/jvm`, which
//!   parses them with the real Kotlin classes. This test fails when those files are stale;
//!   `ORBIT_REGENERATE_VECTORS=1 cargo test -p orbit-compat-proto --test golden` rewrites them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use compat_proto::{
    AddressableLease, AddressableReference, InvocationReason, Key, Message, MessageContent, MessageTarget,
    NamespacedAddressableReference, NodeCapabilities, NodeId, NodeInfo, NodeLease, NodeStatus, PROTO_FILES, Timestamp,
    pb,
};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pool() -> DescriptorPool {
    let proto_dir = root().join("proto");
    let files: Vec<PathBuf> = PROTO_FILES.iter().map(|f| proto_dir.join(f)).collect();
    let fds = protox::compile(&files, [&proto_dir]).expect("the schema compiles");
    DescriptorPool::from_file_descriptor_set(fds).expect("descriptors are valid")
}

/// Lists `<name>.json` files of a directory, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} must exist: {e}", dir.display()))
        .map(|entry| entry.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Decodes `bytes` as `T`, checks them against the JSON description and re-encodes them.
fn check_wire<T>(name: &str, bytes: &[u8], described: &DynamicMessage) -> T
where
    T: prost::Message + Default + PartialEq + std::fmt::Debug,
{
    let decoded = T::decode(bytes).unwrap_or_else(|e| panic!("{name}: Kotlin bytes do not decode: {e}"));
    let expected: T = described.transcode_to().unwrap_or_else(|e| panic!("{name}: description does not fit: {e}"));
    assert_eq!(decoded, expected, "{name}: bytes and description disagree");
    assert_eq!(decoded.encode_to_vec(), bytes, "{name}: re-encoding changed the bytes");
    decoded
}

/// Checks that the domain conversion is lossless for a Kotlin-made message.
fn check_domain<T, D>(name: &str, wire: T, bytes: &[u8]) -> D
where
    T: prost::Message + Clone + From<D>,
    D: TryFrom<T> + Clone,
    <D as TryFrom<T>>::Error: std::fmt::Display,
{
    let domain = D::try_from(wire).unwrap_or_else(|e| panic!("{name}: Kotlin message rejected: {e}"));
    assert_eq!(T::from(domain.clone()).encode_to_vec(), bytes, "{name}: domain round trip changed the bytes");
    domain
}

fn check_rendering(name: &str, ours: String, kotlin: &Value) {
    if let Some(kotlin) = kotlin.as_str() {
        assert_eq!(ours, kotlin, "{name}: rendering differs from Kotlin's toString()");
    }
}

#[test]
fn kotlin_protobuf_vectors_decode_compare_and_reencode() {
    let pool = pool();
    let dir = root().join("testdata").join("proto");
    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut branches: BTreeMap<&'static str, usize> = BTreeMap::new();
    for path in json_files(&dir) {
        let name = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 file name").to_owned();
        let description: Value = serde_json::from_slice(&fs::read(&path).expect("readable")).expect("valid JSON");
        let bytes = fs::read(path.with_extension("bin")).unwrap_or_else(|e| panic!("{name}.bin: {e}"));
        let type_name = description["type"].as_str().unwrap_or_else(|| panic!("{name}: no type")).to_owned();
        let descriptor = pool.get_message_by_name(&type_name).unwrap_or_else(|| panic!("{name}: unknown {type_name}"));
        let described = DynamicMessage::deserialize(descriptor, &description["message"])
            .unwrap_or_else(|e| panic!("{name}: description is not valid proto3 JSON: {e}"));
        let domain = &description["domain"];

        match type_name.as_str() {
            "orbit.shared.NodeIdProto" => {
                let wire: pb::NodeIdProto = check_wire(&name, &bytes, &described);
                let id: NodeId = check_domain(&name, wire, &bytes);
                check_rendering(&name, id.to_string(), domain);
            }
            "orbit.shared.NodeInfoProto" => {
                let wire: pb::NodeInfoProto = check_wire(&name, &bytes, &described);
                if domain.as_str() == Some("null") {
                    // Kotlin's encoding of a null record (LeaveCluster for an unknown node);
                    // Kotlin reads it back as a record with empty fields, we reject it.
                    assert!(NodeInfo::try_from(wire).is_err(), "{name}: an empty record must not convert");
                } else {
                    let _: NodeInfo = check_domain(&name, wire, &bytes);
                }
            }
            "orbit.shared.CapabilitiesProto" => {
                let wire: pb::CapabilitiesProto = check_wire(&name, &bytes, &described);
                let _: NodeCapabilities = check_domain(&name, wire, &bytes);
            }
            "orbit.shared.NodeLeaseProto" => {
                let wire: pb::NodeLeaseProto = check_wire(&name, &bytes, &described);
                let _: NodeLease = check_domain(&name, wire, &bytes);
            }
            "orbit.shared.AddressableReferenceProto" => {
                let wire: pb::AddressableReferenceProto = check_wire(&name, &bytes, &described);
                let reference: AddressableReference = check_domain(&name, wire, &bytes);
                check_rendering(&name, reference.to_string(), domain);
            }
            "orbit.shared.AddressableKeyProto" => {
                let wire: pb::AddressableKeyProto = check_wire(&name, &bytes, &described);
                let key: Key = check_domain(&name, wire, &bytes);
                *branches.entry(key_branch(&key)).or_default() += 1;
                check_rendering(&name, key.to_string(), domain);
            }
            "orbit.shared.AddressableLeaseProto" => {
                let wire: pb::AddressableLeaseProto = check_wire(&name, &bytes, &described);
                let _: AddressableLease = check_domain(&name, wire, &bytes);
            }
            "orbit.shared.NamespacedAddressableReferenceProto" => {
                let wire: pb::NamespacedAddressableReferenceProto = check_wire(&name, &bytes, &described);
                let reference: NamespacedAddressableReference = check_domain(&name, wire, &bytes);
                check_rendering(&name, reference.to_string(), domain);
            }
            "orbit.shared.MessageProto" => {
                let wire: pb::MessageProto = check_wire(&name, &bytes, &described);
                let message: Message = check_domain(&name, wire, &bytes);
                *branches.entry(content_branch(&message.content)).or_default() += 1;
                match &message.target {
                    Some(MessageTarget::Unicast(_)) => *branches.entry("target:unicast").or_default() += 1,
                    Some(MessageTarget::RoutedUnicast(_)) => *branches.entry("target:routed").or_default() += 1,
                    None => {}
                }
                if let MessageContent::InvocationRequest { destination, .. } = &message.content {
                    *branches.entry(key_branch(&destination.key)).or_default() += 1;
                }
            }
            "orbit.shared.MessageTargetProto" => {
                let _: pb::MessageTargetProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.MessageTargetProto.Unicast" => {
                let _: pb::message_target_proto::Unicast = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.MessageTargetProto.RoutedUnicast" => {
                let _: pb::message_target_proto::RoutedUnicast = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.MessageContentProto" => {
                let wire: pb::MessageContentProto = check_wire(&name, &bytes, &described);
                let content: MessageContent = check_domain(&name, wire, &bytes);
                *branches.entry(content_branch(&content)).or_default() += 1;
            }
            "orbit.shared.ConnectionInfoRequestProto" => {
                let _: pb::ConnectionInfoRequestProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.ConnectionInfoResponseProto" => {
                let _: pb::ConnectionInfoResponseProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.InvocationRequestProto" => {
                let _: pb::InvocationRequestProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.InvocationResponseProto" => {
                let _: pb::InvocationResponseProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.InvocationResponseErrorProto" => {
                let _: pb::InvocationResponseErrorProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.ErrorProto" => {
                let _: pb::ErrorProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.JoinClusterRequestProto" => {
                let _: pb::JoinClusterRequestProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.RenewNodeLeaseRequestProto" => {
                let _: pb::RenewNodeLeaseRequestProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.LeaveClusterRequestProto" => {
                let _: pb::LeaveClusterRequestProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.NodeLeaseResponseProto" => {
                let _: pb::NodeLeaseResponseProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.RenewAddressableLeaseRequestProto" => {
                let _: pb::RenewAddressableLeaseRequestProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.RenewAddressableLeaseResponseProto" => {
                let _: pb::RenewAddressableLeaseResponseProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.AbandonAddressableLeaseRequestProto" => {
                let _: pb::AbandonAddressableLeaseRequestProto = check_wire(&name, &bytes, &described);
            }
            "orbit.shared.AbandonAddressableLeaseResponseProto" => {
                let _: pb::AbandonAddressableLeaseResponseProto = check_wire(&name, &bytes, &described);
            }
            "google.protobuf.Timestamp" => {
                let wire: prost_types::Timestamp = check_wire(&name, &bytes, &described);
                let _: Timestamp = check_domain(&name, wire, &bytes);
            }
            "grpc.health.v1.HealthCheckRequest" => {
                let _: pb::health::HealthCheckRequest = check_wire(&name, &bytes, &described);
            }
            "grpc.health.v1.HealthCheckResponse" => {
                let _: pb::health::HealthCheckResponse = check_wire(&name, &bytes, &described);
            }
            other => panic!("{name}: no check for {other}"),
        }
        *per_type.entry(type_name).or_default() += 1;
    }

    let total: usize = per_type.values().sum();
    println!("golden protobuf vectors checked: {total} across {} message types", per_type.len());
    for (type_name, count) in &per_type {
        println!("  {type_name}: {count}");
    }
    println!("oneof branches seen: {branches:?}");

    // Every message type of both packages must have at least one Kotlin-made vector.
    let mut missing: Vec<String> = Vec::new();
    for message in pool.all_messages() {
        let full = message.full_name();
        if (full.starts_with("orbit.shared.") || full.starts_with("grpc.health.v1.")) && !per_type.contains_key(full) {
            missing.push(full.to_owned());
        }
    }
    assert!(missing.is_empty(), "message types without a Kotlin vector: {missing:?}");
    for branch in [
        "key:int32",
        "key:int64",
        "key:string",
        "key:none",
        "target:unicast",
        "target:routed",
        "content:error",
        "content:info_request",
        "content:info_response",
        "content:invocation_request",
        "content:invocation_response",
        "content:invocation_response_error",
    ] {
        assert!(branches.contains_key(branch), "no Kotlin vector covers the oneof branch {branch}");
    }
}

fn key_branch(key: &Key) -> &'static str {
    match key {
        Key::Int32(_) => "key:int32",
        Key::Int64(_) => "key:int64",
        Key::String(_) => "key:string",
        Key::None => "key:none",
    }
}

fn content_branch(content: &MessageContent) -> &'static str {
    match content {
        MessageContent::Error { .. } => "content:error",
        MessageContent::ConnectionInfoRequest => "content:info_request",
        MessageContent::ConnectionInfoResponse { .. } => "content:info_response",
        MessageContent::InvocationRequest { .. } => "content:invocation_request",
        MessageContent::InvocationResponse { .. } => "content:invocation_response",
        MessageContent::InvocationResponseError { .. } => "content:invocation_response_error",
    }
}

/// The worked vector of the protocol spec (2.9): 67 bytes, from Kotlin's own metrics test.
#[test]
fn spec_metrics_vector_matches_our_encoding() {
    let message = Message {
        content: MessageContent::InvocationRequest {
            destination: AddressableReference::new("test", Key::String("address 1".into())),
            method: "report".into(),
            arguments: "test".into(),
            reason: InvocationReason::Invocation,
        },
        message_id: 1,
        source: Some(NodeId::new("AAAAAAAAAAAAAAAA", "test")),
        target: None,
        attempts: 0,
    };
    let bytes = pb::MessageProto::from(message.clone()).encode_to_vec();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "080112180a1041414141414141414141414141414141120474657374222522230a130a0474657374120b1a0961646472657373203112067265706f72741a0474657374"
    );
    let mut second = message;
    second.message_id = 2;
    if let MessageContent::InvocationRequest { arguments, .. } = &mut second.content {
        *arguments = "test 2".into();
    }
    assert_eq!(bytes.len() + pb::MessageProto::from(second).encode_to_vec().len(), 136);
}

#[test]
fn kotlin_invocation_payloads_have_the_pair_array_envelope() {
    let dir = root().join("testdata").join("payloads");
    let mut arguments = 0;
    let mut results = 0;
    for path in json_files(&dir) {
        let name = path.display().to_string();
        let vector: Value = serde_json::from_slice(&fs::read(&path).expect("readable")).expect("valid JSON");
        let text = vector["json"].as_str().unwrap_or_else(|| panic!("{name}: no json string"));
        let payload: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: payload is not JSON: {e}"));
        match vector["kind"].as_str() {
            Some("arguments") => {
                arguments += 1;
                let declared: Vec<&str> = vector["parameterTypes"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name}: no parameterTypes"))
                    .iter()
                    .map(|t| t.as_str().expect("type names are strings"))
                    .collect();
                assert_eq!(payload[0], "[Lkotlin.Pair;", "{name}: root type id");
                let pairs = payload[1].as_array().unwrap_or_else(|| panic!("{name}: root is not a typed array"));
                assert_eq!(pairs.len(), declared.len(), "{name}: one pair per parameter");
                for (pair, declared) in pairs.iter().zip(declared) {
                    assert_eq!(pair[0], "kotlin.Pair", "{name}: element type id");
                    assert_eq!(pair[1]["second"], json!(["java.lang.Class", declared]), "{name}: declared class");
                    assert!(pair[1].get("first").is_some(), "{name}: every pair has a value");
                }
            }
            Some("result") | Some("platform") => results += 1,
            other => panic!("{name}: unknown kind {other:?}"),
        }
    }
    println!("golden invocation payloads checked: {arguments} arguments, {results} results/errors");
    assert!(arguments + results >= 15, "at least 15 Kotlin payloads are required, found {}", arguments + results);
}

/// The messages we encode for the JVM test: (name, proto type, bytes, Kotlin expectations).
struct RustVector {
    name: &'static str,
    type_name: &'static str,
    bytes: Vec<u8>,
    kotlin_converts: bool,
    kotlin_round_trip: bool,
}

fn vector<T: prost::Message>(name: &'static str, type_name: &'static str, wire: T) -> RustVector {
    RustVector { name, type_name, bytes: wire.encode_to_vec(), kotlin_converts: true, kotlin_round_trip: true }
}

fn rust_vectors() -> Vec<RustVector> {
    let client = NodeId::new("x9Y8z7W6v5U4t3S2", "test");
    let server = NodeId::new("Ab12Cd34Ef56Gh78", "management");
    let now = Timestamp::from_millis(1_767_225_600_123);
    let node_info = NodeInfo {
        id: server.clone(),
        capabilities: NodeCapabilities::default(),
        url: Some("dns:///orbit-1:50056".into()),
        lease: NodeLease {
            challenge_token: "Zz09".repeat(16),
            expires_at: now.plus(std::time::Duration::from_secs(10)),
            renew_at: now.plus(std::time::Duration::from_secs(5)),
        },
        visible_nodes: vec![client.clone(), NodeId::new("Q1w2E3r4T5y6U7i8", "management")],
        status: NodeStatus::Active,
    };
    let client_info = NodeInfo {
        id: client.clone(),
        capabilities: NodeCapabilities { addressable_types: vec!["orbit.harness.actors.EchoActor".into()] },
        url: None,
        status: NodeStatus::Draining,
        visible_nodes: vec![server.clone()],
        ..node_info.clone()
    };
    let keys = [
        ("int32", Key::Int32(i32::MIN)),
        ("int64", Key::Int64(i64::MAX)),
        ("string", Key::String("ключ-🚀-鍵/)".into())),
        ("none", Key::None),
    ];
    let mut out = vec![
        vector("node_id", "orbit.shared.NodeIdProto", pb::NodeIdProto::from(client.clone())),
        vector("node_info_server", "orbit.shared.NodeInfoProto", pb::NodeInfoProto::from(node_info.clone())),
        vector("node_info_client_draining", "orbit.shared.NodeInfoProto", pb::NodeInfoProto::from(client_info)),
    ];
    for (i, (kind, key)) in keys.iter().enumerate() {
        let reference = AddressableReference::new("orbit.harness.actors.EchoActor", key.clone());
        let lease = AddressableLease {
            node_id: client.clone(),
            reference: reference.clone(),
            expires_at: now.plus(std::time::Duration::from_secs(600)),
            renew_at: now.plus(std::time::Duration::from_secs(300)),
        };
        let request = Message {
            content: MessageContent::InvocationRequest {
                destination: reference,
                method: "echoString".into(),
                arguments: r#"["[Lkotlin.Pair;",[["kotlin.Pair",{"first":"hi","second":["java.lang.Class","java.lang.String"]}]]]"#
                    .into(),
                reason: if i == 3 { InvocationReason::Rerouted } else { InvocationReason::Invocation },
            },
            message_id: i64::try_from(i).expect("small") + 1,
            source: Some(client.clone()),
            target: None,
            attempts: 0,
        };
        let (lease_name, message_name) = match *kind {
            "int32" => ("addressable_lease_int32", "message_invocation_request_int32"),
            "int64" => ("addressable_lease_int64", "message_invocation_request_int64"),
            "string" => ("addressable_lease_string", "message_invocation_request_string"),
            _ => ("addressable_lease_none", "message_invocation_request_none_rerouted"),
        };
        out.push(vector(lease_name, "orbit.shared.AddressableLeaseProto", pb::AddressableLeaseProto::from(lease)));
        out.push(vector(message_name, "orbit.shared.MessageProto", pb::MessageProto::from(request)));
    }
    let routed = MessageTarget::RoutedUnicast(vec![server.clone(), client.clone()]);
    let replies = [
        ("message_invocation_response", MessageContent::InvocationResponse { data: "\"Hello Joe\"".into() }),
        ("message_error", MessageContent::Error { description: "java.lang.IllegalStateException: nope".into() }),
        (
            "message_invocation_response_error",
            MessageContent::InvocationResponseError { description: "boom".into(), platform: String::new() },
        ),
        ("message_info_request", MessageContent::ConnectionInfoRequest),
        ("message_info_response", MessageContent::ConnectionInfoResponse { node_id: server.clone() }),
    ];
    for (name, content) in replies {
        let message = Message {
            content,
            message_id: i64::MAX,
            source: Some(server.clone()),
            target: Some(routed.clone()),
            attempts: 3,
        };
        out.push(vector(name, "orbit.shared.MessageProto", pb::MessageProto::from(message)));
    }
    let unicast = Message {
        content: MessageContent::Error { description: "Failed to deliver message after 10 attempts".into() },
        message_id: -1,
        source: Some(server.clone()),
        target: Some(MessageTarget::Unicast(client.clone())),
        attempts: 0,
    };
    out.push(vector("message_unicast_error", "orbit.shared.MessageProto", pb::MessageProto::from(unicast)));

    // Kotlin reads an absent source as the empty node id and writes it back, so the bytes
    // differ after its round trip while the conversion still succeeds.
    let mut sourceless = vector(
        "message_stream_error_without_source",
        "orbit.shared.MessageProto",
        pb::MessageProto::from(Message::new(MessageContent::Error {
            description: "orbit.shared.exception.InvalidNodeId: (test:x) is not valid. Did the lease expire?".into(),
        })),
    );
    sourceless.kotlin_round_trip = false;
    out.push(sourceless);

    // Malformed messages: Kotlin's converters must throw on each, as ours return errors.
    let mut no_key = pb::MessageProto::from(Message {
        content: MessageContent::InvocationRequest {
            destination: AddressableReference::new("t", Key::None),
            method: "m".into(),
            arguments: String::new(),
            reason: InvocationReason::Invocation,
        },
        message_id: 1,
        source: Some(client.clone()),
        target: None,
        attempts: 0,
    });
    let mut bad_reason = no_key.clone();
    if let Some(pb::message_content_proto::Content::InvocationRequest(r)) =
        no_key.content.as_mut().and_then(|c| c.content.as_mut())
    {
        r.reference.as_mut().expect("set above").key = Some(pb::AddressableKeyProto { key: None });
    }
    if let Some(pb::message_content_proto::Content::InvocationRequest(r)) =
        bad_reason.content.as_mut().and_then(|c| c.content.as_mut())
    {
        r.reason = 7;
    }
    let no_content = pb::MessageProto { message_id: 5, source: Some(client.into()), ..Default::default() };
    let mut bad_status = pb::NodeInfoProto::from(node_info);
    bad_status.status = 9;
    for (name, type_name, wire) in [
        ("malformed_key_unset", "orbit.shared.MessageProto", no_key.encode_to_vec()),
        ("malformed_unknown_reason", "orbit.shared.MessageProto", bad_reason.encode_to_vec()),
        ("malformed_content_unset", "orbit.shared.MessageProto", no_content.encode_to_vec()),
        ("malformed_unknown_node_status", "orbit.shared.NodeInfoProto", bad_status.encode_to_vec()),
    ] {
        out.push(RustVector { name, type_name, bytes: wire, kotlin_converts: false, kotlin_round_trip: false });
    }
    out
}

fn rust_vector_files(pool: &DescriptorPool, v: &RustVector) -> (Vec<u8>, String) {
    let descriptor = pool.get_message_by_name(v.type_name).expect("known type");
    let dynamic = DynamicMessage::decode(descriptor, v.bytes.as_slice()).expect("our bytes decode");
    let mut message = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut message);
    dynamic.serialize_with_options(&mut serializer, &SerializeOptions::new()).expect("serializable");
    let message: Value = serde_json::from_slice(&message).expect("valid JSON");
    let description = json!({
        "type": v.type_name,
        "message": message,
        "kotlinConverts": v.kotlin_converts,
        "kotlinRoundTrip": v.kotlin_round_trip,
    });
    (v.bytes.clone(), serde_json::to_string_pretty(&description).expect("serializable") + "\n")
}

#[test]
fn rust_encoded_vectors_for_the_jvm_are_up_to_date() {
    let pool = pool();
    let dir = root().join("testdata").join("rust");
    let regenerate = std::env::var_os("ORBIT_REGENERATE_VECTORS").is_some();
    let vectors = rust_vectors();
    let mut stale = Vec::new();
    for v in &vectors {
        let (bin, json) = rust_vector_files(&pool, v);
        let (bin_path, json_path) = (dir.join(format!("{}.bin", v.name)), dir.join(format!("{}.json", v.name)));
        if regenerate {
            fs::create_dir_all(&dir).expect("creatable");
            fs::write(&bin_path, &bin).expect("writable");
            fs::write(&json_path, &json).expect("writable");
        } else if fs::read(&bin_path).ok() != Some(bin) || fs::read_to_string(&json_path).ok() != Some(json) {
            stale.push(v.name);
        }
        // Our own conversions must agree with what we promise Kotlin.
        if v.type_name == "orbit.shared.MessageProto" {
            let wire = pb::MessageProto::decode(v.bytes.as_slice()).expect("decodes");
            assert_eq!(Message::try_from(wire).is_ok(), v.kotlin_converts, "{}", v.name);
        }
    }
    let on_disk = json_files(&dir).len();
    assert!(stale.is_empty(), "stale Rust vectors {stale:?}: rerun with ORBIT_REGENERATE_VECTORS=1");
    assert_eq!(on_disk, vectors.len(), "testdata/rust holds vectors this test no longer makes");
    println!("rust-encoded vectors for the JVM: {}", vectors.len());
}
