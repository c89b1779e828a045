package dev.orbitrust.bridge;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * How a {@link RustOrbitClient} joins a cluster: the fields of Kotlin's {@code
 * OrbitClientConfig} that apply (endpoint, namespace, tick, message timeout, addressable TTL,
 * deactivation timeout, join attempts), with Kotlin's defaults, plus where callers'
 * continuations run.
 */
public final class RustOrbitClientConfig {
    final String grpcEndpoint;
    final String namespace;
    final Duration tickRate;
    final Duration messageTimeout;
    final Duration addressableTTL;
    final Duration deactivationTimeout;
    final int joinAttempts;
    final Executor callbackExecutor;

    private RustOrbitClientConfig(Builder builder) {
        this.grpcEndpoint = builder.grpcEndpoint;
        this.namespace = builder.namespace;
        this.tickRate = builder.tickRate;
        this.messageTimeout = builder.messageTimeout;
        this.addressableTTL = builder.addressableTTL;
        this.deactivationTimeout = builder.deactivationTimeout;
        this.joinAttempts = builder.joinAttempts;
        this.callbackExecutor = builder.callbackExecutor;
    }

    /** A configuration for the server at {@code grpcEndpoint} ({@code host:port} or {@code dns:///host:port}). */
    public static Builder builder(String grpcEndpoint, String namespace) {
        return new Builder(grpcEndpoint, namespace);
    }

    /** The JSON the native library reads. */
    String toJson() {
        var node = Payloads.MAPPER.copy().deactivateDefaultTyping().createObjectNode();
        node.put("grpcEndpoint", grpcEndpoint);
        node.put("namespace", namespace);
        node.put("tickRateMillis", tickRate.toMillis());
        node.put("messageTimeoutMillis", messageTimeout.toMillis());
        node.put("addressableTtlMillis", addressableTTL.toMillis());
        node.put("deactivationTimeoutMillis", deactivationTimeout.toMillis());
        node.put("joinAttempts", joinAttempts);
        return node.toString();
    }

    /** Builds a {@link RustOrbitClientConfig}. */
    public static final class Builder {
        private final String grpcEndpoint;
        private final String namespace;
        private Duration tickRate = Duration.ofSeconds(1);
        private Duration messageTimeout = Duration.ofSeconds(10);
        private Duration addressableTTL = Duration.ofMinutes(10);
        private Duration deactivationTimeout = Duration.ofSeconds(10);
        private int joinAttempts = 60;
        private Executor callbackExecutor = null;

        private Builder(String grpcEndpoint, String namespace) {
            this.grpcEndpoint = Objects.requireNonNull(grpcEndpoint, "grpcEndpoint");
            this.namespace = Objects.requireNonNull(namespace, "namespace");
        }

        public Builder tickRate(Duration value) {
            tickRate = positive(value, "tickRate");
            return this;
        }

        public Builder messageTimeout(Duration value) {
            messageTimeout = positive(value, "messageTimeout");
            return this;
        }

        public Builder addressableTTL(Duration value) {
            addressableTTL = positive(value, "addressableTTL");
            return this;
        }

        public Builder deactivationTimeout(Duration value) {
            deactivationTimeout = positive(value, "deactivationTimeout");
            return this;
        }

        /** How many times joining is tried, one second apart (Kotlin tries for about a minute). */
        public Builder joinAttempts(int value) {
            if (value < 1) {
                throw new IllegalArgumentException("joinAttempts must be at least 1, not " + value);
            }
            joinAttempts = value;
            return this;
        }

        /**
         * Where the answers are decoded and the returned futures completed, so where their
         * non-async continuations run. By default that is the bridge's own threads (no hand-off:
         * a call's latency is then about a Kotlin client's); continuations attached with {@code
         * thenApply}, {@code thenAccept}... must then not block, as with any Netty-based
         * client. Give an executor (e.g. {@code ForkJoinPool.commonPool()}) when they may block;
         * each answer then crosses to it.
         */
        public Builder callbackExecutor(Executor value) {
            callbackExecutor = Objects.requireNonNull(value, "callbackExecutor");
            return this;
        }

        public RustOrbitClientConfig build() {
            return new RustOrbitClientConfig(this);
        }

        private static Duration positive(Duration value, String name) {
            Objects.requireNonNull(value, name);
            if (value.toMillis() < 1) {
                throw new IllegalArgumentException(name + " must be at least 1 ms, not " + value);
            }
            return value;
        }
    }
}
