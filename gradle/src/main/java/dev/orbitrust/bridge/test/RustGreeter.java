package dev.orbitrust.bridge.test;

import java.util.concurrent.CompletableFuture;

/**
 * The Rust greeter of the bridge's test-actors library, seen from Java: the interface name is
 * the actor type, the methods return CompletableFuture.
 */
public interface RustGreeter {
    CompletableFuture<String> greet(String name);

    CompletableFuture<Integer> count();
}
