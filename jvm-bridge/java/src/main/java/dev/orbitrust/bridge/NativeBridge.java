package dev.orbitrust.bridge;

/**
 * The native entry points. A bridge library defines them with {@code
 * orbit_jvm_bridge::export_actors!}; {@link OrbitBridge} loads one library per process.
 */
final class NativeBridge {
    /** Key kinds of {@link #call}. */
    static final int KEY_NONE = 0;
    static final int KEY_STRING = 1;
    static final int KEY_INT32 = 2;
    static final int KEY_INT64 = 3;

    private NativeBridge() {}

    /** The library's bridge version, target and actor types, as JSON. */
    static native String describe();

    /** Starts a client from its JSON configuration; returns its handle once it joined. */
    static native long start(String configJson);

    /** Sends one invocation; {@code future} completes from a native thread. */
    static native void call(
            long handle,
            String interfaceName,
            int keyKind,
            String stringKey,
            long numberKey,
            String method,
            String argumentsJson,
            NativeFuture future);

    /** The client's node id as {@code namespace:key}, or null before it joined. */
    static native String nodeId(long handle);

    /** Stops the client gracefully and forgets its handle. */
    static native void close(long handle);

    /** Panics inside the native library; the panic must arrive as an OrbitBridgeException. */
    static native void panicForDiagnostics(String message);
}
