//! Operators' configuration paths on both servers: the real Kotlin launcher
//! (`orbit.application.AppKt`) and orbit-node read the same settings file (`ORBIT_SETTINGS`)
//! and the same inline settings (`ORBIT_SETTINGS_RAW`, which wins over the file), with
//! `${VAR:-default}` interpolation, and end up with the same lease durations, as a client
//! joining the cluster sees them.

use std::time::Duration;

use compat_proto::pb;
use orbit_interop_tests::jvm::log_dir;
use orbit_interop_tests::prometheus::scrape;
use orbit_interop_tests::raw::connect;
use orbit_interop_tests::servers::{Launch, ServerKind, ServerProcess};
use orbit_test_support::{free_port, with_identity};

/// What a client sees of a server's configuration.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// Node lease: whole seconds from `renewAt` to `expiresAt`.
    node_renew_to_expiry: i64,
    /// Whole seconds from the end and from the start of the join call to `expiresAt`: the lease
    /// length lies between them (a join that takes over a second, as a busy JVM's first call
    /// can, widens the range).
    node_expires_in: (i64, i64),
    /// Whether `/metrics` answered on the port the settings named.
    metrics_served: bool,
}

fn settings(node_lease: u32, metrics_port_variable: &str) -> String {
    format!(
        r#"{{
  "serverInfo": {{ "port": "${{ORBIT_PORT:-50056}}", "url": "${{ORBIT_URL:-localhost:50056}}" }},
  "tickRate": 1,
  "pipelineRailCount": 32,
  "pipelineBufferCount": 10000,
  "acquireShutdownLatch": true,
  "nodeLeaseDuration": {{ "leaseDuration": {node_lease} }},
  "addressableLeaseDuration": {{ "leaseDuration": 600 }},
  "meterRegistry": [
    "orbit.server.prometheus.PrometheusMetrics$PrometheusMetricsConfig",
    {{ "url": "/metrics", "port": "${{{metrics_port_variable}:-8080}}" }}
  ]
}}"#
    )
}

async fn observe(kind: ServerKind, launch: &Launch, metrics_port: u16, case: &str) -> anyhow::Result<Seen> {
    let logs = log_dir(&format!("configuration_{case}_{}", kind.name()))?;
    let mut server = ServerProcess::launch(kind, &logs, launch).await?;
    let channel = connect(&server.endpoint).await?;
    let mut management = pb::node_management_client::NodeManagementClient::new(channel);
    let before = now_seconds();
    let reply = management
        .join_cluster(with_identity(
            pb::JoinClusterRequestProto { capabilities: Some(pb::CapabilitiesProto { addressable_types: vec![] }) },
            Some("configuration"),
            None,
        ))
        .await?
        .into_inner();
    let after = now_seconds();
    anyhow::ensure!(reply.status == 0, "join failed: {}", reply.error_description);
    let lease = reply.info.and_then(|i| i.lease).ok_or_else(|| anyhow::anyhow!("no lease in the join reply"))?;
    let seconds = |t: Option<prost_types::Timestamp>| t.map_or(0, |t| t.seconds);
    let seen = Seen {
        node_renew_to_expiry: seconds(lease.expires_at) - seconds(lease.renew_at),
        node_expires_in: (seconds(lease.expires_at) - after, seconds(lease.expires_at) - before),
        metrics_served: scrape(metrics_port, "/metrics").await.is_ok_and(|s| s.body.contains("orbit_node_count")),
    };
    server.terminate(Duration::from_secs(20)).await?;
    Ok(seen)
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether the join's lease was `seconds` long: `expiresAt` is the server's clock during the
/// call plus the lease, in whole seconds (one second of slack for the rounding).
fn lease_of(seen: &Seen, seconds: i64) -> bool {
    let (at_least, at_most) = seen.node_expires_in;
    at_least - 1 <= seconds && seconds <= at_most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_servers_read_the_launcher_settings_alike() -> anyhow::Result<()> {
    let dir = log_dir("configuration")?;
    for kind in [ServerKind::Kotlin, ServerKind::Rust] {
        // A settings file (ORBIT_SETTINGS), as the Helm chart mounts it: a 30 s node lease.
        let file_port = free_port();
        let file = dir.join(format!("settings-{}.json", kind.name()));
        std::fs::write(&file, settings(30, "FILE_METRICS_PORT"))?;
        let from_file = Launch {
            settings_file: Some(file.clone()),
            env: vec![("FILE_METRICS_PORT".to_owned(), file_port.to_string())],
            ..Launch::default()
        };
        let seen = observe(kind, &from_file, file_port, "file").await?;
        println!("{} with ORBIT_SETTINGS: {seen:?}", kind.name());
        assert_eq!(seen.node_renew_to_expiry, 15, "{}: renew half-way through a 30 s lease", kind.name());
        assert!(lease_of(&seen, 30), "{}: a 30 s lease: {seen:?}", kind.name());
        assert!(seen.metrics_served, "{}: metrics on the configured port", kind.name());

        // ORBIT_SETTINGS_RAW wins over ORBIT_SETTINGS: a 20 s lease and another metrics port.
        let raw_port = free_port();
        let both = Launch {
            settings_raw: Some(settings(20, "RAW_METRICS_PORT")),
            settings_file: Some(file),
            env: vec![
                ("FILE_METRICS_PORT".to_owned(), free_port().to_string()),
                ("RAW_METRICS_PORT".to_owned(), raw_port.to_string()),
            ],
            port: None,
        };
        let seen = observe(kind, &both, raw_port, "raw").await?;
        println!("{} with ORBIT_SETTINGS_RAW and ORBIT_SETTINGS: {seen:?}", kind.name());
        assert_eq!(seen.node_renew_to_expiry, 10, "{}: the inline settings won", kind.name());
        assert!(lease_of(&seen, 20), "{}: a 20 s lease: {seen:?}", kind.name());
        assert!(seen.metrics_served, "{}: metrics on the inline settings' port", kind.name());
    }
    Ok(())
}
