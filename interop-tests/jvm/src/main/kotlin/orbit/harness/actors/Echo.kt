package orbit.harness.actors

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.GlobalScope
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import orbit.client.actor.AbstractActor
import orbit.client.actor.Actor
import orbit.client.actor.ActorWithInt32Key
import orbit.client.actor.ActorWithInt64Key
import orbit.client.actor.ActorWithNoKey
import orbit.client.actor.ActorWithStringKey
import orbit.client.addressable.NonConcrete

/** Nested value used inside [Payload]. */
data class Inner(val label: String, val score: Double)

/** A data class exercising the awkward Jackson cases: primitive long, boxed Long?, lists, nesting. */
data class Payload(
    val name: String,
    val count: Int,
    val big: Long,
    val maybe: Long?,
    val tags: List<String>,
    val inner: Inner?
)

/**
 * The methods every echo actor offers. Marked [NonConcrete] so Orbit neither advertises it as a
 * capability nor expects an implementation of its own; the four keyed interfaces below are the
 * addressable types.
 */
@NonConcrete
interface EchoBase : Actor {
    fun echoString(value: String): Deferred<String>
    fun echoInt(value: Int): Deferred<Int>
    fun echoLong(value: Long): Deferred<Long>
    fun echoDouble(value: Double): Deferred<Double>
    fun echoBoolean(value: Boolean): Deferred<Boolean>
    fun echoNullableString(value: String?): Deferred<String?>
    fun echoNullableInt(value: Int?): Deferred<Int?>
    fun echoNullableLong(value: Long?): Deferred<Long?>
    fun echoList(value: List<String>): Deferred<List<String>>
    fun echoLongList(value: List<Long>): Deferred<List<Long>>
    fun echoMap(value: Map<String, Int>): Deferred<Map<String, Int>>
    fun echoSet(value: Set<String>): Deferred<Set<String>>
    fun echoPayload(value: Payload): Deferred<Payload>
    fun echoInner(value: Inner?): Deferred<Inner?>
    fun ping(): Deferred<String>
    fun unit(value: String): Deferred<Unit>
    fun key(): Deferred<String>
    fun fail(message: String): Deferred<String>
    fun slow(millis: Long): Deferred<String>
    fun concat(text: String, number: Int, big: Long, flag: Boolean): Deferred<String>
    fun count(): Deferred<Int>
}

interface EchoActor : ActorWithStringKey, EchoBase
interface Int32EchoActor : ActorWithInt32Key, EchoBase
interface Int64EchoActor : ActorWithInt64Key, EchoBase
interface NoKeyEchoActor : ActorWithNoKey, EchoBase

/** Shared behaviour; abstract, so Orbit's scanner does not treat it as an implementation. */
abstract class EchoBaseImpl : AbstractActor(), EchoBase {
    private var calls = 0

    override fun echoString(value: String): Deferred<String> = CompletableDeferred(value)
    override fun echoInt(value: Int): Deferred<Int> = CompletableDeferred(value)
    override fun echoLong(value: Long): Deferred<Long> = CompletableDeferred(value)
    override fun echoDouble(value: Double): Deferred<Double> = CompletableDeferred(value)
    override fun echoBoolean(value: Boolean): Deferred<Boolean> = CompletableDeferred(value)
    override fun echoNullableString(value: String?): Deferred<String?> = CompletableDeferred(value)
    override fun echoNullableInt(value: Int?): Deferred<Int?> = CompletableDeferred(value)
    override fun echoNullableLong(value: Long?): Deferred<Long?> = CompletableDeferred(value)
    override fun echoList(value: List<String>): Deferred<List<String>> = CompletableDeferred(value)
    override fun echoLongList(value: List<Long>): Deferred<List<Long>> = CompletableDeferred(value)
    override fun echoMap(value: Map<String, Int>): Deferred<Map<String, Int>> = CompletableDeferred(value)
    override fun echoSet(value: Set<String>): Deferred<Set<String>> = CompletableDeferred(value)
    override fun echoPayload(value: Payload): Deferred<Payload> = CompletableDeferred(value)
    override fun echoInner(value: Inner?): Deferred<Inner?> = CompletableDeferred(value)
    override fun ping(): Deferred<String> = CompletableDeferred("pong")
    override fun unit(value: String): Deferred<Unit> = CompletableDeferred(Unit)

    /** The key exactly as Orbit's Key.toString() renders it, e.g. `StringKey(key=abc)`, `NoKey()`. */
    override fun key(): Deferred<String> = CompletableDeferred(context.reference.key.toString())

    override fun fail(message: String): Deferred<String> = throw IllegalArgumentException(message)

    override fun slow(millis: Long): Deferred<String> = GlobalScope.async {
        delay(millis)
        "slept $millis"
    }

    override fun concat(text: String, number: Int, big: Long, flag: Boolean): Deferred<String> =
        CompletableDeferred("$text|$number|$big|$flag")

    override fun count(): Deferred<Int> = CompletableDeferred(++calls)
}

class EchoActorImpl : EchoBaseImpl(), EchoActor
class Int32EchoActorImpl : EchoBaseImpl(), Int32EchoActor
class Int64EchoActorImpl : EchoBaseImpl(), Int64EchoActor
class NoKeyEchoActorImpl : EchoBaseImpl(), NoKeyEchoActor
