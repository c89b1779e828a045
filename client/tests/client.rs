//! The Rust client runtime against orbit-node in-process: a Rust actor hosted by one client
//! and called by another, one call at a time, errors, panics, idle deactivation and a
//! graceful stop.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use compat_proto::Key;
use orbit_client::codec::JvmValue;
use orbit_client::{
    Actor, ActorContext, ActorError, CallError, ClientBuilder, ClientConfig, DeactivationReason, IntoJvm, Invocation,
    OrbitClient,
};
use orbit_node::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const COUNTER: &str = "com.example.Counter";

/// Counts calls; panics on `explode`; records deactivations.
struct Counter {
    count: i32,
    deactivations: Arc<std::sync::Mutex<Vec<DeactivationReason>>>,
    in_flight: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Actor for Counter {
    async fn on_deactivate(&mut self, _context: &ActorContext, reason: DeactivationReason) {
        self.deactivations.lock().expect("not poisoned").push(reason);
    }

    async fn invoke(&mut self, context: &ActorContext, call: Invocation) -> Result<JvmValue, ActorError> {
        if call.is("increment", &[]) {
            // Two calls must never overlap on one actor.
            assert_eq!(self.in_flight.fetch_add(1, Ordering::SeqCst), 0, "calls overlapped");
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.count += 1;
            Ok(self.count.into_jvm())
        } else if call.is("key", &[]) {
            Ok(context.reference.key.to_string().into_jvm())
        } else if call.is("fail", &["java.lang.String"]) {
            Err(ActorError::illegal_argument(call.arg::<String>(0)?))
        } else if call.is("explode", &[]) {
            panic!("boom");
        } else {
            Err(ActorError::no_such_method(&call))
        }
    }
}

async fn start_node() -> (String, oneshot::Sender<()>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("bound").port();
    (format!("127.0.0.1:{port}"), start_node_on(port).await)
}

/// Connects a client hosting [`Counter`]s; returns it and the deactivations they record.
async fn counter_host(config: ClientConfig) -> (OrbitClient, Arc<std::sync::Mutex<Vec<DeactivationReason>>>) {
    let deactivations = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (d, f) = (deactivations.clone(), Arc::new(AtomicUsize::new(0)));
    let host = ClientBuilder::new(config)
        .actor(COUNTER, move |_| Counter { count: 0, deactivations: d.clone(), in_flight: f.clone() })
        .connect()
        .await
        .expect("host joins");
    (host, deactivations)
}

fn config(endpoint: &str) -> ClientConfig {
    let mut config = ClientConfig::new(endpoint, "app");
    config.message_timeout = Duration::from_secs(8);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_actor_hosted_and_called_through_orbit_node() {
    let (endpoint, stop) = start_node().await;
    let mut host_config = config(&endpoint);
    host_config.actor_ttl = Duration::from_secs(2);
    let (host, deactivations) = counter_host(host_config).await;
    let caller = ClientBuilder::new(config(&endpoint)).connect().await.expect("caller joins");

    // 50 concurrent calls on one actor run one at a time and all count.
    let counter = caller.actor(COUNTER, Key::String("c1".into()));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move { counter.call::<i32>("increment", vec![]).await })
        })
        .collect();
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.expect("task").expect("call"));
    }
    results.sort_unstable();
    assert_eq!(results, (1..=50).collect::<Vec<_>>());

    for key in [Key::Int32(-1), Key::Int64(i64::MAX), Key::None, Key::String("ключ".into())] {
        let rendered: String = caller.actor(COUNTER, key.clone()).call("key", vec![]).await.expect("call");
        assert_eq!(rendered, key.to_string());
    }

    let error = counter.call::<String>("fail", vec!["nope".into_argument()]).await.expect_err("fails");
    assert_eq!(error, CallError::Remote("java.lang.IllegalArgumentException: nope".into()));
    let error = counter.call::<String>("missing", vec![5i32.into_argument()]).await.expect_err("no such method");
    assert_eq!(error, CallError::Remote("java.lang.NoSuchMethodException: missing(int)".into()));

    // A panic answers the caller, deactivates the actor, and the host keeps serving.
    let error = counter.call::<()>("explode", vec![]).await.expect_err("panics");
    assert!(
        matches!(&error, CallError::Remote(d) if d.starts_with("java.lang.RuntimeException: Rust actor")),
        "{error}"
    );
    assert_eq!(counter.call::<i32>("increment", vec![]).await, Ok(1), "a fresh instance after the panic");

    // Idle actors are deactivated after the TTL.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(deactivations.lock().expect("not poisoned").contains(&DeactivationReason::TtlExpired));
    assert_eq!(counter.call::<i32>("increment", vec![]).await, Ok(1), "reactivated");

    // A type nobody hosts fails with the server's placement error.
    let nobody = caller.actor("com.example.Nobody", Key::None).call::<()>("x", vec![]).await.expect_err("unplaceable");
    assert!(matches!(&nobody, CallError::Remote(d) if d.contains("PlacementFailedException")), "{nobody}");

    assert_eq!(counter.call::<i32>("increment", vec![]).await, Ok(1), "active again when the host stops");
    host.stop().await;
    assert!(deactivations.lock().expect("not poisoned").contains(&DeactivationReason::NodeShuttingDown));
    assert_eq!(host.active_actor_count(), 0);
    caller.stop().await;
    let _ = stop.send(());
}

/// Starts a node on a given port (to restart "the same" server).
async fn start_node_on(port: u16) -> oneshot::Sender<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("the port is free again");
    let args: Vec<String> =
        ["--port", &port.to_string(), "--listen", "127.0.0.1", "--metrics-port", "off"].map(str::to_owned).to_vec();
    let config = Config::from_env(&HashMap::<String, String>::new(), &args).expect("valid");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(orbit_node::run_with_listener(config, listener, async move {
        let _ = stopped.await;
    }));
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_rejoin_after_their_server_restarts() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("bound").port();
    let endpoint = format!("127.0.0.1:{port}");
    let stop = start_node_on(port).await;
    let (host, _) = counter_host(config(&endpoint)).await;
    let caller = ClientBuilder::new(config(&endpoint)).connect().await.expect("caller joins");
    let counter = caller.actor(COUNTER, Key::String("c".into()));
    assert_eq!(counter.call::<i32>("increment", vec![]).await, Ok(1));
    let first_identity = host.node_id().expect("joined");

    // The server goes away and comes back empty (in-memory directories): both clients must
    // notice, join again with new identities, and calls work again.
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stop = start_node_on(port).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match counter.call::<i32>("increment", vec![]).await {
            Ok(_) => break,
            Err(error) => {
                assert!(std::time::Instant::now() < deadline, "no recovery after the restart: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    assert_ne!(host.node_id(), Some(first_identity), "the host joined again with a new identity");
    host.stop().await;
    caller.stop().await;
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_arguments_get_an_error_reply_not_silence() {
    use compat_proto::{AddressableReference, InvocationReason, Message, MessageContent, pb};
    use tokio_stream::wrappers::ReceiverStream;

    let (endpoint, stop) = start_node().await;
    let (host, _) = counter_host(config(&endpoint)).await;

    // A raw caller: join, open a stream, send arguments no Kotlin serializer would write.
    let channel = tonic::transport::Channel::from_shared(format!("http://{endpoint}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let mut management = pb::node_management_client::NodeManagementClient::new(channel.clone());
    let mut join = tonic::Request::new(pb::JoinClusterRequestProto::default());
    join.metadata_mut().insert("namespace", "app".parse().expect("ascii"));
    let info = management.join_cluster(join).await.expect("rpc").into_inner().info.expect("joined");
    let id = info.id.expect("id");
    let (outbound, rx) = tokio::sync::mpsc::channel(4);
    let mut open = tonic::Request::new(ReceiverStream::new(rx));
    open.metadata_mut().insert("namespace", id.namespace.parse().expect("ascii"));
    open.metadata_mut().insert("nodekey", id.key.parse().expect("ascii"));
    let mut inbound =
        pb::connection_client::ConnectionClient::new(channel).open_stream(open).await.expect("opens").into_inner();
    for (message_id, arguments) in [(7, "not json"), (8, r#"["[Lkotlin.Pair;",[["kotlin.Pair",{}]]]"#), (9, "{}")] {
        let request = Message {
            message_id,
            ..Message::new(MessageContent::InvocationRequest {
                destination: AddressableReference::new(COUNTER, Key::String("raw".into())),
                method: "increment".into(),
                arguments: arguments.into(),
                reason: InvocationReason::Invocation,
            })
        };
        outbound.send(request.into()).await.expect("send");
        let reply = tokio::time::timeout(Duration::from_secs(10), inbound.message())
            .await
            .expect("a reply, not silence")
            .expect("stream healthy")
            .expect("stream open");
        let reply = Message::try_from(reply).expect("well-formed");
        assert_eq!(reply.message_id, message_id);
        assert!(
            matches!(&reply.content, MessageContent::Error { description } if description.starts_with("java.lang.IllegalArgumentException: undecodable arguments")),
            "{reply:?}"
        );
    }
    host.stop().await;
    let _ = stop.send(());
}

/// Tracks live instances; `on_deactivate` is slow; `hang` never returns.
struct Slow {
    live: Arc<AtomicUsize>,
    most_live: Arc<AtomicUsize>,
    deactivating: Arc<tokio::sync::Notify>,
}

#[tonic::async_trait]
impl Actor for Slow {
    async fn on_activate(&mut self, _context: &ActorContext) -> Result<(), ActorError> {
        let now = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_live.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }

    async fn on_deactivate(&mut self, _context: &ActorContext, _reason: DeactivationReason) {
        self.deactivating.notify_one();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.live.fetch_sub(1, Ordering::SeqCst);
    }

    async fn invoke(&mut self, _context: &ActorContext, call: Invocation) -> Result<JvmValue, ActorError> {
        if call.is("hang", &[]) {
            std::future::pending::<()>().await;
        }
        Ok("ok".into_jvm())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_second_instance_while_one_deactivates_and_stop_ends_stuck_calls() {
    let (endpoint, stop) = start_node().await;
    let (live, most_live) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let deactivating = Arc::new(tokio::sync::Notify::new());
    let (l, m, d) = (live.clone(), most_live.clone(), deactivating.clone());
    let mut host_config = config(&endpoint);
    host_config.actor_ttl = Duration::from_secs(1);
    host_config.deactivation_timeout = Duration::from_secs(2);
    let host = ClientBuilder::new(host_config)
        .actor("com.example.Slow", move |_| Slow { live: l.clone(), most_live: m.clone(), deactivating: d.clone() })
        .connect()
        .await
        .expect("host joins");
    let caller = ClientBuilder::new(config(&endpoint)).connect().await.expect("caller joins");
    let slow = caller.actor("com.example.Slow", Key::String("s".into()));

    // Activate, go idle past the TTL, and call again while on_deactivate is still running.
    assert_eq!(slow.call::<String>("work", vec![]).await, Ok("ok".to_owned()));
    tokio::time::timeout(Duration::from_secs(10), deactivating.notified()).await.expect("TTL deactivation starts");
    assert_eq!(live.load(Ordering::SeqCst), 1, "the old instance is still deactivating");
    assert_eq!(slow.call::<String>("work", vec![]).await, Ok("ok".to_owned()), "the call is placed again and answered");
    assert_eq!(most_live.load(Ordering::SeqCst), 1, "never two live instances of one actor");

    // A call that never returns does not keep stop() from finishing; its caller is answered.
    let stuck = slow.clone();
    let hung = tokio::spawn(async move { stuck.call::<String>("hang", vec![]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::time::timeout(Duration::from_secs(15), host.stop()).await.expect("stop finishes");
    let answer = hung.await.expect("task");
    assert!(
        matches!(&answer, Err(CallError::Remote(d)) if d.contains("was deactivated while this call was running")),
        "{answer:?}"
    );
    caller.stop().await;
    let _ = stop.send(());
}
