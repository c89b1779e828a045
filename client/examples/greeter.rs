//! A Rust actor that existing Kotlin callers reach through their interface
//! `com.example.Greeter` (`fun greet(name: String): Deferred<String>`), written as a typed
//! `#[actor]` trait, and a typed call from Rust to a Kotlin actor. Run against any Orbit server:
//! `cargo run -p orbit-client --example greeter -- 127.0.0.1:50056`

use compat_proto::Key;
use orbit_client::{ActorContext, ActorError, ClientBuilder, ClientConfig, actor};

/// Kotlin: `interface Greeter : ActorWithNoKey { fun greet(name: String): Deferred<String> }`.
#[actor(interface = "com.example.Greeter")]
trait Greeter {
    async fn greet(&mut self, name: String) -> Result<String, ActorError>;
}

/// Kotlin: `interface Account : ActorWithInt64Key { fun balance(): Deferred<Long>;
/// fun deposit(amount: Long): Deferred<Long> }`, hosted by a Kotlin service.
#[actor(interface = "com.example.Account")]
trait Account {
    async fn balance(&mut self) -> Result<i64, ActorError>;
    async fn deposit(&mut self, amount: i64) -> Result<i64, ActorError>;
}

struct Welcome {
    greeted: u32,
}

#[orbit_client::async_trait]
impl Greeter for Welcome {
    async fn greet(&mut self, name: String) -> Result<String, ActorError> {
        self.greeted += 1;
        Ok(format!("Hello {name} (greeting number {})", self.greeted))
    }

    async fn on_activate(&mut self, context: &ActorContext) -> Result<(), ActorError> {
        println!("activated {}", context.reference);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:50056".to_owned());
    let client = ClientBuilder::new(ClientConfig::new(endpoint, "default"))
        .host::<dyn Greeter, _>(|_| GreeterActor(Welcome { greeted: 0 }))
        .connect()
        .await?;

    // A typed call to an actor hosted anywhere (here a Kotlin one): a typo in a method name or
    // a wrong argument type is a compile error, not a NoSuchMethodException at run time.
    let account = client.typed::<dyn Account>(Key::Int64(42));
    match account.deposit(10).await {
        Ok(balance) => println!("balance after deposit: {balance}"),
        Err(error) => println!("call failed: {error}"),
    }

    tokio::signal::ctrl_c().await?;
    client.stop().await;
    Ok(())
}
