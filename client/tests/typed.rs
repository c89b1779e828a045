//! Typed actors (`#[orbit_client::actor]`) against orbit-node in process: a Rust trait hosted
//! through the generated adapter and called through the generated proxy, for the scalar,
//! nullable, list and unit kinds; overridden JVM names and classes; a raw identifier; the
//! context parameter; parameters named like the adapter's variables; the hooks; and
//! what a caller gets for an unknown method, wrong parameter classes, an error and a panic.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use compat_proto::Key;
use orbit_client::{
    ActorContext, ActorError, CallError, ClientBuilder, ClientConfig, DeactivationReason, IntoJvm, actor,
};
use orbit_test_support::TestNode;

/// A Rust twin of the harness's `orbit.harness.actors.EchoActor` (a part of it).
#[actor(interface = "com.example.Echo")]
trait Echo {
    async fn echo_string(&mut self, value: String) -> Result<String, ActorError>;
    async fn echo_int(&mut self, value: i32) -> Result<i32, ActorError>;
    async fn echo_long(&mut self, value: i64) -> Result<i64, ActorError>;
    async fn echo_double(&mut self, value: f64) -> Result<f64, ActorError>;
    async fn echo_boolean(&mut self, value: bool) -> Result<bool, ActorError>;
    async fn echo_nullable_long(&mut self, value: Option<i64>) -> Result<Option<i64>, ActorError>;
    async fn echo_list(&mut self, value: Vec<String>) -> Result<Vec<String>, ActorError>;
    /// Kotlin `fun concat(text: String, number: Int, big: Long, flag: Boolean)`.
    async fn concat(&mut self, text: String, number: i32, big: i64, flag: bool) -> Result<String, ActorError>;
    /// A Kotlin `Long?` parameter that this implementation reads as `i64`.
    #[orbit(name = "boxed")]
    async fn boxed_long(&mut self, #[orbit(class = "java.lang.Long")] value: i64) -> Result<i64, ActorError>;
    /// Uses the context: its own key.
    async fn whoami(&mut self, context: &ActorContext) -> Result<String, ActorError>;
    async fn fail(&mut self, message: String) -> Result<(), ActorError>;
    async fn explode(&mut self) -> Result<(), ActorError>;
    async fn activations(&mut self) -> Result<i32, ActorError>;
    /// Calls another actor through its typed proxy; its failure is this call's (`?`).
    async fn relay(&mut self, context: &ActorContext, key: String, text: String) -> Result<String, ActorError>;
    /// A Kotlin method named like a Rust keyword.
    async fn r#type(&mut self) -> Result<String, ActorError>;
    /// Parameters named like the adapter's own variables still work.
    async fn shadowing(&mut self, call: String, context: i32, answer: bool) -> Result<String, ActorError>;
}

struct RustEcho {
    activations: Arc<AtomicUsize>,
    deactivations: Arc<AtomicUsize>,
}

#[orbit_client::async_trait]
impl Echo for RustEcho {
    async fn echo_string(&mut self, value: String) -> Result<String, ActorError> {
        Ok(value)
    }
    async fn echo_int(&mut self, value: i32) -> Result<i32, ActorError> {
        Ok(value)
    }
    async fn echo_long(&mut self, value: i64) -> Result<i64, ActorError> {
        Ok(value)
    }
    async fn echo_double(&mut self, value: f64) -> Result<f64, ActorError> {
        Ok(value)
    }
    async fn echo_boolean(&mut self, value: bool) -> Result<bool, ActorError> {
        Ok(value)
    }
    async fn echo_nullable_long(&mut self, value: Option<i64>) -> Result<Option<i64>, ActorError> {
        Ok(value)
    }
    async fn echo_list(&mut self, value: Vec<String>) -> Result<Vec<String>, ActorError> {
        Ok(value)
    }
    async fn concat(&mut self, text: String, number: i32, big: i64, flag: bool) -> Result<String, ActorError> {
        Ok(format!("{text}|{number}|{big}|{flag}"))
    }
    async fn boxed_long(&mut self, value: i64) -> Result<i64, ActorError> {
        Ok(value + 1)
    }
    async fn whoami(&mut self, context: &ActorContext) -> Result<String, ActorError> {
        Ok(context.reference.key.to_string())
    }
    async fn fail(&mut self, message: String) -> Result<(), ActorError> {
        Err(ActorError::new("com.example.Refused", message))
    }
    async fn explode(&mut self) -> Result<(), ActorError> {
        panic!("on purpose")
    }
    async fn activations(&mut self) -> Result<i32, ActorError> {
        Ok(i32::try_from(self.activations.load(Ordering::SeqCst)).unwrap_or(i32::MAX))
    }
    async fn r#type(&mut self) -> Result<String, ActorError> {
        Ok("type".to_owned())
    }
    async fn relay(&mut self, context: &ActorContext, key: String, text: String) -> Result<String, ActorError> {
        let other = context.client.typed::<dyn Echo>(Key::String(key));
        if text == "fail" {
            other.fail("relayed".into()).await?;
        }
        Ok(other.echo_string(text).await?)
    }
    async fn shadowing(&mut self, call: String, context: i32, answer: bool) -> Result<String, ActorError> {
        Ok(format!("{call}/{context}/{answer}"))
    }

    async fn on_activate(&mut self, _context: &ActorContext) -> Result<(), ActorError> {
        self.activations.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn on_deactivate(&mut self, _context: &ActorContext, _reason: DeactivationReason) {
        self.deactivations.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn typed_actor_hosted_and_called_through_its_proxy() {
    let node = TestNode::start().await;
    let endpoint = node.endpoint();
    let (activations, deactivations) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, d) = (activations.clone(), deactivations.clone());
    let builder = ClientBuilder::new(ClientConfig::new(&endpoint, "typed"))
        .host::<dyn Echo, _>(move |_| EchoActor(RustEcho { activations: a.clone(), deactivations: d.clone() }));
    assert_eq!(builder.actor_types(), vec!["com.example.Echo".to_owned()], "registered under the interface");
    let host = builder.connect().await.expect("host joins");
    let caller = ClientBuilder::new(ClientConfig::new(&endpoint, "typed")).connect().await.expect("caller joins");
    let echo = caller.typed::<dyn Echo>(Key::String("e1".into()));

    assert_eq!(echo.echo_string("héllo".into()).await, Ok("héllo".to_owned()));
    assert_eq!(echo.echo_int(i32::MIN).await, Ok(i32::MIN));
    assert_eq!(echo.echo_long(i64::MAX).await, Ok(i64::MAX));
    assert_eq!(echo.echo_double(0.1).await, Ok(0.1));
    assert_eq!(echo.echo_boolean(true).await, Ok(true));
    assert_eq!(echo.echo_nullable_long(None).await, Ok(None));
    assert_eq!(echo.echo_nullable_long(Some(-5)).await, Ok(Some(-5)));
    let list = vec!["a".to_owned(), "ü".to_owned()];
    assert_eq!(echo.echo_list(list.clone()).await, Ok(list));
    assert_eq!(echo.concat("t".into(), 1, 2, false).await, Ok("t|1|2|false".to_owned()));
    assert_eq!(echo.boxed_long(41).await, Ok(42), "overridden JVM name and class");
    assert_eq!(echo.whoami().await, Ok("StringKey(key=e1)".to_owned()), "the context parameter");
    assert_eq!(echo.activations().await, Ok(1), "on_activate ran once, before the first call");
    assert_eq!(echo.shadowing("c".into(), 2, true).await, Ok("c/2/true".to_owned()));
    assert_eq!(echo.r#type().await, Ok("type".to_owned()));
    assert_eq!(echo.relay("e2".into(), "via e2".into()).await, Ok("via e2".to_owned()), "an actor calls an actor");
    assert_eq!(
        echo.relay("e2".into(), "fail".into()).await,
        Err(CallError::Remote(
            "orbit.client.util.RemoteException: Exceptional response received: com.example.Refused: relayed".into()
        )),
        "a failed inner call fails the outer one as in Kotlin"
    );
    let by_jvm_name = caller.actor("com.example.Echo", Key::String("e1".into())).call::<String>("type", vec![]).await;
    assert_eq!(by_jvm_name, Ok("type".to_owned()), "the JVM name of r#type is `type`");

    // Errors reach the caller as a Kotlin host's would.
    assert_eq!(
        echo.fail("no".into()).await,
        Err(CallError::Remote("com.example.Refused: no".into())),
        "an ActorError is the caller's exception"
    );
    // The untyped API shows what a Kotlin caller with another signature gets.
    let raw = caller.actor("com.example.Echo", Key::String("e1".into()));
    let wrong_class = raw.call::<i64>("echoLong", vec![Some(5i64).into_argument()]).await;
    assert_eq!(
        wrong_class,
        Err(CallError::Remote("java.lang.NoSuchMethodException: echoLong(class java.lang.Long)".into())),
        "dispatch is on name and declared classes, as in Kotlin"
    );
    let unknown = raw.call::<String>("nope", vec![]).await;
    assert_eq!(unknown, Err(CallError::Remote("java.lang.NoSuchMethodException: nope()".into())));
    // A panic fails the call and drops the instance; the next call activates a new one.
    let exploded = echo.explode().await;
    assert!(matches!(&exploded, Err(CallError::Remote(text)) if text.contains("panicked")), "{exploded:?}");
    assert_eq!(echo.echo_int(7).await, Ok(7));
    assert_eq!(activations.load(Ordering::SeqCst), 3, "e1, e2 (relayed to), then e1 again after the panic");
    assert_eq!(deactivations.load(Ordering::SeqCst), 0, "a panicked instance gets no hook");

    caller.stop().await;
    host.stop().await;
    assert_eq!(
        deactivations.load(Ordering::SeqCst),
        2,
        "on_deactivate of the two live instances when their host stops"
    );
    node.stop().await.expect("clean stop");
}
