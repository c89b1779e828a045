package orbit.harness

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import orbit.client.OrbitClientConfig
import orbit.harness.actors.EchoActor
import java.time.Duration
import java.util.Locale
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong

/**
 * `load`: a benchmark load generator. A real OrbitClient that hosts nothing (like `call`) runs
 * `--concurrency` worker coroutines, each awaiting one `EchoActor.echoString` call at a time on
 * the keys `bench-0` .. `bench-<actors-1>` (round robin), first for `--warmup-seconds`, then for
 * `--duration-seconds`. Only calls *started* in the measured phase are counted; the line printed
 * at the end is
 *
 * `{"calls":..,"errors":..,"seconds":..,"callsPerSecond":..,"p50Ms":..,"p99Ms":..,"maxMs":..}`
 *
 * where `calls` counts successful calls, latency percentiles are over successful calls only,
 * and `seconds` is the measured phase's actual length (until the last measured call ended).
 * Progress and error samples go to stderr. This is a benchmark tool: it asserts nothing.
 */
object LoadCommand {
    private const val HANG_GRACE_MS = 15_000L
    private const val MAX_ERROR_SAMPLES = 5
    private const val MAX_ERROR_KINDS = 20

    /** Growable primitive list; one per worker, so no synchronisation is needed. */
    private class Latencies {
        var values = LongArray(4096)
        var size = 0
        fun add(v: Long) {
            if (size == values.size) values = values.copyOf(size * 2)
            values[size++] = v
        }
    }

    fun run(argv: List<String>): Int {
        val args = Args(
            "load", argv,
            valued = setOf(
                "--server", "--namespace", "--actors", "--concurrency", "--duration-seconds",
                "--warmup-seconds", "--payload", "--timeout-seconds"
            ),
            flags = emptySet()
        )
        val server = args.required("--server")
        val namespace = args.required("--namespace")
        val actors = args.int("--actors") ?: 1000
        val concurrency = args.int("--concurrency") ?: 64
        val durationSeconds = args.long("--duration-seconds") ?: 30
        val warmupSeconds = args.long("--warmup-seconds") ?: 10
        val payload = args.string("--payload") ?: "hello orbit"
        val timeoutSeconds = args.long("--timeout-seconds")
        if (actors < 1) args.usage("--actors must be at least 1")
        if (concurrency < 1) args.usage("--concurrency must be at least 1")
        if (durationSeconds < 1) args.usage("--duration-seconds must be at least 1")
        if (warmupSeconds < 0) args.usage("--warmup-seconds must not be negative")

        val defaults = OrbitClientConfig()
        val config = defaults.copy(
            grpcEndpoint = endpointOf(server),
            namespace = namespace,
            packages = listOf(EMPTY_PACKAGE),
            messageTimeout = timeoutSeconds?.let { Duration.ofSeconds(it) } ?: defaults.messageTimeout
        )
        val client = startClient(config) ?: return 1
        val hangAfterMs = config.messageTimeout.toMillis() + config.tickRate.toMillis() + HANG_GRACE_MS
        val proxies = List(actors) { client.actorFactory.createProxy(EchoActor::class.java, "bench-$it") }
        Out.err(
            "load: node ${client.nodeId}; $actors actors, concurrency $concurrency, " +
                    "warm-up ${warmupSeconds}s, measured ${durationSeconds}s"
        )

        val next = AtomicLong()
        val warmupCalls = AtomicLong()
        val warmupErrors = AtomicLong()
        val errors = AtomicLong()
        val lastEnd = AtomicLong()
        val errorSamples = ConcurrentHashMap<String, AtomicInteger>()
        val perWorker = List(concurrency) { Latencies() }

        val begin = System.nanoTime()
        val measureStart = begin + warmupSeconds * 1_000_000_000L
        val measureEnd = measureStart + durationSeconds * 1_000_000_000L

        runBlocking(Dispatchers.Default) {
            for (w in 0 until concurrency) {
                launch {
                    val mine = perWorker[w]
                    while (true) {
                        val start = System.nanoTime()
                        if (start >= measureEnd) break
                        val measured = start >= measureStart
                        val proxy = proxies[(next.getAndIncrement() % actors).toInt()]
                        val error: String? = try {
                            val result = withTimeoutOrNull(hangAfterMs) { proxy.echoString(payload).await() }
                            when (result) {
                                null -> "no completion within ${hangAfterMs}ms"
                                payload -> null
                                else -> "wrong result: $result"
                            }
                        } catch (t: Throwable) {
                            "${t.javaClass.name}: ${t.message}"
                        }
                        val end = System.nanoTime()
                        if (error != null) {
                            val kind = error.take(300).takeIf { errorSamples.containsKey(it) || errorSamples.size < MAX_ERROR_KINDS }
                                ?: "(other errors)"
                            val count = errorSamples.computeIfAbsent(kind) { AtomicInteger() }
                            if (count.getAndIncrement() == 0 && errorSamples.size <= MAX_ERROR_SAMPLES) {
                                Out.err("load: call error (${if (measured) "measured" else "warm-up"}): $error")
                            }
                        }
                        if (measured) {
                            if (error == null) mine.add(end - start) else errors.incrementAndGet()
                            lastEnd.accumulateAndGet(end) { a, b -> maxOf(a, b) }
                        } else {
                            warmupCalls.incrementAndGet()
                            if (error != null) warmupErrors.incrementAndGet()
                        }
                    }
                }
            }
            if (warmupSeconds > 0) {
                launch {
                    kotlinx.coroutines.delay((measureStart - System.nanoTime()) / 1_000_000)
                    Out.err("load: warm-up done: ${warmupCalls.get()} calls, ${warmupErrors.get()} errors")
                }
            }
        }

        val total = perWorker.sumOf { it.size }
        val all = LongArray(total)
        var offset = 0
        for (l in perWorker) {
            System.arraycopy(l.values, 0, all, offset, l.size)
            offset += l.size
        }
        all.sort()
        val seconds = (maxOf(lastEnd.get(), measureEnd) - measureStart) / 1e9
        fun percentileMs(p: Double): Double {
            if (total == 0) return 0.0
            val rank = kotlin.math.ceil(p * total).toInt().coerceIn(1, total)
            return all[rank - 1] / 1e6
        }

        if (errorSamples.isNotEmpty()) {
            Out.err("load: error kinds (count): " + errorSamples.entries.joinToString("; ") { "${it.value.get()}x ${it.key}" })
        }
        val node = Out.json.createObjectNode()
        node.put("calls", total.toLong())
        node.put("errors", errors.get())
        node.put("seconds", round3(seconds))
        node.put("callsPerSecond", round3(total / seconds))
        node.put("p50Ms", round3(percentileMs(0.50)))
        node.put("p99Ms", round3(percentileMs(0.99)))
        node.put("maxMs", round3(if (total == 0) 0.0 else all[total - 1] / 1e6))
        Out.jsonLine(node)

        stopClient(client)
        return 0
    }

    private fun round3(v: Double): Double = String.format(Locale.ROOT, "%.3f", v).toDouble()
}
