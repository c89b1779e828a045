package orbit.harness

import grpc.health.v1.HealthGrpc
import grpc.health.v1.HealthOuterClass.HealthCheckRequest
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus
import grpc.health.v1.HealthOuterClass.HealthCheckResponse
import io.grpc.ManagedChannelBuilder
import io.grpc.ServerBuilder
import io.grpc.StatusRuntimeException
import io.grpc.stub.StreamObserver
import java.net.InetSocketAddress
import java.net.Socket
import java.util.concurrent.TimeUnit

/**
 * `health`: polls `grpc.health.v1.Health/Check` (empty service name) every `--interval-millis`
 * (default 20) until it answers SERVING or `--timeout-seconds` (default 60) pass.
 *
 * It first warms up its gRPC client path against a throw-away local Health server (so that class
 * loading is not counted), then prints `POLLING` so that a script can start the server only once
 * the poller's JVM is warm. On success it prints
 * `SERVING <ms since the poller printed POLLING> at=<epoch millis of the SERVING answer>` and exits
 * 0; a script compares `at` with its own record of when it started the server. On timeout it
 * prints `TIMEOUT <ms> last=<last status or error>` and exits 1.
 *
 * Each attempt first opens a plain TCP connection (cheap, fails at once while nothing listens),
 * and only then asks over gRPC, resetting the channel's reconnect backoff so that an earlier
 * refused connection does not delay the next attempt by gRPC's 1 s backoff.
 */
object HealthCommand {
    fun run(argv: List<String>): Int {
        val args = Args("health", argv, valued = setOf("--server", "--timeout-seconds", "--interval-millis"), flags = emptySet())
        val server = args.required("--server")
        val timeoutMs = (args.long("--timeout-seconds") ?: 60) * 1000
        val intervalMs = args.long("--interval-millis") ?: 20
        val host = server.substringBeforeLast(':')
        val port = server.substringAfterLast(':').toIntOrNull() ?: args.usage("--server must be HOST:PORT")

        val channel = ManagedChannelBuilder.forAddress(host, port).usePlaintext().build()
        try {
            val stub = HealthGrpc.newBlockingStub(channel)
            val request = HealthCheckRequest.getDefaultInstance()

            fun attempt(): String {
                try {
                    Socket().use { it.connect(InetSocketAddress(host, port), 1000) }
                } catch (e: Exception) {
                    return "tcp: ${e.message}"
                }
                channel.resetConnectBackoff()
                return try {
                    stub.withDeadlineAfter(2, TimeUnit.SECONDS).check(request).status.name
                } catch (e: StatusRuntimeException) {
                    "grpc: ${e.status.code}"
                }
            }

            // The server under test is not up yet: warm up the whole gRPC client path on a
            // throw-away local Health server, so that class loading is not counted.
            warmUp(request)
            attempt()
            Out.line("POLLING")
            val startNs = System.nanoTime()
            var last = ""
            while (true) {
                last = attempt()
                val elapsedMs = (System.nanoTime() - startNs) / 1_000_000
                if (last == ServingStatus.SERVING.name) {
                    Out.line("SERVING $elapsedMs at=${System.currentTimeMillis()}")
                    return 0
                }
                if (elapsedMs >= timeoutMs) {
                    Out.line("TIMEOUT $elapsedMs last=$last")
                    return 1
                }
                Thread.sleep(intervalMs)
            }
        } finally {
            channel.shutdownNow()
        }
    }

    private fun warmUp(request: HealthCheckRequest) {
        val serving = HealthCheckResponse.newBuilder().setStatus(ServingStatus.SERVING).build()
        val local = ServerBuilder.forPort(0).addService(object : HealthGrpc.HealthImplBase() {
            override fun check(request: HealthCheckRequest, observer: StreamObserver<HealthCheckResponse>) {
                observer.onNext(serving)
                observer.onCompleted()
            }
        }).build().start()
        val channel = ManagedChannelBuilder.forAddress("127.0.0.1", local.port).usePlaintext().build()
        try {
            val stub = HealthGrpc.newBlockingStub(channel)
            repeat(50) { stub.withDeadlineAfter(10, TimeUnit.SECONDS).check(request) }
        } finally {
            channel.shutdownNow()
            local.shutdownNow()
        }
    }
}
