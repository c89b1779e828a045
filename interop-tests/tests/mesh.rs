//! Mixed Kotlin/Rust server meshes on shared etcd directories, with real Kotlin clients
//! attached to different servers. Each scenario is written once and run over the line-ups
//! K+K (the reference), R+R, K+R, R+K and K+R+K; every line-up must observe what K+K observes.

use std::collections::BTreeMap;
use std::time::Duration;

use orbit_interop_tests::mesh::{Mesh, lineup_name};
use orbit_interop_tests::rust_actors::with_echo_actors;
use orbit_interop_tests::scenario::{
    actors_by_key_kind, call, call_all, call_until_ok, every_argument_type, start_caller, start_host,
};
use orbit_interop_tests::servers::ServerKind::{self, Kotlin, Rust};
use serde_json::{Value, json};

const NAMESPACE: &str = "mesh";
const ECHO: &str = "orbit.harness.actors.EchoActor";

/// Makes one call through `caller` until it succeeds: the JVMs' first calls (class loading,
/// the first placement across the mesh) can outlast a call timeout on a loaded 2-core
/// machine, and what a scenario measures must not depend on that.
async fn warm_up(caller: &mut orbit_interop_tests::jvm::HarnessProcess) -> anyhow::Result<()> {
    let ping = call("warm-up", ECHO, json!({"string": "warm-up"}), "ping", json!([]));
    call_until_ok(caller, &ping, Duration::from_secs(120)).await.map(|_| ())
}

/// Runs a scenario; an all-Kotlin line-up (the reference) that fails is run once more, with
/// the failure printed. Kotlin meshes occasionally fail on their own: a server that stays
/// STARTING (spec 15.2 #2), or replies that never find their way back to a caller on the
/// other server, so that every call times out (seen once at warm-up in K+K). A line-up with a
/// Rust server gets no second chance.
async fn with_reference_retry<T, F, Fut>(kinds: &[ServerKind], mut scenario: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    match scenario().await {
        Err(error) if kinds.iter().all(|k| *k == Kotlin) => {
            println!("{}: the all-Kotlin reference failed ({error:#}); running it once more", lineup_name(kinds));
            scenario().await
        }
        outcome => outcome,
    }
}

fn lineups() -> Vec<Vec<ServerKind>> {
    vec![vec![Kotlin, Kotlin], vec![Rust, Rust], vec![Kotlin, Rust], vec![Rust, Kotlin], vec![Kotlin, Rust, Kotlin]]
}

/// Who hosts the actors in [`across_servers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    /// A Kotlin harness client.
    Kotlin,
    /// The Rust client runtime (`orbit-client`) with the harness actors written in Rust.
    Rust,
}

/// A caller attached to the last server calls every method of every key kind on actors
/// hosted by a client attached to the first server: every call crosses the mesh.
async fn across_servers(kinds: &[ServerKind], host_kind: Host) -> anyhow::Result<BTreeMap<String, Value>> {
    let scenario = if host_kind == Host::Rust { "mesh_rust_host" } else { "mesh_calls" };
    let mut mesh = Mesh::start(scenario, kinds).await?;
    let last = kinds.len() - 1;
    let (mut host, rust_host) = match host_kind {
        Host::Kotlin => (Some(start_host("host", mesh.logs(), mesh.endpoint(0), NAMESPACE).await?), None),
        Host::Rust => {
            let config = orbit_client::ClientConfig::new(mesh.endpoint(0), NAMESPACE);
            let client = with_echo_actors(orbit_client::ClientBuilder::new(config)).connect().await?;
            (None, Some(client))
        }
    };
    let mut caller = start_caller("caller", mesh.logs(), mesh.endpoint(last), NAMESPACE).await?;
    warm_up(&mut caller).await?;
    let mut calls = Vec::new();
    for (kind_name, actor, key) in actors_by_key_kind() {
        for (method, args) in every_argument_type() {
            calls.push(call(format!("{kind_name}/{method}"), actor, key.clone(), method, args));
        }
    }
    let answers = call_all(&mut caller, &calls, Duration::from_secs(90)).await?;
    caller.close_stdin();
    caller.wait_exit(Duration::from_secs(30)).await?;
    if let Some(host) = &mut host {
        host.terminate(Duration::from_secs(20)).await?;
    }
    if let Some(client) = rust_host {
        client.stop().await;
    }
    mesh.stop().await?;
    Ok(answers)
}

/// Two hosts (first and last server) and two callers (first and last server) share ten
/// counter actors: the last server's caller places and calls them, then the first server's
/// caller calls the same actors, wherever they were placed, and sees their state.
async fn shared_state(kinds: &[ServerKind]) -> anyhow::Result<Vec<Value>> {
    let mut mesh = Mesh::start("mesh_state", kinds).await?;
    let last = kinds.len() - 1;
    let mut hosts = vec![
        start_host("host-first", mesh.logs(), mesh.endpoint(0), NAMESPACE).await?,
        start_host("host-last", mesh.logs(), mesh.endpoint(last), NAMESPACE).await?,
    ];
    let mut callers = vec![
        start_caller("caller-last", mesh.logs(), mesh.endpoint(last), NAMESPACE).await?,
        start_caller("caller-first", mesh.logs(), mesh.endpoint(0), NAMESPACE).await?,
    ];
    for caller in &mut callers {
        warm_up(caller).await?;
    }
    let counters = |round: &str| -> Vec<Value> {
        (0..10)
            .map(|i| call(format!("{round}/{i}"), ECHO, json!({"string": format!("c{i}")}), "count", json!([])))
            .collect()
    };
    let first = call_all(&mut callers[0], &counters("placed-by-last"), Duration::from_secs(60)).await?;
    let second = call_all(&mut callers[1], &counters("called-by-first"), Duration::from_secs(60)).await?;
    let mut seen: Vec<Value> = first.values().map(|a| a["result"].clone()).collect();
    seen.extend(second.values().map(|a| a["result"].clone()));
    for caller in &mut callers {
        caller.close_stdin();
        caller.wait_exit(Duration::from_secs(30)).await?;
    }
    for host in &mut hosts {
        host.terminate(Duration::from_secs(20)).await?;
    }
    mesh.stop().await?;
    Ok(seen)
}

/// What a caller on a surviving server sees when the server of the hosting client goes away.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failover {
    before: Vec<Value>,
    after: Vec<Value>,
    errors: Vec<String>,
}

/// Host A on the first server holds five counters; host B and a caller are on the last
/// server. The first server is killed (SIGKILL) or stopped (SIGTERM): A's node lease runs out
/// and the counters are placed again on B (fresh state).
async fn server_goes_away(kinds: &[ServerKind], kill: bool) -> anyhow::Result<Failover> {
    let scenario = if kill { "mesh_kill" } else { "mesh_leave" };
    let mut mesh = Mesh::start(scenario, kinds).await?;
    let last = kinds.len() - 1;
    let mut host_a = start_host("host-a", mesh.logs(), mesh.endpoint(0), NAMESPACE).await?;
    let mut caller = start_caller("caller", mesh.logs(), mesh.endpoint(last), NAMESPACE).await?;
    let counters: Vec<Value> =
        (0..5).map(|i| call(format!("k{i}"), ECHO, json!({"string": format!("k{i}")}), "count", json!([]))).collect();
    warm_up(&mut caller).await?;
    // Only host A is up yet, so every counter lives on A.
    let before: Vec<Value> = call_all(&mut caller, &counters, Duration::from_secs(60))
        .await?
        .values()
        .map(|a| a["result"].clone())
        .collect();
    let mut host_b = start_host("host-b", mesh.logs(), mesh.endpoint(last), NAMESPACE).await?;
    if kill {
        mesh.kill(0).await?;
    } else {
        mesh.terminate(0, Duration::from_secs(20)).await?;
    }
    let mut after = Vec::new();
    let mut errors = Vec::new();
    for counter in &counters {
        let (answer, seen) = match call_until_ok(&mut caller, counter, Duration::from_secs(90)).await {
            Ok(outcome) => outcome,
            Err(error) => {
                // What the servers' records said when the counter could not be placed again:
                // the evidence a flaky failure needs (logs are in `mesh.logs()`).
                let records = mesh.server_records().await.unwrap_or_default();
                let records: Vec<String> =
                    records.iter().map(|r| format!("{} {:?} visible {:?}", r.id, r.status, r.visible_nodes)).collect();
                return Err(error.context(format!(
                    "{} never answered again; server records: {records:?}; logs in {}",
                    counter["id"],
                    mesh.logs().display()
                )));
            }
        };
        after.push(answer["result"].clone());
        for error in seen {
            if !errors.contains(&error) {
                errors.push(error);
            }
        }
    }
    errors.sort();
    caller.close_stdin();
    caller.wait_exit(Duration::from_secs(30)).await?;
    host_a.kill().await?;
    host_b.terminate(Duration::from_secs(20)).await?;
    mesh.stop().await?;
    Ok(Failover { before, after, errors })
}

/// The transient errors a caller may see while a hosting client's server is gone (spec 9.10,
/// and Kotlin's client timeout); which ones depends on timing, with any line-up.
fn transient(error: &str) -> bool {
    error.ends_with("Failed to deliver message after 10 attempts")
        || error.contains("Could not find target (")
        || error.starts_with("orbit.client.util.TimeoutException")
        || error.ends_with("kotlinx.coroutines.channels.ClosedSendChannelException: Channel was closed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_cross_the_mesh_in_every_lineup() -> anyhow::Result<()> {
    let mut table = Vec::new();
    let mut reference: Option<BTreeMap<String, Value>> = None;
    for kinds in lineups() {
        let answers = with_reference_retry(&kinds, || across_servers(&kinds, Host::Kotlin)).await?;
        let ok = answers.values().filter(|a| a["ok"] == json!(true)).count();
        let baseline = reference.get_or_insert_with(|| answers.clone());
        let differences: Vec<String> = baseline
            .iter()
            .filter(|(id, expected)| answers.get(*id) != Some(expected))
            .map(|(id, expected)| {
                format!("{id}: K+K {expected} / {} {}", lineup_name(&kinds), answers.get(id).unwrap_or(&Value::Null))
            })
            .collect();
        table.push(format!(
            "| {} | {} calls | {ok} ok | {} differences from K+K |",
            lineup_name(&kinds),
            answers.len(),
            differences.len()
        ));
        assert!(differences.is_empty(), "{}:\n{}", lineup_name(&kinds), differences.join("\n"));
    }
    let baseline = reference.unwrap_or_default();
    assert_eq!(baseline.len(), 80);
    assert_eq!(baseline["string/echoString"]["result"], json!("héllo"), "the reference line-up works");
    println!("{}", table.join("\n"));
    Ok(())
}

/// The Rust client runtime as a host in mixed meshes: Kotlin callers on another server get the
/// answers a Kotlin host gives in the K+K reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_hosts_answer_across_mixed_meshes() -> anyhow::Result<()> {
    let reference = with_reference_retry(&[Kotlin, Kotlin], || across_servers(&[Kotlin, Kotlin], Host::Kotlin)).await?;
    for kinds in [vec![Kotlin, Rust], vec![Rust, Kotlin], vec![Kotlin, Rust, Kotlin]] {
        let answers = across_servers(&kinds, Host::Rust).await?;
        let differences: Vec<String> = reference
            .iter()
            .filter(|(id, expected)| answers.get(*id) != Some(expected))
            .map(|(id, expected)| {
                format!("{id}: Kotlin host on K+K {expected} / Rust host {}", answers.get(id).unwrap_or(&Value::Null))
            })
            .collect();
        println!(
            "| {} with a Rust host | {} calls | {} differences from K+K |",
            lineup_name(&kinds),
            answers.len(),
            differences.len()
        );
        assert!(differences.is_empty(), "{}:\n{}", lineup_name(&kinds), differences.join("\n"));
    }
    assert_eq!(reference.len(), 80);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_keep_their_state_whichever_server_routes_the_call() -> anyhow::Result<()> {
    for kinds in lineups() {
        let seen = with_reference_retry(&kinds, || shared_state(&kinds)).await?;
        println!("| {} | {seen:?} |", lineup_name(&kinds));
        let mut expected = vec![json!(1); 10];
        expected.extend(vec![json!(2); 10]);
        assert_eq!(seen, expected, "{}: second calls see the first calls' state", lineup_name(&kinds));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_move_when_a_server_is_killed_or_leaves() -> anyhow::Result<()> {
    for kill in [true, false] {
        for kinds in lineups() {
            let observed = with_reference_retry(&kinds, || server_goes_away(&kinds, kill)).await?;
            println!("| {} | {} | {observed:?} |", if kill { "SIGKILL" } else { "SIGTERM" }, lineup_name(&kinds));
            assert_eq!(observed.before, vec![json!(1); 5], "{}", lineup_name(&kinds));
            assert_eq!(observed.after, vec![json!(1); 5], "{}: placed again with fresh state", lineup_name(&kinds));
            assert!(observed.errors.iter().all(|e| transient(e)), "{}: {:?}", lineup_name(&kinds), observed.errors);
        }
    }
    Ok(())
}
