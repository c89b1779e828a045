use orbit_client::{ActorError, actor};

#[actor]
trait Greeter {
    async fn greet(&mut self, name: String) -> Result<String, ActorError>;
}

fn main() {}
