//! Micro-benchmark of the cluster view: what one client lease renewal and one routed
//! invocation cost a server with 10, 100 and 1,000 joined and connected clients.
//!
//! Everything runs in one process on the in-memory directories, through the real
//! `ClusterManager`, `AddressableManager` and `Pipeline`; no gRPC, no network. Run with
//! `cargo bench -p orbit-node --bench cluster_view`; it prints a markdown table of ns/op
//! (the median of several timed samples, each after a warm-up).
//!
//! * renewal: `ClusterManager::renew_lease` for the clients in turn (what
//!   `NodeManagement/RenewLease` does below tonic).
//! * invocation: `Pipeline::on_inbound` of an invocation request from one client to an
//!   addressable already placed on another: source validation, `locate_or_place` with the
//!   owner check, route lookup, conversion to the wire type and the send to the host's stream.
//! * route: `ClusterManager::find_route` from the server to a client, alone.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use compat_proto::{
    AddressableReference, InvocationReason, Key, MANAGEMENT_NAMESPACE, Message, MessageContent, NodeCapabilities,
    NodeId, NodeStatus,
};
use orbit_node::clock::{Clock, LeaseDuration};
use orbit_node::mesh::directory::{InMemoryAddressableDirectory, InMemoryNodeDirectory};
use orbit_node::mesh::{AddressableManager, ClusterManager};
use orbit_node::metrics::Metrics;
use orbit_node::net::{Connections, Outbound};
use orbit_node::pipeline::Pipeline;
use tokio::sync::mpsc;

/// The numbers of connected clients measured.
const SIZES: [usize; 3] = [10, 100, 1_000];
/// The addressable type every client hosts.
const ACTOR_TYPE: &str = "bench.EchoActor";
/// Distinct addressables called, spread over the clients by placement.
const ACTORS: usize = 256;
/// Operations between two clock reads (and, for invocations, between two drains).
const BATCH: usize = 256;
/// Timed samples per measurement; the median is reported.
const SAMPLES: usize = 5;
/// The least time one sample runs.
const SAMPLE_TIME: Duration = Duration::from_millis(200);
/// The warm-up before the samples.
const WARM_UP: Duration = Duration::from_millis(200);

/// A server with `n` clients that joined and opened their streams.
struct Cluster {
    server: NodeId,
    cluster: Arc<ClusterManager>,
    pipeline: Pipeline,
    /// Each client's id and challenge token.
    clients: Vec<(NodeId, String)>,
    /// The receiving halves of the clients' streams, in the order of `clients`.
    streams: Vec<mpsc::Receiver<Outbound>>,
}

impl Cluster {
    async fn start(n: usize) -> Self {
        let clock = Arc::new(Clock::default());
        // Long leases: a slow set-up must not let records expire during a run.
        let lease = LeaseDuration::from_secs(3_600);
        let cluster = Arc::new(ClusterManager::new(Arc::new(InMemoryNodeDirectory::default()), clock, lease));
        let metrics = Arc::new(Metrics::new());
        let addressables = Arc::new(AddressableManager::new(
            Arc::new(InMemoryAddressableDirectory::default()),
            cluster.clone(),
            LeaseDuration::from_secs(3_600),
            metrics.clone(),
        ));
        let server = cluster
            .join_cluster(
                MANAGEMENT_NAMESPACE,
                NodeCapabilities::default(),
                Some("bench:1".into()),
                NodeStatus::Active,
                None,
            )
            .await
            .expect("the server joins")
            .id;
        let connections = Arc::new(Connections::default());
        let mut clients = Vec::with_capacity(n);
        let mut streams = Vec::with_capacity(n);
        for _ in 0..n {
            let info = cluster
                .join_cluster("bench", capabilities(), None, NodeStatus::Active, None)
                .await
                .expect("a client joins");
            // What `Connection/OpenStream` does when it accepts a stream.
            let (tx, rx) = mpsc::channel(BATCH * 2);
            connections.register(info.id.clone(), tx);
            let (local, caller) = (server.clone(), info.id.clone());
            cluster.update_node(&info.id, |i| i.visible_nodes.push(local.clone())).await.expect("client record");
            cluster.update_node(&server, |i| i.visible_nodes.push(caller.clone())).await.expect("server record");
            clients.push((info.id, info.lease.challenge_token));
            streams.push(rx);
        }
        let pipeline = Pipeline::new(server.clone(), cluster.clone(), addressables, connections, 10, metrics);
        Self { server, cluster, pipeline, clients, streams }
    }

    /// Empties every client's stream and returns how many invocations and how many
    /// `error` replies it held.
    fn drain(&mut self) -> (usize, usize) {
        let (mut delivered, mut errors) = (0, 0);
        for stream in &mut self.streams {
            while let Ok(outbound) = stream.try_recv() {
                let content = outbound.ok().and_then(|m| Message::try_from(m).ok()).map(|m| m.content);
                match content {
                    Some(MessageContent::InvocationRequest { .. }) => delivered += 1,
                    _ => errors += 1,
                }
            }
        }
        (delivered, errors)
    }
}

fn capabilities() -> NodeCapabilities {
    NodeCapabilities { addressable_types: vec![ACTOR_TYPE.to_owned()] }
}

fn invocation(i: usize) -> Message {
    Message {
        content: MessageContent::InvocationRequest {
            destination: AddressableReference::new(ACTOR_TYPE, Key::String(format!("actor-{}", i % ACTORS))),
            method: "echo".into(),
            arguments: "[]".into(),
            reason: InvocationReason::Invocation,
        },
        message_id: i64::try_from(i + 1).unwrap_or(i64::MAX),
        source: None,
        target: None,
        attempts: 0,
    }
}

/// Runs `batch` (which performs `BATCH` operations from operation number `start`) for a
/// warm-up, then `SAMPLES` samples; `between` runs untimed after each batch. Returns the
/// median ns per operation.
async fn measure<S>(state: &mut S, mut batch: impl AsyncFnMut(&mut S, usize), mut between: impl FnMut(&mut S)) -> f64 {
    let mut op = 0;
    let warm_up = Instant::now();
    while warm_up.elapsed() < WARM_UP {
        batch(state, op).await;
        between(state);
        op += BATCH;
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let (mut timed, mut ops) = (Duration::ZERO, 0u32);
        while timed < SAMPLE_TIME {
            let started = Instant::now();
            batch(state, op).await;
            timed += started.elapsed();
            between(state);
            op += BATCH;
            ops += u32::try_from(BATCH).expect("a small batch");
        }
        samples.push(timed.as_secs_f64() * 1e9 / f64::from(ops));
    }
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

async fn bench(n: usize) -> (f64, f64, f64) {
    let mut cluster = Cluster::start(n).await;

    let renewal = measure(
        &mut cluster,
        async |c: &mut Cluster, start: usize| {
            for op in start..start + BATCH {
                let (id, token) = &c.clients[op % c.clients.len()];
                let renewed = c.cluster.renew_lease(id, token, capabilities()).await;
                black_box(renewed.expect("the client renews"));
            }
        },
        |_| {},
    )
    .await;

    // Every call comes from the first client; placement spreads the actors over all clients.
    let caller = cluster.clients[0].0.clone();
    let (mut delivered, mut errors) = (0, 0);
    let invocation_ns = measure(
        &mut cluster,
        async |c: &mut Cluster, start: usize| {
            for op in start..start + BATCH {
                c.pipeline.on_inbound(invocation(op), &caller).await;
            }
        },
        |c| {
            let (ok, failed) = c.drain();
            delivered += ok;
            errors += failed;
        },
    )
    .await;
    // A failure would have come back to the caller as an `error`: only successes were timed.
    assert_eq!(errors, 0, "no invocation failed");
    assert!(delivered > 0, "invocations were delivered");

    let route = measure(
        &mut cluster,
        async |c: &mut Cluster, start: usize| {
            for op in start..start + BATCH {
                let (to, _) = &c.clients[op % c.clients.len()];
                black_box(c.cluster.find_route(&c.server, to));
            }
        },
        |_| {},
    )
    .await;
    (renewal, invocation_ns, route)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
    println!("| clients | lease renewal ns/op | invocation ns/op | route lookup ns/op |");
    println!("|---:|---:|---:|---:|");
    for n in SIZES {
        let (renewal, invocation, route) = runtime.block_on(bench(n));
        println!("| {n} | {renewal:.0} | {invocation:.0} | {route:.0} |");
    }
}
