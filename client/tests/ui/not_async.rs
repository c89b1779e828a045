use orbit_client::{ActorError, actor};

#[actor(interface = "com.example.Greeter")]
trait Greeter {
    fn greet(&mut self, name: String) -> Result<String, ActorError>;
}

fn main() {}
