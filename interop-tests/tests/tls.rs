//! TLS where Kotlin cannot go, with certificates made at test time (rcgen):
//!
//! * orbit-node with a TLS listener requiring client certificates (mTLS) beside its plaintext
//!   port: a Rust host and a Rust caller over mTLS, a Kotlin caller over plaintext reaching the
//!   same Rust-hosted actor; a client trusting another CA, and a client without a certificate,
//!   refused with an error that says why; the certificate replaced on SIGHUP while the Rust
//!   clients' streams stay up;
//! * two orbit-nodes meshing over TLS while a Kotlin server in the same mesh stays on
//!   plaintext, calls crossing every link.

use std::time::Duration;

use orbit_client::{ClientBuilder, ClientConfig, ClientTls, IntoJvm, Key, OrbitClient};
use orbit_interop_tests::certs::{Issued, TestCa};
use orbit_interop_tests::etcd::EtcdServer;
use orbit_interop_tests::jvm::log_dir;
use orbit_interop_tests::mesh::settle;
use orbit_interop_tests::prometheus::{parse, scrape};
use orbit_interop_tests::rust_actors::with_echo_actors;
use orbit_interop_tests::scenario::{call, call_until_ok, start_caller, start_host};
use orbit_interop_tests::servers::{ServerKind, ServerProcess};
use orbit_test_support::free_port;
use serde_json::json;

const ECHO: &str = "orbit.harness.actors.EchoActor";

fn tls_client(endpoint: &str, namespace: &str, ca: &TestCa, identity: Option<&Issued>) -> ClientConfig {
    let tls = ClientTls {
        ca_pem: ca.pem().into_bytes(),
        identity: identity.map(|i| (i.cert_pem.clone().into_bytes(), i.key_pem.clone().into_bytes())),
        domain: None,
    };
    // One join attempt: a refused handshake must show at once, not after a minute of retries.
    ClientConfig { tls: Some(tls), join_attempts: 1, ..ClientConfig::new(endpoint, namespace) }
}

async fn echo(client: &OrbitClient, key: &str, text: &str) -> anyhow::Result<String> {
    Ok(client.actor(ECHO, Key::String(key.to_owned())).call::<String>("echoString", vec![text.into_argument()]).await?)
}

/// The value of a sample, 0 when absent.
async fn sample(metrics_port: u16, series: &str) -> anyhow::Result<f64> {
    let exposition = parse(&scrape(metrics_port, "/metrics").await?.body)?;
    Ok(exposition.samples.get(series).copied().unwrap_or(0.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_clients_over_mtls_beside_kotlin_plaintext() -> anyhow::Result<()> {
    let logs = log_dir("tls_clients")?;
    let ca = TestCa::new("orbit test CA")?;
    let other_ca = TestCa::new("another CA")?;
    let (server_cert, server_key) = ca.issue(&["localhost", "127.0.0.1"])?.write(&logs, "server")?;
    let client_ca = ca.write(&logs, "client-ca")?;
    let client_identity = ca.issue(&["orbit-client"])?;
    let (tls_port, metrics_port) = (free_port(), free_port());
    let (tls_port_text, metrics_text) = (tls_port.to_string(), metrics_port.to_string());
    let paths = [server_cert.display().to_string(), server_key.display().to_string(), client_ca.display().to_string()];
    let args = [
        "--tls-port",
        &tls_port_text,
        "--tls-cert",
        &paths[0],
        "--tls-key",
        &paths[1],
        "--tls-client-ca",
        &paths[2],
        "--metrics-port",
        &metrics_text,
    ];
    let mut server = ServerProcess::start_named(ServerKind::Rust, "server-rust", &logs, &args).await?;
    let tls_endpoint = format!("localhost:{tls_port}");

    // A Rust host and a Rust caller over mTLS.
    let host = with_echo_actors(ClientBuilder::new(tls_client(&tls_endpoint, "tls", &ca, Some(&client_identity))))
        .connect()
        .await?;
    let caller = ClientBuilder::new(tls_client(&tls_endpoint, "tls", &ca, Some(&client_identity))).connect().await?;
    assert_eq!(echo(&caller, "k1", "over mTLS").await?, "over mTLS");
    println!("Rust host and caller over mTLS: answered");

    // A Kotlin caller on the plaintext port reaches the same Rust-hosted actor.
    let mut kotlin = start_caller("kotlin-caller", &logs, &server.endpoint, "tls").await?;
    let plain = call("plain", ECHO, json!({"string": "k1"}), "echoString", json!(["over plaintext"]));
    let (answer, errors) = call_until_ok(&mut kotlin, &plain, Duration::from_secs(30)).await?;
    assert_eq!(answer["result"], json!("over plaintext"), "errors before: {errors:?}");
    println!("Kotlin caller over plaintext: answered by the Rust actor hosted over TLS");

    // A client that trusts another CA refuses the server's certificate.
    let wrong_ca =
        ClientBuilder::new(tls_client(&tls_endpoint, "tls", &other_ca, Some(&client_identity))).connect().await;
    let error = wrong_ca.err().map(|e| e.to_string()).unwrap_or_default();
    println!("client trusting another CA: {error}");
    assert!(error.contains("cannot join"), "refused: {error:?}");
    // A client without a certificate is refused by the server (mTLS).
    let anonymous = ClientBuilder::new(tls_client(&tls_endpoint, "tls", &ca, None)).connect().await;
    let error = anonymous.err().map(|e| e.to_string()).unwrap_or_default();
    println!("client without a certificate: {error}");
    assert!(error.contains("cannot join"), "refused: {error:?}");
    // A client whose certificate another CA signed is refused too.
    let stranger = other_ca.issue(&["stranger"])?;
    let forged = ClientBuilder::new(tls_client(&tls_endpoint, "tls", &ca, Some(&stranger))).connect().await;
    assert!(forged.is_err(), "a client certificate from another CA is refused");
    let failed = sample(metrics_port, "orbit_node_tls_handshakes_total{outcome=\"failed\"}").await?;
    let ok = sample(metrics_port, "orbit_node_tls_handshakes_total{outcome=\"ok\"}").await?;
    println!("handshakes: {ok} ok, {failed} failed");
    assert!(ok >= 2.0, "host and caller");
    assert!(failed >= 2.0, "the refused clients, as the server saw them");

    // The certificate is replaced (now signed by the other CA) and the node told with SIGHUP.
    other_ca.issue(&["localhost", "127.0.0.1"])?.write(&logs, "server")?;
    server.signal("HUP")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sample(metrics_port, "orbit_node_tls_reloads_total{outcome=\"ok\"}").await? < 1.0 {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "no reload after SIGHUP");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(logs.join("server-rust.log"))?;
    assert!(
        log.lines().any(|l| l.contains("TLS certificate reloaded") && l.contains("SIGHUP")),
        "the reload came from SIGHUP (the file watcher waits for the files to settle)"
    );
    // The streams opened before the reload still carry calls both ways.
    assert_eq!(echo(&caller, "k1", "after reload").await?, "after reload");
    assert_eq!(echo(&caller, "k2", "new actor, old stream").await?, "new actor, old stream");
    // New clients must trust the new CA.
    let stale = ClientBuilder::new(tls_client(&tls_endpoint, "tls", &ca, Some(&client_identity))).connect().await;
    assert!(stale.is_err(), "the old CA no longer verifies the server");
    let fresh =
        ClientBuilder::new(tls_client(&tls_endpoint, "tls", &other_ca, Some(&client_identity))).connect().await?;
    assert_eq!(echo(&fresh, "k1", "new certificate").await?, "new certificate");
    println!("certificate reloaded on SIGHUP: old streams kept, new clients verified against the new CA");

    fresh.stop().await;
    caller.stop().await;
    host.stop().await;
    kotlin.close_stdin();
    kotlin.wait_exit(Duration::from_secs(30)).await?;
    server.terminate(Duration::from_secs(20)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orbit_nodes_mesh_over_tls_beside_a_plaintext_kotlin_server() -> anyhow::Result<()> {
    let logs = log_dir("tls_mesh")?;
    let nodes = EtcdServer::start("nodes", &logs).await?;
    let leases = EtcdServer::start("leases", &logs).await?;
    let ca = TestCa::new("orbit mesh CA")?;
    let ca_path = ca.write(&logs, "mesh-ca")?.display().to_string();
    let mut servers = Vec::new();
    let mut metrics_ports = Vec::new();
    for index in 0..2 {
        let (cert, key) = ca.issue(&["127.0.0.1", "localhost"])?.write(&logs, &format!("node-{index}"))?;
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let (tls_port, metrics_port) = (free_port().to_string(), free_port());
        let metrics_text = metrics_port.to_string();
        let args = [
            "--etcd-node-url",
            &nodes.url,
            "--etcd-addressable-url",
            &leases.url,
            "--tls-port",
            &tls_port,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &ca_path,
            "--tls-peer-ca",
            &ca_path,
            "--metrics-port",
            &metrics_text,
        ];
        let name = format!("server-{index}-rust");
        servers.push(ServerProcess::start_named(ServerKind::Rust, &name, &logs, &args).await?);
        metrics_ports.push(metrics_port);
    }
    let kotlin_args = ["--etcd-node-url", &nodes.url, "--etcd-addressable-url", &leases.url];
    servers.push(ServerProcess::start_named(ServerKind::Kotlin, "server-2-kotlin", &logs, &kotlin_args).await?);
    // A Kotlin server can lose its own ACTIVE write and stay STARTING (spec 15.2 #2): `settle`
    // restarts it, as the other mesh tests do.
    let mut slots: Vec<Option<ServerProcess>> = servers.into_iter().map(Some).collect();
    settle(&nodes, &mut slots, |index, kind| {
        let (logs, args) = (logs.clone(), kotlin_args.map(str::to_owned));
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ServerProcess::start_named(kind, &format!("server-{index}-kotlin-restarted"), &logs, &args).await
        }
    })
    .await?;
    let mut servers: Vec<ServerProcess> = slots.into_iter().flatten().collect();

    // A Kotlin host on the first orbit-node; callers on the second orbit-node and on Kotlin.
    let mut host = start_host("host", &logs, &servers[0].endpoint, "mesh").await?;
    let mut via_rust = start_caller("caller-rust", &logs, &servers[1].endpoint, "mesh").await?;
    let mut via_kotlin = start_caller("caller-kotlin", &logs, &servers[2].endpoint, "mesh").await?;
    for (caller, label) in [(&mut via_rust, "via orbit-node"), (&mut via_kotlin, "via Kotlin")] {
        for i in 0..5 {
            let request = call(format!("c{i}"), ECHO, json!({"string": format!("k{i}")}), "echoString", json!([label]));
            let (answer, errors) = call_until_ok(caller, &request, Duration::from_secs(60)).await?;
            assert_eq!(answer["result"], json!(label), "errors before: {errors:?}");
        }
    }
    println!("10 calls answered across the mesh (5 through each caller's server)");

    // Links between orbit-nodes are TLS; links to the Kotlin server are plaintext.
    for (index, name) in ["server-0-rust", "server-1-rust"].iter().enumerate() {
        let log = std::fs::read_to_string(logs.join(format!("{name}.log")))?;
        let opened: Vec<&str> = log.lines().filter(|l| l.contains("peer stream open")).collect();
        println!("{name}: {opened:#?}");
        let other = &servers[1 - index].endpoint;
        let kotlin = &servers[2].endpoint;
        let other_port = other.rsplit(':').next().unwrap_or_default();
        assert!(
            opened.iter().any(|l| l.contains("transport=\"tls\"") || l.contains("transport=tls")),
            "{name} opened a TLS link (to {other}): {opened:?}"
        );
        assert!(
            opened.iter().any(|l| l.contains(&format!("http://{kotlin}")) && l.contains("plaintext")),
            "{name} reached the Kotlin server ({kotlin}) in plaintext: {opened:?}"
        );
        assert!(
            !opened.iter().any(|l| l.contains(&format!(":{other_port}")) && l.contains("plaintext")),
            "{name} never used plaintext to the other orbit-node: {opened:?}"
        );
        let handshakes = sample(metrics_ports[index], "orbit_node_tls_handshakes_total{outcome=\"ok\"}").await?;
        assert!(handshakes >= 1.0, "{name} accepted the other orbit-node's TLS link");
    }

    for caller in [&mut via_rust, &mut via_kotlin] {
        caller.close_stdin();
        caller.wait_exit(Duration::from_secs(30)).await?;
    }
    host.terminate(Duration::from_secs(20)).await?;
    for server in &mut servers {
        server.terminate(Duration::from_secs(20)).await?;
    }
    Ok(())
}
