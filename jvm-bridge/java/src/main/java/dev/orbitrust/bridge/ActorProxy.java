package dev.orbitrust.bridge;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.util.concurrent.CompletableFuture;
import kotlinx.coroutines.Deferred;
import kotlinx.coroutines.future.FutureKt;

/** Turns calls on an actor interface into bridge calls, declaring each method's parameter classes. */
final class ActorProxy implements InvocationHandler {
    private final RustOrbitClient client;
    private final Class<?> type;
    private final ActorKey key;

    ActorProxy(RustOrbitClient client, Class<?> type, ActorKey key) {
        this.client = client;
        this.type = type;
        this.key = key;
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        if (method.isDefault()) {
            // A default method is the interface's own code, not a call to the actor.
            return InvocationHandler.invokeDefault(proxy, method, args);
        }
        if (method.getDeclaringClass() == Object.class) {
            switch (method.getName()) {
                case "equals":
                    return proxy == args[0];
                case "hashCode":
                    return System.identityHashCode(proxy);
                default:
                    return "RustOrbitClient proxy of " + type.getName() + " " + key;
            }
        }
        Class<?>[] parameters = method.getParameterTypes();
        if (parameters.length > 0 && parameters[parameters.length - 1].getName().equals("kotlin.coroutines.Continuation")) {
            throw new UnsupportedOperationException(type.getName() + "." + method.getName()
                    + " is a suspend function; Orbit actor methods return Deferred (use RustOrbitClient.invoke to suspend)");
        }
        Class<?> returns = method.getReturnType();
        boolean deferred = Deferred.class.isAssignableFrom(returns);
        if (!deferred && !returns.isAssignableFrom(CompletableFuture.class)) {
            throw new UnsupportedOperationException(type.getName() + "." + method.getName()
                    + " returns " + returns.getName()
                    + "; actor methods return Deferred, CompletableFuture or CompletionStage");
        }
        Object[] values = args == null ? new Object[0] : args;
        CompletableFuture<Object> answer =
                client.call(type.getName(), key, method.getName(), parameters, values);
        return deferred ? FutureKt.asDeferred(answer) : answer;
    }
}
