package dev.orbitrust.bridge

import kotlinx.coroutines.future.await

/** Calls [method] of the actor [interfaceName] with [key] and suspends until it answers. */
suspend fun RustOrbitClient.invoke(interfaceName: String, key: ActorKey, method: String, vararg arguments: Any?): Any? =
    call(interfaceName, key, method, *arguments).await()

/** [invoke] with declared parameter classes (`Int::class.javaPrimitiveType` for a Kotlin `Int`). */
suspend fun RustOrbitClient.invoke(
    interfaceName: String,
    key: ActorKey,
    method: String,
    parameterTypes: Array<Class<*>>,
    vararg arguments: Any?
): Any? = call(interfaceName, key, method, parameterTypes, *arguments).await()

/** A proxy of the actor interface [T] with [key] (a String, Int, Long, [ActorKey] or null). */
inline fun <reified T> RustOrbitClient.actor(key: Any? = null): T = actor(T::class.java, ActorKey.from(key))
