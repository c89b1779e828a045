package dev.orbitrust.bridge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Loads the native bridge library, once per process.
 *
 * <ul>
 *   <li>{@link #loadLibrary(Path)}: a library of your own with Rust actors (built with {@code
 *       orbit_jvm_bridge::export_actors!}); every {@link RustOrbitClient} then hosts them.
 *   <li>{@link #load()}: the bridge's own library, for services that only call actors: from
 *       {@code java.library.path} ({@code liborbit_jvm_bridge.so}) if it is there, otherwise
 *       extracted from this jar into {@code orbit.bridge.nativeDir} (system property), {@code
 *       ORBIT_BRIDGE_NATIVE_DIR} (environment), or {@code <java.io.tmpdir>/orbit-jvm-bridge-<user>}.
 *       Choose the directory on hosts where the temporary directory is mounted {@code noexec}.
 * </ul>
 */
public final class OrbitBridge {
    /** The bridge's own library name, for {@code System.loadLibrary}. */
    public static final String LIBRARY_NAME = "orbit_jvm_bridge";

    private static final Object LOCK = new Object();
    private static volatile String loadedFrom;

    private OrbitBridge() {}

    /** Loads the bridge's own library unless a bridge library is loaded already. */
    public static void load() {
        synchronized (LOCK) {
            if (loadedFrom != null) {
                return;
            }
            String platform = platform();
            boolean onPath;
            try {
                System.loadLibrary(LIBRARY_NAME);
                onPath = true;
            } catch (UnsatisfiedLinkError notOnPath) {
                onPath = false; // Not on java.library.path: use the copy inside the jar.
            }
            if (onPath) {
                checkEntryPoints("java.library.path (" + System.mapLibraryName(LIBRARY_NAME) + ")");
                loaded("java.library.path (" + System.mapLibraryName(LIBRARY_NAME) + ")");
                return;
            }
            Path extracted = extract(platform);
            loadFile(extracted);
        }
    }

    /** Loads a bridge library of your own (with Rust actors) from {@code path}. */
    public static void loadLibrary(Path path) {
        synchronized (LOCK) {
            Path absolute = path.toAbsolutePath().normalize();
            if (loadedFrom != null) {
                if (loadedFrom.equals(absolute.toString())) {
                    return;
                }
                throw new IllegalStateException("the Orbit bridge is already loaded from " + loadedFrom
                        + "; a process loads one bridge library (put all its Rust actors in one library)");
            }
            platform();
            if (!Files.isRegularFile(absolute)) {
                throw new UnsatisfiedLinkError("no Orbit bridge library at " + absolute);
            }
            loadFile(absolute);
        }
    }

    /** Where the loaded library came from, or null if none is loaded. */
    public static String loadedFrom() {
        return loadedFrom;
    }

    /** The loaded library's bridge version. */
    public static String version() {
        return describe().path("version").asText();
    }

    /** The Rust actor types (Kotlin interface names) the loaded library hosts. */
    public static List<String> actorTypes() {
        List<String> types = new ArrayList<>();
        describe().path("actorTypes").forEach(node -> types.add(node.asText()));
        return types;
    }

    static void ensureLoaded() {
        if (loadedFrom == null) {
            load();
        }
    }

    /** Makes a Rust panic inside the bridge, to check that it arrives as an {@link OrbitBridgeException}. */
    public static void panicForDiagnostics(String message) {
        ensureLoaded();
        NativeBridge.panicForDiagnostics(message);
    }

    private static JsonNode describe() {
        ensureLoaded();
        try {
            return new ObjectMapper().readTree(NativeBridge.describe());
        } catch (IOException e) {
            throw new OrbitBridgeException("unreadable bridge description", e);
        }
    }

    private static void loadFile(Path file) {
        try {
            System.load(file.toString());
        } catch (UnsatisfiedLinkError e) {
            String reason = String.valueOf(e.getMessage());
            String hint;
            if (reason.contains("another classloader")) {
                hint = "it is already loaded by another class loader of this JVM; a process can load the bridge"
                        + " in one class loader only, so put orbit-jvm-bridge on a class loader the services share";
            } else if (reason.contains("ELF") || reason.contains("wrong") || reason.contains("architecture")) {
                hint = "it is not built for this platform (" + platform() + ")";
            } else {
                hint = "the system could not load it";
            }
            UnsatisfiedLinkError clear = new UnsatisfiedLinkError(
                    "cannot load the Orbit bridge library " + file + ": " + hint + " (" + reason + ")");
            clear.initCause(e);
            throw clear;
        }
        checkEntryPoints(file.toString());
        loaded(file.toString());
    }

    private static void checkEntryPoints(String from) {
        try {
            NativeBridge.describe();
        } catch (UnsatisfiedLinkError e) {
            UnsatisfiedLinkError clear = new UnsatisfiedLinkError("the library " + from
                    + " has no Orbit bridge entry points (build it with orbit_jvm_bridge::export_actors!)");
            clear.initCause(e);
            throw clear;
        }
    }

    private static void loaded(String from) {
        loadedFrom = from;
    }

    /**
     * The platform's directory name in the jars: {@code linux-x86_64} (glibc, in the main jar and
     * the {@code linux-x86_64} classifier jar) or {@code linux-x86_64-musl} (Alpine-style
     * systems, in the {@code linux-x86_64-musl} classifier jar). Other platforms have no build.
     */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (os.contains("linux") && (arch.equals("amd64") || arch.equals("x86_64"))) {
            return runningOnMusl() ? "linux-x86_64-musl" : "linux-x86_64";
        }
        throw new UnsatisfiedLinkError("the Orbit bridge has no native build for " + os + "/" + arch
                + "; builds exist for linux-x86_64 (glibc) and linux-x86_64-musl");
    }

    /**
     * Whether this JVM runs on musl: its own memory map names musl's loader. (A glibc system
     * may have musl installed beside it, so the loader's file alone says nothing.)
     */
    private static boolean runningOnMusl() {
        try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
            return maps.anyMatch(line -> line.contains("/ld-musl-") || line.contains("/libc.musl-"));
        } catch (IOException | UncheckedIOException e) {
            return Files.exists(Path.of("/lib/ld-musl-x86_64.so.1"))
                    && !Files.exists(Path.of("/lib64/ld-linux-x86-64.so.2"));
        }
    }

    private static Path extract(String platform) {
        String resource = "native/" + platform + "/" + System.mapLibraryName(LIBRARY_NAME);
        byte[] bytes;
        try (InputStream in = OrbitBridge.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("no " + System.mapLibraryName(LIBRARY_NAME)
                        + " on java.library.path and none on the class path (" + resource + "); add the "
                        + "dev.orbitrust:orbit-jvm-bridge:" + platform + " classifier jar");
            }
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new UnsatisfiedLinkError("cannot read " + resource + " from the jar: " + e);
        }
        Path directory = extractDirectory();
        try {
            String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
            Path target = directory.resolve("liborbit_jvm_bridge-" + platform + "-" + hash.substring(0, 16) + ".so");
            // Reused only if its content is ours: the name is predictable, the file might not be.
            if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)
                    && Arrays.equals(Files.readAllBytes(target), bytes)) {
                return target;
            }
            Path partial = Files.createTempFile(directory, "liborbit_jvm_bridge-", ".partial");
            Files.write(partial, bytes);
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new UnsatisfiedLinkError("cannot extract the Orbit bridge library into " + directory
                    + " (set orbit.bridge.nativeDir or ORBIT_BRIDGE_NATIVE_DIR to a writable, executable directory): " + e);
        }
    }

    /**
     * The configured directory, or {@code <java.io.tmpdir>/orbit-jvm-bridge-<user>} created
     * private (0700). A shared directory of that name that this user does not own, or that
     * others may write, is not used: a fresh private temporary directory is.
     */
    private static Path extractDirectory() {
        String configured = System.getProperty("orbit.bridge.nativeDir");
        if (configured == null || configured.isBlank()) {
            configured = System.getenv("ORBIT_BRIDGE_NATIVE_DIR");
        }
        try {
            if (configured != null && !configured.isBlank()) {
                return Files.createDirectories(Path.of(configured));
            }
            String user = System.getProperty("user.name", "user");
            Path directory = Path.of(System.getProperty("java.io.tmpdir"), "orbit-jvm-bridge-" + user);
            Set<PosixFilePermission> owner = PosixFilePermissions.fromString("rwx------");
            if (!Files.exists(directory, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(owner));
                } catch (FileAlreadyExistsException raced) {
                    // Created meanwhile: checked below like any existing directory.
                }
            }
            boolean private_ = Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS)
                    && Files.getOwner(directory, LinkOption.NOFOLLOW_LINKS).getName().equals(user)
                    && Files.getPosixFilePermissions(directory, LinkOption.NOFOLLOW_LINKS).stream()
                            .noneMatch(p -> p == PosixFilePermission.GROUP_WRITE || p == PosixFilePermission.OTHERS_WRITE);
            return private_ ? directory : Files.createTempDirectory("orbit-jvm-bridge-");
        } catch (IOException | UnsupportedOperationException e) {
            throw new UnsatisfiedLinkError("cannot prepare a directory for the Orbit bridge library"
                    + " (set orbit.bridge.nativeDir or ORBIT_BRIDGE_NATIVE_DIR): " + e);
        }
    }
}
