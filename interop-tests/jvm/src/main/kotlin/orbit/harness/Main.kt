package orbit.harness

import kotlin.system.exitProcess

private const val USAGE = """usage: java -jar orbit-harness.jar <command> [options]
  server  --port P [--url U] [--node-lease-seconds N] [--addressable-lease-seconds N] [--tick-millis N]
          [--etcd-node-url URL --etcd-addressable-url URL]
  client  --server HOST:PORT --namespace NS [--ttl-seconds N] [--platform-exceptions]
  call    --server HOST:PORT --namespace NS [--timeout-seconds N] [--platform-exceptions]
  load    --server HOST:PORT --namespace NS [--actors N] [--concurrency C] [--duration-seconds S]
          [--warmup-seconds W] [--payload TEXT] [--timeout-seconds N]
  health  --server HOST:PORT [--timeout-seconds N] [--interval-millis N]
  vectors --out DIR
  traffic --server HOST:PORT --namespace NS [--actors N] [--concurrency C] [--timeout-seconds N] [--tag T]
  etcd    --node-url URL --addressable-url URL   (JSON requests on stdin; see EtcdCommand.kt)
(see interop-tests/jvm/README.md)"""

fun main(argv: Array<String>) {
    val command = argv.firstOrNull()
    val rest = argv.drop(1)
    val code = try {
        when (command) {
            "server" -> ServerCommand.run(rest)
            "client" -> ClientCommand.run(rest)
            "call" -> CallCommand.run(rest)
            "load" -> LoadCommand.run(rest)
            "health" -> HealthCommand.run(rest)
            "vectors" -> orbit.harness.vectors.VectorsCommand.run(rest)
            "etcd" -> EtcdCommand.run(rest)
            "traffic" -> TrafficCommand.run(rest)
            "-h", "--help", "help" -> {
                Out.err(USAGE); 0
            }
            else -> {
                Out.err(USAGE); 2
            }
        }
    } catch (e: UsageException) {
        Out.err(e.message ?: "bad usage")
        Out.err(USAGE)
        2
    }
    exitProcess(code)
}
