//! Directories: where node records and addressable leases live.
//!
//! Both follow Kotlin's `AsyncMap` contract: `get`, `compare_and_set` against a structurally
//! equal expected value (absent equals `None`; a `None` new value deletes), plus `tick` to
//! cull expired entries. Read-modify-write loops are built on top (`manipulate`). The
//! in-memory implementations are the embedded default; `mesh::etcd` holds the etcd ones,
//! with Kotlin's key and value formats (`compat_proto::render`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use compat_proto::{AddressableLease, NamespacedAddressableReference, NodeId, NodeInfo, Timestamp};
use thiserror::Error;

/// A boxed future, so the directory traits can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A directory could not be read or written.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// The backing store failed or could not be reached.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// etcd refused a request or could not be reached.
    #[error("etcd directory at {url} failed")]
    Etcd {
        /// The configured etcd URL.
        url: String,
        /// The etcd client's error.
        #[source]
        source: etcd_client::Error,
    },
    /// etcd did not answer in time.
    #[error("etcd directory at {url} did not answer within {after:?}")]
    Timeout {
        /// The configured etcd URL.
        url: String,
        /// The deadline.
        after: std::time::Duration,
    },
    /// A stored value is not what the key says it is.
    #[error("etcd directory at {url}: the value of {key} is not readable: {reason}")]
    Corrupt {
        /// The configured etcd URL.
        url: String,
        /// The etcd key.
        key: String,
        /// Why decoding failed.
        reason: String,
    },
}

/// Node records, keyed by node id.
pub trait NodeDirectory: Send + Sync {
    /// Returns the record of `id`, if any.
    fn get<'a>(&'a self, id: &'a NodeId) -> BoxFuture<'a, Result<Option<NodeInfo>, DirectoryError>>;

    /// Stores `new` (or deletes on `None`) iff the current record equals `expected`.
    fn compare_and_set<'a>(
        &'a self,
        id: &'a NodeId,
        expected: Option<&'a NodeInfo>,
        new: Option<NodeInfo>,
    ) -> BoxFuture<'a, Result<bool, DirectoryError>>;

    /// Returns every record.
    fn entries(&self) -> BoxFuture<'_, Result<Vec<NodeInfo>, DirectoryError>>;

    /// Returns the number of entries in the store (for etcd: every key, as Kotlin counts).
    fn count(&self) -> BoxFuture<'_, Result<u64, DirectoryError>> {
        Box::pin(async move { Ok(u64::try_from(self.entries().await?.len()).unwrap_or(u64::MAX)) })
    }

    /// Deletes expired records (a no-op for stores that expire by themselves).
    fn tick(&self, now: Timestamp) -> BoxFuture<'_, Result<(), DirectoryError>>;

    /// Returns whether the store is usable.
    fn is_healthy(&self) -> BoxFuture<'_, bool>;
}

/// Addressable leases, keyed by namespace and reference.
pub trait AddressableDirectory: Send + Sync {
    /// Returns the lease of `key`, if any. A store may answer from a copy that lags it by a
    /// moment (routing tolerates that: hosts validate their leases).
    fn get<'a>(
        &'a self,
        key: &'a NamespacedAddressableReference,
    ) -> BoxFuture<'a, Result<Option<AddressableLease>, DirectoryError>>;

    /// Returns the lease of `key` as the store holds it now, never from a copy: what lease
    /// renewal and abandonment decide on (a host renews right after another server placed
    /// the actor on it).
    fn get_latest<'a>(
        &'a self,
        key: &'a NamespacedAddressableReference,
    ) -> BoxFuture<'a, Result<Option<AddressableLease>, DirectoryError>> {
        self.get(key)
    }

    /// Stores `new` (or deletes on `None`) iff the current lease equals `expected`.
    fn compare_and_set<'a>(
        &'a self,
        key: &'a NamespacedAddressableReference,
        expected: Option<&'a AddressableLease>,
        new: Option<AddressableLease>,
    ) -> BoxFuture<'a, Result<bool, DirectoryError>>;

    /// Returns the number of leases.
    fn count(&self) -> BoxFuture<'_, Result<u64, DirectoryError>>;

    /// Deletes expired leases (a no-op for stores that expire by themselves).
    fn tick(&self, now: Timestamp) -> BoxFuture<'_, Result<(), DirectoryError>>;

    /// Returns whether the store is usable.
    fn is_healthy(&self) -> BoxFuture<'_, bool>;
}

/// The in-memory node directory: the embedded default, private to one process.
#[derive(Default)]
pub struct InMemoryNodeDirectory {
    /// A std Mutex: never held across an .await.
    records: Mutex<HashMap<NodeId, NodeInfo>>,
}

impl NodeDirectory for InMemoryNodeDirectory {
    fn get<'a>(&'a self, id: &'a NodeId) -> BoxFuture<'a, Result<Option<NodeInfo>, DirectoryError>> {
        Box::pin(async move { Ok(lock(&self.records).get(id).cloned()) })
    }

    fn compare_and_set<'a>(
        &'a self,
        id: &'a NodeId,
        expected: Option<&'a NodeInfo>,
        new: Option<NodeInfo>,
    ) -> BoxFuture<'a, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let mut records = lock(&self.records);
            let matches = match (records.get(id), expected) {
                (None, None) => true,
                (Some(current), Some(expected)) => current.same_record(expected),
                _ => false,
            };
            if matches {
                match new {
                    Some(new) => records.insert(id.clone(), new),
                    None => records.remove(id),
                };
            }
            Ok(matches)
        })
    }

    fn entries(&self) -> BoxFuture<'_, Result<Vec<NodeInfo>, DirectoryError>> {
        Box::pin(async move { Ok(lock(&self.records).values().cloned().collect()) })
    }

    fn tick(&self, now: Timestamp) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async move {
            lock(&self.records).retain(|_, info| !info.lease.expires_at.is_before(now));
            Ok(())
        })
    }

    fn is_healthy(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }
}

/// The in-memory addressable directory: the embedded default, private to one process.
#[derive(Default)]
pub struct InMemoryAddressableDirectory {
    /// A std Mutex: never held across an .await.
    leases: Mutex<HashMap<NamespacedAddressableReference, AddressableLease>>,
}

impl AddressableDirectory for InMemoryAddressableDirectory {
    fn get<'a>(
        &'a self,
        key: &'a NamespacedAddressableReference,
    ) -> BoxFuture<'a, Result<Option<AddressableLease>, DirectoryError>> {
        Box::pin(async move { Ok(lock(&self.leases).get(key).cloned()) })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a NamespacedAddressableReference,
        expected: Option<&'a AddressableLease>,
        new: Option<AddressableLease>,
    ) -> BoxFuture<'a, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let mut leases = lock(&self.leases);
            if leases.get(key) != expected {
                return Ok(false);
            }
            match new {
                Some(new) => leases.insert(key.clone(), new),
                None => leases.remove(key),
            };
            Ok(true)
        })
    }

    fn count(&self) -> BoxFuture<'_, Result<u64, DirectoryError>> {
        Box::pin(async move { Ok(u64::try_from(lock(&self.leases).len()).unwrap_or(u64::MAX)) })
    }

    fn tick(&self, now: Timestamp) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async move {
            lock(&self.leases).retain(|_, lease| !lease.expires_at.is_before(now));
            Ok(())
        })
    }

    fn is_healthy(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }
}

/// Locks a map, recovering it if a panicking thread poisoned it (the maps stay consistent:
/// every critical section is a single insert, remove or retain).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why a read-modify-write of a node record stopped.
#[derive(Debug, Error)]
pub enum ManipulateError<E> {
    /// The update function refused the current value.
    #[error(transparent)]
    Rejected(E),
    /// The directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// Applies `update` to the record of `id` until the compare-and-set wins, as Kotlin's
/// `AsyncMap.manipulate` does, and returns the value written (`None` deleted the record).
pub async fn manipulate_node<E>(
    directory: &dyn NodeDirectory,
    id: &NodeId,
    mut update: impl FnMut(Option<&NodeInfo>) -> Result<Option<NodeInfo>, E>,
) -> Result<Option<NodeInfo>, ManipulateError<E>> {
    loop {
        let current = directory.get(id).await?;
        let new = update(current.as_ref()).map_err(ManipulateError::Rejected)?;
        if directory.compare_and_set(id, current.as_ref(), new.clone()).await? {
            return Ok(new);
        }
    }
}

#[cfg(test)]
mod tests {
    use compat_proto::{AddressableReference, Key, NodeCapabilities, NodeLease, NodeStatus};

    use super::*;

    fn info(key: &str, expires_ms: i64) -> NodeInfo {
        NodeInfo {
            id: NodeId::new(key, "ns"),
            capabilities: NodeCapabilities::default(),
            url: None,
            lease: NodeLease {
                challenge_token: "t".into(),
                expires_at: Timestamp::from_millis(expires_ms),
                renew_at: Timestamp::from_millis(expires_ms / 2),
            },
            visible_nodes: vec![],
            status: NodeStatus::Active,
        }
    }

    #[tokio::test]
    async fn node_cas_requires_the_expected_value() {
        let directory = InMemoryNodeDirectory::default();
        let a = info("a", 10_000);
        assert!(directory.compare_and_set(&a.id, None, Some(a.clone())).await.expect("in memory"));
        assert!(!directory.compare_and_set(&a.id, None, Some(a.clone())).await.expect("in memory"));
        let mut b = a.clone();
        b.status = NodeStatus::Draining;
        assert!(directory.compare_and_set(&a.id, Some(&a), Some(b.clone())).await.expect("in memory"));
        assert_eq!(directory.get(&a.id).await.expect("in memory"), Some(b.clone()));
        assert!(directory.compare_and_set(&a.id, Some(&b), None).await.expect("in memory"));
        assert_eq!(directory.get(&a.id).await.expect("in memory"), None);
    }

    #[tokio::test]
    async fn tick_culls_expired_entries() {
        let nodes = InMemoryNodeDirectory::default();
        for (key, expiry) in [("old", 1_000), ("new", 9_000)] {
            let record = info(key, expiry);
            nodes.compare_and_set(&record.id, None, Some(record.clone())).await.expect("in memory");
        }
        nodes.tick(Timestamp::from_millis(5_000)).await.expect("in memory");
        let left: Vec<String> = nodes.entries().await.expect("in memory").into_iter().map(|i| i.id.key).collect();
        assert_eq!(left, vec!["new".to_owned()]);

        let leases = InMemoryAddressableDirectory::default();
        let key = NamespacedAddressableReference {
            namespace: "ns".into(),
            addressable_reference: AddressableReference::new("t", Key::None),
        };
        let lease = AddressableLease {
            node_id: NodeId::new("a", "ns"),
            reference: key.addressable_reference.clone(),
            expires_at: Timestamp::from_millis(1_000),
            renew_at: Timestamp::from_millis(500),
        };
        assert!(leases.compare_and_set(&key, None, Some(lease)).await.expect("in memory"));
        assert_eq!(leases.count().await.expect("in memory"), 1);
        leases.tick(Timestamp::from_millis(5_000)).await.expect("in memory");
        assert_eq!(leases.count().await.expect("in memory"), 0);
    }

    #[tokio::test]
    async fn manipulate_stops_on_rejection() {
        let directory = InMemoryNodeDirectory::default();
        let id = NodeId::new("x", "ns");
        let outcome = manipulate_node(&directory, &id, |current| match current {
            None => Err("absent"),
            Some(info) => Ok(Some(info.clone())),
        })
        .await;
        assert!(matches!(outcome, Err(ManipulateError::Rejected("absent"))));
    }
}
