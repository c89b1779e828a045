//! Raw streams: a caller and a host that speak the protocol straight from the generated types,
//! without the client runtime (no actor mailboxes, no argument decoding, no per-call
//! timers). What they cost is close to nothing, so a run in this mode measures the server.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use compat_proto::pb::message_content_proto::Content;
use compat_proto::pb::{self, message_target_proto};
use compat_proto::{AddressableReference, Message, MessageContent, NodeInfo, Timestamp};
use orbit_client::codec::{JvmValue, encode_result};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, warn};

/// How long a raw host may take to leave and give up its leases.
const HOST_STOP_LIMIT: Duration = Duration::from_secs(30);

/// How many messages may wait to be written to the stream.
const OUTBOUND_BUFFER: usize = 65_536;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Opens a lazily connected channel to `endpoint` (`host:port`, `http://host:port`, or
/// grpc-java's `dns:///host:port`).
pub fn channel(endpoint: &str) -> anyhow::Result<Channel> {
    let endpoint = endpoint.trim_start_matches("dns:///");
    let uri = if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") };
    Ok(Endpoint::from_shared(uri.clone())
        .with_context(|| format!("invalid server address {uri}"))?
        .connect_timeout(Duration::from_secs(10))
        .connect_lazy())
}

/// A joined node with one open stream.
struct Session {
    channel: Channel,
    namespace: String,
    capabilities: Vec<String>,
    info: Mutex<NodeInfo>,
    outbound: mpsc::Sender<pb::MessageProto>,
}

impl Session {
    /// Joins `namespace` with `capabilities`, opens the stream and starts renewing the node
    /// lease; returns the session and the opening of the stream's inbound half.
    async fn open(
        channel: Channel,
        namespace: &str,
        capabilities: Vec<String>,
    ) -> anyhow::Result<(Arc<Self>, Opening)> {
        let mut management = pb::node_management_client::NodeManagementClient::new(channel.clone());
        let mut request =
            tonic::Request::new(pb::JoinClusterRequestProto { capabilities: Some(capabilities_proto(&capabilities)) });
        request.metadata_mut().insert(compat_proto::NAMESPACE_HEADER, MetadataValue::try_from(namespace)?);
        let joined = tokio::time::timeout(Duration::from_secs(30), management.join_cluster(request))
            .await
            .context("joining timed out")?
            .context("joining failed")?
            .into_inner();
        let info = match joined.info.map(NodeInfo::try_from) {
            Some(Ok(info)) if joined.status == 0 => info,
            _ => bail!("the server refused the join: {}", joined.error_description),
        };
        let (outbound, rx) = mpsc::channel(OUTBOUND_BUFFER);
        // grpc-java answers the stream's headers only with its first message: ask for one.
        let probe = Message::new(MessageContent::ConnectionInfoRequest);
        outbound.try_send(pb::MessageProto::from(probe)).context("the new stream's buffer is full")?;
        let mut request = tonic::Request::new(ReceiverStream::new(rx));
        request.metadata_mut().insert(compat_proto::NAMESPACE_HEADER, MetadataValue::try_from(namespace)?);
        request.metadata_mut().insert(compat_proto::NODE_KEY_HEADER, MetadataValue::try_from(info.id.key.as_str())?);
        let mut connection = pb::connection_client::ConnectionClient::new(channel.clone());
        // grpc-java sends the response headers with its first message only: opening must not
        // hold up sending, so the stream's reader waits for it instead.
        let inbound: Opening = Box::pin(async move {
            connection.open_stream(request).await.map(tonic::Response::into_inner).map_err(|s| s.to_string())
        });
        let session =
            Arc::new(Self { channel, namespace: namespace.to_owned(), capabilities, info: Mutex::new(info), outbound });
        let renewing = Arc::downgrade(&session);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(session) = renewing.upgrade() else { return };
                if session.outbound.is_closed() {
                    return;
                }
                let due = lock(&session.info).lease.renew_at.is_before(Timestamp::now());
                if due && let Err(error) = session.renew().await {
                    warn!(%error, "node lease renewal failed");
                }
            }
        });
        Ok((session, inbound))
    }

    /// Leaves the cluster, so the server places nothing more here.
    async fn leave(&self) -> anyhow::Result<()> {
        let key = lock(&self.info).id.key.clone();
        let mut management = pb::node_management_client::NodeManagementClient::new(self.channel.clone());
        let mut request = tonic::Request::new(pb::LeaveClusterRequestProto {});
        request
            .metadata_mut()
            .insert(compat_proto::NAMESPACE_HEADER, MetadataValue::try_from(self.namespace.as_str())?);
        request.metadata_mut().insert(compat_proto::NODE_KEY_HEADER, MetadataValue::try_from(key.as_str())?);
        tokio::time::timeout(Duration::from_secs(10), management.leave_cluster(request))
            .await
            .context("leaving timed out")??;
        Ok(())
    }

    /// Gives up the lease of the actor `reference`.
    async fn abandon(&self, reference: pb::AddressableReferenceProto) -> anyhow::Result<()> {
        let key = lock(&self.info).id.key.clone();
        let mut leases = pb::addressable_management_client::AddressableManagementClient::new(self.channel.clone());
        let mut request = tonic::Request::new(pb::AbandonAddressableLeaseRequestProto { reference: Some(reference) });
        request
            .metadata_mut()
            .insert(compat_proto::NAMESPACE_HEADER, MetadataValue::try_from(self.namespace.as_str())?);
        request.metadata_mut().insert(compat_proto::NODE_KEY_HEADER, MetadataValue::try_from(key.as_str())?);
        tokio::time::timeout(Duration::from_secs(10), leases.abandon_lease(request))
            .await
            .context("giving up a lease timed out")??;
        Ok(())
    }

    async fn renew(&self) -> anyhow::Result<()> {
        let (token, key) = {
            let info = lock(&self.info);
            (info.lease.challenge_token.clone(), info.id.key.clone())
        };
        let mut management = pb::node_management_client::NodeManagementClient::new(self.channel.clone());
        let mut request = tonic::Request::new(pb::RenewNodeLeaseRequestProto {
            challenge_token: token,
            capabilities: Some(capabilities_proto(&self.capabilities)),
        });
        request
            .metadata_mut()
            .insert(compat_proto::NAMESPACE_HEADER, MetadataValue::try_from(self.namespace.as_str())?);
        request.metadata_mut().insert(compat_proto::NODE_KEY_HEADER, MetadataValue::try_from(key.as_str())?);
        let renewed = management.renew_lease(request).await?.into_inner();
        match renewed.info.map(NodeInfo::try_from) {
            Some(Ok(info)) if renewed.status == 0 => {
                *lock(&self.info) = info;
                Ok(())
            }
            _ => bail!("renewal refused: {}", renewed.error_description),
        }
    }
}

fn capabilities_proto(types: &[String]) -> pb::CapabilitiesProto {
    pb::CapabilitiesProto { addressable_types: types.to_vec() }
}

type Answer = Result<String, String>;

/// The inbound half of a stream, once the server has answered its opening.
type Opening =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<tonic::Streaming<pb::MessageProto>, String>> + Send>>;

/// A caller on its own stream: requests go out as prepared messages, answers are matched by
/// message id.
pub struct RawCaller {
    /// Keeps the node lease renewed while the caller lives (`None` for the echo server).
    _session: Option<Arc<Session>>,
    outbound: mpsc::Sender<pb::MessageProto>,
    reading: tokio::task::JoinHandle<()>,
    pending: Arc<Mutex<HashMap<i64, oneshot::Sender<Answer>>>>,
    next_id: AtomicI64,
}

impl RawCaller {
    /// Joins `namespace` on `channel` as a node hosting nothing.
    pub async fn connect(channel: Channel, namespace: &str) -> anyhow::Result<Self> {
        let (session, inbound) = Session::open(channel, namespace, Vec::new()).await?;
        let outbound = session.outbound.clone();
        Ok(Self::start(outbound, inbound, Some(session)))
    }

    /// Opens a stream to the echo server of [`serve_echo`] (no join: it is no Orbit server).
    pub async fn connect_echo(channel: Channel) -> anyhow::Result<Self> {
        let (outbound, rx) = mpsc::channel(OUTBOUND_BUFFER);
        let mut connection = pb::connection_client::ConnectionClient::new(channel);
        let inbound: Opening = Box::pin(async move {
            connection
                .open_stream(ReceiverStream::new(rx))
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| s.to_string())
        });
        Ok(Self::start(outbound, inbound, None))
    }

    fn start(outbound: mpsc::Sender<pb::MessageProto>, opening: Opening, session: Option<Arc<Session>>) -> Self {
        let pending: Arc<Mutex<HashMap<i64, oneshot::Sender<Answer>>>> = Arc::default();
        let answers = Arc::clone(&pending);
        let reading = tokio::spawn(async move {
            let mut inbound = match opening.await {
                Ok(inbound) => inbound,
                Err(status) => {
                    warn!(%status, "the caller's stream could not be opened");
                    for (_, waiting) in lock(&answers).drain() {
                        let _ = waiting.send(Err(format!("the caller's stream could not be opened: {status}")));
                    }
                    return;
                }
            };
            while let Some(message) = next_message(&mut inbound, "caller").await {
                let answer = match message.content.and_then(|c| c.content) {
                    Some(Content::InvocationResponse(response)) => Ok(response.value),
                    Some(Content::InvocationResponseError(error)) => Err(error.description),
                    Some(Content::Error(error)) => Err(error.description),
                    _ => continue,
                };
                match lock(&answers).remove(&message.message_id) {
                    Some(waiting) => {
                        let _ = waiting.send(answer);
                    }
                    None => debug!(message_id = message.message_id, "answer for no pending call"),
                }
            }
            // The stream is gone: every waiting call fails now rather than at its timeout.
            for (_, waiting) in lock(&answers).drain() {
                let _ = waiting.send(Err("the caller's stream closed".to_owned()));
            }
        });
        Self { _session: session, outbound, reading, pending, next_id: AtomicI64::new(1) }
    }

    /// Sends `request` (an invocation request prepared by [`request`]) and waits for its
    /// answer's JSON.
    pub async fn call(&self, mut request: pb::MessageProto, timeout: Duration) -> Answer {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        request.message_id = id;
        let (answer, answered) = oneshot::channel();
        lock(&self.pending).insert(id, answer);
        let exchange = async {
            self.outbound.send(request).await.map_err(|_| "the caller's stream closed".to_owned())?;
            answered.await.map_err(|_| "the caller's stream closed".to_owned())?
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => {
                lock(&self.pending).remove(&id);
                Err(format!("no answer within {timeout:?}"))
            }
        }
    }
}

impl Drop for RawCaller {
    fn drop(&mut self) {
        self.reading.abort();
    }
}

/// Prepares the invocation request of `method` on `reference` with `arguments` (Jackson JSON).
pub fn request(reference: &AddressableReference, method: &str, arguments: &str) -> pb::MessageProto {
    pb::MessageProto::from(Message::new(MessageContent::InvocationRequest {
        destination: reference.clone(),
        method: method.to_owned(),
        arguments: arguments.to_owned(),
        reason: compat_proto::InvocationReason::Invocation,
    }))
}

/// A host on its own stream that answers every `echoString` call of the actor types it
/// declares with the argument it was sent, without decoding anything but the one string.
pub struct RawHost {
    session: Arc<Session>,
    answering: tokio::task::JoinHandle<()>,
    /// The actors this host has answered for (the server placed them here).
    placed: Arc<Mutex<HashSet<pb::AddressableReferenceProto>>>,
}

impl Drop for RawHost {
    fn drop(&mut self) {
        // Ends the stream: the server sees the host go as if its process had stopped.
        self.answering.abort();
    }
}

impl RawHost {
    /// Joins `namespace` on `channel` declaring `actor_types`, and answers calls until the
    /// stream ends.
    pub async fn connect(channel: Channel, namespace: &str, actor_types: Vec<String>) -> anyhow::Result<Self> {
        let (session, opening) = Session::open(channel, namespace, actor_types).await?;
        let replies = Arc::clone(&session);
        let placed: Arc<Mutex<HashSet<pb::AddressableReferenceProto>>> = Arc::default();
        let seen = Arc::clone(&placed);
        let answering = tokio::spawn(async move {
            let mut inbound = match opening.await {
                Ok(inbound) => inbound,
                Err(status) => {
                    warn!(%status, "the host's stream could not be opened");
                    return;
                }
            };
            while let Some(message) = next_message(&mut inbound, "host").await {
                let Some(Content::InvocationRequest(call)) = message.content.and_then(|c| c.content) else { continue };
                if let Some(reference) = &call.reference {
                    let mut placed = lock(&seen);
                    if !placed.contains(reference) {
                        placed.insert(reference.clone());
                    }
                }
                let reply = pb::MessageProto {
                    target: message.source.map(|caller| pb::MessageTargetProto {
                        target: Some(message_target_proto::Target::UnicastTarget(message_target_proto::Unicast {
                            target: Some(caller),
                        })),
                    }),
                    ..echo_reply(message.message_id, &call)
                };
                if replies.outbound.send(reply).await.is_err() {
                    break;
                }
            }
        });
        Ok(Self { session, answering, placed })
    }

    /// Stops as a Kotlin client does: leaves the cluster (so nothing new is placed here),
    /// gives up the lease of every actor it answered for (so the next call places it again
    /// at once rather than after this node's lease expires), then closes the stream.
    pub async fn stop(self) {
        // However slow the server, stopping gives up after this long (the leases then expire).
        if tokio::time::timeout(HOST_STOP_LIMIT, self.give_up_everything()).await.is_err() {
            warn!("a raw host gave up stopping after {HOST_STOP_LIMIT:?}");
        }
    }

    async fn give_up_everything(&self) {
        if let Err(error) = self.session.leave().await {
            warn!(%error, "a raw host could not leave the cluster");
        }
        let placed: Vec<pb::AddressableReferenceProto> = lock(&self.placed).drain().collect();
        for chunk in placed.chunks(64) {
            let mut abandons = tokio::task::JoinSet::new();
            for reference in chunk {
                let session = Arc::clone(&self.session);
                let reference = reference.clone();
                abandons.spawn(async move { session.abandon(reference).await });
            }
            while let Some(outcome) = abandons.join_next().await {
                if let Ok(Err(error)) = outcome {
                    warn!(%error, "a raw host could not give up an actor's lease");
                }
            }
        }
    }
}

/// Serves, on `listener`, a bare `Connection/OpenStream` that answers every invocation
/// request on the stream it came from, as a host would: no join, no directory, no routing.
/// Its rate is the most a server could do for a round trip over one stream on this machine.
pub async fn serve_echo(listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tonic::transport::Server::builder()
        .add_service(pb::connection_server::ConnectionServer::new(EchoServer))
        .serve_with_incoming(incoming)
        .await
        .context("the echo server failed")
}

/// [`serve_echo`] on 127.0.0.1:`port`.
pub async fn serve_echo_on(port: u16) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    serve_echo(listener).await
}

struct EchoServer;

#[tonic::async_trait]
impl pb::connection_server::Connection for EchoServer {
    type OpenStreamStream = ReceiverStream<Result<pb::MessageProto, tonic::Status>>;

    async fn open_stream(
        &self,
        request: tonic::Request<tonic::Streaming<pb::MessageProto>>,
    ) -> Result<tonic::Response<Self::OpenStreamStream>, tonic::Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(OUTBOUND_BUFFER);
        tokio::spawn(async move {
            while let Some(message) = next_message(&mut inbound, "echo server").await {
                let Some(Content::InvocationRequest(call)) = message.content.and_then(|c| c.content) else { continue };
                if tx.send(Ok(echo_reply(message.message_id, &call))).await.is_err() {
                    break;
                }
            }
        });
        Ok(tonic::Response::new(ReceiverStream::new(rx)))
    }
}

/// Reads the next message of a stream; `None` when it ended or failed (logged, naming `who`
/// reads it).
async fn next_message(inbound: &mut tonic::Streaming<pb::MessageProto>, who: &str) -> Option<pb::MessageProto> {
    match inbound.message().await {
        Ok(message) => message,
        Err(status) => {
            warn!(%status, "{who} stream failed");
            None
        }
    }
}

/// The reply to invocation request `message_id` carrying `call`, without a target: an
/// `invocation_response` with the echo, or an `error`.
fn echo_reply(message_id: i64, call: &pb::InvocationRequestProto) -> pb::MessageProto {
    let content = match echoed(call) {
        Ok(value) => Content::InvocationResponse(pb::InvocationResponseProto { value }),
        Err(description) => Content::Error(pb::ErrorProto { description }),
    };
    pb::MessageProto {
        message_id,
        content: Some(pb::MessageContentProto { content: Some(content) }),
        ..pb::MessageProto::default()
    }
}

/// The answer of an echo actor to `call`: for `echoString(String)` the argument string as
/// Jackson writes a `String` result; for anything else the JVM's exception text.
fn echoed(call: &pb::InvocationRequestProto) -> Result<String, String> {
    if call.method != "echoString" {
        return Err(format!("java.lang.NoSuchMethodException: {}", call.method));
    }
    // `["[Lkotlin.Pair;",[["kotlin.Pair",{"first":"<value>","second":[...]}]]]`
    let parsed: serde_json::Value = serde_json::from_str(&call.arguments)
        .map_err(|e| format!("java.lang.IllegalArgumentException: undecodable arguments: {e}"))?;
    match &parsed[1][0][1]["first"] {
        serde_json::Value::String(value) => Ok(encode_result(&JvmValue::String(value.clone()))),
        other => Err(format!("java.lang.IllegalArgumentException: echoString expects a String, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orbit_client::IntoJvm;
    use orbit_client::codec::encode_arguments;

    #[test]
    fn the_raw_host_answers_what_the_client_codec_encodes() {
        let arguments = encode_arguments(&["héllo \"x\"".into_argument()]);
        let call =
            pb::InvocationRequestProto { reference: None, method: "echoString".to_owned(), arguments, reason: 0 };
        assert_eq!(echoed(&call), Ok("\"héllo \\\"x\\\"\"".to_owned()));
        let other = pb::InvocationRequestProto { method: "ping".to_owned(), ..call };
        assert_eq!(echoed(&other), Err("java.lang.NoSuchMethodException: ping".to_owned()));
    }
}
