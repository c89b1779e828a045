//! A Rust actor that existing Kotlin callers reach through their interface
//! `com.example.Greeter` (`fun greet(name: String): Deferred<String>`), and a call from Rust
//! to a Kotlin actor. Run against any Orbit server:
//! `cargo run -p orbit-client --example greeter_untyped -- 127.0.0.1:50056`
//! (The same with the string-dispatch API underneath the typed one in `greeter.rs`.)

use compat_proto::Key;
use orbit_client::codec::JvmValue;
use orbit_client::{Actor, ActorContext, ActorError, ClientBuilder, ClientConfig, IntoJvm, Invocation};

struct Greeter;

#[tonic::async_trait]
impl Actor for Greeter {
    async fn invoke(&mut self, _context: &ActorContext, call: Invocation) -> Result<JvmValue, ActorError> {
        if call.is("greet", &["java.lang.String"]) {
            let name: String = call.arg(0)?;
            return Ok(format!("Hello {name}").into_jvm());
        }
        Err(ActorError::no_such_method(&call))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:50056".to_owned());
    let client = ClientBuilder::new(ClientConfig::new(endpoint, "default"))
        .actor("com.example.Greeter", |_| Greeter)
        .connect()
        .await?;

    // Calling a Kotlin actor (or a Rust one) looks the same.
    let account = client.actor("com.example.Account", Key::Int64(42));
    match account.call::<i64>("balance", vec![]).await {
        Ok(balance) => println!("balance: {balance}"),
        Err(error) => println!("call failed: {error}"),
    }

    tokio::signal::ctrl_c().await?;
    client.stop().await;
    Ok(())
}
