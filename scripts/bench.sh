#!/usr/bin/env bash
# Side-by-side benchmark of the Kotlin orbit-server and the Rust orbit-node, in one run on this
# machine, with the Rust load generator (orbit-load, loadgen/).
#
# What it measures, for each server (the same load for both):
#   * start: process start until grpc.health.v1.Health/Check answers SERVING (a warm JVM
#     poller, started first, asks every 5 ms);
#   * peak invocations/s, closed loop at 1, 16, 128 and 1,024 calls in flight (raw-stream
#     callers and hosts: they cost almost nothing, so the server sets the pace);
#   * p50/p99/p99.9 in an open loop at 50 % of the Kotlin server's peak (latency counted from
#     when each call was due);
#   * server CPU (user+system, /proc) per invocation, over each closed-loop run;
#   * peak RSS (VmHWM) after the 1,000-actor runs and after a run over 100,000 actors;
#   * the same at 128 in flight with the Rust client runtime on both sides, and with Kotlin
#     hosts (the harness's EchoActor) called by raw Rust callers;
#   * a 2-server mesh (etcd directories; callers on one server, hosts on the other);
#   * the raw limit of the machine: raw callers against a bare echo server in its own process
#     (orbit-load --serve-echo, then --mode echo) at the same levels. An invocation crosses a server twice, so a server with
#     no overhead at all would reach about half of the echo rate.
# Every figure is printed with its ratio (Rust against Kotlin). A benchmark, not a test: it
# asserts nothing about speed and CI does not run it (CI runs orbit-load for a few seconds).
#
# Usage: scripts/bench.sh
# Environment (defaults in brackets):
#   BENCH_SECONDS [10]       measured seconds per point      BENCH_WARMUP [3]  warm-up seconds
#   BENCH_LEVELS ["1 16 128 1024"]  closed-loop levels       BENCH_ACTORS [1000]
#   BENCH_BIG_ACTORS [100000]  actors of the RSS run         BENCH_MESH [1]    0 skips the mesh
#   BENCH_OUT [a new /tmp/orbit-bench.XXXXXX]: logs and the JSON of every orbit-load run
# Needs: java 17, Maven (builds the harness jar when missing), etcd (Debian's etcd-server)
# for the mesh, python3.
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_PER_POINT=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-3}
LEVELS=${BENCH_LEVELS:-1 16 128 1024}
ACTORS=${BENCH_ACTORS:-1000}
BIG_ACTORS=${BENCH_BIG_ACTORS:-100000}
MESH=${BENCH_MESH:-1}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/orbit-bench.XXXXXX)}
mkdir -p "$OUT"
JAR=interop-tests/jvm/target/orbit-harness.jar
NODE=target/release/orbit-node
LOAD=target/release/orbit-load
export ORBIT_LOG=${ORBIT_LOG:-warn}

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
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
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
NEXT_PORT=$((21000 + RANDOM % 5000))
# next_port: sets PORT to a loopback port below the ephemeral range that nothing listens on
# (not in a subshell: the counter must move on for the next caller).
next_port() {
  local _
  for _ in $(seq 200); do
    NEXT_PORT=$((NEXT_PORT + 1))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$NEXT_PORT") 2>/dev/null; then
      PORT=$NEXT_PORT
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

# field FILE EXPR: a value of an orbit-load JSON result (EXPR indexes `r`, e.g. r['ok']).
field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# VmHWM of PID in MiB (one decimal).
peak_rss_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }

# user+system CPU clock ticks of PID so far.
cpu_ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
TICK=$(getconf CLK_TCK)

declare -A PID_OF=() PORT_OF=() START_MS=()
declare -A R=() # results: R[key]=value

# start_server KIND NAME [extra args...]: starts a server, measures start→SERVING.
start_server() {
  local kind=$1 name=$2 port health_pid pid t0 at
  shift 2
  next_port
  port=$PORT
  java -jar "$JAR" health --server "127.0.0.1:$port" --timeout-seconds 120 --interval-millis 5 \
    >"$OUT/$name-health.out" 2>"$OUT/$name-health.err" &
  health_pid=$!
  track "$health_pid"
  wait_for_line "$OUT/$name-health.out" '^POLLING' 60 "$health_pid" || { log "$name: health poller did not start"; return 1; }
  t0=$(date +%s%3N)
  case $kind in
    kotlin) java -jar "$JAR" server --port "$port" --url "127.0.0.1:$port" "$@" \
      >"$OUT/$name.out" 2>"$OUT/$name.err" & ;;
    rust) "$NODE" --port "$port" --listen 127.0.0.1 --url "127.0.0.1:$port" --metrics-port off "$@" \
      >"$OUT/$name.out" 2>"$OUT/$name.err" & ;;
  esac
  pid=$!
  track "$pid"
  wait "$health_pid" || true
  at=$(sed -nE 's/^SERVING [0-9]+ at=([0-9]+)$/\1/p' "$OUT/$name-health.out")
  [ -n "$at" ] || { log "$name never answered SERVING (see $OUT/$name.err)"; return 1; }
  PID_OF[$name]=$pid
  PORT_OF[$name]=$port
  START_MS[$name]=$((at - t0))
  log "$name: SERVING after ${START_MS[$name]} ms on port $port"
}

# load NAME SERVER_NAME [orbit-load args...]: runs orbit-load against SERVER_NAME, keeps its
# JSON as $OUT/NAME.json and the server's CPU ticks spent meanwhile in R[NAME.cpu_ticks].
load() {
  local name=$1 server=$2 before after
  shift 2
  before=$(cpu_ticks "${PID_OF[$server]}")
  if ! "$LOAD" --server "127.0.0.1:${PORT_OF[$server]}" --namespace "$name" --quiet \
    --warmup-seconds "$WARMUP" --duration-seconds "$SECONDS_PER_POINT" --json "$OUT/$name.json" "$@" \
    >"$OUT/$name.out" 2>"$OUT/$name.err"; then
    log "$name: orbit-load failed: $(tail -1 "$OUT/$name.err")"
  fi
  after=$(cpu_ticks "${PID_OF[$server]}")
  R[$name.cpu_ticks]=$((after - before))
  [ -s "$OUT/$name.json" ] || echo '{}' >"$OUT/$name.json"
  log "$name: $(field "$OUT/$name.json" "'%.0f calls/s, p99 %s us, %s errors' % (r.get('calls_per_second', 0), r.get('latency_us', {}).get('p99', '?'), r.get('errors', '?'))")"
}

# per_call_us NAME: server CPU µs per invocation over the run NAME (warm-up included).
per_call_us() {
  field "$OUT/$1.json" "'%.1f' % (${R[$1.cpu_ticks]} * 1e6 / $TICK / max(1, r.get('ok', 0) + r.get('warmup_calls', 0)))"
}

# ---------------------------------------------------------------- build
log "building orbit-node and orbit-load (release)"
cargo build --release -q -p orbit-node -p orbit-loadgen
if [ ! -f "$JAR" ]; then
  log "building the Kotlin harness jar"
  mvn -B -q -f interop-tests/jvm/pom.xml package -DskipTests
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git --no-optional-locks diff --quiet HEAD -- 2>/dev/null; then commit="$commit (+ uncommitted changes)"; fi

# ---------------------------------------------------------------- the machine's limit
next_port
"$LOAD" --serve-echo "$PORT" >"$OUT/echo-server.out" 2>&1 &
echo_pid=$!
track "$echo_pid"
sleep 1
for level in $LEVELS; do
  callers=$((level >= 128 ? 2 : 1))
  "$LOAD" --mode echo --server "127.0.0.1:$PORT" --callers "$callers" --quiet --warmup-seconds "$WARMUP" \
    --duration-seconds "$SECONDS_PER_POINT" --in-flight "$level" --json "$OUT/echo-$level.json" \
    >"$OUT/echo-$level.out" 2>&1 || true
  log "echo at $level in flight: $(field "$OUT/echo-$level.json" "'%.0f' % r['calls_per_second']") round trips/s"
done
stop "$echo_pid"

# ---------------------------------------------------------------- one server at a time
start_server kotlin kotlin
start_server rust rust
for level in $LEVELS; do
  callers=$((level >= 128 ? 2 : 1))
  for kind in kotlin rust; do
    load "$kind-closed-$level" "$kind" --mode raw --hosts "$callers" --callers "$callers" --actors "$ACTORS" --in-flight "$level"
  done
done
peak() { # peak KIND: the best closed-loop calls/s of KIND
  local level best=0 value
  for level in $LEVELS; do
    value=$(field "$OUT/$1-closed-$level.json" "'%.0f' % r.get('calls_per_second', 0)")
    [ "$value" -gt "$best" ] && best=$value
  done
  echo "$best"
}
R[kotlin.peak]=$(peak kotlin)
R[rust.peak]=$(peak rust)
RATE=$((R[kotlin.peak] / 2))
[ "$RATE" -gt 0 ] || RATE=100
for kind in kotlin rust; do
  load "$kind-open" "$kind" --mode raw --hosts 2 --callers 2 --actors "$ACTORS" --rate "$RATE"
done
for kind in kotlin rust; do
  load "$kind-client-128" "$kind" --mode client --hosts 2 --callers 2 --actors "$ACTORS" --in-flight 128
done
for kind in kotlin rust; do
  java -jar "$JAR" client --server "127.0.0.1:${PORT_OF[$kind]}" --namespace "$kind-kotlin-hosts" \
    >"$OUT/$kind-kotlin-host.out" 2>"$OUT/$kind-kotlin-host.err" &
  host_pid=$!
  track "$host_pid"
  if wait_for_line "$OUT/$kind-kotlin-host.out" '^READY client' 120 "$host_pid"; then
    load "$kind-kotlin-hosts" "$kind" --mode raw --hosts 0 --callers 2 --actors "$ACTORS" --in-flight 128
  else
    log "$kind: the Kotlin hosting client did not join"
    echo '{}' >"$OUT/$kind-kotlin-hosts.json"
  fi
  stop "$host_pid"
done
for kind in kotlin rust; do
  R[$kind.rss_small]=$(peak_rss_mib "${PID_OF[$kind]}")
done
# Every one of BIG_ACTORS actors called at least twice: the server's directory holds them all.
for kind in kotlin rust; do
  rate=$(field "$OUT/$kind-closed-128.json" "max(1000, r.get('calls_per_second', 1000))")
  seconds=$(python3 -c "print(max($SECONDS_PER_POINT, round(2 * $BIG_ACTORS / $rate) + 5))")
  SECONDS_PER_POINT=$seconds load "$kind-big" "$kind" --mode raw --hosts 2 --callers 2 --actors "$BIG_ACTORS" --in-flight 128
  R[$kind.rss_big]=$(peak_rss_mib "${PID_OF[$kind]}")
done
stop "${PID_OF[kotlin]}"
stop "${PID_OF[rust]}"

# ---------------------------------------------------------------- two-server meshes
if [ "$MESH" = 1 ]; then
  for kind in kotlin rust; do
    for store in nodes leases; do
      next_port
      port=$PORT
      next_port
      peer=$PORT
      etcd --name "$kind-$store" --data-dir "$OUT/etcd-$kind-$store" \
        --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
        --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "$kind-$store=http://127.0.0.1:$peer" >"$OUT/etcd-$kind-$store.log" 2>&1 &
      track $!
      eval "ETCD_${store}=http://127.0.0.1:$port"
    done
    sleep 2
    # shellcheck disable=SC2154
    etcd_args=(--etcd-node-url "$ETCD_nodes" --etcd-addressable-url "$ETCD_leases")
    # A Kotlin server can lose its own ACTIVE write and stay STARTING (docs/compatibility.md),
    # which fails the run; such a run is repeated once with fresh servers, and says so.
    for attempt in 1 2; do
      rm -f "$OUT/$kind-mesh.json"
      start_server "$kind" "$kind-a" "${etcd_args[@]}"
      start_server "$kind" "$kind-b" "${etcd_args[@]}"
      sleep 5 # both servers see each other in the node directory within a few ticks
      "$LOAD" --server "127.0.0.1:${PORT_OF[$kind-a]}" --host-server "127.0.0.1:${PORT_OF[$kind-b]}" \
        --namespace "$kind-mesh-$attempt" --quiet --mode raw --hosts 2 --callers 2 --actors "$ACTORS" \
        --in-flight 128 --warmup-seconds "$((WARMUP + 5))" --duration-seconds "$SECONDS_PER_POINT" \
        --json "$OUT/$kind-mesh.json" >"$OUT/$kind-mesh.out" 2>"$OUT/$kind-mesh.err" ||
        log "$kind mesh (attempt $attempt): orbit-load failed: $(tail -1 "$OUT/$kind-mesh.err")"
      [ -s "$OUT/$kind-mesh.json" ] || echo '{}' >"$OUT/$kind-mesh.json"
      stop "${PID_OF[$kind-a]}"
      stop "${PID_OF[$kind-b]}"
      ok=$(field "$OUT/$kind-mesh.json" "r.get('ok', 0)")
      [ "$ok" -gt 0 ] && break
    done
    log "$kind mesh: $(field "$OUT/$kind-mesh.json" "'%.0f calls/s' % r.get('calls_per_second', 0)")"
  done
fi

# ---------------------------------------------------------------- report
f() { field "$OUT/$1.json" "$2" 2>/dev/null || echo "-"; }
cps() { f "$1" "'%.0f' % r['calls_per_second'] if r.get('ok') else '-'"; }
lat() { f "$1" "'%s / %s / %s' % (r['latency_us']['p50'], r['latency_us']['p99'], r['latency_us']['p999']) if r.get('ok') else '-'"; }
# ratio A B: A/B with one decimal and an x, or "-".
ratio() { python3 -c "import sys
try: print('%.1fx' % (float(sys.argv[1]) / float(sys.argv[2])))
except Exception: print('-')" "$1" "$2"; }
first() { echo "${1%% *}"; }

size=$(stat -c %s "$NODE")
stripped=$(strip -o "$OUT/orbit-node.stripped" "$NODE" 2>/dev/null && stat -c %s "$OUT/orbit-node.stripped" || echo 0)

echo "Orbit benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit"
echo "machine: $(nproc) CPUs, $(sed -nE 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1), $(awk '/^MemTotal:/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), $(uname -sr); $(java -version 2>&1 | sed -n 2p); $(rustc --version)"
echo "load: orbit-load (raw streams unless said otherwise), EchoActor.echoString with 16 bytes, $ACTORS actors, warm-up ${WARMUP} s, ${SECONDS_PER_POINT} s per point; logs and JSON in $OUT"
echo
echo "| figure | Kotlin orbit-server | Rust orbit-node | Rust vs Kotlin |"
echo "|---|---:|---:|---:|"
echo "| start to SERVING (ms) | ${START_MS[kotlin]} | ${START_MS[rust]} | $(ratio "${START_MS[kotlin]}" "${START_MS[rust]}") faster |"
for level in $LEVELS; do
  k=$(cps "kotlin-closed-$level")
  r=$(cps "rust-closed-$level")
  echo "| calls/s, closed loop, $level in flight | $k | $r | $(ratio "$r" "$k") |"
done
echo "| peak calls/s | ${R[kotlin.peak]} | ${R[rust.peak]} | $(ratio "${R[rust.peak]}" "${R[kotlin.peak]}") |"
for level in $LEVELS; do
  k=$(per_call_us "kotlin-closed-$level")
  r=$(per_call_us "rust-closed-$level")
  echo "| server CPU per call (µs), $level in flight | $k | $r | $(ratio "$k" "$r") less |"
done
k=$(lat kotlin-open)
r=$(lat rust-open)
echo "| open loop at $RATE calls/s (50 % of Kotlin's peak): p50 / p99 / p99.9 (µs) | $k | $r | p99 $(ratio "$(echo "$k" | cut -d/ -f2)" "$(echo "$r" | cut -d/ -f2)") lower |"
echo "| errors in the open loop | $(f kotlin-open "r.get('errors','-')") | $(f rust-open "r.get('errors','-')") | |"
echo "| peak RSS after the $ACTORS-actor runs (MiB) | ${R[kotlin.rss_small]} | ${R[rust.rss_small]} | $(ratio "${R[kotlin.rss_small]}" "${R[rust.rss_small]}") smaller |"
echo "| peak RSS after $BIG_ACTORS actors (MiB) | ${R[kotlin.rss_big]} | ${R[rust.rss_big]} | $(ratio "${R[kotlin.rss_big]}" "${R[rust.rss_big]}") smaller |"
echo "| calls answered in the $BIG_ACTORS-actor run (each actor called at least twice) | $(f kotlin-big "r.get('ok','-')") | $(f rust-big "r.get('ok','-')") | |"
k=$(cps kotlin-client-128)
r=$(cps rust-client-128)
echo "| calls/s, Rust client runtime both sides, 128 in flight | $k | $r | $(ratio "$r" "$k") |"
k=$(cps kotlin-kotlin-hosts)
r=$(cps rust-kotlin-hosts)
echo "| calls/s, Kotlin hosts (harness client), 128 in flight | $k | $r | $(ratio "$r" "$k") |"
if [ "$MESH" = 1 ]; then
  k=$(cps kotlin-mesh)
  r=$(cps rust-mesh)
  echo "| calls/s, 2-server mesh, 128 in flight | $k | $r | $(ratio "$r" "$k") |"
  echo "| mesh p50 / p99 / p99.9 (µs) | $(lat kotlin-mesh) | $(lat rust-mesh) | |"
fi
echo "| orbit-node binary (bytes; stripped) | | $size; $stripped | |"
# No image is built here (container images are issue 11). The smallest image orbit-node can
# run in holds the stripped binary and the shared libraries ldd lists; the Kotlin server needs
# a JRE (the Docker probe's debootstrap JRE image is 345 MB, docs/testing.md) and its jar.
libs=0
for lib in $(ldd "$NODE" | grep -oE '/[^ ]+'); do libs=$((libs + $(stat -L -c %s "$lib"))); done
echo "| image contents (bytes): Kotlin = harness jar (+ a JRE); Rust = stripped binary + ldd libraries | $(stat -c %s "$JAR") (+ JRE) | $((stripped + libs)) | |"
echo
echo "| raw echo limit (no server work; same machine, same run) | round trips/s | orbit-node calls/s at that level | share of half the echo rate |"
echo "|---|---:|---:|---:|"
for level in $LEVELS; do
  e=$(cps "echo-$level")
  r=$(cps "rust-closed-$level")
  share=$(python3 -c "import sys
try: print('%.0f %%' % (100 * float(sys.argv[2]) / (float(sys.argv[1]) / 2)))
except Exception: print('-')" "$e" "$r")
  echo "| $level in flight | $e | $r | $share |"
done
echo
echo "CPU per call counts the server's user+system time over the whole run of that point (warm-up included) divided by its calls."
echo "peak RSS = VmHWM of the server process; for Kotlin, the whole JVM (default ergonomics)."
