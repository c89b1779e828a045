package example;

import dev.orbitrust.bridge.ActorKey;
import dev.orbitrust.bridge.OrbitBridge;
import dev.orbitrust.bridge.RustOrbitClient;
import dev.orbitrust.bridge.RustOrbitClientConfig;
import dev.orbitrust.bridge.test.RustGreeter;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;

/**
 * A JVM service that hosts Rust actors in its own process (the library given as the third
 * argument) and calls a Kotlin-hosted actor (the harness's EchoActor) and its own Rust actor
 * through the cluster.
 *
 * <p>Arguments: server endpoint, namespace, path of the Rust actor library. Exits 0 when every
 * answer is the expected one.
 */
public final class BridgeService {
    private BridgeService() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: bridge-service <host:port> <namespace> <liborbit_actors.so>");
            System.exit(64);
        }
        OrbitBridge.loadLibrary(Paths.get(args[2]));
        System.out.println("bridge " + OrbitBridge.version() + " hosting " + OrbitBridge.actorTypes());
        RustOrbitClientConfig config = RustOrbitClientConfig.builder(args[0], args[1]).build();
        int failures = 0;
        try (RustOrbitClient client = RustOrbitClient.start(config)) {
            System.out.println("joined as " + client.nodeId());
            Object echoed = client.call("orbit.harness.actors.EchoActor", ActorKey.of("gradle"), "echoString", "from Gradle")
                    .get(20, TimeUnit.SECONDS);
            failures += expect("Kotlin EchoActor.echoString", "from Gradle", echoed);
            RustGreeter greeter = client.actor(RustGreeter.class, "gradle");
            failures += expect("Rust RustGreeter.greet", "Hello Gradle, from Rust actor gradle",
                    greeter.greet("Gradle").get(20, TimeUnit.SECONDS));
            failures += expect("Rust RustGreeter.count", 1, greeter.count().get(20, TimeUnit.SECONDS));
            failures += expect("Rust RustGreeter.count", 2, greeter.count().get(20, TimeUnit.SECONDS));
        }
        System.out.println(failures == 0 ? "bridge-service: all answers as expected" : "bridge-service: " + failures + " wrong answers");
        System.exit(failures == 0 ? 0 : 1);
    }

    private static int expect(String what, Object expected, Object actual) {
        boolean ok = expected.equals(actual);
        System.out.println((ok ? "ok    " : "WRONG ") + what + " -> " + actual + (ok ? "" : " (expected " + expected + ")"));
        return ok ? 0 : 1;
    }
}
