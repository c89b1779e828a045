package orbit.harness.vectors

import com.google.protobuf.Message
import grpc.health.v1.HealthOuterClass
import orbit.shared.addressable.AddressableLease
import orbit.shared.addressable.AddressableReference
import orbit.shared.addressable.Key
import orbit.shared.addressable.NamespacedAddressableReference
import orbit.shared.exception.InvalidChallengeException
import orbit.shared.exception.InvalidNodeId
import orbit.shared.exception.PlacementFailedException
import orbit.shared.exception.toErrorContent
import orbit.shared.mesh.NodeCapabilities
import orbit.shared.mesh.NodeId
import orbit.shared.mesh.NodeInfo
import orbit.shared.mesh.NodeLease
import orbit.shared.mesh.NodeStatus
import orbit.shared.net.InvocationReason
import orbit.shared.net.MessageContent
import orbit.shared.net.MessageTarget
import orbit.shared.proto.AddressableManagementOuterClass
import orbit.shared.proto.NodeManagementOuterClass
import orbit.shared.proto.toAddressableKeyProto
import orbit.shared.proto.toAddressableLeaseProto
import orbit.shared.proto.toAddressableLeaseResponseProto
import orbit.shared.proto.toAddressableReferenceProto
import orbit.shared.proto.toCapabilitiesProto
import orbit.shared.proto.toMessageContentProto
import orbit.shared.proto.toMessageProto
import orbit.shared.proto.toMessageTargetProto
import orbit.shared.proto.toNamespacedAddressableReferenceProto
import orbit.shared.proto.toNodeIdProto
import orbit.shared.proto.toNodeInfoProto
import orbit.shared.proto.toNodeLeaseProto
import orbit.shared.proto.toNodeLeaseRequestResponseProto
import orbit.shared.proto.toTimestampProto
import orbit.shared.router.Route
import orbit.util.time.Timestamp
import orbit.util.time.toTimestamp
import java.time.Instant
import orbit.shared.net.Message as OrbitMessage

/**
 * One protobuf vector. [domain] is the Kotlin toString() of the orbit-shared object the message
 * was converted from (null when the message was built with the generated builder).
 */
class ProtoVector(val name: String, val message: Message, val domain: String?, val notes: String)

/** Builds every protobuf vector, with the real orbit-proto converters wherever one exists. */
object ProtoVectors {
    // Fixed inputs: nothing depends on the clock or on randomness.
    private const val T_MS = 1_600_000_000_123L // 2020-09-13T12:26:40.123Z
    private const val FAR_FUTURE_MS = 253_402_300_799_999L // 9999-12-31T23:59:59.999Z, the JSON mapping's maximum
    private const val TOKEN = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZab"
    const val UNICODE = "ключ-🚀-鍵"
    private const val ECHO = "orbit.harness.actors.EchoActor"

    private fun ts(ms: Long): Timestamp = Instant.ofEpochMilli(ms).toTimestamp()

    private val server = NodeId("ServerKey0000001", "management")
    private val client = NodeId("ClientKey0000001", "test")
    private val caller = NodeId("CallerKey0000001", "test")
    private val lease = NodeLease(TOKEN, expiresAt = ts(T_MS + 10_000), renewAt = ts(T_MS + 5_000))
    private val echoRef = AddressableReference(ECHO, Key.StringKey("abc"))

    /**
     * Kotlin toString() of a domain object. Objects without their own toString (e.g.
     * MessageContent.ConnectionInfoRequest) print an identity hash, which is replaced by
     * `@<identity>` so the output stays deterministic.
     */
    fun domainString(domain: Any?): String =
        domain.toString().replace(Regex("([A-Za-z_][A-Za-z0-9_$.]*)@[0-9a-f]{1,8}\\b"), "$1@<identity>")

    fun all(): List<ProtoVector> {
        val out = mutableListOf<ProtoVector>()
        fun conv(name: String, domain: Any?, message: Message, notes: String) {
            out += ProtoVector(name, message, domainString(domain), notes)
        }
        fun raw(name: String, message: Message, notes: String) {
            out += ProtoVector(name, message, null, notes)
        }

        // ---- AddressableKeyProto: every oneof branch and extreme values (Key.toAddressableKeyProto) ----
        conv("key_string", Key.StringKey("abc"), Key.StringKey("abc").toAddressableKeyProto(), "stringKey branch")
        conv("key_string_empty", Key.StringKey(""), Key.StringKey("").toAddressableKeyProto(),
            "empty string in a oneof is still written (field 3, length 0)")
        conv("key_string_unicode", Key.StringKey(UNICODE), Key.StringKey(UNICODE).toAddressableKeyProto(), "UTF-8 with a 4-byte code point")
        for ((suffix, v) in listOf("zero" to 0, "minus_one" to -1, "min" to Int.MIN_VALUE, "max" to Int.MAX_VALUE)) {
            conv("key_int32_$suffix", Key.Int32Key(v), Key.Int32Key(v).toAddressableKeyProto(),
                "int32Key branch, value $v" + if (v == 0) " (zero in a oneof is still written)" else if (v < 0) " (negative int32 is a 10-byte varint)" else "")
        }
        for ((suffix, v) in listOf("zero" to 0L, "minus_one" to -1L, "min" to Long.MIN_VALUE, "max" to Long.MAX_VALUE)) {
            conv("key_int64_$suffix", Key.Int64Key(v), Key.Int64Key(v).toAddressableKeyProto(), "int64Key branch, value $v")
        }
        conv("key_none", Key.NoKey, Key.NoKey.toAddressableKeyProto(), "noKey branch, always written as true")

        // ---- AddressableReferenceProto / NamespacedAddressableReferenceProto ----
        for ((suffix, key) in listOf(
            "string" to Key.StringKey("abc"), "int32" to Key.Int32Key(5), "int64" to Key.Int64Key(7L), "none" to Key.NoKey
        )) {
            val type = when (suffix) {
                "string" -> ECHO
                "int32" -> "orbit.harness.actors.Int32EchoActor"
                "int64" -> "orbit.harness.actors.Int64EchoActor"
                else -> "orbit.harness.actors.NoKeyEchoActor"
            }
            val ref = AddressableReference(type, key)
            conv("reference_$suffix", ref, ref.toAddressableReferenceProto(), "reference with a $suffix key")
        }
        AddressableReference("", Key.StringKey("")).let {
            conv("reference_empty_type", it, it.toAddressableReferenceProto(), "empty type is omitted; the key message is still present")
        }
        NamespacedAddressableReference("test", echoRef).let {
            conv("namespaced_reference", it, it.toNamespacedAddressableReferenceProto(), "defined in the schema, never sent by any RPC")
        }
        NamespacedAddressableReference(UNICODE, AddressableReference(UNICODE, Key.StringKey(UNICODE))).let {
            conv("namespaced_reference_unicode", it, it.toNamespacedAddressableReferenceProto(), "unicode everywhere")
        }

        // ---- NodeIdProto / CapabilitiesProto / NodeLeaseProto ----
        conv("node_id", client, client.toNodeIdProto(), "NodeId renders as (namespace:key)")
        conv("node_id_management", server, server.toNodeIdProto(), "a server (mesh) node id")
        NodeId("", "").let { conv("node_id_empty", it, it.toNodeIdProto(), "all defaults: zero bytes on the wire") }
        NodeId(UNICODE, UNICODE).let { conv("node_id_unicode", it, it.toNodeIdProto(), "unicode key and namespace") }
        NodeCapabilities().let { conv("capabilities_empty", it, it.toCapabilitiesProto(), "no addressable types (a pure caller)") }
        NodeCapabilities(listOf(ECHO, "orbit.harness.actors.Int32EchoActor", "orbit.harness.actors.LifecycleActor", "a.b.Outer\$Nested")).let {
            conv("capabilities_types", it, it.toCapabilitiesProto(), "repeated string, order preserved; binary names may contain $")
        }
        conv("node_lease", lease, lease.toNodeLeaseProto(), "64-char challenge token, millisecond timestamps")
        NodeLease("", ts(0), ts(0)).let {
            conv("node_lease_epoch_zero", it, it.toNodeLeaseProto(), "epoch 0 timestamps are present but empty sub-messages")
        }
        NodeLease(TOKEN, ts(FAR_FUTURE_MS), ts(FAR_FUTURE_MS - 1)).let {
            conv("node_lease_far_future", it, it.toNodeLeaseProto(), "9999-12-31T23:59:59.999Z, the largest Timestamp the JSON mapping allows")
        }

        // ---- NodeInfoProto: every NodeStatusProto value ----
        for (status in NodeStatus.values()) {
            val info = NodeInfo(server, NodeCapabilities(), "localhost:50056", lease, emptySet(), status)
            conv("node_info_${status.name.lowercase()}", info, info.toNodeInfoProto(),
                "server record with status ${status.name} (${status.ordinal})" + if (status == NodeStatus.STOPPED) "; 0 is omitted on the wire" else "")
        }
        NodeInfo(client, NodeCapabilities(listOf(ECHO)), null, lease, linkedSetOf(server, NodeId("ServerKey0000002", "management")), NodeStatus.ACTIVE).let {
            conv("node_info_client", it, it.toNodeInfoProto(), "client record: url null (field absent), two visible nodes")
        }
        NodeInfo(NodeId(UNICODE, UNICODE), NodeCapabilities(listOf(UNICODE)), UNICODE, NodeLease(UNICODE, ts(0), ts(FAR_FUTURE_MS)),
            emptySet(), NodeStatus.DRAINING).let {
            conv("node_info_unicode", it, it.toNodeInfoProto(), "unicode in every string field")
        }
        (null as NodeInfo?).let { conv("node_info_null", it, it.toNodeInfoProto(), "NodeInfo?.toNodeInfoProto() of null: an empty message") }

        // ---- AddressableLeaseProto ----
        AddressableLease(client, echoRef, expiresAt = ts(T_MS + 600_000), renewAt = ts(T_MS + 300_000)).let {
            conv("addressable_lease", it, it.toAddressableLeaseProto(), "lease of a string-keyed actor")
        }
        AddressableLease(client, AddressableReference("orbit.harness.actors.Int64EchoActor", Key.Int64Key(Long.MIN_VALUE)),
            ts(FAR_FUTURE_MS), ts(0)).let {
            conv("addressable_lease_extremes", it, it.toAddressableLeaseProto(), "Long.MIN key, epoch-0 renewAt, far-future expiresAt")
        }

        // ---- AddressableManagement requests/responses ----
        raw("renew_addressable_lease_request",
            AddressableManagementOuterClass.RenewAddressableLeaseRequestProto.newBuilder()
                .setReference(echoRef.toAddressableReferenceProto()).build(),
            "no converter: built like the client's AddressableLeaser (reference via the real converter)")
        AddressableLease(client, echoRef, ts(T_MS + 600_000), ts(T_MS + 300_000)).let {
            conv("renew_addressable_lease_response_ok", it, it.toAddressableLeaseResponseProto(),
                "AddressableLease.toAddressableLeaseResponseProto(): status OK (0, omitted) + lease")
        }
        PlacementFailedException("Could not renew lease for $echoRef").let {
            conv("renew_addressable_lease_response_error", it, it.toAddressableLeaseResponseProto(),
                "Throwable.toAddressableLeaseResponseProto(): status ERROR, error_description = Throwable.toString()")
        }
        raw("abandon_addressable_lease_request",
            AddressableManagementOuterClass.AbandonAddressableLeaseRequestProto.newBuilder()
                .setReference(AddressableReference("orbit.harness.actors.LifecycleActor", Key.StringKey(UNICODE)).toAddressableReferenceProto()).build(),
            "no converter: built like the client's AddressableLeaser")
        raw("abandon_addressable_lease_response_true",
            AddressableManagementOuterClass.AbandonAddressableLeaseResponseProto.newBuilder().setAbandoned(true).build(),
            "no converter: generated builder")
        raw("abandon_addressable_lease_response_false",
            AddressableManagementOuterClass.AbandonAddressableLeaseResponseProto.newBuilder().setAbandoned(false).build(),
            "no converter: false is the default, so the message is empty")

        // ---- NodeManagement requests/responses ----
        raw("join_cluster_request",
            NodeManagementOuterClass.JoinClusterRequestProto.newBuilder()
                .setCapabilities(NodeCapabilities(listOf(ECHO, "orbit.harness.actors.LifecycleActor")).toCapabilitiesProto()).build(),
            "no converter: built like the client's NodeLeaser (capabilities via the real converter)")
        raw("join_cluster_request_no_capabilities",
            NodeManagementOuterClass.JoinClusterRequestProto.newBuilder()
                .setCapabilities(NodeCapabilities().toCapabilitiesProto()).build(),
            "a client hosting nothing: capabilities present but empty (0a 00)")
        raw("renew_node_lease_request",
            NodeManagementOuterClass.RenewNodeLeaseRequestProto.newBuilder()
                .setChallengeToken(TOKEN)
                .setCapabilities(NodeCapabilities(listOf(ECHO)).toCapabilitiesProto()).build(),
            "no converter: built like the client's NodeLeaser")
        raw("leave_cluster_request", NodeManagementOuterClass.LeaveClusterRequestProto.newBuilder().build(),
            "no fields: always empty")
        NodeInfo(client, NodeCapabilities(listOf(ECHO)), null, lease, setOf(server), NodeStatus.ACTIVE).let {
            conv("node_lease_response_ok", it, it.toNodeLeaseRequestResponseProto(),
                "NodeInfo.toNodeLeaseRequestResponseProto(): JoinCluster/RenewLease success")
        }
        InvalidChallengeException(client, "wrong").let {
            conv("node_lease_response_error", it, it.toNodeLeaseRequestResponseProto(),
                "Throwable.toNodeLeaseRequestResponseProto(): status ERROR (1) + error_description")
        }
        NodeInfo(client, NodeCapabilities(listOf(ECHO)), null, lease, setOf(server), NodeStatus.DRAINING).let {
            out += ProtoVector("node_lease_response_leave", NodeManagementOuterClass.NodeLeaseResponseProto.newBuilder()
                .setInfo(it.toNodeInfoProto()).build(), domainString(it),
                "shape of the LeaveCluster answer: builder without status (OK by default) + the DRAINING node info via the real converter")
        }

        // ---- MessageTargetProto (+ nested Unicast / RoutedUnicast) ----
        val unicast = MessageTarget.Unicast(client)
        val routed = MessageTarget.RoutedUnicast(Route(listOf(server, NodeId("ServerKey0000002", "management"), client)))
        conv("target_unicast", unicast, unicast.toMessageTargetProto(), "unicastTarget branch")
        conv("target_routed_unicast", routed, routed.toMessageTargetProto(), "routedUnicastTarget branch, 3 hops in order")
        MessageTarget.RoutedUnicast(Route(emptyList())).let {
            conv("target_routed_unicast_empty", it, it.toMessageTargetProto(), "empty route: the branch is set but the sub-message is empty (12 00)")
        }
        out += ProtoVector("target_unicast_inner", unicast.toMessageTargetProto().unicastTarget, domainString(unicast),
            "MessageTargetProto.Unicast taken from the real converter's output (no converter of its own)")
        out += ProtoVector("target_routed_unicast_inner", routed.toMessageTargetProto().routedUnicastTarget, domainString(routed),
            "MessageTargetProto.RoutedUnicast taken from the real converter's output (no converter of its own)")

        // ---- MessageContentProto: all six branches; the inner messages are taken from the converter output ----
        val args = "[\"[Lkotlin.Pair;\",[[\"kotlin.Pair\",{\"first\":\"hi\",\"second\":[\"java.lang.Class\",\"java.lang.String\"]}]]]"
        val contents = listOf(
            Triple("error", MessageContent.Error("java.lang.IllegalArgumentException: boom"), "error branch"),
            Triple("info_request", MessageContent.ConnectionInfoRequest, "info_request branch: empty sub-message (12 00)"),
            Triple("info_response", MessageContent.ConnectionInfoResponse(client), "info_response branch"),
            Triple("invocation_request", MessageContent.InvocationRequest(echoRef, "echoString", args, InvocationReason.invocation),
                "invocation_request branch, reason invocation (0, omitted)"),
            Triple("invocation_request_rerouted", MessageContent.InvocationRequest(echoRef, "echoString", args, InvocationReason.rerouted),
                "invocation_request branch, reason rerouted (1)"),
            Triple("invocation_response", MessageContent.InvocationResponse("\"hi\""), "invocation_response branch (a JSON string literal)"),
            Triple("invocation_response_error", MessageContent.InvocationResponseError(
                "java.lang.IllegalArgumentException: boom",
                "[\"java.lang.IllegalArgumentException\",{\"cause\":null,\"stackTrace\":[\"[Ljava.lang.StackTraceElement;\",[]],\"message\":\"boom\",\"suppressed\":[\"[Ljava.lang.Throwable;\",[]],\"localizedMessage\":\"boom\"}]"),
                "invocation_response_error branch (platform exceptions on)")
        )
        for ((suffix, content, notes) in contents) conv("content_$suffix", content, content.toMessageContentProto(), notes)
        val c = contents.associate { it.first to it.second }
        out += ProtoVector("error", c.getValue("error").toMessageContentProto().error, domainString(c.getValue("error")),
            "ErrorProto from the content converter")
        out += ProtoVector("connection_info_request", c.getValue("info_request").toMessageContentProto().infoRequest,
            domainString(c.getValue("info_request")), "ConnectionInfoRequestProto: no fields, always empty")
        out += ProtoVector("connection_info_response", c.getValue("info_response").toMessageContentProto().infoResponse,
            domainString(c.getValue("info_response")), "ConnectionInfoResponseProto from the content converter")
        out += ProtoVector("invocation_request", c.getValue("invocation_request").toMessageContentProto().invocationRequest,
            domainString(c.getValue("invocation_request")), "InvocationRequestProto from the content converter")
        out += ProtoVector("invocation_request_rerouted", c.getValue("invocation_request_rerouted").toMessageContentProto().invocationRequest,
            domainString(c.getValue("invocation_request_rerouted")), "InvocationRequestProto with reason rerouted (1)")
        out += ProtoVector("invocation_response", c.getValue("invocation_response").toMessageContentProto().invocationResponse,
            domainString(c.getValue("invocation_response")), "InvocationResponseProto from the content converter")
        out += ProtoVector("invocation_response_error", c.getValue("invocation_response_error").toMessageContentProto().invocationResponseError,
            domainString(c.getValue("invocation_response_error")), "InvocationResponseErrorProto from the content converter")

        // ---- MessageProto ----
        fun msg(name: String, m: OrbitMessage, notes: String) = conv(name, m, m.toMessageProto(), notes)
        val specSource = NodeId("AAAAAAAAAAAAAAAA", "test")
        msg("spec_2_9_message_1", OrbitMessage(
            MessageContent.InvocationRequest(AddressableReference("test", Key.StringKey("address 1")), "report", "test"),
            messageId = 1, source = specSource),
            "spec section 2.9 test vector: must be exactly 67 bytes, 080112180a10414141...")
        msg("spec_2_9_message_2", OrbitMessage(
            MessageContent.InvocationRequest(AddressableReference("test", Key.StringKey("address 1")), "report", "test 2"),
            messageId = 2, source = specSource),
            "spec section 2.9 companion: 69 bytes (67 + 69 = 136)")
        msg("message_invocation_request_client", OrbitMessage(
            MessageContent.InvocationRequest(echoRef, "echoString", args), messageId = 42),
            "as a client sends a call: messageId + content only (no source, no target)")
        msg("message_invocation_request_routed", OrbitMessage(
            MessageContent.InvocationRequest(echoRef, "echoString", args), messageId = 42, source = caller, target = routed, attempts = 1),
            "as forwarded by a server: source, routed target, attempts")
        msg("message_invocation_response", OrbitMessage(
            MessageContent.InvocationResponse("\"pong\""), messageId = 42, target = MessageTarget.Unicast(caller)),
            "as a host answers: same messageId, Unicast(original source)")
        msg("message_invocation_response_unit", OrbitMessage(
            MessageContent.InvocationResponse("[\"kotlin.Unit\",{}]"), messageId = 43, target = MessageTarget.Unicast(caller)),
            "Unit result payload")
        msg("message_error_response", OrbitMessage(
            MessageContent.Error("java.lang.IllegalArgumentException: boom"), messageId = 44, target = MessageTarget.Unicast(caller)),
            "a failed call with platform exceptions off")
        msg("message_invalid_node_error", OrbitMessage(InvalidNodeId(client).toErrorContent()),
            "what a server sends on a stream whose node id is unknown: content only, built with the real toErrorContent()")
        msg("message_info_request", OrbitMessage(MessageContent.ConnectionInfoRequest, messageId = 7), "info request")
        msg("message_info_response", OrbitMessage(MessageContent.ConnectionInfoResponse(client), messageId = 7, source = client,
            target = MessageTarget.Unicast(client)), "info response")
        msg("message_invocation_response_error", OrbitMessage(c.getValue("invocation_response_error"), messageId = 45,
            target = MessageTarget.Unicast(caller)), "platform error response")
        msg("message_rerouted", OrbitMessage(MessageContent.InvocationRequest(echoRef, "slow", args, InvocationReason.rerouted),
            messageId = 46, source = caller), "a rerouted invocation (reason 1)")
        msg("message_id_zero", OrbitMessage(MessageContent.InvocationResponse("null"), messageId = 0),
            "messageId 0 is omitted on the wire; decodes back as 0, not null")
        msg("message_id_extremes_max", OrbitMessage(MessageContent.InvocationResponse("1"), messageId = Long.MAX_VALUE,
            attempts = Long.MAX_VALUE), "Long.MAX messageId and attempts")
        msg("message_id_extremes_min", OrbitMessage(MessageContent.InvocationResponse("-1"), messageId = Long.MIN_VALUE,
            attempts = -1), "Long.MIN messageId, attempts -1 (10-byte varints)")
        msg("message_content_only", OrbitMessage(MessageContent.InvocationResponse("")), "no messageId/source/target, empty value")
        msg("message_unicode", OrbitMessage(
            MessageContent.InvocationRequest(AddressableReference(ECHO, Key.StringKey(UNICODE)), "echoString",
                "[\"[Lkotlin.Pair;\",[[\"kotlin.Pair\",{\"first\":\"$UNICODE\",\"second\":[\"java.lang.Class\",\"java.lang.String\"]}]]]"),
            messageId = 9, source = NodeId(UNICODE, UNICODE)), "unicode key, namespace and arguments")

        // ---- grpc.health.v1 ----
        raw("health_check_request_empty", HealthOuterClass.HealthCheckRequest.newBuilder().build(), "service \"\" (what probes send)")
        raw("health_check_request_service", HealthOuterClass.HealthCheckRequest.newBuilder().setService("orbit.shared.Connection").build(),
            "the Kotlin server ignores the service name")
        for (s in listOf(HealthOuterClass.HealthCheckResponse.ServingStatus.UNKNOWN, HealthOuterClass.HealthCheckResponse.ServingStatus.SERVING,
            HealthOuterClass.HealthCheckResponse.ServingStatus.NOT_SERVING)) {
            raw("health_check_response_${s.name.lowercase()}", HealthOuterClass.HealthCheckResponse.newBuilder().setStatus(s).build(),
                "ServingStatus ${s.name} (${s.number})")
        }

        // ---- google.protobuf.Timestamp as Orbit produces it (Instant -> ms -> Timestamp) ----
        for ((suffix, ms) in listOf("epoch" to 0L, "ms" to T_MS, "far_future" to FAR_FUTURE_MS)) {
            val t = ts(ms)
            conv("timestamp_$suffix", t, t.toTimestampProto(), "orbit Timestamp from epoch millis $ms: nanos is a multiple of 1,000,000")
        }
        return out
    }
}
