//! Outgoing streams to the other servers of the mesh (mirrors `RemoteMeshNodeManager.kt` and
//! `RemoteMeshNodeConnection.kt`, spec 9.8).
//!
//! On every tick, each ACTIVE `management` node of the cluster view that is not this server,
//! has a URL other than ours and is not connected yet gets a channel and a
//! `Connection/OpenStream` with the management identity (`namespace: management`,
//! `nodekey: <our key>`); connections to nodes that left the view are closed. A peer's stream
//! is registered for transport once its TCP/HTTP/2 connection is up, so a URL that never
//! answers costs a log line per attempt and loses no message. Unlike Kotlin, a broken stream
//! to a peer that is still in the view is opened again on a later tick.
//!
//! Messages a peer sends back on our outgoing stream (a server without an outgoing stream of
//! its own to us falls back to it) go through the pipeline as if they came from the peer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use compat_proto::{MANAGEMENT_NAMESPACE, Message, NodeId, NodeInfo, NodeStatus, pb};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;
use tracing::{debug, info, warn};

use crate::net::tls::PeerTls;
use crate::net::{STREAM_BUFFER, SendError};
use crate::pipeline::Pipeline;
use compat_proto::pb::orbit_node::DescribeRequest;
use compat_proto::pb::orbit_node::peer_transport_client::PeerTransportClient;

/// How long dialling a peer may take before the attempt is given up until the next tick.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

struct Peer {
    /// Which dialling attempt this entry belongs to.
    attempt: u64,
    /// `None` while dialling; then the stream's sending half.
    sender: Option<mpsc::Sender<pb::MessageProto>>,
    token: CancellationToken,
}

/// This server's outgoing mesh connections.
pub struct RemoteNodes {
    local: NodeId,
    own_url: String,
    tasks: TaskTracker,
    token: CancellationToken,
    /// A std Mutex: never held across an .await.
    peers: Mutex<HashMap<NodeId, Peer>>,
    next_attempt: std::sync::atomic::AtomicU64,
    /// TLS to peers that offer it, when a peer CA is configured.
    tls: Option<PeerTls>,
}

impl RemoteNodes {
    /// Returns the (empty) outgoing connections of the server `local` advertising `own_url`;
    /// their tasks belong to `tasks` and end when `token` is cancelled.
    pub fn new(local: NodeId, own_url: String, tasks: TaskTracker, token: CancellationToken) -> Self {
        Self {
            local,
            own_url,
            tasks,
            token,
            peers: Mutex::new(HashMap::new()),
            next_attempt: std::sync::atomic::AtomicU64::new(1),
            tls: None,
        }
    }

    /// Dials peers that have a TLS listener over TLS with `tls` (plaintext to the others).
    pub fn with_tls(mut self, tls: Option<PeerTls>) -> Self {
        self.tls = tls;
        self
    }

    /// Returns the sending half of the open stream to `node`, if any.
    pub fn sender(&self, node: &NodeId) -> Option<mpsc::Sender<pb::MessageProto>> {
        self.lock().get(node).and_then(|p| p.sender.clone())
    }

    /// Queues `message` on the open stream to `node` without waiting.
    pub fn send(&self, node: &NodeId, message: pb::MessageProto) -> Result<(), SendError> {
        let sender = self.sender(node).ok_or(SendError::NotConnected)?;
        sender.try_send(message).map_err(|_| SendError::Closed)
    }

    /// Returns the peers with an open stream (this server's edges to other servers).
    pub fn connected(&self) -> Vec<NodeId> {
        self.lock().iter().filter(|(_, p)| p.sender.is_some()).map(|(id, _)| id.clone()).collect()
    }

    /// Returns how many peers have an open stream (`orbit_connected_nodes`).
    pub fn count(&self) -> usize {
        self.connected().len()
    }

    /// Opens streams to new ACTIVE servers among `valid` (the unexpired records of the
    /// cluster view) and closes those to servers that are no longer among them.
    pub fn refresh<'a>(self: &Arc<Self>, valid: impl IntoIterator<Item = &'a NodeInfo>, pipeline: &Arc<Pipeline>) {
        let servers: Vec<&NodeInfo> = valid.into_iter().filter(|n| n.id.namespace == MANAGEMENT_NAMESPACE).collect();
        let mut peers = self.lock();
        peers.retain(|id, peer| {
            let present = servers.iter().any(|n| &n.id == id);
            if !present {
                info!(peer = %id, "removing peer: no longer in the cluster");
                peer.token.cancel();
            }
            present
        });
        for node in servers {
            let Some(url) = node.url.as_deref().filter(|u| !u.trim().is_empty()) else { continue };
            if node.status != NodeStatus::Active
                || node.id.namespace != MANAGEMENT_NAMESPACE
                || node.id == self.local
                || url == self.own_url
                || peers.contains_key(&node.id)
            {
                continue;
            }
            let token = self.token.child_token();
            let attempt = self.next_attempt.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            peers.insert(node.id.clone(), Peer { attempt, sender: None, token: token.clone() });
            info!(peer = %node.id, %url, "connecting to peer");
            self.tasks.spawn(self.clone().run(node.id.clone(), url.to_owned(), pipeline.clone(), attempt, token));
        }
    }

    /// Dials `peer`, keeps its stream open and feeds what it sends back into the pipeline,
    /// until the stream ends or `token` is cancelled; then forgets the peer so a later tick
    /// may dial again.
    async fn run(
        self: Arc<Self>,
        peer: NodeId,
        url: String,
        pipeline: Arc<Pipeline>,
        attempt: u64,
        token: CancellationToken,
    ) {
        let outcome = tokio::select! {
            () = token.cancelled() => Ok(()),
            outcome = self.stream(&peer, &url, &pipeline, attempt) => outcome,
        };
        if let Err(reason) = outcome {
            warn!(peer = %peer, %url, %reason, "peer stream failed; retrying on a later tick");
        }
        let mut peers = self.lock();
        if peers.get(&peer).is_some_and(|p| p.attempt == attempt) {
            peers.remove(&peer);
        }
        drop(peers);
        debug!(peer = %peer, "peer stream ended");
    }

    async fn stream(&self, peer: &NodeId, url: &str, pipeline: &Arc<Pipeline>, attempt: u64) -> Result<(), String> {
        let uri = dial_uri(url).ok_or_else(|| format!("cannot dial {url:?}"))?;
        let endpoint = Endpoint::from_shared(uri.clone()).map_err(|e| format!("bad peer URL {uri}: {e}"))?;
        let channel = connect_peer(endpoint, &uri).await?;
        let (channel, transport, uri) = match &self.tls {
            Some(tls) => self.secure(channel, &uri, tls).await?,
            None => (channel, "plaintext", uri),
        };

        let (sender, receiver) = mpsc::channel::<pb::MessageProto>(STREAM_BUFFER);
        let mut request = tonic::Request::new(ReceiverStream::new(receiver));
        let namespace = MetadataValue::try_from(MANAGEMENT_NAMESPACE).map_err(|e| e.to_string())?;
        let key = MetadataValue::try_from(self.local.key.as_str()).map_err(|e| e.to_string())?;
        request.metadata_mut().insert(compat_proto::NAMESPACE_HEADER, namespace);
        request.metadata_mut().insert(compat_proto::NODE_KEY_HEADER, key);
        // Usable for transport from now on: the request half flows before the peer answers.
        if let Some(entry) = self.lock().get_mut(peer).filter(|p| p.attempt == attempt) {
            entry.sender = Some(sender);
        }
        info!(peer = %peer, %uri, transport, "peer stream open");

        let mut client = pb::connection_client::ConnectionClient::new(channel);
        let mut inbound =
            client.open_stream(request).await.map_err(|status| format!("OpenStream refused: {status}"))?.into_inner();
        loop {
            match inbound.message().await {
                Ok(Some(wire)) => match Message::try_from(wire) {
                    Ok(message) => {
                        let (pipeline, peer) = (pipeline.clone(), peer.clone());
                        self.tasks.spawn(async move { pipeline.on_inbound(message, &peer).await });
                    }
                    Err(error) => warn!(peer = %peer, %error, "malformed message from a peer; dropped"),
                },
                Ok(None) => return Err("the peer closed the stream".to_owned()),
                Err(status) => return Err(format!("stream error: {status}")),
            }
        }
    }

    /// Asks the peer behind `plain` for its TLS port: none (a Kotlin server answers
    /// UNIMPLEMENTED, an orbit-node without a listener 0) keeps the plaintext channel; a port
    /// gets a TLS channel to the same host, and a failure there fails the attempt (a peer that
    /// offers TLS is never used in plaintext instead).
    async fn secure(
        &self,
        plain: tonic::transport::Channel,
        uri: &str,
        tls: &PeerTls,
    ) -> Result<(tonic::transport::Channel, &'static str, String), String> {
        let mut transport = PeerTransportClient::new(plain.clone());
        let described = tokio::time::timeout(CONNECT_TIMEOUT, transport.describe(DescribeRequest {}))
            .await
            .map_err(|_| format!("{uri} did not say whether it has TLS within {CONNECT_TIMEOUT:?}"))?;
        let port = match described {
            Ok(reply) => reply.into_inner().tls_port,
            Err(status) if status.code() == tonic::Code::Unimplemented => 0,
            Err(status) => return Err(format!("cannot ask {uri} for its TLS port: {status}")),
        };
        if port == 0 {
            return Ok((plain, "plaintext", uri.to_owned()));
        }
        let authority = uri.strip_prefix("http://").unwrap_or(uri);
        let host = authority.rsplit_once(':').map_or(authority, |(host, _)| host);
        let secure_uri = format!("https://{host}:{port}");
        let config =
            tls.client_config(host.trim_start_matches('[').trim_end_matches(']')).map_err(|e| e.to_string())?;
        let endpoint = Endpoint::from_shared(secure_uri.clone())
            .map_err(|e| format!("bad TLS peer URL {secure_uri}: {e}"))?
            .tls_config(config)
            .map_err(|e| format!("TLS settings for {secure_uri}: {e}"))?;
        let channel = connect_peer(endpoint, &secure_uri).await?;
        Ok((channel, "tls", secure_uri))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Peer>> {
        self.peers.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Connects to a peer at `uri` with the mesh's timeouts and keep-alive.
async fn connect_peer(endpoint: Endpoint, uri: &str) -> Result<tonic::transport::Channel, String> {
    let endpoint = endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        // grpc-java answers pings more often than every second with GOAWAY.
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect())
        .await
        .map_err(|_| format!("no connection to {uri} within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| format!("cannot connect to {uri}: {}", crate::error_chain(&e)))
}

/// Turns a grpc-java target string (`host:port`, `dns:///host:port`, `dns://resolver/host:port`,
/// optionally with a trailing `/`) into an `http://host:port` URI; `None` for forms that are
/// not dialable (spec 5.7).
pub fn dial_uri(target: &str) -> Option<String> {
    let target = target.trim().trim_end_matches('/');
    let authority = match target.strip_prefix("dns:") {
        Some(rest) => match rest.strip_prefix("//") {
            Some(with_resolver) => with_resolver.split_once('/').map(|(_, host)| host)?,
            None => rest,
        },
        None => target.strip_prefix("http://").unwrap_or(target),
    };
    let (host, port) = authority.rsplit_once(':')?;
    if host.is_empty() || port.parse::<u16>().is_err() || authority.contains('/') {
        return None;
    }
    Some(format!("http://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_java_targets_become_uris() {
        assert_eq!(dial_uri("orbit-server-1:50056").as_deref(), Some("http://orbit-server-1:50056"));
        assert_eq!(dial_uri("dns:///10.0.0.7:50056").as_deref(), Some("http://10.0.0.7:50056"));
        assert_eq!(dial_uri("dns:///orbit:50056/").as_deref(), Some("http://orbit:50056"));
        assert_eq!(dial_uri("dns://8.8.8.8/orbit:50056").as_deref(), Some("http://orbit:50056"));
        assert_eq!(dial_uri("127.0.0.1:1").as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(dial_uri("localhost"), None);
        assert_eq!(dial_uri("host:port"), None);
        assert_eq!(dial_uri(""), None);
    }
}
