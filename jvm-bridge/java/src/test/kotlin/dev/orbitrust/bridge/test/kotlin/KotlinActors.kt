package dev.orbitrust.bridge.test.kotlin

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Deferred
import orbit.client.actor.AbstractActor
import orbit.client.actor.ActorWithStringKey

/** A Kotlin-hosted actor: the only package the Kotlin hosting client scans. */
interface KotlinGreeter : ActorWithStringKey {
    fun greet(name: String): Deferred<String>
    fun echo(value: Any?): Deferred<Any?>
    fun add(a: Int, b: Long): Deferred<Long>
}

class KotlinGreeterActor : AbstractActor(), KotlinGreeter {
    override fun greet(name: String): Deferred<String> = CompletableDeferred("Hello $name, from Kotlin actor ${context.reference.key}")
    override fun echo(value: Any?): Deferred<Any?> = CompletableDeferred(value)
    override fun add(a: Int, b: Long): Deferred<Long> = CompletableDeferred(a + b)
}
