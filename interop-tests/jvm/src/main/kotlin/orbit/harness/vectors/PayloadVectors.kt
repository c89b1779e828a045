package orbit.harness.vectors

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.ExperimentalCoroutinesApi
import orbit.harness.actors.EchoActor
import orbit.harness.actors.EchoActorImpl
import orbit.harness.actors.EchoBase
import orbit.harness.actors.Inner
import orbit.harness.actors.Int64EchoActor
import orbit.harness.actors.NoKeyEchoActor
import orbit.harness.actors.Payload
import java.lang.reflect.InvocationHandler
import java.lang.reflect.Method
import java.lang.reflect.Proxy

/** One invocation payload produced by the real orbit-client Serializer. */
class PayloadVector(
    val name: String,
    val kind: String,
    val iface: Class<*>,
    val method: Method,
    val description: String,
    val json: String
)

/**
 * Builds argument and result payloads exactly as orbit-client does:
 * - arguments: the proxy turns each call into an array of (argument value, declared JVM parameter
 *   class) pairs and serializes that array; here a java.lang.reflect.Proxy on the real actor
 *   interface records the Method and argument values of a real call, and the same pair array is
 *   serialized with the real Serializer;
 * - results: the host serializes the value the actor's Deferred completed with; here the real
 *   actor implementation is invoked and its result serialized;
 * - platform errors: the host serializes the thrown exception itself.
 */
@OptIn(ExperimentalCoroutinesApi::class)
class PayloadVectors(private val serializer: OrbitSerializer = OrbitSerializer()) {
    private class Call(val method: Method, val args: Array<Any?>)

    private fun <T : Any> record(iface: Class<T>, body: (T) -> Unit): Call {
        var call: Call? = null
        val handler = InvocationHandler { _, method, args ->
            if (method.declaringClass == Any::class.java) throw UnsupportedOperationException(method.name)
            call = Call(method, args ?: emptyArray())
            CompletableDeferred<Any?>()
        }
        @Suppress("UNCHECKED_CAST")
        val proxy = Proxy.newProxyInstance(iface.classLoader, arrayOf(iface), handler) as T
        body(proxy)
        return call ?: error("no call recorded")
    }

    /** The argument array, shaped like orbit-client's proxy: Array<Pair<value, declared parameter class>>. */
    private fun pairs(call: Call): Array<Pair<Any?, Class<*>>> =
        call.args.mapIndexed { i, v -> Pair<Any?, Class<*>>(v, call.method.parameterTypes[i]) }.toTypedArray()

    private fun readBack(json: String, type: Class<*>): String = try {
        val value = serializer.deserialize(json, type)
        "reads back with the real Serializer as " + (value?.javaClass?.name ?: "null")
    } catch (e: Throwable) {
        "does NOT read back with the real Serializer: ${e.javaClass.name}: ${e.message?.lineSequence()?.first()}"
    }

    private val out = mutableListOf<PayloadVector>()

    private fun <T : Any> args(name: String, iface: Class<T>, description: String, body: (T) -> Unit) {
        val call = record(iface, body)
        val json = serializer.serialize(pairs(call))
        out += PayloadVector(name, "arguments", iface, call.method,
            "$description; ${readBack(json, OrbitSerializer.argumentsClass)}", json)
    }

    private fun result(name: String, description: String, body: (EchoBase) -> Deferred<*>) {
        val call = record(EchoActor::class.java) { body(it) }
        val impl = EchoActorImpl()
        @Suppress("UNCHECKED_CAST")
        val value = (call.method.invoke(impl, *call.args) as Deferred<Any?>).getCompleted()
        val json = serializer.serialize(value)
        out += PayloadVector(name, "result", EchoActor::class.java, call.method,
            "$description; ${readBack(json, Any::class.java)}", json)
    }

    private fun platform(name: String, method: String, error: Throwable, description: String) {
        val m = EchoActor::class.java.methods.first { it.name == method }
        val json = serializer.serialize(error)
        out += PayloadVector(name, "platform", EchoActor::class.java, m,
            "$description; InvocationResponseErrorProto.description would be \"$error\"; " +
                    readBack(json, Throwable::class.java), json)
    }

    fun all(): List<PayloadVector> {
        out.clear()
        val e = EchoActor::class.java
        val u = ProtoVectors.UNICODE

        // ---- arguments ----
        args("args_string", e, "String argument: bare JSON string") { it.echoString("hi") }
        args("args_string_empty", e, "empty String") { it.echoString("") }
        args("args_string_unicode", e, "unicode String (non-ASCII is written as raw UTF-8, not escaped)") { it.echoString(u) }
        args("args_string_escapes", e, "String needing JSON escapes: quote, backslash, newline, tab, NUL, DEL, U+2028") {
            it.echoString("q\" b\\ n\n t\t z\u0000 d\u007f l\u2028")
        }
        args("args_int", e, "Int (declared int): bare number") { it.echoInt(42) }
        args("args_int_min", e, "Int.MIN_VALUE") { it.echoInt(Int.MIN_VALUE) }
        args("args_int_max", e, "Int.MAX_VALUE") { it.echoInt(Int.MAX_VALUE) }
        args("args_int_minus_one", e, "Int -1") { it.echoInt(-1) }
        args("args_long", e, "Long (declared long): boxed value is wrapped as java.lang.Long") { it.echoLong(7L) }
        args("args_long_zero", e, "Long 0") { it.echoLong(0L) }
        args("args_long_min", e, "Long.MIN_VALUE") { it.echoLong(Long.MIN_VALUE) }
        args("args_long_max", e, "Long.MAX_VALUE") { it.echoLong(Long.MAX_VALUE) }
        args("args_double", e, "Double (declared double): bare number") { it.echoDouble(3.5) }
        args("args_double_tenth", e, "Double 0.1 (shortest round-trip rendering)") { it.echoDouble(0.1) }
        args("args_double_negative_zero", e, "Double -0.0") { it.echoDouble(-0.0) }
        args("args_double_large", e, "Double 1e300") { it.echoDouble(1e300) }
        args("args_double_nan", e, "Double NaN (non-finite)") { it.echoDouble(Double.NaN) }
        args("args_double_infinity", e, "Double +Infinity (non-finite)") { it.echoDouble(Double.POSITIVE_INFINITY) }
        args("args_boolean_true", e, "Boolean true") { it.echoBoolean(true) }
        args("args_boolean_false", e, "Boolean false") { it.echoBoolean(false) }
        args("args_nullable_string_null", e, "String? null: declared class java.lang.String") { it.echoNullableString(null) }
        args("args_nullable_string_value", e, "String? with a value") { it.echoNullableString("x") }
        args("args_nullable_int_null", e, "Int? null: declared class java.lang.Integer") { it.echoNullableInt(null) }
        args("args_nullable_int_value", e, "Int? 5") { it.echoNullableInt(5) }
        args("args_nullable_long_null", e, "Long? null: declared class java.lang.Long") { it.echoNullableLong(null) }
        args("args_nullable_long_value", e, "Long? 7") { it.echoNullableLong(7L) }
        args("args_list_of_two", e, "listOf(\"a\", \"b\"): runtime class java.util.Arrays\$ArrayList") { it.echoList(listOf("a", "b")) }
        args("args_list_of_one", e, "listOf(\"a\"): runtime class java.util.Collections\$SingletonList") { it.echoList(listOf("a")) }
        args("args_list_empty", e, "emptyList(): runtime class kotlin.collections.EmptyList") { it.echoList(emptyList()) }
        args("args_list_mutable", e, "mutableListOf(\"a\", \"b\"): java.util.ArrayList") { it.echoList(mutableListOf("a", "b")) }
        args("args_long_list", e, "List<Long>: every element wrapped as java.lang.Long") { it.echoLongList(listOf(1L, Long.MAX_VALUE, Long.MIN_VALUE)) }
        args("args_map", e, "mapOf(\"a\" to 1, \"b\" to 2): java.util.LinkedHashMap, Int values bare") { it.echoMap(mapOf("a" to 1, "b" to 2)) }
        args("args_map_single", e, "single-entry mapOf: java.util.Collections\$SingletonMap") { it.echoMap(mapOf("only" to Int.MIN_VALUE)) }
        args("args_map_empty", e, "emptyMap(): kotlin.collections.EmptyMap") { it.echoMap(emptyMap()) }
        args("args_map_unicode_keys", e, "unicode map keys") { it.echoMap(linkedMapOf(u to 1, "" to 0)) }
        args("args_set", e, "setOf(\"x\", \"y\"): java.util.LinkedHashSet") { it.echoSet(setOf("x", "y")) }
        args("args_set_single", e, "setOf(\"x\"): java.util.Collections\$SingletonSet") { it.echoSet(setOf("x")) }
        args("args_payload", e, "data class with nested data class, Long (primitive, bare) and Long? (boxed, wrapped) fields") {
            it.echoPayload(Payload("n", 3, Long.MAX_VALUE, 5L, listOf("t1", "t2"), Inner("in", 2.5)))
        }
        args("args_payload_nulls", e, "data class with the nullable fields null and an empty list") {
            it.echoPayload(Payload(u, Int.MIN_VALUE, Long.MIN_VALUE, null, emptyList(), null))
        }
        args("args_inner_null", e, "nullable data class parameter, null") { it.echoInner(null) }
        args("args_no_arguments", e, "no arguments: empty pair array") { it.ping() }
        args("args_mixed", e, "multiple mixed arguments (String, int, long, boolean)") { it.concat("x", 1, 2L, true) }
        args("args_slow", e, "the slow(Long) call") { it.slow(250L) }
        args("args_unit_method", e, "argument of a method returning Unit") { it.unit("u") }
        args("args_no_key_actor", NoKeyEchoActor::class.java, "same method on NoKeyEchoActor: the payload does not depend on the key kind") {
            it.echoString("hi")
        }
        args("args_int64_actor_long", Int64EchoActor::class.java, "echoLong on Int64EchoActor") { it.echoLong(-1L) }

        // ---- results (what a host puts in InvocationResponseProto.value) ----
        result("result_string", "String result: a JSON string literal") { it.echoString("Hello Joe") }
        result("result_string_unicode", "unicode String result") { it.echoString(u) }
        result("result_int", "Int result: bare number") { it.echoInt(2) }
        result("result_int_min", "Int.MIN_VALUE result") { it.echoInt(Int.MIN_VALUE) }
        result("result_long", "Long result: wrapped") { it.echoLong(2L) }
        result("result_long_max", "Long.MAX_VALUE result") { it.echoLong(Long.MAX_VALUE) }
        result("result_long_min", "Long.MIN_VALUE result") { it.echoLong(Long.MIN_VALUE) }
        result("result_double", "Double result") { it.echoDouble(3.5) }
        result("result_double_nan", "Double NaN result") { it.echoDouble(Double.NaN) }
        result("result_boolean", "Boolean result") { it.echoBoolean(true) }
        result("result_null", "null result (String? null)") { it.echoNullableString(null) }
        result("result_nullable_long", "Long? result with a value") { it.echoNullableLong(9L) }
        result("result_unit", "Unit result: kotlin.Unit object") { it.unit("x") }
        result("result_pong", "ping() result") { it.ping() }
        result("result_list", "List<String> result (listOf, two elements)") { it.echoList(listOf("a", "b")) }
        result("result_list_empty", "emptyList() result") { it.echoList(emptyList()) }
        result("result_long_list", "List<Long> result") { it.echoLongList(listOf(1L, 2L)) }
        result("result_map", "Map<String, Int> result") { it.echoMap(mapOf("a" to 1, "b" to 2)) }
        result("result_set", "Set<String> result") { it.echoSet(setOf("x", "y")) }
        result("result_payload", "data class result") {
            it.echoPayload(Payload("n", 3, 4L, 5L, listOf("t"), Inner("in", -0.5)))
        }
        result("result_payload_nulls", "data class result with null fields") {
            it.echoPayload(Payload("n", 0, 0L, null, emptyList(), null))
        }
        result("result_concat", "concat(String, Int, Long, Boolean) result") { it.concat("x", 1, 2L, true) }

        // ---- platform errors (InvocationResponseErrorProto.platform with platform exceptions on) ----
        platform("platform_illegal_argument", "fail",
            IllegalArgumentException("boom").apply { stackTrace = emptyArray() },
            "IllegalArgumentException as thrown by fail(\"boom\"), stack trace emptied for determinism " +
                    "(a real one lists StackTraceElement objects)")
        platform("platform_with_stack_and_cause", "fail",
            IllegalStateException("outer", RuntimeException("inner").apply { stackTrace = emptyArray() }).apply {
                stackTrace = arrayOf(StackTraceElement("orbit.harness.actors.EchoBaseImpl", "fail", "Echo.kt", 42))
            },
            "exception with a cause and one fixed stack frame (the JDK 9+ StackTraceElement fields are all present)")
        return out.toList()
    }
}
