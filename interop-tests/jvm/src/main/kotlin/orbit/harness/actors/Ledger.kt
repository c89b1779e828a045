package orbit.harness.actors

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Deferred
import orbit.client.actor.AbstractActor
import orbit.client.actor.ActorWithStringKey
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger

/**
 * An actor that counts every execution of every call id in its host process, so a test can
 * tell a call executed twice (a duplicated invocation) from one executed once.
 */
interface LedgerActor : ActorWithStringKey {
    /** Records `callId` and returns it. */
    fun record(callId: String): Deferred<String>
}

class LedgerActorImpl : AbstractActor(), LedgerActor {
    override fun record(callId: String): Deferred<String> {
        Ledger.executions.computeIfAbsent(callId) { AtomicInteger() }.incrementAndGet()
        return CompletableDeferred(callId)
    }
}

/** The executions of this host process, by call id. */
object Ledger {
    val executions = ConcurrentHashMap<String, AtomicInteger>()

    /** `{"executions":N,"ids":N,"duplicated":[ids executed more than once]}`. */
    fun summary(): String {
        val duplicated = executions.filter { it.value.get() > 1 }.keys.sorted()
        val total = executions.values.sumOf { it.get() }
        return "{\"executions\":$total,\"ids\":${executions.size},\"duplicated\":[" +
                duplicated.joinToString(",") { "\"$it\"" } + "]}"
    }
}
