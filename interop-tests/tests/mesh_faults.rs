//! Faults around the mesh that Kotlin operators meet, against orbit-node on real etcd stores
//! with real Kotlin clients:
//! * etcd is down when orbit-node starts: it stays up, says so in its log, serves no client
//!   yet, and joins the cluster once etcd is back;
//! * the node directory lists an ACTIVE server whose URL accepts TCP but never answers (a hung
//!   peer): the healthy servers still mesh and route calls between them.

use std::time::Duration;

use compat_proto::render::node_directory_key;
use compat_proto::{NodeId, NodeStatus, Timestamp, pb};
use orbit_interop_tests::etcd::EtcdServer;
use orbit_interop_tests::jvm::log_dir;
use orbit_interop_tests::mesh::{server_records, wait_meshed};
use orbit_interop_tests::prometheus::{parse, scrape};
use orbit_interop_tests::scenario::{call, call_all, call_until_ok, start_caller, start_host};
use orbit_interop_tests::servers::{ServerKind, ServerProcess};
use orbit_test_support::free_port;
use prost::Message as _;
use serde_json::json;

const NAMESPACE: &str = "faults";
const ECHO: &str = "orbit.harness.actors.EchoActor";

fn etcd_args<'a>(nodes: &'a EtcdServer, leases: &'a EtcdServer) -> [&'a str; 4] {
    ["--etcd-node-url", &nodes.url, "--etcd-addressable-url", &leases.url]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orbit_node_waits_for_etcd_and_joins_when_it_is_back() -> anyhow::Result<()> {
    let logs = log_dir("mesh_faults_etcd_down")?;
    let mut nodes = EtcdServer::start("nodes", &logs).await?;
    let mut leases = EtcdServer::start("leases", &logs).await?;
    nodes.kill().await?;
    leases.kill().await?;
    let metrics_port = free_port().to_string();
    let mut args = etcd_args(&nodes, &leases).to_vec();
    args.extend(["--metrics-port", &metrics_port]);
    let mut server = ServerProcess::start_named(ServerKind::Rust, "server-rust", &logs, &args).await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    anyhow::ensure!(!server.has_exited()?, "orbit-node exited while etcd was down");
    let log = std::fs::read_to_string(logs.join("server-rust.log"))?;
    let complaints = log.matches("cannot register this server in the node directory; retrying in 1 s").count();
    println!("etcd down for 4 s: orbit-node alive, {complaints} registration attempts logged");
    assert!(complaints >= 2, "orbit-node should say why it waits:\n{log}");

    nodes.restart().await?;
    leases.restart().await?;
    let started = tokio::time::Instant::now();
    wait_meshed(&nodes, 1, Duration::from_secs(30)).await?;
    println!("etcd back: orbit-node ACTIVE in the node directory after {:.1} s", started.elapsed().as_secs_f64());
    let mut host = start_host("host", &logs, &server.endpoint, NAMESPACE).await?;
    let mut caller = start_caller("caller", &logs, &server.endpoint, NAMESPACE).await?;
    let ping = call("ping", ECHO, json!({"string": "after-etcd"}), "ping", json!([]));
    let answer = call_until_ok(&mut caller, &ping, Duration::from_secs(60)).await?;
    assert_eq!(answer.0["result"], json!("pong"), "errors before: {:?}", answer.1);
    // The etcd requests were timed, failed ones included (orbit-node's own meter).
    let metrics = parse(&scrape(metrics_port.parse()?, "/metrics").await?.body)?;
    let requests = |op: &str| {
        metrics.samples.get(&format!("orbit_node_etcd_request_duration_seconds_count{{op=\"{op}\"}}")).copied()
    };
    println!(
        "etcd requests timed: txn {:?}, get {:?}, snapshot {:?}",
        requests("txn"),
        requests("get"),
        requests("snapshot")
    );
    assert!(requests("txn").is_some_and(|n| n >= 1.0), "the registration's transaction");
    assert!(requests("snapshot").is_some_and(|n| n >= 1.0), "the lease copy's snapshot");
    caller.close_stdin();
    caller.wait_exit(Duration::from_secs(30)).await?;
    host.terminate(Duration::from_secs(20)).await?;
    server.terminate(Duration::from_secs(20)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_does_not_stop_the_mesh() -> anyhow::Result<()> {
    let logs = log_dir("mesh_faults_silent_peer")?;
    let nodes = EtcdServer::start("nodes", &logs).await?;
    let leases = EtcdServer::start("leases", &logs).await?;
    // A "server" that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let silent_url = format!("127.0.0.1:{}", silent.local_addr()?.port());
    let accepted = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });

    let mut first =
        ServerProcess::start_named(ServerKind::Rust, "server-0-rust", &logs, &etcd_args(&nodes, &leases)).await?;
    wait_meshed(&nodes, 1, Duration::from_secs(30)).await?;
    // The hung peer's record: a copy of a real server's with its own key, URL and no edges,
    // ACTIVE for the next two minutes.
    let mut record = server_records(&nodes).await?.into_iter().next().ok_or_else(|| anyhow::anyhow!("no record"))?;
    record.id = NodeId::new("SilentPeer000001", "management");
    record.url = Some(silent_url.clone());
    record.visible_nodes.clear();
    record.status = NodeStatus::Active;
    record.lease.expires_at = Timestamp::from_millis(Timestamp::now().as_millis() + 120_000);
    let mut etcd = nodes.client().await?;
    let lease = etcd.lease_grant(120, None).await?;
    etcd.put(
        node_directory_key(&record.id),
        pb::NodeInfoProto::from(record.clone()).encode_to_vec(),
        Some(etcd_client::PutOptions::new().with_lease(lease.id())),
    )
    .await?;

    let mut second =
        ServerProcess::start_named(ServerKind::Rust, "server-1-rust", &logs, &etcd_args(&nodes, &leases)).await?;
    // The two real servers list each other. (They list the silent one too, as Kotlin does: a
    // server counts every peer it dialled as visible, answered or not.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let records = server_records(&nodes).await?;
        let real: Vec<_> = records.iter().filter(|r| r.id != record.id && r.status == NodeStatus::Active).collect();
        let meshed = real.len() == 2
            && real.iter().all(|r| real.iter().all(|o| o.id == r.id || r.visible_nodes.contains(&o.id)));
        if meshed {
            break;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the real servers did not mesh: {records:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut host = start_host("host", &logs, &first.endpoint, NAMESPACE).await?;
    let mut caller = start_caller("caller", &logs, &second.endpoint, NAMESPACE).await?;
    let warm = call("warm", ECHO, json!({"string": "warm"}), "ping", json!([]));
    call_until_ok(&mut caller, &warm, Duration::from_secs(60)).await?;
    let calls: Vec<_> = (0..20)
        .map(|i| {
            call(format!("c{i}"), ECHO, json!({"string": format!("k{i}")}), "echoString", json!([format!("v{i}")]))
        })
        .collect();
    let answers = call_all(&mut caller, &calls, Duration::from_secs(60)).await?;
    let ok = answers.values().filter(|a| a["ok"] == json!(true)).count();
    println!("hung peer {silent_url} listed ACTIVE: {ok}/20 calls across the two real servers answered");
    assert_eq!(ok, 20, "{answers:?}");
    let log = std::fs::read_to_string(logs.join("server-1-rust.log"))?;
    assert!(log.contains("SilentPeer000001"), "orbit-node should log its attempts to reach the silent peer");
    caller.close_stdin();
    caller.wait_exit(Duration::from_secs(30)).await?;
    host.terminate(Duration::from_secs(20)).await?;
    second.terminate(Duration::from_secs(20)).await?;
    first.terminate(Duration::from_secs(20)).await?;
    accepted.abort();
    Ok(())
}
