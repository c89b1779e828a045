package dev.orbitrust.bridge;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;

/** The answer of one native call: the callee's JSON, or a failure of a known kind. */
final class NativeFuture extends CompletableFuture<String> {
    static final int REMOTE = 1;
    static final int TIMEOUT = 2;
    static final int NOT_CONNECTED = 3;
    static final int BRIDGE = 4;

    /** Called by the native library with the answer. */
    void completeJson(String json) {
        complete(json);
    }

    /** Called by the native library when the call failed. */
    void fail(int kind, String message) {
        completeExceptionally(failure(kind, message));
    }

    static Throwable failure(int kind, String message) {
        switch (kind) {
            case REMOTE:
                return new RemoteException(message);
            case TIMEOUT:
                return new TimeoutException(message);
            case NOT_CONNECTED:
                return new IllegalStateException(message);
            default:
                return new OrbitBridgeException(message);
        }
    }
}
