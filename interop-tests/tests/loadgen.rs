//! The load generator (`orbit-load`) works against both servers: a few seconds of every kind
//! of load it makes (raw streams and the client runtime, closed and open loop, Rust hosts and
//! Kotlin hosts), each call answered with its payload and the counts adding up. It measures
//! nothing here: the figures belong to `scripts/bench.sh`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use orbit_interop_tests::jvm::log_dir;
use orbit_interop_tests::scenario::start_host;
use orbit_interop_tests::servers::{ServerKind, ServerProcess, workspace_binary};
use serde_json::Value;

/// The `orbit-load` binary: `$ORBIT_LOAD_BIN` or `target/debug/orbit-load`.
fn orbit_load_binary() -> anyhow::Result<PathBuf> {
    workspace_binary("orbit-load", "ORBIT_LOAD_BIN", "orbit-loadgen")
}

/// Runs `orbit-load` against `server` with `args` and returns its JSON result.
async fn load(logs: &Path, name: &str, server: &str, args: &[&str]) -> anyhow::Result<Value> {
    let json = logs.join(format!("{name}.json"));
    let output = tokio::process::Command::new(orbit_load_binary()?)
        .args(["--server", server, "--namespace", name, "--warmup-seconds", "1", "--duration-seconds", "2"])
        .args(["--quiet", "--json"])
        .arg(&json)
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output).await.context("orbit-load hung")??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{name} ({}):\n{stdout}", args.join(" "));
    anyhow::ensure!(
        output.status.success(),
        "orbit-load {name} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_str(&std::fs::read_to_string(&json)?)?)
}

fn count(result: &Value, field: &str) -> u64 {
    result[field].as_u64().unwrap_or(u64::MAX)
}

/// Every measured call answered correctly, none lost, and the counts add up.
fn check(name: &str, result: &Value) {
    let (calls, ok) = (count(result, "calls"), count(result, "ok"));
    assert!(ok > 0, "{name}: {result}");
    assert_eq!(count(result, "errors"), 0, "{name}: {result}");
    assert_eq!(count(result, "wrong"), 0, "{name}: {result}");
    assert_eq!(count(result, "unanswered"), 0, "{name}: {result}");
    assert_eq!(ok, calls, "{name}: {result}");
    assert!(result["latency_us"]["p50"].as_u64().unwrap_or(0) > 0, "{name}: {result}");
    assert!(result["latency_us"]["p99"].as_u64() >= result["latency_us"]["p50"].as_u64(), "{name}: {result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_drives_both_servers() -> anyhow::Result<()> {
    for kind in [ServerKind::Rust, ServerKind::Kotlin] {
        let logs = log_dir(&format!("loadgen_{}", kind.name()))?;
        let mut server = ServerProcess::start(kind, &logs, &[]).await?;
        let endpoint = server.endpoint.clone();
        let prefix = kind.name();
        for (mode, shape) in [("raw", "closed"), ("raw", "open"), ("client", "closed"), ("client", "open")] {
            let name = format!("{prefix}-{mode}-{shape}");
            let mut args = vec!["--mode", mode, "--hosts", "2", "--callers", "2", "--actors", "100"];
            args.extend_from_slice(if shape == "closed" { &["--in-flight", "16"] } else { &["--rate", "200"] });
            let result = load(&logs, &name, &endpoint, &args).await?;
            check(&name, &result);
            if shape == "open" {
                // 200 calls/s for 2 s: the schedule, not the answers, sets the count.
                let calls = count(&result, "calls");
                assert!((398..=402).contains(&calls), "{name}: {calls} calls due in 2 s at 200/s");
            }
        }
        // Rust callers, Kotlin hosts (the harness's EchoActor).
        let name = format!("{prefix}-kotlin-hosts");
        let mut host = start_host("kotlin-host", &logs, &endpoint, &name).await?;
        let result = load(&logs, &name, &endpoint, &["--mode", "raw", "--hosts", "0", "--actors", "50"]).await?;
        check(&name, &result);
        host.terminate(Duration::from_secs(30)).await?;
        server.terminate(Duration::from_secs(20)).await?;
    }
    Ok(())
}
