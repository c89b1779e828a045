package dev.orbitrust.bridge

import dev.orbitrust.bridge.test.RustGreeter
import dev.orbitrust.bridge.test.kotlin.KotlinGreeter
import java.io.File
import java.lang.management.ManagementFactory
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicLong
import kotlin.concurrent.thread
import kotlinx.coroutines.future.asCompletableFuture

/**
 * A benchmark, not a test (scripts/bench-jvm-bridge.sh runs it; results in
 * docs/benchmarks.md): calls across the cluster from JVM code through the bridge and through
 * Kotlin's orbit-client, same server, same run; then a soak of many bridge calls printing heap
 * and RSS as it goes.
 *
 * System properties: bench.server (kotlin|rust), bench.seconds (10), bench.soak (1000000),
 * plus the tests' bridge.test.library and orbit.node.binary.
 */
fun main() {
    val kind = ServerKind.valueOf(System.getProperty("bench.server", "rust").uppercase())
    val seconds = System.getProperty("bench.seconds", "10").toLong()
    val soak = System.getProperty("bench.soak", "1000000").toLong()
    Cluster(kind).use { cluster ->
        println("server: $kind at ${cluster.endpoint}; ${seconds}s per row after a ${seconds / 2}s warm-up")
        val viaBridgeToKotlin = cluster.bridge.actor(KotlinGreeter::class.java, "bench")
        val viaKotlinToKotlin = cluster.kotlinCaller.actorFactory.createProxy(KotlinGreeter::class.java, "bench")
        val viaBridgeToRust = cluster.bridge.actor(RustGreeter::class.java, "bench")
        val viaKotlinToRust = cluster.kotlinCaller.actorFactory.createProxy(RustGreeter::class.java, "bench")
        val rows = listOf<Pair<String, () -> CompletableFuture<*>>>(
            "bridge -> Kotlin actor" to { viaBridgeToKotlin.greet("b").asCompletableFuture() },
            "Kotlin orbit-client -> Kotlin actor" to { viaKotlinToKotlin.greet("k").asCompletableFuture() },
            "bridge -> Rust actor it hosts (in process, no network)" to { viaBridgeToRust.greet("b").asCompletableFuture() },
            "Kotlin orbit-client -> Rust actor (bridge host)" to { viaKotlinToRust.greet("k").asCompletableFuture() },
        )
        println("| path | in flight | calls/s | p50 ms | p99 ms |")
        println("|---|---:|---:|---:|---:|")
        for (inFlight in listOf(1, 64)) {
            for ((name, call) in rows) {
                closedLoop(call, inFlight, seconds / 2)
                val result = closedLoop(call, inFlight, seconds)
                println("| $name | $inFlight | ${"%.0f".format(result.rate)} | ${"%.2f".format(result.p50)} | ${"%.2f".format(result.p99)} |")
            }
        }
        if (soak > 0) soak(cluster, soak)
    }
}

private class LoopResult(val rate: Double, val p50: Double, val p99: Double)

/** Keeps [inFlight] calls going for [seconds]; returns the rate and latency percentiles. */
private fun closedLoop(call: () -> CompletableFuture<*>, inFlight: Int, seconds: Long): LoopResult {
    val deadline = System.nanoTime() + seconds * 1_000_000_000
    val latencies = java.util.concurrent.ConcurrentLinkedQueue<Long>()
    val done = AtomicLong()
    val failed = AtomicLong()
    val workers = (0 until inFlight).map {
        thread(name = "bench-$it") {
            while (System.nanoTime() < deadline) {
                val start = System.nanoTime()
                runCatching { call().get() }.onFailure { failed.incrementAndGet() }
                latencies.add(System.nanoTime() - start)
                done.incrementAndGet()
            }
        }
    }
    workers.forEach { it.join() }
    check(failed.get() == 0L) { "${failed.get()} calls failed" }
    val sorted = latencies.sorted()
    fun pct(p: Double) = if (sorted.isEmpty()) 0.0 else sorted[((sorted.size - 1) * p).toInt()] / 1e6
    return LoopResult(done.get().toDouble() / seconds, pct(0.5), pct(0.99))
}

/** [total] bridge calls to a Rust actor, 64 in flight; heap after GC and RSS every tenth. */
private fun soak(cluster: Cluster, total: Long) {
    val greeter = cluster.bridge.actor(RustGreeter::class.java, "soak")
    val step = total / 10
    println()
    println("soak: $total bridge calls (64 in flight) to a Rust actor hosted in this JVM")
    println("| calls | heap used after GC (MiB) | RSS (MiB) | calls/s |")
    println("|---:|---:|---:|---:|")
    val issued = AtomicLong()
    val answered = AtomicLong()
    var mark = System.nanoTime()
    var next = step
    val wrong = AtomicLong()
    val workers = (0 until 64).map {
        thread(name = "soak-$it") {
            while (issued.incrementAndGet() <= total) {
                val answer = greeter.greet("s").asCompletableFuture().get()
                if (answer != "Hello s, from Rust actor soak") wrong.incrementAndGet()
                answered.incrementAndGet()
            }
        }
    }
    while (workers.any { it.isAlive }) {
        Thread.sleep(100)
        if (answered.get() >= next || workers.none { it.isAlive }) {
            val now = System.nanoTime()
            val rate = step / ((now - mark) / 1e9)
            mark = now
            System.gc()
            val heap = ManagementFactory.getMemoryMXBean().heapMemoryUsage.used / 1048576.0
            println("| ${answered.get()} | ${"%.1f".format(heap)} | ${"%.1f".format(rssMiB())} | ${"%.0f".format(rate)} |")
            next += step
        }
    }
    workers.forEach { it.join() }
    check(wrong.get() == 0L) { "${wrong.get()} wrong answers" }
    println("soak: ${answered.get()} answers, 0 wrong")
}

private fun rssMiB(): Double =
    File("/proc/self/status").readLines().first { it.startsWith("VmRSS:") }.split(Regex("\\s+"))[1].toDouble() / 1024
