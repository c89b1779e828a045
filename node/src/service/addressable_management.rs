//! `orbit.shared.AddressableManagement`: lease renewal and abandonment by hosting clients
//! (mirrors `AddressableManagementService.kt`).

use std::sync::Arc;

use compat_proto::{AddressableReference, pb};
use tonic::{Request, Response, Status};

use crate::mesh::AddressableManager;
use crate::service::{CallerIdentity, null_parameter_description};

/// The AddressableManagement service.
pub struct AddressableManagementService {
    addressables: Arc<AddressableManager>,
}

impl AddressableManagementService {
    /// Returns the service over `addressables`.
    pub fn new(addressables: Arc<AddressableManager>) -> Self {
        Self { addressables }
    }
}

fn error(description: String) -> pb::RenewAddressableLeaseResponseProto {
    pb::RenewAddressableLeaseResponseProto {
        status: pb::renew_addressable_lease_response_proto::Status::Error.into(),
        lease: None,
        error_description: description,
    }
}

#[tonic::async_trait]
impl pb::addressable_management_server::AddressableManagement for AddressableManagementService {
    async fn renew_lease(
        &self,
        request: Request<pb::RenewAddressableLeaseRequestProto>,
    ) -> Result<Response<pb::RenewAddressableLeaseResponseProto>, Status> {
        let Some(owner) = CallerIdentity::from_metadata(request.metadata()).node_id() else {
            let description = null_parameter_description("orbit.server.mesh.AddressableManager.renewLease", "nodeId");
            return Ok(Response::new(error(description)));
        };
        let reference = match request.into_inner().reference.map(AddressableReference::try_from) {
            Some(Ok(reference)) => reference,
            Some(Err(e)) => return Ok(Response::new(error(format!("java.lang.IllegalStateException: {e}")))),
            None => return Ok(Response::new(error("java.lang.IllegalStateException: Invalid key type".to_owned()))),
        };
        Ok(Response::new(match self.addressables.renew_lease(&reference, &owner).await {
            Ok(lease) => pb::RenewAddressableLeaseResponseProto {
                status: pb::renew_addressable_lease_response_proto::Status::Ok.into(),
                lease: Some(lease.into()),
                error_description: String::new(),
            },
            Err(e) => error(e.to_string()),
        }))
    }

    async fn abandon_lease(
        &self,
        request: Request<pb::AbandonAddressableLeaseRequestProto>,
    ) -> Result<Response<pb::AbandonAddressableLeaseResponseProto>, Status> {
        let owner = CallerIdentity::from_metadata(request.metadata()).node_id();
        let reference = request.into_inner().reference.map(AddressableReference::try_from);
        let abandoned = match (owner, reference) {
            (Some(owner), Some(Ok(reference))) => self.addressables.abandon_lease(&reference, &owner).await,
            _ => false,
        };
        Ok(Response::new(pb::AbandonAddressableLeaseResponseProto { abandoned }))
    }
}
