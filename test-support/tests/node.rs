//! The in-process node and the helpers around it, against a real orbit-node over loopback.

use std::time::Duration;

use compat_proto::pb;
use orbit_test_support::{NodeOptions, TestNode, assert_eventually, free_port, with_identity};

/// Joins `namespace` through the node; returns the reply's status and the new node key.
async fn join(node: &TestNode, namespace: Option<&str>) -> (i32, String) {
    let mut management = pb::node_management_client::NodeManagementClient::new(node.channel().await);
    let request = with_identity(pb::JoinClusterRequestProto::default(), namespace, None);
    let reply = management.join_cluster(request).await.expect("join rpc").into_inner();
    (reply.status, reply.info.and_then(|i| i.id).map(|id| id.key).unwrap_or_default())
}

#[tokio::test]
async fn a_node_serves_on_its_endpoint_and_stops_cleanly() {
    let node = TestNode::start_with(NodeOptions { metrics: true, ..NodeOptions::default() }).await;
    assert_eq!(node.endpoint(), format!("127.0.0.1:{}", node.port()));
    assert_eq!(node.url(), format!("http://{}", node.endpoint()));
    assert!(node.metrics_port().is_some_and(|p| p != node.port()));

    let (status, key) = join(&node, Some("app")).await;
    assert_eq!(status, 0);
    assert!(!key.is_empty());
    // The identity metadata reaches the server: without a namespace it refuses the join.
    assert_eq!(join(&node, None).await.0, 1);

    node.stop().await.expect("a clean stop");
}

#[tokio::test]
async fn a_node_starts_again_on_the_same_port_and_a_dropped_one_stops() {
    let node = TestNode::start().await;
    let port = node.port();
    assert!(node.metrics_port().is_none());
    node.stop().await.expect("a clean stop");
    let again = TestNode::start_with(NodeOptions { port: Some(port), ..NodeOptions::default() }).await;
    assert_eq!(join(&again, Some("app")).await.0, 0);

    drop(again);
    let bind = async || std::net::TcpListener::bind(("127.0.0.1", port)).map(drop).map_err(|e| e.kind());
    let freed = assert_eventually("the dropped node frees its port", Duration::from_secs(10), bind, Result::is_ok);
    assert_eq!(freed.await, Ok(()));
}

#[test]
fn free_ports_can_be_bound() {
    let port = free_port();
    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
}
