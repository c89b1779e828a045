//! The reference works here: a real Kotlin orbit-client calls an actor hosted by another
//! real Kotlin orbit-client through a real Kotlin orbit-server, all from the Kotlin reference.
//!
//! This is the scaffold the differential tests reuse: each process is started with a free
//! port, awaited through its ready line, and its logs stay in `target/interop-logs/`.

use std::collections::BTreeMap;
use std::time::Duration;

use orbit_interop_tests::jvm::{HarnessProcess, log_dir};
use orbit_test_support::free_port;
use serde_json::{Value, json};

const ECHO: &str = "orbit.harness.actors.EchoActor";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kotlin_client_calls_kotlin_actor_through_kotlin_server() -> anyhow::Result<()> {
    let logs = log_dir("kotlin_reference")?;
    let port = free_port();
    let port_text = port.to_string();
    let endpoint = format!("127.0.0.1:{port}");
    println!(
        "layout: kotlin server on {endpoint}, one kotlin host client, one kotlin caller; logs in {}",
        logs.display()
    );

    let (mut server, ready) = HarnessProcess::start("server", &logs, &["server", "--port", &port_text]).await?;
    println!("{ready}");
    let (mut host, ready) =
        HarnessProcess::start("host", &logs, &["client", "--server", &endpoint, "--namespace", "reference"]).await?;
    println!("{ready}");
    let (mut caller, ready) =
        HarnessProcess::start("caller", &logs, &["call", "--server", &endpoint, "--namespace", "reference"]).await?;
    println!("{ready}");

    let calls = [
        json!({"id": "string", "type": ECHO, "key": {"string": "abc"}, "method": "echoString", "args": ["héllo 🚀"]}),
        json!({"id": "int32", "type": "orbit.harness.actors.Int32EchoActor", "key": {"int32": -5}, "method": "echoInt", "args": [2147483647]}),
        json!({"id": "int64", "type": "orbit.harness.actors.Int64EchoActor", "key": {"int64": 9_000_000_000_i64}, "method": "echoLong", "args": [-9_223_372_036_854_775_807_i64]}),
        json!({"id": "nokey", "type": "orbit.harness.actors.NoKeyEchoActor", "key": {"none": true}, "method": "ping", "args": []}),
        json!({"id": "list", "type": ECHO, "key": {"string": "abc"}, "method": "echoList", "args": [["a", "b"]]}),
        json!({"id": "map", "type": ECHO, "key": {"string": "abc"}, "method": "echoMap", "args": [{"a": 1, "b": 2}]}),
        json!({"id": "key", "type": "orbit.harness.actors.Int64EchoActor", "key": {"int64": 42}, "method": "key", "args": []}),
        json!({"id": "fail", "type": ECHO, "key": {"string": "abc"}, "method": "fail", "args": ["on purpose"]}),
    ];
    for call in &calls {
        caller.send_line(&call.to_string()).await?;
    }
    caller.close_stdin();

    let mut answers: BTreeMap<String, Value> = BTreeMap::new();
    while answers.len() < calls.len() {
        let answer = caller.next_json(Duration::from_secs(60)).await?;
        println!("{answer}");
        let id = answer["id"].as_str().unwrap_or_default().to_owned();
        answers.insert(id, answer);
    }
    let expect_ok = |id: &str, result: Value, class: &str| {
        let answer = &answers[id];
        assert_eq!(answer["ok"], json!(true), "{answer}");
        assert_eq!(answer["result"], result, "{answer}");
        assert_eq!(answer["resultClass"], json!(class), "{answer}");
    };
    expect_ok("string", json!("héllo 🚀"), "java.lang.String");
    expect_ok("int32", json!(2147483647), "java.lang.Integer");
    expect_ok("int64", json!(-9_223_372_036_854_775_807_i64), "java.lang.Long");
    expect_ok("nokey", json!("pong"), "java.lang.String");
    expect_ok("list", json!(["a", "b"]), "java.util.ArrayList");
    expect_ok("map", json!({"a": 1, "b": 2}), "java.util.LinkedHashMap");
    expect_ok("key", json!("Int64Key(key=42)"), "java.lang.String");
    assert_eq!(answers["fail"]["ok"], json!(false));
    let error = answers["fail"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("java.lang.IllegalArgumentException: on purpose"), "unexpected error text: {error}");

    assert_eq!(caller.wait_exit(Duration::from_secs(30)).await?, Some(0), "the caller exits cleanly");
    host.terminate(Duration::from_secs(20)).await?;
    server.terminate(Duration::from_secs(20)).await?;
    Ok(())
}
