//! Placement and addressable leases (mirrors `mesh/AddressableManager.kt`).

use std::sync::Arc;
use std::time::Duration;

use compat_proto::{AddressableLease, AddressableReference, NamespacedAddressableReference, NodeId, NodeStatus};
use rand::seq::IndexedRandom;
use thiserror::Error;

use crate::clock::LeaseDuration;
use crate::mesh::cluster::{ClusterError, ClusterManager};
use crate::mesh::directory::{AddressableDirectory, DirectoryError};
use crate::metrics::{SharedMetrics, Timer};

/// How many times placement looks for a capable node, and how long it waits in between
/// (Kotlin: 5 attempts, 1 s apart).
const PLACEMENT_ATTEMPTS: u32 = 5;
const PLACEMENT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Why placement or a lease operation failed; displays as the Kotlin exception text.
#[derive(Debug, Error)]
pub enum PlacementError {
    /// No ACTIVE node of the namespace advertises the type.
    #[error("no ACTIVE node of namespace {} can host {}", .0.namespace, .0.addressable_reference)]
    NoNodeCapable(NamespacedAddressableReference),
    /// The lease is absent, owned by another node, or expired.
    #[error("the lease of {0} is absent, expired or held by another node")]
    CouldNotRenewLease(AddressableReference),
    /// The addressable directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The node directory failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Places addressables on client nodes and keeps their leases.
pub struct AddressableManager {
    directory: Arc<dyn AddressableDirectory>,
    cluster: Arc<ClusterManager>,
    lease: LeaseDuration,
    metrics: SharedMetrics,
}

impl AddressableManager {
    /// Returns a manager over `directory` issuing leases of `lease`; placements are timed into
    /// `metrics.placement_timer`.
    pub fn new(
        directory: Arc<dyn AddressableDirectory>,
        cluster: Arc<ClusterManager>,
        lease: LeaseDuration,
        metrics: SharedMetrics,
    ) -> Self {
        Self { directory, cluster, lease, metrics }
    }

    /// Returns the addressable directory.
    pub fn directory(&self) -> &Arc<dyn AddressableDirectory> {
        &self.directory
    }

    /// Returns the node hosting `reference` for callers of `namespace`, placing it first when
    /// it has no valid lease or its owner is gone or ineligible. The lease is written before
    /// this returns, so the host finds it when it validates ownership.
    pub async fn locate_or_place(
        &self,
        namespace: &str,
        reference: &AddressableReference,
        ineligible: Vec<NodeId>,
    ) -> Result<NodeId, PlacementError> {
        let key = NamespacedAddressableReference {
            namespace: namespace.to_owned(),
            addressable_reference: reference.clone(),
        };
        loop {
            let current = self.directory.get(&key).await?;
            let Some(current) = current else {
                let lease = self.place(&key, &ineligible).await?;
                if self.directory.compare_and_set(&key, None, Some(lease.clone())).await? {
                    return Ok(lease.node_id);
                }
                continue; // Someone else placed it meanwhile; use theirs.
            };
            let owner_valid = self.cluster.is_valid_node(&current.node_id).await?;
            let expired = current.expires_at.is_before(self.cluster.now());
            if owner_valid && !expired && !ineligible.contains(&current.node_id) {
                return Ok(current.node_id);
            }
            // The owner is left out of this placement only: if the write is refused because the
            // record changed (renewed by a live owner, say), the next round judges it afresh.
            let mut excluded = ineligible.clone();
            excluded.push(current.node_id.clone());
            let lease = self.place(&key, &excluded).await?;
            if self.directory.compare_and_set(&key, Some(&current), Some(lease.clone())).await? {
                return Ok(lease.node_id);
            }
        }
    }

    /// Picks a capable node uniformly at random, retrying while none qualifies. Each
    /// placement (not each lookup) is timed, as Kotlin's placement timer is.
    async fn place(
        &self,
        key: &NamespacedAddressableReference,
        ineligible: &[NodeId],
    ) -> Result<AddressableLease, PlacementError> {
        let _timer = Timer::start(&self.metrics.placement_timer);
        for attempt in 1..=PLACEMENT_ATTEMPTS {
            let chosen = {
                let view = self.cluster.view();
                let candidates: Vec<&NodeId> = view
                    .valid_nodes(self.cluster.now())
                    .filter(|n| {
                        n.id.namespace == key.namespace
                            && n.status == NodeStatus::Active
                            && n.capabilities.can_host(&key.addressable_reference.addressable_type)
                            && !ineligible.contains(&n.id)
                    })
                    .map(|n| &n.id)
                    .collect();
                candidates.choose(&mut rand::rng()).map(|&id| id.clone())
            };
            if let Some(chosen) = chosen {
                let (expires_at, renew_at) = self.lease.timestamps_from(self.cluster.now());
                return Ok(AddressableLease {
                    node_id: chosen,
                    reference: key.addressable_reference.clone(),
                    expires_at,
                    renew_at,
                });
            }
            if attempt < PLACEMENT_ATTEMPTS {
                tokio::time::sleep(PLACEMENT_RETRY_DELAY).await;
                self.cluster.refresh().await?;
            }
        }
        Err(PlacementError::NoNodeCapable(key.clone()))
    }

    /// Extends the lease of `reference` held by `owner` (matches `AddressableManager.renewLease`:
    /// no lease is ever created here).
    pub async fn renew_lease(
        &self,
        reference: &AddressableReference,
        owner: &NodeId,
    ) -> Result<AddressableLease, PlacementError> {
        let key = NamespacedAddressableReference {
            namespace: owner.namespace.clone(),
            addressable_reference: reference.clone(),
        };
        loop {
            let now = self.cluster.now();
            let current = self.directory.get_latest(&key).await?;
            let Some(current) = current.filter(|l| &l.node_id == owner && !l.expires_at.is_before(now)) else {
                return Err(PlacementError::CouldNotRenewLease(reference.clone()));
            };
            let (expires_at, renew_at) = self.lease.timestamps_from(now);
            let renewed = AddressableLease { expires_at, renew_at, ..current.clone() };
            if self.directory.compare_and_set(&key, Some(&current), Some(renewed.clone())).await? {
                return Ok(renewed);
            }
        }
    }

    /// Deletes the lease of `reference` if `owner` holds it and it has not expired.
    pub async fn abandon_lease(&self, reference: &AddressableReference, owner: &NodeId) -> bool {
        let key = NamespacedAddressableReference {
            namespace: owner.namespace.clone(),
            addressable_reference: reference.clone(),
        };
        let Ok(Some(current)) = self.directory.get_latest(&key).await else { return false };
        if &current.node_id != owner || current.expires_at.is_before(self.cluster.now()) {
            return false;
        }
        self.directory.compare_and_set(&key, Some(&current), None).await.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use compat_proto::{Key, NodeCapabilities};

    use super::*;
    use crate::clock::Clock;
    use crate::error::PeerVisible;
    use crate::mesh::directory::{InMemoryAddressableDirectory, InMemoryNodeDirectory};

    struct Fixture {
        clock: Arc<Clock>,
        cluster: Arc<ClusterManager>,
        addressables: AddressableManager,
    }

    fn fixture() -> Fixture {
        let clock = Arc::new(Clock::default());
        let cluster = Arc::new(ClusterManager::new(
            Arc::new(InMemoryNodeDirectory::default()),
            clock.clone(),
            LeaseDuration::from_secs(10),
        ));
        let addressables = AddressableManager::new(
            Arc::new(InMemoryAddressableDirectory::default()),
            cluster.clone(),
            LeaseDuration::from_secs(600),
            Arc::new(crate::metrics::Metrics::new()),
        );
        Fixture { clock, cluster, addressables }
    }

    async fn join(f: &Fixture, namespace: &str, types: &[&str]) -> NodeId {
        let caps = NodeCapabilities { addressable_types: types.iter().map(|t| (*t).to_owned()).collect() };
        f.cluster.join_cluster(namespace, caps, None, NodeStatus::Active, None).await.expect("joins").id
    }

    fn greeter() -> AddressableReference {
        AddressableReference::new("com.example.Greeter", Key::String("joe".into()))
    }

    #[tokio::test]
    async fn places_only_on_capable_active_nodes_of_the_namespace() {
        let f = fixture();
        let _other_namespace = join(&f, "other", &["com.example.Greeter"]).await;
        let _incapable = join(&f, "app", &["com.example.Else"]).await;
        let capable = join(&f, "app", &["com.example.Greeter"]).await;
        let placed = f.addressables.locate_or_place("app", &greeter(), vec![]).await.expect("placed");
        assert_eq!(placed, capable);
        // The second call finds the lease rather than placing again, and only the placement is timed.
        assert_eq!(f.addressables.locate_or_place("app", &greeter(), vec![]).await.expect("found"), capable);
        let scrape = f.addressables.metrics.render(crate::metrics::Gauges::default());
        assert!(scrape.contains("orbit_placement_timer_seconds_count 1\n"), "{scrape}");
    }

    #[tokio::test(start_paused = true)]
    async fn placement_fails_after_retries_with_kotlin_text() {
        let f = fixture();
        let error = f.addressables.locate_or_place("app", &greeter(), vec![]).await.expect_err("nobody can host");
        assert_eq!(
            error.peer_text(),
            "orbit.shared.exception.PlacementFailedException: Could not find node capable of hosting \
             NamespacedAddressableReference(namespace=app, addressableReference=AddressableReference(\
             type=com.example.Greeter, key=StringKey(key=joe)))"
        );
    }

    #[tokio::test]
    async fn draining_owner_keeps_its_placements_and_gets_no_new_ones() {
        let f = fixture();
        let first = join(&f, "app", &["com.example.Greeter"]).await;
        assert_eq!(f.addressables.locate_or_place("app", &greeter(), vec![]).await.expect("placed"), first);
        let second = join(&f, "app", &["com.example.Greeter"]).await;
        f.cluster.leave_cluster(&first).await.expect("in memory");
        assert_eq!(f.addressables.locate_or_place("app", &greeter(), vec![]).await.expect("kept"), first);
        let other = AddressableReference::new("com.example.Greeter", Key::Int32(1));
        assert_eq!(f.addressables.locate_or_place("app", &other, vec![]).await.expect("placed"), second);
    }

    #[tokio::test]
    async fn ineligible_and_expired_owners_are_replaced() {
        let f = fixture();
        let first = join(&f, "app", &["com.example.Greeter"]).await;
        f.addressables.locate_or_place("app", &greeter(), vec![]).await.expect("placed");
        let second = join(&f, "app", &["com.example.Greeter"]).await;
        let moved = f.addressables.locate_or_place("app", &greeter(), vec![first.clone()]).await.expect("moved");
        assert_eq!(moved, second);
        // Once the second node's record expires, a new node takes over.
        f.clock.advance(Duration::from_secs(11));
        let third = join(&f, "app", &["com.example.Greeter"]).await;
        assert_eq!(f.addressables.locate_or_place("app", &greeter(), vec![]).await.expect("re-placed"), third);
    }

    #[tokio::test]
    async fn renew_and_abandon_check_the_owner() {
        let f = fixture();
        let owner = join(&f, "app", &["com.example.Greeter"]).await;
        let stranger = join(&f, "app", &[]).await;
        let error = f.addressables.renew_lease(&greeter(), &owner).await.expect_err("no lease yet");
        assert!(error.peer_text().ends_with(
            "Could not renew lease for AddressableReference(type=com.example.Greeter, key=StringKey(key=joe))"
        ));
        f.addressables.locate_or_place("app", &greeter(), vec![]).await.expect("placed");
        assert!(f.addressables.renew_lease(&greeter(), &stranger).await.is_err());
        let renewed = f.addressables.renew_lease(&greeter(), &owner).await.expect("owner renews");
        assert_eq!(renewed.node_id, owner);
        assert!(!f.addressables.abandon_lease(&greeter(), &stranger).await);
        assert!(f.addressables.abandon_lease(&greeter(), &owner).await);
        assert!(!f.addressables.abandon_lease(&greeter(), &owner).await);
    }
}
