use orbit_client::{ActorError, ClientBuilder, ClientConfig, actor};

#[actor(interface = "com.example.Greeter")]
trait Greeter {
    async fn greet(&mut self, name: String) -> Result<String, ActorError>;
}

#[actor(interface = "com.example.Account")]
trait Account {
    async fn balance(&mut self) -> Result<i64, ActorError>;
}

struct Ledger;

#[orbit_client::async_trait]
impl Account for Ledger {
    async fn balance(&mut self) -> Result<i64, ActorError> {
        Ok(0)
    }
}

fn main() {
    // An Account implementation registered as the Greeter interface.
    let _ = ClientBuilder::new(ClientConfig::new("localhost:50056", "app")).host::<dyn Greeter, _>(|_| AccountActor(Ledger));
}
