//! Node lifecycle and the cluster view (mirrors `mesh/ClusterManager.kt`).
//!
//! Every server keeps a view of the node directory: an immutable [`ClusterView`] snapshot,
//! shared by `Arc` and replaced whole, never edited in place. The tick reloads it from the
//! directory, as Kotlin's `ClusterManager.tick` does. A write this server makes (join, renew,
//! leave, update, delete) replaces only the record it wrote, so routing sees it at once
//! without reading the whole directory again: Kotlin reloads after every write, which with
//! etcd costs a range read of every record per client lease renewal. A node the view does not
//! know (another server's write since the last reload) is looked up in the directory.
//!
//! Routing runs over a snapshot: an edge `X -> Y` exists for every `Y` in `X.visibleNodes`
//! that is itself in the view, and a route is a minimum-hop path.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockWriteGuard};

use compat_proto::{NodeCapabilities, NodeId, NodeInfo, NodeLease, NodeStatus, Timestamp};
use rand::Rng;
use rand::distr::Alphanumeric;
use rpds::HashTrieMapSync;
use thiserror::Error;

use crate::clock::{Clock, LeaseDuration};
use crate::mesh::directory::{DirectoryError, ManipulateError, NodeDirectory, manipulate_node};

/// How many locks the writes to node records are spread over (see `ClusterManager::record_locks`).
const RECORD_LOCK_STRIPES: usize = 64;

/// Why a node-lifecycle operation failed; displays as the Kotlin exception text.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// The node is unknown or its lease expired (`orbit.shared.exception.InvalidNodeId`).
    #[error("node {0} is not in the node directory, or its lease expired")]
    InvalidNodeId(NodeId),
    /// A renewal carried the wrong challenge token.
    #[error("node {0} renewed with a challenge token that is not its own")]
    InvalidChallenge(NodeId),
    /// The node directory failed.
    #[error("the node directory failed")]
    Directory(#[from] DirectoryError),
}

impl From<ManipulateError<ClusterError>> for ClusterError {
    fn from(e: ManipulateError<ClusterError>) -> Self {
        match e {
            ManipulateError::Rejected(e) => e,
            ManipulateError::Directory(e) => e.into(),
        }
    }
}

/// Returns `length` random characters from `[A-Za-z0-9]`, like Kotlin's `RNGUtils`.
pub fn random_alphanumeric(length: usize) -> String {
    rand::rng().sample_iter(&Alphanumeric).take(length).map(char::from).collect()
}

/// Returns whether the lease of `info` has not expired at `now`.
fn is_unexpired(info: &NodeInfo, now: Timestamp) -> bool {
    !info.lease.expires_at.is_before(now)
}

/// An immutable snapshot of the node directory as this server sees it.
///
/// The records sit in a persistent hash map: a snapshot with one record changed shares all
/// the others with its predecessor, so a write costs O(log n) whatever the cluster's size.
pub struct ClusterView {
    nodes: HashTrieMapSync<NodeId, NodeInfo>,
    /// Built by the first route lookup. It depends only on the ids and their `visibleNodes`,
    /// so a write that changes neither (a lease renewal) hands it on to the next snapshot.
    graph: Arc<OnceLock<RouteGraph>>,
}

impl Default for ClusterView {
    fn default() -> Self {
        Self::from_records(Vec::new())
    }
}

impl ClusterView {
    /// Returns a view holding `records` (a full reload).
    pub fn from_records(records: impl IntoIterator<Item = NodeInfo>) -> Self {
        let nodes = records.into_iter().map(|info| (info.id.clone(), info)).collect();
        Self { nodes, graph: Arc::default() }
    }

    /// Returns a copy of this view in which `id` has the record `record`, or none.
    #[must_use]
    pub fn with_record(&self, id: &NodeId, record: Option<NodeInfo>) -> Self {
        let same_edges = match (self.nodes.get(id), &record) {
            (Some(old), Some(new)) => old.visible_nodes == new.visible_nodes,
            (None, None) => true,
            _ => false,
        };
        let nodes = match record {
            Some(info) => self.nodes.insert(id.clone(), info),
            None => self.nodes.remove(id),
        };
        let graph = if same_edges { self.graph.clone() } else { Arc::default() };
        Self { nodes, graph }
    }

    /// Returns the record of `id`, expired or not.
    pub fn get(&self, id: &NodeId) -> Option<&NodeInfo> {
        self.nodes.get(id)
    }

    /// Returns whether the view has a record of `id`, expired or not.
    pub fn contains(&self, id: &NodeId) -> bool {
        self.nodes.contains_key(id)
    }

    /// Returns whether the view has a record of `id` whose lease has not expired at `now`.
    pub fn is_valid(&self, id: &NodeId, now: Timestamp) -> bool {
        self.nodes.get(id).is_some_and(|info| is_unexpired(info, now))
    }

    /// Returns the records whose lease has not expired at `now`.
    pub fn valid_nodes(&self, now: Timestamp) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values().filter(move |info| is_unexpired(info, now))
    }

    /// Returns the number of records, expired ones included.
    pub fn len(&self) -> usize {
        self.nodes.size()
    }

    /// Returns whether the view has no record.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Returns a minimum-hop path from `from` to `to`, excluding `from`; empty when either
    /// end is unknown, they are equal, or no path exists. Expired records that are still in
    /// the view are part of the graph, as in Kotlin's.
    pub fn find_route(&self, from: &NodeId, to: &NodeId) -> Vec<NodeId> {
        if from == to {
            return Vec::new();
        }
        self.graph.get_or_init(|| RouteGraph::new(&self.nodes)).find_route(from, to)
    }
}

/// The routing graph of a snapshot, with numbered vertices so that searches do no hashing.
struct RouteGraph {
    index: HashMap<NodeId, usize>,
    ids: Vec<NodeId>,
    /// The out-edges of each vertex, in `visibleNodes` order: searches visit neighbours in
    /// that order, so equal-length routes are chosen as before.
    edges: Vec<Vec<usize>>,
    /// Per source vertex, the predecessor of every vertex on a shortest path from it
    /// (`UNREACHED` if none), searched once on the first lookup from that source. Only this
    /// server's own id is ever a source in practice.
    paths: Box<[OnceLock<Box<[usize]>>]>,
}

/// A vertex that no path from the source reaches.
const UNREACHED: usize = usize::MAX;

impl RouteGraph {
    fn new(nodes: &HashTrieMapSync<NodeId, NodeInfo>) -> Self {
        let records: Vec<&NodeInfo> = nodes.values().collect();
        let ids: Vec<NodeId> = records.iter().map(|info| info.id.clone()).collect();
        let index: HashMap<NodeId, usize> = ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
        let edges = records
            .iter()
            .map(|info| info.visible_nodes.iter().filter_map(|n| index.get(n).copied()).collect())
            .collect();
        let paths = (0..ids.len()).map(|_| OnceLock::new()).collect();
        Self { index, ids, edges, paths }
    }

    fn find_route(&self, from: &NodeId, to: &NodeId) -> Vec<NodeId> {
        let (Some(&source), Some(&target)) = (self.index.get(from), self.index.get(to)) else {
            return Vec::new();
        };
        let previous = self.paths[source].get_or_init(|| self.search_from(source));
        if source == target || previous[target] == UNREACHED {
            return Vec::new();
        }
        let mut path = vec![self.ids[target].clone()];
        let mut cursor = target;
        while previous[cursor] != source {
            cursor = previous[cursor];
            path.push(self.ids[cursor].clone());
        }
        path.reverse();
        path
    }

    /// Breadth-first search from `source`: the first vertex to reach another becomes its
    /// predecessor, which with unit weights yields minimum-hop paths.
    fn search_from(&self, source: usize) -> Box<[usize]> {
        let mut previous = vec![UNREACHED; self.ids.len()];
        previous[source] = source;
        let mut queue = VecDeque::from([source]);
        while let Some(node) = queue.pop_front() {
            for &next in &self.edges[node] {
                if previous[next] == UNREACHED {
                    previous[next] = node;
                    queue.push_back(next);
                }
            }
        }
        previous.into_boxed_slice()
    }
}

/// The current snapshot, and what a reload in flight must not undo.
#[derive(Default)]
struct ViewState {
    current: Arc<ClusterView>,
    /// Reloads that have started reading the directory and not finished.
    reloads_in_flight: usize,
    /// The number of the latest reload to start, and of the one whose view is installed:
    /// a reload that finishes after a later one has installed its view is dropped.
    reloads_started: u64,
    installed_reload: u64,
    /// The writes applied while a reload was in flight, in order: a reload may have read the
    /// directory before they happened, so it applies them again over what it read. Emptied
    /// when no reload is in flight.
    writes_during_reloads: Vec<(NodeId, Option<NodeInfo>)>,
}

/// Node lifecycle operations over a shared node directory, plus this server's cluster view.
pub struct ClusterManager {
    directory: Arc<dyn NodeDirectory>,
    clock: Arc<Clock>,
    lease: LeaseDuration,
    /// A std RwLock, held only to clone or replace the snapshot, never across an .await or
    /// for a search.
    view: RwLock<ViewState>,
    /// Serialize this server's writes to one record, from the directory write to the view
    /// update, so the view ends with the value that was written last. Striped by node id:
    /// writes to different records rarely wait for each other.
    record_locks: Box<[tokio::sync::Mutex<()>]>,
    stripe_hasher: RandomState,
}

impl ClusterManager {
    /// Returns a manager over `directory` issuing leases of `lease`.
    pub fn new(directory: Arc<dyn NodeDirectory>, clock: Arc<Clock>, lease: LeaseDuration) -> Self {
        Self {
            directory,
            clock,
            lease,
            view: RwLock::default(),
            record_locks: (0..RECORD_LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            stripe_hasher: RandomState::new(),
        }
    }

    /// Returns the node directory.
    pub fn directory(&self) -> &Arc<dyn NodeDirectory> {
        &self.directory
    }

    /// Returns the current snapshot of the cluster view.
    pub fn view(&self) -> Arc<ClusterView> {
        self.view.read().unwrap_or_else(PoisonError::into_inner).current.clone()
    }

    /// Registers a new node under a fresh random key (or `fixed_key`) and returns its record.
    pub async fn join_cluster(
        &self,
        namespace: &str,
        capabilities: NodeCapabilities,
        url: Option<String>,
        status: NodeStatus,
        fixed_key: Option<&str>,
    ) -> Result<NodeInfo, ClusterError> {
        loop {
            let id = NodeId::new(fixed_key.map_or_else(|| random_alphanumeric(16), str::to_owned), namespace);
            let (expires_at, renew_at) = self.lease.timestamps_from(self.clock.now());
            let info = NodeInfo {
                id: id.clone(),
                capabilities: capabilities.clone(),
                url: url.clone(),
                lease: NodeLease { challenge_token: random_alphanumeric(64), expires_at, renew_at },
                visible_nodes: Vec::new(),
                status,
            };
            let _record = self.lock_record(&id).await;
            if self.directory.compare_and_set(&id, None, Some(info.clone())).await? {
                self.apply(&id, Some(info.clone()));
                return Ok(info);
            }
            if fixed_key.is_some() {
                // Kotlin's rejoin spins until the old record is gone; we let the next tick retry.
                return Err(ClusterError::InvalidNodeId(id));
            }
        }
    }

    /// Renews a node lease: the record must exist, be unexpired and carry `challenge_token`.
    /// Capabilities are replaced, `visibleNodes` is kept but limited to known nodes, and
    /// token and status are unchanged (matches `ClusterManager.renewLease`).
    pub async fn renew_lease(
        &self,
        id: &NodeId,
        challenge_token: &str,
        capabilities: NodeCapabilities,
    ) -> Result<NodeInfo, ClusterError> {
        let now = self.clock.now();
        let known = self.view();
        let (expires_at, renew_at) = self.lease.timestamps_from(now);
        let _record = self.lock_record(id).await;
        let updated = manipulate_node(self.directory.as_ref(), id, |current| {
            let Some(current) = current.filter(|c| is_unexpired(c, now)) else {
                return Err(ClusterError::InvalidNodeId(id.clone()));
            };
            if current.lease.challenge_token != challenge_token {
                return Err(ClusterError::InvalidChallenge(id.clone()));
            }
            let mut next = current.clone();
            next.capabilities = capabilities.clone();
            next.lease.expires_at = expires_at;
            next.lease.renew_at = renew_at;
            next.visible_nodes.retain(|n| known.contains(n));
            Ok(Some(next))
        })
        .await?;
        self.apply(id, updated.clone());
        updated.ok_or_else(|| ClusterError::InvalidNodeId(id.clone()))
    }

    /// Marks a node DRAINING and returns its record, or `None` if it has none.
    pub async fn leave_cluster(&self, id: &NodeId) -> Result<Option<NodeInfo>, ClusterError> {
        let updated = self.update_node(id, |info| info.status = NodeStatus::Draining).await?;
        Ok(updated)
    }

    /// Applies `edit` to the record of `id` if it exists, retrying on concurrent writes.
    pub async fn update_node(
        &self,
        id: &NodeId,
        edit: impl Fn(&mut NodeInfo),
    ) -> Result<Option<NodeInfo>, ClusterError> {
        let _record = self.lock_record(id).await;
        let updated = manipulate_node::<ClusterError>(self.directory.as_ref(), id, |current| {
            Ok(current.map(|c| {
                let mut next = c.clone();
                edit(&mut next);
                next
            }))
        })
        .await?;
        // An absent record is news too: the view forgets it.
        self.apply(id, updated.clone());
        Ok(updated)
    }

    /// Deletes the record of `id`, retrying on concurrent writes (Kotlin's
    /// `nodeDirectory.remove` when a server stops).
    pub async fn remove_node(&self, id: &NodeId) -> Result<(), ClusterError> {
        let _record = self.lock_record(id).await;
        manipulate_node::<ClusterError>(self.directory.as_ref(), id, |_| Ok(None)).await?;
        self.apply(id, None);
        Ok(())
    }

    /// Reloads the whole view from the directory (the tick's step, Kotlin's
    /// `ClusterManager.tick`). Writes this server makes meanwhile are kept.
    pub async fn refresh(&self) -> Result<(), ClusterError> {
        let reload = Reload::start(self);
        let records = self.directory.entries().await?;
        reload.install(ClusterView::from_records(records));
        Ok(())
    }

    /// Returns whether `id` has a record whose lease has not expired, looking in the
    /// directory when the view does not know the node.
    pub async fn is_valid_node(&self, id: &NodeId) -> Result<bool, ClusterError> {
        let now = self.clock.now();
        if let Some(valid) = self.view().get(id).map(|info| is_unexpired(info, now)) {
            return Ok(valid);
        }
        Ok(self.directory.get(id).await?.is_some_and(|info| is_unexpired(&info, now)))
    }

    /// Returns a minimum-hop path from `from` to `to` over the current snapshot, excluding
    /// `from`; empty when either end is unknown, they are equal, or no path exists.
    pub fn find_route(&self, from: &NodeId, to: &NodeId) -> Vec<NodeId> {
        self.view().find_route(from, to)
    }

    /// Returns the time on this manager's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Replaces the record of `id` in the view with the value this server just wrote (or
    /// found: `None` when the record is gone).
    fn apply(&self, id: &NodeId, record: Option<NodeInfo>) {
        let replaced = {
            let mut state = self.write_view();
            if state.reloads_in_flight > 0 {
                state.writes_during_reloads.push((id.clone(), record.clone()));
            }
            let next = Arc::new(state.current.with_record(id, record));
            std::mem::replace(&mut state.current, next)
        };
        // The last owner of a snapshot frees it (and maybe its graph) outside the lock.
        drop(replaced);
    }

    async fn lock_record(&self, id: &NodeId) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = (self.stripe_hasher.hash_one(id) % self.record_locks.len() as u64) as usize;
        self.record_locks[stripe].lock().await
    }

    fn write_view(&self) -> RwLockWriteGuard<'_, ViewState> {
        self.view.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A reload in flight. Dropping it, when the reload fails or its future is dropped, stops
/// the writes being recorded for it.
struct Reload<'a> {
    manager: &'a ClusterManager,
    number: u64,
    /// Where this reload's writes start in `ViewState::writes_during_reloads`.
    first_write: usize,
}

impl<'a> Reload<'a> {
    fn start(manager: &'a ClusterManager) -> Self {
        let mut state = manager.write_view();
        state.reloads_in_flight += 1;
        state.reloads_started += 1;
        let (number, first_write) = (state.reloads_started, state.writes_during_reloads.len());
        Self { manager, number, first_write }
    }

    /// Installs `reloaded`, with the writes made since this reload started applied again,
    /// unless a reload that started later has installed its view already.
    fn install(self, reloaded: ClusterView) {
        let replaced = {
            let mut state = self.manager.write_view();
            if self.number < state.installed_reload {
                return;
            }
            let view = state.writes_during_reloads[self.first_write..]
                .iter()
                .fold(reloaded, |view, (id, record)| view.with_record(id, record.clone()));
            state.installed_reload = self.number;
            std::mem::replace(&mut state.current, Arc::new(view))
        };
        drop(replaced);
    }
}

impl Drop for Reload<'_> {
    fn drop(&mut self) {
        let mut state = self.manager.write_view();
        state.reloads_in_flight -= 1;
        if state.reloads_in_flight == 0 {
            state.writes_during_reloads.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::PeerVisible;
    use crate::mesh::directory::InMemoryNodeDirectory;

    fn manager() -> (ClusterManager, Arc<Clock>) {
        let clock = Arc::new(Clock::default());
        let manager = ClusterManager::new(
            Arc::new(InMemoryNodeDirectory::default()),
            clock.clone(),
            LeaseDuration::from_secs(10),
        );
        (manager, clock)
    }

    #[tokio::test]
    async fn join_issues_kotlin_shaped_identities() {
        let (cluster, _) = manager();
        let info = cluster
            .join_cluster("app", NodeCapabilities::default(), None, NodeStatus::Active, None)
            .await
            .expect("joins");
        assert_eq!(info.id.key.len(), 16);
        assert!(info.id.key.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(info.lease.challenge_token.len(), 64);
        assert_eq!(info.lease.expires_at.as_millis() - info.lease.renew_at.as_millis(), 5_000);
        assert_eq!(info.status, NodeStatus::Active);
        assert!(cluster.is_valid_node(&info.id).await.expect("in memory"));
    }

    #[tokio::test]
    async fn renewal_checks_expiry_then_token() {
        let (cluster, clock) = manager();
        let caps = NodeCapabilities { addressable_types: vec!["a".into()] };
        let info = cluster.join_cluster("app", caps, None, NodeStatus::Active, None).await.expect("joins");
        let wrong = cluster.renew_lease(&info.id, "nope", NodeCapabilities::default()).await;
        assert_eq!(
            wrong.expect_err("wrong token").peer_text(),
            format!("orbit.shared.exception.InvalidChallengeException: Invalid challenge for {}", info.id)
        );
        let new_caps = NodeCapabilities { addressable_types: vec!["b".into()] };
        let renewed = cluster.renew_lease(&info.id, &info.lease.challenge_token, new_caps.clone()).await.expect("ok");
        assert_eq!(renewed.capabilities, new_caps);
        assert_eq!(renewed.lease.challenge_token, info.lease.challenge_token);

        clock.advance(Duration::from_secs(11));
        let expired = cluster.renew_lease(&info.id, &info.lease.challenge_token, NodeCapabilities::default()).await;
        assert_eq!(
            expired.expect_err("expired").peer_text(),
            format!("orbit.shared.exception.InvalidNodeId: {} is not valid. Did the lease expire?", info.id)
        );
    }

    #[tokio::test]
    async fn leave_marks_draining_and_keeps_the_record() {
        let (cluster, _) = manager();
        let info = cluster
            .join_cluster("app", NodeCapabilities::default(), None, NodeStatus::Active, None)
            .await
            .expect("joins");
        let left = cluster.leave_cluster(&info.id).await.expect("in memory").expect("exists");
        assert_eq!(left.status, NodeStatus::Draining);
        let renewed = cluster.renew_lease(&info.id, &info.lease.challenge_token, NodeCapabilities::default()).await;
        assert_eq!(renewed.expect("draining nodes renew").status, NodeStatus::Draining);
        assert!(cluster.leave_cluster(&NodeId::new("x", "y")).await.expect("in memory").is_none());
    }

    #[tokio::test]
    async fn routes_follow_visible_nodes_with_fewest_hops() {
        let (cluster, _) = manager();
        let mut ids = Vec::new();
        for _ in 0..4 {
            let info = cluster
                .join_cluster("management", NodeCapabilities::default(), None, NodeStatus::Active, None)
                .await
                .expect("joins");
            ids.push(info.id);
        }
        // 0 -> 1 -> 2 -> 3 and a shortcut 0 -> 2.
        for (from, to) in [(0, 1), (1, 2), (2, 3), (0, 2)] {
            let target = ids[to].clone();
            cluster.update_node(&ids[from], |info| info.visible_nodes.push(target.clone())).await.expect("exists");
        }
        assert_eq!(cluster.find_route(&ids[0], &ids[3]), vec![ids[2].clone(), ids[3].clone()]);
        assert_eq!(cluster.find_route(&ids[0], &ids[1]), vec![ids[1].clone()]);
        assert!(cluster.find_route(&ids[3], &ids[0]).is_empty());
        assert!(cluster.find_route(&ids[0], &ids[0]).is_empty());
    }

    /// A node directory that counts full reads and can hold one back until released.
    #[derive(Default)]
    struct WatchedDirectory {
        inner: InMemoryNodeDirectory,
        entries_calls: std::sync::atomic::AtomicUsize,
        /// When set, `entries` reads the records, signals `entries_read`, then waits for
        /// `release` before it answers.
        hold_entries: std::sync::atomic::AtomicBool,
        entries_read: tokio::sync::Notify,
        release: tokio::sync::Notify,
    }

    impl NodeDirectory for WatchedDirectory {
        fn get<'a>(
            &'a self,
            id: &'a NodeId,
        ) -> crate::mesh::directory::BoxFuture<'a, Result<Option<NodeInfo>, DirectoryError>> {
            self.inner.get(id)
        }

        fn compare_and_set<'a>(
            &'a self,
            id: &'a NodeId,
            expected: Option<&'a NodeInfo>,
            new: Option<NodeInfo>,
        ) -> crate::mesh::directory::BoxFuture<'a, Result<bool, DirectoryError>> {
            self.inner.compare_and_set(id, expected, new)
        }

        fn entries(&self) -> crate::mesh::directory::BoxFuture<'_, Result<Vec<NodeInfo>, DirectoryError>> {
            Box::pin(async move {
                self.entries_calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let records = self.inner.entries().await;
                if self.hold_entries.load(std::sync::atomic::Ordering::SeqCst) {
                    self.entries_read.notify_one();
                    self.release.notified().await;
                }
                records
            })
        }

        fn tick(&self, now: Timestamp) -> crate::mesh::directory::BoxFuture<'_, Result<(), DirectoryError>> {
            self.inner.tick(now)
        }

        fn is_healthy(&self) -> crate::mesh::directory::BoxFuture<'_, bool> {
            self.inner.is_healthy()
        }
    }

    fn watched_manager() -> (ClusterManager, Arc<WatchedDirectory>, Arc<Clock>) {
        let clock = Arc::new(Clock::default());
        let directory = Arc::new(WatchedDirectory::default());
        let manager = ClusterManager::new(directory.clone(), clock.clone(), LeaseDuration::from_secs(10));
        (manager, directory, clock)
    }

    async fn join(cluster: &ClusterManager, namespace: &str) -> NodeInfo {
        cluster
            .join_cluster(namespace, NodeCapabilities::default(), None, NodeStatus::Active, None)
            .await
            .expect("joins")
    }

    /// What accepting a stream does: each side lists the other.
    async fn connect(cluster: &ClusterManager, server: &NodeId, client: &NodeId) {
        let (s, c) = (server.clone(), client.clone());
        cluster.update_node(client, |info| info.visible_nodes.push(s.clone())).await.expect("client exists");
        cluster.update_node(server, |info| info.visible_nodes.push(c.clone())).await.expect("server exists");
    }

    fn record(key: &str, namespace: &str, expires_at: Timestamp, visible_nodes: Vec<NodeId>) -> NodeInfo {
        NodeInfo {
            id: NodeId::new(key, namespace),
            capabilities: NodeCapabilities::default(),
            url: None,
            lease: NodeLease { challenge_token: "t".into(), expires_at, renew_at: expires_at },
            visible_nodes,
            status: NodeStatus::Active,
        }
    }

    #[tokio::test]
    async fn own_writes_are_routed_at_once_without_reading_the_directory() {
        let (cluster, directory, clock) = watched_manager();
        let server = join(&cluster, "management").await;
        let client = join(&cluster, "app").await;
        connect(&cluster, &server.id, &client.id).await;
        assert!(cluster.is_valid_node(&client.id).await.expect("in memory"));
        assert_eq!(cluster.find_route(&server.id, &client.id), vec![client.id.clone()]);

        // A renewal is seen at once: 16 s after the join, 8 s after the renewal.
        clock.advance(Duration::from_secs(8));
        let token = &client.lease.challenge_token;
        cluster.renew_lease(&client.id, token, NodeCapabilities::default()).await.expect("renews");
        clock.advance(Duration::from_secs(8));
        assert!(cluster.view().is_valid(&client.id, cluster.now()));
        assert!(!cluster.view().is_valid(&server.id, cluster.now()), "the server did not renew");
        assert_eq!(cluster.find_route(&server.id, &client.id), vec![client.id.clone()]);

        cluster.leave_cluster(&client.id).await.expect("in memory");
        assert_eq!(cluster.view().get(&client.id).map(|info| info.status), Some(NodeStatus::Draining));
        assert_eq!(directory.entries_calls.load(std::sync::atomic::Ordering::SeqCst), 0, "no full read");
    }

    #[tokio::test]
    async fn other_servers_records_are_read_through_until_the_next_reload() {
        let (cluster, directory, clock) = watched_manager();
        let server = join(&cluster, "management").await;
        // Another server writes a client of its own, connected to this server, and one that expired.
        let expires_at = clock.now().plus(Duration::from_secs(10));
        let theirs = record("theirs", "app", expires_at, vec![server.id.clone()]);
        let stale = record("stale", "app", Timestamp::from_millis(clock.now().as_millis() - 1_000), vec![]);
        for written in [&theirs, &stale] {
            assert!(directory.compare_and_set(&written.id, None, Some(written.clone())).await.expect("in memory"));
        }
        let edge = theirs.id.clone();
        cluster.update_node(&server.id, |info| info.visible_nodes.push(edge.clone())).await.expect("exists");

        assert!(!cluster.view().contains(&theirs.id));
        assert!(cluster.is_valid_node(&theirs.id).await.expect("in memory"), "found in the directory");
        assert!(!cluster.is_valid_node(&stale.id).await.expect("in memory"), "expired");
        assert!(!cluster.is_valid_node(&NodeId::new("nobody", "app")).await.expect("in memory"));
        assert!(cluster.find_route(&server.id, &theirs.id).is_empty(), "not in the view yet");

        cluster.refresh().await.expect("in memory");
        assert!(cluster.view().contains(&theirs.id));
        assert!(cluster.view().is_valid(&theirs.id, cluster.now()));
        assert_eq!(cluster.find_route(&server.id, &theirs.id), vec![theirs.id.clone()]);
        assert_eq!(cluster.find_route(&theirs.id, &server.id), vec![server.id.clone()]);
    }

    #[tokio::test]
    async fn expired_nodes_are_invalid_and_leave_the_view_once_culled() {
        let (cluster, clock) = manager();
        let server = join(&cluster, "management").await;
        let client = join(&cluster, "app").await;
        connect(&cluster, &server.id, &client.id).await;
        clock.advance(Duration::from_secs(11));
        assert!(!cluster.is_valid_node(&client.id).await.expect("in memory"));
        assert!(!cluster.view().is_valid(&client.id, cluster.now()));
        assert_eq!(cluster.view().valid_nodes(cluster.now()).count(), 0);
        // Until the directory culls it, an expired record still routes, as in Kotlin.
        assert_eq!(cluster.find_route(&server.id, &client.id), vec![client.id.clone()]);

        cluster.directory().tick(cluster.now()).await.expect("in memory");
        cluster.refresh().await.expect("in memory");
        assert!(cluster.view().is_empty());
        assert!(cluster.find_route(&server.id, &client.id).is_empty());
    }

    #[tokio::test]
    async fn deleted_nodes_leave_the_view() {
        let (cluster, _) = manager();
        let server = join(&cluster, "management").await;
        let client = join(&cluster, "app").await;
        connect(&cluster, &server.id, &client.id).await;
        cluster.remove_node(&client.id).await.expect("in memory");
        assert!(!cluster.view().contains(&client.id));
        assert!(!cluster.is_valid_node(&client.id).await.expect("in memory"));
        assert!(cluster.find_route(&server.id, &client.id).is_empty());
        assert_eq!(cluster.directory().get(&client.id).await.expect("in memory"), None);

        // A record deleted behind this server's back leaves the view when this server next writes it.
        let other = join(&cluster, "app").await;
        assert!(cluster.directory().compare_and_set(&other.id, Some(&other), None).await.expect("in memory"));
        assert!(cluster.view().contains(&other.id));
        assert_eq!(cluster.update_node(&other.id, |info| info.status = NodeStatus::Draining).await.expect("ok"), None);
        assert!(!cluster.view().contains(&other.id));
    }

    #[tokio::test]
    async fn a_reload_keeps_the_writes_made_while_it_read() {
        let (cluster, directory, _) = watched_manager();
        let server = join(&cluster, "management").await;
        directory.hold_entries.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut joined = None;
        let (reloaded, ()) = tokio::join!(cluster.refresh(), async {
            // The reload has read the directory: this join is not in what it read.
            directory.entries_read.notified().await;
            let client = join(&cluster, "app").await;
            connect(&cluster, &server.id, &client.id).await;
            joined = Some(client.id);
            directory.release.notify_one();
        });
        reloaded.expect("in memory");
        let client = joined.expect("joined");
        assert!(cluster.view().contains(&client));
        assert_eq!(cluster.find_route(&server.id, &client), vec![client.clone()]);

        // With no reload in flight, nothing is kept for one.
        directory.hold_entries.store(false, std::sync::atomic::Ordering::SeqCst);
        cluster.refresh().await.expect("in memory");
        assert!(cluster.write_view().writes_during_reloads.is_empty());
        assert_eq!(cluster.find_route(&server.id, &client), vec![client.clone()]);
    }

    #[tokio::test]
    async fn routes_follow_edge_changes_but_not_renewals() {
        let (cluster, _) = manager();
        let mut nodes = Vec::new();
        for _ in 0..4 {
            nodes.push(join(&cluster, "management").await);
        }
        let ids: Vec<NodeId> = nodes.iter().map(|n| n.id.clone()).collect();
        for (from, to) in [(0, 1), (1, 2), (2, 3)] {
            let target = ids[to].clone();
            cluster.update_node(&ids[from], |info| info.visible_nodes.push(target.clone())).await.expect("exists");
        }
        assert_eq!(cluster.find_route(&ids[0], &ids[3]), ids[1..].to_vec());

        // A renewal keeps the edges, and the graph with them.
        let before = cluster.view();
        cluster.renew_lease(&ids[1], &nodes[1].lease.challenge_token, NodeCapabilities::default()).await.expect("ok");
        assert!(Arc::ptr_eq(&before.graph, &cluster.view().graph));
        assert_eq!(cluster.find_route(&ids[0], &ids[3]), ids[1..].to_vec());

        // A new edge gives a shorter route; a removed node takes its edges with it.
        let shortcut = ids[2].clone();
        cluster.update_node(&ids[0], |info| info.visible_nodes.push(shortcut.clone())).await.expect("exists");
        assert!(!Arc::ptr_eq(&before.graph, &cluster.view().graph));
        assert_eq!(cluster.find_route(&ids[0], &ids[3]), vec![ids[2].clone(), ids[3].clone()]);
        cluster.remove_node(&ids[2]).await.expect("in memory");
        assert!(cluster.find_route(&ids[0], &ids[3]).is_empty());
        assert_eq!(cluster.find_route(&ids[0], &ids[1]), vec![ids[1].clone()]);
        // The snapshot taken earlier still answers as it did.
        assert_eq!(before.find_route(&ids[0], &ids[3]), ids[1..].to_vec());
    }
}
