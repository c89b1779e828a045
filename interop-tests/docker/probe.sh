#!/usr/bin/env bash
# Docker probe: can this machine run the container test suite?
#
#   start engine -> build images (debootstrap + docker import, no registry) -> compile a tiny
#   Rust TCP server/client (probe-echo.rs) -> `docker build` an app image FROM a local image ->
#   run each image -> user-defined bridge network (--internal: no route off the machine) ->
#   reach containers by name -> partition (network disconnect/connect) -> docker kill/start ->
#   docker restart -> docker pause/unpause.
#
# Prints every step's duration and a summary table; exits non-zero if any step fails.
# Removes its own containers, network and app image on exit (trap); leaves dockerd running
# and keeps the base images (they are a cache for later runs).
#
# Usage: probe.sh [--rebuild]      (--rebuild is passed to build-images.sh)
# Environment: see start-engine.sh and build-images.sh (ORBIT_IMAGE_TAG, ORBIT_IMAGE_CACHE, ...)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ORBIT_TAG="probe"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

BUILD_ARGS=()
for a in "$@"; do
  case "$a" in
    --rebuild) BUILD_ARGS+=(--rebuild) ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $a" ;;
  esac
done

TAG="${ORBIT_IMAGE_TAG:-probe}"
BASE="orbit-rust/base:$TAG"
JRE="orbit-rust/jre:$TAG"
BUSYBOX="orbit-rust/busybox:$TAG"
RUN_ID="orbit-probe-$$-$(date +%s)"
LABEL="org.orbit-rust.probe=$RUN_ID"
NET="$RUN_ID-net"
APP_IMAGE="orbit-rust/probe-app:$RUN_ID"
A="$RUN_ID-a" B="$RUN_ID-b" C="$RUN_ID-c"   # container names; network aliases node-a/-b/-c
PORT=7000
WORK=""
FAILED=0
T_ALL=$(now)

require_root

cleanup() {
  local rc=$? t0 status=ok
  set +e
  t0=$(now)
  if command -v "$DOCKER" >/dev/null && docker_ready; then
    local ids
    mapfile -t ids < <("$DOCKER" ps -aq --filter "label=$LABEL")
    [ "${#ids[@]}" -gt 0 ] && "$DOCKER" rm -f "${ids[@]}" >/dev/null
    "$DOCKER" network rm "$NET" >/dev/null 2>&1
    "$DOCKER" image rm -f "$APP_IMAGE" >/dev/null 2>&1
    if [ -n "$("$DOCKER" ps -aq --filter "label=$LABEL")" ] || "$DOCKER" network inspect "$NET" >/dev/null 2>&1; then
      warn "cleanup left containers or network $NET behind"
      status=FAILED; FAILED=1
    fi
  fi
  [ -n "$WORK" ] && rm -rf "$WORK"
  STEP_RESULTS+=("cleanup (containers, network, app image)	$status	$(elapsed "$t0")")
  print_summary
  local total; total=$(elapsed "$T_ALL")
  if [ "$FAILED" -ne 0 ] || [ "$rc" -ne 0 ]; then
    log "PROBE FAILED (total $total s)"
    exit 1
  fi
  log "PROBE OK (total $total s)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run STEP CMD...: like step, but stops the probe at the first failure
run() { step "$@" || { FAILED=1; exit 1; }; }

# ---------------------------------------------------------------- helpers for checks
# get FROM TARGET [TIMEOUT_MS] -> prints the answer of probe-echo at TARGET:PORT seen from container FROM
get() { "$DOCKER" exec "$1" probe-echo get "$2:$PORT" "${3:-1000}"; }

# expect FROM TARGET NAME: TARGET answers with NAME, right now
expect() {
  local out
  out=$(get "$1" "$2" 2>&1) || { warn "$1 -> $2: $out"; return 1; }
  [ "$out" = "$3" ] || { warn "$1 -> $2 answered '$out', expected '$3'"; return 1; }
}

# wait_expect FROM TARGET NAME [SECONDS]: poll until TARGET answers with NAME
wait_expect() {
  local deadline=$(( $(date +%s) + ${4:-20} )) out tries=0 t0 err
  t0=$(now)
  while [ "$(date +%s)" -lt "$deadline" ]; do
    tries=$((tries + 1))
    if out=$(get "$1" "$2" 500 2>&1) && [ "$out" = "$3" ]; then
      [ "$tries" -gt 1 ] && log "  $1 -> $2 answered after $tries tries, $(elapsed "$t0") s (last error: $err)"
      return 0
    fi
    err="$out"
    sleep 0.1
  done
  expect "$1" "$2" "$3"
}

# expect_unreachable FROM TARGET: resolving, connecting or reading must fail (within 500 ms)
expect_unreachable() {
  local out
  if out=$(get "$1" "$2" 500 2>&1); then
    warn "$1 -> $2 still answered '$out'"; return 1
  fi
  log "  as expected, $1 -> $2 fails: $out"
}

running() { [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = "$2" ]; }

ip_of() { "$DOCKER" inspect -f "{{ (index .NetworkSettings.Networks \"$NET\").IPAddress }}" "$1"; }

# ---------------------------------------------------------------- steps
s_engine() { "$HERE/start-engine.sh"; }
s_images() { "$HERE/build-images.sh" "${BUILD_ARGS[@]}"; }

s_versions() {
  "$DOCKER" version --format 'client {{.Client.Version}} API {{.Client.APIVersion}} | engine {{.Server.Version}} API {{.Server.APIVersion}} (min {{.Server.MinAPIVersion}})'
  [ -x /usr/bin/docker ] && log "  docker.io's own client: $(/usr/bin/docker --version)"
  return 0
}

s_compile() {
  WORK=$(mktemp -d /tmp/orbit-probe.XXXXXX) || return 1
  command -v rustc >/dev/null || { warn "rustc not on PATH"; return 1; }
  rustc -O --edition 2021 -o "$WORK/probe-echo" "$HERE/probe-echo.rs"
}

s_build_app() {
  mkdir -p "$WORK/ctx" && cp "$WORK/probe-echo" "$WORK/ctx/" &&
  printf 'FROM %s\nCOPY probe-echo /usr/local/bin/probe-echo\nCMD ["probe-echo", "serve", "%s"]\n' \
    "$BUSYBOX" "$PORT" >"$WORK/ctx/Dockerfile" || return 1
  # Legacy builder: the local client has no buildx plugin, and FROM resolves to a local image.
  DOCKER_BUILDKIT=0 "$DOCKER" build -q --label "$LABEL" -t "$APP_IMAGE" "$WORK/ctx"
}

# shellcheck disable=SC2016  # expanded inside the container
s_smoke_base()    { "$DOCKER" run --rm --network none "$BASE" sh -c 'echo "debian $(cat /etc/debian_version), $(ls /usr/bin | wc -l) programs in /usr/bin"'; }
s_smoke_jre()     { "$DOCKER" run --rm --network none "$JRE" java -version; }
# shellcheck disable=SC2016
s_smoke_busybox() { "$DOCKER" run --rm --network none "$BUSYBOX" sh -c 'echo "$(busybox | head -n1)"'; }
s_smoke_rust_base() {
  # the host-built (glibc-linked) binary runs in the debootstrap image: same suite, same glibc
  "$DOCKER" run --rm --network none -v "$WORK/probe-echo:/usr/local/bin/probe-echo:ro" "$BASE" \
    sh -c 'probe-echo serve 7000 2>/dev/null & for i in 1 2 3 4 5 6 7 8 9 10; do probe-echo get 127.0.0.1:7000 2>/dev/null && exit 0; sleep 0.1; done; exit 1'
}
s_smoke_rust_app() {
  # ... and in the host-files image (ld.so + libc + libgcc_s copied from the host)
  "$DOCKER" run --rm --network none -e ORBIT_NODE=app-smoke "$APP_IMAGE" \
    sh -c 'probe-echo serve 7000 2>/dev/null & for i in 1 2 3 4 5 6 7 8 9 10; do probe-echo get 127.0.0.1:7000 2>/dev/null && exit 0; sleep 0.1; done; exit 1'
}

s_network() {
  # --internal: no gateway/NAT, containers reach only each other (and nothing off this machine)
  "$DOCKER" network create --internal --label "$LABEL" "$NET" >/dev/null || return 1
  "$DOCKER" network inspect -f '  {{.Name}}: driver={{.Driver}} internal={{.Internal}} subnet={{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NET"
}

# --init: tini as PID 1 forwards SIGTERM, so `docker restart`/`stop` don't wait the 10 s grace period.
# --dns-opt: on an --internal network the embedded DNS (127.0.0.11) never answers for a name it
# does not know (moby/moby#43430), so looking up a disconnected/killed peer takes glibc's default
# 5 s x 2 attempts x (A, AAAA) = 20 s; with timeout:1 attempts:1 it fails in about 2 s.
RUN_OPTS=(--init --label "$LABEL" --dns-opt timeout:1 --dns-opt attempts:1)

s_start_nodes() {
  "$DOCKER" run -d "${RUN_OPTS[@]}" --name "$A" --hostname node-a --network "$NET" --network-alias node-a \
    -e ORBIT_NODE=node-a "$APP_IMAGE" >/dev/null || return 1
  "$DOCKER" run -d "${RUN_OPTS[@]}" --name "$B" --hostname node-b --network "$NET" --network-alias node-b \
    -e ORBIT_NODE=node-b -v "$WORK/probe-echo:/usr/local/bin/probe-echo:ro" "$BASE" probe-echo serve "$PORT" >/dev/null || return 1
  "$DOCKER" run -d "${RUN_OPTS[@]}" --name "$C" --hostname node-c --network "$NET" --network-alias node-c \
    "$JRE" sleep infinity >/dev/null || return 1
  running "$A" true && running "$B" true && running "$C" true
}

s_reach() {
  wait_expect "$B" node-a node-a && wait_expect "$A" node-b node-b &&
  expect "$B" "$A" node-a && expect "$A" "$B" node-b &&   # by container name too
  log "  a=$(ip_of "$A") b=$(ip_of "$B") c=$(ip_of "$C")"
}

s_jre_names() {
  "$DOCKER" exec "$C" getent hosts node-a node-b "$A" "$B" | sed 's/^/  /' || return 1
  "$DOCKER" exec "$C" java -XshowSettings:properties -version 2>&1 | grep -E 'java.vm.version' | sed 's/^ */  /'
}

s_partition() {
  local ip_a; ip_a=$(ip_of "$A") || return 1
  "$DOCKER" network disconnect "$NET" "$A" || return 1
  expect_unreachable "$B" node-a && expect_unreachable "$B" "$ip_a" && expect_unreachable "$A" node-b &&
  running "$A" true   # still running, only cut off
}

s_heal() {
  "$DOCKER" network connect --alias node-a "$NET" "$A" || return 1
  wait_expect "$B" node-a node-a && wait_expect "$A" node-b node-b
}

s_kill() {
  "$DOCKER" kill "$A" >/dev/null || return 1
  running "$A" false && expect_unreachable "$B" node-a
}

s_start_after_kill() {
  "$DOCKER" start "$A" >/dev/null || return 1
  wait_expect "$B" node-a node-a && wait_expect "$A" node-b node-b
}

s_restart() {
  local t0; t0=$(now)
  "$DOCKER" restart -t 2 "$B" >/dev/null || return 1
  log "  docker restart itself: $(elapsed "$t0") s"
  wait_expect "$A" node-b node-b && wait_expect "$B" node-a node-a
}

s_pause() {
  "$DOCKER" pause "$A" >/dev/null || return 1
  # TCP handshake still completes (kernel), but the frozen process never answers
  expect_unreachable "$B" node-a || { "$DOCKER" unpause "$A" >/dev/null; return 1; }
  "$DOCKER" unpause "$A" >/dev/null || return 1
  wait_expect "$B" node-a node-a
}

run "start engine (start-engine.sh)"              s_engine
run "client/engine versions"                      s_versions
run "build images (build-images.sh)"              s_images
run "compile probe-echo.rs (rustc -O)"            s_compile
run "docker build app image FROM busybox"         s_build_app
run "run base image"                              s_smoke_base
run "run jre image (java -version)"               s_smoke_jre
run "run busybox image"                           s_smoke_busybox
run "host-built Rust binary in base (bind mount)" s_smoke_rust_base
run "host-built Rust binary in app image"         s_smoke_rust_app
run "network create --internal"                   s_network
run "start 3 containers on the network"           s_start_nodes
run "a <-> b reachable by name (TCP)"             s_reach
run "jre container resolves a, b"                 s_jre_names
run "partition: network disconnect a"             s_partition
run "heal: network connect a"                     s_heal
run "docker kill a"                               s_kill
run "docker start a (after kill), reachable"      s_start_after_kill
run "docker restart -t 2 b, reachable"            s_restart
run "docker pause/unpause a"                      s_pause
