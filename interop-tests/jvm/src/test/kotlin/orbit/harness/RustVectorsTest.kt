package orbit.harness

import com.fasterxml.jackson.databind.JsonNode
import com.google.protobuf.util.JsonFormat
import orbit.harness.vectors.Converters
import orbit.harness.vectors.ProtoRegistry
import orbit.harness.vectors.toHex
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import java.io.File

/**
 * Checks the protobuf vectors written by the Rust implementation against the real Kotlin code:
 * for every `<name>.bin` in the directory given by the system property `rust.vectors.dir`
 * (default compat-proto/testdata/rust) with a sibling `<name>.json`
 * (`{"type": ..., "message": ..., "kotlinConverts"?: bool, "kotlinRoundTrip"?: bool}`):
 * - the bytes parse as `type` with the generated Java class and equal `message` parsed by JsonFormat;
 * - where orbit-proto has a converter for `type`: it converts (or, with kotlinConverts=false, throws),
 *   and with kotlinRoundTrip (default true) converting back gives exactly the same bytes.
 * A missing or empty directory is a failure, never a skip.
 */
class RustVectorsTest {
    private val dir: File = File(
        System.getProperty("rust.vectors.dir")?.takeIf { it.isNotBlank() } ?: "../../../compat-proto/testdata/rust"
    )

    @TestFactory
    fun rustVectors(): List<DynamicTest> {
        assertTrue(dir.isDirectory, "Rust vector directory ${dir.absolutePath} does not exist")
        val bins = dir.listFiles { f -> f.isFile && f.name.endsWith(".bin") }.orEmpty().sortedBy { it.name }
        assertTrue(bins.isNotEmpty(), "Rust vector directory ${dir.absolutePath} has no *.bin files")
        return bins.map { bin -> DynamicTest.dynamicTest(bin.name) { check(bin) } }
    }

    private fun check(bin: File) {
        val jsonFile = File(bin.parentFile, bin.name.removeSuffix(".bin") + ".json")
        assertTrue(jsonFile.isFile, "missing ${jsonFile.name} next to ${bin.name}")
        val spec = Out.json.readTree(jsonFile)
        val type = spec.get("type")?.takeIf { it.isTextual }?.asText() ?: fail("${jsonFile.name}: 'type' (string) is required")
        // An object for most types; well-known types such as Timestamp map to a JSON string.
        val messageJson = spec.get("message")?.takeUnless { it.isNull } ?: fail("${jsonFile.name}: 'message' is required")
        val bytes = bin.readBytes()

        val fromBin = ProtoRegistry.parse(type, bytes)
        val builder = ProtoRegistry.newBuilder(type)
        JsonFormat.parser().merge(Out.json.writeValueAsString(messageJson), builder)
        val fromJson = builder.build()
        assertEquals(fromJson, fromBin, "${bin.name}: the binary and the JSON 'message' describe different messages")

        val converts = flag(spec, "kotlinConverts")
        val roundTrip = flag(spec, "kotlinRoundTrip")
        val converter = Converters.byType[type]
        if (converter == null) {
            // Nothing to convert with; only an explicit expectation of a converter failure is an error.
            if (converts == false) {
                fail<Unit>("${bin.name}: kotlinConverts=false, but orbit-proto has no Kotlin converter for $type")
            }
            return
        }
        if (converts == false) {
            val outcome = runCatching { converter.toDomain(fromBin) }
            assertTrue(outcome.isFailure, "${bin.name}: expected the Kotlin converter to throw, it produced ${outcome.getOrNull()}")
            return
        }
        val domain = try {
            converter.toDomain(fromBin)
        } catch (t: Throwable) {
            fail<Any?>("${bin.name}: the Kotlin converter threw $t", t)
        }
        if (roundTrip != false) {
            val again = converter.toProto(domain).toByteArray()
            assertArrayEquals(bytes, again, "${bin.name}: Kotlin re-encoding of $domain differs: ${hex(again)} vs ${hex(bytes)}")
        }
    }

    private fun flag(spec: JsonNode, name: String): Boolean? = spec.get(name)?.let {
        if (it.isNull) null else if (it.isBoolean) it.booleanValue() else fail("'$name' must be true or false")
    }

    private fun hex(b: ByteArray) = b.toHex()
}
