//! Starts a node on 127.0.0.1:0 and talks to it through the generated `pb` clients, the way
//! a Kotlin orbit-client does: metadata identity, JoinCluster, OpenStream, invocations.

use std::time::Duration;

use compat_proto::pb::{self, message_content_proto::Content};
use compat_proto::{AddressableReference, Key, Message, MessageContent, NodeId};
use orbit_test_support::{NodeOptions, TestNode, with_identity};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

async fn scrape(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("metrics port answers");
    socket
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut response = String::new();
    socket.read_to_string(&mut response).await.expect("read");
    response
}

struct Client {
    id: NodeId,
    token: String,
    outbound: mpsc::Sender<pb::MessageProto>,
    inbound: tonic::Streaming<pb::MessageProto>,
}

async fn join(channel: &Channel, namespace: &str, types: &[&str]) -> Client {
    let mut management = pb::node_management_client::NodeManagementClient::new(channel.clone());
    let capabilities = pb::CapabilitiesProto { addressable_types: types.iter().map(|t| (*t).to_owned()).collect() };
    let response = management
        .join_cluster(with_identity(
            pb::JoinClusterRequestProto { capabilities: Some(capabilities) },
            Some(namespace),
            None,
        ))
        .await
        .expect("join rpc")
        .into_inner();
    assert_eq!(response.status, 0, "join failed: {}", response.error_description);
    let info = response.info.expect("join returns the record");
    let id: NodeId = info.id.expect("id").into();
    let token = info.lease.expect("lease").challenge_token;

    let (outbound, rx) = mpsc::channel(16);
    let mut connection = pb::connection_client::ConnectionClient::new(channel.clone());
    let inbound = connection
        .open_stream(with_identity(ReceiverStream::new(rx), Some(&id.namespace), Some(&id.key)))
        .await
        .expect("stream opens")
        .into_inner();
    Client { id, token, outbound, inbound }
}

async fn next_message(client: &mut Client) -> Message {
    let wire = tokio::time::timeout(Duration::from_secs(10), client.inbound.message())
        .await
        .expect("a message arrives in time")
        .expect("stream healthy")
        .expect("stream open");
    Message::try_from(wire).expect("well-formed")
}

fn invocation(id: i64, reference: AddressableReference) -> pb::MessageProto {
    pb::MessageProto::from(Message {
        message_id: id,
        ..Message::new(MessageContent::InvocationRequest {
            destination: reference,
            method: "greet".into(),
            arguments: "[\"[Lkotlin.Pair;\",[]]".into(),
            reason: compat_proto::InvocationReason::Invocation,
        })
    })
}

#[tokio::test]
async fn a_request_reaches_its_host_and_the_response_reaches_the_caller() {
    let node = TestNode::start().await;
    let channel = node.channel().await;
    let mut host = join(&channel, "app", &["com.example.Greeter"]).await;
    let mut caller = join(&channel, "app", &[]).await;
    // OpenStream answers only after the stream is registered and the routing edges are
    // written, so the route exists as soon as `join` returns.

    let reference = AddressableReference::new("com.example.Greeter", Key::String("joe".into()));
    caller.outbound.send(invocation(7, reference.clone())).await.expect("send");
    let request = next_message(&mut host).await;
    assert_eq!(request.message_id, 7);
    assert_eq!(request.source, Some(caller.id.clone()), "the server stamps the caller's id");
    assert_eq!(request.target, Some(compat_proto::MessageTarget::RoutedUnicast(vec![host.id.clone()])));
    assert!(
        matches!(request.content, MessageContent::InvocationRequest { ref destination, .. } if *destination == reference)
    );

    // The host validates its lease before activating, as a Kotlin client does.
    let mut leases = pb::addressable_management_client::AddressableManagementClient::new(channel.clone());
    let renewed = leases
        .renew_lease(with_identity(
            pb::RenewAddressableLeaseRequestProto { reference: Some(reference.clone().into()) },
            Some(&host.id.namespace),
            Some(&host.id.key),
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(renewed.status, 0, "{}", renewed.error_description);
    let stranger = leases
        .renew_lease(with_identity(
            pb::RenewAddressableLeaseRequestProto { reference: Some(reference.clone().into()) },
            Some(&caller.id.namespace),
            Some(&caller.id.key),
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(stranger.status, 1);
    assert!(
        stranger
            .error_description
            .starts_with("orbit.shared.exception.PlacementFailedException: Could not renew lease for")
    );

    let response = Message {
        message_id: 7,
        target: Some(compat_proto::MessageTarget::Unicast(caller.id.clone())),
        ..Message::new(MessageContent::InvocationResponse { data: "\"Hello joe\"".into() })
    };
    host.outbound.send(response.into()).await.expect("send");
    let answer = next_message(&mut caller).await;
    assert_eq!(answer.message_id, 7);
    assert_eq!(answer.source, Some(host.id.clone()));
    assert_eq!(answer.content, MessageContent::InvocationResponse { data: "\"Hello joe\"".into() });

    // Renewal keeps the token; a wrong token is refused with Kotlin's text.
    let mut management = pb::node_management_client::NodeManagementClient::new(channel.clone());
    let ok = management
        .renew_lease(with_identity(
            pb::RenewNodeLeaseRequestProto { challenge_token: host.token.clone(), capabilities: None },
            Some(&host.id.namespace),
            Some(&host.id.key),
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(ok.status, 0);
    let bad = management
        .renew_lease(with_identity(
            pb::RenewNodeLeaseRequestProto { challenge_token: "wrong".into(), capabilities: None },
            Some(&host.id.namespace),
            Some(&host.id.key),
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(bad.status, 1);
    assert_eq!(
        bad.error_description,
        format!("orbit.shared.exception.InvalidChallengeException: Invalid challenge for {}", host.id)
    );
    drop(host);
    drop(caller);
    node.stop().await.expect("clean stop");
}

#[tokio::test]
async fn bad_input_gets_clear_answers_and_the_node_keeps_serving() {
    let node = TestNode::start_with(NodeOptions { metrics: true, ..NodeOptions::default() }).await;
    let metrics_port = node.metrics_port().expect("started with metrics");
    let channel = node.channel().await;
    let mut management = pb::node_management_client::NodeManagementClient::new(channel.clone());

    // JoinCluster without a namespace: an ERROR response, as Kotlin's null check gives.
    let no_namespace =
        management.join_cluster(with_identity(pb::JoinClusterRequestProto::default(), None, None)).await.expect("rpc");
    assert_eq!(no_namespace.get_ref().status, 1);
    assert_eq!(no_namespace.get_ref().error_description, "java.lang.IllegalStateException: namespace must not be null");

    // RenewLease without identity, and for an unknown node.
    let anonymous = management
        .renew_lease(with_identity(pb::RenewNodeLeaseRequestProto::default(), Some("app"), None))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(anonymous.error_description, "java.lang.IllegalStateException: Node ID was not specified");
    let unknown = management
        .renew_lease(with_identity(pb::RenewNodeLeaseRequestProto::default(), Some("app"), Some("nobody")))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(
        unknown.error_description,
        "orbit.shared.exception.InvalidNodeId: (app:nobody) is not valid. Did the lease expire?"
    );

    // LeaveCluster without identity: gRPC UNKNOWN, like Kotlin.
    let leave = management.leave_cluster(with_identity(pb::LeaveClusterRequestProto {}, Some("app"), None)).await;
    assert_eq!(leave.expect_err("no identity").code(), tonic::Code::Unknown);

    // A stream for an unknown node gets one error message and ends cleanly.
    let (_tx, rx) = mpsc::channel::<pb::MessageProto>(1);
    let mut connection = pb::connection_client::ConnectionClient::new(channel.clone());
    let mut stream = connection
        .open_stream(with_identity(ReceiverStream::new(rx), Some("app"), Some("ghost")))
        .await
        .expect("opens")
        .into_inner();
    let first = stream.message().await.expect("ok").expect("one message");
    match first.content.and_then(|c| c.content) {
        Some(Content::Error(e)) => {
            assert_eq!(
                e.description,
                "orbit.shared.exception.InvalidNodeId: (app:ghost) is not valid. Did the lease expire?"
            );
        }
        other => panic!("expected an error message, got {other:?}"),
    }
    assert!(stream.message().await.expect("clean end").is_none());

    // A message with no content and one with an unset key oneof each get an error reply.
    let mut client = join(&channel, "app", &[]).await;
    client.outbound.send(pb::MessageProto { message_id: 41, ..Default::default() }).await.expect("send");
    let reply = next_message(&mut client).await;
    assert_eq!(reply.message_id, 41);
    assert!(
        matches!(reply.content, MessageContent::Error { ref description } if description.contains("content is missing"))
    );
    let mut keyless = invocation(42, AddressableReference::new("t", Key::None));
    if let Some(Content::InvocationRequest(r)) = keyless.content.as_mut().and_then(|c| c.content.as_mut()) {
        r.reference.as_mut().expect("set").key = Some(pb::AddressableKeyProto { key: None });
    }
    client.outbound.send(keyless).await.expect("send");
    let reply = next_message(&mut client).await;
    assert_eq!(reply.message_id, 42);

    // An info request is answered with this server's id.
    let info =
        pb::MessageProto::from(Message { message_id: 43, ..Message::new(MessageContent::ConnectionInfoRequest) });
    client.outbound.send(info).await.expect("send");
    let reply = next_message(&mut client).await;
    assert_eq!(reply.message_id, 43);
    assert!(matches!(reply.content, MessageContent::ConnectionInfoResponse { ref node_id } if node_id.is_management()));

    // The Prometheus endpoint shows Kotlin's meter names; the client's stream is counted.
    let text = scrape(metrics_port, "/metrics").await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\norbit_connected_clients 1\n"), "{text}");
    assert!(text.contains("\norbit_message_sizes_count 3\n"), "{text}");
    assert!(text.contains("\norbit_passing_health_checks 4\n"), "{text}");
    assert!(scrape(metrics_port, "/elsewhere").await.starts_with("HTTP/1.1 404"));
    // Probes for an orchestrator beside the scrape.
    assert!(scrape(metrics_port, "/live").await.starts_with("HTTP/1.1 200"));
    let ready = scrape(metrics_port, "/ready").await;
    assert!(ready.starts_with("HTTP/1.1 200") && !ready.contains("not ready"), "{ready}");

    // Health is SERVING while the node runs.
    let mut health = pb::health::health_client::HealthClient::new(channel.clone());
    let status = health.check(pb::health::HealthCheckRequest::default()).await.expect("rpc").into_inner().status;
    assert_eq!(status, 1);
    drop(client);
    node.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_reconnecting_client_keeps_its_route_when_the_old_stream_ends() {
    let node = TestNode::start().await;
    let channel = node.channel().await;
    let host = join(&channel, "app", &["com.example.Greeter"]).await;
    let mut caller = join(&channel, "app", &[]).await;

    // The host opens a second stream with the same identity, then its first stream ends.
    let (second_outbound, rx) = mpsc::channel(16);
    let mut connection = pb::connection_client::ConnectionClient::new(channel.clone());
    let mut second_inbound = connection
        .open_stream(with_identity(ReceiverStream::new(rx), Some(&host.id.namespace), Some(&host.id.key)))
        .await
        .expect("second stream opens")
        .into_inner();
    let host_id = host.id.clone();
    drop(host);
    // The first stream's cleanup must not remove the route to the second one.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let reference = AddressableReference::new("com.example.Greeter", Key::Int32(1));
    caller.outbound.send(invocation(11, reference)).await.expect("send");
    let request = tokio::time::timeout(Duration::from_secs(10), second_inbound.message())
        .await
        .expect("delivered to the newer stream")
        .expect("healthy")
        .expect("open");
    assert_eq!(request.message_id, 11);
    let reply = Message {
        message_id: 11,
        target: Some(compat_proto::MessageTarget::Unicast(caller.id.clone())),
        ..Message::new(MessageContent::InvocationResponse { data: "1".into() })
    };
    second_outbound.send(reply.into()).await.expect("send");
    let answer = next_message(&mut caller).await;
    assert_eq!(answer.source, Some(host_id));
    drop(second_outbound);
    node.stop().await.expect("clean stop");
}
