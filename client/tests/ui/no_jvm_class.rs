use orbit_client::{ActorError, actor};

#[actor(interface = "com.example.Timer")]
trait Timer {
    async fn wait(&mut self, how_long: std::time::Duration) -> Result<(), ActorError>;
}

fn main() {}
