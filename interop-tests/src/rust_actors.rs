//! Rust implementations of the harness's Kotlin actor interfaces (`orbit.harness.actors.*`),
//! registered under the same interface names so Kotlin callers reach them unchanged.

use std::time::Duration;

use orbit_client::codec::JvmValue;
use orbit_client::{Actor, ActorContext, ActorError, ClientBuilder, IntoJvm, Invocation};

/// The four keyed echo interfaces of the harness.
pub const ECHO_INTERFACES: [&str; 4] = [
    "orbit.harness.actors.EchoActor",
    "orbit.harness.actors.Int32EchoActor",
    "orbit.harness.actors.Int64EchoActor",
    "orbit.harness.actors.NoKeyEchoActor",
];

/// The harness's `EchoBase` methods, in Rust. `fail("panic")` panics, to test that a panic
/// becomes an error reply.
#[derive(Default)]
pub struct RustEcho {
    calls: i32,
}

/// Returns the single argument unchanged: an echo answers with what it received.
fn echo(call: &Invocation) -> Result<JvmValue, ActorError> {
    call.arguments.first().map(|a| a.value.clone()).ok_or_else(|| ActorError::no_such_method(call))
}

#[tonic::async_trait]
impl Actor for RustEcho {
    async fn invoke(&mut self, context: &ActorContext, call: Invocation) -> Result<JvmValue, ActorError> {
        let classes: Vec<&str> = call.arguments.iter().map(|a| a.declared_class.as_str()).collect();
        match (call.method.as_str(), classes.as_slice()) {
            ("echoString" | "echoNullableString", ["java.lang.String"])
            | ("echoInt", ["int"])
            | ("echoLong", ["long"])
            | ("echoDouble", ["double"])
            | ("echoBoolean", ["boolean"])
            | ("echoNullableInt", ["java.lang.Integer"])
            | ("echoNullableLong", ["java.lang.Long"])
            | ("echoList" | "echoLongList", ["java.util.List"])
            | ("echoMap", ["java.util.Map"])
            | ("echoSet", ["java.util.Set"])
            | ("echoPayload", ["orbit.harness.actors.Payload"])
            | ("echoInner", ["orbit.harness.actors.Inner"]) => echo(&call),
            ("ping", []) => Ok("pong".into_jvm()),
            ("unit", ["java.lang.String"]) => Ok(().into_jvm()),
            ("key", []) => Ok(context.reference.key.to_string().into_jvm()),
            ("fail", ["java.lang.String"]) => {
                let message: String = call.arg(0)?;
                if message == "panic" {
                    panic!("asked to panic");
                }
                Err(ActorError::illegal_argument(message))
            }
            ("slow", ["long"]) => {
                let millis: i64 = call.arg(0)?;
                tokio::time::sleep(Duration::from_millis(u64::try_from(millis).unwrap_or(0))).await;
                Ok(format!("slept {millis}").into_jvm())
            }
            ("concat", ["java.lang.String", "int", "long", "boolean"]) => {
                let (text, number, big, flag): (String, i32, i64, bool) =
                    (call.arg(0)?, call.arg(1)?, call.arg(2)?, call.arg(3)?);
                Ok(format!("{text}|{number}|{big}|{flag}").into_jvm())
            }
            ("count", []) => {
                self.calls += 1;
                Ok(self.calls.into_jvm())
            }
            _ => Err(ActorError::no_such_method(&call)),
        }
    }
}

/// Registers [`RustEcho`] under all four echo interfaces.
pub fn with_echo_actors(builder: ClientBuilder) -> ClientBuilder {
    ECHO_INTERFACES.iter().fold(builder, |builder, name| builder.actor(*name, |_| RustEcho::default()))
}

/// The harness's `EchoBase` (every method the battery calls) as a typed `#[actor]` interface:
/// what a team rewriting `EchoActor` in Rust would write. Kotlin data classes, sets and maps
/// of mixed values travel as [`JvmValue`] with their Kotlin parameter class named.
#[orbit_client::actor(interface = "orbit.harness.actors.EchoActor")]
pub trait EchoBase {
    /// `echoString(String)`.
    async fn echo_string(&mut self, value: String) -> Result<String, ActorError>;
    /// `echoInt(Int)`.
    async fn echo_int(&mut self, value: i32) -> Result<i32, ActorError>;
    /// `echoLong(Long)`.
    async fn echo_long(&mut self, value: i64) -> Result<i64, ActorError>;
    /// `echoDouble(Double)`.
    async fn echo_double(&mut self, value: f64) -> Result<f64, ActorError>;
    /// `echoBoolean(Boolean)`.
    async fn echo_boolean(&mut self, value: bool) -> Result<bool, ActorError>;
    /// `echoNullableString(String?)`.
    async fn echo_nullable_string(&mut self, value: Option<String>) -> Result<Option<String>, ActorError>;
    /// `echoNullableInt(Int?)`.
    async fn echo_nullable_int(&mut self, value: Option<i32>) -> Result<Option<i32>, ActorError>;
    /// `echoNullableLong(Long?)`.
    async fn echo_nullable_long(&mut self, value: Option<i64>) -> Result<Option<i64>, ActorError>;
    /// `echoList(List<String>)`.
    async fn echo_list(&mut self, value: Vec<String>) -> Result<Vec<String>, ActorError>;
    /// `echoLongList(List<Long>)`.
    async fn echo_long_list(&mut self, value: Vec<i64>) -> Result<Vec<i64>, ActorError>;
    /// `echoMap(Map<String, Int>)`: the map as sent (its runtime class kept).
    async fn echo_map(&mut self, #[orbit(class = "java.util.Map")] value: JvmValue) -> Result<JvmValue, ActorError>;
    /// `echoSet(Set<String>)`.
    async fn echo_set(&mut self, #[orbit(class = "java.util.Set")] value: JvmValue) -> Result<JvmValue, ActorError>;
    /// `echoPayload(Payload)`.
    async fn echo_payload(
        &mut self,
        #[orbit(class = "orbit.harness.actors.Payload")] value: JvmValue,
    ) -> Result<JvmValue, ActorError>;
    /// `echoInner(Inner)`.
    async fn echo_inner(
        &mut self,
        #[orbit(class = "orbit.harness.actors.Inner")] value: JvmValue,
    ) -> Result<JvmValue, ActorError>;
    /// `ping()`.
    async fn ping(&mut self) -> Result<String, ActorError>;
    /// `unit(String)`.
    async fn unit(&mut self, value: String) -> Result<(), ActorError>;
    /// `key()`: the actor's own key, rendered as Kotlin does.
    async fn key(&mut self, context: &ActorContext) -> Result<String, ActorError>;
    /// `concat(String, Int, Long, Boolean)`.
    async fn concat(&mut self, text: String, number: i32, big: i64, flag: bool) -> Result<String, ActorError>;
    /// `count()`: calls so far on this activation.
    async fn count(&mut self) -> Result<i32, ActorError>;
    /// `fail(String)`: throws; `fail("panic")` panics.
    async fn fail(&mut self, message: String) -> Result<String, ActorError>;
    /// `slow(Long)`: answers after that many milliseconds.
    async fn slow(&mut self, millis: i64) -> Result<String, ActorError>;
}

/// [`EchoBase`] implemented plainly.
#[derive(Default)]
pub struct TypedEcho {
    calls: i32,
}

#[orbit_client::async_trait]
impl EchoBase for TypedEcho {
    async fn echo_string(&mut self, value: String) -> Result<String, ActorError> {
        Ok(value)
    }
    async fn echo_int(&mut self, value: i32) -> Result<i32, ActorError> {
        Ok(value)
    }
    async fn echo_long(&mut self, value: i64) -> Result<i64, ActorError> {
        Ok(value)
    }
    async fn echo_double(&mut self, value: f64) -> Result<f64, ActorError> {
        Ok(value)
    }
    async fn echo_boolean(&mut self, value: bool) -> Result<bool, ActorError> {
        Ok(value)
    }
    async fn echo_nullable_string(&mut self, value: Option<String>) -> Result<Option<String>, ActorError> {
        Ok(value)
    }
    async fn echo_nullable_int(&mut self, value: Option<i32>) -> Result<Option<i32>, ActorError> {
        Ok(value)
    }
    async fn echo_nullable_long(&mut self, value: Option<i64>) -> Result<Option<i64>, ActorError> {
        Ok(value)
    }
    async fn echo_list(&mut self, value: Vec<String>) -> Result<Vec<String>, ActorError> {
        Ok(value)
    }
    async fn echo_long_list(&mut self, value: Vec<i64>) -> Result<Vec<i64>, ActorError> {
        Ok(value)
    }
    async fn echo_map(&mut self, value: JvmValue) -> Result<JvmValue, ActorError> {
        Ok(value)
    }
    async fn echo_set(&mut self, value: JvmValue) -> Result<JvmValue, ActorError> {
        Ok(value)
    }
    async fn echo_payload(&mut self, value: JvmValue) -> Result<JvmValue, ActorError> {
        Ok(value)
    }
    async fn echo_inner(&mut self, value: JvmValue) -> Result<JvmValue, ActorError> {
        Ok(value)
    }
    async fn ping(&mut self) -> Result<String, ActorError> {
        Ok("pong".to_owned())
    }
    async fn unit(&mut self, _value: String) -> Result<(), ActorError> {
        Ok(())
    }
    async fn key(&mut self, context: &ActorContext) -> Result<String, ActorError> {
        Ok(context.reference.key.to_string())
    }
    async fn concat(&mut self, text: String, number: i32, big: i64, flag: bool) -> Result<String, ActorError> {
        Ok(format!("{text}|{number}|{big}|{flag}"))
    }
    async fn count(&mut self) -> Result<i32, ActorError> {
        self.calls += 1;
        Ok(self.calls)
    }
    async fn fail(&mut self, message: String) -> Result<String, ActorError> {
        if message == "panic" {
            panic!("asked to panic");
        }
        Err(ActorError::illegal_argument(message))
    }
    async fn slow(&mut self, millis: i64) -> Result<String, ActorError> {
        tokio::time::sleep(Duration::from_millis(u64::try_from(millis).unwrap_or(0))).await;
        Ok(format!("slept {millis}"))
    }
}

/// Registers [`TypedEcho`] under all four echo interfaces (the same methods; only the key
/// kind differs between them).
pub fn with_typed_echo_actors(builder: ClientBuilder) -> ClientBuilder {
    ECHO_INTERFACES.iter().fold(builder, |builder, name| builder.actor(*name, |_| EchoBaseActor(TypedEcho::default())))
}
