package dev.orbitrust.bridge

import java.io.File
import java.net.ServerSocket
import java.net.Socket
import java.nio.file.Path
import java.time.Duration
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import orbit.client.OrbitClient
import orbit.client.OrbitClientConfig
import orbit.server.OrbitServer
import orbit.server.OrbitServerConfig
import orbit.server.mesh.LocalServerInfo

/** The server a test cluster runs: the real Kotlin orbit-server (in this JVM) or orbit-node. */
enum class ServerKind { KOTLIN, RUST }

/** Package of the Kotlin-hosted test actors, the only one the Kotlin host scans. */
const val KOTLIN_ACTORS = "dev.orbitrust.bridge.test.kotlin"

/** A package without actors: the Kotlin caller scans it and so advertises nothing. */
const val NO_ACTORS = "dev.orbitrust.bridge.test.none"

/** Loads the library with the Rust test actors (jvm-bridge/test-actors), once. */
fun loadTestLibrary() {
    val library = System.getProperty("bridge.test.library")
        ?: error("system property bridge.test.library (the Rust test actors library) is not set")
    OrbitBridge.loadLibrary(Path.of(library))
}

fun freePort(): Int = ServerSocket(0).use { it.localPort }

/**
 * One server of [kind], a Kotlin client hosting the Kotlin test actors, a Kotlin client that
 * only calls, and a bridge client hosting the Rust test actors, all in one namespace.
 */
class Cluster(val kind: ServerKind) : AutoCloseable {
    val namespace = "bridge-${kind.name.lowercase()}"
    val port = freePort()
    val endpoint = "127.0.0.1:$port"
    private var kotlinServer: OrbitServer? = null
    private var rustServer: Process? = null
    val kotlinHost: OrbitClient
    val kotlinCaller: OrbitClient
    val bridge: RustOrbitClient

    init {
        when (kind) {
            ServerKind.KOTLIN -> {
                val config = OrbitServerConfig(serverInfo = LocalServerInfo(port, endpoint), acquireShutdownLatch = false)
                val server = OrbitServer(config)
                runBlocking { server.start().join() }
                kotlinServer = server
            }
            ServerKind.RUST -> {
                val binary = System.getProperty("orbit.node.binary") ?: error("system property orbit.node.binary is not set")
                val log = File("target/orbit-node-$port.log")
                rustServer = ProcessBuilder(binary, "--port", "$port", "--listen", "127.0.0.1", "--url", endpoint,
                    "--metrics-port", "${freePort()}")
                    .redirectErrorStream(true).redirectOutput(log).start()
                waitForPort(port, Duration.ofSeconds(30))
            }
        }
        kotlinHost = kotlinClient(KOTLIN_ACTORS)
        kotlinCaller = kotlinClient(NO_ACTORS)
        loadTestLibrary()
        val config = RustOrbitClientConfig.builder(endpoint, namespace)
        // The benchmark's choice: answers handed to the common pool instead of completed on the
        // bridge's threads (the default).
        if (System.getProperty("bench.executor") == "common") config.callbackExecutor(java.util.concurrent.ForkJoinPool.commonPool())
        bridge = RustOrbitClient.start(config.build())
    }

    fun kotlinClient(scan: String): OrbitClient {
        val config = OrbitClientConfig(grpcEndpoint = "dns:///$endpoint", namespace = namespace, packages = listOf(scan))
        val client = OrbitClient(config)
        runBlocking { client.start().join() }
        check(client.nodeId != null) { "a Kotlin client could not join $kind server $endpoint" }
        return client
    }

    override fun close() {
        runCatching { bridge.close() }
        for (client in listOf(kotlinCaller, kotlinHost)) {
            runCatching { runBlocking { withTimeoutOrNull(15_000) { client.stop().join() } } }
        }
        kotlinServer?.let { server -> runCatching { runBlocking { withTimeoutOrNull(15_000) { server.stop().join() } } } }
        rustServer?.let { process ->
            process.destroy()
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly()
        }
    }

    private fun waitForPort(port: Int, limit: Duration) {
        val deadline = System.nanoTime() + limit.toNanos()
        while (true) {
            if (runCatching { Socket("127.0.0.1", port).close() }.isSuccess) return
            check(System.nanoTime() < deadline) { "orbit-node did not listen on $port within $limit" }
            Thread.sleep(50)
        }
    }
}
