//! Orbit-compatible server node.
//!
//! * `config`: the Kotlin launcher's environment and settings JSON, plus flags; validated once.
//! * `clock`: wall-clock timestamps for leases, and Kotlin's lease arithmetic.
//! * `mesh`: node and addressable directories, node lifecycle, routing graph, placement.
//! * `net`: the registry of live client streams.
//! * `pipeline`: what happens to each message read from a stream.
//! * `service`: tonic impls of the Orbit services; translate `pb` <-> domain, nothing else.
//! * `metrics`: the Kotlin meter names and the Prometheus endpoint.
//! * `error`: the node's errors and the only mapping to `tonic::Status`.
//!
//! [`run`] starts a node on the in-memory directories (the embedded default) and stops it
//! gracefully when its shutdown future completes: DRAINING, then the gRPC server and its
//! streams stop, then STOPPED and the node's own record is deleted, as Kotlin does.

pub mod clock;
pub mod config;
pub mod error;
pub mod mesh;
pub mod metrics;
pub mod net;
pub mod pipeline;
pub mod service;

use std::future::Future;
use std::sync::Arc;

use compat_proto::{MANAGEMENT_NAMESPACE, NodeCapabilities, NodeId, NodeStatus, pb};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::server::TcpIncoming;
use tracing::{info, warn};

use crate::clock::Clock;
pub use crate::config::Config;
pub use crate::error::NodeError;
use crate::mesh::cluster::ClusterError;
use crate::mesh::directory::{
    AddressableDirectory, InMemoryAddressableDirectory, InMemoryNodeDirectory, NodeDirectory,
};
use crate::mesh::{AddressableManager, ClusterManager};
use crate::metrics::{Gauges, Metrics};
use crate::net::Connections;
use crate::pipeline::Pipeline;

/// Binds the configured address and runs a node until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| NodeError::Bind { address: config.listen, source })?;
    run_with_listener(config, listener, shutdown).await
}

/// Runs a node on an already bound listener until `shutdown` completes (tests bind port 0).
pub async fn run_with_listener(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NodeError> {
    // The metrics port is bound before anything registers, so a taken port stops the start.
    let metrics_listener = match &config.metrics {
        Some(metrics) => {
            let address = std::net::SocketAddr::new(config.listen.ip(), metrics.port);
            Some(TcpListener::bind(address).await.map_err(|source| NodeError::Bind { address, source })?)
        }
        None => None,
    };
    let metrics = Arc::new(Metrics::new());
    let clock = Arc::new(Clock::default());
    let nodes: Arc<dyn NodeDirectory> = Arc::new(InMemoryNodeDirectory::default());
    let leases: Arc<dyn AddressableDirectory> = Arc::new(InMemoryAddressableDirectory::default());
    let cluster = Arc::new(ClusterManager::new(nodes, clock.clone(), config.node_lease));
    let addressables =
        Arc::new(AddressableManager::new(leases, cluster.clone(), config.addressable_lease, metrics.clone()));

    // A server registers as STARTING with its advertised URL, and turns ACTIVE once listening.
    let own = cluster
        .join_cluster(
            MANAGEMENT_NAMESPACE,
            NodeCapabilities::default(),
            Some(config.advertise_url.clone()),
            NodeStatus::Starting,
            None,
        )
        .await
        .map_err(|e| NodeError::Register(e.to_string()))?;
    let local = own.id.clone();
    let token = CancellationToken::new();
    let tasks = TaskTracker::new();
    let connections = Arc::new(Connections::default());
    let pipeline = Arc::new(Pipeline::new(
        local.clone(),
        cluster.clone(),
        addressables.clone(),
        connections.clone(),
        config.message_retry_attempts,
        metrics.clone(),
    ));
    let health = Arc::new(service::health::HealthService::new(
        local.clone(),
        cluster.clone(),
        addressables.clone(),
        metrics.clone(),
    ));

    // Kotlin's server pings idle connections every 500 ms and drops them after 10 s without
    // an answer, which is how a dead client's stream ends promptly.
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_millis(500)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .add_service(pb::node_management_server::NodeManagementServer::new(
            service::node_management::NodeManagementService::new(cluster.clone()),
        ))
        .add_service(pb::addressable_management_server::AddressableManagementServer::new(
            service::addressable_management::AddressableManagementService::new(addressables.clone(), metrics.clone()),
        ))
        .add_service(pb::connection_server::ConnectionServer::new(service::connection::ConnectionService::new(
            local.clone(),
            cluster.clone(),
            connections.clone(),
            pipeline,
            tasks.clone(),
            token.child_token(),
            metrics.clone(),
        )))
        .add_service(pb::health::health_server::HealthServer::from_arc(health.clone()));

    let local_addr = listener.local_addr().ok();
    let serve_token = token.clone();
    // TCP_NODELAY, as tonic's own `serve` and grpc-java's Netty set it: with Nagle's algorithm a
    // reply written in two segments (headers, then data) waits for the peer's delayed ACK.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let serve = server.serve_with_incoming_shutdown(incoming, serve_token.cancelled_owned());
    let serve_failed = token.clone();
    let server_task = tasks.spawn(async move {
        let outcome = serve.await;
        if let Err(error) = &outcome {
            warn!(error = %error, "grpc server failed");
        }
        serve_failed.cancel(); // A node without its server stops.
        outcome.map_err(|e| NodeError::Serve(e.to_string()))
    });

    if let Err(error) = cluster.update_node(&local, |info| info.status = NodeStatus::Active).await {
        warn!(error = %error, "cannot mark this server ACTIVE");
    }
    info!(node_id = %local, address = ?local_addr, url = %config.advertise_url, "orbit node serving");

    if let (Some(listener), Some(settings)) = (metrics_listener, &config.metrics) {
        info!(port = settings.port, path = %settings.path, "metrics endpoint serving");
        let (metrics, cluster, addressables, connections, health) =
            (metrics.clone(), cluster.clone(), addressables.clone(), connections.clone(), health.clone());
        let scrape = move || {
            let (metrics, cluster, addressables, connections, health) =
                (metrics.clone(), cluster.clone(), addressables.clone(), connections.clone(), health.clone());
            async move {
                let gauges = Gauges {
                    connected_clients: u64::try_from(connections.count()).unwrap_or(u64::MAX),
                    connected_nodes: 0,
                    node_count: cluster.directory().entries().await.map_or(0, |e| u64::try_from(e.len()).unwrap_or(0)),
                    addressable_count: addressables.directory().count().await.unwrap_or(0),
                    passing_health_checks: health.passing_checks().await,
                };
                metrics.render(gauges)
            }
        };
        tasks.spawn(metrics::serve(listener, settings.path.clone(), scrape, token.child_token()));
    }

    let maintenance = Maintenance {
        cluster: cluster.clone(),
        addressables: addressables.clone(),
        connections: connections.clone(),
        local: local.clone(),
        challenge_token: own.lease.challenge_token.clone(),
        config: config.clone(),
        metrics: metrics.clone(),
    };
    tasks.spawn(maintenance.run(token.child_token()));

    let aborted = tokio::select! {
        () = shutdown => false,
        () = token.cancelled() => true,
    };

    info!(node_id = %local, "stopping: draining");
    let _ = cluster.update_node(&local, |info| info.status = NodeStatus::Draining).await;
    token.cancel();
    tasks.close();
    if tokio::time::timeout(config.shutdown_grace_period, tasks.wait()).await.is_err() {
        warn!(grace = ?config.shutdown_grace_period, "graceful shutdown timed out");
    }
    let _ = cluster.update_node(&local, |info| info.status = NodeStatus::Stopped).await;
    if let Ok(Some(record)) = cluster.directory().get(&local).await {
        let _ = cluster.directory().compare_and_set(&local, Some(&record), None).await;
    }
    info!(node_id = %local, "stopped");

    if aborted {
        return match server_task.await {
            Ok(Err(error)) => Err(error),
            _ => Err(NodeError::Serve("the grpc server stopped unexpectedly".to_owned())),
        };
    }
    Ok(())
}

/// What the tick works on (mirrors `OrbitServer.tick`).
struct Maintenance {
    cluster: Arc<ClusterManager>,
    addressables: Arc<AddressableManager>,
    connections: Arc<Connections>,
    local: NodeId,
    challenge_token: String,
    config: config::Config,
    metrics: Arc<Metrics>,
}

impl Maintenance {
    /// Runs [`Maintenance::tick`] every `tick_rate`, timing each one.
    async fn run(self, token: CancellationToken) {
        let mut interval = tokio::time::interval(self.config.tick_rate);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = interval.tick() => {}
            }
            let started = std::time::Instant::now();
            self.tick().await;
            let elapsed = started.elapsed();
            self.metrics.tick_timer.record_duration(elapsed);
            if elapsed > self.config.tick_rate {
                self.metrics.slow_ticks.increment();
            }
        }
    }

    /// One tick: renew this server's own lease when due (joining again under the same id if
    /// its record expired), rewrite its edges from its live streams, reload the cluster view,
    /// cull expired records and leases.
    async fn tick(&self) {
        let (cluster, local) = (&self.cluster, &self.local);
        let now = cluster.now();
        let due = match cluster.directory().get(local).await {
            Ok(Some(own)) => own.lease.renew_at.is_before(now),
            _ => true,
        };
        if due {
            match cluster.renew_lease(local, &self.challenge_token, NodeCapabilities::default()).await {
                Ok(_) => {}
                Err(ClusterError::InvalidNodeId(_)) => {
                    warn!(node_id = %local, "own record expired; joining again");
                    let rejoined = cluster
                        .join_cluster(
                            MANAGEMENT_NAMESPACE,
                            NodeCapabilities::default(),
                            Some(self.config.advertise_url.clone()),
                            NodeStatus::Active,
                            Some(&local.key),
                        )
                        .await;
                    if let Err(error) = rejoined {
                        warn!(node_id = %local, error = %error, "rejoin failed; retrying next tick");
                    }
                }
                Err(error) => warn!(node_id = %local, error = %error, "own lease renewal failed"),
            }
        }
        // This server's edges are its live streams (Kotlin recomputes them every tick too), so
        // a rejoin or a lost update cannot leave connected clients unreachable.
        let connected = self.connections.node_ids();
        let _ = cluster
            .update_node(local, |info| {
                let mut kept: Vec<NodeId> =
                    info.visible_nodes.iter().filter(|n| n.is_management() || connected.contains(n)).cloned().collect();
                for node in &connected {
                    if !kept.contains(node) {
                        kept.push(node.clone());
                    }
                }
                info.visible_nodes = kept;
            })
            .await;
        if let Err(error) = cluster.refresh().await {
            warn!(error = %error, "cluster view refresh failed");
        }
        let _ = cluster.directory().tick(now).await;
        let _ = self.addressables.directory().tick(now).await;
    }
}
