//! The JNI bridge: a JVM service runs the Rust Orbit client (`orbit-client`) inside its own
//! process, hosts Rust actors there, and calls any actor in the cluster (Kotlin or Rust).
//!
//! The Java side is `dev.orbitrust.bridge` (in `jvm-bridge/java`). Its class `NativeBridge`
//! declares the native methods; a native library provides them. A library is made by one
//! macro call, [`export_actors!`], naming the Rust actor types it hosts:
//!
//! ```text
//! orbit_jvm_bridge::export_actors!(|builder| builder.actor("com.example.Greeter", |_| Greeter::default()));
//! ```
//!
//! Build that crate as a `cdylib` and load it from the JVM with
//! `OrbitBridge.loadLibrary(path)`; a service that hosts no Rust actors uses the library the
//! jar carries (`orbit-jvm-bridge-native`, the same macro with no actors).
//!
//! What crosses the boundary:
//! * Configuration: one JSON object, the fields of Kotlin's `OrbitClientConfig` that apply.
//! * Clients: opaque `long` handles from a registry, never pointers, so a stale or forged
//!   handle is an `IllegalStateException`, not a crash.
//! * Calls: arguments arrive already written by Jackson exactly as Kotlin's orbit-client writes
//!   them (the Java side uses the same `ObjectMapper` configuration), results go back as the
//!   callee's JSON; each call completes a Java `NativeFuture` from a runtime thread.
//! * Failures: every entry point catches panics; a panic, a bad argument or a closed handle
//!   becomes a Java exception. A panic inside a Rust actor is an error reply (the client
//!   runtime's rule), which the caller sees as a `RemoteException`.

pub use jni;
pub use orbit_client as client;

mod config;
#[doc(hidden)]
pub mod entry;
mod registry;

pub use self::config::BridgeConfig;

/// Registers the Rust actor types a native library hosts.
pub type Register = fn(client::ClientBuilder) -> client::ClientBuilder;

/// Defines the JNI functions of `dev.orbitrust.bridge.NativeBridge` in the calling crate,
/// which must be built as a `cdylib`. `$register` is a closure or function
/// `fn(ClientBuilder) -> ClientBuilder` that registers the library's actor types; every client
/// the JVM starts from this library hosts them.
///
/// Call it exactly once per library. A JVM process loads one bridge library.
#[macro_export]
macro_rules! export_actors {
    ($register:expr) => {
        const _: () = {
            use $crate::jni::JNIEnv;
            use $crate::jni::objects::{JClass, JObject, JString};
            use $crate::jni::sys::{jint, jlong, jstring};

            const REGISTER: $crate::Register = $register;

            #[allow(unsafe_code, missing_docs)]
            #[unsafe(no_mangle)]
            pub extern "system" fn Java_dev_orbitrust_bridge_NativeBridge_describe<'local>(
                env: JNIEnv<'local>,
                _class: JClass<'local>,
            ) -> jstring {
                $crate::entry::describe(env, REGISTER)
            }

            #[allow(unsafe_code, missing_docs)]
            #[unsafe(no_mangle)]
            pub extern "system" fn Java_dev_orbitrust_bridge_NativeBridge_start<'local>(
                env: JNIEnv<'local>,
                _class: JClass<'local>,
                config: JString<'local>,
            ) -> jlong {
                $crate::entry::start(env, config, REGISTER)
            }

            #[allow(unsafe_code, missing_docs, clippy::too_many_arguments)]
            #[unsafe(no_mangle)]
            pub extern "system" fn Java_dev_orbitrust_bridge_NativeBridge_call<'local>(
                env: JNIEnv<'local>,
                _class: JClass<'local>,
                handle: jlong,
                interface: JString<'local>,
                key_kind: jint,
                string_key: JString<'local>,
                number_key: jlong,
                method: JString<'local>,
                arguments: JString<'local>,
                future: JObject<'local>,
            ) {
                $crate::entry::call(
                    env,
                    $crate::entry::CallArgs {
                        handle,
                        interface,
                        key_kind,
                        string_key,
                        number_key,
                        method,
                        arguments,
                        future,
                    },
                )
            }

            #[allow(unsafe_code, missing_docs)]
            #[unsafe(no_mangle)]
            pub extern "system" fn Java_dev_orbitrust_bridge_NativeBridge_nodeId<'local>(
                env: JNIEnv<'local>,
                _class: JClass<'local>,
                handle: jlong,
            ) -> jstring {
                $crate::entry::node_id(env, handle)
            }

            #[allow(unsafe_code, missing_docs)]
            #[unsafe(no_mangle)]
            pub extern "system" fn Java_dev_orbitrust_bridge_NativeBridge_close<'local>(
                env: JNIEnv<'local>,
                _class: JClass<'local>,
                handle: jlong,
            ) {
                $crate::entry::close(env, handle)
            }

            #[allow(unsafe_code, missing_docs)]
            #[unsafe(no_mangle)]
            pub extern "system" fn Java_dev_orbitrust_bridge_NativeBridge_panicForDiagnostics<'local>(
                env: JNIEnv<'local>,
                _class: JClass<'local>,
                message: JString<'local>,
            ) {
                $crate::entry::panic_for_diagnostics(env, message)
            }
        };
    };
}
