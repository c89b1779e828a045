package orbit.harness

import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import orbit.client.OrbitClient
import orbit.client.OrbitClientConfig
import java.time.Duration
import java.util.concurrent.CountDownLatch

/** Package holding the test actors; the only package a hosting client scans. */
const val ACTORS_PACKAGE = "orbit.harness.actors"

/** A package with no addressables at all: a `call` client scans it and so advertises no capabilities. */
const val EMPTY_PACKAGE = "orbit.harness.noactors"

internal fun startClient(config: OrbitClientConfig): OrbitClient? {
    val client = OrbitClient(config)
    runBlocking { client.start().join() }
    if (client.nodeId == null) {
        Out.err("could not connect an Orbit client to ${config.grpcEndpoint}; see the log above")
        return null
    }
    return client
}

internal fun endpointOf(server: String): String = if (server.contains("://")) server else "dns:///$server"

internal fun stopClient(client: OrbitClient, timeoutMs: Long = 30_000) {
    runCatching { runBlocking { withTimeoutOrNull(timeoutMs) { client.stop().join() } } }
        .onFailure { Out.err("error while stopping the Orbit client: $it") }
}

/** `client`: a real OrbitClient hosting the actors of orbit.harness.actors. */
object ClientCommand {
    fun run(argv: List<String>): Int {
        val args = Args(
            "client", argv,
            valued = setOf("--server", "--namespace", "--ttl-seconds"),
            flags = setOf("--platform-exceptions")
        )
        val server = args.required("--server")
        val namespace = args.required("--namespace")
        val defaults = OrbitClientConfig()
        val config = defaults.copy(
            grpcEndpoint = endpointOf(server),
            namespace = namespace,
            packages = listOf(ACTORS_PACKAGE),
            addressableTTL = args.long("--ttl-seconds")?.let { Duration.ofSeconds(it) } ?: defaults.addressableTTL,
            platformExceptions = args.flag("--platform-exceptions")
        )
        val client = startClient(config) ?: return 1
        val id = client.nodeId!!

        Runtime.getRuntime().addShutdownHook(Thread({
            Out.err("client: stopping")
            stopClient(client)
            Out.line("LEDGER " + orbit.harness.actors.Ledger.summary())
        }, "harness-client-stop"))

        Out.line("READY client node=${id.namespace}:${id.key}")
        CountDownLatch(1).await()
        return 0
    }
}
