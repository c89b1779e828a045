//! `grpc.health.v1.Health` as Orbit 2 declares it (mirrors `HealthService.kt`): SERVING iff
//! this server is ACTIVE in its own record and both directories are healthy.

use std::sync::Arc;

use compat_proto::pb::health::{self, health_check_response::ServingStatus};
use compat_proto::{NodeId, NodeStatus};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::error::StatusKind;
use crate::mesh::{AddressableManager, ClusterManager};
use crate::metrics::{SharedMetrics, Timer};

/// The Health service.
pub struct HealthService {
    local: NodeId,
    cluster: Arc<ClusterManager>,
    addressables: Arc<AddressableManager>,
    metrics: SharedMetrics,
}

impl HealthService {
    /// Returns the health service of the server `local`.
    pub fn new(
        local: NodeId,
        cluster: Arc<ClusterManager>,
        addressables: Arc<AddressableManager>,
        metrics: SharedMetrics,
    ) -> Self {
        Self { local, cluster, addressables, metrics }
    }

    /// Returns how many of Kotlin's four checks pass: this server is ACTIVE, its own record
    /// is ACTIVE (one value here: the record is the server's status), the addressable
    /// directory and the node directory are healthy.
    pub async fn passing_checks(&self) -> u64 {
        let own_active = matches!(
            self.cluster.directory().get(&self.local).await,
            Ok(Some(info)) if info.status == NodeStatus::Active
        );
        let checks = [
            own_active,
            own_active,
            self.addressables.directory().is_healthy().await,
            self.cluster.directory().is_healthy().await,
        ];
        checks.iter().filter(|passed| **passed).count() as u64
    }

    /// Returns whether every check passes.
    pub async fn is_serving(&self) -> bool {
        let _timer = Timer::start(&self.metrics.health_checks);
        self.passing_checks().await == 4
    }
}

#[tonic::async_trait]
impl health::health_server::Health for HealthService {
    type WatchStream = ReceiverStream<Result<health::HealthCheckResponse, Status>>;

    async fn check(
        &self,
        _request: Request<health::HealthCheckRequest>,
    ) -> Result<Response<health::HealthCheckResponse>, Status> {
        let status = if self.is_serving().await { ServingStatus::Serving } else { ServingStatus::NotServing };
        Ok(Response::new(health::HealthCheckResponse { status: status.into() }))
    }

    async fn watch(
        &self,
        _request: Request<health::HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(StatusKind::Unimplemented.to_status("Method grpc.health.v1.Health/Watch is unimplemented"))
    }
}

#[cfg(test)]
mod tests {
    use compat_proto::{MANAGEMENT_NAMESPACE, NodeCapabilities};

    use super::*;
    use crate::clock::{Clock, LeaseDuration};
    use crate::mesh::directory::{InMemoryAddressableDirectory, InMemoryNodeDirectory};

    #[tokio::test]
    async fn not_serving_unless_this_server_is_active() {
        let clock = Arc::new(Clock::default());
        let cluster = Arc::new(ClusterManager::new(
            Arc::new(InMemoryNodeDirectory::default()),
            clock,
            LeaseDuration::from_secs(10),
        ));
        let addressables = Arc::new(AddressableManager::new(
            Arc::new(InMemoryAddressableDirectory::default()),
            cluster.clone(),
            LeaseDuration::from_secs(600),
            Arc::new(crate::metrics::Metrics::new()),
        ));
        let own = cluster
            .join_cluster(MANAGEMENT_NAMESPACE, NodeCapabilities::default(), None, NodeStatus::Starting, None)
            .await
            .expect("joins");
        let health = HealthService::new(own.id.clone(), cluster.clone(), addressables, Arc::default());
        assert!(!health.is_serving().await, "STARTING is not serving");
        cluster.update_node(&own.id, |info| info.status = NodeStatus::Active).await.expect("exists");
        assert!(health.is_serving().await);
        assert_eq!(health.passing_checks().await, 4);
        cluster.update_node(&own.id, |info| info.status = NodeStatus::Draining).await.expect("exists");
        assert!(!health.is_serving().await, "DRAINING answers NOT_SERVING");
        assert_eq!(health.passing_checks().await, 2);
    }
}
