use orbit_client::{ActorError, actor};

#[actor(interface = "com.example.Greeter")]
trait Greeter {
    async fn greet(&mut self, name: &str) -> Result<String, ActorError>;
}

fn main() {}
