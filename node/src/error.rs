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
}

impl StatusKind {
    /// Returns the tonic status for this kind, with `message` as the description.
    pub fn to_status(self, message: impl Into<String>) -> tonic::Status {
        match self {
            Self::Unknown => tonic::Status::unknown(message),
            Self::Unimplemented => tonic::Status::unimplemented(message),
        }
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
    }
}
