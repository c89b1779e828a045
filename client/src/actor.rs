//! What a Rust actor implements, and what it is given.

use std::fmt;

use compat_proto::AddressableReference;

use crate::OrbitClient;
use crate::codec::{Argument, JvmValue};
use crate::value::FromJvm;

/// Why an actor is being deactivated (Kotlin's `DeactivationReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeactivationReason {
    /// Idle for longer than the client's actor TTL.
    TtlExpired,
    /// The client is stopping.
    NodeShuttingDown,
    /// The addressable lease could not be renewed.
    LeaseRenewalFailed,
    /// The actor failed (a panic in Rust).
    ExternallyTriggered,
}

impl fmt::Display for DeactivationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TtlExpired => "TTL_EXPIRED",
            Self::NodeShuttingDown => "NODE_SHUTTING_DOWN",
            Self::LeaseRenewalFailed => "LEASE_RENEWAL_FAILED",
            Self::ExternallyTriggered => "EXTERNALLY_TRIGGERED",
        })
    }
}

/// A failed call, as the caller will see it: a JVM-style `<class>: <message>` description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorError {
    /// The exception class name the caller sees (`java.lang.IllegalArgumentException`).
    pub class: String,
    /// The message.
    pub message: String,
}

impl ActorError {
    /// Returns an error with a JVM exception class name and a message.
    pub fn new(class: impl Into<String>, message: impl Into<String>) -> Self {
        Self { class: class.into(), message: message.into() }
    }

    /// Returns `java.lang.IllegalArgumentException: <message>`.
    pub fn illegal_argument(message: impl Into<String>) -> Self {
        Self::new("java.lang.IllegalArgumentException", message)
    }

    /// Returns `java.lang.IllegalStateException: <message>`.
    pub fn illegal_state(message: impl Into<String>) -> Self {
        Self::new("java.lang.IllegalStateException", message)
    }

    /// Returns the error a Kotlin host gives for a method it does not have:
    /// `java.lang.NoSuchMethodException: <method>(<class list>)`.
    pub fn no_such_method(call: &Invocation) -> Self {
        let classes: Vec<String> = call.arguments.iter().map(|a| class_to_string(&a.declared_class)).collect();
        Self::new("java.lang.NoSuchMethodException", format!("{}({})", call.method, classes.join(", ")))
    }
}

/// JDK interfaces a Kotlin parameter commonly declares; `Class.toString` calls them
/// `interface ...`.
const JDK_INTERFACES: [&str; 14] = [
    "java.util.List",
    "java.util.Map",
    "java.util.Set",
    "java.util.Collection",
    "java.util.Queue",
    "java.util.Deque",
    "java.util.SortedMap",
    "java.util.SortedSet",
    "java.util.NavigableMap",
    "java.util.NavigableSet",
    "java.lang.Iterable",
    "java.lang.CharSequence",
    "java.lang.Comparable",
    "java.io.Serializable",
];

/// Renders a class name as Java's `Class.toString` does (`int`, `class java.lang.String`,
/// `interface java.util.List`).
fn class_to_string(name: &str) -> String {
    match name {
        "int" | "long" | "double" | "float" | "boolean" | "byte" | "short" | "char" | "void" => name.to_owned(),
        interface if JDK_INTERFACES.contains(&interface) => format!("interface {interface}"),
        other => format!("class {other}"),
    }
}

/// Renders as `Throwable.toString()`.
impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

impl std::error::Error for ActorError {}

/// A failed call made by an actor, as the actor's own failure (so `?` works on calls), in the
/// form a Kotlin actor's awaited call throws: `orbit.client.util.RemoteException` with the
/// callee's description, or `orbit.client.util.TimeoutException`.
impl From<crate::CallError> for ActorError {
    fn from(error: crate::CallError) -> Self {
        match error {
            crate::CallError::Remote(description) => {
                Self::new("orbit.client.util.RemoteException", format!("Exceptional response received: {description}"))
            }
            crate::CallError::Timeout(after) => Self::new(
                "orbit.client.util.TimeoutException",
                format!("Response timed out after {}ms", after.as_millis()),
            ),
            other => Self::illegal_state(other.to_string()),
        }
    }
}

/// One call to a hosted actor.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The JVM method name.
    pub method: String,
    /// The arguments with their declared classes.
    pub arguments: Vec<Argument>,
}

impl Invocation {
    /// Returns whether the call is `method` with exactly these declared parameter classes
    /// (Kotlin dispatches on name plus parameter classes).
    pub fn is(&self, method: &str, parameter_classes: &[&str]) -> bool {
        self.method == method
            && self.arguments.len() == parameter_classes.len()
            && self.arguments.iter().zip(parameter_classes).all(|(a, c)| a.declared_class == *c)
    }

    /// Returns argument `index` converted to `T`, or an `IllegalArgumentException`.
    pub fn arg<T: FromJvm>(&self, index: usize) -> Result<T, ActorError> {
        let argument = self
            .arguments
            .get(index)
            .ok_or_else(|| ActorError::illegal_argument(format!("{} has no argument {index}", self.method)))?;
        T::from_jvm(argument.value.clone())
            .map_err(|e| ActorError::illegal_argument(format!("argument {index} of {}: {e}", self.method)))
    }
}

/// What an actor knows about itself while it runs.
#[derive(Clone)]
pub struct ActorContext {
    /// The actor's type and key.
    pub reference: AddressableReference,
    /// The client hosting it, for calling other actors.
    pub client: OrbitClient,
}

/// A Rust actor. One instance exists per activated reference; its calls run one at a time,
/// in arrival order.
#[tonic::async_trait]
pub trait Actor: Send + 'static {
    /// Runs before the first call. An error fails the call that caused the activation.
    async fn on_activate(&mut self, _context: &ActorContext) -> Result<(), ActorError> {
        Ok(())
    }

    /// Runs when the actor is deactivated.
    async fn on_deactivate(&mut self, _context: &ActorContext, _reason: DeactivationReason) {}

    /// Handles one call. Return [`ActorError::no_such_method`] for calls you do not know.
    async fn invoke(&mut self, context: &ActorContext, call: Invocation) -> Result<JvmValue, ActorError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::IntoJvm;

    #[test]
    fn no_such_method_reads_like_the_jvm() {
        let call = Invocation { method: "greet".into(), arguments: vec!["x".into_argument(), 1i32.into_argument()] };
        assert_eq!(
            ActorError::no_such_method(&call).to_string(),
            "java.lang.NoSuchMethodException: greet(class java.lang.String, int)"
        );
        let list = Invocation { method: "echoList".into(), arguments: vec![vec!["a".to_owned()].into_argument()] };
        assert_eq!(
            ActorError::no_such_method(&list).to_string(),
            "java.lang.NoSuchMethodException: echoList(interface java.util.List)",
            "Class.toString of an interface"
        );
        let forwarded = ActorError::from(crate::CallError::Remote("java.lang.IllegalStateException: no".into()));
        assert_eq!(
            forwarded.to_string(),
            "orbit.client.util.RemoteException: Exceptional response received: java.lang.IllegalStateException: no"
        );
        assert!(call.is("greet", &["java.lang.String", "int"]));
        assert!(!call.is("greet", &["java.lang.String"]));
        assert_eq!(call.arg::<String>(0), Ok("x".to_owned()));
        assert!(call.arg::<String>(1).is_err());
        assert!(call.arg::<String>(5).is_err());
    }
}
