//! The request metadata through which an Orbit client names itself.

use compat_proto::{NAMESPACE_HEADER, NODE_KEY_HEADER};
use tonic::Request;
use tonic::metadata::MetadataValue;

/// Returns `message` as a request with Orbit's identity metadata: `namespace` and `nodekey`
/// (the key of the node id a join returned), each only when given, as a Kotlin orbit-client
/// sends them. Calls made before joining carry only the namespace.
///
/// A value that cannot be metadata (one with a control character, such as a line break) is left
/// out, as the Rust client does, and the server answers as it answers a missing entry. It never panics, so it may carry a node key
/// read from a server's reply.
pub fn with_identity<T>(message: T, namespace: Option<&str>, node_key: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(namespace) = namespace.and_then(|n| MetadataValue::try_from(n).ok()) {
        request.metadata_mut().insert(NAMESPACE_HEADER, namespace);
    }
    if let Some(node_key) = node_key.and_then(|k| MetadataValue::try_from(k).ok()) {
        request.metadata_mut().insert(NODE_KEY_HEADER, node_key);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_the_entries_that_are_given() {
        let request = with_identity((), Some("app"), Some("k1"));
        assert_eq!(request.metadata().get("namespace").map(|v| v.to_str().ok()), Some(Some("app")));
        assert_eq!(request.metadata().get("nodekey").map(|v| v.to_str().ok()), Some(Some("k1")));

        let anonymous = with_identity((), Some("app"), None);
        assert!(anonymous.metadata().get("nodekey").is_none());
        let nobody = with_identity((), None, None);
        assert!(nobody.metadata().is_empty());
    }

    #[test]
    fn leaves_out_a_value_that_cannot_be_metadata() {
        let request = with_identity((), Some("del\u{7f}"), Some("line\nbreak"));
        assert!(request.metadata().is_empty());
    }
}
