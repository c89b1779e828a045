//! The Orbit 2 wire contract, shared by every Orbit Rust component.
//!
//! * `pb`: prost/tonic code generated from our `.proto` files (packages `orbit.shared` and
//!   `grpc.health.v1`), checked in and verified by `tests/bootstrap.rs`. Wire types are
//!   reached only as `pb::...`.
//! * `node`, `addressable`, `message`: domain types named after the Kotlin ones
//!   (`pb::NodeIdProto` becomes [`NodeId`]), with the Kotlin `toString` renderings that reach
//!   the wire, error descriptions and etcd keys.
//! * `convert`: conversions between `pb` and the domain. Domain to wire always succeeds;
//!   wire to domain fails with [`ConvertError`] on malformed input instead of panicking.
//! * `render`: etcd keys and the JVM exception descriptions Kotlin peers put in error
//!   replies, as functions.

mod addressable;
mod convert;
mod message;
mod node;
pub mod render;

pub use addressable::{AddressableLease, AddressableReference, Key, NamespacedAddressableReference};
pub use convert::ConvertError;
pub use message::{InvocationReason, Message, MessageContent, MessageTarget};
pub use node::{NodeCapabilities, NodeId, NodeInfo, NodeLease, NodeStatus, Timestamp};

/// Generated wire types and gRPC clients and servers.
///
/// `orbit.shared` types sit at the top level; the health protocol is under [`pb::health`].
#[rustfmt::skip]
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    include!("generated/orbit.shared.rs");

    /// `grpc.health.v1`, as Orbit 2 declares it.
    #[allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod health {
        include!("generated/grpc.health.v1.rs");
    }

    /// `orbit_node.v1`: between orbit-nodes only (a Kotlin server answers UNIMPLEMENTED).
    #[allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod orbit_node {
        include!("generated/orbit_node.v1.rs");
    }
}

/// The schema files under `proto/`, in dependency order (for code generation and descriptor
/// pools in tests).
pub const PROTO_FILES: &[&str] = &[
    "orbit/shared/node.proto",
    "orbit/shared/addressable.proto",
    "orbit/shared/addressable_management.proto",
    "orbit/shared/node_management.proto",
    "orbit/shared/messages.proto",
    "orbit/shared/connection.proto",
    "orbit/shared/health.proto",
];

/// Services only orbit-nodes serve and call (relative to `proto/`); Kotlin nodes never see them.
pub const RUST_ONLY_PROTO_FILES: &[&str] = &["orbit_node/peer.proto"];

/// The gRPC metadata entry that carries the caller's namespace.
pub const NAMESPACE_HEADER: &str = "namespace";
/// The gRPC metadata entry that carries the caller's node key (grpc-java lower-cases `nodeKey`).
pub const NODE_KEY_HEADER: &str = "nodekey";
/// The namespace that marks a caller as a mesh server rather than a client application.
pub const MANAGEMENT_NAMESPACE: &str = "management";
