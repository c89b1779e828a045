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
