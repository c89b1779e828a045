//! `grpc.health.v1.Health` as Orbit 2 declares it (mirrors `HealthService.kt`): SERVING iff
//! this server is ACTIVE in its own record and both directories are healthy.

use std::sync::Arc;

use compat_proto::pb::health::{self, health_check_response::ServingStatus};
use compat_proto::{NodeId, NodeStatus};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::error::StatusKind;
use crate::mesh::{AddressableManager, ClusterManager};

/// The Health service.
pub struct HealthService {
    local: NodeId,
    cluster: Arc<ClusterManager>,
    addressables: Arc<AddressableManager>,
}

impl HealthService {
    /// Returns the health service of the server `local`.
    pub fn new(local: NodeId, cluster: Arc<ClusterManager>, addressables: Arc<AddressableManager>) -> Self {
        Self { local, cluster, addressables }
    }

    /// Returns whether every check passes.
    pub async fn is_serving(&self) -> bool {
        let own_active = matches!(
            self.cluster.directory().get(&self.local).await,
            Ok(Some(info)) if info.status == NodeStatus::Active
        );
        own_active && self.cluster.directory().is_healthy().await && self.addressables.directory().is_healthy().await
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
