//! `orbit.shared.Connection/OpenStream`: the long-lived message stream of each client or
//! peer (mirrors `ConnectionService.kt` and `ConnectionManager.onNewClient`).
//!
//! A reader task per stream feeds the pipeline; replies reach the stream through an mpsc
//! channel registered in [`Connections`]. When the stream ends (the client went away, or
//! the node is stopping), the registration and the routing edges are removed.

use std::future::Future;
use std::sync::Arc;

use compat_proto::render::KotlinException;
use compat_proto::{Message, MessageContent, NodeId, pb};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, error, info, warn};

use crate::error::{StatusKind, stream_failure_status};
use crate::mesh::ClusterManager;
use crate::metrics::SharedMetrics;
use crate::net::{Connections, Outbound, STREAM_BUFFER};
use crate::pipeline::Pipeline;

/// Messages in the pipeline at once, over all streams (Kotlin's `pipelineBufferCount`).
pub const PIPELINE_CAPACITY: usize = 10_000;
use crate::service::CallerIdentity;

/// The Connection service (a clone shares everything, for a second listener).
#[derive(Clone)]
pub struct ConnectionService {
    local: NodeId,
    cluster: Arc<ClusterManager>,
    connections: Arc<Connections>,
    pipeline: Arc<Pipeline>,
    tasks: TaskTracker,
    token: CancellationToken,
    metrics: SharedMetrics,
    /// Shared by every stream: bounds the messages being processed.
    capacity: Arc<tokio::sync::Semaphore>,
    /// Ends client (non-`management`) streams; peer streams end with `token`.
    client_token: Option<CancellationToken>,
}

impl ConnectionService {
    /// Returns the service for the server `local`; its stream tasks belong to `tasks` and
    /// end when `token` is cancelled.
    pub fn new(
        local: NodeId,
        cluster: Arc<ClusterManager>,
        connections: Arc<Connections>,
        pipeline: Arc<Pipeline>,
        tasks: TaskTracker,
        token: CancellationToken,
        metrics: SharedMetrics,
    ) -> Self {
        let capacity = Arc::new(tokio::sync::Semaphore::new(PIPELINE_CAPACITY));
        Self { local, cluster, connections, pipeline, tasks, token, metrics, capacity, client_token: None }
    }

    /// Returns the pipeline's capacity semaphore: its taken permits are the messages in flight.
    pub fn capacity(&self) -> Arc<tokio::sync::Semaphore> {
        self.capacity.clone()
    }

    /// Ends client streams when `token` is cancelled (a stopping node releases its clients
    /// before its peers); new client streams are refused from then on.
    pub fn with_client_token(mut self, token: CancellationToken) -> Self {
        self.client_token = Some(token);
        self
    }
}

#[tonic::async_trait]
impl pb::connection_server::Connection for ConnectionService {
    type OpenStreamStream = ReceiverStream<Outbound>;

    async fn open_stream(
        &self,
        request: Request<Streaming<pb::MessageProto>>,
    ) -> Result<Response<Self::OpenStreamStream>, Status> {
        let Some(caller) = CallerIdentity::from_metadata(request.metadata()).node_id() else {
            return Err(StatusKind::Unknown.to_status(""));
        };
        let stream_token = match &self.client_token {
            Some(clients) if !caller.is_management() => clients.clone(),
            _ => self.token.clone(),
        };
        if stream_token.is_cancelled() {
            // A draining server: the client retries, and the load balancer picks another one.
            return Err(Status::unavailable("this server is stopping"));
        }
        let (tx, rx) = mpsc::channel::<Outbound>(STREAM_BUFFER);
        let valid = self.cluster.is_valid_node(&caller).await.unwrap_or(false);
        if !valid {
            // One error message without id, source or target, then a clean end of stream.
            let description = KotlinException::InvalidNodeId(caller.clone()).to_string();
            let message = Message::new(MessageContent::Error { description });
            let _ = tx.send(Ok(pb::MessageProto::from(message))).await;
            return Ok(Response::new(ReceiverStream::new(rx)));
        }

        let registration = self.connections.register(caller.clone(), tx.clone());
        add_edges(&self.cluster, &self.local, &caller).await;
        info!(node_id = %caller, "stream opened");

        let inbound = request.into_inner();
        let reader = StreamReader {
            caller,
            outbound: tx,
            registration,
            local: self.local.clone(),
            cluster: self.cluster.clone(),
            connections: self.connections.clone(),
            pipeline: self.pipeline.clone(),
            tasks: self.tasks.clone(),
            metrics: self.metrics.clone(),
            capacity: self.capacity.clone(),
        };
        self.tasks.spawn(reader.run(inbound, stream_token));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

struct StreamReader {
    caller: NodeId,
    /// Ends the stream with a status when the inbound half fails.
    outbound: mpsc::Sender<Outbound>,
    registration: u64,
    local: NodeId,
    cluster: Arc<ClusterManager>,
    connections: Arc<Connections>,
    pipeline: Arc<Pipeline>,
    tasks: TaskTracker,
    metrics: SharedMetrics,
    capacity: Arc<tokio::sync::Semaphore>,
}

impl StreamReader {
    async fn run(self, mut inbound: Streaming<pb::MessageProto>, token: CancellationToken) {
        // Kotlin creates the message-size meter when it starts consuming a stream.
        self.metrics.message_sizes.register();
        loop {
            let next = tokio::select! {
                () = token.cancelled() => break,
                next = inbound.message() => next,
            };
            match next {
                Ok(Some(wire)) => self.accept(wire),
                Ok(None) => break,
                Err(status) => {
                    debug!(node_id = %self.caller, %status, "stream ended with an error");
                    if let Some(answer) = stream_failure_status(&status) {
                        warn!(node_id = %self.caller, %status, "closing the stream after a bad frame");
                        let _ = self.outbound.send(Err(answer)).await;
                    }
                    break;
                }
            }
        }
        // The client went away (or we are stopping): forget its stream and routing edges,
        // unless a newer stream of the same node has replaced this one.
        if self.connections.unregister(&self.caller, self.registration) {
            remove_edges(&self.cluster, &self.local, &self.caller).await;
        }
        info!(node_id = %self.caller, "stream closed");
    }

    fn accept(&self, wire: pb::MessageProto) {
        // Kotlin's pipeline queue holds 10,000 messages; beyond that a message is answered
        // with an error instead of waiting.
        let Ok(permit) = self.capacity.clone().try_acquire_owned() else {
            let description = KotlinException::PipelineFull(PIPELINE_CAPACITY).to_string();
            let (pipeline, caller, message_id) = (self.pipeline.clone(), self.caller.clone(), wire.message_id);
            warn!(node_id = %caller, message_id, "pipeline full; answering with an error");
            self.metrics.node.pipeline_rejected.inc();
            self.tasks.spawn(async move { pipeline.reply_error(message_id, caller, description).await });
            return;
        };
        self.metrics.message_sizes.record(u64::try_from(prost::Message::encoded_len(&wire)).unwrap_or(u64::MAX));
        let message_id = wire.message_id;
        let pipeline = self.pipeline.clone();
        let caller = self.caller.clone();
        match Message::try_from(wire) {
            Ok(message) => {
                let mut processing = Box::pin(async move {
                    pipeline.on_inbound(message, &caller).await;
                    drop(permit);
                });
                // Most messages need no waiting at all (a lookup in memory, a place in a
                // stream's queue): run them here, and hand only those that wait (a directory
                // read in etcd, a retry pause) to a task of their own. A task per message
                // cost more than the routing itself. The task's first poll registers its own
                // waker with whatever the message waits for.
                let mut context = std::task::Context::from_waker(std::task::Waker::noop());
                // A panic while routing must end this message only, as it did in a task of its
                // own, never the stream's reader (whose end unregisters the stream).
                let polled =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| processing.as_mut().poll(&mut context)));
                match polled {
                    Ok(std::task::Poll::Pending) => {
                        self.tasks.spawn(processing);
                    }
                    Ok(std::task::Poll::Ready(())) => {}
                    Err(_) => error!(node_id = %self.caller, message_id, "routing a message panicked; message dropped"),
                }
            }
            Err(error) => {
                // Kotlin would close the stream; we answer this message and keep serving.
                warn!(node_id = %caller, message_id, error = %error, "malformed message");
                let description = format!("malformed message: {error}");
                self.tasks.spawn(async move { pipeline.reply_error(message_id, caller, description).await });
            }
        }
    }
}

/// Records the direct connection: this server in the caller's record, and a client caller in
/// this server's record (`visibleNodes` are the routing graph's edges). A peer server's
/// incoming stream is not recorded as an edge from here: the Kotlin server that opened it
/// never reads what comes back on it, so this server reaches peers over its own outgoing
/// streams only (written by the tick). Kotlin records it until its next tick.
async fn add_edges(cluster: &ClusterManager, local: &NodeId, caller: &NodeId) {
    let local_id = local.clone();
    let caller_id = caller.clone();
    if let Err(error) = cluster.update_node(caller, |info| push_unique(&mut info.visible_nodes, &local_id)).await {
        warn!(node_id = %caller, error = %error, "cannot record the connection in the caller's record");
    }
    if caller.is_management() {
        return;
    }
    if let Err(error) = cluster.update_node(local, |info| push_unique(&mut info.visible_nodes, &caller_id)).await {
        warn!(node_id = %caller, error = %error, "cannot record the connection in this server's record");
    }
}

async fn remove_edges(cluster: &ClusterManager, local: &NodeId, caller: &NodeId) {
    let _ = cluster.update_node(caller, |info| info.visible_nodes.retain(|n| n != local)).await;
    let _ = cluster.update_node(local, |info| info.visible_nodes.retain(|n| n != caller)).await;
}

fn push_unique(nodes: &mut Vec<NodeId>, node: &NodeId) {
    if !nodes.contains(node) {
        nodes.push(node.clone());
    }
}
