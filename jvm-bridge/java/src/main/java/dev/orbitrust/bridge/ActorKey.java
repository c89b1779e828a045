package dev.orbitrust.bridge;

import java.util.Objects;

/** An actor's key, as Orbit's {@code Key}: a string, an int32, an int64, or none. */
public final class ActorKey {
    private static final ActorKey NONE = new ActorKey(NativeBridge.KEY_NONE, null, 0);

    final int kind;
    final String string;
    final long number;

    private ActorKey(int kind, String string, long number) {
        this.kind = kind;
        this.string = string;
        this.number = number;
    }

    /** {@code ActorWithStringKey}. */
    public static ActorKey of(String key) {
        return new ActorKey(NativeBridge.KEY_STRING, Objects.requireNonNull(key, "key"), 0);
    }

    /** {@code ActorWithInt32Key}. */
    public static ActorKey of(int key) {
        return new ActorKey(NativeBridge.KEY_INT32, null, key);
    }

    /** {@code ActorWithInt64Key}. */
    public static ActorKey of(long key) {
        return new ActorKey(NativeBridge.KEY_INT64, null, key);
    }

    /** {@code ActorWithNoKey}. */
    public static ActorKey none() {
        return NONE;
    }

    /** A key from a String, Integer, Long, ActorKey, or null for no key. */
    public static ActorKey from(Object key) {
        if (key == null) {
            return NONE;
        } else if (key instanceof ActorKey) {
            return (ActorKey) key;
        } else if (key instanceof String) {
            return of((String) key);
        } else if (key instanceof Integer) {
            return of((int) (Integer) key);
        } else if (key instanceof Long) {
            return of((long) (Long) key);
        }
        throw new IllegalArgumentException(
                "an Orbit key is a String, Integer, Long or null, not " + key.getClass().getName());
    }

    @Override
    public boolean equals(Object other) {
        if (!(other instanceof ActorKey)) {
            return false;
        }
        ActorKey that = (ActorKey) other;
        return kind == that.kind && number == that.number && Objects.equals(string, that.string);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, string, number);
    }

    /** As Kotlin's {@code Key.toString()}. */
    @Override
    public String toString() {
        switch (kind) {
            case NativeBridge.KEY_STRING:
                return "StringKey(key=" + string + ")";
            case NativeBridge.KEY_INT32:
                return "Int32Key(key=" + number + ")";
            case NativeBridge.KEY_INT64:
                return "Int64Key(key=" + number + ")";
            default:
                return "NoKey()";
        }
    }
}
