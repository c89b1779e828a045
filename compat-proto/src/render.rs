//! Texts that Kotlin peers compute from domain values and that reach the wire or etcd.
//!
//! Error descriptions are JVM `Throwable.toString()`: `<fully.qualified.Class>: <message>`.
//! Kotlin callers show them verbatim, and tests compare them, so each one is pinned here.

use std::fmt;

use crate::addressable::{AddressableReference, Key, NamespacedAddressableReference};
use crate::node::NodeId;

/// Returns the etcd key of a node record: `node/<namespace>/<key>`.
pub fn node_directory_key(id: &NodeId) -> String {
    format!("node/{}/{}", id.namespace, id.key)
}

/// Returns the etcd key of an addressable lease: `addressable/<namespace>/<type>/<key>`,
/// where the key part is the Kotlin rendering (`StringKey(key=abc)`, `NoKey()`, ...).
pub fn addressable_directory_key(namespace: &str, reference: &AddressableReference) -> String {
    format!("addressable/{}/{}/{}", namespace, reference.addressable_type, reference.key)
}

/// Reads a node id back from an etcd node key the way Kotlin does: parts 2 and 3 of the
/// key split on `/`. Returns `None` where Kotlin would throw (fewer than three parts).
pub fn node_id_from_directory_key(key: &str) -> Option<NodeId> {
    let mut parts = key.split('/');
    let _prefix = parts.next()?;
    let namespace = parts.next()?;
    let node_key = parts.next()?;
    Some(NodeId::new(node_key, namespace))
}

/// A JVM exception as Kotlin peers describe it in `error` messages and `error_description`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KotlinException {
    /// `orbit.shared.exception.InvalidNodeId`: the node is unknown or its lease expired.
    InvalidNodeId(NodeId),
    /// `orbit.shared.exception.InvalidChallengeException`: a renewal with the wrong token.
    InvalidChallenge(NodeId),
    /// `orbit.shared.exception.PlacementFailedException` when no node can host it.
    NoNodeCapable(NamespacedAddressableReference),
    /// `orbit.shared.exception.PlacementFailedException` on a refused lease renewal.
    CouldNotRenewLease(AddressableReference),
    /// `orbit.shared.exception.CapacityExceededException` for a full addressable mailbox.
    MailboxFull(AddressableReference),
    /// `java.lang.IllegalStateException` for a renewal without identity headers.
    NodeIdNotSpecified,
    /// `java.lang.IllegalStateException` when a message reaches routing with no target.
    TargetNotResolved,
    /// `java.lang.IllegalStateException` when the next hop has no live connection.
    TargetNotConnected(NodeId),
    /// `java.lang.IllegalStateException` from a key with no oneof member set.
    InvalidKeyType,
    /// `java.lang.IllegalStateException` from Kotlin's null check of a value Java passed as
    /// null (`<expression> must not be null`), e.g. a missing identity header.
    NullParameter(&'static str),
    /// `orbit.shared.exception.CapacityExceededException` when the server's pipeline is full.
    PipelineFull(usize),
    /// A directory (etcd) request failed: what jetcd's future surfaces as
    /// (`java.util.concurrent.ExecutionException: io.grpc.StatusRuntimeException: UNAVAILABLE`).
    DirectoryUnavailable,
    /// `java.lang.IllegalArgumentException` from a Rust host for arguments it cannot decode
    /// (a Kotlin host does not answer at all, spec 15.2 #9).
    UndecodableArguments(String),
    /// `java.lang.ClassNotFoundException`: a call for a type this client does not host.
    ClassNotFound(String),
    /// `java.lang.IllegalStateException` when a client cannot send (its stream is gone).
    ClientNotConnected,
    /// `java.lang.RuntimeException`: a Rust actor panicked (or its task was cancelled) during
    /// `during` (`a call`, `on_activate`).
    ActorPanicked {
        /// The actor.
        reference: AddressableReference,
        /// Whether it panicked (`true`) or was cancelled.
        panicked: bool,
        /// What it was doing.
        during: &'static str,
    },
    /// `java.lang.IllegalStateException`: a call aborted because its actor was deactivated
    /// after the deactivation timeout.
    DeactivatedWhileRunning(AddressableReference),
    /// `java.util.concurrent.TimeoutException`: a call a stopping Rust client sent back to be
    /// placed again got no answer in time (Kotlin loses such answers, spec 15.2 #10).
    ReroutedCallTimedOut(std::time::Duration),
}

impl KotlinException {
    /// Returns the fully qualified JVM class name.
    pub fn class_name(&self) -> &'static str {
        match self {
            Self::InvalidNodeId(_) => "orbit.shared.exception.InvalidNodeId",
            Self::InvalidChallenge(_) => "orbit.shared.exception.InvalidChallengeException",
            Self::NoNodeCapable(_) | Self::CouldNotRenewLease(_) => "orbit.shared.exception.PlacementFailedException",
            Self::MailboxFull(_) => "orbit.shared.exception.CapacityExceededException",
            Self::NodeIdNotSpecified
            | Self::TargetNotResolved
            | Self::TargetNotConnected(_)
            | Self::InvalidKeyType
            | Self::NullParameter(_)
            | Self::ClientNotConnected
            | Self::DeactivatedWhileRunning(_) => "java.lang.IllegalStateException",
            Self::UndecodableArguments(_) => "java.lang.IllegalArgumentException",
            Self::ClassNotFound(_) => "java.lang.ClassNotFoundException",
            Self::ActorPanicked { .. } => "java.lang.RuntimeException",
            Self::ReroutedCallTimedOut(_) => "java.util.concurrent.TimeoutException",
            Self::PipelineFull(_) => "orbit.shared.exception.CapacityExceededException",
            Self::DirectoryUnavailable => "java.util.concurrent.ExecutionException",
        }
    }

    /// Returns the exception's message, without the class name.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidNodeId(id) => format!("{id} is not valid. Did the lease expire?"),
            Self::InvalidChallenge(id) => format!("Invalid challenge for {id}"),
            Self::NoNodeCapable(reference) => format!("Could not find node capable of hosting {reference}"),
            Self::CouldNotRenewLease(reference) => format!("Could not renew lease for {reference}"),
            Self::MailboxFull(reference) => format!("Buffer capacity exceeded (>128) for {reference}"),
            Self::NodeIdNotSpecified => "Node ID was not specified".to_owned(),
            Self::TargetNotResolved => "Node target was not resolved".to_owned(),
            Self::TargetNotConnected(id) => format!("Could not find target {id} in connections"),
            Self::InvalidKeyType => "Invalid key type".to_owned(),
            Self::NullParameter(expression) => format!("{expression} must not be null"),
            Self::PipelineFull(capacity) => format!("pipeline full ({capacity} messages)"),
            Self::DirectoryUnavailable => "io.grpc.StatusRuntimeException: UNAVAILABLE: io exception".to_owned(),
            Self::UndecodableArguments(reason) => format!("undecodable arguments: {reason}"),
            Self::ClassNotFound(class) => class.clone(),
            Self::ClientNotConnected => "The Orbit client is not connected".to_owned(),
            Self::ActorPanicked { reference, panicked, during } => {
                let what = if *panicked { "panicked" } else { "was cancelled" };
                format!("Rust actor {reference} {what} during {during}")
            }
            Self::DeactivatedWhileRunning(reference) => {
                format!("{reference} was deactivated while this call was running")
            }
            Self::ReroutedCallTimedOut(timeout) => format!("the rerouted call got no answer within {timeout:?}"),
        }
    }
}

/// Renders as `Throwable.toString()`: `<class>: <message>`.
impl fmt::Display for KotlinException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class_name(), self.message())
    }
}

/// Returns the text a server sends when routing gave up: `Failed to deliver message after
/// <attempts> attempts` (a bare message, not an exception rendering).
pub fn delivery_failed_description(attempts: i64) -> String {
    format!("Failed to deliver message after {attempts} attempts")
}

/// Returns the text of the `RemoteException` a Kotlin caller raises for an `error` reply.
pub fn remote_exception_message(description: &str) -> String {
    format!("Exceptional response received: {description}")
}

/// Returns the etcd-style rendering of any key, for callers that hold only a [`Key`].
pub fn key_rendering(key: &Key) -> String {
    key.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greeter(key: Key) -> AddressableReference {
        AddressableReference::new("orbit.client.actor.GreeterActor", key)
    }

    #[test]
    fn directory_keys_match_kotlin() {
        assert_eq!(
            node_directory_key(&NodeId::new("Ab12Cd34Ef56Gh78", "management")),
            "node/management/Ab12Cd34Ef56Gh78"
        );
        assert_eq!(
            addressable_directory_key("test", &greeter(Key::None)),
            "addressable/test/orbit.client.actor.GreeterActor/NoKey()"
        );
        assert_eq!(
            addressable_directory_key("app", &AddressableReference::new("com.example.Account", Key::Int64(-7))),
            "addressable/app/com.example.Account/Int64Key(key=-7)"
        );
        assert_eq!(
            addressable_directory_key("test", &greeter(Key::String("test".into()))),
            "addressable/test/orbit.client.actor.GreeterActor/StringKey(key=test)"
        );
        assert_eq!(key_rendering(&Key::Int32(5)), "Int32Key(key=5)");
    }

    #[test]
    fn node_keys_parse_back_like_kotlin() {
        assert_eq!(node_id_from_directory_key("node/test/x9Y8"), Some(NodeId::new("x9Y8", "test")));
        assert_eq!(node_id_from_directory_key("node/test"), None);
        assert_eq!(node_id_from_directory_key("a/b/c/d"), Some(NodeId::new("c", "b")));
    }

    #[test]
    fn texts_of_failures_only_a_rust_node_or_client_reports() {
        let cases = [
            (
                KotlinException::NullParameter("namespace"),
                "java.lang.IllegalStateException: namespace must not be null",
            ),
            (
                KotlinException::PipelineFull(10_000),
                "orbit.shared.exception.CapacityExceededException: pipeline full (10000 messages)",
            ),
            (
                KotlinException::DirectoryUnavailable,
                "java.util.concurrent.ExecutionException: io.grpc.StatusRuntimeException: UNAVAILABLE: io exception",
            ),
            (
                KotlinException::UndecodableArguments("expected an array".into()),
                "java.lang.IllegalArgumentException: undecodable arguments: expected an array",
            ),
            (KotlinException::ClassNotFound("com.example.X".into()), "java.lang.ClassNotFoundException: com.example.X"),
            (KotlinException::ClientNotConnected, "java.lang.IllegalStateException: The Orbit client is not connected"),
            (
                KotlinException::ActorPanicked { reference: greeter(Key::None), panicked: true, during: "a call" },
                "java.lang.RuntimeException: Rust actor AddressableReference(type=orbit.client.actor.GreeterActor, \
                 key=NoKey()) panicked during a call",
            ),
            (
                KotlinException::DeactivatedWhileRunning(greeter(Key::None)),
                "java.lang.IllegalStateException: AddressableReference(type=orbit.client.actor.GreeterActor, \
                 key=NoKey()) was deactivated while this call was running",
            ),
            (
                KotlinException::ReroutedCallTimedOut(std::time::Duration::from_secs(10)),
                "java.util.concurrent.TimeoutException: the rerouted call got no answer within 10s",
            ),
        ];
        for (exception, text) in cases {
            assert_eq!(exception.to_string(), text);
        }
    }

    #[test]
    fn exception_descriptions_match_kotlin() {
        let id = NodeId::new("k", "ns");
        assert_eq!(
            KotlinException::InvalidNodeId(id.clone()).to_string(),
            "orbit.shared.exception.InvalidNodeId: (ns:k) is not valid. Did the lease expire?"
        );
        assert_eq!(
            KotlinException::InvalidChallenge(id.clone()).to_string(),
            "orbit.shared.exception.InvalidChallengeException: Invalid challenge for (ns:k)"
        );
        assert_eq!(
            KotlinException::NoNodeCapable(NamespacedAddressableReference {
                namespace: "test".into(),
                addressable_reference: greeter(Key::String("a".into())),
            })
            .to_string(),
            "orbit.shared.exception.PlacementFailedException: Could not find node capable of hosting \
             NamespacedAddressableReference(namespace=test, addressableReference=AddressableReference(\
             type=orbit.client.actor.GreeterActor, key=StringKey(key=a)))"
        );
        assert_eq!(
            KotlinException::CouldNotRenewLease(greeter(Key::None)).to_string(),
            "orbit.shared.exception.PlacementFailedException: Could not renew lease for \
             AddressableReference(type=orbit.client.actor.GreeterActor, key=NoKey())"
        );
        assert_eq!(
            KotlinException::MailboxFull(greeter(Key::Int32(1))).to_string(),
            "orbit.shared.exception.CapacityExceededException: Buffer capacity exceeded (>128) for \
             AddressableReference(type=orbit.client.actor.GreeterActor, key=Int32Key(key=1))"
        );
        assert_eq!(
            KotlinException::NodeIdNotSpecified.to_string(),
            "java.lang.IllegalStateException: Node ID was not specified"
        );
        assert_eq!(
            KotlinException::TargetNotResolved.to_string(),
            "java.lang.IllegalStateException: Node target was not resolved"
        );
        assert_eq!(
            KotlinException::TargetNotConnected(id).to_string(),
            "java.lang.IllegalStateException: Could not find target (ns:k) in connections"
        );
        assert_eq!(KotlinException::InvalidKeyType.to_string(), "java.lang.IllegalStateException: Invalid key type");
        assert_eq!(delivery_failed_description(10), "Failed to deliver message after 10 attempts");
        assert_eq!(remote_exception_message("x: y"), "Exceptional response received: x: y");
    }
}
