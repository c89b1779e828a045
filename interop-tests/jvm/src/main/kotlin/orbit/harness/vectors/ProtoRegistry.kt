package orbit.harness.vectors

import com.google.protobuf.Descriptors
import com.google.protobuf.Message
import grpc.health.v1.HealthOuterClass
import orbit.shared.addressable.AddressableLease
import orbit.shared.addressable.AddressableReference
import orbit.shared.addressable.Key
import orbit.shared.addressable.NamespacedAddressableReference
import orbit.shared.mesh.NodeCapabilities
import orbit.shared.mesh.NodeId
import orbit.shared.mesh.NodeInfo
import orbit.shared.mesh.NodeLease
import orbit.shared.net.MessageContent
import orbit.shared.net.MessageTarget
import orbit.shared.proto.Addressable
import orbit.shared.proto.AddressableManagementOuterClass
import orbit.shared.proto.ConnectionOuterClass
import orbit.shared.proto.Messages
import orbit.shared.proto.Node
import orbit.shared.proto.NodeManagementOuterClass
import orbit.shared.proto.toAddressableKey
import orbit.shared.proto.toAddressableKeyProto
import orbit.shared.proto.toAddressableLease
import orbit.shared.proto.toAddressableLeaseProto
import orbit.shared.proto.toAddressableReference
import orbit.shared.proto.toAddressableReferenceProto
import orbit.shared.proto.toCapabilities
import orbit.shared.proto.toCapabilitiesProto
import orbit.shared.proto.toLeaseProto
import orbit.shared.proto.toMessage
import orbit.shared.proto.toMessageContent
import orbit.shared.proto.toMessageContentProto
import orbit.shared.proto.toMessageProto
import orbit.shared.proto.toMessageTarget
import orbit.shared.proto.toMessageTargetProto
import orbit.shared.proto.toNamespacedAddressableReference
import orbit.shared.proto.toNamespacedAddressableReferenceProto
import orbit.shared.proto.toNodeId
import orbit.shared.proto.toNodeIdProto
import orbit.shared.proto.toNodeInfo
import orbit.shared.proto.toNodeInfoProto
import orbit.shared.proto.toNodeLeaseProto
import orbit.shared.proto.toTimestamp
import orbit.shared.proto.toTimestampProto
import orbit.util.time.Timestamp

/** Maps protobuf full names to the generated Java classes of orbit-proto (and Timestamp). */
object ProtoRegistry {
    /** The generated outer classes of every .proto file in orbit-proto. */
    val outerClasses: List<Class<*>> = listOf(
        Node::class.java,
        Addressable::class.java,
        AddressableManagementOuterClass::class.java,
        NodeManagementOuterClass::class.java,
        Messages::class.java,
        ConnectionOuterClass::class.java,
        HealthOuterClass::class.java
    )

    private val classes: Map<String, Class<out Message>> by lazy {
        val map = sortedMapOf<String, Class<out Message>>()
        for (outer in outerClasses) {
            val file = outer.getMethod("getDescriptor").invoke(null) as Descriptors.FileDescriptor
            fun visit(d: Descriptors.Descriptor, javaName: String) {
                @Suppress("UNCHECKED_CAST")
                map[d.fullName] = Class.forName(javaName) as Class<out Message>
                d.nestedTypes.forEach { visit(it, javaName + "$" + it.name) }
            }
            file.messageTypes.forEach { visit(it, outer.name + "$" + it.name) }
        }
        map["google.protobuf.Timestamp"] = com.google.protobuf.Timestamp::class.java
        map
    }

    /** Full names of every message type declared by orbit-proto (packages orbit.shared, grpc.health.v1). */
    val orbitMessageTypes: List<String> get() = classes.keys.filter { it != "google.protobuf.Timestamp" }

    fun javaClass(fullName: String): Class<out Message> =
        classes[fullName] ?: throw IllegalArgumentException("unknown protobuf message type '$fullName'")

    fun parse(fullName: String, bytes: ByteArray): Message =
        javaClass(fullName).getMethod("parseFrom", ByteArray::class.java).invoke(null, bytes) as Message

    fun newBuilder(fullName: String): Message.Builder =
        javaClass(fullName).getMethod("newBuilder").invoke(null) as Message.Builder
}

/** A pair of real orbit-proto converters: protobuf message to domain object and back. */
class Converter(val toDomain: (Message) -> Any?, val toProto: (Any?) -> Message)

/** The real Kotlin converters of orbit-proto, by protobuf full name, for the types that have them. */
object Converters {
    val byType: Map<String, Converter> = mapOf(
        "orbit.shared.NodeIdProto" to Converter({ (it as Node.NodeIdProto).toNodeId() }, { (it as NodeId).toNodeIdProto() }),
        "orbit.shared.NodeInfoProto" to Converter({ (it as Node.NodeInfoProto).toNodeInfo() }, { (it as NodeInfo?).toNodeInfoProto() }),
        "orbit.shared.NodeLeaseProto" to Converter({ (it as Node.NodeLeaseProto).toLeaseProto() }, { (it as NodeLease).toNodeLeaseProto() }),
        "orbit.shared.CapabilitiesProto" to Converter(
            { (it as Node.CapabilitiesProto).toCapabilities() }, { (it as NodeCapabilities).toCapabilitiesProto() }),
        "orbit.shared.AddressableKeyProto" to Converter(
            { (it as Addressable.AddressableKeyProto).toAddressableKey() }, { (it as Key).toAddressableKeyProto() }),
        "orbit.shared.AddressableReferenceProto" to Converter(
            { (it as Addressable.AddressableReferenceProto).toAddressableReference() },
            { (it as AddressableReference).toAddressableReferenceProto() }),
        "orbit.shared.AddressableLeaseProto" to Converter(
            { (it as Addressable.AddressableLeaseProto).toAddressableLease() },
            { (it as AddressableLease).toAddressableLeaseProto() }),
        "orbit.shared.NamespacedAddressableReferenceProto" to Converter(
            { (it as Addressable.NamespacedAddressableReferenceProto).toNamespacedAddressableReference() },
            { (it as NamespacedAddressableReference).toNamespacedAddressableReferenceProto() }),
        "orbit.shared.MessageProto" to Converter(
            { (it as Messages.MessageProto).toMessage() }, { (it as orbit.shared.net.Message).toMessageProto() }),
        "orbit.shared.MessageTargetProto" to Converter(
            { (it as Messages.MessageTargetProto).toMessageTarget() }, { (it as MessageTarget).toMessageTargetProto() }),
        "orbit.shared.MessageContentProto" to Converter(
            { (it as Messages.MessageContentProto).toMessageContent() }, { (it as MessageContent).toMessageContentProto() }),
        "google.protobuf.Timestamp" to Converter(
            { (it as com.google.protobuf.Timestamp).toTimestamp() }, { (it as Timestamp).toTimestampProto() })
    )
}
