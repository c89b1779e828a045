package dev.orbitrust.bridge;

/** A failure of the bridge itself: start-up, configuration, a panic in Rust, an unreadable answer. */
public class OrbitBridgeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public OrbitBridgeException(String message) {
        super(message);
    }

    public OrbitBridgeException(String message, Throwable cause) {
        super(message, cause);
    }
}
