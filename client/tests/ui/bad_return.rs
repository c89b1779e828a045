use orbit_client::actor;

#[actor(interface = "com.example.Greeter")]
trait Greeter {
    async fn greet(&mut self, name: String) -> String;
}

fn main() {}
