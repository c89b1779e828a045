#!/usr/bin/env bash
# Side-by-side benchmark of the Kotlin orbit-server and the Rust orbit-node on this machine.
#
# For each server kind (kotlin, rust) it starts the server on free ports, measures the time from
# process start until grpc.health.v1.Health/Check answers SERVING, starts one hosting Kotlin
# `client` (EchoActor & co.), runs the harness's `load` generator against it (warm-up, then a
# measured phase), samples the server's peak RSS (VmHWM) and CPU time, stops everything and
# prints a table. A benchmark, not a test: it asserts nothing about speed and CI does not run it.
#
# Usage: scripts/bench.sh
# Environment (defaults in brackets):
#   BENCH_ACTORS [1000]  BENCH_CONCURRENCY [64]  BENCH_WARMUP_SECONDS [10]
#   BENCH_DURATION_SECONDS [30]  BENCH_SERVERS ["kotlin rust"]  BENCH_PAYLOAD ["hello orbit"]
#   BENCH_OUT [a new /tmp/orbit-bench.XXXXXX]: where the logs of every process are kept
#   ORBIT_LOG [info]: orbit-node's log filter (its log is BENCH_OUT/rust-server.err)
# Start-up is timed by the harness `health` poller (a warm JVM polling every 5 ms), against
# the time this script recorded just before starting the server.
# See docs/benchmarks.md for results and caveats.
set -euo pipefail

cd "$(dirname "$0")/.."
ACTORS=${BENCH_ACTORS:-1000}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
WARMUP=${BENCH_WARMUP_SECONDS:-10}
DURATION=${BENCH_DURATION_SECONDS:-30}
SERVERS=${BENCH_SERVERS:-kotlin rust}
PAYLOAD=${BENCH_PAYLOAD:-hello orbit}
export ORBIT_LOG=${ORBIT_LOG:-info}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/orbit-bench.XXXXXX)}
mkdir -p "$OUT"
JAR=interop-tests/jvm/target/orbit-harness.jar
NODE=target/release/orbit-node
NAMESPACE=bench

log() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- process bookkeeping
declare -a PIDS=()
track() { PIDS+=("$1"); }

# stop PID [grace seconds]: SIGTERM, then SIGKILL after the grace period.
stop() {
  local pid=$1 grace=${2:-20} i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "process $pid did not stop within ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && stop "$pid" 5
  done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
free_port() {
  local p _
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    # Nothing accepts a connection there (bash's /dev/tcp; no extra tools needed).
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  log "no free port found"
  return 1
}

# wait_for_line FILE PATTERN TIMEOUT_SECONDS PID: waits until FILE has a line matching PATTERN.
wait_for_line() {
  local file=$1 pattern=$2 timeout=$3 pid=$4 i
  for ((i = 0; i < timeout * 20; i++)); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { grep -q -- "$pattern" "$file" 2>/dev/null && return 0; return 1; }
    sleep 0.05
  done
  return 1
}

# json_field NAME FILE: a number field of the one-line JSON in FILE.
json_field() { sed -nE "s/.*\"$1\":(-?[0-9.eE+-]+).*/\\1/p" "$2" | head -1; }

# VmHWM of PID in MiB (one decimal).
peak_rss_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }

# user+system CPU seconds of PID so far (one decimal).
cpu_seconds() {
  local tck
  tck=$(getconf CLK_TCK)
  # Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
  sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | awk -v t="$tck" '{ printf "%.1f", ($12 + $13) / t }'
}

# ---------------------------------------------------------------- build
log "building orbit-node (release)"
cargo build --release -q -p orbit-node
# Rebuild when the jar is missing or predates the load / health subcommands.
listing=$( (unzip -l "$JAR" 2>/dev/null || true) | awk '{ print $4 }')
if ! grep -qx 'orbit/harness/LoadCommand.class' <<<"$listing" ||
  ! grep -qx 'orbit/harness/HealthCommand.class' <<<"$listing"; then
  log "building the Kotlin harness jar"
  mvn -B -q -f interop-tests/jvm/pom.xml package
fi

# ---------------------------------------------------------------- one server
declare -A ROW=()

# run_one KIND: fills ROW[KIND] with the table row and DETAIL[KIND] with the extra figures.
declare -A DETAIL=()
run_one() {
  local kind=$1 port health_pid server_pid client_pid load_pid t0 at serving_ms rss cpu
  local prefix="$OUT/$kind"
  port=$(free_port)
  log "$kind: server port $port"

  # The poller's JVM starts first, so its start-up is not counted.
  java -jar "$JAR" health --server "127.0.0.1:$port" --timeout-seconds 120 --interval-millis 5 \
    >"$prefix-health.out" 2>"$prefix-health.err" &
  health_pid=$!
  track "$health_pid"
  if ! wait_for_line "$prefix-health.out" '^POLLING' 60 "$health_pid"; then
    ROW[$kind]="health poller did not start (see $prefix-health.err)"
    return 1
  fi

  t0=$(date +%s%3N)
  case $kind in
    kotlin)
      java -jar "$JAR" server --port "$port" --url "127.0.0.1:$port" \
        >"$prefix-server.out" 2>"$prefix-server.err" &
      ;;
    rust)
      "$NODE" --port "$port" --listen 127.0.0.1 --url "127.0.0.1:$port" --metrics-port off \
        >"$prefix-server.out" 2>"$prefix-server.err" &
      ;;
  esac
  server_pid=$!
  track "$server_pid"

  wait "$health_pid" || true
  at=$(sed -nE 's/^SERVING [0-9]+ at=([0-9]+)$/\1/p' "$prefix-health.out")
  if [ -z "$at" ]; then
    ROW[$kind]="never SERVING: $(tail -1 "$prefix-health.out") (see $prefix-server.err)"
    stop "$server_pid"
    return 1
  fi
  serving_ms=$((at - t0))
  log "$kind: SERVING after ${serving_ms} ms"

  java -jar "$JAR" client --server "127.0.0.1:$port" --namespace "$NAMESPACE" \
    >"$prefix-client.out" 2>"$prefix-client.err" &
  client_pid=$!
  track "$client_pid"
  if ! wait_for_line "$prefix-client.out" '^READY client' 120 "$client_pid"; then
    ROW[$kind]="hosting client did not join (see $prefix-client.err)"
    stop "$client_pid"
    stop "$server_pid"
    return 1
  fi

  log "$kind: load: $ACTORS actors, concurrency $CONCURRENCY, warm-up ${WARMUP}s, measured ${DURATION}s"
  timeout --kill-after=10 $((WARMUP + DURATION + 180)) \
    java -jar "$JAR" load --server "127.0.0.1:$port" --namespace "$NAMESPACE" \
    --actors "$ACTORS" --concurrency "$CONCURRENCY" --warmup-seconds "$WARMUP" \
    --duration-seconds "$DURATION" --payload "$PAYLOAD" \
    >"$prefix-load.out" 2>"$prefix-load.err" &
  load_pid=$!
  track "$load_pid"
  local load_rc=0
  wait "$load_pid" || load_rc=$?

  # Sample before stopping anything.
  if kill -0 "$server_pid" 2>/dev/null; then
    rss=$(peak_rss_mib "$server_pid")
    cpu=$(cpu_seconds "$server_pid")
  else
    rss="(exited)"
    cpu="?"
  fi
  stop "$client_pid"
  stop "$server_pid"

  local result="$prefix-load.out"
  if [ "$load_rc" -ne 0 ] || ! grep -q '"callsPerSecond"' "$result"; then
    ROW[$kind]="load failed (exit $load_rc; see $prefix-load.err, $prefix-server.err)"
    DETAIL[$kind]="server peak RSS ${rss} MiB, server CPU ${cpu} s"
    return 1
  fi
  ROW[$kind]=$(printf '%-8s | %21s | %9s | %7s | %7s | %6s | %13s' "$kind" "$serving_ms" \
    "$(printf '%.0f' "$(json_field callsPerSecond "$result")")" "$(json_field p50Ms "$result")" \
    "$(json_field p99Ms "$result")" "$(json_field errors "$result")" "$rss")
  DETAIL[$kind]="calls $(json_field calls "$result") in $(json_field seconds "$result") s, max $(json_field maxMs "$result") ms, server CPU ${cpu} s (user+system, whole run incl. start-up)"
  return 0
}

# ---------------------------------------------------------------- header
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git --no-optional-locks diff --quiet HEAD -- 2>/dev/null; then commit="$commit (+ uncommitted changes)"; fi
echo "Orbit benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine:    $(nproc) CPUs, $(sed -nE 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1), $(awk '/^MemTotal:/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) (before the run)"
echo "JVM:        $(java -version 2>&1 | sed -n 2p) (default ergonomics: $(java -XX:+PrintFlagsFinal -version 2>/dev/null | awk '/ MaxHeapSize / { printf "max heap %.0f MiB", $4 / 1048576 }'), $(java -XX:+PrintFlagsFinal -version 2>/dev/null | awk '$2 ~ /^Use(G1|Serial|Parallel|Z|Shenandoah)GC$/ && $4 == "true" { print $2 }'))"
echo "rustc:      $(rustc --version 2>/dev/null || echo unknown)"
echo "git commit: $commit"
echo "parameters: actors=$ACTORS concurrency=$CONCURRENCY warmup=${WARMUP}s duration=${DURATION}s payload=\"$PAYLOAD\" namespace=$NAMESPACE ORBIT_LOG=$ORBIT_LOG"
echo "            servers: $SERVERS; one hosting harness client; load = harness 'load' (EchoActor.echoString)"
echo "logs:       $OUT"
echo

for kind in $SERVERS; do
  case $kind in kotlin | rust) ;; *) log "unknown server kind '$kind'"; exit 2 ;; esac
  run_one "$kind" || log "$kind: ${ROW[$kind]}"
  sleep 3 # let the machine settle between servers
done

echo
# Literal header: printf pads by bytes and the arrow is three.
echo 'server   |      start→SERVING ms |   calls/s |  p50 ms |  p99 ms | errors |  peak RSS MiB'
printf '%s\n' '---------+-----------------------+-----------+---------+---------+--------+--------------'
for kind in $SERVERS; do
  case ${ROW[$kind]:-} in
    "$kind "*) echo "${ROW[$kind]}" ;;
    *) printf '%-8s | %s\n' "$kind" "${ROW[$kind]:-not run}" ;;
  esac
done
echo
for kind in $SERVERS; do
  [ -n "${DETAIL[$kind]:-}" ] && echo "$kind: ${DETAIL[$kind]}"
done
echo "peak RSS = VmHWM of the server process; for kotlin that is the whole JVM (heap, JIT, metaspace)."
