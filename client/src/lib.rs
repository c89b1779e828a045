//! The Rust Orbit client runtime: joins a cluster through any Orbit server (Kotlin's
//! orbit-server or orbit-node), hosts Rust actors that Kotlin callers reach through their
//! existing interface names, and calls any actor, Rust or Kotlin (mirrors Kotlin's
//! `orbit-client`). It depends on no server code, so a JVM bridge or a load generator built on
//! it carries no server.
//!
//! * [`ClientBuilder`] registers actor types under the Kotlin interface's name and connects.
//! * [`OrbitClient`] calls actors ([`OrbitClient::actor`]) and stops gracefully.
//! * `host`: activation, one call at a time per actor, idle deactivation, lease renewal,
//!   panics turned into error replies.
//! * `actor`, `value`, `data`: what actor authors implement, the Rust <-> JVM value
//!   conversions, and Kotlin data classes as serde structs.
//! * `codec`: the Jackson JSON of invocation arguments and results (spec section 10), read and
//!   written byte for byte as Kotlin's orbit-client serializer does.
//!
//! The client keeps one `Connection/OpenStream` open, renews its node lease when `renewAt`
//! passes (joining again with a new identity if the server refuses), reopens the stream if it
//! closes, and fails calls that get no answer within the message timeout.
//!
//! Timeouts, the idle TTL, the tick and rerouted-call deadlines run on `tokio::time`, so tests
//! can pause and advance the clock; lease timestamps, which travel on the wire, stay wall-clock.

pub mod actor;
pub mod codec;
pub mod data;
mod host;
pub mod value;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use compat_proto::{AddressableLease, InvocationReason, Message, MessageContent, MessageTarget, NodeId, NodeInfo, pb};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, info, warn};

pub use compat_proto::{AddressableReference, Key};
/// The attribute an `impl Actor` block needs (`#[orbit_client::async_trait]`).
pub use tonic::async_trait;

pub use self::actor::{Actor, ActorContext, ActorError, DeactivationReason, Invocation};
pub use self::value::{FromJvm, IntoJvm};
/// Turns a trait into an Orbit actor interface: a hosting adapter and a typed proxy
/// (`docs/rust-actors.md`).
pub use orbit_actor_macros::actor;

/// What `#[actor]` generates for a trait `T`, on `dyn T`: the Kotlin interface's name and the
/// typed proxy.
pub trait ActorInterface {
    /// The Kotlin interface's name, as callers send it.
    const INTERFACE: &'static str;
    /// The typed proxy.
    type Proxy;
    /// Wraps an actor reference in the typed proxy.
    fn proxy(actor: ActorRef) -> Self::Proxy;
}

/// Implemented by `#[actor]`'s adapter `<Trait>Actor<T>` for `dyn Trait`, so that
/// [`ClientBuilder::host`] accepts only an adapter of the interface it registers.
pub trait Hosts<I: ActorInterface + ?Sized>: Actor {}
use crate::codec::{Argument, JvmValue, decode_result, encode_arguments};

/// Client settings; the defaults are Kotlin's `OrbitClientConfig` defaults.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server, as `host:port` or `http://host:port`.
    pub endpoint: String,
    /// The application namespace.
    pub namespace: String,
    /// The maintenance tick (1 s).
    pub tick_rate: Duration,
    /// How long a call waits for its answer (10 s).
    pub message_timeout: Duration,
    /// How long an actor may stay idle before it is deactivated (10 min).
    pub actor_ttl: Duration,
    /// How long `on_deactivate` may take (10 s).
    pub deactivation_timeout: Duration,
    /// How many times joining is attempted, 1 s apart (60).
    pub join_attempts: u32,
    /// TLS to an orbit-node's TLS listener (`None`: plaintext, as every Kotlin server needs).
    /// Needs the crate's `tls` feature.
    pub tls: Option<ClientTls>,
}

/// TLS settings of a client (orbit-node's TLS listener; Kotlin servers speak plaintext only).
#[derive(Clone, Default)]
pub struct ClientTls {
    /// PEM CA certificates the server's certificate must chain to.
    pub ca_pem: Vec<u8>,
    /// PEM certificate chain and private key presented to a server that requires mTLS.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The name the server's certificate must carry; default: the endpoint's host.
    pub domain: Option<String>,
}

impl ClientConfig {
    /// Returns the default configuration for `endpoint` and `namespace`.
    pub fn new(endpoint: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            namespace: namespace.into(),
            tick_rate: Duration::from_secs(1),
            message_timeout: Duration::from_secs(10),
            actor_ttl: Duration::from_secs(600),
            deactivation_timeout: Duration::from_secs(10),
            join_attempts: 60,
            tls: None,
        }
    }
}

/// Why the client could not start.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The endpoint is not a valid URI.
    #[error("invalid endpoint {0}")]
    Endpoint(String),
    /// Joining failed on every attempt.
    #[error("cannot join the cluster: {0}")]
    Join(String),
    /// The TLS settings cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CallError {
    /// The client is stopped or has no stream.
    #[error("the Orbit client is not connected")]
    NotConnected,
    /// No answer within the message timeout.
    #[error("response timed out after {0:?}")]
    Timeout(Duration),
    /// The callee (or a server) answered with an error; the text is its description.
    #[error("Exceptional response received: {0}")]
    Remote(String),
    /// The answer could not be read as the expected type.
    #[error("unreadable response: {0}")]
    Decode(String),
}

/// How much of an actor's lease must remain for a call from its own host to skip the server.
pub const LOCAL_LEASE_MARGIN: Duration = Duration::from_secs(2);

type ActorFactory = Arc<dyn Fn(&AddressableReference) -> Box<dyn Actor> + Send + Sync>;

/// Registers actor types and connects.
pub struct ClientBuilder {
    config: ClientConfig,
    factories: HashMap<String, ActorFactory>,
}

impl ClientBuilder {
    /// Starts a client description with `config`.
    pub fn new(config: ClientConfig) -> Self {
        Self { config, factories: HashMap::new() }
    }

    /// Hosts actors of `interface_name` (the Kotlin interface's name, e.g.
    /// `com.example.Greeter`), creating each instance with `factory`.
    pub fn actor<A, F>(mut self, interface_name: impl Into<String>, factory: F) -> Self
    where
        A: Actor,
        F: Fn(&AddressableReference) -> A + Send + Sync + 'static,
    {
        let factory: ActorFactory = Arc::new(move |reference| Box::new(factory(reference)));
        self.factories.insert(interface_name.into(), factory);
        self
    }

    /// Hosts actors of the `#[actor]` interface `I`, creating each with `factory` (which wraps
    /// the implementation in the generated adapter: `builder.host::<dyn Greeter, _>(|_| GreeterActor(MyGreeter))`).
    pub fn host<I, A>(self, factory: impl Fn(&AddressableReference) -> A + Send + Sync + 'static) -> Self
    where
        I: ActorInterface + ?Sized,
        A: Hosts<I>,
    {
        self.actor(I::INTERFACE, factory)
    }

    /// Returns the registered actor types (Kotlin interface names), sorted.
    pub fn actor_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.factories.keys().cloned().collect();
        types.sort();
        types
    }

    /// Joins the cluster, opens the stream and starts the tick.
    pub async fn connect(self) -> Result<OrbitClient, ClientError> {
        // Kotlin configurations name the server `dns:///host:port` (a grpc-java target).
        let endpoint = self.config.endpoint.trim_start_matches("dns:///");
        let scheme = if self.config.tls.is_some() { "https" } else { "http" };
        if self.config.tls.is_some() && endpoint.starts_with("http://") {
            // tonic would connect in plaintext: a TLS configuration is refused, never ignored.
            return Err(ClientError::Tls(format!("{endpoint} is a plaintext URL; use https:// or host:port with TLS")));
        }
        let uri = if endpoint.contains("://") {
            endpoint.to_owned()
        } else {
            format!("{scheme}://{}", endpoint.trim_end_matches('/'))
        };
        let mut channel = Endpoint::from_shared(uri.clone()).map_err(|_| ClientError::Endpoint(uri.clone()))?;
        if let Some(tls) = &self.config.tls {
            channel = with_tls(channel, tls)?;
        }
        let channel = channel
            .connect_timeout(Duration::from_secs(10))
            // Kotlin servers accept client pings at most once a second; every 10 s is plenty
            // to notice a dead connection.
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .connect_lazy();
        let inner = Arc::new(Inner {
            config: self.config,
            channel,
            factories: self.factories,
            session: Mutex::new(None),
            stream_generation: AtomicU64::new(0),
            stream_probe: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            forwards: Mutex::new(HashMap::new()),
            next_message_id: AtomicI64::new(1),
            actors: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            token: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        let client = OrbitClient { inner };
        client.join().await?;
        let ready = client.open_stream();
        // Calls placed here before the server can route to this stream would fail, so wait
        // until the server has answered a connection-info request over it.
        if tokio::time::timeout(Duration::from_secs(10), ready).await.is_err() {
            warn!("the server did not confirm the stream within 10 s; continuing");
        }
        let ticking = client.clone();
        client.inner.tasks.spawn(async move { ticking.tick_loop().await });
        Ok(client)
    }
}

impl std::fmt::Debug for ClientTls {
    /// Never prints the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca_pem", &format_args!("{} bytes", self.ca_pem.len()))
            .field("identity", &self.identity.as_ref().map(|_| "certificate and key (redacted)"))
            .field("domain", &self.domain)
            .finish()
    }
}

/// Applies `tls` to the server endpoint.
#[cfg(feature = "tls")]
fn with_tls(endpoint: Endpoint, tls: &ClientTls) -> Result<Endpoint, ClientError> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
    if let Some((cert, key)) = &tls.identity {
        config = config.identity(Identity::from_pem(cert, key));
    }
    if let Some(domain) = &tls.domain {
        config = config.domain_name(domain.clone());
    }
    endpoint.tls_config(config).map_err(|e| ClientError::Tls(e.to_string()))
}

/// Without the `tls` feature a TLS configuration is refused, never ignored.
#[cfg(not(feature = "tls"))]
fn with_tls(_endpoint: Endpoint, _tls: &ClientTls) -> Result<Endpoint, ClientError> {
    Err(ClientError::Tls("orbit-client was built without its `tls` feature".to_owned()))
}

/// A rerouted request whose answer goes back to its original caller.
pub(crate) struct Forward {
    pub(crate) caller: NodeId,
    pub(crate) message_id: i64,
    pub(crate) since: Instant,
}

/// The node identity this client holds while connected.
struct Session {
    info: NodeInfo,
    outbound: Option<mpsc::Sender<pb::MessageProto>>,
}

struct Pending {
    answer: oneshot::Sender<Result<String, CallError>>,
    started: Instant,
}

struct Inner {
    config: ClientConfig,
    channel: Channel,
    factories: HashMap<String, ActorFactory>,
    /// A std Mutex: never held across an .await.
    session: Mutex<Option<Session>>,
    /// Counts opened streams, so the end of an old stream cannot close a newer one.
    stream_generation: AtomicU64,
    /// The id of the connection-info request that confirms a new stream, and who waits for it.
    stream_probe: Mutex<Option<(i64, oneshot::Sender<()>)>>,
    /// Calls waiting for an answer, by message id. A std Mutex: never held across an .await.
    pending: Mutex<HashMap<i64, Pending>>,
    /// Rerouted requests whose answer goes back to the original caller, by our message id.
    forwards: Mutex<HashMap<i64, Forward>>,
    next_message_id: AtomicI64,
    /// Mailboxes of active actors. A std Mutex: never held across an .await.
    actors: Mutex<HashMap<AddressableReference, host::ActorSlot>>,
    stopping: AtomicBool,
    token: CancellationToken,
    tasks: TaskTracker,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A connected client; cheap to clone.
#[derive(Clone)]
pub struct OrbitClient {
    inner: Arc<Inner>,
}

/// A reference to any actor in the cluster.
#[derive(Clone)]
pub struct ActorRef {
    client: OrbitClient,
    reference: AddressableReference,
}

impl ActorRef {
    /// Calls `method` with `arguments` and reads the answer as `T`.
    pub async fn call<T: FromJvm>(&self, method: &str, arguments: Vec<Argument>) -> Result<T, CallError> {
        let value = self.client.invoke(&self.reference, method, arguments).await?;
        T::from_jvm(value).map_err(CallError::Decode)
    }

    /// Returns the referenced actor's type and key.
    pub fn reference(&self) -> &AddressableReference {
        &self.reference
    }
}

impl OrbitClient {
    /// Returns a reference to the actor `interface_name` with `key` (Rust or Kotlin).
    pub fn actor(&self, interface_name: impl Into<String>, key: Key) -> ActorRef {
        ActorRef { client: self.clone(), reference: AddressableReference::new(interface_name, key) }
    }

    /// Returns a typed proxy to the actor `key` of the `#[actor]` interface `I`
    /// (`client.typed::<dyn Greeter>(key).greet("Joe".into()).await`).
    pub fn typed<I: ActorInterface + ?Sized>(&self, key: Key) -> I::Proxy {
        I::proxy(self.actor(I::INTERFACE, key))
    }

    /// Returns this client's node id, if it has joined.
    pub fn node_id(&self) -> Option<NodeId> {
        lock(&self.inner.session).as_ref().map(|s| s.info.id.clone())
    }

    /// Returns how many actors this client currently hosts.
    pub fn active_actor_count(&self) -> usize {
        lock(&self.inner.actors).len()
    }

    /// Calls `method` on `reference` and returns the decoded answer.
    pub async fn invoke(
        &self,
        reference: &AddressableReference,
        method: &str,
        arguments: Vec<Argument>,
    ) -> Result<JvmValue, CallError> {
        let data = self.invoke_encoded(reference, method, encode_arguments(&arguments)).await?;
        decode_result(&data).map_err(|e| CallError::Decode(e.to_string()))
    }

    /// Calls `method` on `reference` with arguments already in the Jackson form a Kotlin
    /// caller writes (`["[Lkotlin.Pair;",[...]]`), and returns the answer's JSON as the callee
    /// wrote it. For callers that encode and decode themselves (the JVM bridge, with the same
    /// Jackson configuration as Kotlin's orbit-client).
    ///
    /// A call to an actor this client hosts and has active, with at least
    /// [`LOCAL_LEASE_MARGIN`] left on its lease, goes straight to its mailbox without the round
    /// trip through the server (which would route it here); everything else goes through the
    /// server, as Kotlin's orbit-client sends every call.
    pub async fn invoke_encoded(
        &self,
        reference: &AddressableReference,
        method: &str,
        arguments: String,
    ) -> Result<String, CallError> {
        if self.inner.token.is_cancelled() {
            return Err(CallError::NotConnected);
        }
        let local =
            lock(&self.inner.actors).get(reference).is_some_and(|slot| slot.holds_lease_for(LOCAL_LEASE_MARGIN));
        if local {
            return self.invoke_locally(reference, method, arguments).await;
        }
        self.invoke_remotely(reference, method, arguments).await
    }

    /// Runs a call on an actor hosted here, under the same timeout as a remote call. If the
    /// actor is gone by the time the call is queued, the host sends it to the server.
    async fn invoke_locally(
        &self,
        reference: &AddressableReference,
        method: &str,
        arguments: String,
    ) -> Result<String, CallError> {
        let Some(caller) = self.node_id() else { return Err(CallError::NotConnected) };
        let call = match codec::decode_arguments(&arguments) {
            Ok(decoded) => Invocation { method: method.to_owned(), arguments: decoded },
            Err(error) => {
                return Err(CallError::Remote(
                    compat_proto::render::KotlinException::UndecodableArguments(error.to_string()).to_string(),
                ));
            }
        };
        let message = Message {
            message_id: self.inner.next_message_id.fetch_add(1, Ordering::Relaxed),
            source: Some(caller.clone()),
            ..Message::new(MessageContent::InvocationRequest {
                destination: reference.clone(),
                method: method.to_owned(),
                arguments,
                reason: InvocationReason::Invocation,
            })
        };
        let (answer, answered) = oneshot::channel();
        self.enqueue(reference.clone(), Box::new(host::InboundCall::local(message, caller, call, answer)));
        let limit = self.inner.config.message_timeout + self.inner.config.tick_rate;
        match tokio::time::timeout(limit, answered).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(CallError::NotConnected),
            Err(_) => Err(CallError::Timeout(self.inner.config.message_timeout)),
        }
    }

    /// Sends a call through the server and waits for its answer.
    pub(crate) async fn invoke_remotely(
        &self,
        reference: &AddressableReference,
        method: &str,
        arguments: String,
    ) -> Result<String, CallError> {
        if self.inner.token.is_cancelled() {
            return Err(CallError::NotConnected);
        }
        let message_id = self.inner.next_message_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        lock(&self.inner.pending).insert(message_id, Pending { answer, started: Instant::now() });
        let request = Message {
            message_id,
            ..Message::new(MessageContent::InvocationRequest {
                destination: reference.clone(),
                method: method.to_owned(),
                arguments,
                reason: InvocationReason::Invocation,
            })
        };
        // The timeout covers sending too: a stalled stream must not hold the caller forever.
        let limit = self.inner.config.message_timeout + self.inner.config.tick_rate;
        let exchange = async {
            self.send(request).await?;
            answered.await.map_err(|_| CallError::NotConnected)?
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(data)) => Ok(data),
            Ok(Err(error)) => {
                lock(&self.inner.pending).remove(&message_id);
                Err(error)
            }
            Err(_) => {
                lock(&self.inner.pending).remove(&message_id);
                Err(CallError::Timeout(self.inner.config.message_timeout))
            }
        }
    }

    /// Stops gracefully, as Kotlin's `OrbitClient.stop` does: leave the cluster (DRAINING, so
    /// nothing new is placed here), deactivate every actor while still serving calls to the
    /// active ones, send calls for inactive actors elsewhere, then close the stream.
    pub async fn stop(&self) {
        if self.inner.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        info!(node_id = ?self.node_id(), "stopping orbit client");
        if let Err(status) = self.rpc_leave().await {
            warn!(%status, "leave cluster failed");
        }
        self.deactivate_all(DeactivationReason::NodeShuttingDown).await;
        // Let answers to rerouted calls reach their callers before the stream closes.
        let deadline = Instant::now() + self.inner.config.message_timeout;
        while !lock(&self.inner.forwards).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.inner.token.cancel();
        if let Some(session) = lock(&self.inner.session).as_mut() {
            session.outbound = None;
        }
        self.inner.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.tasks.wait()).await;
        for (_, pending) in lock(&self.inner.pending).drain() {
            let _ = pending.answer.send(Err(CallError::NotConnected));
        }
        info!("orbit client stopped");
    }

    /// Deactivates every actor; one still busy after the deactivation timeout is stopped by
    /// force (its running call is aborted and answered with an error), as Kotlin considers it
    /// deactivated after that timeout.
    async fn deactivate_all(&self, reason: DeactivationReason) {
        for _round in 0..3 {
            let slots: Vec<host::ActorSlot> = lock(&self.inner.actors).values().cloned().collect();
            if slots.is_empty() {
                return;
            }
            let mut waits = Vec::new();
            for slot in &slots {
                let (done, finished) = oneshot::channel();
                if slot.mailbox.try_send(host::HostEvent::Deactivate(reason, done)).is_ok() {
                    waits.push(finished);
                }
            }
            let deadline = Instant::now() + self.inner.config.deactivation_timeout;
            for finished in waits {
                let _ = tokio::time::timeout_at(deadline, finished).await;
            }
            for slot in &slots {
                slot.force_stop.cancel();
            }
            let settle = Instant::now() + self.inner.config.deactivation_timeout;
            while !lock(&self.inner.actors).is_empty() && Instant::now() < settle {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let left = lock(&self.inner.actors).len();
        if left > 0 {
            warn!(left, "actors did not deactivate");
        }
    }

    fn with_identity<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let session = lock(&self.inner.session);
        let (namespace, key) = match session.as_ref() {
            Some(s) => (s.info.id.namespace.clone(), Some(s.info.id.key.clone())),
            None => (self.inner.config.namespace.clone(), None),
        };
        if let Ok(value) = MetadataValue::try_from(namespace.as_str()) {
            request.metadata_mut().insert(compat_proto::NAMESPACE_HEADER, value);
        }
        if let Some(value) = key.and_then(|k| MetadataValue::try_from(k.as_str()).ok()) {
            request.metadata_mut().insert(compat_proto::NODE_KEY_HEADER, value);
        }
        request
    }

    fn capabilities(&self) -> pb::CapabilitiesProto {
        let mut types: Vec<String> = self.inner.factories.keys().cloned().collect();
        types.sort();
        pb::CapabilitiesProto { addressable_types: types }
    }

    async fn join(&self) -> Result<(), ClientError> {
        *lock(&self.inner.session) = None;
        let mut last_error = String::new();
        for attempt in 1..=self.inner.config.join_attempts.max(1) {
            let mut management = pb::node_management_client::NodeManagementClient::new(self.inner.channel.clone());
            let request = self.with_identity(pb::JoinClusterRequestProto { capabilities: Some(self.capabilities()) });
            let joined = tokio::time::timeout(Duration::from_secs(30), management.join_cluster(request)).await;
            match joined.unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("join timed out"))) {
                Ok(response) => {
                    let response = response.into_inner();
                    let info = response.info.map(NodeInfo::try_from);
                    match (response.status, info) {
                        (0, Some(Ok(info))) => {
                            info!(node_id = %info.id, "joined the cluster");
                            *lock(&self.inner.session) = Some(Session { info, outbound: None });
                            return Ok(());
                        }
                        _ => last_error = response.error_description,
                    }
                }
                Err(status) => last_error = status.to_string(),
            }
            debug!(attempt, error = %last_error, "join failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(ClientError::Join(last_error))
    }

    /// Opens the stream; a task drives it (grpc-java sends response headers only with the
    /// first message, so opening must not wait for them) and dispatches what arrives.
    /// Returns a future that completes once the server answers a connection-info request on
    /// the new stream, i.e. once messages can be routed to this client.
    fn open_stream(&self) -> impl std::future::Future<Output = ()> + use<> {
        let (outbound, rx) = mpsc::channel::<pb::MessageProto>(10_000);
        let request = self.with_identity(ReceiverStream::new(rx));
        let generation = self.inner.stream_generation.fetch_add(1, Ordering::SeqCst) + 1;
        let probe_id = self.inner.next_message_id.fetch_add(1, Ordering::Relaxed);
        let (confirmed, confirmation) = oneshot::channel();
        *lock(&self.inner.stream_probe) = Some((probe_id, confirmed));
        let probe = Message { message_id: probe_id, ..Message::new(MessageContent::ConnectionInfoRequest) };
        let _ = outbound.try_send(pb::MessageProto::from(probe));
        if let Some(session) = lock(&self.inner.session).as_mut() {
            session.outbound = Some(outbound);
        }
        let client = self.clone();
        self.inner.tasks.spawn(async move {
            let mut connection = pb::connection_client::ConnectionClient::new(client.inner.channel.clone());
            let mut inbound = tokio::select! {
                () = client.inner.token.cancelled() => return,
                opened = connection.open_stream(request) => match opened {
                    Ok(response) => response.into_inner(),
                    Err(status) => {
                        warn!(%status, "stream could not be opened");
                        client.mark_stream_closed(Some(generation));
                        return;
                    }
                },
            };
            loop {
                let next = tokio::select! {
                    () = client.inner.token.cancelled() => return,
                    next = inbound.message() => next,
                };
                match next {
                    Ok(Some(wire)) => client.on_message(wire).await,
                    Ok(None) => break,
                    Err(status) => {
                        warn!(%status, "stream failed");
                        break;
                    }
                }
            }
            client.mark_stream_closed(Some(generation));
        });
        async move {
            let _ = confirmation.await;
        }
    }

    /// Forgets the stream so the tick reopens it; with a generation, only if no newer
    /// stream has been opened since.
    fn mark_stream_closed(&self, generation: Option<u64>) {
        if generation.is_some_and(|g| g != self.inner.stream_generation.load(Ordering::SeqCst)) {
            return;
        }
        if let Some(session) = lock(&self.inner.session).as_mut() {
            session.outbound = None;
        }
    }

    async fn send(&self, message: Message) -> Result<(), CallError> {
        let outbound = lock(&self.inner.session).as_ref().and_then(|s| s.outbound.clone());
        let outbound = outbound.ok_or(CallError::NotConnected)?;
        outbound.send(pb::MessageProto::from(message)).await.map_err(|_| CallError::NotConnected)
    }

    async fn on_message(&self, wire: pb::MessageProto) {
        let message = match Message::try_from(wire) {
            Ok(message) => message,
            Err(error) => {
                warn!(error = %error, "malformed message from the server");
                return;
            }
        };
        let message_id = message.message_id;
        let outcome = match &message.content {
            MessageContent::InvocationRequest { .. } => {
                self.dispatch(message);
                return;
            }
            MessageContent::InvocationResponse { data } => Ok(data.clone()),
            MessageContent::Error { description } | MessageContent::InvocationResponseError { description, .. } => {
                Err(CallError::Remote(description.clone()))
            }
            MessageContent::ConnectionInfoResponse { .. } => {
                let mut probe = lock(&self.inner.stream_probe);
                if probe.as_ref().is_some_and(|(id, _)| *id == message_id) {
                    if let Some((_, confirmed)) = probe.take() {
                        let _ = confirmed.send(());
                    }
                }
                return;
            }
            MessageContent::ConnectionInfoRequest => return,
        };
        if message_id == 0 {
            // A stream-level error (e.g. our node id expired): the tick will rejoin.
            warn!(?outcome, "stream error from the server");
            self.mark_stream_closed(None);
            return;
        }
        let forward = lock(&self.inner.forwards).remove(&message_id);
        if let Some(forward) = forward {
            let reply = Message {
                message_id: forward.message_id,
                target: Some(MessageTarget::Unicast(forward.caller)),
                ..Message::new(message.content)
            };
            let _ = self.send(reply).await;
            return;
        }
        match lock(&self.inner.pending).remove(&message_id) {
            Some(pending) => {
                let _ = pending.answer.send(outcome);
            }
            None => debug!(message_id, "answer for an unknown or expired call"),
        }
    }

    async fn tick_loop(&self) {
        let mut interval = tokio::time::interval(self.inner.config.tick_rate);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.inner.token.cancelled() => return,
                _ = interval.tick() => {}
            }
            self.tick().await;
        }
    }

    async fn tick(&self) {
        let (stream_open, renew_due) = match lock(&self.inner.session).as_ref() {
            Some(s) => (s.outbound.is_some(), s.info.lease.renew_at.is_before(compat_proto::Timestamp::now())),
            None => (false, true),
        };
        if self.node_id().is_none() {
            if let Err(error) = self.join().await {
                warn!(error = %error, "rejoin failed");
                return;
            }
            drop(self.open_stream()); // The tick does not wait for the confirmation.
        } else if !stream_open && !self.inner.stopping.load(Ordering::SeqCst) {
            info!("reopening the stream");
            drop(self.open_stream()); // The tick does not wait for the confirmation.
        }
        if renew_due {
            self.renew_node_lease().await;
        }
        let timeout = self.inner.config.message_timeout;
        let expired: Vec<Pending> = {
            let mut pending = lock(&self.inner.pending);
            let ids: Vec<i64> =
                pending.iter().filter(|(_, p)| p.started.elapsed() > timeout).map(|(id, _)| *id).collect();
            ids.into_iter().filter_map(|id| pending.remove(&id)).collect()
        };
        for call in expired {
            let _ = call.answer.send(Err(CallError::Timeout(timeout)));
        }
        let unanswered: Vec<Forward> = {
            let mut forwards = lock(&self.inner.forwards);
            let ids: Vec<i64> =
                forwards.iter().filter(|(_, f)| f.since.elapsed() > timeout).map(|(id, _)| *id).collect();
            ids.into_iter().filter_map(|id| forwards.remove(&id)).collect()
        };
        for forward in unanswered {
            let description = compat_proto::render::KotlinException::ReroutedCallTimedOut(timeout).to_string();
            self.spawn_reply(forward.caller, forward.message_id, Err(description));
        }
    }

    async fn renew_node_lease(&self) {
        let token = match lock(&self.inner.session).as_ref() {
            Some(s) => s.info.lease.challenge_token.clone(),
            None => return,
        };
        let mut management = pb::node_management_client::NodeManagementClient::new(self.inner.channel.clone());
        let request = self.with_identity(pb::RenewNodeLeaseRequestProto {
            challenge_token: token,
            capabilities: Some(self.capabilities()),
        });
        let renewed = tokio::time::timeout(Duration::from_secs(10), management.renew_lease(request)).await;
        let renewed = renewed.unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("node lease renewal timed out")));
        match renewed {
            Ok(response) => {
                let response = response.into_inner();
                match response.info.map(NodeInfo::try_from) {
                    Some(Ok(info)) if response.status == 0 => {
                        if let Some(session) = lock(&self.inner.session).as_mut() {
                            session.info = info;
                        }
                    }
                    _ => {
                        // Kotlin restarts the client with a new identity; so do we.
                        warn!(error = %response.error_description, "node lease renewal refused; joining again");
                        self.deactivate_all(DeactivationReason::LeaseRenewalFailed).await;
                        self.mark_stream_closed(None);
                        *lock(&self.inner.session) = None;
                    }
                }
            }
            Err(status) => warn!(%status, "node lease renewal failed; retrying next tick"),
        }
    }

    async fn rpc_leave(&self) -> Result<(), tonic::Status> {
        let mut management = pb::node_management_client::NodeManagementClient::new(self.inner.channel.clone());
        let leave = management.leave_cluster(self.with_identity(pb::LeaveClusterRequestProto {}));
        match tokio::time::timeout(Duration::from_secs(30), leave).await {
            Ok(outcome) => outcome.map(|_| ()),
            Err(_) => Err(tonic::Status::deadline_exceeded("leave cluster timed out")),
        }
    }

    /// Validates ownership of `reference` (and extends it): the server refuses when another
    /// node holds the lease.
    async fn renew_addressable_lease(&self, reference: &AddressableReference) -> Result<AddressableLease, String> {
        let mut leases =
            pb::addressable_management_client::AddressableManagementClient::new(self.inner.channel.clone());
        let request =
            self.with_identity(pb::RenewAddressableLeaseRequestProto { reference: Some(reference.clone().into()) });
        let response = tokio::time::timeout(Duration::from_secs(10), leases.renew_lease(request))
            .await
            .map_err(|_| "addressable lease renewal timed out".to_owned())?
            .map_err(|s| s.to_string())?
            .into_inner();
        match response.lease.map(AddressableLease::try_from) {
            Some(Ok(lease)) if response.status == 0 => Ok(lease),
            _ => Err(response.error_description),
        }
    }

    async fn abandon_addressable_lease(&self, reference: &AddressableReference) {
        let mut leases =
            pb::addressable_management_client::AddressableManagementClient::new(self.inner.channel.clone());
        let request =
            self.with_identity(pb::AbandonAddressableLeaseRequestProto { reference: Some(reference.clone().into()) });
        match tokio::time::timeout(Duration::from_secs(10), leases.abandon_lease(request)).await {
            Ok(Ok(_)) => {}
            Ok(Err(status)) => debug!(%status, %reference, "abandon lease failed"),
            Err(_) => debug!(%reference, "abandon lease timed out"),
        }
    }
}
