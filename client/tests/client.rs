//! The Rust client runtime against orbit-node in-process: a Rust actor hosted by one client
//! and called by another, one call at a time, errors, panics, idle deactivation and a
//! graceful stop.
//!
//! Tests that wait through TTLs, deactivation and stop timeouts run on paused tokio time
//! (`start_paused`): the client's timers are on tokio's clock, so those waits cost no real
//! time. A paused clock jumps to the next timer whenever every task waits, even on a socket;
//! the in-process node shares the runtime and talks over loopback TCP with `TCP_NODELAY`, so
//! what one side writes is readable at once and the clock jumps only when every task waits on
//! a timer. (With Nagle's algorithm a reply waited for a delayed ACK, ~40 ms, and the clock
//! raced through every call timeout meanwhile.) The restart test stays on real time: clients
//! notice a restarted server when their node lease, a wall-clock timestamp, is due for renewal.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use compat_proto::Key;
use orbit_client::codec::JvmValue;
use orbit_client::{
    Actor, ActorContext, ActorError, CallError, ClientBuilder, ClientConfig, DeactivationReason, IntoJvm, Invocation,
    OrbitClient,
};
use orbit_test_support::{NodeOptions, TestNode, assert_eventually, with_identity};

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

/// Sends `n` concurrent `increment` calls to `counter`; returns the answers, sorted.
async fn concurrent_increments(counter: &orbit_client::ActorRef, n: usize) -> Vec<i32> {
    let calls: Vec<_> = (0..n)
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
    results
}

fn config(endpoint: &str) -> ClientConfig {
    let mut config = ClientConfig::new(endpoint, "app");
    config.message_timeout = Duration::from_secs(8);
    config
}

#[tokio::test(start_paused = true)]
async fn rust_actor_hosted_and_called_through_orbit_node() {
    let node = TestNode::start().await;
    let endpoint = node.endpoint();
    let mut host_config = config(&endpoint);
    host_config.actor_ttl = Duration::from_secs(2);
    let (host, deactivations) = counter_host(host_config).await;
    let caller = ClientBuilder::new(config(&endpoint)).connect().await.expect("caller joins");

    // 50 concurrent calls on one actor run one at a time and all count.
    let counter = caller.actor(COUNTER, Key::String("c1".into()));
    let results = concurrent_increments(&counter, 50).await;
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
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_rejoin_after_their_server_restarts() {
    let node = TestNode::start().await;
    let (port, endpoint) = (node.port(), node.endpoint());
    let (host, _) = counter_host(config(&endpoint)).await;
    let caller = ClientBuilder::new(config(&endpoint)).connect().await.expect("caller joins");
    let counter = caller.actor(COUNTER, Key::String("c".into()));
    assert_eq!(counter.call::<i32>("increment", vec![]).await, Ok(1));
    let first_identity = host.node_id().expect("joined");

    // The server goes away and comes back empty (in-memory directories): both clients must
    // notice, join again with new identities, and calls work again.
    node.stop().await.expect("the first server stops cleanly");
    let node = TestNode::start_with(NodeOptions { port: Some(port), ..NodeOptions::default() }).await;
    let recovered = async || counter.call::<i32>("increment", vec![]).await;
    let _ =
        assert_eventually("a call succeeds after the restart", Duration::from_secs(30), recovered, Result::is_ok).await;
    assert_ne!(host.node_id(), Some(first_identity), "the host joined again with a new identity");
    host.stop().await;
    caller.stop().await;
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_arguments_get_an_error_reply_not_silence() {
    use compat_proto::{AddressableReference, InvocationReason, Message, MessageContent, pb};
    use tokio_stream::wrappers::ReceiverStream;

    let node = TestNode::start().await;
    let (host, _) = counter_host(config(&node.endpoint())).await;

    // A raw caller: join, open a stream, send arguments no Kotlin serializer would write.
    let channel = node.channel().await;
    let mut management = pb::node_management_client::NodeManagementClient::new(channel.clone());
    let join = with_identity(pb::JoinClusterRequestProto::default(), Some("app"), None);
    let info = management.join_cluster(join).await.expect("rpc").into_inner().info.expect("joined");
    let id = info.id.expect("id");
    let (outbound, rx) = tokio::sync::mpsc::channel(4);
    let open = with_identity(ReceiverStream::new(rx), Some(&id.namespace), Some(&id.key));
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
    drop(node);
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

#[tokio::test(start_paused = true)]
async fn no_second_instance_while_one_deactivates_and_stop_ends_stuck_calls() {
    let node = TestNode::start().await;
    let endpoint = node.endpoint();
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
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_calls_the_actors_it_hosts_in_process() {
    let node = TestNode::start().await;
    let (host, _deactivations) = counter_host(config(&node.endpoint())).await;
    let counter = host.actor(COUNTER, Key::String("own".into()));
    // Not active yet: the call goes through the server, which places the actor here.
    assert_eq!(counter.call::<i32>("increment", vec![]).await, Ok(1));
    assert_eq!(host.active_actor_count(), 1);

    // Active here: calls go straight to its mailbox, still one at a time.
    let results = concurrent_increments(&counter, 50).await;
    assert_eq!(results, (2..=51).collect::<Vec<_>>());
    let error = counter.call::<String>("fail", vec!["nope".into_argument()]).await.expect_err("fails");
    assert_eq!(
        error,
        CallError::Remote("java.lang.IllegalArgumentException: nope".into()),
        "the text a remote caller gets"
    );

    // With the server gone, the in-process call still reaches the active actor.
    node.stop().await.expect("node stops");
    assert_eq!(counter.call::<i32>("increment", vec![]).await, Ok(52));
    host.stop().await;
}
