package orbit.harness

/** Minimal `--name value` / `--flag` parser; unknown options are errors. */
class Args(private val command: String, argv: List<String>, valued: Set<String>, flags: Set<String>) {
    private val values = mutableMapOf<String, String>()
    private val present = mutableSetOf<String>()

    init {
        var i = 0
        while (i < argv.size) {
            val a = argv[i]
            when {
                a in flags -> present += a
                a in valued -> {
                    if (i + 1 >= argv.size) usage("$a needs a value")
                    values[a] = argv[i + 1]
                    i++
                }
                a.startsWith("--") && a.contains('=') && a.substringBefore('=') in valued ->
                    values[a.substringBefore('=')] = a.substringAfter('=')
                else -> usage("unknown argument '$a'")
            }
            i++
        }
    }

    fun string(name: String): String? = values[name]
    fun required(name: String): String = values[name] ?: usage("$name is required")
    fun int(name: String): Int? = values[name]?.let { it.toIntOrNull() ?: usage("$name must be an integer") }
    fun long(name: String): Long? = values[name]?.let { it.toLongOrNull() ?: usage("$name must be an integer") }
    fun flag(name: String): Boolean = name in present

    fun usage(message: String): Nothing {
        throw UsageException("$command: $message")
    }
}

class UsageException(message: String) : RuntimeException(message)
