//! Hosting actors: activation after a lease check, one call at a time per actor in arrival
//! order, idle deactivation, lease renewal, and panics turned into error replies (mirrors
//! `execution/ExecutionSystem.kt` and `ExecutionHandle.kt`).
//!
//! Each active actor has a supervisor task that owns its mailbox. Every call and hook runs in
//! a task of its own that hands the actor back when it finishes, so a panic loses that one
//! actor instance, never the client: the caller gets an error and the actor is deactivated.
//! An actor stays registered until its lease is abandoned, so no second instance can start
//! while it deactivates; calls that arrive meanwhile go back to the server, which places them
//! again, and their answers are forwarded to the original callers.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use compat_proto::render::KotlinException;
use compat_proto::{
    AddressableLease, AddressableReference, InvocationReason, Message, MessageContent, MessageTarget, NodeId,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{debug, warn};

use super::{ActorFactory, CallError, OrbitClient, lock};
use crate::actor::{Actor, ActorContext, DeactivationReason, Invocation};
use crate::codec::{decode_arguments, encode_result};

/// Kotlin's per-addressable mailbox size.
const MAILBOX_CAPACITY: usize = 128;

/// What an actor's supervisor is asked to do.
pub(crate) enum HostEvent {
    /// Run a call.
    Invoke(Box<InboundCall>),
    /// Deactivate, then signal.
    Deactivate(DeactivationReason, oneshot::Sender<()>),
}

/// A registered actor: its mailbox, and a token that forces it to stop at once (an actor
/// stuck in a call past the deactivation timeout).
#[derive(Clone)]
pub(crate) struct ActorSlot {
    pub(crate) mailbox: mpsc::Sender<HostEvent>,
    pub(crate) force_stop: CancellationToken,
    /// When the actor's addressable lease runs out (Unix ms; 0 until it is activated).
    pub(crate) lease_expires_at: Arc<AtomicI64>,
}

impl ActorSlot {
    /// Whether calls from this client may go straight to the mailbox: the actor is active
    /// here and its lease is valid for at least `margin` more (the server would route the
    /// call here too).
    pub(crate) fn holds_lease_for(&self, margin: std::time::Duration) -> bool {
        let margin = i64::try_from(margin.as_millis()).unwrap_or(i64::MAX);
        self.lease_expires_at.load(Ordering::Acquire)
            > compat_proto::Timestamp::now().as_millis().saturating_add(margin)
    }
}

/// A call received for a hosted actor.
pub(crate) struct InboundCall {
    /// The request as received (sent back to the server as is when it must be placed again).
    message: Message,
    caller: NodeId,
    call: Invocation,
    /// Whether this call was already sent back to the server once (it is not sent twice).
    resent: bool,
    /// Set for a call this client made to an actor it hosts itself: the answer goes here
    /// instead of over the stream.
    local: Option<oneshot::Sender<Result<String, CallError>>>,
}

impl InboundCall {
    /// A call from this client to an actor it hosts (see [`OrbitClient::invoke_locally`]).
    pub(crate) fn local(
        message: Message,
        caller: NodeId,
        call: Invocation,
        answer: oneshot::Sender<Result<String, CallError>>,
    ) -> Self {
        Self { message, caller, call, resent: false, local: Some(answer) }
    }
}

impl OrbitClient {
    /// Routes an invocation request to its actor, activating it if needed.
    pub(crate) fn dispatch(&self, message: Message) {
        let Some(caller) = message.source.clone() else {
            warn!(message_id = message.message_id, "invocation request without source; dropped");
            return;
        };
        let MessageContent::InvocationRequest { destination, method, arguments, .. } = &message.content else {
            return;
        };
        let reference = destination.clone();
        // A request we sent back to the server that the server placed on us again: it comes
        // from us, under an id we are forwarding. It is not sent back a second time.
        let resent =
            self.node_id().as_ref() == Some(&caller) && lock(&self.inner.forwards).contains_key(&message.message_id);
        let call = match decode_arguments(arguments) {
            Ok(arguments) => Invocation { method: method.clone(), arguments },
            Err(error) => {
                // Kotlin never answers here and its caller waits forever; we answer.
                let description = KotlinException::UndecodableArguments(error.to_string()).to_string();
                self.spawn_reply(caller, message.message_id, Err(description));
                return;
            }
        };
        self.enqueue(reference, Box::new(InboundCall { message, caller, call, resent, local: None }));
    }

    /// Answers `inbound`: through the stream to its caller, or to the local caller.
    async fn answer(&self, inbound: InboundCall, outcome: Result<String, String>) {
        match inbound.local {
            Some(local) => {
                let _ = local.send(outcome.map_err(CallError::Remote));
            }
            None => self.reply(inbound.caller, inbound.message.message_id, outcome).await,
        }
    }

    fn spawn_answer(&self, inbound: InboundCall, outcome: Result<String, String>) {
        let client = self.clone();
        self.inner.tasks.spawn(async move { client.answer(inbound, outcome).await });
    }

    pub(crate) fn enqueue(&self, reference: AddressableReference, inbound: Box<InboundCall>) {
        let mut actors = lock(&self.inner.actors);
        if let Some(slot) = actors.get(&reference) {
            match slot.mailbox.try_send(HostEvent::Invoke(inbound)) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(HostEvent::Invoke(inbound))) => {
                    drop(actors);
                    let description = KotlinException::MailboxFull(reference).to_string();
                    self.spawn_answer(*inbound, Err(description));
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(HostEvent::Invoke(inbound))) => {
                    // The actor is going away: let the server place the call again.
                    drop(actors);
                    return self.resend(inbound);
                }
                Err(_) => return,
            }
        }
        if self.inner.stopping.load(Ordering::SeqCst) {
            drop(actors);
            self.resend(inbound);
            return;
        }
        let Some(factory) = self.inner.factories.get(&reference.addressable_type).cloned() else {
            drop(actors);
            let description = KotlinException::ClassNotFound(reference.addressable_type.clone()).to_string();
            self.spawn_answer(*inbound, Err(description));
            return;
        };
        let (mailbox, events) = mpsc::channel(MAILBOX_CAPACITY);
        let _ = mailbox.try_send(HostEvent::Invoke(inbound));
        let force_stop = self.inner.token.child_token();
        let lease_expires_at = Arc::new(AtomicI64::new(0));
        actors.insert(
            reference.clone(),
            ActorSlot { mailbox, force_stop: force_stop.clone(), lease_expires_at: lease_expires_at.clone() },
        );
        drop(actors);
        let client = self.clone();
        self.inner
            .tasks
            .spawn(async move { client.supervise(reference, factory, events, force_stop, lease_expires_at).await });
    }

    /// Sends a call this client will not run back to the server to be placed again and
    /// forwards the answer to the original caller. While stopping it goes as `rerouted`, so the
    /// server avoids this node (as Kotlin does); otherwise as a plain invocation, which the
    /// server may place here again. A call already sent back once is answered with an error.
    fn resend(&self, inbound: Box<InboundCall>) {
        let InboundCall { mut message, caller, resent, local, .. } = *inbound;
        if let Some(local) = local {
            // Our own call: it goes to the server like any other call of ours.
            let client = self.clone();
            self.inner.tasks.spawn(async move {
                if let MessageContent::InvocationRequest { destination, method, arguments, .. } = message.content {
                    let _ = local.send(client.invoke_remotely(&destination, &method, arguments).await);
                }
            });
            return;
        }
        if resent {
            let description =
                KotlinException::CouldNotRenewLease(destination_of(&message).unwrap_or_else(unknown_reference))
                    .to_string();
            self.spawn_reply(caller, message.message_id, Err(description));
            return;
        }
        let our_id = self.inner.next_message_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.forwards)
            .insert(our_id, super::Forward { caller, message_id: message.message_id, since: Instant::now() });
        if let MessageContent::InvocationRequest { reason, .. } = &mut message.content {
            *reason = if self.inner.stopping.load(Ordering::SeqCst) {
                InvocationReason::Rerouted
            } else {
                InvocationReason::Invocation
            };
        }
        message.message_id = our_id;
        message.source = None;
        message.target = None;
        let client = self.clone();
        self.inner.tasks.spawn(async move {
            if client.send(message).await.is_err() {
                if let Some(forward) = lock(&client.inner.forwards).remove(&our_id) {
                    client.spawn_reply(
                        forward.caller,
                        forward.message_id,
                        Err(KotlinException::ClientNotConnected.to_string()),
                    );
                }
            }
        });
    }

    pub(crate) fn spawn_reply(&self, caller: NodeId, message_id: i64, outcome: Result<String, String>) {
        let client = self.clone();
        self.inner.tasks.spawn(async move { client.reply(caller, message_id, outcome).await });
    }

    /// Answers a call: `invocation_response` with the JSON value, or `error` with the
    /// description (Kotlin's default, which any caller can read).
    async fn reply(&self, caller: NodeId, message_id: i64, outcome: Result<String, String>) {
        let content = match outcome {
            Ok(data) => MessageContent::InvocationResponse { data },
            Err(description) => MessageContent::Error { description },
        };
        let reply = Message { message_id, target: Some(MessageTarget::Unicast(caller)), ..Message::new(content) };
        if self.send(reply).await.is_err() {
            warn!(message_id, "reply lost: no stream");
        }
    }

    async fn supervise(
        &self,
        reference: AddressableReference,
        factory: ActorFactory,
        mut events: mpsc::Receiver<HostEvent>,
        force_stop: CancellationToken,
        lease_expires_at: Arc<AtomicI64>,
    ) {
        let context = ActorContext { reference: reference.clone(), client: self.clone() };
        let (mut actor, mut lease) = match self.activate(&context, factory).await {
            Activation::Ready(actor, lease) => {
                lease_expires_at.store(lease.expires_at.as_millis(), Ordering::Release);
                (actor, lease)
            }
            Activation::NotOwner(description) => {
                // Not the owner (the lease moved or was abandoned): the server places again.
                debug!(%reference, %description, "not the owner of this actor; sending its calls back");
                return self.retire(&reference, None, DeactivationReason::LeaseRenewalFailed, events, false).await;
            }
            Activation::Failed(description) => return self.fail_queued(&reference, events, description).await,
        };
        let config = &self.inner.config;
        let mut last_activity = Instant::now();
        let mut interval = tokio::time::interval(config.tick_rate);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = force_stop.cancelled() => {
                    return self.retire(&reference, Some(actor), DeactivationReason::NodeShuttingDown, events, true).await;
                }
                event = events.recv() => match event {
                    None => return,
                    Some(HostEvent::Invoke(inbound)) => {
                        last_activity = Instant::now();
                        actor = match self.run_call(&context, actor, *inbound, &force_stop).await {
                            CallEnd::Done(actor) => actor,
                            CallEnd::Aborted => {
                                return self.retire(&reference, None, DeactivationReason::NodeShuttingDown, events, true).await;
                            }
                            CallEnd::Panicked => {
                                return self
                                    .retire(&reference, None, DeactivationReason::ExternallyTriggered, events, true)
                                    .await;
                            }
                        };
                    }
                    Some(HostEvent::Deactivate(reason, done)) => {
                        self.retire(&reference, Some(actor), reason, events, true).await;
                        let _ = done.send(());
                        return;
                    }
                },
                _ = interval.tick() => {
                    if last_activity.elapsed() > config.actor_ttl {
                        return self.retire(&reference, Some(actor), DeactivationReason::TtlExpired, events, true).await;
                    }
                    if lease.renew_at.is_before(compat_proto::Timestamp::now()) {
                        match self.renew_addressable_lease(&reference).await {
                            Ok(renewed) => {
                                lease_expires_at.store(renewed.expires_at.as_millis(), Ordering::Release);
                                lease = renewed;
                            }
                            Err(description) => {
                                warn!(%reference, %description, "addressable lease renewal failed");
                                return self
                                    .retire(&reference, Some(actor), DeactivationReason::LeaseRenewalFailed, events, false)
                                    .await;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Checks that this client holds the actor's lease, then creates the actor and runs its
    /// `on_activate` (a panic there is an activation failure, not a crash).
    async fn activate(&self, context: &ActorContext, factory: ActorFactory) -> Activation {
        let reference = &context.reference;
        let lease = match self.renew_addressable_lease(reference).await {
            Ok(lease) => lease,
            Err(description) => return Activation::NotOwner(description),
        };
        let actor = factory(reference);
        let activation_context = context.clone();
        let activated = AbortOnDropHandle::new(tokio::spawn(async move {
            let mut actor = actor;
            let outcome = actor.on_activate(&activation_context).await;
            (actor, outcome)
        }))
        .await;
        match activated {
            Ok((actor, Ok(()))) => Activation::Ready(actor, lease),
            Ok((_, Err(error))) => Activation::Failed(error.to_string()),
            Err(panic) => Activation::Failed(panic_description(reference, "on_activate", &panic)),
        }
    }

    /// Runs one call on its own task and answers it: the result, the actor's error, or the
    /// JVM exception for a panic or for a call still running when the actor is forced to stop.
    async fn run_call(
        &self,
        context: &ActorContext,
        mut actor: Box<dyn Actor>,
        inbound: InboundCall,
        force_stop: &CancellationToken,
    ) -> CallEnd {
        let reference = &context.reference;
        let call_context = context.clone();
        let mut inbound = inbound;
        let call = Invocation {
            method: std::mem::take(&mut inbound.call.method),
            arguments: std::mem::take(&mut inbound.call.arguments),
        };
        let running = AbortOnDropHandle::new(tokio::spawn(async move {
            let outcome = actor.invoke(&call_context, call).await;
            (actor, outcome)
        }));
        let ran = tokio::select! {
            ran = running => ran,
            () = force_stop.cancelled() => {
                // Stuck past the deactivation timeout: the call is aborted.
                let description = KotlinException::DeactivatedWhileRunning(reference.clone()).to_string();
                self.answer(inbound, Err(description)).await;
                return CallEnd::Aborted;
            }
        };
        match ran {
            Ok((returned, outcome)) => {
                let outcome = outcome.map(|value| encode_result(&value)).map_err(|e| e.to_string());
                self.answer(inbound, outcome).await;
                CallEnd::Done(returned)
            }
            Err(panic) => {
                let description = panic_description(reference, "a call", &panic);
                warn!(%reference, %description, "actor panicked; deactivating it");
                self.answer(inbound, Err(description)).await;
                CallEnd::Panicked
            }
        }
    }

    /// Deactivates: run `on_deactivate` within the deactivation timeout, abandon the lease
    /// (when we hold it), and only then forget the actor; calls that were queued or arrived
    /// meanwhile go back to the server to be placed again.
    async fn retire(
        &self,
        reference: &AddressableReference,
        actor: Option<Box<dyn Actor>>,
        reason: DeactivationReason,
        mut events: mpsc::Receiver<HostEvent>,
        holds_lease: bool,
    ) {
        if let Some(mut actor) = actor {
            let context = ActorContext { reference: reference.clone(), client: self.clone() };
            let hook = AbortOnDropHandle::new(tokio::spawn(async move { actor.on_deactivate(&context, reason).await }));
            match tokio::time::timeout(self.inner.config.deactivation_timeout, hook).await {
                Ok(Ok(())) => {}
                Ok(Err(panic)) => warn!(%reference, error = %panic, "on_deactivate panicked"),
                Err(_) => warn!(%reference, "on_deactivate timed out"),
            }
        }
        if holds_lease {
            self.abandon_addressable_lease(reference).await;
        }
        lock(&self.inner.actors).remove(reference);
        debug!(%reference, %reason, "deactivated");
        events.close();
        while let Ok(event) = events.try_recv() {
            match event {
                HostEvent::Invoke(inbound) => self.resend(inbound),
                HostEvent::Deactivate(_, done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    async fn fail_queued(
        &self,
        reference: &AddressableReference,
        mut events: mpsc::Receiver<HostEvent>,
        description: String,
    ) {
        self.abandon_addressable_lease(reference).await;
        lock(&self.inner.actors).remove(reference);
        events.close();
        while let Some(event) = events.recv().await {
            match event {
                HostEvent::Invoke(inbound) => self.answer(*inbound, Err(description.clone())).await,
                HostEvent::Deactivate(_, done) => {
                    let _ = done.send(());
                }
            }
        }
    }
}

fn destination_of(message: &Message) -> Option<AddressableReference> {
    match &message.content {
        MessageContent::InvocationRequest { destination, .. } => Some(destination.clone()),
        _ => None,
    }
}

fn unknown_reference() -> AddressableReference {
    AddressableReference::new("", compat_proto::Key::None)
}

/// How an actor's activation ended.
enum Activation {
    /// Active, with its lease.
    Ready(Box<dyn Actor>, AddressableLease),
    /// This client does not hold the lease (the description says why).
    NotOwner(String),
    /// `on_activate` failed or panicked; the description is what callers receive.
    Failed(String),
}

/// How one call ended for its actor.
enum CallEnd {
    /// Answered; the actor keeps serving.
    Done(Box<dyn Actor>),
    /// Aborted because the actor was forced to stop.
    Aborted,
    /// The actor panicked and is dropped.
    Panicked,
}

/// Describes a panic as the JVM exception a Kotlin caller will see.
fn panic_description(reference: &AddressableReference, during: &'static str, panic: &tokio::task::JoinError) -> String {
    KotlinException::ActorPanicked { reference: reference.clone(), panicked: panic.is_panic(), during }.to_string()
}
