package orbit.harness

import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import orbit.server.OrbitServer
import orbit.server.OrbitServerConfig
import orbit.server.etcd.EtcdAddressableDirectory
import orbit.server.etcd.EtcdNodeDirectory
import orbit.server.mesh.LeaseDuration
import orbit.server.mesh.LocalNodeInfo
import orbit.server.mesh.LocalServerInfo
import orbit.shared.mesh.NodeStatus
import orbit.util.di.ComponentContainer
import java.time.Duration
import java.util.concurrent.CountDownLatch

/** `server`: one real orbit.server.OrbitServer, started directly (no launcher delay). */
object ServerCommand {
    fun run(argv: List<String>): Int {
        val args = Args(
            "server", argv,
            valued = setOf(
                "--port", "--url", "--node-lease-seconds", "--addressable-lease-seconds", "--tick-millis",
                "--etcd-node-url", "--etcd-addressable-url"
            ),
            flags = emptySet()
        )
        val port = args.int("--port") ?: args.usage("--port is required")
        val url = args.string("--url") ?: "localhost:$port"
        val etcdNode = args.string("--etcd-node-url")
        val etcdAddressable = args.string("--etcd-addressable-url")
        if ((etcdNode == null) != (etcdAddressable == null)) {
            args.usage("--etcd-node-url and --etcd-addressable-url must be given together")
        }

        var container: ComponentContainer? = null
        val defaults = OrbitServerConfig(serverInfo = LocalServerInfo(port, url))
        val config = defaults.copy(
            tickRate = args.long("--tick-millis")?.let { Duration.ofMillis(it) } ?: defaults.tickRate,
            nodeLeaseDuration = args.long("--node-lease-seconds")?.let { LeaseDuration(it) } ?: defaults.nodeLeaseDuration,
            addressableLeaseDuration = args.long("--addressable-lease-seconds")?.let { LeaseDuration(it) }
                ?: defaults.addressableLeaseDuration,
            // The harness keeps the JVM alive itself and stops the server from a shutdown hook.
            acquireShutdownLatch = false,
            nodeDirectory = if (etcdNode != null) EtcdNodeDirectory.EtcdNodeDirectoryConfig(etcdNode) else defaults.nodeDirectory,
            addressableDirectory = if (etcdAddressable != null) {
                EtcdAddressableDirectory.EtcdAddressableDirectoryConfig(etcdAddressable)
            } else defaults.addressableDirectory,
            containerOverrides = { container = this.container }
        )

        val server = OrbitServer(config)
        runBlocking { server.start().join() }

        val status = runCatching { server.nodeStatus }.getOrNull()
        if (status != NodeStatus.ACTIVE) {
            Out.err("server: Orbit server did not become ACTIVE (status $status); see the log above")
            runCatching { runBlocking { withTimeoutOrNull(5_000) { server.stop().join() } } }
            return 1
        }
        val nodeKey = runCatching { container!!.resolve(LocalNodeInfo::class.java).info.id.key }.getOrNull() ?: "-"

        val stopped = CountDownLatch(1)
        Runtime.getRuntime().addShutdownHook(Thread({
            Out.err("server: stopping")
            runCatching { runBlocking { withTimeoutOrNull(10_000) { server.stop().join() } } }
            stopped.countDown()
        }, "harness-server-stop"))

        Out.line("READY server port=$port node=$nodeKey")
        // Serve until the process is killed; the shutdown hook stops the server.
        CountDownLatch(1).await()
        return 0
    }
}
