//! `orbit.shared.AddressableManagement`: lease renewal and abandonment by hosting clients
//! (mirrors `AddressableManagementService.kt`).

use std::sync::Arc;

use compat_proto::render::KotlinException;
use compat_proto::{AddressableReference, pb};
use tonic::{Request, Response, Status};

use crate::error::PeerVisible;
use crate::error::StatusKind;
use crate::mesh::AddressableManager;
use crate::metrics::SharedMetrics;
use crate::metrics::Timer;
use crate::service::CallerIdentity;

/// The AddressableManagement service.
pub struct AddressableManagementService {
    addressables: Arc<AddressableManager>,
    metrics: SharedMetrics,
}

impl AddressableManagementService {
    /// Returns the service over `addressables`.
    pub fn new(addressables: Arc<AddressableManager>, metrics: SharedMetrics) -> Self {
        Self { addressables, metrics }
    }
}

fn error(description: String) -> pb::RenewAddressableLeaseResponseProto {
    pb::RenewAddressableLeaseResponseProto {
        status: pb::renew_addressable_lease_response_proto::Status::Error.into(),
        lease: None,
        error_description: description,
    }
}

/// Kotlin converts the reference before it looks at the caller's identity; an unset key
/// (or reference) fails that conversion with this text.
fn invalid_key_type() -> String {
    KotlinException::InvalidKeyType.to_string()
}

#[tonic::async_trait]
impl pb::addressable_management_server::AddressableManagement for AddressableManagementService {
    async fn renew_lease(
        &self,
        request: Request<pb::RenewAddressableLeaseRequestProto>,
    ) -> Result<Response<pb::RenewAddressableLeaseResponseProto>, Status> {
        let _timer = Timer::start(&self.metrics.addressable_lease_renewal);
        let owner = CallerIdentity::from_metadata(request.metadata()).node_id();
        let reference = match request.into_inner().reference.map(AddressableReference::try_from) {
            Some(Ok(reference)) => reference,
            _ => return Ok(Response::new(error(invalid_key_type()))),
        };
        let Some(owner) = owner else {
            return Ok(Response::new(error(KotlinException::NullParameter("NODE_ID.get()").to_string())));
        };
        Ok(Response::new(match self.addressables.renew_lease(&reference, &owner).await {
            Ok(lease) => pb::RenewAddressableLeaseResponseProto {
                status: pb::renew_addressable_lease_response_proto::Status::Ok.into(),
                lease: Some(lease.into()),
                error_description: String::new(),
            },
            Err(e) => error(e.peer_text()),
        }))
    }

    async fn abandon_lease(
        &self,
        request: Request<pb::AbandonAddressableLeaseRequestProto>,
    ) -> Result<Response<pb::AbandonAddressableLeaseResponseProto>, Status> {
        let _timer = Timer::start(&self.metrics.addressable_lease_abandon);
        let owner = CallerIdentity::from_metadata(request.metadata()).node_id();
        // Kotlin converts the reference outside its try block: a bad one is an UNKNOWN status.
        let reference = match request.into_inner().reference.map(AddressableReference::try_from) {
            Some(Ok(reference)) => reference,
            _ => return Err(StatusKind::Unknown.to_status(invalid_key_type())),
        };
        let abandoned = match owner {
            Some(owner) => self.addressables.abandon_lease(&reference, &owner).await,
            None => false,
        };
        Ok(Response::new(pb::AbandonAddressableLeaseResponseProto { abandoned }))
    }
}
