//! Bad input from a raw gRPC client, against the real Kotlin orbit-server and orbit-node.
//!
//! Each case records what the server observably did (response fields, status codes, stream
//! events), with random node keys replaced by `<key>`. The two servers must agree, except
//! where the Kotlin server's answer is a stream teardown that takes every other call of
//! that client with it; there our node answers the one message and keeps the stream, as
//! listed in `docs/compatibility.md`. After the cases the server must still serve a new client.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use compat_proto::pb::{self, message_content_proto::Content};
use orbit_interop_tests::jvm::log_dir;
use orbit_interop_tests::raw::{RawStream, StreamEvent, connect};
use orbit_interop_tests::servers::{ServerKind, ServerProcess};
use orbit_test_support::with_identity;
use prost::Message as _;
use tonic::transport::Channel;

const NAMESPACE: &str = "badinput";
const WAIT: Duration = Duration::from_secs(8);

struct Joined {
    key: String,
    token: String,
}

async fn join(channel: &Channel, types: &[&str]) -> anyhow::Result<Joined> {
    let mut management = pb::node_management_client::NodeManagementClient::new(channel.clone());
    let capabilities = pb::CapabilitiesProto { addressable_types: types.iter().map(|t| (*t).to_owned()).collect() };
    let response = management
        .join_cluster(with_identity(
            pb::JoinClusterRequestProto { capabilities: Some(capabilities) },
            Some(NAMESPACE),
            None,
        ))
        .await?
        .into_inner();
    anyhow::ensure!(response.status == 0, "join failed: {}", response.error_description);
    let info = response.info.ok_or_else(|| anyhow::anyhow!("no info"))?;
    Ok(Joined {
        key: info.id.map(|id| id.key).unwrap_or_default(),
        token: info.lease.map(|l| l.challenge_token).unwrap_or_default(),
    })
}

fn describe_event(event: &StreamEvent, key: &str) -> String {
    let text = match event {
        StreamEvent::Message(message) => {
            let content = match message.content.as_ref().and_then(|c| c.content.as_ref()) {
                Some(Content::Error(e)) => format!("error({})", e.description),
                Some(other) => format!("{other:?}"),
                None => "no content".to_owned(),
            };
            format!("message id={} content={content}", message.message_id)
        }
        other => format!("{other:?}"),
    };
    if key.is_empty() { text } else { text.replace(key, "<key>") }
}

/// Renders a unary outcome: the response through `show`, or the status code.
fn outcome<T>(result: Result<tonic::Response<T>, tonic::Status>, show: impl Fn(&T) -> String) -> String {
    match result {
        Ok(response) => show(response.get_ref()),
        Err(status) => format!("grpc {:?}", status.code()),
    }
}

fn lease_text(r: &pb::NodeLeaseResponseProto) -> String {
    format!("status={} {}", r.status, r.error_description)
}

fn invocation(id: i64, actor: &str) -> pb::MessageProto {
    pb::MessageProto {
        message_id: id,
        content: Some(pb::MessageContentProto {
            content: Some(Content::InvocationRequest(pb::InvocationRequestProto {
                reference: Some(pb::AddressableReferenceProto {
                    r#type: actor.to_owned(),
                    key: Some(pb::AddressableKeyProto {
                        key: Some(pb::addressable_key_proto::Key::StringKey("k".into())),
                    }),
                }),
                method: "m".into(),
                arguments: "[\"[Lkotlin.Pair;\",[]]".into(),
                reason: 0,
            })),
        }),
        ..Default::default()
    }
}

/// Runs every case against one server and returns the observations by case name.
async fn observe(kind: ServerKind) -> anyhow::Result<BTreeMap<&'static str, String>> {
    let logs = log_dir(&format!("bad_input_{}", kind.name()))?;
    let mut server = ServerProcess::start(kind, &logs, &[]).await?;
    println!("layout: {} server at {}; logs in {}", kind.name(), server.endpoint, logs.display());
    let channel = connect(&server.endpoint).await?;
    let mut management = pb::node_management_client::NodeManagementClient::new(channel.clone());
    let mut seen = BTreeMap::new();

    let r = management.join_cluster(with_identity(pb::JoinClusterRequestProto::default(), None, None)).await?;
    seen.insert("join without namespace", format!("status={} {}", r.get_ref().status, r.get_ref().error_description));

    let r =
        management.renew_lease(with_identity(pb::RenewNodeLeaseRequestProto::default(), Some(NAMESPACE), None)).await?;
    seen.insert("renew without node key", format!("status={} {}", r.get_ref().status, r.get_ref().error_description));

    let r = management
        .renew_lease(with_identity(pb::RenewNodeLeaseRequestProto::default(), Some(NAMESPACE), Some("nobody")))
        .await?;
    seen.insert("renew of an unknown node", format!("status={} {}", r.get_ref().status, r.get_ref().error_description));

    let client = join(&channel, &[]).await?;
    let wrong = pb::RenewNodeLeaseRequestProto { challenge_token: "wrong".into(), capabilities: None };
    let r = management.renew_lease(with_identity(wrong, Some(NAMESPACE), Some(&client.key))).await;
    seen.insert("renew with a wrong challenge token", outcome(r, lease_text).replace(&client.key, "<key>"));
    let right = pb::RenewNodeLeaseRequestProto { challenge_token: client.token.clone(), capabilities: None };
    let r = management.renew_lease(with_identity(right, Some(NAMESPACE), Some(&client.key))).await;
    seen.insert("renew with the right token", outcome(r, |r| format!("status={}", r.status)));

    let r = management.leave_cluster(with_identity(pb::LeaveClusterRequestProto {}, Some(NAMESPACE), None)).await;
    seen.insert("leave without node key", format!("{:?}", r.map(|_| ()).map_err(|s| s.code())));

    let mut leases = pb::addressable_management_client::AddressableManagementClient::new(channel.clone());
    let r = leases
        .abandon_lease(with_identity(pb::AbandonAddressableLeaseRequestProto::default(), Some(NAMESPACE), None))
        .await;
    seen.insert("abandon without identity", outcome(r, |r| format!("abandoned={}", r.abandoned)));
    let r = leases
        .renew_lease(with_identity(pb::RenewAddressableLeaseRequestProto::default(), Some(NAMESPACE), None))
        .await;
    seen.insert(
        "addressable renew without identity",
        outcome(r, |r| format!("status={} {}", r.status, r.error_description)),
    );
    let reference = invocation(0, "x.Unhosted").content.and_then(|c| match c.content {
        Some(Content::InvocationRequest(r)) => r.reference,
        _ => None,
    });
    let request = pb::RenewAddressableLeaseRequestProto { reference: reference.clone() };
    let r = leases.renew_lease(with_identity(request, Some(NAMESPACE), None)).await;
    seen.insert(
        "addressable renew with a reference, no node key",
        outcome(r, |r| format!("status={} {}", r.status, r.error_description)),
    );
    let request = pb::AbandonAddressableLeaseRequestProto { reference };
    let r = leases.abandon_lease(with_identity(request, Some(NAMESPACE), None)).await;
    seen.insert("abandon with a reference, no node key", outcome(r, |r| format!("abandoned={}", r.abandoned)));

    let mut stream = RawStream::open(&channel, NAMESPACE, "ghost").await?;
    let first = stream.next_event(WAIT).await;
    let second = stream.next_event(WAIT).await;
    seen.insert(
        "stream for an unknown node",
        format!("{} then {}", describe_event(&first, ""), describe_event(&second, "")),
    );

    // Each malformed message gets its own fresh stream, since Kotlin closes the stream.
    let malformed: Vec<(&'static str, Bytes)> = vec![
        (
            "message with no content",
            Bytes::from(pb::MessageProto { message_id: 41, ..Default::default() }.encode_to_vec()),
        ),
        ("invocation with an unknown reason", {
            let mut m = invocation(42, "x.Unhosted");
            if let Some(Content::InvocationRequest(r)) = m.content.as_mut().and_then(|c| c.content.as_mut()) {
                r.reason = 7;
            }
            Bytes::from(m.encode_to_vec())
        }),
        ("invocation with an unset key", {
            let mut m = invocation(43, "x.Unhosted");
            if let Some(Content::InvocationRequest(r)) = m.content.as_mut().and_then(|c| c.content.as_mut()) {
                if let Some(reference) = r.reference.as_mut() {
                    reference.key = Some(pb::AddressableKeyProto { key: None });
                }
            }
            Bytes::from(m.encode_to_vec())
        }),
        ("garbage frame", Bytes::from_static(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])),
        ("oversized message (5 MiB)", {
            let mut m = invocation(44, "x.Unhosted");
            if let Some(Content::InvocationRequest(r)) = m.content.as_mut().and_then(|c| c.content.as_mut()) {
                r.arguments = "x".repeat(5 << 20);
            }
            Bytes::from(m.encode_to_vec())
        }),
    ];
    for (name, frame) in malformed {
        let member = join(&channel, &[]).await?;
        let mut stream = RawStream::open(&channel, NAMESPACE, &member.key).await?;
        stream.outbound.send(frame).await?;
        let first = stream.next_event(WAIT).await;
        let second = stream.next_event(Duration::from_secs(2)).await;
        seen.insert(
            name,
            format!("{} then {}", describe_event(&first, &member.key), describe_event(&second, &member.key)),
        );
    }

    // A type nobody hosts: placement retries for about 4 s, then an error reply.
    let member = join(&channel, &[]).await?;
    let mut stream = RawStream::open(&channel, NAMESPACE, &member.key).await?;
    stream.send(&invocation(45, "x.Unhosted")).await?;
    let event = stream.next_event(Duration::from_secs(20)).await;
    seen.insert("invocation of a type nobody hosts", describe_event(&event, &member.key));

    let mut health = pb::health::health_client::HealthClient::new(channel.clone());
    let r = health.check(pb::health::HealthCheckRequest { service: "anything".into() }).await;
    seen.insert("health check", outcome(r, |r| format!("status={}", r.status)));
    let r = health.watch(pb::health::HealthCheckRequest::default()).await;
    seen.insert("health watch", format!("{:?}", r.map(|_| ()).map_err(|s| s.code())));

    // After all of that, a new client still joins and its stream opens.
    let survivor = join(&channel, &["x.Hosted"]).await?;
    let mut stream = RawStream::open(&channel, NAMESPACE, &survivor.key).await?;
    seen.insert(
        "still serving",
        format!("stream: {}", describe_event(&stream.next_event(Duration::from_secs(1)).await, "")),
    );

    server.terminate(Duration::from_secs(20)).await?;
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_answered_as_kotlin_answers_it() -> anyhow::Result<()> {
    let kotlin = observe(ServerKind::Kotlin).await?;
    let rust = observe(ServerKind::Rust).await?;
    println!("{:<40} | {:<60} | orbit-node", "case", "kotlin orbit-server");
    for (case, k) in &kotlin {
        println!("{case:<40} | {k:<60} | {}", rust.get(case).map_or("-", String::as_str));
    }
    // Where Kotlin tears the stream down, our node answers the message and keeps serving.
    let documented: [&str; 3] =
        ["message with no content", "invocation with an unknown reason", "invocation with an unset key"];
    let mut differences = Vec::new();
    for (case, k) in &kotlin {
        let r = rust.get(case).cloned().unwrap_or_default();
        if documented.contains(case) {
            assert!(r.starts_with("message id=4"), "{case}: orbit-node should answer with the message's id: {r}");
            assert!(r.ends_with("then Silent"), "{case}: orbit-node should keep the stream open: {r}");
        } else if &r != k {
            differences.push(format!("{case}: kotlin `{k}` / rust `{r}`"));
        }
    }
    assert_eq!(kotlin["still serving"], "stream: Silent");
    assert!(differences.is_empty(), "orbit-node answers differently:\n{}", differences.join("\n"));
    Ok(())
}
