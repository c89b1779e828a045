//! What the JNI functions of [`export_actors!`](crate::export_actors) do. Every entry point
//! runs its body under `catch_unwind`: a panic or an error becomes a Java exception and the
//! function returns a neutral value, as JNI requires when an exception is pending.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Once, OnceLock};

use jni::objects::{GlobalRef, JObject, JString, JValue};
use jni::sys::{jint, jlong, jstring};
use jni::{JNIEnv, JavaVM};
use orbit_client::{AddressableReference, CallError, ClientBuilder, ClientConfig, Key};
use tokio::runtime::Runtime;
use tracing::{debug, error, warn};

use crate::config::BridgeConfig;
use crate::{Register, registry};

const BRIDGE_EXCEPTION: &str = "dev/orbitrust/bridge/OrbitBridgeException";
const ILLEGAL_STATE: &str = "java/lang/IllegalStateException";
const ILLEGAL_ARGUMENT: &str = "java/lang/IllegalArgumentException";
const NULL_POINTER: &str = "java/lang/NullPointerException";

/// How a failed call is reported to `NativeFuture.fail(int, String)`; the Java side turns
/// each kind into its exception.
mod failure {
    /// The callee or a server answered with an error (`RemoteException`).
    pub const REMOTE: i32 = 1;
    /// No answer within the message timeout (`java.util.concurrent.TimeoutException`).
    pub const TIMEOUT: i32 = 2;
    /// The client is stopped or not connected (`IllegalStateException`).
    pub const NOT_CONNECTED: i32 = 3;
    /// The answer could not be read, or the bridge failed (`OrbitBridgeException`).
    pub const BRIDGE: i32 = 4;
}

/// A Java exception to throw: its class (JNI form) and message.
pub struct Thrown {
    class: &'static str,
    message: String,
}

impl Thrown {
    fn new(class: &'static str, message: impl Into<String>) -> Self {
        Self { class, message: message.into() }
    }

    fn bridge(message: impl Into<String>) -> Self {
        Self::new(BRIDGE_EXCEPTION, message)
    }

    fn closed(handle: jlong) -> Self {
        Self::new(ILLEGAL_STATE, format!("Rust Orbit client handle {handle} is closed or was never issued"))
    }
}

impl From<jni::errors::Error> for Thrown {
    fn from(error: jni::errors::Error) -> Self {
        Self::bridge(format!("JNI call failed: {error}"))
    }
}

/// The arguments of `NativeBridge.call`.
pub struct CallArgs<'local> {
    /// The client's handle.
    pub handle: jlong,
    /// The actor interface's binary name.
    pub interface: JString<'local>,
    /// 0 no key, 1 string, 2 int32, 3 int64.
    pub key_kind: jint,
    /// The string key (kind 1).
    pub string_key: JString<'local>,
    /// The numeric key (kinds 2 and 3).
    pub number_key: jlong,
    /// The method name.
    pub method: JString<'local>,
    /// The arguments as Kotlin's orbit-client writes them.
    pub arguments: JString<'local>,
    /// The `NativeFuture` to complete.
    pub future: JObject<'local>,
}

/// Returns the bridge version and the actor types this library hosts, as JSON.
pub fn describe(mut env: JNIEnv<'_>, register: Register) -> jstring {
    init_logging();
    guarded(&mut env, std::ptr::null_mut(), |env| {
        let types = register(ClientBuilder::new(ClientConfig::new("", ""))).actor_types();
        let text = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "target": format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
            "actorTypes": types,
        });
        Ok(env.new_string(text.to_string())?.into_raw())
    })
}

/// Starts a client with the JSON configuration, hosting the library's actor types, and
/// returns its handle once it has joined the cluster.
pub fn start<'local>(mut env: JNIEnv<'local>, config: JString<'local>, register: Register) -> jlong {
    init_logging();
    guarded(&mut env, 0, |env| {
        let text = read_string(env, &config, "config")?;
        let config = BridgeConfig::parse(&text).map_err(|message| Thrown::new(ILLEGAL_ARGUMENT, message))?;
        let builder = register(ClientBuilder::new(config.client_config()));
        let client = run_blocking(runtime()?, builder.connect())?
            .map_err(|e| Thrown::bridge(format!("cannot start the Rust Orbit client: {e}")))?;
        let handle = registry::insert(client);
        debug!(handle, endpoint = %config.grpc_endpoint, "bridge client started");
        Ok(handle)
    })
}

/// Sends one invocation; the answer completes `future` from a runtime thread.
pub fn call(mut env: JNIEnv<'_>, args: CallArgs<'_>) {
    guarded(&mut env, (), |env| {
        if args.future.is_null() {
            return Err(Thrown::new(NULL_POINTER, "future is null"));
        }
        let client = registry::get(args.handle).ok_or_else(|| Thrown::closed(args.handle))?;
        let interface = read_string(env, &args.interface, "interfaceName")?;
        let key = match args.key_kind {
            0 => Key::None,
            1 => Key::String(read_string(env, &args.string_key, "key")?),
            2 => Key::Int32(i32::try_from(args.number_key).map_err(|_| {
                Thrown::new(ILLEGAL_ARGUMENT, format!("int32 key {} is out of range", args.number_key))
            })?),
            3 => Key::Int64(args.number_key),
            other => return Err(Thrown::new(ILLEGAL_ARGUMENT, format!("unknown key kind {other}"))),
        };
        let method = read_string(env, &args.method, "method")?;
        let arguments = read_string(env, &args.arguments, "arguments")?;
        let completion = Completion { vm: env.get_java_vm()?, future: Some(env.new_global_ref(&args.future)?) };
        runtime()?.spawn(async move {
            let reference = AddressableReference::new(interface, key);
            let outcome = client.invoke_encoded(&reference, &method, arguments).await;
            completion.finish(outcome);
        });
        Ok(())
    })
}

/// Returns `namespace:key` of the client's node, or null before it joined.
pub fn node_id(mut env: JNIEnv<'_>, handle: jlong) -> jstring {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        let client = registry::get(handle).ok_or_else(|| Thrown::closed(handle))?;
        match client.node_id() {
            Some(id) => Ok(env.new_string(format!("{}:{}", id.namespace, id.key))?.into_raw()),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

/// Stops the client gracefully (its actors deactivate) and forgets the handle.
pub fn close(mut env: JNIEnv<'_>, handle: jlong) {
    guarded(&mut env, (), |_env| {
        let client = registry::get(handle).ok_or_else(|| Thrown::closed(handle))?;
        run_blocking(runtime()?, client.stop())?;
        registry::remove(handle);
        debug!(handle, "bridge client stopped");
        Ok(())
    })
}

/// Runs `work` to completion for a Java thread that waits for it. A Java thread normally is
/// no runtime thread; but a continuation the bridge completes runs on one, and blocking a
/// runtime thread on the runtime would panic, so from there the work runs on a helper thread.
fn run_blocking<F>(runtime: &Runtime, work: F) -> Result<F::Output, Thrown>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(runtime.block_on(work));
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("orbit-bridge-blocking".to_owned())
            .spawn_scoped(scope, || runtime.block_on(work))
            .map_err(|e| Thrown::bridge(format!("cannot start a helper thread: {e}")))?
            .join()
            .map_err(|panic| Thrown::bridge(format!("panic in the Rust bridge: {}", panic_text(panic.as_ref()))))
    })
}

/// Panics inside the bridge, so that a JVM can check that a Rust panic reaches it as an
/// exception rather than a crash.
pub fn panic_for_diagnostics<'local>(mut env: JNIEnv<'local>, message: JString<'local>) {
    guarded(&mut env, (), |env| {
        let text = read_string(env, &message, "message")?;
        panic!("{text}");
    })
}

/// A `NativeFuture` waiting for its call. Dropped without [`Completion::finish`] (a task that
/// panicked or a runtime shutting down), it fails the future, so a Java caller never waits
/// forever.
struct Completion {
    vm: JavaVM,
    future: Option<GlobalRef>,
}

impl Completion {
    fn finish(mut self, outcome: Result<String, CallError>) {
        if let Some(future) = self.future.take() {
            let outcome = outcome.map_err(|error| {
                let kind = match &error {
                    CallError::Remote(_) => failure::REMOTE,
                    CallError::Timeout(_) => failure::TIMEOUT,
                    CallError::NotConnected => failure::NOT_CONNECTED,
                    CallError::Decode(_) => failure::BRIDGE,
                };
                (kind, error.to_string())
            });
            deliver(&self.vm, &future, outcome);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            let message = "the Rust Orbit client dropped the call (it was stopping or failed)".to_owned();
            deliver(&self.vm, &future, Err((failure::BRIDGE, message)));
        }
    }
}

/// Completes `future` with the outcome: `completeJson(String)`, or `fail(int, String)` with
/// a failure kind and message.
fn deliver(vm: &JavaVM, future: &GlobalRef, outcome: Result<String, (i32, String)>) {
    let mut env = match vm.attach_current_thread_as_daemon() {
        Ok(env) => env,
        Err(e) => {
            error!(error = %e, "cannot attach a runtime thread to the JVM; a call's future stays incomplete");
            return;
        }
    };
    // Runtime threads never return to Java, so local references must be freed here.
    let delivered = env.with_local_frame(4, |env| -> Result<(), jni::errors::Error> {
        match outcome {
            Ok(json) => {
                let json = env.new_string(json)?;
                env.call_method(future.as_obj(), "completeJson", "(Ljava/lang/String;)V", &[JValue::Object(&json)])?;
            }
            Err((kind, message)) => {
                let message = env.new_string(message)?;
                env.call_method(
                    future.as_obj(),
                    "fail",
                    "(ILjava/lang/String;)V",
                    &[JValue::Int(kind), JValue::Object(&message)],
                )?;
            }
        }
        Ok(())
    });
    if let Err(e) = delivered {
        warn!(error = %e, "completing a call's future failed");
    }
    if env.exception_check().unwrap_or(false) {
        let _ = env.exception_describe();
        let _ = env.exception_clear();
    }
}

/// Runs `body`; an error or a panic becomes a Java exception (unless one is already
/// pending) and `fallback` is returned.
fn guarded<'local, T>(
    env: &mut JNIEnv<'local>,
    fallback: T,
    body: impl FnOnce(&mut JNIEnv<'local>) -> Result<T, Thrown>,
) -> T {
    let thrown = match catch_unwind(AssertUnwindSafe(|| body(env))) {
        Ok(Ok(value)) => return value,
        Ok(Err(thrown)) => thrown,
        Err(panic) => Thrown::bridge(format!("panic in the Rust bridge: {}", panic_text(panic.as_ref()))),
    };
    if !env.exception_check().unwrap_or(false)
        && let Err(e) = env.throw_new(thrown.class, &thrown.message)
    {
        error!(error = %e, message = %thrown.message, "cannot throw a Java exception");
    }
    fallback
}

fn panic_text(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

fn read_string(env: &mut JNIEnv<'_>, value: &JString<'_>, what: &str) -> Result<String, Thrown> {
    if value.is_null() {
        return Err(Thrown::new(NULL_POINTER, format!("{what} is null")));
    }
    Ok(env.get_string(value)?.into())
}

/// The runtime every client of this library shares: `ORBIT_BRIDGE_THREADS` workers (default:
/// the CPUs, at most 4), named `orbit-bridge`.
fn runtime() -> Result<&'static Runtime, Thrown> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let cpus = std::thread::available_parallelism().map(usize::from).unwrap_or(2).min(4);
            let threads = std::env::var("ORBIT_BRIDGE_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(cpus);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads.max(1))
                .thread_name("orbit-bridge")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Thrown::bridge(format!("cannot start the bridge's Tokio runtime: {e}")))
}

/// Logs go to stderr through `tracing`, filtered by `ORBIT_BRIDGE_LOG` (default `warn`).
fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("ORBIT_BRIDGE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ =
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
    });
}
