//! tonic implementations of the Orbit 2 services: they translate `pb` <-> domain and call
//! into `mesh`, `net` and `pipeline`, nothing else (mirrors `service/*.kt`).

pub mod addressable_management;
pub mod connection;
pub mod health;
pub mod node_management;

use compat_proto::{NAMESPACE_HEADER, NODE_KEY_HEADER, NodeId};

/// The caller's identity as its metadata states it (`ServerAuthInterceptor.kt`): nothing is
/// rejected here; each RPC decides what a missing part means.
#[derive(Debug, Clone, Default)]
pub struct CallerIdentity {
    /// The `namespace` entry.
    pub namespace: Option<String>,
    /// The `nodekey` entry.
    pub node_key: Option<String>,
}

impl CallerIdentity {
    /// Reads the identity from request metadata; non-ASCII values count as absent.
    pub fn from_metadata(metadata: &tonic::metadata::MetadataMap) -> Self {
        let read = |name: &str| metadata.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self { namespace: read(NAMESPACE_HEADER), node_key: read(NODE_KEY_HEADER) }
    }

    /// Returns the node id when both parts are present.
    pub fn node_id(&self) -> Option<NodeId> {
        Some(NodeId::new(self.node_key.clone()?, self.namespace.clone()?))
    }
}
