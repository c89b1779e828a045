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
//! * Lookups of the addressable directory are answered from a local copy that an etcd watch
//!   on the `addressable/` prefix keeps current (Kotlin reads etcd on every invocation, which
//!   makes etcd the bottleneck of a mesh). Writes still go to etcd, guarded as above; what
//!   this server writes or finds on a failed compare-and-set enters the copy at once, and a
//!   record only ever replaces an older revision of itself. While the watch is down (etcd
//!   unreachable, history compacted) lookups read etcd directly, as before.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use compat_proto::render::{addressable_directory_key, node_directory_key, node_id_from_directory_key};
use compat_proto::{AddressableLease, NamespacedAddressableReference, NodeId, NodeInfo, Timestamp, pb};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp, WatchOptions,
};
use prost::Message as _;
use tracing::{debug, warn};

use crate::clock::Clock;
use crate::mesh::directory::{AddressableDirectory, BoxFuture, DirectoryError, NodeDirectory};
use crate::metrics::EtcdRequests;

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
    /// Request latency, by operation.
    requests: EtcdRequests,
}

/// A value read from etcd with the revision a conditional write must match.
struct Versioned {
    bytes: Vec<u8>,
    mod_revision: i64,
}

impl Store {
    /// Returns a store for `url` (`http://host:port` or `host:port`). Connecting is lazy: an
    /// etcd that is down now only fails the requests made while it is down.
    async fn connect(url: &str, clock: Arc<Clock>, requests: EtcdRequests) -> Result<Self, DirectoryError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(REQUEST_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            // A member cut off from its cluster's leader fails requests (and ends watches)
            // instead of answering from what it had.
            .with_require_leader(true);
        let client = Client::connect([url], Some(options))
            .await
            .map_err(|source| DirectoryError::Etcd { url: url.to_owned(), source })?;
        Ok(Self { url: url.to_owned(), client, clock, health: Mutex::new(None), requests })
    }

    fn failed(&self, source: etcd_client::Error) -> DirectoryError {
        DirectoryError::Etcd { url: self.url.clone(), source }
    }

    /// Runs one request under the request deadline.
    async fn bounded<T>(
        &self,
        op: &str,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, DirectoryError> {
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, request).await;
        self.requests.observe(op, started.elapsed());
        match outcome {
            Ok(outcome) => outcome.map_err(|source| self.failed(source)),
            Err(_) => Err(DirectoryError::Timeout { url: self.url.clone(), after: REQUEST_TIMEOUT }),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Versioned>, DirectoryError> {
        Ok(self.get_at(key).await?.0)
    }

    /// [`Store::get`], with the store's revision at the time of the read.
    async fn get_at(&self, key: &str) -> Result<(Option<Versioned>, i64), DirectoryError> {
        let mut kv = self.client.kv_client();
        let response = self.bounded("get", kv.get(key, None)).await?;
        let revision = response.header().map_or(0, |h| h.revision());
        let value =
            response.kvs().first().map(|kv| Versioned { bytes: kv.value().to_vec(), mod_revision: kv.mod_revision() });
        Ok((value, revision))
    }

    /// Writes `value` (or deletes on `None`) iff the key is still at `expected_revision`
    /// (`None`: the key must be absent). The record expires at `expires_at`.
    async fn write_if_unchanged(
        &self,
        key: &str,
        expected_revision: Option<i64>,
        value: Option<(Vec<u8>, Timestamp)>,
    ) -> Result<Option<i64>, DirectoryError> {
        let guard = match expected_revision {
            Some(revision) => Compare::mod_revision(key, CompareOp::Equal, revision),
            None => Compare::version(key, CompareOp::Equal, 0),
        };
        let operation = match value {
            Some((bytes, expires_at)) => {
                let ttl = ttl_seconds(self.clock.now(), expires_at);
                let mut leases = self.client.lease_client();
                let lease = self.bounded("lease_grant", leases.grant(ttl, None)).await?;
                TxnOp::put(key, bytes, Some(PutOptions::new().with_lease(lease.id())))
            }
            None => TxnOp::delete(key, None),
        };
        let mut kv = self.client.kv_client();
        let response = self.bounded("txn", kv.txn(Txn::new().when([guard]).and_then([operation]))).await?;
        // The transaction's revision is the new mod_revision of the key it wrote.
        Ok(response.succeeded().then(|| response.header().map_or(0, |h| h.revision())))
    }

    /// Returns every key and value in the store (Kotlin's scan covers the whole store).
    async fn scan(&self) -> Result<Vec<(String, Vec<u8>)>, DirectoryError> {
        let mut kv = self.client.kv_client();
        let response = self.bounded("scan", kv.get("\0", Some(GetOptions::new().with_all_keys()))).await?;
        Ok(response
            .kvs()
            .iter()
            .map(|kv| (String::from_utf8_lossy(kv.key()).into_owned(), kv.value().to_vec()))
            .collect())
    }

    /// Counts every key in the store, as Kotlin's `count()` does.
    async fn count(&self) -> Result<u64, DirectoryError> {
        let mut kv = self.client.kv_client();
        let response =
            self.bounded("count", kv.get("\0", Some(GetOptions::new().with_all_keys().with_count_only()))).await?;
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
        Ok(matches!(self.compare_and_set_seen(key, expected, new).await?, Exchange::Written(_)))
    }

    /// [`Store::compare_and_set`], saying what it saw or wrote (for the lease cache).
    async fn compare_and_set_seen<T: Stored>(
        &self,
        key: &str,
        expected: Option<&T>,
        new: Option<T>,
    ) -> Result<Exchange, DirectoryError> {
        let (current, read_at) = self.get_at(key).await?;
        let revision = match (current, expected) {
            (None, None) => None,
            (Some(current), Some(expected)) => match self.decode::<T>(key, &current.bytes) {
                Ok(decoded) if decoded.same(expected) => Some(current.mod_revision),
                _ => return Ok(Exchange::Refused(Found::Record(current))),
            },
            (Some(current), None) => return Ok(Exchange::Refused(Found::Record(current))),
            (None, Some(_)) => return Ok(Exchange::Refused(Found::Absent(read_at))),
        };
        let value = new.map(|record| {
            let expires_at = record.expires_at();
            (record.encode(), expires_at)
        });
        Ok(match self.write_if_unchanged(key, revision, value).await? {
            Some(written) => Exchange::Written(written),
            None => Exchange::Refused(Found::Unknown),
        })
    }
}

/// What a compare-and-set did: wrote at a revision, or was refused.
enum Exchange {
    Written(i64),
    Refused(Found),
}

/// What a refused compare-and-set found at the key.
enum Found {
    /// This record (another one than expected).
    Record(Versioned),
    /// Nothing, as of this store revision.
    Absent(i64),
    /// The key changed between the read and the guarded write.
    Unknown,
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
        Self::connect_observed(url, clock, EtcdRequests::detached()).await
    }

    /// [`EtcdNodeDirectory::connect`], timing its requests into `requests`.
    pub async fn connect_observed(
        url: &str,
        clock: Arc<Clock>,
        requests: EtcdRequests,
    ) -> Result<Self, DirectoryError> {
        Ok(Self { store: Store::connect(url, clock, requests).await? })
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

/// The prefix of every addressable lease key.
const ADDRESSABLE_PREFIX: &str = "addressable/";
/// How long the watch waits before it starts again after failing.
const WATCH_RETRY: Duration = Duration::from_secs(1);
/// How often the watch asks etcd to confirm it is current; no answer by the next ask ends it.
const WATCH_PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// The largest snapshot or watch response read (tonic's default, 4 MiB, holds about 19,000
/// leases; a snapshot of 100,000 is about 22 MiB).
const WATCH_MAX_MESSAGE: usize = 512 * 1024 * 1024;
/// How long a deleted key's revision is remembered (longer than any request may take), so a
/// slower read of an older revision cannot bring the record back.
const TOMBSTONE_KEEP: Duration = Duration::from_secs(30);

/// The addressable directory in etcd, with lookups answered from a watched local copy.
pub struct EtcdAddressableDirectory {
    store: Arc<Store>,
    cache: Arc<LeaseCache>,
    watching: tokio::task::JoinHandle<()>,
}

impl Drop for EtcdAddressableDirectory {
    fn drop(&mut self) {
        self.watching.abort();
    }
}

impl EtcdAddressableDirectory {
    /// Returns the directory at `url`, dating leases with `clock`, and starts watching it.
    pub async fn connect(url: &str, clock: Arc<Clock>) -> Result<Self, DirectoryError> {
        Self::connect_observed(url, clock, EtcdRequests::detached()).await
    }

    /// [`EtcdAddressableDirectory::connect`], timing its requests into `requests`.
    pub async fn connect_observed(
        url: &str,
        clock: Arc<Clock>,
        requests: EtcdRequests,
    ) -> Result<Self, DirectoryError> {
        let store = Arc::new(Store::connect(url, clock, requests).await?);
        let cache = Arc::new(LeaseCache::default());
        let watching = tokio::spawn(keep_watching(Arc::clone(&store), Arc::clone(&cache)));
        Ok(Self { store, cache, watching })
    }
}

fn lease_key(key: &NamespacedAddressableReference) -> String {
    addressable_directory_key(&key.namespace, &key.addressable_reference)
}

/// One key of the local copy.
enum Cached {
    /// The record at a revision.
    Lease { revision: i64, lease: AddressableLease },
    /// A value that is not a lease: lookups read etcd, which reports it.
    Undecodable { revision: i64 },
    /// Deleted (or expired) at a revision, noted at an instant.
    Deleted { revision: i64, at: tokio::time::Instant },
}

impl Cached {
    fn revision(&self) -> i64 {
        match self {
            Cached::Lease { revision, .. } | Cached::Undecodable { revision } | Cached::Deleted { revision, .. } => {
                *revision
            }
        }
    }
}

/// The local copy of the addressable directory; usable only while `ready` (the watch runs).
#[derive(Default)]
struct LeaseCache {
    /// A std Mutex: never held across an .await.
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    ready: bool,
    entries: HashMap<String, Cached>,
}

/// What a lookup in the copy found.
enum Lookup {
    Found(Option<AddressableLease>),
    /// Not usable (watch down, or an undecodable value): read etcd.
    AskEtcd,
}

impl LeaseCache {
    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lookup(&self, key: &str) -> Lookup {
        let state = self.state();
        if !state.ready {
            return Lookup::AskEtcd;
        }
        match state.entries.get(key) {
            None | Some(Cached::Deleted { .. }) => Lookup::Found(None),
            Some(Cached::Lease { lease, .. }) => Lookup::Found(Some(lease.clone())),
            Some(Cached::Undecodable { .. }) => Lookup::AskEtcd,
        }
    }

    /// Records what etcd holds at `key` as of a revision, unless a newer revision is known.
    fn observe(&self, key: &str, entry: Cached) {
        let mut state = self.state();
        if state.entries.get(key).is_some_and(|known| known.revision() > entry.revision()) {
            return;
        }
        state.entries.insert(key.to_owned(), entry);
    }

    /// Replaces the copy with a snapshot and marks it usable.
    fn load(&self, entries: HashMap<String, Cached>) {
        let mut state = self.state();
        state.entries = entries;
        state.ready = true;
    }

    /// Forgets everything: lookups read etcd until the watch is back.
    fn reset(&self) {
        let mut state = self.state();
        state.ready = false;
        state.entries = HashMap::new();
    }

    /// Drops the revisions of keys deleted long enough ago.
    fn prune(&self) {
        let now = tokio::time::Instant::now();
        self.state().entries.retain(
            |_, entry| !matches!(entry, Cached::Deleted { at, .. } if now.duration_since(*at) > TOMBSTONE_KEEP),
        );
    }
}

fn cached(bytes: &[u8], revision: i64) -> Cached {
    match AddressableLease::decode(bytes) {
        Ok(lease) => Cached::Lease { revision, lease },
        Err(_) => Cached::Undecodable { revision },
    }
}

/// Watches the `addressable/` prefix for as long as the directory lives, starting again
/// (from a fresh snapshot) whenever the watch fails.
async fn keep_watching(store: Arc<Store>, cache: Arc<LeaseCache>) {
    loop {
        let outcome = watch_once(&store, &cache).await;
        let was_ready = cache.state().ready;
        cache.reset();
        match outcome {
            Ok(()) => debug!(url = %store.url, "addressable watch ended; starting again"),
            // A watch that was serving lookups: say so once; while etcd stays away the
            // node directory's health check already warns.
            Err(error) if was_ready => {
                warn!(url = %store.url, %error, "addressable watch failed; lookups read etcd until it is back");
            }
            Err(error) => debug!(url = %store.url, %error, "addressable watch failed; starting again"),
        }
        tokio::time::sleep(WATCH_RETRY).await;
    }
}

/// Loads a snapshot of the leases, then applies every change after it until the watch ends.
/// Every [`WATCH_PROGRESS_EVERY`] it asks etcd for a progress notice; a watch that has not
/// answered by the next ask is stalled (a member that lost its leader keeps a watch open and
/// silent), and ends with an error.
async fn watch_once(store: &Store, cache: &LeaseCache) -> Result<(), DirectoryError> {
    let mut kv = store.client.kv_client().max_decoding_message_size(WATCH_MAX_MESSAGE);
    let snapshot = store.bounded("snapshot", kv.get(ADDRESSABLE_PREFIX, Some(GetOptions::new().with_prefix()))).await?;
    let revision = snapshot.header().map_or(0, |h| h.revision());
    let mut watch = store.client.watch_client().max_decoding_message_size(WATCH_MAX_MESSAGE);
    let options = WatchOptions::new().with_prefix().with_start_revision(revision + 1);
    let (mut requests, mut responses) =
        store.bounded("watch", watch.watch(ADDRESSABLE_PREFIX, Some(options))).await?.split();
    let entries = snapshot
        .kvs()
        .iter()
        .map(|kv| (String::from_utf8_lossy(kv.key()).into_owned(), cached(kv.value(), kv.mod_revision())))
        .collect();
    cache.load(entries);
    debug!(url = %store.url, revision, "addressable watch started");
    let mut progress = tokio::time::interval(WATCH_PROGRESS_EVERY);
    progress.tick().await;
    let mut unanswered = false;
    loop {
        let response = tokio::select! {
            response = responses.message() => response.map_err(|source| store.failed(source))?,
            _ = progress.tick() => {
                if unanswered {
                    return Err(DirectoryError::Timeout { url: store.url.clone(), after: WATCH_PROGRESS_EVERY });
                }
                requests.request_progress().await.map_err(|source| store.failed(source))?;
                unanswered = true;
                continue;
            }
        };
        let Some(response) = response else { return Ok(()) };
        unanswered = false;
        if response.canceled() {
            warn!(url = %store.url, reason = response.cancel_reason(), "addressable watch cancelled by etcd");
            return Ok(());
        }
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            let key = String::from_utf8_lossy(kv.key());
            let entry = match event.event_type() {
                EventType::Put => cached(kv.value(), kv.mod_revision()),
                EventType::Delete => Cached::Deleted { revision: kv.mod_revision(), at: tokio::time::Instant::now() },
            };
            cache.observe(&key, entry);
        }
    }
}

impl AddressableDirectory for EtcdAddressableDirectory {
    fn get<'a>(
        &'a self,
        key: &'a NamespacedAddressableReference,
    ) -> BoxFuture<'a, Result<Option<AddressableLease>, DirectoryError>> {
        Box::pin(async move {
            let key = lease_key(key);
            match self.cache.lookup(&key) {
                Lookup::Found(lease) => Ok(lease),
                Lookup::AskEtcd => self.store.read(&key).await,
            }
        })
    }

    fn get_latest<'a>(
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
            let exchange = self.store.compare_and_set_seen(&key, expected, new.clone()).await?;
            let written = match exchange {
                Exchange::Written(revision) => {
                    let entry = match new {
                        Some(lease) => Cached::Lease { revision, lease },
                        None => Cached::Deleted { revision, at: tokio::time::Instant::now() },
                    };
                    self.cache.observe(&key, entry);
                    true
                }
                Exchange::Refused(found) => {
                    // What etcd holds now is newer than what the caller expected: remember it,
                    // so the caller's next lookup does not repeat the same mistake.
                    match found {
                        Found::Record(record) => self.cache.observe(&key, cached(&record.bytes, record.mod_revision)),
                        Found::Absent(revision) => {
                            self.cache.observe(&key, Cached::Deleted { revision, at: tokio::time::Instant::now() })
                        }
                        Found::Unknown => {}
                    }
                    false
                }
            };
            debug!(key = %key, written, "addressable lease compare-and-set");
            Ok(written)
        })
    }

    fn count(&self) -> BoxFuture<'_, Result<u64, DirectoryError>> {
        Box::pin(self.store.count())
    }

    fn tick(&self, _now: Timestamp) -> BoxFuture<'_, Result<(), DirectoryError>> {
        self.cache.prune();
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
