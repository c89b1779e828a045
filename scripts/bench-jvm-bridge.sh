#!/usr/bin/env bash
# The JVM bridge benchmark (a benchmark, not a test: CI does not run it; results in
# docs/benchmarks.md): cluster calls from JVM code through the bridge and through Kotlin's
# orbit-client against the same server in one run, then a soak of bridge calls printing heap
# and RSS.
#
# Usage: scripts/bench-jvm-bridge.sh
# Environment: BENCH_SERVER [rust] (rust = orbit-node release build, kotlin = the real Kotlin
# server in the benchmark's JVM), BENCH_SECONDS [10], BENCH_SOAK [1000000] calls,
# BENCH_EXECUTOR [bridge] (common: the bridge client hands every answer to
# ForkJoinPool.commonPool(), as callbackExecutor(...) does, instead of completing on its own threads).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
cargo build --release -p orbit-node -p orbit-jvm-bridge-test-actors
reference=${ORBIT_REFERENCE_REPO:-$ROOT/../shared/orbit-reference/maven}
mvn=(mvn -B -q -f jvm-bridge/java/pom.xml "-Dorbit.reference.url=file://$(cd "$reference" && pwd)")
"${mvn[@]}" test-compile -Dnative.dir="$ROOT/target/release"
"${mvn[@]}" dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
cp=jvm-bridge/java/target/test-classes:jvm-bridge/java/target/classes:$(cat jvm-bridge/java/target/bench.classpath)
java -Xmx512m -cp "$cp" \
  -Dbench.server="${BENCH_SERVER:-rust}" -Dbench.seconds="${BENCH_SECONDS:-10}" -Dbench.soak="${BENCH_SOAK:-1000000}" \
  -Dbench.executor="${BENCH_EXECUTOR:-bridge}" \
  -Dbridge.test.library="$ROOT/target/release/liborbit_bridge_test_actors.so" \
  -Dorbit.node.binary="$ROOT/target/release/orbit-node" \
  dev.orbitrust.bridge.BridgeBenchKt
