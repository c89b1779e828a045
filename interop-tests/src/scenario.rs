//! Helpers for differential scenarios: harness callers and the results they observe.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::jvm::HarnessProcess;

/// A Kotlin client application that hosts the harness's test actors.
pub async fn start_host(name: &str, logs: &Path, endpoint: &str, namespace: &str) -> anyhow::Result<HarnessProcess> {
    let (process, _ready) =
        HarnessProcess::start(name, logs, &["client", "--server", endpoint, "--namespace", namespace]).await?;
    Ok(process)
}

/// A Kotlin client application that hosts nothing and makes calls read from stdin.
pub async fn start_caller(name: &str, logs: &Path, endpoint: &str, namespace: &str) -> anyhow::Result<HarnessProcess> {
    let (process, _ready) =
        HarnessProcess::start(name, logs, &["call", "--server", endpoint, "--namespace", namespace]).await?;
    Ok(process)
}

/// Sends `calls` (each with a unique `id`) and returns the answers by id, without the
/// fields that differ between runs for reasons unrelated to the server.
pub async fn call_all(
    caller: &mut HarnessProcess,
    calls: &[Value],
    limit: Duration,
) -> anyhow::Result<BTreeMap<String, Value>> {
    for call in calls {
        caller.send_line(&call.to_string()).await?;
    }
    let mut answers = BTreeMap::new();
    while answers.len() < calls.len() {
        let answer = caller.next_json(limit).await?;
        let id = answer["id"].as_str().unwrap_or_default().to_owned();
        answers.insert(id, answer);
    }
    Ok(answers)
}

/// Returns a call line for the harness's `call` command.
pub fn call(id: impl Into<String>, actor: &str, key: Value, method: &str, args: Value) -> Value {
    json!({"id": id.into(), "type": actor, "key": key, "method": method, "args": args})
}

/// The four test actor interfaces, one per key kind, with a key of that kind.
pub fn actors_by_key_kind() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("string", "orbit.harness.actors.EchoActor", json!({"string": "ключ/🚀 (1)"})),
        ("int32", "orbit.harness.actors.Int32EchoActor", json!({"int32": -2_147_483_648_i64})),
        ("int64", "orbit.harness.actors.Int64EchoActor", json!({"int64": 9_007_199_254_740_993_i64})),
        ("none", "orbit.harness.actors.NoKeyEchoActor", json!({"none": true})),
    ]
}

/// Every method of the test actors with arguments of every harness type.
pub fn every_argument_type() -> Vec<(&'static str, Value)> {
    let payload = json!({
        "name": "n", "count": 3, "big": 9_000_000_000_i64, "maybe": null,
        "tags": ["x", "y"], "inner": {"label": "l", "score": 1.5}
    });
    vec![
        ("echoString", json!(["héllo"])),
        ("echoInt", json!([-7])),
        ("echoLong", json!([i64::MAX])),
        ("echoDouble", json!([3.25])),
        ("echoBoolean", json!([true])),
        ("echoNullableString", json!([null])),
        ("echoNullableInt", json!([null])),
        ("echoNullableLong", json!([5])),
        ("echoList", json!([["a", "b", "c"]])),
        ("echoLongList", json!([[1, 2]])),
        ("echoMap", json!([{"a": 1, "b": 2}])),
        ("echoSet", json!([["s"]])),
        ("echoPayload", json!([payload])),
        ("echoInner", json!([null])),
        ("ping", json!([])),
        ("unit", json!(["x"])),
        ("key", json!([])),
        ("concat", json!(["t", 1, 2, false])),
        ("count", json!([])),
        ("fail", json!(["on purpose"])),
    ]
}

/// Repeats `call` (a fresh id each time) until it succeeds or `limit` passes; returns the
/// successful answer and the distinct errors seen before it, in order.
pub async fn call_until_ok(
    caller: &mut HarnessProcess,
    call: &Value,
    limit: Duration,
) -> anyhow::Result<(Value, Vec<String>)> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut errors: Vec<String> = Vec::new();
    for attempt in 0.. {
        let mut line = call.clone();
        line["id"] = json!(format!("{}#{attempt}", call["id"].as_str().unwrap_or("call")));
        let answers = call_all(caller, &[line], limit).await?;
        let answer = answers.into_values().next().unwrap_or(Value::Null);
        if answer["ok"] == json!(true) {
            return Ok((answer, errors));
        }
        let error = error_kind(answer["error"].as_str().unwrap_or_default());
        if errors.last() != Some(&error) {
            errors.push(error);
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{} never succeeded; errors: {errors:?}", call["id"]);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    unreachable!("the loop returns or fails")
}

/// Returns the part of an error text that does not vary between runs: timeouts lose their
/// measured milliseconds and message dump, node keys are dropped.
pub fn error_kind(error: &str) -> String {
    if let Some(rest) = error.strip_prefix("orbit.client.util.TimeoutException: ") {
        let timeout = rest.split(". ").next().unwrap_or(rest);
        let configured = timeout.rsplit("timeout is ").next().unwrap_or(timeout);
        return format!("orbit.client.util.TimeoutException: ... timeout is {configured}");
    }
    match error.find('(').zip(error.find(')')) {
        Some((open, close)) if close > open && error[open..close].contains(':') => {
            let namespace = error[open + 1..close].split(':').next().unwrap_or_default();
            format!("{}({namespace}:<key>){}", &error[..open], &error[close + 1..])
        }
        _ => error.to_owned(),
    }
}

/// Waits for a host's `EVENT` line about `key` with event `event`; returns the line.
pub async fn expect_event(
    host: &mut HarnessProcess,
    event: &str,
    key: &str,
    limit: Duration,
) -> anyhow::Result<String> {
    let event_field = format!("\"event\":\"{event}\"");
    let key_field = format!("\"key\":\"{key}\"");
    host.next_line_matching(limit, |line| {
        line.starts_with("EVENT") && line.contains(&event_field) && line.contains(&key_field)
    })
    .await
}
