use orbit_client::{ActorError, actor};

trait Base {
    fn name(&self) -> String;
}

#[actor(interface = "com.example.Derived")]
trait Derived: Base {
    async fn greet(&mut self, name: String) -> Result<String, ActorError>;
}

fn main() {}
