//! The etcd node and addressable directories, byte-compatible with Kotlin's
//! `orbit-server-etcd` (spec section 8).
//!
//! * Keys: `node/<namespace>/<key>` and `addressable/<namespace>/<type>/<Key rendering>`
//!   (`compat_proto::render`); values: the binary `NodeInfoProto` / `AddressableLeaseProto`,
//!   no envelope.
//! * Every write grants a new etcd lease whose TTL is the whole seconds from now to the
//!   record's `expiresAt` (floored), then puts the value under it: etcd expires the record
//!   when Kotlin would. Old leases are left to expire, as Kotlin leaves them.
//! * Compare-and-set reads and decodes the current value, compares it structurally with the
//!   expected one (Kotlin's rule), then writes in a transaction guarded on the key's
//!   `mod_revision`, so a concurrent writer cannot be overwritten (Kotlin's get-then-put
//!   can; the stored bytes are the same).
//! * Scans and counts cover the whole store, as Kotlin's do (its range is `"\0".."\0"`).
//!   A key or value that is not a node record is skipped with a warning where Kotlin's
//!   server would fail its tick; the count includes it, as Kotlin's does.
//! * Every call has a deadline; an unreachable etcd is an error naming the URL, and the
//!   client reconnects by itself when etcd is back.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use compat_proto::render::{addressable_directory_key, node_directory_key, node_id_from_directory_key};
use compat_proto::{AddressableLease, NamespacedAddressableReference, NodeId, NodeInfo, Timestamp, pb};
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, PutOptions, Txn, TxnOp};
use prost::Message as _;
use tracing::{debug, warn};

use crate::clock::Clock;
use crate::mesh::directory::{AddressableDirectory, BoxFuture, DirectoryError, NodeDirectory};

/// How long one etcd request may take before it counts as a failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a health verdict is reused (Kotlin: 5 s), and the health probe's deadline (3 s).
const HEALTH_CACHE: Duration = Duration::from_secs(5);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// One etcd endpoint: the client, the clock that dates leases, and the cached health.
struct Store {
    url: String,
    client: Client,
    clock: Arc<Clock>,
    /// The last health verdict and when it was taken (std Mutex: never held across .await).
    health: Mutex<Option<(tokio::time::Instant, bool)>>,
}

/// A value read from etcd with the revision a conditional write must match.
struct Versioned {
    bytes: Vec<u8>,
    mod_revision: i64,
}

impl Store {
    /// Returns a store for `url` (`http://host:port` or `host:port`). Connecting is lazy: an
    /// etcd that is down now only fails the requests made while it is down.
    async fn connect(url: &str, clock: Arc<Clock>) -> Result<Self, DirectoryError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(REQUEST_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        let client = Client::connect([url], Some(options))
            .await
            .map_err(|source| DirectoryError::Etcd { url: url.to_owned(), source })?;
        Ok(Self { url: url.to_owned(), client, clock, health: Mutex::new(None) })
    }

    fn failed(&self, source: etcd_client::Error) -> DirectoryError {
        DirectoryError::Etcd { url: self.url.clone(), source }
    }

    /// Runs one request under the request deadline.
    async fn bounded<T>(
        &self,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, DirectoryError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
            Ok(outcome) => outcome.map_err(|source| self.failed(source)),
            Err(_) => Err(DirectoryError::Timeout { url: self.url.clone(), after: REQUEST_TIMEOUT }),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Versioned>, DirectoryError> {
        let mut kv = self.client.kv_client();
        let response = self.bounded(kv.get(key, None)).await?;
        Ok(response.kvs().first().map(|kv| Versioned { bytes: kv.value().to_vec(), mod_revision: kv.mod_revision() }))
    }

    /// Writes `value` (or deletes on `None`) iff the key is still at `expected_revision`
    /// (`None`: the key must be absent). The record expires at `expires_at`.
    async fn write_if_unchanged(
        &self,
        key: &str,
        expected_revision: Option<i64>,
        value: Option<(Vec<u8>, Timestamp)>,
    ) -> Result<bool, DirectoryError> {
        let guard = match expected_revision {
            Some(revision) => Compare::mod_revision(key, CompareOp::Equal, revision),
            None => Compare::version(key, CompareOp::Equal, 0),
        };
        let operation = match value {
            Some((bytes, expires_at)) => {
                let ttl = ttl_seconds(self.clock.now(), expires_at);
                let mut leases = self.client.lease_client();
                let lease = self.bounded(leases.grant(ttl, None)).await?;
                TxnOp::put(key, bytes, Some(PutOptions::new().with_lease(lease.id())))
            }
            None => TxnOp::delete(key, None),
        };
        let mut kv = self.client.kv_client();
        let response = self.bounded(kv.txn(Txn::new().when([guard]).and_then([operation]))).await?;
        Ok(response.succeeded())
    }

    /// Returns every key and value in the store (Kotlin's scan covers the whole store).
    async fn scan(&self) -> Result<Vec<(String, Vec<u8>)>, DirectoryError> {
        let mut kv = self.client.kv_client();
        let response = self.bounded(kv.get("\0", Some(GetOptions::new().with_all_keys()))).await?;
        Ok(response
            .kvs()
            .iter()
            .map(|kv| (String::from_utf8_lossy(kv.key()).into_owned(), kv.value().to_vec()))
            .collect())
    }

    /// Counts every key in the store, as Kotlin's `count()` does.
    async fn count(&self) -> Result<u64, DirectoryError> {
        let mut kv = self.client.kv_client();
        let response = self.bounded(kv.get("\0", Some(GetOptions::new().with_all_keys().with_count_only()))).await?;
        Ok(u64::try_from(response.count()).unwrap_or(0))
    }

    /// Healthy iff etcd answered a request within 3 s; the verdict is kept for 5 s.
    async fn is_healthy(&self) -> bool {
        let now = tokio::time::Instant::now();
        if let Some((taken, healthy)) = *self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
            && now.duration_since(taken) < HEALTH_CACHE
        {
            return healthy;
        }
        let mut kv = self.client.kv_client();
        let probe = kv.get("\0", Some(GetOptions::new().with_all_keys().with_count_only()));
        let healthy = matches!(tokio::time::timeout(HEALTH_TIMEOUT, probe).await, Ok(Ok(_)));
        if !healthy {
            warn!(url = %self.url, "etcd directory unhealthy: no answer within {HEALTH_TIMEOUT:?}");
        }
        *self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((now, healthy));
        healthy
    }
}

/// A record kept in etcd: its binary proto value, its expiry (for the lease TTL) and Kotlin's
/// equality (what a compare-and-set compares).
trait Stored: Sized {
    fn decode(bytes: &[u8]) -> Result<Self, String>;
    fn encode(self) -> Vec<u8>;
    fn expires_at(&self) -> Timestamp;
    fn same(&self, other: &Self) -> bool;
}

impl Stored for NodeInfo {
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let proto = pb::NodeInfoProto::decode(bytes).map_err(|e| e.to_string())?;
        NodeInfo::try_from(proto).map_err(|e| e.to_string())
    }

    fn encode(self) -> Vec<u8> {
        pb::NodeInfoProto::from(self).encode_to_vec()
    }

    fn expires_at(&self) -> Timestamp {
        self.lease.expires_at
    }

    fn same(&self, other: &Self) -> bool {
        self.same_record(other)
    }
}

impl Stored for AddressableLease {
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let proto = pb::AddressableLeaseProto::decode(bytes).map_err(|e| e.to_string())?;
        AddressableLease::try_from(proto).map_err(|e| e.to_string())
    }

    fn encode(self) -> Vec<u8> {
        pb::AddressableLeaseProto::from(self).encode_to_vec()
    }

    fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

impl Store {
    fn decode<T: Stored>(&self, key: &str, bytes: &[u8]) -> Result<T, DirectoryError> {
        T::decode(bytes).map_err(|reason| DirectoryError::Corrupt {
            url: self.url.clone(),
            key: key.to_owned(),
            reason,
        })
    }

    /// Reads and decodes the record at `key`.
    async fn read<T: Stored>(&self, key: &str) -> Result<Option<T>, DirectoryError> {
        match self.get(key).await? {
            Some(value) => self.decode(key, &value.bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Kotlin's compare-and-set: the current record must equal `expected` (an undecodable one
    /// equals nothing); the write is a transaction on the revision that was compared.
    async fn compare_and_set<T: Stored>(
        &self,
        key: &str,
        expected: Option<&T>,
        new: Option<T>,
    ) -> Result<bool, DirectoryError> {
        let current = self.get(key).await?;
        let revision = match (&current, expected) {
            (None, None) => None,
            (Some(current), Some(expected)) => match self.decode::<T>(key, &current.bytes) {
                Ok(decoded) if decoded.same(expected) => Some(current.mod_revision),
                _ => return Ok(false),
            },
            _ => return Ok(false),
        };
        let value = new.map(|record| {
            let expires_at = record.expires_at();
            (record.encode(), expires_at)
        });
        self.write_if_unchanged(key, revision, value).await
    }
}

/// Kotlin's TTL: the whole seconds from `now` to `expires_at`, floored (`Duration.getSeconds`).
/// etcd raises values below its minimum TTL to the minimum.
fn ttl_seconds(now: Timestamp, expires_at: Timestamp) -> i64 {
    (expires_at.as_millis() - now.as_millis()).div_euclid(1000)
}

/// The node directory in etcd.
pub struct EtcdNodeDirectory {
    store: Store,
}

impl EtcdNodeDirectory {
    /// Returns the directory at `url`, dating leases with `clock`.
    pub async fn connect(url: &str, clock: Arc<Clock>) -> Result<Self, DirectoryError> {
        Ok(Self { store: Store::connect(url, clock).await? })
    }
}

impl NodeDirectory for EtcdNodeDirectory {
    fn get<'a>(&'a self, id: &'a NodeId) -> BoxFuture<'a, Result<Option<NodeInfo>, DirectoryError>> {
        Box::pin(async move { self.store.read(&node_directory_key(id)).await })
    }

    fn compare_and_set<'a>(
        &'a self,
        id: &'a NodeId,
        expected: Option<&'a NodeInfo>,
        new: Option<NodeInfo>,
    ) -> BoxFuture<'a, Result<bool, DirectoryError>> {
        Box::pin(async move { self.store.compare_and_set(&node_directory_key(id), expected, new).await })
    }

    fn entries(&self) -> BoxFuture<'_, Result<Vec<NodeInfo>, DirectoryError>> {
        Box::pin(async move {
            let mut records = Vec::new();
            for (key, bytes) in self.store.scan().await? {
                if node_id_from_directory_key(&key).is_none() {
                    warn!(url = %self.store.url, key = %key, "not a node key in the node directory; skipped (a Kotlin server fails its tick on it)");
                    continue;
                }
                match self.store.decode::<NodeInfo>(&key, &bytes) {
                    Ok(info) => records.push(info),
                    Err(error) => warn!(%error, "skipped (a Kotlin server fails its tick on it)"),
                }
            }
            Ok(records)
        })
    }

    fn count(&self) -> BoxFuture<'_, Result<u64, DirectoryError>> {
        Box::pin(self.store.count())
    }

    fn tick(&self, _now: Timestamp) -> BoxFuture<'_, Result<(), DirectoryError>> {
        // etcd expires records by their lease TTL; Kotlin's etcd directory does not sweep.
        Box::pin(async { Ok(()) })
    }

    fn is_healthy(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.store.is_healthy())
    }
}

/// The addressable directory in etcd.
pub struct EtcdAddressableDirectory {
    store: Store,
}

impl EtcdAddressableDirectory {
    /// Returns the directory at `url`, dating leases with `clock`.
    pub async fn connect(url: &str, clock: Arc<Clock>) -> Result<Self, DirectoryError> {
        Ok(Self { store: Store::connect(url, clock).await? })
    }
}

fn lease_key(key: &NamespacedAddressableReference) -> String {
    addressable_directory_key(&key.namespace, &key.addressable_reference)
}

impl AddressableDirectory for EtcdAddressableDirectory {
    fn get<'a>(
        &'a self,
        key: &'a NamespacedAddressableReference,
    ) -> BoxFuture<'a, Result<Option<AddressableLease>, DirectoryError>> {
        Box::pin(async move { self.store.read(&lease_key(key)).await })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a NamespacedAddressableReference,
        expected: Option<&'a AddressableLease>,
        new: Option<AddressableLease>,
    ) -> BoxFuture<'a, Result<bool, DirectoryError>> {
        Box::pin(async move {
            let key = lease_key(key);
            let written = self.store.compare_and_set(&key, expected, new).await?;
            debug!(key = %key, written, "addressable lease compare-and-set");
            Ok(written)
        })
    }

    fn count(&self) -> BoxFuture<'_, Result<u64, DirectoryError>> {
        Box::pin(self.store.count())
    }

    fn tick(&self, _now: Timestamp) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async { Ok(()) })
    }

    fn is_healthy(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.store.is_healthy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_floored_whole_seconds_like_kotlin() {
        let now = Timestamp::from_millis(1_000_500);
        assert_eq!(ttl_seconds(now, Timestamp::from_millis(1_010_500)), 10);
        assert_eq!(ttl_seconds(now, Timestamp::from_millis(1_010_499)), 9, "a fresh node lease is 9 s in Kotlin too");
        assert_eq!(ttl_seconds(now, Timestamp::from_millis(1_600_400)), 599);
        assert_eq!(ttl_seconds(now, Timestamp::from_millis(999_000)), -2, "etcd raises it to its minimum");
    }
}
