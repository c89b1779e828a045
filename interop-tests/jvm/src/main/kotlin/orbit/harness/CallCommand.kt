package orbit.harness

import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.node.ObjectNode
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.future.await
import kotlinx.coroutines.joinAll
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import orbit.client.OrbitClient
import orbit.client.OrbitClientConfig
import orbit.client.actor.ActorWithInt32Key
import orbit.client.actor.ActorWithInt64Key
import orbit.client.actor.ActorWithNoKey
import orbit.client.actor.ActorWithStringKey
import orbit.shared.addressable.Key
import orbit.util.di.ComponentContainer
import java.io.BufferedReader
import java.io.InputStreamReader
import java.lang.reflect.InvocationTargetException
import java.lang.reflect.Method
import java.time.Duration
import java.util.concurrent.CompletionException
import java.util.concurrent.CompletionStage
import java.util.concurrent.ExecutionException

/**
 * `call`: a real OrbitClient that hosts nothing, turns each stdin JSON line into one proxy call and
 * prints one JSON line per call as calls complete.
 */
object CallCommand {
    /** Extra time the harness waits beyond Orbit's own message timeout before declaring a call hung. */
    private const val HANG_GRACE_MS = 15_000L

    private class BadInput(message: String) : Exception(message)
    private class Request(val id: JsonNode?, val iface: Class<*>, val key: Key, val method: Method, val args: Array<Any?>)
    private class Holder(val value: Any?)

    fun run(argv: List<String>): Int {
        val args = Args(
            "call", argv,
            valued = setOf("--server", "--namespace", "--timeout-seconds"),
            flags = setOf("--platform-exceptions")
        )
        val server = args.required("--server")
        val namespace = args.required("--namespace")
        val timeoutSeconds = args.long("--timeout-seconds")

        var container: ComponentContainer? = null
        val defaults = OrbitClientConfig()
        val config = defaults.copy(
            grpcEndpoint = endpointOf(server),
            namespace = namespace,
            packages = listOf(EMPTY_PACKAGE),
            messageTimeout = timeoutSeconds?.let { Duration.ofSeconds(it) } ?: defaults.messageTimeout,
            platformExceptions = args.flag("--platform-exceptions"),
            containerOverrides = { container = this.container }
        )
        val client = startClient(config) ?: return 1
        val id = client.nodeId!!
        val hangAfterMs = config.messageTimeout.toMillis() + config.tickRate.toMillis() + HANG_GRACE_MS
        val proxies = ProxyMaker(client, container!!)

        Out.line("READY call node=${id.namespace}:${id.key}")

        val scope = CoroutineScope(Dispatchers.Default + SupervisorJob())
        val jobs = mutableListOf<Job>()
        val reader = BufferedReader(InputStreamReader(System.`in`, Charsets.UTF_8))
        while (true) {
            val line = reader.readLine() ?: break
            if (line.isBlank()) continue
            val request = try {
                parse(line)
            } catch (e: Exception) {
                val reason = if (e is BadInput) e.message else e.toString()
                Out.jsonLine(failure(idOf(line), "bad input: $reason"))
                continue
            }
            jobs += scope.launch { Out.jsonLine(execute(proxies, request, hangAfterMs)) }
        }

        runBlocking { jobs.joinAll() }
        stopClient(client)
        return 0
    }

    private fun idOf(line: String): JsonNode? =
        runCatching { Out.json.readTree(line)?.get("id") }.getOrNull()?.takeUnless { it.isNull }

    private fun failure(id: JsonNode?, error: String): ObjectNode = Out.json.createObjectNode().apply {
        set<JsonNode>("id", id ?: Out.json.nullNode())
        put("ok", false)
        put("error", error)
    }

    private fun parse(line: String): Request {
        val node = try {
            Out.json.readTree(line)
        } catch (e: Exception) {
            throw BadInput("not JSON: ${e.message?.lineSequence()?.first()}")
        }
        if (node == null || !node.isObject) throw BadInput("expected a JSON object")
        val id = node.get("id")?.takeUnless { it.isNull }
        val typeName = node.get("type")?.takeIf { it.isTextual }?.asText() ?: throw BadInput("'type' (string) is required")
        val methodName = node.get("method")?.takeIf { it.isTextual }?.asText() ?: throw BadInput("'method' (string) is required")
        val argNodes = when (val a = node.get("args")) {
            null, is com.fasterxml.jackson.databind.node.NullNode -> emptyList()
            else -> if (a.isArray) a.toList() else throw BadInput("'args' must be an array")
        }
        val key = parseKey(node.get("key") ?: throw BadInput("'key' is required"))

        val iface = try {
            Class.forName(typeName)
        } catch (e: ClassNotFoundException) {
            throw BadInput("unknown type '$typeName' (not an interface on the harness classpath)")
        }
        if (!iface.isInterface) throw BadInput("'$typeName' is not an interface")
        val method = iface.methods.filter { it.name == methodName && it.parameterCount == argNodes.size }
            .minByOrNull { it.toGenericString() }
            ?: throw BadInput("no method $methodName with ${argNodes.size} parameter(s) on $typeName")
        val values = arrayOfNulls<Any?>(argNodes.size)
        for (i in argNodes.indices) {
            values[i] = try {
                Out.json.convertValue<Any?>(argNodes[i], Out.json.typeFactory.constructType(method.genericParameterTypes[i]))
            } catch (e: Exception) {
                throw BadInput("argument $i of $methodName: ${e.message?.lineSequence()?.first()}")
            }
            if (values[i] == null && method.parameterTypes[i].isPrimitive) {
                throw BadInput("argument $i of $methodName is null but the parameter is ${method.parameterTypes[i]}")
            }
        }
        return Request(id, iface, key, method, values)
    }

    private fun parseKey(node: JsonNode): Key {
        if (!node.isObject || node.size() != 1) throw BadInput("'key' must be an object with exactly one of string/int32/int64/none")
        val (kind, value) = node.fields().next().let { it.key to it.value }
        return when (kind) {
            "string" -> if (value.isTextual) Key.StringKey(value.asText()) else throw BadInput("key.string must be a string")
            "int32" -> if (value.isInt) Key.Int32Key(value.intValue()) else throw BadInput("key.int32 must be a 32-bit integer")
            "int64" -> if (value.isIntegralNumber && value.canConvertToLong()) Key.Int64Key(value.longValue())
            else throw BadInput("key.int64 must be a 64-bit integer")
            "none" -> Key.NoKey
            else -> throw BadInput("unknown key kind '$kind'")
        }
    }

    private suspend fun execute(proxies: ProxyMaker, request: Request, hangAfterMs: Long): ObjectNode {
        return try {
            val proxy = proxies.create(request.iface, request.key)
            val returned = try {
                request.method.invoke(proxy, *request.args)
            } catch (e: InvocationTargetException) {
                throw e.targetException
            }
            val holder = withTimeoutOrNull(hangAfterMs) {
                Holder(
                    when (returned) {
                        is Deferred<*> -> returned.await()
                        is CompletionStage<*> -> returned.await()
                        else -> returned
                    }
                )
            } ?: return failure(
                request.id,
                "orbit.harness.NoCompletion: the call did not complete within ${hangAfterMs}ms " +
                        "(Orbit's own timeout should have fired; the response was probably undecodable)"
            )
            Out.json.createObjectNode().apply {
                set<JsonNode>("id", request.id ?: Out.json.nullNode())
                put("ok", true)
                set<JsonNode>("result", Out.json.valueToTree<JsonNode>(holder.value) ?: Out.json.nullNode())
                put("resultClass", holder.value?.javaClass?.name)
            }
        } catch (t: Throwable) {
            val cause = unwrap(t)
            failure(request.id, "${cause.javaClass.name}: ${cause.message}")
        }
    }

    private fun unwrap(t: Throwable): Throwable {
        var current = t
        while ((current is InvocationTargetException || current is ExecutionException || current is CompletionException) &&
            current.cause != null
        ) {
            current = current.cause!!
        }
        return current
    }

    /**
     * Creates Orbit proxies. The public ActorProxyFactory is used whenever the key kind matches the
     * interface; a mismatching key (useful for negative tests) goes through the client's internal
     * proxy factory, which accepts any key.
     */
    private class ProxyMaker(private val client: OrbitClient, private val container: ComponentContainer) {
        @Suppress("UNCHECKED_CAST")
        fun create(iface: Class<*>, key: Key): Any {
            val factory = client.actorFactory
            return when {
                key is Key.StringKey && ActorWithStringKey::class.java.isAssignableFrom(iface) ->
                    factory.createProxy(iface as Class<ActorWithStringKey>, key.key)
                key is Key.Int32Key && ActorWithInt32Key::class.java.isAssignableFrom(iface) ->
                    factory.createProxy(iface as Class<ActorWithInt32Key>, key.key)
                key is Key.Int64Key && ActorWithInt64Key::class.java.isAssignableFrom(iface) ->
                    factory.createProxy(iface as Class<ActorWithInt64Key>, key.key)
                key is Key.NoKey && ActorWithNoKey::class.java.isAssignableFrom(iface) ->
                    factory.createProxy(iface as Class<ActorWithNoKey>)
                else -> internalCreate(iface, key)
            }
        }

        private fun internalCreate(iface: Class<*>, key: Key): Any {
            val factoryClass = Class.forName("orbit.client.addressable.AddressableProxyFactory")
            val internalFactory = container.resolve(factoryClass)
            val create = factoryClass.getMethod("createProxy", Class::class.java, Key::class.java)
            return try {
                create.invoke(internalFactory, iface, key)
            } catch (e: InvocationTargetException) {
                throw e.targetException
            }
        }
    }
}
