//! Hosting actors: activation after a lease check, one call at a time per actor in arrival
//! order, idle deactivation, lease renewal, and panics turned into error replies (mirrors
//! `execution/ExecutionSystem.kt` and `ExecutionHandle.kt`).
//!
//! Each active actor has a supervisor task that owns its mailbox. Every call and hook runs in
//! a task of its own that hands the actor back when it finishes, so a panic loses that one
//! actor instance, never the client: the caller gets an error, the actor is deactivated, and
//! calls still queued for it go through dispatch again.

use std::sync::atomic::Ordering;
use std::time::Instant;

use compat_proto::render::KotlinException;
use compat_proto::{AddressableReference, InvocationReason, Message, MessageContent, MessageTarget, NodeId};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::{ActorFactory, OrbitClient, lock};
use crate::client::actor::{Actor, ActorContext, ActorError, DeactivationReason, Invocation};
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

/// A call received for a hosted actor.
pub(crate) struct InboundCall {
    /// The request as received (re-sent as is when rerouted).
    message: Message,
    caller: NodeId,
    call: Invocation,
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
        let call = match decode_arguments(arguments) {
            Ok(arguments) => Invocation { method: method.clone(), arguments },
            Err(error) => {
                // Kotlin never answers here and its caller waits forever; we answer.
                let description = format!("java.lang.IllegalArgumentException: undecodable arguments: {error}");
                self.spawn_reply(caller, message.message_id, Err(description));
                return;
            }
        };
        self.enqueue(reference, Box::new(InboundCall { message, caller, call }));
    }

    fn enqueue(&self, reference: AddressableReference, inbound: Box<InboundCall>) {
        let mut actors = lock(&self.inner.actors);
        if let Some(mailbox) = actors.get(&reference) {
            match mailbox.try_send(HostEvent::Invoke(inbound)) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(HostEvent::Invoke(inbound))) => {
                    drop(actors);
                    let description = KotlinException::MailboxFull(reference).to_string();
                    self.spawn_reply(inbound.caller, inbound.message.message_id, Err(description));
                    return;
                }
                Err(mpsc::error::TrySendError::Full(_)) => return,
                Err(mpsc::error::TrySendError::Closed(HostEvent::Invoke(inbound))) => {
                    // The actor just finished deactivating: activate a new instance below.
                    actors.remove(&reference);
                    drop(actors);
                    return self.enqueue(reference, inbound);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        if self.inner.stopping.load(Ordering::SeqCst) {
            drop(actors);
            self.reroute(inbound);
            return;
        }
        let Some(factory) = self.inner.factories.get(&reference.addressable_type).cloned() else {
            drop(actors);
            let description = format!("java.lang.ClassNotFoundException: {}", reference.addressable_type);
            self.spawn_reply(inbound.caller, inbound.message.message_id, Err(description));
            return;
        };
        let (mailbox, events) = mpsc::channel(MAILBOX_CAPACITY);
        let _ = mailbox.try_send(HostEvent::Invoke(inbound));
        actors.insert(reference.clone(), mailbox);
        drop(actors);
        let client = self.clone();
        self.inner.tasks.spawn(async move { client.supervise(reference, factory, events).await });
    }

    /// Sends a request for an actor this stopping client no longer runs back to the server
    /// with `reason = rerouted`, and forwards its answer to the original caller.
    fn reroute(&self, inbound: Box<InboundCall>) {
        let our_id = self.inner.next_message_id.fetch_add(1, Ordering::Relaxed);
        let InboundCall { mut message, caller, .. } = *inbound;
        lock(&self.inner.forwards).insert(our_id, (caller, message.message_id));
        if let MessageContent::InvocationRequest { reason, .. } = &mut message.content {
            *reason = InvocationReason::Rerouted;
        }
        message.message_id = our_id;
        message.source = None;
        let client = self.clone();
        self.inner.tasks.spawn(async move {
            if client.send(message).await.is_err() {
                lock(&client.inner.forwards).remove(&our_id);
            }
        });
    }

    fn spawn_reply(&self, caller: NodeId, message_id: i64, outcome: Result<String, String>) {
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
    ) {
        let context = ActorContext { reference: reference.clone(), client: self.clone() };
        let mut lease = match self.renew_addressable_lease(&reference).await {
            Ok(lease) => lease,
            Err(description) => {
                debug!(%reference, %description, "not the owner of this actor");
                return self.fail_queued(&reference, events, description).await;
            }
        };
        let actor = factory(&reference);
        let activation_context = context.clone();
        let activated = tokio::spawn(async move {
            let mut actor = actor;
            let outcome = actor.on_activate(&activation_context).await;
            (actor, outcome)
        })
        .await;
        let mut actor = match activated {
            Ok((actor, Ok(()))) => actor,
            Ok((_, Err(error))) => return self.fail_queued(&reference, events, error.to_string()).await,
            Err(panic) => {
                let description = panic_description(&reference, "on_activate", &panic);
                self.abandon_addressable_lease(&reference).await;
                return self.fail_queued(&reference, events, description).await;
            }
        };

        let config = &self.inner.config;
        let mut last_activity = Instant::now();
        let mut interval = tokio::time::interval(config.tick_rate);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.inner.token.cancelled() => return,
                event = events.recv() => match event {
                    None => return,
                    Some(HostEvent::Invoke(inbound)) => {
                        last_activity = Instant::now();
                        let call_context = context.clone();
                        let call = inbound.call;
                        let ran = tokio::spawn(async move {
                            let outcome = actor.invoke(&call_context, call).await;
                            (actor, outcome)
                        })
                        .await;
                        match ran {
                            Ok((returned, outcome)) => {
                                actor = returned;
                                let outcome = outcome.map(|value| encode_result(&value)).map_err(|e| e.to_string());
                                self.reply(inbound.caller, inbound.message.message_id, outcome).await;
                            }
                            Err(panic) => {
                                let description = panic_description(&reference, "a call", &panic);
                                warn!(%reference, %description, "actor panicked; deactivating it");
                                self.reply(inbound.caller, inbound.message.message_id, Err(description)).await;
                                return self.retire(&reference, None, DeactivationReason::ExternallyTriggered, events).await;
                            }
                        }
                    }
                    Some(HostEvent::Deactivate(reason, done)) => {
                        self.retire(&reference, Some(actor), reason, events).await;
                        let _ = done.send(());
                        return;
                    }
                },
                _ = interval.tick() => {
                    if last_activity.elapsed() > config.actor_ttl {
                        return self.retire(&reference, Some(actor), DeactivationReason::TtlExpired, events).await;
                    }
                    if lease.renew_at.is_before(compat_proto::Timestamp::now()) {
                        match self.renew_addressable_lease(&reference).await {
                            Ok(renewed) => lease = renewed,
                            Err(description) => {
                                warn!(%reference, %description, "addressable lease renewal failed");
                                return self
                                    .retire(&reference, Some(actor), DeactivationReason::LeaseRenewalFailed, events)
                                    .await;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Deactivates: forget the actor (new calls activate a new instance), run `on_deactivate`
    /// within the deactivation timeout, abandon the lease, and dispatch again the calls that
    /// were still queued.
    async fn retire(
        &self,
        reference: &AddressableReference,
        actor: Option<Box<dyn Actor>>,
        reason: DeactivationReason,
        mut events: mpsc::Receiver<HostEvent>,
    ) {
        lock(&self.inner.actors).remove(reference);
        if let Some(mut actor) = actor {
            let context = ActorContext { reference: reference.clone(), client: self.clone() };
            let hook = tokio::spawn(async move { actor.on_deactivate(&context, reason).await });
            match tokio::time::timeout(self.inner.config.deactivation_timeout, hook).await {
                Ok(Ok(())) => {}
                Ok(Err(panic)) => warn!(%reference, error = %panic, "on_deactivate panicked"),
                Err(_) => warn!(%reference, "on_deactivate timed out"),
            }
        }
        self.abandon_addressable_lease(reference).await;
        debug!(%reference, %reason, "deactivated");
        events.close();
        while let Ok(event) = events.try_recv() {
            match event {
                HostEvent::Invoke(inbound) => self.enqueue(reference.clone(), inbound),
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
        lock(&self.inner.actors).remove(reference);
        events.close();
        while let Some(event) = events.recv().await {
            match event {
                HostEvent::Invoke(inbound) => {
                    self.reply(inbound.caller, inbound.message.message_id, Err(description.clone())).await;
                }
                HostEvent::Deactivate(_, done) => {
                    let _ = done.send(());
                }
            }
        }
    }
}

/// Describes a panic as the JVM exception a Kotlin caller will see.
fn panic_description(reference: &AddressableReference, during: &str, panic: &tokio::task::JoinError) -> String {
    let detail = if panic.is_panic() { "panicked" } else { "was cancelled" };
    ActorError::new("java.lang.RuntimeException", format!("Rust actor {reference} {detail} during {during}"))
        .to_string()
}
