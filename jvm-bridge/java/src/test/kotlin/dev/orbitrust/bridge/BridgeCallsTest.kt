package dev.orbitrust.bridge

import dev.orbitrust.bridge.test.Note
import dev.orbitrust.bridge.test.RustGreeter
import dev.orbitrust.bridge.test.RustInt32Actor
import dev.orbitrust.bridge.test.RustInt64Actor
import dev.orbitrust.bridge.test.RustSingleton
import dev.orbitrust.bridge.test.kotlin.KotlinGreeter
import dev.orbitrust.bridge.test.trap.TrappedGreeter
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource

/**
 * Rust actors hosted in this JVM through the bridge, Kotlin actors hosted by a real Kotlin
 * orbit-client, and calls in every direction, through a real Kotlin server and through
 * orbit-node.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BridgeCallsTest {
    private val clusters = mutableMapOf<ServerKind, Cluster>()

    private fun cluster(kind: ServerKind): Cluster = clusters.getOrPut(kind) { Cluster(kind) }

    @AfterAll
    fun stop() = clusters.values.forEach { it.close() }

    /** Values of every kind the payload codec knows, as Kotlin callers send them. */
    private val values: List<Any> = listOf(
        "héllo 🚀", "", 42, -7, Int.MAX_VALUE, 7L, Long.MIN_VALUE, 2.5, -0.0, Double.NaN, true, false,
        3.toShort(), 4.toByte(), 1.5f, 'x', listOf("a", "b"), listOf(1, 2L, 3.0), mapOf("a" to 1, "b" to listOf(2)),
        Note("n", 3, 9_000_000_000L, listOf("t1", "t2")), arrayListOf<Any>()
    )

    private fun <T> await(block: suspend () -> T): T = runBlocking { withTimeout(20_000) { block() } }

    @ParameterizedTest
    @EnumSource(ServerKind::class)
    fun `Kotlin callers reach Rust actors hosted in this JVM`(kind: ServerKind) {
        val cluster = cluster(kind)
        val proxies = cluster.kotlinCaller.actorFactory
        val greeter = proxies.createProxy(RustGreeter::class.java, "k-$kind")
        assertEquals("Hello Joe, from Rust actor k-$kind", await { greeter.greet("Joe").await() })
        assertEquals(1, await { greeter.count().await() })
        assertEquals(2, await { greeter.count().await() })
        assertEquals(42, await { proxies.createProxy(RustInt32Actor::class.java, 42).key().await() })
        assertEquals(1L shl 40, await { proxies.createProxy(RustInt64Actor::class.java, 1L shl 40).key().await() })
        assertEquals("no key", await { proxies.createProxy(RustSingleton::class.java).key().await() })
        for (value in values) {
            val back = await { greeter.echo(value).await() }
            assertEquals(reference(cluster, value), describe(back), "echo of $value through a Rust actor")
        }
        val failed = assertThrows<Exception> { await { greeter.fail("nope").await() } }
        assertEquals("Exceptional response received: java.lang.IllegalStateException: nope", failed.message)
        val exploded = assertThrows<Exception> { await { greeter.explode().await() } }
        assertEquals(
            "Exceptional response received: java.lang.RuntimeException: Rust actor AddressableReference(" +
                "type=dev.orbitrust.bridge.test.RustGreeter, key=StringKey(key=k-$kind)) panicked during a call",
            exploded.message
        )
        // The panic deactivated that greeter; the next call activates a fresh one.
        assertEquals(1, await { greeter.count().await() })
        val missing = assertThrows<Exception> { await { greeter.missing(1).await() } }
        assertEquals("Exceptional response received: java.lang.NoSuchMethodException: missing(int)", missing.message)
    }

    @ParameterizedTest
    @EnumSource(ServerKind::class)
    fun `the bridge calls Kotlin actors and gets what a Kotlin caller gets`(kind: ServerKind) {
        val cluster = cluster(kind)
        val viaBridge = cluster.bridge.actor(KotlinGreeter::class.java, "kb-$kind")
        val viaKotlin = cluster.kotlinCaller.actorFactory.createProxy(KotlinGreeter::class.java, "kb-$kind")
        assertEquals("Hello Ann, from Kotlin actor StringKey(key=kb-$kind)", await { viaBridge.greet("Ann").await() })
        assertEquals(12L, await { viaBridge.add(5, 7L).await() })
        for (value in values) {
            val bridged = await { viaBridge.echo(value).await() }
            val kotlin = await { viaKotlin.echo(value).await() }
            assertEquals(describe(kotlin), describe(bridged), "echo of $value through a Kotlin actor")
        }
        // The untyped API, Java style, and the Kotlin suspend extension.
        val untyped = cluster.bridge.call(KotlinGreeter::class.java.name, ActorKey.of("kb-$kind"), "greet", "Bo")
        assertEquals("Hello Bo, from Kotlin actor StringKey(key=kb-$kind)", untyped.get(20, TimeUnit.SECONDS))
        val declared = arrayOf<Class<*>>(Int::class.javaPrimitiveType!!, Long::class.javaPrimitiveType!!)
        assertEquals(3L, await { cluster.bridge.invoke(KotlinGreeter::class.java.name, ActorKey.of("kb-$kind"), "add", declared, 1, 2L) })
        // Undeclared int parameter: the Kotlin host has no add(Integer, Long).
        val wrong = assertThrows<ExecutionException> {
            cluster.bridge.call(KotlinGreeter::class.java.name, ActorKey.of("kb-$kind"), "add", 1, 2L).get(20, TimeUnit.SECONDS)
        }
        assertTrue(wrong.cause is RemoteException, wrong.toString())
        assertTrue(wrong.cause!!.message!!.contains("NoSuchMethodException"), wrong.cause!!.message)
    }

    @ParameterizedTest
    @EnumSource(ServerKind::class)
    fun `the bridge calls Rust actors, and a Rust actor calls a Kotlin actor`(kind: ServerKind) {
        val cluster = cluster(kind)
        val greeter = cluster.bridge.actor(RustGreeter::class.java, "rb-$kind")
        assertEquals("Hello Cy, from Rust actor rb-$kind", await { greeter.greet("Cy").await() })
        for (value in values) {
            assertEquals(reference(cluster, value), describe(await { greeter.echo(value).await() }), "echo of $value")
        }
        assertNull(await { greeter.echo(null).await() })
        assertEquals(
            "Rust relayed: Hello Di, from Kotlin actor StringKey(key=rb-$kind)",
            await { greeter.relay("Di").await() }
        )
        assertEquals(7L, await { cluster.bridge.actor<RustInt64Actor>(7L).key().await() })
        val failed = assertThrows<RemoteException> { await { greeter.fail("bad").await() } }
        assertEquals("Exceptional response received: java.lang.IllegalStateException: bad", failed.message)
        val nobody = cluster.bridge.call("dev.orbitrust.bridge.test.Nobody", ActorKey.of("x"), "hello")
        val unplaced = assertThrows<ExecutionException> { nobody.get(30, TimeUnit.SECONDS) }
        assertTrue(unplaced.cause is RemoteException, unplaced.toString())
    }

    @ParameterizedTest
    @EnumSource(ServerKind::class)
    fun `a closed client refuses calls with a clear exception`(kind: ServerKind) {
        val cluster = cluster(kind)
        val client = RustOrbitClient.start(RustOrbitClientConfig.builder(cluster.endpoint, cluster.namespace).build())
        assertTrue(client.nodeId().startsWith("${cluster.namespace}:"), client.nodeId())
        val greeter = client.actor(KotlinGreeter::class.java, "closed")
        assertEquals("Hello Ed, from Kotlin actor StringKey(key=closed)", await { greeter.greet("Ed").await() })
        client.close()
        client.close()
        val refused = assertThrows<IllegalStateException> { greeter.greet("Ed") }
        assertEquals("the Rust Orbit client is closed", refused.message)
        assertThrows<IllegalStateException> { client.nodeId() }
    }

    @ParameterizedTest
    @EnumSource(ServerKind::class)
    fun `answers and failures reach the callback executor, and a continuation may close the client`(kind: ServerKind) {
        val cluster = cluster(kind)
        val executor = java.util.concurrent.Executors.newSingleThreadExecutor { Thread(it, "bridge-callbacks") }
        val config = RustOrbitClientConfig.builder(cluster.endpoint, cluster.namespace).callbackExecutor(executor).build()
        RustOrbitClient.start(config).use { client ->
            val greeter = ActorKey.of("executor-$kind")
            val name = KotlinGreeter::class.java.name
            val answered = client.call(name, greeter, "greet", "Ex").handle { _, _ -> Thread.currentThread().name }
            assertEquals("bridge-callbacks", answered.get(20, TimeUnit.SECONDS))
            val failed = client.call(name, greeter, "missing").handle { _, error -> Thread.currentThread().name + " " + error }
            val failure = failed.get(20, TimeUnit.SECONDS)
            assertTrue(failure.startsWith("bridge-callbacks ") && failure.contains("RemoteException"), failure)
        }
        executor.shutdown()

        // By default continuations run on the bridge's threads; closing from one must work.
        val client = RustOrbitClient.start(RustOrbitClientConfig.builder(cluster.endpoint, cluster.namespace).build())
        val closed = client.call(KotlinGreeter::class.java.name, ActorKey.of("closer-$kind"), "greet", "Cl")
            .thenApply { answer -> client.close(); answer }
        assertEquals("Hello Cl, from Kotlin actor StringKey(key=closer-$kind)", closed.get(30, TimeUnit.SECONDS))
        assertTrue(client.isClosed)
        assertThrows<IllegalStateException> { client.nodeId() }
    }

    @ParameterizedTest
    @EnumSource(ServerKind::class)
    fun `an interface moved to Rust must leave the Kotlin client's scanned packages`(kind: ServerKind) {
        val cluster = cluster(kind)
        val proxies = cluster.kotlinCaller.actorFactory
        // The trap: a Kotlin client scanning the interface's package advertises it, so the
        // server places some of these actors on it, and they answer "No implementation found".
        val scanning = cluster.kotlinClient("dev.orbitrust.bridge.test.trap")
        val trapped = (0 until 24).map { i ->
            runCatching { await { proxies.createProxy(TrappedGreeter::class.java, "trap-$kind-$i").greet("T").await() } }
        }
        runBlocking { scanning.stop().join() }
        val missing = trapped.mapNotNull { it.exceptionOrNull()?.message }
        assertTrue(missing.isNotEmpty(), "no call was placed on the Kotlin client that advertises TrappedGreeter")
        assertTrue(
            missing.all { it.contains("No implementation found for interface dev.orbitrust.bridge.test.trap.TrappedGreeter") },
            missing.toString()
        )
        // The remedy: no Kotlin client scans that package; every call reaches the Rust actors.
        val fixed = (0 until 24).map { i ->
            await { proxies.createProxy(TrappedGreeter::class.java, "fixed-$kind-$i").greet("F").await() }
        }
        assertEquals((0 until 24).map { "Hello F, from Rust actor fixed-$kind-$it" }, fixed)
    }

    /** A value with its classes, so that Integer 1 and Long 1 differ. */
    private fun describe(value: Any?): String = when (value) {
        null -> "null"
        is List<*> -> value.javaClass.name + value.map { describe(it) }
        is Set<*> -> value.javaClass.name + value.map { describe(it) }
        is Map<*, *> -> value.javaClass.name + value.entries.map { describe(it.key) + "=" + describe(it.value) }
        is Double -> if (value.isNaN()) "java.lang.Double(NaN)" else "java.lang.Double($value)"
        else -> value.javaClass.name + "(" + value + ")"
    }

    /** What a Kotlin caller gets back from a Kotlin actor echoing [value]: the reference. */
    private fun reference(cluster: Cluster, value: Any): String {
        val kotlin = cluster.kotlinCaller.actorFactory.createProxy(KotlinGreeter::class.java, "reference")
        return describe(await { kotlin.echo(value).await() })
    }
}
