package dev.orbitrust.bridge;

/**
 * The callee (or a server on the way) answered with an error. The message is the one Kotlin's
 * orbit-client gives its {@code orbit.client.util.RemoteException}: {@code Exceptional response
 * received: <the callee's exception as toString()>}.
 */
public class RemoteException extends OrbitBridgeException {
    private static final long serialVersionUID = 1L;

    public RemoteException(String message) {
        super(message);
    }
}
