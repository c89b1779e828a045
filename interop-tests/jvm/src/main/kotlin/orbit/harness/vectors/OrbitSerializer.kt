package orbit.harness.vectors

/**
 * Reflective handle on the real `orbit.client.serializer.Serializer` (a Kotlin-internal class of
 * orbit-client), so payloads are produced by exactly the ObjectMapper Orbit uses.
 */
class OrbitSerializer {
    private val serializerClass = Class.forName("orbit.client.serializer.Serializer")
    private val instance: Any = serializerClass.getDeclaredConstructor().apply { isAccessible = true }.newInstance()
    private val serializeMethod = serializerClass.getMethod("serialize", Any::class.java)
    private val deserializeMethod = serializerClass.getMethod("deserialize", String::class.java, Class::class.java)

    fun serialize(value: Any?): String = unwrap { serializeMethod.invoke(instance, value) as String }

    fun deserialize(json: String, type: Class<*>): Any? = unwrap { deserializeMethod.invoke(instance, json, type) }

    private inline fun <T> unwrap(body: () -> T): T = try {
        body()
    } catch (e: java.lang.reflect.InvocationTargetException) {
        throw e.targetException
    }

    companion object {
        /** Runtime class of the argument array the proxy builds (`Array<Pair<Any?, Class<*>>>`). */
        val argumentsClass: Class<*> = Class.forName("[Lkotlin.Pair;")
    }
}

/** Lower-case hex of the bytes, independent of the default locale. */
fun ByteArray.toHex(): String {
    val digits = "0123456789abcdef"
    val sb = StringBuilder(size * 2)
    for (b in this) {
        sb.append(digits[(b.toInt() shr 4) and 0xf]).append(digits[b.toInt() and 0xf])
    }
    return sb.toString()
}
