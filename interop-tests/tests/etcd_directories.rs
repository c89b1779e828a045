//! orbit-node's etcd directories against a real etcd and the real Kotlin etcd directories
//! (`orbit-server-etcd`, through the harness's `etcd` command):
//! * records orbit-node writes are read back by the Kotlin classes, field by field, and the
//!   reverse; Kotlin-written bytes re-encode byte for byte in Rust;
//! * keys, and the TTL of the etcd lease attached to each write, are Kotlin's;
//! * compare-and-set against a record the other side wrote works both ways;
//! * a foreign key or an undecodable value in the node store is skipped by orbit-node (and
//!   counted, as Kotlin counts it) where Kotlin's `entries()` throws;
//! * etcd killed: requests fail within the deadline with an error naming the URL, health turns
//!   false; etcd restarted: the same directory works again.

use std::sync::Arc;
use std::time::Duration;

use compat_proto::{
    AddressableLease, AddressableReference, Key, NamespacedAddressableReference, NodeCapabilities, NodeId, NodeInfo,
    NodeLease, NodeStatus, Timestamp, pb,
};
use orbit_interop_tests::etcd::EtcdServer;
use orbit_interop_tests::jvm::{HarnessProcess, log_dir};
use orbit_node::clock::Clock;
use orbit_node::mesh::directory::{AddressableDirectory, NodeDirectory};
use orbit_node::mesh::etcd::{EtcdAddressableDirectory, EtcdNodeDirectory};
use prost::Message as _;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);

async fn ask(kotlin: &mut HarnessProcess, request: Value) -> anyhow::Result<Value> {
    kotlin.send_line(&request.to_string()).await?;
    let answer = kotlin.next_json(LIMIT).await?;
    anyhow::ensure!(answer.get("error").is_none(), "Kotlin failed {request}: {answer}");
    Ok(answer)
}

fn rust_record(now: Timestamp) -> NodeInfo {
    NodeInfo {
        id: NodeId::new("RustServerKey001", "management"),
        capabilities: NodeCapabilities {
            addressable_types: vec!["com.example.Greeter".into(), "com.example.B".into()],
        },
        url: Some("dns:///rust-1:50056".into()),
        lease: NodeLease {
            challenge_token: "t".repeat(64),
            expires_at: Timestamp::from_millis(now.as_millis() + 10_000),
            renew_at: Timestamp::from_millis(now.as_millis() + 5_000),
        },
        visible_nodes: vec![NodeId::new("ClientKey0000001", "app")],
        status: NodeStatus::Active,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_records_are_byte_compatible_with_kotlin() -> anyhow::Result<()> {
    let logs = log_dir("etcd_directories")?;
    let mut node_etcd = EtcdServer::start("nodes", &logs).await?;
    let lease_etcd = EtcdServer::start("leases", &logs).await?;
    let clock = Arc::new(Clock::default());
    let nodes = EtcdNodeDirectory::connect(&node_etcd.url, clock.clone()).await?;
    let leases = EtcdAddressableDirectory::connect(&lease_etcd.url, clock.clone()).await?;
    let (mut kotlin, _) = HarnessProcess::start(
        "kotlin-etcd",
        &logs,
        &["etcd", "--node-url", &node_etcd.url, "--addressable-url", &lease_etcd.url],
    )
    .await?;

    // orbit-node writes; Kotlin reads.
    let record = rust_record(clock.now());
    assert!(nodes.compare_and_set(&record.id, None, Some(record.clone())).await?, "written from absent");
    let seen =
        ask(&mut kotlin, json!({"id": "n1", "op": "node", "namespace": "management", "key": "RustServerKey001"}))
            .await?;
    println!("Kotlin reads orbit-node's record: {}", seen["node"]);
    assert_eq!(
        seen["node"],
        json!({
            "namespace": "management", "key": "RustServerKey001", "url": "dns:///rust-1:50056", "status": "ACTIVE",
            "types": ["com.example.B", "com.example.Greeter"], "visible": ["app:ClientKey0000001"],
            "challengeToken": "t".repeat(64),
            "expiresAt": record.lease.expires_at.as_millis(), "renewAt": record.lease.renew_at.as_millis()
        })
    );
    let reference = AddressableReference::new("com.example.Greeter", Key::String("ключ/🚀".into()));
    let key = NamespacedAddressableReference { namespace: "app".into(), addressable_reference: reference.clone() };
    let lease = AddressableLease {
        node_id: NodeId::new("ClientKey0000001", "app"),
        reference: reference.clone(),
        expires_at: Timestamp::from_millis(clock.now().as_millis() + 600_000),
        renew_at: Timestamp::from_millis(clock.now().as_millis() + 300_000),
    };
    assert!(leases.compare_and_set(&key, None, Some(lease.clone())).await?);
    let seen = ask(
        &mut kotlin,
        json!({"id": "l1", "op": "lease", "namespace": "app", "type": "com.example.Greeter", "key": {"string": "ключ/🚀"}}),
    )
    .await?;
    assert_eq!(
        seen["lease"],
        json!({
            "nodeNamespace": "app", "nodeKey": "ClientKey0000001", "type": "com.example.Greeter",
            "key": "StringKey(key=ключ/🚀)", "expiresAt": lease.expires_at.as_millis(), "renewAt": lease.renew_at.as_millis()
        }),
        "Kotlin finds the lease under its own key for the reference"
    );

    // Keys and TTLs, read from etcd itself.
    let mut raw = node_etcd.client().await?;
    let stored = raw.get("node/management/RustServerKey001", None).await?;
    let kv = stored.kvs().first().ok_or_else(|| anyhow::anyhow!("orbit-node's key is node/<namespace>/<key>"))?;
    let ttl = raw.lease_time_to_live(kv.lease(), None).await?;
    println!("node record lease: granted TTL {} s, {} s left", ttl.granted_ttl(), ttl.ttl());
    assert!(
        (9..=10).contains(&ttl.granted_ttl()),
        "TTL = floor(expiresAt - now) = 9 s as Kotlin's: {}",
        ttl.granted_ttl()
    );
    let mut raw_leases = lease_etcd.client().await?;
    let stored = raw_leases.get("addressable/app/com.example.Greeter/StringKey(key=ключ/🚀)", None).await?;
    let kv = stored.kvs().first().ok_or_else(|| anyhow::anyhow!("the lease key is Kotlin's"))?;
    let ttl = raw_leases.lease_time_to_live(kv.lease(), None).await?;
    assert!((599..=600).contains(&ttl.granted_ttl()), "{}", ttl.granted_ttl());

    // Kotlin writes; orbit-node reads, and Kotlin's bytes re-encode identically.
    let written = ask(
        &mut kotlin,
        json!({"id": "p1", "op": "put-node", "namespace": "app", "key": "KotlinClient0001", "types": ["com.example.Greeter"],
               "status": "ACTIVE", "visible": [["management", "RustServerKey001"]], "ttlMillis": 10_000}),
    )
    .await?;
    assert_eq!(written["written"], json!(true));
    let kotlin_id = NodeId::new("KotlinClient0001", "app");
    let read = nodes.get(&kotlin_id).await?.ok_or_else(|| anyhow::anyhow!("orbit-node reads Kotlin's record"))?;
    assert_eq!(read.url, None);
    assert_eq!(read.status, NodeStatus::Active);
    assert_eq!(read.capabilities.addressable_types, vec!["com.example.Greeter".to_owned()]);
    assert_eq!(read.visible_nodes, vec![NodeId::new("RustServerKey001", "management")]);
    assert_eq!(read.lease.challenge_token, "token-KotlinClient0001");
    let stored = raw.get("node/app/KotlinClient0001", None).await?;
    let bytes = stored.kvs().first().map(|kv| kv.value().to_vec()).unwrap_or_default();
    let reencoded =
        pb::NodeInfoProto::from(NodeInfo::try_from(pb::NodeInfoProto::decode(bytes.as_slice())?)?).encode_to_vec();
    assert_eq!(reencoded, bytes, "Kotlin's record bytes re-encode identically in Rust");
    // Compare-and-set against Kotlin's record (structural equality), as a Rust server renewing it would.
    let mut renewed = read.clone();
    renewed.lease.expires_at = Timestamp::from_millis(clock.now().as_millis() + 10_000);
    assert!(nodes.compare_and_set(&kotlin_id, Some(&read), Some(renewed.clone())).await?);
    assert!(!nodes.compare_and_set(&kotlin_id, Some(&read), Some(renewed.clone())).await?, "stale expectation loses");
    let seen =
        ask(&mut kotlin, json!({"id": "n2", "op": "node", "namespace": "app", "key": "KotlinClient0001"})).await?;
    assert_eq!(seen["node"]["expiresAt"], json!(renewed.lease.expires_at.as_millis()));

    let written = ask(
        &mut kotlin,
        json!({"id": "p2", "op": "put-lease", "namespace": "app", "type": "com.example.Greeter", "key": {"int64": -7},
               "nodeNamespace": "app", "nodeKey": "KotlinClient0001", "ttlMillis": 600_000}),
    )
    .await?;
    assert_eq!(written["written"], json!(true));
    let kotlin_key = NamespacedAddressableReference {
        namespace: "app".into(),
        addressable_reference: AddressableReference::new("com.example.Greeter", Key::Int64(-7)),
    };
    let read = leases.get(&kotlin_key).await?.ok_or_else(|| anyhow::anyhow!("orbit-node reads Kotlin's lease"))?;
    assert_eq!(read.node_id, kotlin_id);
    assert!(leases.compare_and_set(&kotlin_key, Some(&read), None).await?, "a Rust server can abandon it");
    let seen = ask(
        &mut kotlin,
        json!({"id": "l2", "op": "lease", "namespace": "app", "type": "com.example.Greeter", "key": {"int64": -7}}),
    )
    .await?;
    assert_eq!(seen["lease"], Value::Null);

    // Both servers list the same records.
    let kotlin_nodes = ask(&mut kotlin, json!({"id": "all", "op": "nodes"})).await?;
    let mut rust_keys: Vec<String> = nodes.entries().await?.into_iter().map(|n| n.id.key).collect();
    rust_keys.sort();
    let kotlin_keys: Vec<String> = kotlin_nodes["nodes"]
        .as_array()
        .map(|a| a.iter().filter_map(|n| n["key"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    assert_eq!(rust_keys, kotlin_keys);

    // A foreign key and an undecodable value: orbit-node skips them and counts every key.
    raw.put("not-a-node", "x", None).await?;
    raw.put("node/app/Garbage", vec![0xff_u8, 0xff, 0xff], None).await?;
    let listed = nodes.entries().await?;
    assert_eq!(listed.len(), 2, "only the two node records: {listed:?}");
    assert_eq!(nodes.count().await?, 4, "Kotlin's count covers every key of the store");
    kotlin.send_line(&json!({"id": "all2", "op": "nodes"}).to_string()).await?;
    let kotlin_view = kotlin.next_json(LIMIT).await?;
    println!("Kotlin's entries() with foreign keys in the store: {kotlin_view}");
    assert!(kotlin_view.get("error").is_some(), "Kotlin's scan fails on them (spec 8.5): {kotlin_view}");
    raw.delete("not-a-node", None).await?;
    raw.delete("node/app/Garbage", None).await?;

    // etcd down: a clear error within the deadline and an unhealthy verdict; back: it works.
    node_etcd.kill().await?;
    let started = tokio::time::Instant::now();
    let error = nodes.get(&kotlin_id).await.expect_err("etcd is down");
    let text = orbit_node::error_chain(&error);
    println!("etcd down: {text} (after {:?})", started.elapsed());
    assert!(text.contains(&node_etcd.url), "{text}");
    assert!(started.elapsed() < Duration::from_secs(12), "bounded by the request deadline");
    let fresh = EtcdNodeDirectory::connect(&node_etcd.url, clock.clone()).await?;
    assert!(!fresh.is_healthy().await, "health reports the dead etcd");
    node_etcd.restart().await?;
    let mut recovered = None;
    for _ in 0..50 {
        if let Ok(found) = nodes.get(&kotlin_id).await {
            recovered = Some(found);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered.is_some(), "the same directory works again once etcd is back");
    Ok(())
}
