package orbit.harness.actors

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Deferred
import orbit.client.actor.AbstractActor
import orbit.client.actor.ActorWithStringKey
import orbit.client.addressable.DeactivationReason
import orbit.client.addressable.OnActivate
import orbit.client.addressable.OnDeactivate
import orbit.shared.addressable.Key
import orbit.harness.Out
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger

interface LifecycleActor : ActorWithStringKey {
    /** How many times the actor with this key has been activated in this process (1 on first use). */
    fun touch(): Deferred<Int>
}

class LifecycleActorImpl : AbstractActor(), LifecycleActor {
    private var activations = 0

    @OnActivate
    fun activated(): Deferred<Unit> {
        activations = activationCounts.computeIfAbsent(keyText()) { AtomicInteger() }.incrementAndGet()
        Out.event("activate", context.reference.type, keyText(), null)
        return CompletableDeferred(Unit)
    }

    @OnDeactivate
    fun deactivated(reason: DeactivationReason): Deferred<Unit> {
        Out.event("deactivate", context.reference.type, keyText(), reason.name)
        return CompletableDeferred(Unit)
    }

    override fun touch(): Deferred<Int> = CompletableDeferred(activations)

    private fun keyText(): String = when (val key = context.reference.key) {
        is Key.StringKey -> key.key
        is Key.Int32Key -> key.key.toString()
        is Key.Int64Key -> key.key.toString()
        else -> ""
    }

    companion object {
        private val activationCounts = ConcurrentHashMap<String, AtomicInteger>()
    }
}
