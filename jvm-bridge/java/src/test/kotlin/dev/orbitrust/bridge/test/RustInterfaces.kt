package dev.orbitrust.bridge.test

import kotlinx.coroutines.Deferred
import orbit.client.actor.ActorWithInt32Key
import orbit.client.actor.ActorWithInt64Key
import orbit.client.actor.ActorWithNoKey
import orbit.client.actor.ActorWithStringKey

// The interfaces of the Rust actors in jvm-bridge/test-actors, as a Kotlin service declares
// them. No Kotlin client scans this package, so none advertises them (spec 5.8): only the
// bridge client that hosts the Rust implementations does.

/** A value class the Rust echo hands back untouched. */
data class Note(val text: String, val count: Int, val big: Long, val tags: List<String>)

interface RustGreeter : ActorWithStringKey {
    fun greet(name: String): Deferred<String>
    fun count(): Deferred<Int>
    fun echo(value: Any?): Deferred<Any?>
    fun fail(message: String): Deferred<String>
    fun explode(): Deferred<String>
    fun relay(name: String): Deferred<String>
    fun missing(value: Int): Deferred<String>
}

interface RustInt32Actor : ActorWithInt32Key {
    fun key(): Deferred<Int>
}

interface RustInt64Actor : ActorWithInt64Key {
    fun key(): Deferred<Long>
}

interface RustSingleton : ActorWithNoKey {
    fun key(): Deferred<String>
}
