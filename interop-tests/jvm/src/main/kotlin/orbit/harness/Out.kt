package orbit.harness

import com.fasterxml.jackson.databind.ObjectMapper
import com.fasterxml.jackson.databind.node.ObjectNode
import com.fasterxml.jackson.module.kotlin.registerKotlinModule
import java.io.PrintStream

/**
 * The only writer of machine-readable stdout. Every line is written and flushed atomically, so
 * concurrent callers never interleave. Logs go to stderr (slf4j-simple default).
 */
object Out {
    /** Plain Jackson (no type information) used for everything the harness itself prints. */
    val json: ObjectMapper = ObjectMapper().registerKotlinModule()
        // kotlin.Unit and other property-less objects print as {} instead of failing.
        .configure(com.fasterxml.jackson.databind.SerializationFeature.FAIL_ON_EMPTY_BEANS, false)

    private val stdout = PrintStream(java.io.FileOutputStream(java.io.FileDescriptor.out), false, "UTF-8")

    fun line(text: String) {
        synchronized(this) {
            stdout.print(text)
            stdout.print('\n')
            stdout.flush()
        }
    }

    fun jsonLine(node: ObjectNode) = line(json.writeValueAsString(node))

    fun event(event: String, type: String, key: String, reason: String?) {
        val node = json.createObjectNode()
        node.put("event", event)
        node.put("type", type)
        node.put("key", key)
        if (reason == null) node.putNull("reason") else node.put("reason", reason)
        line("EVENT " + json.writeValueAsString(node))
    }

    fun err(text: String) {
        System.err.println(text)
        System.err.flush()
    }
}
