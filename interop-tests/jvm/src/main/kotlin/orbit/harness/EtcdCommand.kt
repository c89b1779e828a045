package orbit.harness

import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.node.ObjectNode
import kotlinx.coroutines.runBlocking
import orbit.server.etcd.EtcdAddressableDirectory
import orbit.server.etcd.EtcdNodeDirectory
import orbit.shared.addressable.AddressableLease
import orbit.shared.addressable.AddressableReference
import orbit.shared.addressable.Key
import orbit.shared.addressable.NamespacedAddressableReference
import orbit.shared.mesh.NodeCapabilities
import orbit.shared.mesh.NodeId
import orbit.shared.mesh.NodeInfo
import orbit.shared.mesh.NodeLease
import orbit.shared.mesh.NodeStatus
import orbit.util.time.Clock
import orbit.util.time.Timestamp
import orbit.util.time.toTimestamp
import java.time.Instant

/**
 * `etcd`: the real Kotlin etcd directories (`orbit-server-etcd`) reading and writing a live etcd,
 * so tests can check that what orbit-node writes is what Kotlin reads, and the reverse.
 *
 * Reads one JSON request per stdin line and answers one JSON line (same `id`):
 * * `{"op":"nodes"}`: every record `EtcdNodeDirectory.entries()` returns;
 * * `{"op":"node","namespace":..,"key":..}`: `EtcdNodeDirectory.get`;
 * * `{"op":"lease","namespace":..,"type":..,"key":{"string":..}}`: `EtcdAddressableDirectory.get`;
 * * `{"op":"put-node", "namespace", "key", "url"?, "types":[..], "status", "visible":[["ns","key"]], "ttlMillis"}`:
 *   `compareAndSet(id, null, record)`;
 * * `{"op":"put-lease", "namespace", "type", "key", "nodeNamespace", "nodeKey", "ttlMillis"}`:
 *   `compareAndSet(reference, null, lease)`.
 * Records are printed field by field (timestamps in epoch milliseconds).
 */
object EtcdCommand {
    private class BadInput(message: String) : Exception(message)

    fun run(argv: List<String>): Int {
        val args = Args("etcd", argv, valued = setOf("--node-url", "--addressable-url"), flags = emptySet())
        val clock = Clock()
        val nodes = EtcdNodeDirectory(EtcdNodeDirectory.EtcdNodeDirectoryConfig(args.required("--node-url")), clock)
        val leases = EtcdAddressableDirectory(
            EtcdAddressableDirectory.EtcdAddressableDirectoryConfig(args.required("--addressable-url")), clock
        )
        Out.line("READY etcd")
        while (true) {
            val line = readLine() ?: break
            if (line.isBlank()) continue
            val answer = Out.json.createObjectNode()
            try {
                val request = Out.json.readTree(line)
                answer.put("id", request.path("id").asText())
                runBlocking { handle(request, answer, nodes, leases) }
            } catch (e: Exception) {
                answer.put("error", e.toString())
            }
            Out.jsonLine(answer)
        }
        return 0
    }

    private suspend fun handle(
        request: JsonNode,
        answer: ObjectNode,
        nodes: EtcdNodeDirectory,
        leases: EtcdAddressableDirectory
    ) {
        when (val op = request.path("op").asText()) {
            "nodes" -> {
                val array = answer.putArray("nodes")
                nodes.entries().sortedBy { it.first.key }.forEach { (_, info) -> array.add(nodeJson(info)) }
            }
            "node" -> {
                val info = nodes.get(NodeId(text(request, "key"), text(request, "namespace")))
                if (info == null) answer.putNull("node") else answer.set<JsonNode>("node", nodeJson(info))
            }
            "lease" -> {
                val lease = leases.get(reference(request))
                if (lease == null) answer.putNull("lease") else answer.set<JsonNode>("lease", leaseJson(lease))
            }
            "put-node" -> {
                val id = NodeId(text(request, "key"), text(request, "namespace"))
                val now = Instant.now().toEpochMilli()
                val ttl = request.path("ttlMillis").asLong(10_000)
                val info = NodeInfo(
                    id = id,
                    capabilities = NodeCapabilities(request.path("types").map { it.asText() }),
                    url = request.path("url").takeIf { it.isTextual }?.asText(),
                    lease = NodeLease("token-" + id.key, ts(now + ttl), ts(now + ttl / 2)),
                    visibleNodes = request.path("visible").map { NodeId(it[1].asText(), it[0].asText()) }.toSet(),
                    nodeStatus = NodeStatus.valueOf(request.path("status").asText("ACTIVE"))
                )
                answer.put("written", nodes.compareAndSet(id, null, info))
            }
            "put-lease" -> {
                val key = reference(request)
                val now = Instant.now().toEpochMilli()
                val ttl = request.path("ttlMillis").asLong(600_000)
                val lease = AddressableLease(
                    nodeId = NodeId(text(request, "nodeKey"), text(request, "nodeNamespace")),
                    reference = key.addressableReference,
                    expiresAt = ts(now + ttl),
                    renewAt = ts(now + ttl / 2)
                )
                answer.put("written", leases.compareAndSet(key, null, lease))
            }
            else -> throw BadInput("unknown op '$op'")
        }
    }

    private fun ts(ms: Long): Timestamp = Instant.ofEpochMilli(ms).toTimestamp()

    private fun millis(t: Timestamp): Long = t.seconds * 1000 + t.nanos / 1_000_000

    private fun text(request: JsonNode, field: String): String =
        request.path(field).takeIf { it.isTextual }?.asText() ?: throw BadInput("'$field' must be a string")

    private fun reference(request: JsonNode): NamespacedAddressableReference {
        val keyNode = request.path("key")
        if (!keyNode.isObject || keyNode.size() != 1) throw BadInput("'key' must be {string|int32|int64|none: ..}")
        val (kind, value) = keyNode.fields().next().let { it.key to it.value }
        val key = when (kind) {
            "string" -> Key.StringKey(value.asText())
            "int32" -> Key.Int32Key(value.intValue())
            "int64" -> Key.Int64Key(value.longValue())
            "none" -> Key.NoKey
            else -> throw BadInput("unknown key kind '$kind'")
        }
        return NamespacedAddressableReference(text(request, "namespace"), AddressableReference(text(request, "type"), key))
    }

    private fun nodeJson(info: NodeInfo): ObjectNode = Out.json.createObjectNode().apply {
        put("namespace", info.id.namespace)
        put("key", info.id.key)
        if (info.url == null) putNull("url") else put("url", info.url)
        put("status", info.nodeStatus.name)
        putArray("types").apply { info.capabilities.addressableTypes.sorted().forEach { add(it) } }
        putArray("visible").apply { info.visibleNodes.map { "${it.namespace}:${it.key}" }.sorted().forEach { add(it) } }
        put("challengeToken", info.lease.challengeToken)
        put("expiresAt", millis(info.lease.expiresAt))
        put("renewAt", millis(info.lease.renewAt))
    }

    private fun leaseJson(lease: AddressableLease): ObjectNode = Out.json.createObjectNode().apply {
        put("nodeNamespace", lease.nodeId.namespace)
        put("nodeKey", lease.nodeId.key)
        put("type", lease.reference.type)
        put("key", lease.reference.key.toString())
        put("expiresAt", millis(lease.expiresAt))
        put("renewAt", millis(lease.renewAt))
    }
}
