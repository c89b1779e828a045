package dev.orbitrust.bridge.test.trap

import kotlinx.coroutines.Deferred
import orbit.client.actor.ActorWithStringKey

/**
 * An actor type whose implementation moved to Rust while its interface stayed in a package a
 * Kotlin client scans (spec 5.8): that client advertises the type without implementing it.
 */
interface TrappedGreeter : ActorWithStringKey {
    fun greet(name: String): Deferred<String>
}
