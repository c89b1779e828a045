//! The node's errors and their only mapping to gRPC statuses.
//!
//! Kotlin peers branch on status codes, so each mapping mirrors what the Kotlin server's
//! coroutine glue produces: its uncaught exceptions become `UNKNOWN` with no description.

use thiserror::Error;

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
    /// The node could not register itself in the node directory.
    #[error("cannot register this server in the node directory: {0}")]
    Register(String),
    /// A configured directory could not be opened.
    #[error("cannot open the directory")]
    Directory(#[source] crate::mesh::DirectoryError),
    /// The gRPC server failed while serving.
    #[error("grpc server failed: {0}")]
    Serve(String),
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
