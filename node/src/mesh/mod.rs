//! The cluster's shared state: node and addressable directories, leases and placement.
//!
//! Mirrors the Kotlin `orbit.server.mesh` package: `directory` holds the storage traits and
//! their in-memory implementations, `cluster` the node lifecycle and routing graph
//! (`ClusterManager.kt`), `addressable` placement and addressable leases
//! (`AddressableManager.kt`), `etcd` the etcd directories (`orbit-server-etcd`).

pub mod addressable;
pub mod cluster;
pub mod directory;
pub mod etcd;

pub use addressable::AddressableManager;
pub use cluster::ClusterManager;
pub use directory::{AddressableDirectory, DirectoryError, NodeDirectory};
