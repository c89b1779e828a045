//! Node lifecycle and the cluster view (mirrors `mesh/ClusterManager.kt`).
//!
//! Every server keeps a cached copy of the node directory, refreshed on each tick and after
//! each update it makes. Routing runs over that copy: an edge `X -> Y` exists for every `Y`
//! in `X.visibleNodes`, and a route is a minimum-hop path.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, RwLock};

use compat_proto::render::KotlinException;
use compat_proto::{NodeCapabilities, NodeId, NodeInfo, NodeLease, NodeStatus, Timestamp};
use rand::Rng;
use rand::distr::Alphanumeric;
use thiserror::Error;

use crate::clock::{Clock, LeaseDuration};
use crate::mesh::directory::{DirectoryError, ManipulateError, NodeDirectory, manipulate_node};

/// Why a node-lifecycle operation failed; displays as the Kotlin exception text.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// The node is unknown or its lease expired (`orbit.shared.exception.InvalidNodeId`).
    #[error("{}", KotlinException::InvalidNodeId(.0.clone()))]
    InvalidNodeId(NodeId),
    /// A renewal carried the wrong challenge token.
    #[error("{}", KotlinException::InvalidChallenge(.0.clone()))]
    InvalidChallenge(NodeId),
    /// The node directory failed.
    #[error(transparent)]
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

/// Node lifecycle operations over a shared node directory, plus this server's cached view.
pub struct ClusterManager {
    directory: Arc<dyn NodeDirectory>,
    clock: Arc<Clock>,
    lease: LeaseDuration,
    /// A std RwLock: never held across an .await.
    view: RwLock<HashMap<NodeId, NodeInfo>>,
}

impl ClusterManager {
    /// Returns a manager over `directory` issuing leases of `lease`.
    pub fn new(directory: Arc<dyn NodeDirectory>, clock: Arc<Clock>, lease: LeaseDuration) -> Self {
        Self { directory, clock, lease, view: RwLock::new(HashMap::new()) }
    }

    /// Returns the node directory.
    pub fn directory(&self) -> &Arc<dyn NodeDirectory> {
        &self.directory
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
            if self.directory.compare_and_set(&id, None, Some(info.clone())).await? {
                self.refresh().await?;
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
        let known: HashSet<NodeId> = self.read_view().keys().cloned().collect();
        let (expires_at, renew_at) = self.lease.timestamps_from(now);
        let updated = manipulate_node(self.directory.as_ref(), id, |current| {
            let Some(current) = current.filter(|c| !c.lease.expires_at.is_before(now)) else {
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
        self.refresh().await?;
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
        let updated = manipulate_node::<ClusterError>(self.directory.as_ref(), id, |current| {
            Ok(current.map(|c| {
                let mut next = c.clone();
                edit(&mut next);
                next
            }))
        })
        .await?;
        self.refresh().await?;
        Ok(updated)
    }

    /// Reloads the cached view from the directory.
    pub async fn refresh(&self) -> Result<(), ClusterError> {
        let entries = self.directory.entries().await?;
        let view: HashMap<NodeId, NodeInfo> = entries.into_iter().map(|info| (info.id.clone(), info)).collect();
        *self.view.write().unwrap_or_else(std::sync::PoisonError::into_inner) = view;
        Ok(())
    }

    /// Returns the record of `id` if it is known and its lease has not expired, looking in
    /// the directory when the cached view does not have it.
    pub async fn valid_node(&self, id: &NodeId) -> Result<Option<NodeInfo>, ClusterError> {
        let now = self.clock.now();
        let cached = self.read_view().get(id).cloned();
        let info = match cached {
            Some(info) => Some(info),
            None => self.directory.get(id).await?,
        };
        Ok(info.filter(|info| !info.lease.expires_at.is_before(now)))
    }

    /// Returns the unexpired records of the cached view.
    pub fn valid_nodes(&self) -> Vec<NodeInfo> {
        let now = self.clock.now();
        self.read_view().values().filter(|info| !info.lease.expires_at.is_before(now)).cloned().collect()
    }

    /// Returns a minimum-hop path from `from` to `to` over the cached view, excluding
    /// `from`; empty when either end is unknown, they are equal, or no path exists.
    pub fn find_route(&self, from: &NodeId, to: &NodeId) -> Vec<NodeId> {
        let view = self.read_view();
        if from == to || !view.contains_key(from) || !view.contains_key(to) {
            return Vec::new();
        }
        let mut previous: HashMap<&NodeId, &NodeId> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            let Some(info) = view.get(node) else { continue };
            for next in info.visible_nodes.iter().filter(|n| view.contains_key(*n)) {
                if next == from || previous.contains_key(next) {
                    continue;
                }
                previous.insert(next, node);
                if next == to {
                    let mut path = vec![to.clone()];
                    let mut cursor = to;
                    while let Some(&prior) = previous.get(cursor) {
                        if prior == from {
                            break;
                        }
                        path.push(prior.clone());
                        cursor = prior;
                    }
                    path.reverse();
                    return path;
                }
                queue.push_back(next);
            }
        }
        Vec::new()
    }

    /// Returns the time on this manager's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn read_view(&self) -> std::sync::RwLockReadGuard<'_, HashMap<NodeId, NodeInfo>> {
        self.view.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
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
        assert!(cluster.valid_node(&info.id).await.expect("in memory").is_some());
    }

    #[tokio::test]
    async fn renewal_checks_expiry_then_token() {
        let (cluster, clock) = manager();
        let caps = NodeCapabilities { addressable_types: vec!["a".into()] };
        let info = cluster.join_cluster("app", caps, None, NodeStatus::Active, None).await.expect("joins");
        let wrong = cluster.renew_lease(&info.id, "nope", NodeCapabilities::default()).await;
        assert_eq!(
            wrong.expect_err("wrong token").to_string(),
            format!("orbit.shared.exception.InvalidChallengeException: Invalid challenge for {}", info.id)
        );
        let new_caps = NodeCapabilities { addressable_types: vec!["b".into()] };
        let renewed = cluster.renew_lease(&info.id, &info.lease.challenge_token, new_caps.clone()).await.expect("ok");
        assert_eq!(renewed.capabilities, new_caps);
        assert_eq!(renewed.lease.challenge_token, info.lease.challenge_token);

        clock.advance(Duration::from_secs(11));
        let expired = cluster.renew_lease(&info.id, &info.lease.challenge_token, NodeCapabilities::default()).await;
        assert_eq!(
            expired.expect_err("expired").to_string(),
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
}
