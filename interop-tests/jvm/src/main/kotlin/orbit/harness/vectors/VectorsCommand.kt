package orbit.harness.vectors

import com.fasterxml.jackson.core.util.DefaultIndenter
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter
import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.node.ObjectNode
import com.google.protobuf.Descriptors
import com.google.protobuf.Message
import com.google.protobuf.util.JsonFormat
import orbit.harness.Args
import orbit.harness.Out
import java.io.File

/** `vectors --out DIR`: writes DIR/proto/<name>.{bin,json} and DIR/payloads/<name>.json. */
object VectorsCommand {
    private const val SPEC_2_9_HEX =
        "080112180a1041414141414141414141414141414141120474657374222522230a130a0474657374120b1a0961646472657373203112067265706f72741a0474657374"

    private val printer = DefaultPrettyPrinter().withObjectIndenter(DefaultIndenter("  ", "\n"))
        .withArrayIndenter(DefaultIndenter("  ", "\n"))
    private val writer = Out.json.writer(printer)

    fun run(argv: List<String>): Int {
        val args = Args("vectors", argv, valued = setOf("--out"), flags = emptySet())
        val outDir = File(args.required("--out"))

        val protos = ProtoVectors.all()
        val payloads = PayloadVectors().all()
        check(protos, payloads)

        val protoDir = clean(File(outDir, "proto"))
        for (v in protos.sortedBy { it.name }) {
            val bytes = v.message.toByteArray()
            File(protoDir, "${v.name}.bin").writeBytes(bytes)
            writeJson(File(protoDir, "${v.name}.json"), protoJson(v, bytes))
        }
        val payloadDir = clean(File(outDir, "payloads"))
        for (p in payloads.sortedBy { it.name }) {
            val node = Out.json.createObjectNode()
            node.put("kind", p.kind)
            node.put("interface", p.iface.canonicalName)
            node.put("method", p.method.name)
            node.putArray("parameterTypes").also { a -> p.method.parameterTypes.forEach { a.add(it.name) } }
            node.put("description", p.description)
            node.put("json", p.json)
            writeJson(File(payloadDir, "${p.name}.json"), node)
        }
        Out.err("vectors: wrote ${protos.size} protobuf vectors to $protoDir and ${payloads.size} payloads to $payloadDir")
        return 0
    }

    private fun protoJson(v: ProtoVector, bytes: ByteArray): ObjectNode {
        val type = v.message.descriptorForType.fullName
        val node = Out.json.createObjectNode()
        node.put("type", type)
        node.set<JsonNode>("message", Out.json.readTree(JsonFormat.printer().print(v.message)))
        if (v.domain == null) node.putNull("domain") else node.put("domain", v.domain)
        node.put("notes", v.notes)
        node.put("hex", bytes.toHex())
        Converters.byType[type]?.let { conv ->
            // What the real Kotlin converters do with these bytes: decode, and re-encode identically?
            val decoded = runCatching { conv.toDomain(ProtoRegistry.parse(type, bytes)) }
            val reencoded = decoded.mapCatching { conv.toProto(it).toByteArray() }.getOrNull()
            node.put("kotlinConverts", decoded.isSuccess)
            node.put("kotlinRoundTrip", reencoded != null && reencoded.contentEquals(bytes))
            if (reencoded != null && !reencoded.contentEquals(bytes)) {
                // e.g. an absent MessageProto.source decodes to NodeId("", "") and is re-encoded as 12 00
                node.put("kotlinReencodedHex", reencoded.toHex())
            }
        }
        return node
    }

    private fun check(protos: List<ProtoVector>, payloads: List<PayloadVector>) {
        val names = (protos.map { it.name } + payloads.map { it.name })
        val dup = names.groupBy { it }.filter { it.value.size > 1 }.keys
        require(dup.isEmpty()) { "duplicate vector names: $dup" }
        val covered = protos.map { it.message.descriptorForType.fullName }.toSet()
        val missing = ProtoRegistry.orbitMessageTypes.filter { it !in covered }
        require(missing.isEmpty()) { "message types without a vector: $missing" }
        val spec = protos.first { it.name == "spec_2_9_message_1" }.message.toByteArray()
        val hex = spec.toHex()
        require(spec.size == 67 && hex == SPEC_2_9_HEX) { "spec 2.9 vector mismatch: ${spec.size} bytes $hex" }
        require(protos.first { it.name == "spec_2_9_message_2" }.message.toByteArray().size == 69) { "spec 2.9 companion is not 69 bytes" }
        // Every enum value of the schema appears in at least one vector.
        val seen = mutableSetOf<String>()
        fun visit(m: Message) {
            for ((field, value) in m.allFields) {
                val values = if (field.isRepeated) value as List<*> else listOf(value)
                for (x in values) when (x) {
                    is Message -> visit(x)
                    is Descriptors.EnumValueDescriptor -> seen += x.type.fullName + "." + x.name
                }
            }
            for (field in m.descriptorForType.fields) {
                if (field.type == Descriptors.FieldDescriptor.Type.ENUM && !field.isRepeated && !m.hasField(field)) {
                    seen += field.enumType.fullName + "." + field.enumType.values.first { it.number == 0 }.name
                }
            }
        }
        protos.forEach { visit(it.message) }
        val allEnumValues = ProtoRegistry.outerClasses.flatMap { outer ->
            val file = outer.getMethod("getDescriptor").invoke(null) as Descriptors.FileDescriptor
            fun enums(d: Descriptors.Descriptor): List<Descriptors.EnumDescriptor> = d.enumTypes + d.nestedTypes.flatMap { enums(it) }
            file.enumTypes + file.messageTypes.flatMap { enums(it) }
        }.flatMap { e -> e.values.map { e.fullName + "." + it.name } }
        val missingEnums = allEnumValues.filter { it !in seen }
        require(missingEnums.isEmpty()) { "enum values without a vector: $missingEnums" }
    }

    private fun clean(dir: File): File {
        dir.mkdirs()
        dir.listFiles()?.filter { it.isFile && (it.name.endsWith(".bin") || it.name.endsWith(".json")) }?.forEach { it.delete() }
        return dir
    }

    private fun writeJson(file: File, node: JsonNode) {
        file.writeText(writer.writeValueAsString(node) + "\n", Charsets.UTF_8)
    }
}
