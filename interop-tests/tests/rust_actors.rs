//! Rust actors in a Kotlin cluster, through the Kotlin orbit-server and through orbit-node:
//! Kotlin callers reach Rust actors by the Kotlin interface names and see the same answers
//! as from Kotlin actors; Rust calls Kotlin actors; errors cross both ways; a panic becomes an
//! error reply; a Rust host stops gracefully while Kotlin keeps calling.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use compat_proto::Key;
use orbit_client::codec::JvmValue;
use orbit_client::{CallError, ClientBuilder, ClientConfig, IntoJvm, OrbitClient};
use orbit_interop_tests::jvm::log_dir;
use orbit_interop_tests::rust_actors::{EchoBase, with_echo_actors, with_typed_echo_actors};
use orbit_interop_tests::scenario::{actors_by_key_kind, call, call_all, start_caller, start_host};
use orbit_interop_tests::servers::{ServerKind, ServerProcess};
use serde_json::{Value, json};

const NAMESPACE: &str = "rustactors";

/// The harness's Kotlin data classes, as Rust structs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename = "orbit.harness.actors.Inner")]
struct Inner {
    label: String,
    score: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename = "orbit.harness.actors.Payload")]
struct Payload {
    name: String,
    count: i32,
    big: i64,
    maybe: Option<i64>,
    tags: Vec<String>,
    inner: Option<Inner>,
}

/// Every argument type of the harness, with values a Kotlin caller can get answers for
/// (a null result never completes a Kotlin call, see docs/compatibility.md).
fn battery() -> Vec<(&'static str, Value)> {
    vec![
        ("echoString", json!(["héllo 🚀"])),
        ("echoInt", json!([-7])),
        ("echoLong", json!([i64::MIN])),
        ("echoDouble", json!([0.1])),
        ("echoBoolean", json!([false])),
        ("echoNullableString", json!(["x"])),
        ("echoNullableInt", json!([5])),
        ("echoNullableLong", json!([null])),
        ("echoList", json!([["a", "b"]])),
        ("echoLongList", json!([[1, 9_007_199_254_740_993_i64]])),
        ("echoMap", json!([{"a": 1, "b": 2}])),
        ("echoSet", json!([["s", "t"]])),
        (
            "echoPayload",
            json!([{"name": "n", "count": 3, "big": 9_000_000_000_i64, "maybe": 4, "tags": ["x"], "inner": {"label": "l", "score": 1.5}}]),
        ),
        ("echoInner", json!([{"label": "l", "score": 2.0}])),
        ("ping", json!([])),
        ("unit", json!(["x"])),
        ("key", json!([])),
        ("concat", json!(["t", 1, 2, true])),
        ("count", json!([])),
        ("fail", json!(["on purpose"])),
    ]
}

fn battery_calls() -> Vec<Value> {
    let mut calls = Vec::new();
    for (kind, actor, key) in actors_by_key_kind() {
        for (method, args) in battery() {
            calls.push(call(format!("{kind}/{method}"), actor, key.clone(), method, args));
        }
    }
    calls
}

async fn rust_host(endpoint: &str) -> anyhow::Result<OrbitClient> {
    Ok(with_echo_actors(ClientBuilder::new(ClientConfig::new(endpoint, NAMESPACE))).connect().await?)
}

/// A Kotlin caller runs the battery against a Kotlin host, then against a Rust host.
async fn kotlin_calls(kind: ServerKind) -> anyhow::Result<()> {
    let logs = log_dir(&format!("kotlin_calls_rust_{}", kind.name()))?;
    let mut server = ServerProcess::start(kind, &logs, &[]).await?;
    println!("layout: {} server at {}; logs in {}", kind.name(), server.endpoint, logs.display());
    let limit = Duration::from_secs(60);

    let mut kotlin_host = start_host("kotlin-host", &logs, &server.endpoint, NAMESPACE).await?;
    let mut caller = start_caller("caller", &logs, &server.endpoint, NAMESPACE).await?;
    let from_kotlin = call_all(&mut caller, &battery_calls(), limit).await?;
    kotlin_host.terminate(Duration::from_secs(30)).await?;

    let rust = rust_host(&server.endpoint).await?;
    // The Kotlin host left: its leases are abandoned, so every actor is placed on Rust now.
    let from_rust = call_all(&mut caller, &battery_calls(), limit).await?;
    let mut differences = Vec::new();
    for (id, expected) in &from_kotlin {
        if from_rust.get(id) != Some(expected) {
            differences.push(format!(
                "{id}: kotlin host {expected} / rust host {}",
                from_rust.get(id).unwrap_or(&Value::Null)
            ));
        }
    }
    println!("{}: {} calls compared between a Kotlin host and a Rust host", kind.name(), from_kotlin.len());
    assert_eq!(from_kotlin["string/echoPayload"]["ok"], json!(true), "the scenario itself works");
    assert!(differences.is_empty(), "Kotlin callers see a difference:\n{}", differences.join("\n"));

    // The same battery against the same actors written as a typed `#[actor]` trait.
    rust.stop().await;
    let rust =
        with_typed_echo_actors(ClientBuilder::new(ClientConfig::new(&server.endpoint, NAMESPACE))).connect().await?;
    let from_typed = call_all(&mut caller, &battery_calls(), limit).await?;
    let differences: Vec<String> = from_kotlin
        .iter()
        .filter(|(id, expected)| from_typed.get(*id) != Some(expected))
        .map(|(id, expected)| {
            format!("{id}: kotlin host {expected} / typed rust host {}", from_typed.get(id).unwrap_or(&Value::Null))
        })
        .collect();
    println!("{}: {} calls compared between a Kotlin host and a typed Rust host", kind.name(), from_kotlin.len());
    assert!(differences.is_empty(), "Kotlin callers see a difference:\n{}", differences.join("\n"));

    // A panic in a Rust actor: the caller gets an error, the actor is deactivated (its state
    // is gone), and the host keeps serving.
    let echo = "orbit.harness.actors.EchoActor";
    let key = json!({"string": "panicky"});
    let before = call_all(&mut caller, &[call("before", echo, key.clone(), "count", json!([]))], limit).await?;
    assert_eq!(before["before"]["result"], json!(1));
    let panic = call_all(&mut caller, &[call("panic", echo, key.clone(), "fail", json!(["panic"]))], limit).await?;
    let error = panic["panic"]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(
            "orbit.client.util.RemoteException: Exceptional response received: java.lang.RuntimeException: Rust actor"
        ),
        "{error}"
    );
    let after = call_all(&mut caller, &[call("after", echo, key, "count", json!([]))], limit).await?;
    assert_eq!(after["after"]["result"], json!(1), "a fresh instance after the panic");

    caller.close_stdin();
    caller.wait_exit(Duration::from_secs(30)).await?;
    rust.stop().await;
    server.terminate(Duration::from_secs(20)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kotlin_callers_see_rust_actors_as_kotlin_actors() -> anyhow::Result<()> {
    kotlin_calls(ServerKind::Kotlin).await?;
    kotlin_calls(ServerKind::Rust).await
}

/// A Rust client calls Kotlin actors of every key kind with typed arguments.
async fn rust_calls(kind: ServerKind) -> anyhow::Result<()> {
    let logs = log_dir(&format!("rust_calls_kotlin_{}", kind.name()))?;
    let mut server = ServerProcess::start(kind, &logs, &[]).await?;
    println!("layout: {} server at {}; logs in {}", kind.name(), server.endpoint, logs.display());
    let mut kotlin_host = start_host("kotlin-host", &logs, &server.endpoint, NAMESPACE).await?;
    let client = ClientBuilder::new(ClientConfig::new(&server.endpoint, NAMESPACE)).connect().await?;
    let keys = [
        ("orbit.harness.actors.EchoActor", Key::String("ключ".into())),
        ("orbit.harness.actors.Int32EchoActor", Key::Int32(i32::MIN)),
        ("orbit.harness.actors.Int64EchoActor", Key::Int64(i64::MAX)),
        ("orbit.harness.actors.NoKeyEchoActor", Key::None),
    ];
    for (interface, key) in keys {
        let actor = client.actor(interface, key.clone());
        assert_eq!(actor.call::<String>("echoString", vec!["héllo".into_argument()]).await?, "héllo");
        assert_eq!(actor.call::<i32>("echoInt", vec![i32::MAX.into_argument()]).await?, i32::MAX);
        assert_eq!(actor.call::<i64>("echoLong", vec![i64::MIN.into_argument()]).await?, i64::MIN);
        assert_eq!(actor.call::<f64>("echoDouble", vec![0.1f64.into_argument()]).await?, 0.1);
        assert!(actor.call::<bool>("echoBoolean", vec![true.into_argument()]).await?);
        assert_eq!(actor.call::<Option<i64>>("echoNullableLong", vec![Some(5i64).into_argument()]).await?, Some(5));
        let list = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(actor.call::<Vec<String>>("echoList", vec![list.clone().into_argument()]).await?, list);
        assert_eq!(
            actor.call::<Vec<i64>>("echoLongList", vec![vec![1i64, i64::MAX].into_argument()]).await?,
            vec![1, i64::MAX]
        );
        let map: BTreeMap<String, i32> = [("a".to_owned(), 1), ("b".to_owned(), 2)].into();
        let echoed: HashMap<String, i32> = actor.call("echoMap", vec![map.clone().into_argument()]).await?;
        assert_eq!(echoed, map.into_iter().collect());
        assert_eq!(actor.call::<String>("ping", vec![]).await?, "pong");
        actor.call::<()>("unit", vec!["x".into_argument()]).await?;
        assert_eq!(actor.call::<String>("key", vec![]).await?, key.to_string());
        let concat = vec!["t".into_argument(), 1i32.into_argument(), 2i64.into_argument(), true.into_argument()];
        assert_eq!(actor.call::<String>("concat", concat).await?, "t|1|2|true");
        let payload = JvmValue::Object {
            class: "orbit.harness.actors.Payload".into(),
            fields: vec![
                ("name".into(), JvmValue::String("n".into())),
                ("count".into(), JvmValue::Int(3)),
                ("big".into(), JvmValue::Int(9_000_000_000)),
                ("maybe".into(), JvmValue::Null),
                ("tags".into(), vec!["x".to_owned()].into_jvm()),
                ("inner".into(), JvmValue::Null),
            ],
        };
        let argument =
            orbit_client::codec::Argument { value: payload, declared_class: "orbit.harness.actors.Payload".into() };
        let echoed: JvmValue = actor.call("echoPayload", vec![argument]).await?;
        let JvmValue::Object { class, fields } = echoed else { panic!("a data class comes back as an object") };
        assert_eq!(class, "orbit.harness.actors.Payload");
        assert_eq!(fields[2], ("big".to_owned(), JvmValue::Int(9_000_000_000)));
        // The same data class through serde.
        let typed = Payload {
            name: "ключ".into(),
            count: -1,
            big: i64::MIN,
            maybe: Some(i64::MAX),
            tags: vec!["a".into(), "b".into()],
            inner: Some(Inner { label: "l".into(), score: 0.5 }),
        };
        let echoed: JvmValue = actor.call("echoPayload", vec![orbit_client::data::argument(&typed)?]).await?;
        assert_eq!(orbit_client::data::from_jvm::<Payload>(echoed)?, typed);
        let error = actor.call::<String>("fail", vec!["on purpose".into_argument()]).await.expect_err("throws");
        assert_eq!(error, CallError::Remote("java.lang.IllegalArgumentException: on purpose".into()));
    }
    println!("{}: a Rust client called Kotlin actors of all four key kinds", kind.name());

    // The same Kotlin actors through the typed proxy of the `#[actor]` trait.
    let echo = client.typed::<dyn EchoBase>(Key::String("typed".into()));
    assert_eq!(echo.echo_string("héllo".into()).await?, "héllo");
    assert_eq!(echo.echo_int(i32::MIN).await?, i32::MIN);
    assert_eq!(echo.echo_long(i64::MAX).await?, i64::MAX);
    assert_eq!(echo.echo_double(-0.5).await?, -0.5);
    assert!(!echo.echo_boolean(false).await?);
    assert_eq!(echo.echo_nullable_string(Some("n".into())).await?, Some("n".to_owned()));
    assert_eq!(echo.echo_nullable_int(Some(3)).await?, Some(3));
    assert_eq!(echo.echo_nullable_long(Some(-9)).await?, Some(-9));
    assert_eq!(echo.echo_list(vec!["x".into()]).await?, vec!["x".to_owned()]);
    assert_eq!(echo.echo_long_list(vec![i64::MIN, 0]).await?, vec![i64::MIN, 0]);
    let payload = orbit_client::data::to_jvm(&Payload {
        name: "p".into(),
        count: 1,
        big: 2,
        maybe: None,
        tags: vec![],
        inner: None,
    })?;
    assert_eq!(orbit_client::data::from_jvm::<Payload>(echo.echo_payload(payload).await?)?.name, "p");
    assert_eq!(echo.ping().await?, "pong");
    echo.unit("x".into()).await?;
    assert_eq!(echo.key().await?, "StringKey(key=typed)");
    assert_eq!(echo.concat("t".into(), 1, 2, true).await?, "t|1|2|true");
    assert_eq!(echo.count().await?, 1);
    assert_eq!(echo.count().await?, 2);
    assert_eq!(
        echo.fail("typed".into()).await,
        Err(CallError::Remote("java.lang.IllegalArgumentException: typed".into()))
    );
    println!("{}: the typed proxy called a Kotlin-hosted EchoActor (17 methods)", kind.name());
    client.stop().await;
    kotlin_host.terminate(Duration::from_secs(30)).await?;
    server.terminate(Duration::from_secs(20)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_calls_kotlin_actors() -> anyhow::Result<()> {
    rust_calls(ServerKind::Kotlin).await?;
    rust_calls(ServerKind::Rust).await
}

/// A Rust host stops gracefully while a Kotlin caller keeps calling: every call is
/// answered, and the actors move to a Kotlin host.
async fn graceful_stop(kind: ServerKind) -> anyhow::Result<Vec<String>> {
    let logs = log_dir(&format!("rust_host_stops_{}", kind.name()))?;
    let mut server = ServerProcess::start(kind, &logs, &[]).await?;
    println!("layout: {} server at {}; logs in {}", kind.name(), server.endpoint, logs.display());
    let limit = Duration::from_secs(60);
    let rust = rust_host(&server.endpoint).await?;
    let mut caller = start_caller("caller", &logs, &server.endpoint, NAMESPACE).await?;
    let echo = "orbit.harness.actors.EchoActor";
    let counters: Vec<Value> =
        (0..10).map(|i| call(format!("k{i}"), echo, json!({"string": format!("k{i}")}), "count", json!([]))).collect();
    let first = call_all(&mut caller, &counters, limit).await?;
    anyhow::ensure!(first.values().all(|a| a["result"] == json!(1)), "{first:?}");
    let mut kotlin_host = start_host("kotlin-host", &logs, &server.endpoint, NAMESPACE).await?;

    // Calls in flight while the Rust host stops.
    let during: Vec<Value> = (0..10)
        .map(|i| call(format!("during/k{i}"), echo, json!({"string": format!("k{i}")}), "slow", json!([300])))
        .collect();
    for line in &during {
        caller.send_line(&line.to_string()).await?;
    }
    rust.stop().await;
    let mut errors = Vec::new();
    for _ in 0..during.len() {
        let answer = caller.next_json(limit).await?;
        if answer["ok"] != json!(true) {
            errors.push(answer.to_string());
        }
    }
    let moved: Vec<Value> = counters
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c["id"] = json!(format!("after/{}", c["id"].as_str().unwrap_or_default()));
            c
        })
        .collect();
    let after = call_all(&mut caller, &moved, limit).await?;
    assert!(after.values().all(|a| a["result"] == json!(1)), "the counters restarted on the Kotlin host: {after:?}");
    caller.close_stdin();
    caller.wait_exit(Duration::from_secs(30)).await?;
    kotlin_host.terminate(Duration::from_secs(30)).await?;
    server.terminate(Duration::from_secs(20)).await?;
    Ok(errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_host_stops_gracefully_while_kotlin_calls() -> anyhow::Result<()> {
    for kind in [ServerKind::Kotlin, ServerKind::Rust] {
        let errors = graceful_stop(kind).await?;
        println!("{}: calls failed during the stop: {errors:?}", kind.name());
        assert!(errors.is_empty(), "{}: calls in flight failed during a graceful stop: {errors:?}", kind.name());
    }
    Ok(())
}
