//! Orbit-compatible server node.
//!
//! * `config`: the Kotlin launcher's environment and settings JSON, plus flags; validated once.
//! * `clock`: wall-clock timestamps for leases, and Kotlin's lease arithmetic.
//! * `mesh`: node and addressable directories, node lifecycle, routing graph, placement.
//! * `net`: the registry of live client streams.
//! * `pipeline`: what happens to each message read from a stream.
//! * `service`: tonic impls of the Orbit services; translate `pb` <-> domain, nothing else.
//! * `metrics`: the Kotlin meter names and the Prometheus endpoint.
//! * `telemetry`: log lines (text or JSON) and the per-hop spans, exported over OTLP.
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
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;

use compat_proto::{MANAGEMENT_NAMESPACE, NodeCapabilities, NodeId, NodeInfo, NodeStatus, pb};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::server::TcpIncoming;
use tracing::{info, warn};

use crate::clock::Clock;
pub use crate::config::Config;
use crate::config::DirectoryConfig;
pub use crate::error::NodeError;
use crate::mesh::cluster::ClusterError;
use crate::mesh::directory::{
    AddressableDirectory, InMemoryAddressableDirectory, InMemoryNodeDirectory, NodeDirectory,
};
use crate::mesh::etcd::{EtcdAddressableDirectory, EtcdNodeDirectory};
use crate::mesh::{AddressableManager, ClusterManager};
use crate::metrics::{EtcdRequests, Gauges, Metrics};
use crate::net::Connections;
use crate::net::remote::RemoteNodes;
use crate::net::tls::{PeerTls, PeerTransportService, TlsListener};
use crate::pipeline::Pipeline;

/// How long a stopping server that has peers keeps forwarding after releasing its clients.
const DRAIN_PERIOD: std::time::Duration = std::time::Duration::from_secs(3);

/// Binds the configured address and runs a node until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| NodeError::Bind { address: config.listen, source })?;
    run_with_listener(config, listener, shutdown).await
}

/// Runs a node on an already bound listener until `shutdown` completes (tests bind port 0),
/// on the directories the configuration selects.
pub async fn run_with_listener(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NodeError> {
    let clock = Arc::new(Clock::default());
    let metrics = Arc::new(Metrics::new());
    let directories = Directories::open(&config, &clock, &metrics.node.etcd_requests).await?;
    run_with_metrics(config, listener, clock, directories, metrics, shutdown).await
}

/// The two stores a node works on.
pub struct Directories {
    /// Node records.
    pub nodes: Arc<dyn NodeDirectory>,
    /// Addressable leases.
    pub addressables: Arc<dyn AddressableDirectory>,
}

/// Runs a node on `listener` and the given `directories` until `shutdown` completes: builds
/// the parts, registers the server, serves, and stops gracefully.
pub async fn run_with_directories(
    config: Config,
    listener: TcpListener,
    clock: Arc<Clock>,
    directories: Directories,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NodeError> {
    run_with_metrics(config, listener, clock, directories, Arc::new(Metrics::new()), shutdown).await
}

async fn run_with_metrics(
    config: Config,
    listener: TcpListener,
    clock: Arc<Clock>,
    directories: Directories,
    metrics: Arc<Metrics>,
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
    // So is the TLS port, and the certificate must load.
    let tls_listener = match &config.tls {
        Some(tls) => {
            let address = std::net::SocketAddr::new(config.listen.ip(), tls.port);
            let socket = TcpListener::bind(address).await.map_err(|source| NodeError::Bind { address, source })?;
            Some((socket, TlsListener::load(tls.clone(), metrics.clone())?))
        }
        None => None,
    };
    let cluster = Arc::new(ClusterManager::new(directories.nodes, clock.clone(), config.node_lease));
    let addressables = Arc::new(AddressableManager::new(
        directories.addressables,
        cluster.clone(),
        config.addressable_lease,
        metrics.clone(),
    ));
    tokio::pin!(shutdown);
    let own = register(&cluster, &config, &mut shutdown).await?;
    let local = own.id.clone();
    let token = CancellationToken::new();
    let tasks = TaskTracker::new();
    let connections = Arc::new(Connections::default());
    // Client streams end first when the node stops (they move to other servers), peer
    // streams last (they carry what is still in flight).
    let client_streams = token.child_token();
    let remote = Arc::new(
        RemoteNodes::new(local.clone(), config.advertise_url.clone(), tasks.clone(), token.child_token())
            .with_tls(config.tls.as_ref().and_then(PeerTls::of)),
    );
    let pipeline = Arc::new(
        Pipeline::new(
            local.clone(),
            cluster.clone(),
            addressables.clone(),
            connections.clone(),
            config.message_retry_attempts,
            metrics.clone(),
        )
        .with_mesh(remote.clone()),
    );
    let health = Arc::new(service::health::HealthService::new(
        local.clone(),
        cluster.clone(),
        addressables.clone(),
        metrics.clone(),
    ));
    let parts = Parts {
        config,
        local,
        metrics,
        cluster,
        addressables,
        connections,
        remote,
        pipeline,
        health,
        token,
        client_streams,
        tasks,
    };
    parts
        .serve(
            Listeners { grpc: listener, tls: tls_listener, metrics: metrics_listener },
            own.lease.challenge_token,
            shutdown,
        )
        .await
}

/// Registers this server in the node directory as STARTING with its advertised URL. A
/// directory that cannot be reached yet (etcd starting later) is retried every second until
/// `shutdown` completes.
async fn register(
    cluster: &ClusterManager,
    config: &Config,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<NodeInfo, NodeError> {
    loop {
        let joined = cluster
            .join_cluster(
                MANAGEMENT_NAMESPACE,
                NodeCapabilities::default(),
                Some(config.advertise_url.clone()),
                NodeStatus::Starting,
                None,
            )
            .await;
        match joined {
            Ok(own) => return Ok(own),
            Err(error) => {
                warn!(error = %error_chain(&error), "cannot register this server in the node directory; retrying in 1 s");
                tokio::select! {
                    () = &mut *shutdown => return Err(NodeError::Register(error)),
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// The sockets a node serves on.
struct Listeners {
    /// Plaintext gRPC (Kotlin clients and servers).
    grpc: TcpListener,
    /// TLS gRPC, with its certificates.
    tls: Option<(TcpListener, Arc<TlsListener>)>,
    /// The Prometheus endpoint.
    metrics: Option<TcpListener>,
}

/// Everything a running node is made of.
struct Parts {
    config: Config,
    local: NodeId,
    metrics: Arc<Metrics>,
    cluster: Arc<ClusterManager>,
    addressables: Arc<AddressableManager>,
    connections: Arc<Connections>,
    remote: Arc<RemoteNodes>,
    pipeline: Arc<Pipeline>,
    health: Arc<service::health::HealthService>,
    token: CancellationToken,
    client_streams: CancellationToken,
    tasks: TaskTracker,
}

impl Parts {
    /// Serves the gRPC services on `listener` (and the metrics on `metrics_listener`), turns
    /// ACTIVE, runs the tick until `shutdown` completes or the server fails, then stops.
    async fn serve(
        self,
        listeners: Listeners,
        challenge_token: String,
        shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), NodeError> {
        let Parts {
            config,
            local,
            metrics,
            cluster,
            addressables,
            connections,
            remote,
            pipeline,
            health,
            token,
            client_streams,
            tasks,
        } = self;
        let Listeners { grpc: listener, tls, metrics: metrics_listener } = listeners;
        let connection_service = service::connection::ConnectionService::new(
            local.clone(),
            cluster.clone(),
            connections.clone(),
            pipeline.clone(),
            tasks.clone(),
            token.child_token(),
            metrics.clone(),
        )
        .with_client_token(client_streams.clone());
        let pipeline_capacity = connection_service.capacity();
        let tls_port = config.tls.as_ref().map(|t| t.port);
        // The same services on every listener (they share their state).
        let router = || {
            // Kotlin's server pings idle connections every 500 ms and drops them after 10 s
            // without an answer, which is how a dead client's stream ends promptly.
            tonic::transport::Server::builder()
                .http2_keepalive_interval(Some(std::time::Duration::from_millis(500)))
                .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
                .add_service(pb::node_management_server::NodeManagementServer::new(
                    service::node_management::NodeManagementService::new(cluster.clone()),
                ))
                .add_service(pb::addressable_management_server::AddressableManagementServer::new(
                    service::addressable_management::AddressableManagementService::new(
                        addressables.clone(),
                        metrics.clone(),
                    ),
                ))
                .add_service(pb::connection_server::ConnectionServer::new(connection_service.clone()))
                .add_service(pb::health::health_server::HealthServer::from_arc(health.clone()))
                .add_service(pb::orbit_node::peer_transport_server::PeerTransportServer::new(
                    PeerTransportService::new(tls_port),
                ))
        };

        let local_addr = listener.local_addr().ok();
        // TCP_NODELAY, as tonic's own `serve` and grpc-java's Netty set it: with Nagle's algorithm a
        // reply written in two segments (headers, then data) waits for the peer's delayed ACK.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let serve = router().serve_with_incoming_shutdown(incoming, token.clone().cancelled_owned());
        let serve_failed = token.clone();
        let server_task = tasks.spawn(async move {
            let outcome = serve.await;
            if let Err(error) = &outcome {
                warn!(error = %error, "grpc server failed");
            }
            serve_failed.cancel(); // A node without its server stops.
            outcome.map_err(NodeError::Serve)
        });
        if let Some((socket, tls)) = tls {
            let address = socket.local_addr().ok();
            let incoming = tls.incoming(socket, tasks.clone(), token.child_token());
            let serve = router().serve_with_incoming_shutdown(incoming, token.clone().cancelled_owned());
            let serve_failed = token.clone();
            tasks.spawn(async move {
                if let Err(error) = serve.await {
                    warn!(error = %error, "TLS grpc server failed");
                    serve_failed.cancel();
                }
            });
            tasks.spawn(tls.watch(token.child_token()));
            info!(address = ?address, "TLS listener serving");
        }

        if let Err(error) = cluster.update_node(&local, |info| info.status = NodeStatus::Active).await {
            warn!(error = %error, "cannot mark this server ACTIVE");
        }
        info!(node_id = %local, address = ?local_addr, url = %config.advertise_url, "orbit node serving");

        if let (Some(listener), Some(settings)) = (metrics_listener, &config.metrics) {
            info!(port = settings.port, path = %settings.path, "metrics endpoint serving");
            let sources = Arc::new(ScrapeSources {
                metrics: metrics.clone(),
                cluster: cluster.clone(),
                addressables: addressables.clone(),
                connections: connections.clone(),
                health: health.clone(),
                remote: remote.clone(),
                pipeline_capacity,
            });
            tasks.spawn(metrics::serve(listener, settings.path.clone(), sources, token.child_token()));
        }

        let maintenance = Maintenance {
            cluster: cluster.clone(),
            addressables: addressables.clone(),
            connections: connections.clone(),
            remote: remote.clone(),
            pipeline: pipeline.clone(),
            local: local.clone(),
            challenge_token,
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
        // In a mesh, hand the clients over before going: their streams end now (Kotlin and Rust
        // clients reopen theirs within a tick, through the load balancer, on another server), and
        // for a short while this server keeps its peer streams and forwards what is still in
        // flight, over the other servers once its clients have moved.
        if !aborted && remote.count() > 0 {
            client_streams.cancel();
            let drain = DRAIN_PERIOD.min(config.shutdown_grace_period);
            info!(node_id = %local, ?drain, "clients released; forwarding in-flight messages");
            tokio::time::sleep(drain).await;
        }
        token.cancel();
        tasks.close();
        if tokio::time::timeout(config.shutdown_grace_period, tasks.wait()).await.is_err() {
            warn!(grace = ?config.shutdown_grace_period, "graceful shutdown timed out");
        }
        let _ = cluster.update_node(&local, |info| info.status = NodeStatus::Stopped).await;
        let _ = cluster.remove_node(&local).await;
        info!(node_id = %local, "stopped");

        if aborted {
            return match server_task.await {
                Ok(Err(error)) => Err(error),
                _ => Err(NodeError::ServerGone),
            };
        }
        Ok(())
    }
}

/// What a metrics scrape reads.
struct ScrapeSources {
    metrics: Arc<Metrics>,
    cluster: Arc<ClusterManager>,
    addressables: Arc<AddressableManager>,
    connections: Arc<Connections>,
    health: Arc<service::health::HealthService>,
    remote: Arc<RemoteNodes>,
    pipeline_capacity: Arc<tokio::sync::Semaphore>,
}

impl metrics::Probes for ScrapeSources {
    fn scrape(&self) -> metrics::BoxFuture<'_, String> {
        Box::pin(self.render())
    }

    /// The gRPC health check's verdict (without timing it into Kotlin's `orbit_health_checks`,
    /// which counts gRPC checks only), or not ready if it takes over a second.
    fn ready(&self) -> metrics::BoxFuture<'_, bool> {
        Box::pin(async {
            let checks = tokio::time::timeout(std::time::Duration::from_secs(1), self.health.passing_checks()).await;
            matches!(checks, Ok(4))
        })
    }
}

impl ScrapeSources {
    /// Reads the gauges and renders the scrape.
    async fn render(&self) -> String {
        let gauges = Gauges {
            connected_clients: u64::try_from(self.connections.count()).unwrap_or(u64::MAX),
            connected_nodes: u64::try_from(self.remote.count()).unwrap_or(u64::MAX),
            // Every key of the store, as Kotlin counts (spec 8.5).
            node_count: self.cluster.directory().count().await.unwrap_or(0),
            addressable_count: self.addressables.directory().count().await.unwrap_or(0),
            passing_health_checks: self.health.passing_checks().await,
            peer_streams_in: self.connections.node_ids().iter().filter(|id| id.is_management()).count() as u64,
            pipeline_in_flight: service::connection::PIPELINE_CAPACITY
                .saturating_sub(self.pipeline_capacity.available_permits()) as u64,
        };
        self.metrics.render(gauges)
    }
}

/// Renders an error with its sources (`a: b: c`), for logs.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Directories {
    /// Opens the directories the configuration selects (etcd ones date their leases with `clock`
    /// and time their requests into `etcd_requests`).
    pub async fn open(config: &Config, clock: &Arc<Clock>, etcd_requests: &EtcdRequests) -> Result<Self, NodeError> {
        let nodes: Arc<dyn NodeDirectory> = match &config.node_directory {
            DirectoryConfig::InMemory => Arc::new(InMemoryNodeDirectory::default()),
            DirectoryConfig::Etcd { url } => {
                info!(%url, "node directory: etcd");
                Arc::new(
                    EtcdNodeDirectory::connect_observed(url, clock.clone(), etcd_requests.clone())
                        .await
                        .map_err(NodeError::Directory)?,
                )
            }
        };
        let leases: Arc<dyn AddressableDirectory> = match &config.addressable_directory {
            DirectoryConfig::InMemory => Arc::new(InMemoryAddressableDirectory::default()),
            DirectoryConfig::Etcd { url } => {
                info!(%url, "addressable directory: etcd");
                Arc::new(
                    EtcdAddressableDirectory::connect_observed(url, clock.clone(), etcd_requests.clone())
                        .await
                        .map_err(NodeError::Directory)?,
                )
            }
        };
        Ok(Self { nodes, addressables: leases })
    }
}

/// What the tick works on (mirrors `OrbitServer.tick`).
struct Maintenance {
    cluster: Arc<ClusterManager>,
    addressables: Arc<AddressableManager>,
    connections: Arc<Connections>,
    remote: Arc<RemoteNodes>,
    pipeline: Arc<Pipeline>,
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
        if let Err(error) = cluster.refresh().await {
            warn!(error = %error_chain(&error), "cluster view refresh failed");
        }
        if let Err(error) = cluster.directory().tick(now).await {
            warn!(error = %error_chain(&error), "node directory tick failed");
        }
        if let Err(error) = self.addressables.directory().tick(now).await {
            warn!(error = %error_chain(&error), "addressable directory tick failed");
        }
        // The mesh (RemoteMeshNodeManager.kt): dial new servers, drop departed ones, then write
        // this server's edges: its connected clients and the peers it has an outgoing stream
        // to (a peer's incoming stream is not an edge: Kotlin servers do not read what comes
        // back on the streams they opened). Rebuilt from live streams every tick, so a rejoin
        // or a lost update cannot leave connected clients unreachable.
        let view = cluster.view();
        self.remote.refresh(view.valid_nodes(cluster.now()), &self.pipeline);
        let servers: Vec<&str> =
            view.valid_nodes(cluster.now()).filter(|n| n.id.is_management()).map(|n| n.id.key.as_str()).collect();
        self.metrics.node.retain_servers(&servers);
        let clients: Vec<NodeId> = self.connections.node_ids().into_iter().filter(|n| !n.is_management()).collect();
        let peers = self.remote.connected();
        let _ = cluster
            .update_node(local, |info| {
                let mut kept: Vec<NodeId> = info
                    .visible_nodes
                    .iter()
                    .filter(|n| if n.is_management() { peers.contains(n) } else { clients.contains(n) })
                    .cloned()
                    .collect();
                for node in clients.iter().chain(&peers) {
                    if !kept.contains(node) {
                        kept.push(node.clone());
                    }
                }
                info.visible_nodes = kept;
            })
            .await;
    }
}
