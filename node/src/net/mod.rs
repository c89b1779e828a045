//! Live streams to connected nodes (mirrors `net/ConnectionManager.kt`).
//!
//! Each accepted `Connection/OpenStream` registers a sender under the caller's node id; the
//! pipeline's transport step looks the next hop up here. Unlike Kotlin, a stream's cleanup
//! removes only its own registration, so a reconnecting node is not unregistered by the
//! end of its previous stream.

pub mod remote;
pub mod tls;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use compat_proto::{NodeId, pb};
use tokio::sync::mpsc;
use tonic::Status;

/// Accepts the next connection on `listener` (named `what` in logs), or `None` once `token` is
/// cancelled. An accept error (out of file descriptors and the like) is logged and followed by
/// a 100 ms pause instead of a busy loop.
pub async fn accept_paced(
    listener: &tokio::net::TcpListener,
    what: &str,
    token: &tokio_util::sync::CancellationToken,
) -> Option<(tokio::net::TcpStream, std::net::SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => return None,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok(accepted) => return Some(accepted),
            Err(error) => {
                tracing::warn!(listener = what, error = %error, "accept failed; pausing 100 ms");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// What the stream's writer half receives.
pub type Outbound = Result<pb::MessageProto, Status>;

/// How many messages may wait for one slow receiver before sends to it fail.
pub const STREAM_BUFFER: usize = 10_000;

struct Registration {
    id: u64,
    sender: mpsc::Sender<Outbound>,
}

/// The registry of connected nodes.
#[derive(Default)]
pub struct Connections {
    next_id: AtomicU64,
    /// A std Mutex: never held across an .await.
    streams: Mutex<HashMap<NodeId, Registration>>,
}

/// A message could not be handed to a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// No stream is registered for the node.
    NotConnected,
    /// The stream's buffer is full or its writer is gone.
    Closed,
}

impl Connections {
    /// Registers `sender` as the stream of `node` and returns the registration id that
    /// [`Connections::unregister`] needs.
    pub fn register(&self, node: NodeId, sender: mpsc::Sender<Outbound>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(node, Registration { id, sender });
        id
    }

    /// Removes the registration `id` of `node` if it is still the current one, and returns
    /// whether it was (a newer stream of the same node keeps its registration).
    pub fn unregister(&self, node: &NodeId, id: u64) -> bool {
        let mut streams = self.lock();
        if streams.get(node).is_some_and(|r| r.id == id) {
            streams.remove(node);
            return true;
        }
        false
    }

    /// Returns the nodes with a registered stream.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.lock().keys().cloned().collect()
    }

    /// Queues `message` on the stream of `node` without waiting.
    pub fn send(&self, node: &NodeId, message: pb::MessageProto) -> Result<(), SendError> {
        let sender = self.lock().get(node).map(|r| r.sender.clone()).ok_or(SendError::NotConnected)?;
        sender.try_send(Ok(message)).map_err(|_| SendError::Closed)
    }

    /// Returns whether `node` has a registered stream.
    pub fn is_connected(&self, node: &NodeId) -> bool {
        self.lock().contains_key(node)
    }

    /// Returns the number of registered streams.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, Registration>> {
        self.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_cleanup_keeps_the_newer_stream() {
        let connections = Connections::default();
        let node = NodeId::new("a", "ns");
        let (first, _rx1) = mpsc::channel(1);
        let (second, mut rx2) = mpsc::channel(1);
        let old = connections.register(node.clone(), first);
        let _new = connections.register(node.clone(), second);
        assert!(!connections.unregister(&node, old), "the newer stream stays registered");
        assert!(connections.is_connected(&node));
        assert_eq!(connections.node_ids(), vec![node.clone()]);
        connections.send(&node, pb::MessageProto::default()).expect("registered");
        assert!(rx2.try_recv().is_ok());
        assert_eq!(
            connections.send(&NodeId::new("b", "ns"), pb::MessageProto::default()),
            Err(SendError::NotConnected)
        );
    }
}
