//! Rust actors exported to the JVM, written as a user's own library would be: a few actor
//! types against the client runtime and one `export_actors!` call. The bridge's JVM tests load
//! this library; Kotlin callers reach the actors through the interfaces in the tests
//! (`dev.orbitrust.bridge.test.*`).

use orbit_jvm_bridge::client::codec::JvmValue;
use orbit_jvm_bridge::client::{Actor, ActorContext, ActorError, IntoJvm, Invocation, Key, async_trait};

/// The Kotlin interfaces these actors implement.
pub const GREETER: &str = "dev.orbitrust.bridge.test.RustGreeter";
/// `ActorWithInt32Key`.
pub const INT32: &str = "dev.orbitrust.bridge.test.RustInt32Actor";
/// `ActorWithInt64Key`.
pub const INT64: &str = "dev.orbitrust.bridge.test.RustInt64Actor";
/// `ActorWithNoKey`.
pub const SINGLETON: &str = "dev.orbitrust.bridge.test.RustSingleton";
/// A greeter whose Kotlin interface sits in a package a Kotlin client scans: the trap of spec
/// 5.8 (the Kotlin client advertises it without implementing it).
pub const TRAPPED: &str = "dev.orbitrust.bridge.test.trap.TrappedGreeter";
/// A Kotlin-hosted actor the greeter calls.
pub const KOTLIN_GREETER: &str = "dev.orbitrust.bridge.test.kotlin.KotlinGreeter";

/// Greets, counts, echoes, fails on request, panics on request, and relays to Kotlin.
#[derive(Default)]
struct Greeter {
    count: i32,
}

#[async_trait]
impl Actor for Greeter {
    async fn invoke(&mut self, context: &ActorContext, call: Invocation) -> Result<JvmValue, ActorError> {
        let Key::String(key) = &context.reference.key else {
            return Err(ActorError::illegal_state("a greeter needs a string key"));
        };
        if call.is("greet", &["java.lang.String"]) {
            Ok(format!("Hello {}, from Rust actor {key}", call.arg::<String>(0)?).into_jvm())
        } else if call.is("count", &[]) {
            self.count += 1;
            Ok(self.count.into_jvm())
        } else if call.is("echo", &["java.lang.Object"]) {
            Ok(call.arguments[0].value.clone())
        } else if call.is("fail", &["java.lang.String"]) {
            Err(ActorError::illegal_state(call.arg::<String>(0)?))
        } else if call.is("explode", &[]) {
            panic!("the Rust greeter {key} was asked to explode");
        } else if call.is("relay", &["java.lang.String"]) {
            let name: String = call.arg(0)?;
            let kotlin = context.client.actor(KOTLIN_GREETER, Key::String(key.clone()));
            let answer: String = kotlin
                .call("greet", vec![name.into_argument()])
                .await
                .map_err(|e| ActorError::illegal_state(format!("the Kotlin greeter failed: {e}")))?;
            Ok(format!("Rust relayed: {answer}").into_jvm())
        } else {
            Err(ActorError::no_such_method(&call))
        }
    }
}

/// Answers its own key (`key()`), for each key kind.
struct KeyEcho;

#[async_trait]
impl Actor for KeyEcho {
    async fn invoke(&mut self, context: &ActorContext, call: Invocation) -> Result<JvmValue, ActorError> {
        if !call.is("key", &[]) {
            return Err(ActorError::no_such_method(&call));
        }
        Ok(match &context.reference.key {
            Key::Int32(key) => (*key).into_jvm(),
            Key::Int64(key) => JvmValue::Long(*key),
            Key::String(key) => key.clone().into_jvm(),
            Key::None => "no key".into_jvm(),
        })
    }
}

orbit_jvm_bridge::export_actors!(|builder| builder
    .actor(GREETER, |_| Greeter::default())
    .actor(TRAPPED, |_| Greeter::default())
    .actor(INT32, |_| KeyEcho)
    .actor(INT64, |_| KeyEcho)
    .actor(SINGLETON, |_| KeyEcho));
