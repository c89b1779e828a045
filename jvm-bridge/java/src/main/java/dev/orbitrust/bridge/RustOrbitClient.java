package dev.orbitrust.bridge;

import java.lang.reflect.Proxy;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Rust Orbit client running inside this JVM. It joins the cluster as a client node, hosts
 * the Rust actor types of the loaded bridge library, and calls any actor of the cluster (Kotlin
 * or Rust) through {@link #call} or a typed proxy of the service's own actor interfaces
 * ({@link #actor}). Close it to leave the cluster: hosted actors deactivate first.
 *
 * <p>Arguments and results use the Jackson-typed JSON of Kotlin's orbit-client, so a call
 * through the bridge returns the same objects a Kotlin caller gets.
 */
public final class RustOrbitClient implements AutoCloseable {
    private final AtomicLong handle;
    /** Where answers are decoded and futures completed; null: on the bridge's threads. */
    private final Executor callbacks;

    private RustOrbitClient(long handle, Executor callbacks) {
        this.handle = new AtomicLong(handle);
        this.callbacks = callbacks;
    }

    /**
     * Starts a client and waits until it has joined the cluster (loading the bridge's own
     * library first if no bridge library is loaded yet).
     *
     * @throws OrbitBridgeException if the client cannot join
     * @throws IllegalArgumentException if the configuration is invalid
     */
    public static RustOrbitClient start(RustOrbitClientConfig config) {
        Objects.requireNonNull(config, "config");
        OrbitBridge.ensureLoaded();
        long handle = NativeBridge.start(config.toJson());
        return new RustOrbitClient(handle, config.callbackExecutor);
    }

    /**
     * Calls {@code method} of the actor {@code interfaceName} with {@code key}; each argument's
     * declared class is the matching entry of {@code parameterTypes} (use {@code int.class}
     * for a Kotlin {@code Int} parameter, as the callee's method signature says).
     */
    public CompletableFuture<Object> call(
            String interfaceName, ActorKey key, String method, Class<?>[] parameterTypes, Object... arguments) {
        Objects.requireNonNull(interfaceName, "interfaceName");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(parameterTypes, "parameterTypes");
        Object[] values = arguments == null ? new Object[0] : arguments;
        String payload = Payloads.encodeArguments(values, parameterTypes);
        NativeFuture answer = new NativeFuture();
        NativeBridge.call(
                liveHandle(), interfaceName, key.kind, key.string, key.number, method, payload, answer);
        if (callbacks == null) {
            return answer.thenApply(Payloads::decodeResult);
        }
        // handleAsync, not thenApplyAsync: a failed call must cross to the executor too.
        return answer.handleAsync((json, failure) -> {
            if (failure != null) {
                throw failure instanceof CompletionException
                        ? (CompletionException) failure
                        : new CompletionException(failure);
            }
            return Payloads.decodeResult(json);
        }, callbacks);
    }

    /**
     * {@link #call(String, ActorKey, String, Class[], Object...)} with each argument declared
     * as its own runtime class ({@code java.lang.Object} for null).
     */
    public CompletableFuture<Object> call(String interfaceName, ActorKey key, String method, Object... arguments) {
        Object[] values = arguments == null ? new Object[0] : arguments;
        Class<?>[] types = new Class<?>[values.length];
        for (int i = 0; i < values.length; i++) {
            types[i] = Payloads.classOf(values[i]);
        }
        return call(interfaceName, key, method, types, values);
    }

    /**
     * A proxy of the actor interface {@code type} (a Kotlin Orbit actor interface, or any
     * interface whose methods return {@code Deferred}, {@code CompletableFuture} or {@code
     * CompletionStage}) for the actor with {@code key}.
     */
    public <T> T actor(Class<T> type, ActorKey key) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(key, "key");
        if (!type.isInterface()) {
            throw new IllegalArgumentException(type.getName() + " is not an interface");
        }
        Object proxy = Proxy.newProxyInstance(
                type.getClassLoader(), new Class<?>[] {type}, new ActorProxy(this, type, key));
        return type.cast(proxy);
    }

    /** {@link #actor(Class, ActorKey)} with a String, Integer, Long or null key. */
    public <T> T actor(Class<T> type, Object key) {
        return actor(type, ActorKey.from(key));
    }

    /** This client's node id as {@code namespace:key}. */
    public String nodeId() {
        return NativeBridge.nodeId(liveHandle());
    }

    /** Whether {@link #close} was called. */
    public boolean isClosed() {
        return handle.get() == 0;
    }

    /**
     * Leaves the cluster: hosted actors deactivate, calls still waiting fail. Idempotent. A
     * client that is never closed stays in the cluster until the JVM exits (its node lease
     * then runs out); close it, e.g. with try-with-resources or a shutdown hook.
     */
    @Override
    public void close() {
        long current = handle.getAndSet(0);
        if (current != 0) {
            NativeBridge.close(current);
        }
    }

    private long liveHandle() {
        long current = handle.get();
        if (current == 0) {
            throw new IllegalStateException("the Rust Orbit client is closed");
        }
        return current;
    }
}
