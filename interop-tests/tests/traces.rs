//! Traces across a mesh: two orbit-nodes on real etcd stores export their per-hop spans to an
//! OTLP collector; one invocation from a Kotlin caller on the first server to a Kotlin host on
//! the second must show, on each server, the request's `receive` (with `place` and `forward`
//! or `deliver` inside) and the answer's `reply`, all in one trace: Orbit messages carry no
//! trace headers, so each node derives the trace id from the caller's node id and the message
//! id (see `orbit_node::telemetry`). A Kotlin server exports nothing and links nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use orbit_interop_tests::etcd::EtcdServer;
use orbit_interop_tests::jvm::log_dir;
use orbit_interop_tests::mesh::wait_meshed;
use orbit_interop_tests::otlp::{Collector, ExportedSpan};
use orbit_interop_tests::scenario::{call, call_until_ok, start_caller, start_host};
use orbit_interop_tests::servers::{ServerKind, ServerProcess};
use serde_json::json;

const NAMESPACE: &str = "traces";
const ECHO: &str = "orbit.harness.actors.EchoActor";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invocation_is_one_trace_across_rust_servers() -> anyhow::Result<()> {
    let logs = log_dir("traces")?;
    let nodes = EtcdServer::start("nodes", &logs).await?;
    let leases = EtcdServer::start("leases", &logs).await?;
    let collector = Collector::start().await?;
    let args = [
        "--etcd-node-url",
        &nodes.url,
        "--etcd-addressable-url",
        &leases.url,
        "--otlp-endpoint",
        &collector.endpoint,
        "--log-format",
        "json",
    ];
    let mut first = ServerProcess::start_named(ServerKind::Rust, "server-0-rust", &logs, &args).await?;
    let mut second = ServerProcess::start_named(ServerKind::Rust, "server-1-rust", &logs, &args).await?;
    wait_meshed(&nodes, 2, Duration::from_secs(60)).await?;

    let mut host = start_host("host", &logs, &second.endpoint, NAMESPACE).await?;
    let mut caller = start_caller("caller", &logs, &first.endpoint, NAMESPACE).await?;
    let traced = call("traced", ECHO, json!({"string": "traced-key"}), "echoString", json!(["across"]));
    let (answer, errors) = call_until_ok(&mut caller, &traced, Duration::from_secs(60)).await?;
    assert_eq!(answer["result"], json!("across"), "errors before: {errors:?}");
    caller.close_stdin();
    caller.wait_exit(Duration::from_secs(30)).await?;
    host.terminate(Duration::from_secs(20)).await?;
    // A graceful stop flushes what the exporters still buffer.
    first.terminate(Duration::from_secs(20)).await?;
    second.terminate(Duration::from_secs(20)).await?;

    let spans = collector.spans();
    println!("{} spans exported", spans.len());
    // The request's first span: `receive` of the invocation at the caller's server.
    let requests: Vec<&ExportedSpan> =
        spans.iter().filter(|s| s.name == "receive" && s.attribute("orbit.reference").contains("traced-key")).collect();
    anyhow::ensure!(!requests.is_empty(), "no receive span of the traced call: {spans:#?}");
    // The call may have been retried while the mesh settled: take the trace of the try that
    // was answered (its reply was delivered to the caller by the first server).
    let answered = |trace_id: &str| {
        spans.iter().any(|s| s.trace_id == trace_id && s.instance == first.endpoint && s.name == "deliver")
            && spans.iter().any(|s| s.trace_id == trace_id && s.instance == first.endpoint && s.name == "reply")
    };
    let trace_id = requests.iter().map(|s| s.trace_id.clone()).find(|t| answered(t)).unwrap_or_default();
    let trace: Vec<&ExportedSpan> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    println!("trace {trace_id}:");
    println!("| server | span | span id | parent | attributes |");
    println!("|---|---|---|---|---|");
    for span in &trace {
        let attributes: Vec<String> =
            span.attributes.iter().filter(|(k, _)| k.starts_with("orbit.")).map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "| {} | {} | {} | {} | {} |",
            span.instance,
            span.name,
            span.span_id,
            span.parent_span_id,
            attributes.join(" ")
        );
    }
    let at = |server: &ServerProcess, name: &str| {
        trace.iter().filter(|s| s.instance == server.endpoint && s.name == name).count()
    };
    // At the caller's server: the request arrives, is placed on the other server and forwarded;
    // the reply comes back from it and is delivered to the caller.
    assert!(at(&first, "receive") >= 1 && at(&first, "place") >= 1, "request at the first server");
    assert!(at(&first, "forward") >= 1, "forwarded to the host's server");
    assert!(at(&first, "reply") >= 1 && at(&first, "deliver") >= 1, "reply delivered to the caller");
    // At the host's server: the forwarded request is received and delivered to the host; the
    // host's reply is received and forwarded back.
    assert!(at(&second, "receive") >= 1 && at(&second, "deliver") >= 1, "request at the second server");
    assert!(at(&second, "reply") >= 1 && at(&second, "forward") >= 1, "reply at the second server");
    // Every span of the trace carries the same message id.
    let message_ids: BTreeSet<&str> =
        trace.iter().filter_map(|s| s.attributes.get("orbit.message_id").map(String::as_str)).collect();
    assert_eq!(message_ids.len(), 1, "one message id in the trace: {message_ids:?}");
    // Steps nest inside their hop span.
    let hop_ids: BTreeSet<&str> =
        trace.iter().filter(|s| s.name == "receive" || s.name == "reply").map(|s| s.span_id.as_str()).collect();
    for step in trace.iter().filter(|s| ["place", "forward", "deliver"].contains(&s.name.as_str())) {
        assert!(hop_ids.contains(step.parent_span_id.as_str()), "{} inside a hop span", step.name);
    }
    // The JSON log lines are one object each.
    let log = std::fs::read_to_string(logs.join("server-0-rust.log"))?;
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let parsed: serde_json::Value = serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{e}: {line}"))?;
        assert!(parsed["level"].is_string() && parsed["fields"].is_object(), "{line}");
    }
    println!("{} JSON log lines from server 0", lines.len());
    Ok(())
}
