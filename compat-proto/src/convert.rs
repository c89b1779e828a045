//! Conversions between the wire types (`pb`) and the domain types.
//!
//! Domain to wire is infallible and writes what Kotlin's `orbit-proto` converters write
//! (so a Kotlin peer re-encoding our bytes produces the same bytes). Wire to domain is
//! fallible: where Kotlin's converters throw (an unset key or content oneof, an unknown
//! enum number) we return a [`ConvertError`], and we are stricter than Kotlin about
//! sub-messages a well-formed Kotlin peer always sends (ids, leases, references,
//! timestamps), which Kotlin would silently replace by empty defaults.

use thiserror::Error;

use crate::addressable::{AddressableLease, AddressableReference, Key, NamespacedAddressableReference};
use crate::message::{InvocationReason, Message, MessageContent, MessageTarget};
use crate::node::{NodeCapabilities, NodeId, NodeInfo, NodeLease, NodeStatus, Timestamp};
use crate::pb;

/// Why a wire message could not become a domain value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConvertError {
    /// A sub-message that every well-formed peer sends is absent.
    #[error("{message}.{field} is missing")]
    MissingField {
        /// The proto message name.
        message: &'static str,
        /// The absent field.
        field: &'static str,
    },
    /// A oneof that must have a member has none (Kotlin throws here too).
    #[error("{message}.{oneof} has no member set")]
    OneofNotSet {
        /// The proto message name.
        message: &'static str,
        /// The oneof name.
        oneof: &'static str,
    },
    /// An enum field carries a number the schema does not define (Kotlin throws here too).
    #[error("{message}.{field} has unknown enum value {value}")]
    UnknownEnumValue {
        /// The proto message name.
        message: &'static str,
        /// The enum field.
        field: &'static str,
        /// The number received.
        value: i32,
    },
}

fn required<T>(value: Option<T>, message: &'static str, field: &'static str) -> Result<T, ConvertError> {
    value.ok_or(ConvertError::MissingField { message, field })
}

impl From<Timestamp> for prost_types::Timestamp {
    fn from(t: Timestamp) -> Self {
        Self { seconds: t.seconds, nanos: t.nanos }
    }
}

impl From<prost_types::Timestamp> for Timestamp {
    fn from(t: prost_types::Timestamp) -> Self {
        Self { seconds: t.seconds, nanos: t.nanos }
    }
}

impl From<NodeId> for pb::NodeIdProto {
    fn from(id: NodeId) -> Self {
        Self { key: id.key, namespace: id.namespace }
    }
}

impl From<pb::NodeIdProto> for NodeId {
    fn from(id: pb::NodeIdProto) -> Self {
        Self { key: id.key, namespace: id.namespace }
    }
}

impl From<NodeCapabilities> for pb::CapabilitiesProto {
    fn from(c: NodeCapabilities) -> Self {
        Self { addressable_types: c.addressable_types }
    }
}

impl From<pb::CapabilitiesProto> for NodeCapabilities {
    fn from(c: pb::CapabilitiesProto) -> Self {
        Self { addressable_types: c.addressable_types }
    }
}

impl From<NodeLease> for pb::NodeLeaseProto {
    fn from(lease: NodeLease) -> Self {
        Self {
            challenge_token: lease.challenge_token,
            renew_at: Some(lease.renew_at.into()),
            expires_at: Some(lease.expires_at.into()),
        }
    }
}

impl TryFrom<pb::NodeLeaseProto> for NodeLease {
    type Error = ConvertError;

    fn try_from(lease: pb::NodeLeaseProto) -> Result<Self, ConvertError> {
        const MESSAGE: &str = "NodeLeaseProto";
        Ok(Self {
            challenge_token: lease.challenge_token,
            renew_at: required(lease.renew_at, MESSAGE, "renew_at")?.into(),
            expires_at: required(lease.expires_at, MESSAGE, "expires_at")?.into(),
        })
    }
}

impl From<NodeStatus> for pb::NodeStatusProto {
    fn from(status: NodeStatus) -> Self {
        match status {
            NodeStatus::Stopped => Self::Stopped,
            NodeStatus::Starting => Self::Starting,
            NodeStatus::Active => Self::Active,
            NodeStatus::Draining => Self::Draining,
        }
    }
}

impl From<NodeInfo> for pb::NodeInfoProto {
    fn from(info: NodeInfo) -> Self {
        Self {
            id: Some(info.id.into()),
            capabilities: Some(info.capabilities.into()),
            visible_nodes: info.visible_nodes.into_iter().map(Into::into).collect(),
            lease: Some(info.lease.into()),
            url: info.url.unwrap_or_default(),
            status: pb::NodeStatusProto::from(info.status).into(),
        }
    }
}

impl TryFrom<pb::NodeInfoProto> for NodeInfo {
    type Error = ConvertError;

    fn try_from(info: pb::NodeInfoProto) -> Result<Self, ConvertError> {
        const MESSAGE: &str = "NodeInfoProto";
        let status = NodeStatus::from_wire(info.status).ok_or(ConvertError::UnknownEnumValue {
            message: MESSAGE,
            field: "status",
            value: info.status,
        })?;
        // Kotlin reads the list into a LinkedHashSet: first occurrence wins.
        let mut visible_nodes: Vec<NodeId> = Vec::with_capacity(info.visible_nodes.len());
        for node in info.visible_nodes {
            let node = NodeId::from(node);
            if !visible_nodes.contains(&node) {
                visible_nodes.push(node);
            }
        }
        Ok(Self {
            id: required(info.id, MESSAGE, "id")?.into(),
            capabilities: info.capabilities.map(Into::into).unwrap_or_default(),
            url: Some(info.url).filter(|url| !url.is_empty()),
            lease: required(info.lease, MESSAGE, "lease")?.try_into()?,
            visible_nodes,
            status,
        })
    }
}

impl From<Key> for pb::AddressableKeyProto {
    fn from(key: Key) -> Self {
        use pb::addressable_key_proto::Key as K;
        let key = match key {
            Key::Int32(k) => K::Int32Key(k),
            Key::Int64(k) => K::Int64Key(k),
            Key::String(k) => K::StringKey(k),
            // Kotlin always writes `true` for the no-key branch.
            Key::None => K::NoKey(true),
        };
        Self { key: Some(key) }
    }
}

impl TryFrom<pb::AddressableKeyProto> for Key {
    type Error = ConvertError;

    fn try_from(key: pb::AddressableKeyProto) -> Result<Self, ConvertError> {
        use pb::addressable_key_proto::Key as K;
        match key.key {
            Some(K::Int32Key(k)) => Ok(Key::Int32(k)),
            Some(K::Int64Key(k)) => Ok(Key::Int64(k)),
            Some(K::StringKey(k)) => Ok(Key::String(k)),
            // Kotlin ignores the boolean's value: the branch alone means "no key".
            Some(K::NoKey(_)) => Ok(Key::None),
            None => Err(ConvertError::OneofNotSet { message: "AddressableKeyProto", oneof: "key" }),
        }
    }
}

impl From<AddressableReference> for pb::AddressableReferenceProto {
    fn from(reference: AddressableReference) -> Self {
        Self { r#type: reference.addressable_type, key: Some(reference.key.into()) }
    }
}

impl TryFrom<pb::AddressableReferenceProto> for AddressableReference {
    type Error = ConvertError;

    fn try_from(reference: pb::AddressableReferenceProto) -> Result<Self, ConvertError> {
        Ok(Self {
            addressable_type: reference.r#type,
            key: required(reference.key, "AddressableReferenceProto", "key")?.try_into()?,
        })
    }
}

impl From<NamespacedAddressableReference> for pb::NamespacedAddressableReferenceProto {
    fn from(reference: NamespacedAddressableReference) -> Self {
        Self { namespace: reference.namespace, addressable_reference: Some(reference.addressable_reference.into()) }
    }
}

impl TryFrom<pb::NamespacedAddressableReferenceProto> for NamespacedAddressableReference {
    type Error = ConvertError;

    fn try_from(reference: pb::NamespacedAddressableReferenceProto) -> Result<Self, ConvertError> {
        let inner =
            required(reference.addressable_reference, "NamespacedAddressableReferenceProto", "addressableReference")?;
        Ok(Self { namespace: reference.namespace, addressable_reference: inner.try_into()? })
    }
}

impl From<AddressableLease> for pb::AddressableLeaseProto {
    fn from(lease: AddressableLease) -> Self {
        Self {
            node_id: Some(lease.node_id.into()),
            reference: Some(lease.reference.into()),
            renew_at: Some(lease.renew_at.into()),
            expires_at: Some(lease.expires_at.into()),
        }
    }
}

impl TryFrom<pb::AddressableLeaseProto> for AddressableLease {
    type Error = ConvertError;

    fn try_from(lease: pb::AddressableLeaseProto) -> Result<Self, ConvertError> {
        const MESSAGE: &str = "AddressableLeaseProto";
        Ok(Self {
            node_id: required(lease.node_id, MESSAGE, "nodeId")?.into(),
            reference: required(lease.reference, MESSAGE, "reference")?.try_into()?,
            expires_at: required(lease.expires_at, MESSAGE, "expires_at")?.into(),
            renew_at: required(lease.renew_at, MESSAGE, "renew_at")?.into(),
        })
    }
}

impl From<MessageTarget> for pb::MessageTargetProto {
    fn from(target: MessageTarget) -> Self {
        use pb::message_target_proto::{RoutedUnicast, Target, Unicast};
        let target = match target {
            MessageTarget::Unicast(node) => Target::UnicastTarget(Unicast { target: Some(node.into()) }),
            MessageTarget::RoutedUnicast(path) => {
                Target::RoutedUnicastTarget(RoutedUnicast { target: path.into_iter().map(Into::into).collect() })
            }
        };
        Self { target: Some(target) }
    }
}

/// Returns the target, or `None` when the oneof is unset (Kotlin reads that as "no target").
fn target_from_wire(target: pb::MessageTargetProto) -> Result<Option<MessageTarget>, ConvertError> {
    use pb::message_target_proto::Target;
    Ok(match target.target {
        Some(Target::UnicastTarget(unicast)) => {
            Some(MessageTarget::Unicast(required(unicast.target, "MessageTargetProto.Unicast", "target")?.into()))
        }
        Some(Target::RoutedUnicastTarget(routed)) => {
            Some(MessageTarget::RoutedUnicast(routed.target.into_iter().map(Into::into).collect()))
        }
        None => None,
    })
}

impl From<MessageContent> for pb::MessageContentProto {
    fn from(content: MessageContent) -> Self {
        use pb::message_content_proto::Content;
        let content = match content {
            MessageContent::Error { description } => Content::Error(pb::ErrorProto { description }),
            MessageContent::ConnectionInfoRequest => Content::InfoRequest(pb::ConnectionInfoRequestProto {}),
            MessageContent::ConnectionInfoResponse { node_id } => {
                Content::InfoResponse(pb::ConnectionInfoResponseProto { node_id: Some(node_id.into()) })
            }
            MessageContent::InvocationRequest { destination, method, arguments, reason } => {
                Content::InvocationRequest(pb::InvocationRequestProto {
                    reference: Some(destination.into()),
                    method,
                    arguments,
                    reason: reason.to_wire(),
                })
            }
            MessageContent::InvocationResponse { data } => {
                Content::InvocationResponse(pb::InvocationResponseProto { value: data })
            }
            MessageContent::InvocationResponseError { description, platform } => {
                Content::InvocationResponseError(pb::InvocationResponseErrorProto { description, platform })
            }
        };
        Self { content: Some(content) }
    }
}

impl TryFrom<pb::MessageContentProto> for MessageContent {
    type Error = ConvertError;

    fn try_from(content: pb::MessageContentProto) -> Result<Self, ConvertError> {
        use pb::message_content_proto::Content;
        Ok(match content.content {
            Some(Content::Error(e)) => MessageContent::Error { description: e.description },
            Some(Content::InfoRequest(_)) => MessageContent::ConnectionInfoRequest,
            Some(Content::InfoResponse(r)) => MessageContent::ConnectionInfoResponse {
                node_id: required(r.node_id, "ConnectionInfoResponseProto", "nodeId")?.into(),
            },
            Some(Content::InvocationRequest(r)) => MessageContent::InvocationRequest {
                destination: required(r.reference, "InvocationRequestProto", "reference")?.try_into()?,
                method: r.method,
                arguments: r.arguments,
                reason: InvocationReason::from_wire(r.reason).ok_or(ConvertError::UnknownEnumValue {
                    message: "InvocationRequestProto",
                    field: "reason",
                    value: r.reason,
                })?,
            },
            Some(Content::InvocationResponse(r)) => MessageContent::InvocationResponse { data: r.value },
            Some(Content::InvocationResponseError(r)) => {
                MessageContent::InvocationResponseError { description: r.description, platform: r.platform }
            }
            None => return Err(ConvertError::OneofNotSet { message: "MessageContentProto", oneof: "content" }),
        })
    }
}

impl From<Message> for pb::MessageProto {
    fn from(message: Message) -> Self {
        Self {
            message_id: message.message_id,
            source: message.source.map(Into::into),
            target: message.target.map(Into::into),
            content: Some(message.content.into()),
            attempts: message.attempts,
        }
    }
}

impl TryFrom<pb::MessageProto> for Message {
    type Error = ConvertError;

    fn try_from(message: pb::MessageProto) -> Result<Self, ConvertError> {
        Ok(Self {
            content: required(message.content, "MessageProto", "content")?.try_into()?,
            message_id: message.message_id,
            source: message.source.map(Into::into),
            target: match message.target {
                Some(target) => target_from_wire(target)?,
                None => None,
            },
            attempts: message.attempts,
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    fn node(key: &str) -> NodeId {
        NodeId::new(key, "test")
    }

    fn sample_info() -> NodeInfo {
        NodeInfo {
            id: node("AAAAAAAAAAAAAAAA"),
            capabilities: NodeCapabilities { addressable_types: vec!["a.B".into(), "c.D".into()] },
            url: Some("localhost:50056".into()),
            lease: NodeLease {
                challenge_token: "t".repeat(64),
                expires_at: Timestamp::from_millis(1_600_000_010_000),
                renew_at: Timestamp::from_millis(1_600_000_005_000),
            },
            visible_nodes: vec![node("x"), NodeId::new("y", "management")],
            status: NodeStatus::Draining,
        }
    }

    fn sample_messages() -> Vec<Message> {
        let reference = AddressableReference::new("com.example.Greeter", Key::String("ключ".into()));
        let contents = vec![
            MessageContent::Error { description: "boom".into() },
            MessageContent::ConnectionInfoRequest,
            MessageContent::ConnectionInfoResponse { node_id: node("s") },
            MessageContent::InvocationRequest {
                destination: reference,
                method: "greet".into(),
                arguments: "[\"[Lkotlin.Pair;\",[]]".into(),
                reason: InvocationReason::Rerouted,
            },
            MessageContent::InvocationResponse { data: "\"hi\"".into() },
            MessageContent::InvocationResponseError { description: "x".into(), platform: String::new() },
        ];
        let targets = [
            None,
            Some(MessageTarget::Unicast(node("u"))),
            Some(MessageTarget::RoutedUnicast(vec![node("a"), node("b")])),
        ];
        let mut messages = Vec::new();
        for (i, content) in contents.into_iter().enumerate() {
            for target in &targets {
                messages.push(Message {
                    content: content.clone(),
                    message_id: i64::try_from(i).expect("small") - 1,
                    source: Some(node("src")),
                    target: target.clone(),
                    attempts: i64::MAX,
                });
            }
        }
        messages
    }

    #[test]
    fn messages_round_trip_through_the_wire() {
        for message in sample_messages() {
            let bytes = pb::MessageProto::from(message.clone()).encode_to_vec();
            let decoded = pb::MessageProto::decode(bytes.as_slice()).expect("our own bytes decode");
            assert_eq!(Message::try_from(decoded).expect("well-formed"), message);
        }
    }

    #[test]
    fn node_info_round_trips_and_drops_repeated_visible_nodes() {
        let info = sample_info();
        let mut wire = pb::NodeInfoProto::from(info.clone());
        assert_eq!(NodeInfo::try_from(wire.clone()).expect("well-formed"), info);
        wire.visible_nodes.push(node("x").into());
        assert_eq!(NodeInfo::try_from(wire).expect("well-formed").visible_nodes, info.visible_nodes);
    }

    #[test]
    fn empty_url_reads_as_absent() {
        let mut info = sample_info();
        info.url = Some(String::new());
        let wire = pb::NodeInfoProto::from(info);
        assert_eq!(NodeInfo::try_from(wire).expect("well-formed").url, None);
    }

    #[test]
    fn leases_and_references_round_trip() {
        for key in [Key::None, Key::Int32(i32::MIN), Key::Int64(i64::MIN), Key::String(String::new())] {
            let lease = AddressableLease {
                node_id: node("n"),
                reference: AddressableReference::new("t", key.clone()),
                expires_at: Timestamp::from_millis(600_000),
                renew_at: Timestamp::from_millis(300_000),
            };
            assert_eq!(AddressableLease::try_from(pb::AddressableLeaseProto::from(lease.clone())), Ok(lease));
            let namespaced = NamespacedAddressableReference {
                namespace: "ns".into(),
                addressable_reference: AddressableReference::new("t", key),
            };
            let wire = pb::NamespacedAddressableReferenceProto::from(namespaced.clone());
            assert_eq!(NamespacedAddressableReference::try_from(wire), Ok(namespaced));
        }
    }

    #[test]
    fn no_key_is_written_as_true() {
        let wire = pb::AddressableKeyProto::from(Key::None);
        assert_eq!(wire.encode_to_vec(), vec![0x20, 0x01]);
        let false_branch = pb::AddressableKeyProto { key: Some(pb::addressable_key_proto::Key::NoKey(false)) };
        assert_eq!(Key::try_from(false_branch), Ok(Key::None));
    }

    #[test]
    fn malformed_wire_messages_are_errors() {
        assert_eq!(
            Key::try_from(pb::AddressableKeyProto { key: None }),
            Err(ConvertError::OneofNotSet { message: "AddressableKeyProto", oneof: "key" })
        );
        let no_content = pb::MessageProto { message_id: 1, ..Default::default() };
        assert_eq!(
            Message::try_from(no_content),
            Err(ConvertError::MissingField { message: "MessageProto", field: "content" })
        );
        let empty_content =
            pb::MessageProto { content: Some(pb::MessageContentProto::default()), ..Default::default() };
        assert!(matches!(Message::try_from(empty_content), Err(ConvertError::OneofNotSet { .. })));

        let mut bad_reason: pb::MessageProto = sample_messages()[9].clone().into();
        if let Some(pb::message_content_proto::Content::InvocationRequest(r)) =
            bad_reason.content.as_mut().and_then(|c| c.content.as_mut())
        {
            r.reason = 7;
        }
        assert_eq!(
            Message::try_from(bad_reason),
            Err(ConvertError::UnknownEnumValue { message: "InvocationRequestProto", field: "reason", value: 7 })
        );

        let mut bad_status = pb::NodeInfoProto::from(sample_info());
        bad_status.status = 9;
        assert!(matches!(NodeInfo::try_from(bad_status), Err(ConvertError::UnknownEnumValue { value: 9, .. })));

        let mut no_lease = pb::NodeInfoProto::from(sample_info());
        no_lease.lease = None;
        assert_eq!(
            NodeInfo::try_from(no_lease).map(|_| ()),
            Err(ConvertError::MissingField { message: "NodeInfoProto", field: "lease" })
        );

        let keyless_request = pb::InvocationRequestProto {
            reference: Some(pb::AddressableReferenceProto { r#type: "t".into(), key: None }),
            ..Default::default()
        };
        let wire = pb::MessageProto {
            content: Some(pb::MessageContentProto {
                content: Some(pb::message_content_proto::Content::InvocationRequest(keyless_request)),
            }),
            ..Default::default()
        };
        assert_eq!(
            Message::try_from(wire),
            Err(ConvertError::MissingField { message: "AddressableReferenceProto", field: "key" })
        );
    }

    #[test]
    fn unset_target_oneof_reads_as_no_target() {
        let mut wire: pb::MessageProto = sample_messages()[1].clone().into();
        wire.target = Some(pb::MessageTargetProto { target: None });
        assert_eq!(Message::try_from(wire).expect("well-formed").target, None);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic sweep; the golden-vector tests cover real Kotlin bytes.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..400usize {
            let bytes: Vec<u8> = (0..len % 64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect();
            if let Ok(wire) = pb::MessageProto::decode(bytes.as_slice()) {
                let _ = Message::try_from(wire);
            }
            if let Ok(wire) = pb::NodeInfoProto::decode(bytes.as_slice()) {
                let _ = NodeInfo::try_from(wire);
            }
        }
    }
}
