package dev.orbitrust.bridge

import java.net.URLClassLoader
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.lang.reflect.InvocationTargetException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows

/** Misuse and failures that must reach Java as clear exceptions, never a crash or a hang. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BridgeErrorsTest {
    @BeforeAll
    fun load() = loadTestLibrary()

    @Test
    fun `the library describes itself`() {
        assertEquals("0.1.0", OrbitBridge.version())
        assertEquals(
            listOf(
                "dev.orbitrust.bridge.test.RustGreeter", "dev.orbitrust.bridge.test.RustInt32Actor",
                "dev.orbitrust.bridge.test.RustInt64Actor", "dev.orbitrust.bridge.test.RustSingleton",
                "dev.orbitrust.bridge.test.trap.TrappedGreeter"
            ),
            OrbitBridge.actorTypes()
        )
    }

    @Test
    fun `a forged or stale handle is an IllegalStateException`() {
        for (handle in listOf(0L, 1L, 12_345L, Long.MAX_VALUE)) {
            val call = assertThrows<IllegalStateException> {
                NativeBridge.call(handle, "x.Y", NativeBridge.KEY_NONE, null, 0, "m", "[]", NativeFuture())
            }
            assertEquals("Rust Orbit client handle $handle is closed or was never issued", call.message)
            assertThrows<IllegalStateException> { NativeBridge.nodeId(handle) }
            assertThrows<IllegalStateException> { NativeBridge.close(handle) }
        }
    }

    @Test
    fun `null arguments are NullPointerExceptions`() {
        assertEquals("config is null", assertThrows<NullPointerException> { NativeBridge.start(null) }.message)
        val noFuture = assertThrows<NullPointerException> {
            NativeBridge.call(1L, "x.Y", NativeBridge.KEY_NONE, null, 0, "m", "[]", null)
        }
        assertEquals("future is null", noFuture.message)
        assertThrows<NullPointerException> { RustOrbitClientConfig.builder(null, "n") }
    }

    @Test
    fun `bad configurations name the field`() {
        val notJson = assertThrows<IllegalArgumentException> { NativeBridge.start("{bad") }
        assertTrue(notJson.message!!.startsWith("invalid Rust Orbit client configuration"), notJson.message)
        val unknown = assertThrows<IllegalArgumentException> {
            NativeBridge.start("""{"grpcEndpoint":"127.0.0.1:1","namespace":"n","ttl":5}""")
        }
        assertTrue(unknown.message!!.contains("unknown field `ttl`"), unknown.message)
        val empty = assertThrows<IllegalArgumentException> {
            NativeBridge.start("""{"grpcEndpoint":"127.0.0.1:1","namespace":""}""")
        }
        assertTrue(empty.message!!.contains("namespace is empty"), empty.message)
        assertThrows<IllegalArgumentException> {
            RustOrbitClientConfig.builder("127.0.0.1:1", "n").messageTimeout(java.time.Duration.ZERO)
        }
        val tiny = assertThrows<IllegalArgumentException> {
            RustOrbitClientConfig.builder("127.0.0.1:1", "n").tickRate(java.time.Duration.ofNanos(10))
        }
        assertEquals("tickRate must be at least 1 ms, not PT0.00000001S", tiny.message)
    }

    @Test
    fun `an unreachable server is an OrbitBridgeException`() {
        val config = RustOrbitClientConfig.builder("127.0.0.1:${freePort()}", "n").joinAttempts(1).build()
        val failed = assertThrows<OrbitBridgeException> { RustOrbitClient.start(config) }
        assertTrue(failed.message!!.startsWith("cannot start the Rust Orbit client: cannot join the cluster"), failed.message)
    }

    @Test
    fun `a panic in Rust is an OrbitBridgeException and the JVM goes on`() {
        repeat(3) {
            val panic = assertThrows<OrbitBridgeException> { OrbitBridge.panicForDiagnostics("boom $it") }
            assertEquals("panic in the Rust bridge: boom $it", panic.message)
        }
        assertEquals("0.1.0", OrbitBridge.version())
    }

    @Test
    fun `a second library is refused`() {
        val other = assertThrows<IllegalStateException> { OrbitBridge.loadLibrary(Path.of("/elsewhere/liborbit_other.so")) }
        assertTrue(other.message!!.startsWith("the Orbit bridge is already loaded from"), other.message)
    }

    @Test
    fun `the jar's own library is extracted into the configured directory and loads`() {
        val directory = Files.createTempDirectory("orbit-bridge-native")
        val classes = OrbitBridge::class.java.protectionDomain.codeSource.location
        System.setProperty("orbit.bridge.nativeDir", directory.toString())
        try {
            // A class loader of its own: this test JVM already holds the test-actors library.
            URLClassLoader(arrayOf(classes), ClassLoader.getPlatformClassLoader()).use { loader ->
                val bridge = loader.loadClass(OrbitBridge::class.java.name)
                bridge.getMethod("load").invoke(null)
                val from = bridge.getMethod("loadedFrom").invoke(null) as String
                assertTrue(from.startsWith("$directory/liborbit_jvm_bridge-linux-x86_64-"), from)
                val describe = loader.loadClass(NativeBridge::class.java.name).getDeclaredMethod("describe")
                describe.isAccessible = true
                val description = describe.invoke(null) as String
                assertTrue(description.contains("\"actorTypes\":[]"), description)
                assertTrue(description.contains("\"version\":\"0.1.0\""), description)
            }
        } finally {
            System.clearProperty("orbit.bridge.nativeDir")
        }
    }

    @Test
    fun `missing, foreign and doubly loaded libraries are clear UnsatisfiedLinkErrors`() {
        val library = Path.of(System.getProperty("bridge.test.library"))
        // A class loader of its own, as a second web application in one container would have.
        val classes = OrbitBridge::class.java.protectionDomain.codeSource.location
        fun isolated(path: Path): Throwable {
            URLClassLoader(arrayOf(classes), ClassLoader.getPlatformClassLoader()).use { loader ->
                val bridge = loader.loadClass(OrbitBridge::class.java.name)
                val failure = assertThrows<InvocationTargetException> {
                    bridge.getMethod("loadLibrary", Path::class.java).invoke(null, path)
                }
                return failure.cause!!
            }
        }
        val missing = isolated(Path.of("/nonexistent/liborbit_actors.so"))
        assertTrue(missing is UnsatisfiedLinkError, missing.toString())
        assertEquals("no Orbit bridge library at /nonexistent/liborbit_actors.so", missing.message)

        val twice = isolated(library)
        assertTrue(twice is UnsatisfiedLinkError, twice.toString())
        assertTrue(twice.message!!.contains("already loaded by another class loader"), twice.message)

        // The same library built for another machine (e_machine set to AArch64).
        val foreign = Files.createTempFile("liborbit_foreign", ".so")
        Files.copy(library, foreign, StandardCopyOption.REPLACE_EXISTING)
        val bytes = Files.readAllBytes(foreign)
        bytes[18] = 0xB7.toByte()
        bytes[19] = 0
        Files.write(foreign, bytes)
        val wrong = isolated(foreign)
        assertTrue(wrong is UnsatisfiedLinkError, wrong.toString())
        assertTrue(wrong.message!!.startsWith("cannot load the Orbit bridge library $foreign"), wrong.message)
        Files.delete(foreign)

        val notALibrary = Files.createTempFile("liborbit_text", ".so")
        Files.writeString(notALibrary, "not a shared object")
        val text = isolated(notALibrary)
        assertTrue(text.message!!.startsWith("cannot load the Orbit bridge library $notALibrary"), text.message)
        Files.delete(notALibrary)
    }
}
