//! Messages carried by `Connection/OpenStream`: targets and content kinds.

use crate::addressable::AddressableReference;
use crate::node::NodeId;

/// Why an invocation request was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InvocationReason {
    /// A normal call from a caller.
    #[default]
    Invocation,
    /// Sent again by a stopping host for an addressable it no longer runs.
    Rerouted,
}

impl InvocationReason {
    /// Returns the wire number of this reason.
    pub fn to_wire(self) -> i32 {
        match self {
            Self::Invocation => 0,
            Self::Rerouted => 1,
        }
    }

    /// Returns the reason for a wire number, or `None` for a number Kotlin would reject.
    pub fn from_wire(value: i32) -> Option<Self> {
        match value {
            0 => Some(Self::Invocation),
            1 => Some(Self::Rerouted),
            _ => None,
        }
    }
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageTarget {
    /// Straight to one node.
    Unicast(NodeId),
    /// Along a path of hops; the last element is the destination.
    RoutedUnicast(Vec<NodeId>),
}

impl MessageTarget {
    /// Returns the final destination: the unicast node, or the last hop of a route.
    pub fn destination(&self) -> Option<&NodeId> {
        match self {
            Self::Unicast(node) => Some(node),
            Self::RoutedUnicast(path) => path.last(),
        }
    }
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageContent {
    /// A failure, described as a JVM `Throwable.toString()` by Kotlin peers.
    Error {
        /// Free text.
        description: String,
    },
    /// Asks the receiving server for its node id.
    ConnectionInfoRequest,
    /// The answer to [`MessageContent::ConnectionInfoRequest`].
    ConnectionInfoResponse {
        /// The answering server.
        node_id: NodeId,
    },
    /// Calls a method on an addressable.
    InvocationRequest {
        /// The addressable called.
        destination: AddressableReference,
        /// The JVM method name, without signature.
        method: String,
        /// The Jackson JSON of the argument pairs.
        arguments: String,
        /// A first call or a reroute.
        reason: InvocationReason,
    },
    /// A successful result, as Jackson JSON.
    InvocationResponse {
        /// The serialized value.
        data: String,
    },
    /// A failed result with the callee's exception for JVM callers.
    InvocationResponseError {
        /// The exception's `toString()`.
        description: String,
        /// The exception serialized for JVM callers; empty from non-JVM hosts.
        platform: String,
    },
}

/// One message on a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Message {
    /// What the message carries; always present on the wire.
    pub content: MessageContent,
    /// The caller-chosen correlation id; 0 means unset (proto3 cannot tell them apart).
    pub message_id: i64,
    /// The sender; absent only in server-originated stream errors.
    pub source: Option<NodeId>,
    /// Where the message goes; absent on requests, whose target the server places.
    pub target: Option<MessageTarget>,
    /// Routing retries so far.
    pub attempts: i64,
}

impl Message {
    /// Returns a message with only its content set.
    pub fn new(content: MessageContent) -> Self {
        Self { content, message_id: 0, source: None, target: None, attempts: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_is_the_last_hop() {
        let path = vec![NodeId::new("a", "management"), NodeId::new("c", "app")];
        assert_eq!(MessageTarget::RoutedUnicast(path).destination(), Some(&NodeId::new("c", "app")));
        assert_eq!(MessageTarget::RoutedUnicast(vec![]).destination(), None);
        assert_eq!(MessageTarget::Unicast(NodeId::new("x", "y")).destination(), Some(&NodeId::new("x", "y")));
    }

    #[test]
    fn invocation_reasons_round_trip() {
        assert_eq!(InvocationReason::from_wire(1), Some(InvocationReason::Rerouted));
        assert_eq!(InvocationReason::Rerouted.to_wire(), 1);
        assert_eq!(InvocationReason::from_wire(0), Some(InvocationReason::Invocation));
        assert_eq!(InvocationReason::from_wire(2), None);
    }
}
