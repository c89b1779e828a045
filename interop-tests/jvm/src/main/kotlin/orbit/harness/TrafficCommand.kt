package orbit.harness

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import orbit.client.OrbitClientConfig
import orbit.client.util.TimeoutException
import orbit.harness.actors.LedgerActor
import java.time.Duration
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong

/**
 * `traffic`: steady calls for migration tests, every one accounted for. A real OrbitClient that
 * hosts nothing runs `--concurrency` workers, each awaiting one `LedgerActor.record(<id>)` at a
 * time on the keys `roll-0` .. `roll-<actors-1>`, with a unique call id `<tag>-<n>`, until a line
 * `STOP` (or the end of stdin) arrives. Then it prints one line:
 *
 * `{"calls":..,"correct":..,"wrong":..,"timeouts":..,"errors":{"<kind>":n,..},"hung":..}`
 *
 * `correct`: answered with its own id; `wrong`: answered with anything else; `timeouts`: the
 * Orbit client gave up waiting (nobody answered: a lost call); `errors`: answered with an
 * error, by kind; `hung`: not even the client's timeout fired. Progress goes to stderr.
 */
object TrafficCommand {
    private const val HANG_GRACE_MS = 15_000L

    fun run(argv: List<String>): Int {
        val args = Args(
            "traffic", argv,
            valued = setOf("--server", "--namespace", "--actors", "--concurrency", "--timeout-seconds", "--tag"),
            flags = emptySet()
        )
        val actors = args.int("--actors") ?: 1000
        val concurrency = args.int("--concurrency") ?: 8
        val tag = args.string("--tag") ?: "t"
        if (actors < 1 || concurrency < 1) args.usage("--actors and --concurrency must be at least 1")
        val defaults = OrbitClientConfig()
        val config = defaults.copy(
            grpcEndpoint = endpointOf(args.required("--server")),
            namespace = args.required("--namespace"),
            packages = listOf(EMPTY_PACKAGE),
            messageTimeout = args.long("--timeout-seconds")?.let { Duration.ofSeconds(it) } ?: defaults.messageTimeout
        )
        val client = startClient(config) ?: return 1
        val hangAfterMs = config.messageTimeout.toMillis() + config.tickRate.toMillis() + HANG_GRACE_MS
        val proxies = List(actors) { client.actorFactory.createProxy(LedgerActor::class.java, "roll-$it") }

        val stop = AtomicBoolean(false)
        val next = AtomicLong()
        val correct = AtomicLong()
        val wrong = AtomicLong()
        val timeouts = AtomicLong()
        val hung = AtomicLong()
        val errors = ConcurrentHashMap<String, AtomicInteger>()
        Thread({
            while (true) {
                val line = readLine() ?: break
                if (line.trim() == "STOP") break
            }
            stop.set(true)
        }, "traffic-stdin").apply { isDaemon = true }.start()
        Out.line("READY traffic node=${client.nodeId}")

        val began = System.currentTimeMillis()
        runBlocking(Dispatchers.Default) {
            launch {
                // One progress line a second (stderr), to line failures up with a test's events.
                while (!stop.get()) {
                    kotlinx.coroutines.delay(1000)
                    Out.err(
                        "traffic: t=${(System.currentTimeMillis() - began) / 1000}s calls=${next.get()} correct=${correct.get()} " +
                                "timeouts=${timeouts.get()} errors=${errors.values.sumOf { it.get() }}"
                    )
                }
            }
            for (w in 0 until concurrency) {
                launch {
                    while (!stop.get()) {
                        val n = next.getAndIncrement()
                        val id = "$tag-$n"
                        try {
                            when (withTimeoutOrNull(hangAfterMs) { proxies[(n % actors).toInt()].record(id).await() }) {
                                null -> hung.incrementAndGet()
                                id -> correct.incrementAndGet()
                                else -> wrong.incrementAndGet()
                            }
                        } catch (e: TimeoutException) {
                            timeouts.incrementAndGet()
                        } catch (t: Throwable) {
                            val kind = "${t.javaClass.name}: ${t.message}".replace(Regex("\\([A-Za-z0-9]+:[A-Za-z0-9]+\\)"), "(<node>)").take(200)
                            if (errors.computeIfAbsent(kind) { AtomicInteger() }.getAndIncrement() == 0) {
                                Out.err("traffic: first error of a kind: $kind")
                            }
                        }
                    }
                }
            }
        }
        val summary = Out.json.createObjectNode().apply {
            put("calls", next.get())
            put("correct", correct.get())
            put("wrong", wrong.get())
            put("timeouts", timeouts.get())
            put("hung", hung.get())
            putObject("errors").apply { errors.toSortedMap().forEach { (k, v) -> put(k, v.get()) } }
        }
        Out.jsonLine(summary)
        stopClient(client)
        return 0
    }
}
