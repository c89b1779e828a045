package dev.orbitrust.bridge;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.jsontype.BasicPolymorphicTypeValidator;
import com.fasterxml.jackson.module.kotlin.KotlinModule;
import kotlin.Pair;

/**
 * Invocation arguments and results in the JSON Kotlin's orbit-client writes and reads: one
 * ObjectMapper with default typing for every type (wrapper arrays, class names as type ids),
 * the Kotlin module, and unknown properties ignored (spec section 10.1).
 */
final class Payloads {
    static final ObjectMapper MAPPER = new ObjectMapper()
            .activateDefaultTyping(
                    BasicPolymorphicTypeValidator.builder().allowIfBaseType(Object.class).build(),
                    ObjectMapper.DefaultTyping.EVERYTHING)
            .registerModule(new KotlinModule())
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private Payloads() {}

    /** The arguments as {@code Array<Pair<Any?, Class<*>>>}, as a Kotlin caller sends them. */
    static String encodeArguments(Object[] arguments, Class<?>[] declared) {
        if (arguments.length != declared.length) {
            throw new IllegalArgumentException(
                    arguments.length + " arguments for " + declared.length + " parameter classes");
        }
        @SuppressWarnings("unchecked")
        Pair<Object, Class<?>>[] pairs = new Pair[arguments.length];
        for (int i = 0; i < arguments.length; i++) {
            if (declared[i] == null) {
                throw new NullPointerException("parameter class " + i + " is null");
            }
            pairs[i] = new Pair<>(arguments[i], declared[i]);
        }
        try {
            return MAPPER.writeValueAsString(pairs);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write the arguments as Orbit payload: " + e.getMessage(), e);
        }
    }

    /** A result as a Kotlin caller reads it ({@code deserialize<Any>}). */
    static Object decodeResult(String json) {
        try {
            return MAPPER.readValue(json, Object.class);
        } catch (JsonProcessingException e) {
            throw new OrbitBridgeException("unreadable answer " + json + ": " + e.getOriginalMessage(), e);
        }
    }

    /** The declared class an untyped call gives a value: its runtime class (Object for null). */
    static Class<?> classOf(Object value) {
        return value == null ? Object.class : value.getClass();
    }
}
