//! The node's errors and their only mapping to gRPC statuses.
//!
//! Kotlin peers branch on status codes, so each mapping mirrors what the Kotlin server's
//! coroutine glue produces: its uncaught exceptions become `UNKNOWN` with no description.

use compat_proto::render::KotlinException;
use thiserror::Error;

/// An error that can reach a Kotlin peer, in an `error` message or an `error_description`.
///
/// This is the only place such texts come from: `kotlin()` gives the exact JVM exception
/// Kotlin sends for the same failure (rendered by `compat_proto::render`), while `Display`
/// is for this node's logs and may say more (URLs, sources) than a peer should see.
pub trait PeerVisible {
    /// Returns what a Kotlin server would send for this failure.
    fn kotlin(&self) -> KotlinException;

    /// Returns the description a peer receives (`Throwable.toString()`).
    fn peer_text(&self) -> String {
        self.kotlin().to_string()
    }
}

impl PeerVisible for crate::mesh::DirectoryError {
    fn kotlin(&self) -> KotlinException {
        KotlinException::DirectoryUnavailable
    }
}

impl PeerVisible for crate::mesh::cluster::ClusterError {
    fn kotlin(&self) -> KotlinException {
        use crate::mesh::cluster::ClusterError;
        match self {
            ClusterError::InvalidNodeId(id) => KotlinException::InvalidNodeId(id.clone()),
            ClusterError::InvalidChallenge(id) => KotlinException::InvalidChallenge(id.clone()),
            ClusterError::Directory(error) => error.kotlin(),
        }
    }
}

impl PeerVisible for crate::mesh::addressable::PlacementError {
    fn kotlin(&self) -> KotlinException {
        use crate::mesh::addressable::PlacementError;
        match self {
            PlacementError::NoNodeCapable(key) => KotlinException::NoNodeCapable(key.clone()),
            PlacementError::CouldNotRenewLease(reference) => KotlinException::CouldNotRenewLease(reference.clone()),
            PlacementError::Directory(error) => error.kotlin(),
            PlacementError::Cluster(error) => error.kotlin(),
        }
    }
}

impl PeerVisible for crate::pipeline::PipelineError {
    fn kotlin(&self) -> KotlinException {
        use crate::pipeline::PipelineError;
        match self {
            PipelineError::InvalidSource(id) => KotlinException::InvalidNodeId(id.clone()),
            PipelineError::Placement(error) => error.kotlin(),
            PipelineError::Cluster(error) => error.kotlin(),
            PipelineError::TargetNotResolved => KotlinException::TargetNotResolved,
            PipelineError::NotConnected(id) => KotlinException::TargetNotConnected(id.clone()),
        }
    }
}

/// The gRPC status a failed RPC answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// What Kotlin answers for an uncaught exception (e.g. LeaveCluster without identity).
    Unknown,
    /// An RPC the Kotlin server does not implement either (`Health/Watch`).
    Unimplemented,
    /// What grpc-java does to a stream whose inbound message exceeds 4 MiB.
    Cancelled,
}

impl StatusKind {
    /// Returns the tonic status for this kind, with `message` as the description.
    pub fn to_status(self, message: impl Into<String>) -> tonic::Status {
        match self {
            Self::Unknown => tonic::Status::unknown(message),
            Self::Unimplemented => tonic::Status::unimplemented(message),
            Self::Cancelled => tonic::Status::cancelled(message),
        }
    }
}

/// Returns the status that ends a stream whose inbound half failed with `error`, as the
/// Kotlin server ends it: an oversized message cancels the call, an undecodable frame
/// fails it with UNKNOWN. `None` when the client itself went away (nothing to answer).
pub fn stream_failure_status(error: &tonic::Status) -> Option<tonic::Status> {
    match error.code() {
        tonic::Code::OutOfRange | tonic::Code::ResourceExhausted => {
            Some(StatusKind::Cancelled.to_status(format!("message rejected: {}", error.message())))
        }
        tonic::Code::Internal => Some(StatusKind::Unknown.to_status(format!("malformed frame: {}", error.message()))),
        _ => None,
    }
}

/// Why the node stopped or could not start.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The configured listen address.
        address: std::net::SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The node could not register itself in the node directory (it was stopped while it
    /// still retried).
    #[error("cannot register this server in the node directory")]
    Register(#[source] crate::mesh::cluster::ClusterError),
    /// A configured directory could not be opened.
    #[error("cannot open the directory")]
    Directory(#[source] crate::mesh::DirectoryError),
    /// The gRPC server failed while serving.
    #[error("grpc server failed")]
    Serve(#[source] tonic::transport::Error),
    /// The gRPC server's task ended without a result (it panicked or was cancelled).
    #[error("the grpc server stopped unexpectedly")]
    ServerGone,
    /// The TLS listener's files could not be used.
    #[error(transparent)]
    Tls(#[from] crate::net::tls::TlsError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_kinds_map_to_the_codes_kotlin_answers_with() {
        assert_eq!(StatusKind::Unknown.to_status("").code(), tonic::Code::Unknown);
        assert_eq!(StatusKind::Unimplemented.to_status("").code(), tonic::Code::Unimplemented);
        assert_eq!(StatusKind::Cancelled.to_status("").code(), tonic::Code::Cancelled);
        let too_big = stream_failure_status(&tonic::Status::out_of_range("too large")).expect("answered");
        assert_eq!(too_big.code(), tonic::Code::Cancelled);
        let garbage = stream_failure_status(&tonic::Status::internal("decode")).expect("answered");
        assert_eq!(garbage.code(), tonic::Code::Unknown);
        assert!(stream_failure_status(&tonic::Status::cancelled("client left")).is_none());
    }
}
