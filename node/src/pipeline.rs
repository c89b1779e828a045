//! The message pipeline: what happens to each message read from a stream (mirrors
//! `pipeline/step/*.kt`).
//!
//! Inbound: auth (trust the `source` only from management peers), verify (the source is a
//! live node), placement (invocation requests get their host; info requests are answered),
//! then routing. Outbound: routing over the cluster view with immediate retries, then
//! transport to the next hop's stream. A failure becomes an `error` reply to the source
//! with the failed message's id, described with the Kotlin exception text.

use std::sync::Arc;

use compat_proto::render::delivery_failed_description;
use compat_proto::{InvocationReason, Message, MessageContent, MessageTarget, NodeId, pb};
use thiserror::Error;
use tracing::field::Empty;
use tracing::{Instrument as _, Span, debug, debug_span, warn};

use crate::error::PeerVisible;
use crate::mesh::addressable::PlacementError;
use crate::mesh::cluster::ClusterError;
use crate::mesh::{AddressableManager, ClusterManager};
use crate::metrics::SharedMetrics;
use crate::net::Connections;
use crate::net::remote::RemoteNodes;
use crate::telemetry::{HOPS, link};

/// Why a message could not be processed. The sender's `error` reply carries
/// [`PeerVisible::kotlin`]'s text; `Display` is for logs.
#[derive(Debug, Error)]
pub enum PipelineError {
    /// The source is unknown or expired.
    #[error("the source {0} is not a live node")]
    InvalidSource(NodeId),
    /// Placement failed.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// The node directory failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A message without a target reached routing.
    #[error("the message has no target")]
    TargetNotResolved,
    /// The next hop has no live stream.
    #[error("no stream to the next hop {0}")]
    NotConnected(NodeId),
}

/// The pause between two routing attempts of a message with no route.
const ROUTE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

/// Routes messages between the streams of one server.
pub struct Pipeline {
    local: NodeId,
    cluster: Arc<ClusterManager>,
    addressables: Arc<AddressableManager>,
    connections: Arc<Connections>,
    retry_attempts: i64,
    metrics: SharedMetrics,
    /// Outgoing streams to other servers, tried before incoming streams (TransportStep.kt).
    remote: Option<Arc<RemoteNodes>>,
}

impl Pipeline {
    /// Returns a pipeline for the server `local`.
    pub fn new(
        local: NodeId,
        cluster: Arc<ClusterManager>,
        addressables: Arc<AddressableManager>,
        connections: Arc<Connections>,
        retry_attempts: i64,
        metrics: SharedMetrics,
    ) -> Self {
        Self { local, cluster, addressables, connections, retry_attempts, metrics, remote: None }
    }

    /// Sends to other servers over `remote`'s outgoing streams where one is open.
    pub fn with_mesh(mut self, remote: Arc<RemoteNodes>) -> Self {
        self.remote = Some(remote);
        self
    }

    /// Processes a message read from the stream of `connection`, answering failures with
    /// an `error` message to its source.
    pub async fn on_inbound(&self, message: Message, connection: &NodeId) {
        let span = self.hop_span(&message, connection);
        self.on_inbound_traced(message, connection).instrument(span).await;
    }

    /// The span of a message's visit to this server: `receive` for a request, `reply` for what
    /// answers one, in the trace of the invocation (see [`crate::telemetry`]).
    fn hop_span(&self, message: &Message, connection: &NodeId) -> Span {
        let claimed = message.source.as_ref().filter(|_| connection.is_management());
        let source = claimed.unwrap_or(connection);
        let (span, requester) = match &message.content {
            MessageContent::InvocationRequest { destination, .. } => (
                debug_span!(target: HOPS, "receive",
                    orbit.message_id = message.message_id,
                    orbit.kind = "invocation_request",
                    orbit.reference = %destination,
                    orbit.source = %source,
                    orbit.connection = %connection,
                    orbit.node = %self.local,
                    orbit.error = Empty,
                ),
                source,
            ),
            content => {
                let requester = message.target.as_ref().and_then(MessageTarget::destination).unwrap_or(source);
                let kind = match content {
                    MessageContent::InvocationResponse { .. } => "invocation_response",
                    MessageContent::InvocationResponseError { .. } => "invocation_response_error",
                    MessageContent::Error { .. } => "error",
                    MessageContent::ConnectionInfoRequest => "connection_info_request",
                    _ => "other",
                };
                let span = debug_span!(target: HOPS, "reply",
                    orbit.message_id = message.message_id,
                    orbit.kind = kind,
                    orbit.source = %source,
                    orbit.target = %requester,
                    orbit.connection = %connection,
                    orbit.node = %self.local,
                    orbit.error = Empty,
                );
                (span, requester)
            }
        };
        link(&span, requester, message.message_id);
        span
    }

    async fn on_inbound_traced(&self, message: Message, connection: &NodeId) {
        let message_id = message.message_id;
        let fallback_source = message.source.clone();
        let is_error = matches!(message.content, MessageContent::Error { .. });
        match self.inbound(message, connection).await {
            Ok(()) => {}
            Err((source, error)) if !is_error => {
                Span::current().record("orbit.error", tracing::field::display(&error));
                let source = source.or(fallback_source).unwrap_or_else(|| connection.clone());
                debug!(%source, message_id, error = %error, "message failed; replying with an error");
                self.reply_error(message_id, source, error.peer_text()).await;
            }
            Err((_, error)) => debug!(message_id, error = %error, "an error message could not be delivered"),
        }
    }

    /// Sends an `error` reply to `target` (errors about errors are only logged).
    pub async fn reply_error(&self, message_id: i64, target: NodeId, description: String) {
        let reply = Message {
            content: MessageContent::Error { description },
            message_id,
            source: Some(self.local.clone()),
            target: Some(MessageTarget::Unicast(target)),
            attempts: 0,
        };
        if let Err(error) = self.outbound(reply).await {
            debug!(message_id, error = %error, "error reply could not be delivered");
        }
    }

    async fn inbound(&self, mut message: Message, connection: &NodeId) -> Result<(), (Option<NodeId>, PipelineError)> {
        // Auth: only management peers may speak for another node (AuthStep.kt).
        if message.source.is_none() || !connection.is_management() {
            message.source = Some(connection.clone());
        }
        let source = message.source.clone().unwrap_or_else(|| connection.clone());
        let fail = |e: PipelineError| (Some(source.clone()), e);

        // Verify (VerifyStep.kt).
        if !self.cluster.is_valid_node(&source).await.map_err(|e| fail(e.into()))? {
            return Err(fail(PipelineError::InvalidSource(source.clone())));
        }

        // Placement (PlacementStep.kt): the sender's target is ignored for requests.
        match &message.content {
            MessageContent::InvocationRequest { destination, reason, .. } => {
                let ineligible =
                    if *reason == InvocationReason::Rerouted { vec![connection.clone()] } else { Vec::new() };
                let span = debug_span!(target: HOPS, "place", orbit.reference = %destination, orbit.host = Empty);
                let placed = self
                    .addressables
                    .locate_or_place(&source.namespace, destination, ineligible)
                    .instrument(span.clone())
                    .await;
                let host = placed.map_err(|e| fail(e.into()))?;
                span.record("orbit.host", tracing::field::display(&host));
                message.target = Some(MessageTarget::Unicast(host));
            }
            MessageContent::ConnectionInfoRequest => {
                // The reply keeps the requester's id as its source, as Kotlin's does.
                let reply = Message {
                    content: MessageContent::ConnectionInfoResponse { node_id: self.local.clone() },
                    message_id: message.message_id,
                    source: Some(source.clone()),
                    target: Some(MessageTarget::Unicast(source.clone())),
                    attempts: 0,
                };
                return self.outbound(reply).await.map_err(fail);
            }
            _ => {}
        }
        if message.target.is_none() {
            return Err(fail(PipelineError::TargetNotResolved));
        }
        self.outbound(message).await.map_err(fail)
    }

    /// Routes a message from this server: shortest path, immediate retries, then transport.
    async fn outbound(&self, mut message: Message) -> Result<(), PipelineError> {
        loop {
            let destination = message
                .target
                .as_ref()
                .and_then(MessageTarget::destination)
                .cloned()
                .ok_or(PipelineError::TargetNotResolved)?;
            let route = self.cluster.find_route(&self.local, &destination);
            let Some(next_hop) = route.first().cloned() else {
                // RoutingStep.kt retries at once, so its whole budget is spent in milliseconds
                // (spec 15.2 #13). Here the same number of attempts is spread over about 2 s:
                // long enough for a tick to show where a client whose server just stopped has
                // reconnected, so its answers are not lost.
                if message.attempts < self.retry_attempts {
                    self.metrics.retry_attempts.increment();
                    message.attempts += 1;
                    tokio::time::sleep(ROUTE_RETRY_DELAY).await;
                    continue;
                }
                if matches!(message.content, MessageContent::Error { .. }) {
                    warn!(message_id = message.message_id, %destination, "dropping an undeliverable error");
                    return Ok(());
                }
                let Some(source) = message.source.clone() else {
                    return Ok(());
                };
                self.metrics.retry_errors.increment();
                message.content = MessageContent::Error { description: delivery_failed_description(message.attempts) };
                message.target = Some(MessageTarget::Unicast(source));
                message.attempts = 0;
                continue;
            };
            let hops = route.len();
            message.target = Some(MessageTarget::RoutedUnicast(route));
            let wire = pb::MessageProto::from(message);
            let _hop = if next_hop.is_management() {
                debug_span!(target: HOPS, "forward", orbit.next_hop = %next_hop, orbit.hops = hops, orbit.destination = %destination)
            } else {
                debug_span!(target: HOPS, "deliver", orbit.client = %next_hop)
            }
            .entered();
            // An outgoing mesh stream first, then an incoming stream (client or peer).
            if let Some(sender) = self.remote.as_ref().and_then(|r| r.sender(&next_hop)) {
                sender.try_send(wire).map_err(|_| PipelineError::NotConnected(next_hop.clone()))?;
                self.metrics.node.forwarded_to_server(&next_hop.key);
                return Ok(());
            }
            self.connections.send(&next_hop, wire).map_err(|_| PipelineError::NotConnected(next_hop.clone()))?;
            if next_hop.is_management() {
                self.metrics.node.forwarded_to_server(&next_hop.key);
            } else {
                self.metrics.node.forwarded_to_client();
            }
            return Ok(());
        }
    }
}
