//! `orbit.shared.NodeManagement`: join, renew and leave (mirrors `NodeManagementService.kt`).

use std::sync::Arc;

use compat_proto::render::KotlinException;
use compat_proto::{NodeCapabilities, NodeInfo, NodeStatus, pb};
use tonic::{Request, Response, Status};

use crate::error::PeerVisible;
use crate::error::StatusKind;
use crate::mesh::ClusterManager;
use crate::service::CallerIdentity;

/// The NodeManagement service.
pub struct NodeManagementService {
    cluster: Arc<ClusterManager>,
}

impl NodeManagementService {
    /// Returns the service over `cluster`.
    pub fn new(cluster: Arc<ClusterManager>) -> Self {
        Self { cluster }
    }
}

fn ok(info: NodeInfo) -> pb::NodeLeaseResponseProto {
    pb::NodeLeaseResponseProto {
        status: pb::node_lease_response_proto::Status::Ok.into(),
        info: Some(info.into()),
        error_description: String::new(),
    }
}

fn error(description: String) -> pb::NodeLeaseResponseProto {
    pb::NodeLeaseResponseProto {
        status: pb::node_lease_response_proto::Status::Error.into(),
        info: None,
        error_description: description,
    }
}

#[tonic::async_trait]
impl pb::node_management_server::NodeManagement for NodeManagementService {
    async fn join_cluster(
        &self,
        request: Request<pb::JoinClusterRequestProto>,
    ) -> Result<Response<pb::NodeLeaseResponseProto>, Status> {
        let identity = CallerIdentity::from_metadata(request.metadata());
        let Some(namespace) = identity.namespace else {
            return Ok(Response::new(error(KotlinException::NullParameter("namespace").to_string())));
        };
        let capabilities: NodeCapabilities = request.into_inner().capabilities.map(Into::into).unwrap_or_default();
        let joined = self.cluster.join_cluster(&namespace, capabilities, None, NodeStatus::Active, None).await;
        Ok(Response::new(match joined {
            Ok(info) => ok(info),
            Err(e) => error(e.peer_text()),
        }))
    }

    async fn renew_lease(
        &self,
        request: Request<pb::RenewNodeLeaseRequestProto>,
    ) -> Result<Response<pb::NodeLeaseResponseProto>, Status> {
        let Some(id) = CallerIdentity::from_metadata(request.metadata()).node_id() else {
            return Ok(Response::new(error(KotlinException::NodeIdNotSpecified.to_string())));
        };
        let request = request.into_inner();
        let capabilities = request.capabilities.map(Into::into).unwrap_or_default();
        Ok(Response::new(match self.cluster.renew_lease(&id, &request.challenge_token, capabilities).await {
            Ok(info) => ok(info),
            Err(e) => error(e.peer_text()),
        }))
    }

    async fn leave_cluster(
        &self,
        request: Request<pb::LeaveClusterRequestProto>,
    ) -> Result<Response<pb::NodeLeaseResponseProto>, Status> {
        let Some(id) = CallerIdentity::from_metadata(request.metadata()).node_id() else {
            return Err(StatusKind::Unknown.to_status(""));
        };
        match self.cluster.leave_cluster(&id).await {
            Ok(Some(info)) => Ok(Response::new(ok(info))),
            // Kotlin answers an unknown node with OK and an empty record.
            Ok(None) => Ok(Response::new(pb::NodeLeaseResponseProto {
                info: Some(pb::NodeInfoProto::default()),
                ..Default::default()
            })),
            Err(_) => Err(StatusKind::Unknown.to_status("")),
        }
    }
}
