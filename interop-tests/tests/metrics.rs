//! Metrics compared with a real Kotlin scrape: the Kotlin server started by its real launcher
//! with `orbit-server-prometheus` (the settings JSON's `meterRegistry` entry, as the Kotlin
//! image and Helm chart configure it) and orbit-node started the same way get the same
//! traffic; their scrapes must expose the same meter names, types and label sets, the same
//! values for the meters that count state, and the same direction of every other value.
//! Kotlin dashboards and alerts then keep working on a Rust node.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use orbit_interop_tests::jvm::log_dir;
use orbit_interop_tests::prometheus::{Direction, Exposition, Scrape, parse, scrape};
use orbit_interop_tests::scenario::{call, call_all, start_caller, start_host};
use orbit_interop_tests::servers::{Launch, ServerKind, ServerProcess};
use orbit_test_support::free_port;
use serde_json::json;

const NAMESPACE: &str = "metrics";
const ECHO: &str = "orbit.harness.actors.EchoActor";

/// The settings the Kotlin image's docker-compose file uses for metrics, with the port taken
/// from the environment through the launcher's `${VAR:-default}` interpolation.
const SETTINGS: &str = r#"{
  "serverInfo": { "port": "${ORBIT_PORT:-50056}", "url": "${ORBIT_URL:-localhost:50056}" },
  "meterRegistry": [
    "orbit.server.prometheus.PrometheusMetrics$PrometheusMetricsConfig",
    { "url": "/metrics", "port": "${TEST_METRICS_PORT:-8080}" }
  ]
}"#;

/// The gauges that count state: after the same traffic both servers must show the same value.
const STATE_GAUGES: [&str; 4] =
    ["orbit_connected_clients", "orbit_connected_nodes", "orbit_node_count", "orbit_addressable_count"];

struct Observation {
    before: Exposition,
    after: Scrape,
    after_parsed: Exposition,
    /// The `orbit_node_*` families only orbit-node has, taken out of `before` and `after_parsed`.
    rust_only: Exposition,
    /// The status line of a request outside the metrics context.
    outside_context: String,
}

/// Moves the families only orbit-node exposes (and their samples) out of `exposition`.
fn take_rust_only(exposition: &mut Exposition) -> Exposition {
    let mut taken = Exposition::default();
    for name in orbit_node::metrics::RUST_ONLY_FAMILIES {
        if let Some(family) = exposition.families.remove(name) {
            taken.families.insert(name.to_owned(), family);
        }
    }
    let (rust_only, kept) = std::mem::take(&mut exposition.samples)
        .into_iter()
        .partition(|(series, _)| taken.families.keys().any(|name| series.starts_with(name.as_str())));
    exposition.samples = kept;
    taken.samples = rust_only;
    taken
}

async fn observe(kind: ServerKind) -> anyhow::Result<Observation> {
    let logs = log_dir(&format!("metrics_{}", kind.name()))?;
    let metrics_port = free_port();
    let launch = Launch {
        settings_raw: Some(SETTINGS.to_owned()),
        env: vec![("TEST_METRICS_PORT".to_owned(), metrics_port.to_string())],
        ..Launch::default()
    };
    let mut server = ServerProcess::launch(kind, &logs, &launch).await?;
    println!("{} server at {}, metrics on :{metrics_port}; logs in {}", kind.name(), server.endpoint, logs.display());
    let mut before = parse(&scrape(metrics_port, "/metrics").await?.body)?;
    take_rust_only(&mut before);
    let outside_context = match scrape(metrics_port, "/other").await {
        Ok(answer) => format!("200 {}", answer.content_type),
        Err(error) => error.to_string(),
    };

    let mut host = start_host("host", &logs, &server.endpoint, NAMESPACE).await?;
    let mut caller = start_caller("caller", &logs, &server.endpoint, NAMESPACE).await?;
    // 5 actors, 4 calls each, and one call that throws in the actor.
    let mut calls: Vec<_> = (0..20)
        .map(|i| call(format!("c{i}"), ECHO, json!({"string": format!("k{}", i % 5)}), "echoString", json!(["x"])))
        .collect();
    calls.push(call("fail", ECHO, json!({"string": "k0"}), "fail", json!(["on purpose"])));
    let answers = call_all(&mut caller, &calls, Duration::from_secs(60)).await?;
    anyhow::ensure!(answers.len() == 21, "every call answered: {answers:?}");
    anyhow::ensure!(
        answers.iter().filter(|(id, _)| id.starts_with('c')).all(|(_, a)| a["result"] == json!("x")),
        "{answers:?}"
    );
    // Let a few ticks pass (tick timer, directory gauges), with both clients still connected.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = scrape(metrics_port, "/metrics").await?;
    let mut after_parsed = parse(&after.body)?;
    let rust_only = take_rust_only(&mut after_parsed);

    caller.close_stdin();
    caller.wait_exit(Duration::from_secs(30)).await?;
    host.terminate(Duration::from_secs(30)).await?;
    server.terminate(Duration::from_secs(20)).await?;
    Ok(Observation { before, after, after_parsed, rust_only, outside_context })
}

/// How each series moved. A `_max` is a windowed maximum: whether it moved depends on which
/// tick or call happened to be slowest, so for it only "something was recorded" (non-zero)
/// counts, which is what an alert on it looks at.
fn directions(o: &Observation) -> BTreeMap<String, Direction> {
    o.after_parsed
        .samples
        .iter()
        .map(|(series, after)| {
            let direction = if series.ends_with("_max") {
                if *after > 0.0 { Direction::Up } else { Direction::Same }
            } else {
                Direction::of(o.before.samples.get(series).copied(), *after)
            };
            (series.clone(), direction)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_match_a_real_kotlin_scrape() -> anyhow::Result<()> {
    let kotlin = observe(ServerKind::Kotlin).await?;
    let rust = observe(ServerKind::Rust).await?;

    let (kd, rd) = (directions(&kotlin), directions(&rust));
    println!("| series | type | kotlin before → after | rust before → after | direction |");
    println!("|---|---|---:|---:|---|");
    let all: BTreeSet<&String> = kd.keys().chain(rd.keys()).collect();
    for series in &all {
        let kind = |o: &Observation| {
            o.after_parsed
                .families
                .iter()
                .filter(|(name, _)| series.starts_with(name.as_str()))
                .max_by_key(|(name, _)| name.len())
                .map(|(_, f)| f.kind.clone())
                .unwrap_or_default()
        };
        let show = |o: &Observation| {
            format!(
                "{} → {}",
                o.before.samples.get(*series).map_or("-".to_owned(), |v| format!("{v}")),
                o.after_parsed.samples.get(*series).map_or("-".to_owned(), |v| format!("{v}"))
            )
        };
        println!(
            "| {series} | {} | {} | {} | {:?} / {:?} |",
            kind(&kotlin),
            show(&kotlin),
            show(&rust),
            kd.get(*series),
            rd.get(*series)
        );
    }

    assert_eq!(rust.after.content_type, kotlin.after.content_type, "Content-Type of the scrape");
    // Meter names, types and label sets, before the traffic (Micrometer creates some meters
    // on first use) and after it.
    assert_eq!(rust.before.families, kotlin.before.families, "families before the traffic");
    assert_eq!(rust.after_parsed.families, kotlin.after_parsed.families, "families (name, type, label sets)");
    assert!(kotlin.after_parsed.families.len() >= 15, "Kotlin exposes its orbit meters: {:?}", kotlin.after_parsed);
    // Every series moves the same way: up where traffic counted something, unchanged where not
    // (a `_max`: non-zero where something was recorded).
    assert_eq!(rd, kd, "direction of every series (before vs after the traffic)");
    // The meters that count state agree exactly.
    for gauge in STATE_GAUGES {
        assert_eq!(rust.after_parsed.samples.get(gauge), kotlin.after_parsed.samples.get(gauge), "{gauge}");
    }
    // Outside the context both answer 404.
    assert!(kotlin.outside_context.contains("404"), "kotlin: {}", kotlin.outside_context);
    assert!(rust.outside_context.contains("404"), "rust: {}", rust.outside_context);
    // Kotlin has none of the Rust-only families; orbit-node counted this traffic in them.
    assert!(kotlin.rust_only.families.is_empty(), "{:?}", kotlin.rust_only);
    println!("rust-only samples: {:?}", rust.rust_only.samples);
    let rust_only = |series: &str| rust.rust_only.samples.get(series).copied();
    assert!(
        rust_only("orbit_node_forwarded_messages_total{route=\"clients\"}").is_some_and(|v| v >= 42.0),
        "21 requests and 21 replies handed to client streams"
    );
    assert_eq!(rust_only("orbit_node_streams{kind=\"client\"}"), Some(2.0), "host and caller");
    assert_eq!(rust_only("orbit_node_streams{kind=\"peer_in\"}"), Some(0.0));
    assert_eq!(rust_only("orbit_node_pipeline_in_flight"), Some(0.0), "nothing in flight once answered");
    assert_eq!(rust_only("orbit_node_pipeline_rejected_total"), Some(0.0));
    // And the traffic was seen at all.
    for series in ["orbit_message_sizes_count", "orbit_placement_timer_seconds_count", "orbit_tick_timer_seconds_count"]
    {
        assert_eq!(kd.get(series), Some(&Direction::Up), "kotlin {series}");
    }
    Ok(())
}

/// The settings of one mesh server: the etcd directories and the Prometheus endpoint, as the
/// Helm chart's settings file gives them.
fn mesh_settings(node_etcd: &str, lease_etcd: &str, metrics_port: u16) -> String {
    format!(
        r#"{{
  "serverInfo": {{ "port": "${{ORBIT_PORT:-50056}}", "url": "${{ORBIT_URL:-localhost:50056}}" }},
  "nodeDirectory": ["orbit.server.etcd.EtcdNodeDirectory$EtcdNodeDirectoryConfig", {{ "url": "{node_etcd}" }}],
  "addressableDirectory": ["orbit.server.etcd.EtcdAddressableDirectory$EtcdAddressableDirectoryConfig", {{ "url": "{lease_etcd}" }}],
  "meterRegistry": ["orbit.server.prometheus.PrometheusMetrics$PrometheusMetricsConfig", {{ "url": "/metrics", "port": {metrics_port} }}]
}}"#
    )
}

/// What one server of a two-server mesh exposes after the traffic.
struct MeshScrape {
    kind: ServerKind,
    families: BTreeMap<String, orbit_interop_tests::prometheus::Family>,
    gauges: BTreeMap<&'static str, Option<f64>>,
}

/// A two-server mesh of `kinds` on fresh etcd stores, a host on the first server and a caller
/// on the second, 5 actors called 4 times each; then both servers' scrapes.
async fn observe_mesh(kinds: [ServerKind; 2]) -> anyhow::Result<Vec<MeshScrape>> {
    use orbit_interop_tests::etcd::EtcdServer;
    let lineup = format!("{}{}", kinds[0].name(), kinds[1].name());
    let logs = log_dir(&format!("metrics_mesh_{lineup}"))?;
    let nodes = EtcdServer::start("nodes", &logs).await?;
    let leases = EtcdServer::start("leases", &logs).await?;
    let mut slots = Vec::new();
    let mut ports = Vec::new();
    for (index, kind) in kinds.iter().enumerate() {
        let metrics_port = free_port();
        let launch =
            Launch { settings_raw: Some(mesh_settings(&nodes.url, &leases.url, metrics_port)), ..Launch::default() };
        let name = format!("server-{index}-{}", kind.name());
        slots.push(Some(ServerProcess::launch_named(*kind, &name, &logs, &launch).await?));
        ports.push(metrics_port);
    }
    // A Kotlin server stuck STARTING (spec 15.2 #2) is restarted on the same metrics port.
    orbit_interop_tests::mesh::settle(&nodes, &mut slots, |index, kind| {
        let launch =
            Launch { settings_raw: Some(mesh_settings(&nodes.url, &leases.url, ports[index])), ..Launch::default() };
        let logs = logs.clone();
        async move { ServerProcess::launch_named(kind, &format!("server-{index}-restarted"), &logs, &launch).await }
    })
    .await?;
    let mut servers: Vec<ServerProcess> = slots.into_iter().flatten().collect();
    let mut host = start_host("host", &logs, &servers[0].endpoint, NAMESPACE).await?;
    let mut caller = start_caller("caller", &logs, &servers[1].endpoint, NAMESPACE).await?;
    let calls: Vec<_> = (0..20)
        .map(|i| call(format!("c{i}"), ECHO, json!({"string": format!("k{}", i % 5)}), "echoString", json!(["x"])))
        .collect();
    let answers = call_all(&mut caller, &calls, Duration::from_secs(60)).await?;
    anyhow::ensure!(answers.iter().all(|(_, a)| a["result"] == json!("x")), "{lineup}: {answers:?}");
    // Two ticks for the directory gauges, with both clients still connected.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut scrapes = Vec::new();
    for (kind, port) in kinds.iter().zip(&ports) {
        let mut exposition = parse(&scrape(*port, "/metrics").await?.body)?;
        take_rust_only(&mut exposition);
        let gauges = STATE_GAUGES.iter().map(|g| (*g, exposition.samples.get(*g).copied())).collect();
        scrapes.push(MeshScrape { kind: *kind, families: exposition.families, gauges });
    }
    caller.close_stdin();
    caller.wait_exit(Duration::from_secs(30)).await?;
    host.terminate(Duration::from_secs(30)).await?;
    for server in &mut servers {
        server.terminate(Duration::from_secs(20)).await?;
    }
    Ok(scrapes)
}

/// Spec 13 in a mesh: on shared etcd stores, every server counts every key of each store and
/// its peer streams as Kotlin's do, whichever kind its peer is. The K+R line-up shows a Kotlin
/// and a Rust server reading the same stores side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesh_gauges_match_kotlin() -> anyhow::Result<()> {
    let lineups = [
        [ServerKind::Kotlin, ServerKind::Kotlin],
        [ServerKind::Rust, ServerKind::Rust],
        [ServerKind::Kotlin, ServerKind::Rust],
    ];
    let mut observed = Vec::new();
    for kinds in lineups {
        observed.push(observe_mesh(kinds).await?);
    }
    println!("| line-up | server | {} |", STATE_GAUGES.join(" | "));
    println!("|---|---|{}", "---:|".repeat(STATE_GAUGES.len()));
    for (kinds, scrapes) in lineups.iter().zip(&observed) {
        for (index, scrape) in scrapes.iter().enumerate() {
            let values: Vec<String> =
                STATE_GAUGES.iter().map(|g| scrape.gauges[g].map_or("-".to_owned(), |v| v.to_string())).collect();
            println!(
                "| {}+{} | {index} ({}) | {} |",
                kinds[0].name(),
                kinds[1].name(),
                scrape.kind.name(),
                values.join(" | ")
            );
        }
    }
    let reference = &observed[0];
    for (kinds, scrapes) in lineups.iter().zip(&observed).skip(1) {
        for (index, scrape) in scrapes.iter().enumerate() {
            let name = format!("{}+{} server {index}", kinds[0].name(), kinds[1].name());
            assert_eq!(scrape.gauges, reference[index].gauges, "{name}: state gauges as in K+K");
            assert_eq!(scrape.families, reference[index].families, "{name}: families as in K+K");
        }
    }
    // The reference itself: 2 servers and 2 clients in the node store, 5 leases, one peer each.
    for scrape in reference {
        assert_eq!(scrape.gauges["orbit_node_count"], Some(4.0));
        assert_eq!(scrape.gauges["orbit_addressable_count"], Some(5.0));
        assert_eq!(scrape.gauges["orbit_connected_nodes"], Some(1.0));
    }
    Ok(())
}
