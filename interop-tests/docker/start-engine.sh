#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine. Idempotent.
#
#   1. installs Debian's docker.io (+ containerd, runc, iptables, tini) if dockerd is missing
#   2. checks the cgroup setup
#   3. starts dockerd in the background (log to $ORBIT_DOCKERD_LOG) unless one is already running
#   4. waits (bounded) until `docker info` answers; on failure prints the dockerd log tail
#
# If dockerd refuses to start, it retries once per known cause:
#   iptables (nft backend) errors -> iptables-legacy via a PATH shim, then --iptables=false
#   overlay/storage-driver errors -> --storage-driver=vfs
#
# Environment:
#   DOCKER                        docker client to use (default: docker on PATH)
#   ORBIT_DOCKERD_LOG             dockerd log file (default /var/log/orbit-rust/dockerd.log)
#   ORBIT_DOCKERD_TIMEOUT         seconds to wait for readiness per attempt (default 60)
#   ORBIT_DOCKER_STORAGE_DRIVER   force a storage driver (e.g. vfs); default: dockerd's choice (overlay2)
#   ORBIT_DOCKERD_ARGS            extra dockerd arguments (word-split)
#
# Exit status: 0 when `docker info` answers, 1 otherwise.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ORBIT_TAG="start-engine"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

LOG="${ORBIT_DOCKERD_LOG:-/var/log/orbit-rust/dockerd.log}"
TIMEOUT="${ORBIT_DOCKERD_TIMEOUT:-60}"
SHIM_DIR="/run/orbit-rust/iptables-legacy-shim"

T_ALL=$(now)
require_root

print_versions() {
  local v
  v=$("$DOCKER" version --format \
      'client {{.Client.Version}} (API {{.Client.APIVersion}}), engine {{.Server.Version}} (API {{.Server.APIVersion}}, min API {{.Server.MinAPIVersion}})' 2>&1) \
    || { warn "docker version failed: $v"; return 1; }
  log "versions: $v (client binary: $(command -v "$DOCKER"))"
  log "engine: storage=$("$DOCKER" info --format '{{.Driver}}') cgroup=$("$DOCKER" info --format '{{.CgroupDriver}}/v{{.CgroupVersion}}') log=$LOG"
}

# ---------------------------------------------------------------- fast path
if command -v "$DOCKER" >/dev/null 2>&1 && docker_ready; then
  log "engine already answering; nothing to do"
  print_versions
  log "total $(elapsed "$T_ALL") s"
  exit 0
fi

# ---------------------------------------------------------------- install
install_engine() {
  apt_install docker.io || return 1
  command -v dockerd >/dev/null || { warn "dockerd still missing after installing docker.io"; return 1; }
}
if ! command -v dockerd >/dev/null 2>&1; then
  step "install docker.io (apt-get)" install_engine || die "could not install docker.io"
else
  log "dockerd present: $(dockerd --version)"
fi
if ! command -v "$DOCKER" >/dev/null 2>&1; then
  DOCKER=/usr/bin/docker   # the docker.io client
fi

# ---------------------------------------------------------------- cgroups
check_cgroups() {
  local fstype
  fstype=$(stat -fc %T /sys/fs/cgroup 2>/dev/null || echo none)
  case "$fstype" in
    cgroup2fs) log "cgroups: v2 (unified) at /sys/fs/cgroup" ;;
    tmpfs)
      if [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/cpu ]; then
        log "cgroups: v1 (hybrid: $(cd /sys/fs/cgroup && echo *))"
      else
        warn "cgroups: /sys/fs/cgroup is a tmpfs without v1 controllers; trying cgroupfs-mount"
        apt_install cgroupfs-mount && cgroupfs-mount || return 1
      fi ;;
    *)
      warn "cgroups: nothing mounted at /sys/fs/cgroup ($fstype); mounting cgroup2"
      mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || return 1 ;;
  esac
}
step "check cgroups" check_cgroups || die "no usable cgroup hierarchy"

# ---------------------------------------------------------------- wait helper
# wait_ready PID|"" -> 0 ready, 1 timeout, 2 dockerd process exited
wait_ready() {
  local pid="$1" deadline
  deadline=$(( $(date +%s) + TIMEOUT ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    docker_ready && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      return 2
    fi
    sleep 0.2
  done
  docker_ready && return 0
  return 1
}

fail_with_log() {
  printf '[%s] ERROR: %s\n' "$ORBIT_TAG" "$1" >&2
  if [ -f "$LOG" ]; then
    printf '[%s] ---- last 40 lines of %s ----\n' "$ORBIT_TAG" "$LOG" >&2
    tail -n 40 "$LOG" >&2
  fi
  exit 1
}

# ---------------------------------------------------------------- already running?
existing=$(pidof dockerd || true)
if [ -n "$existing" ]; then
  log "a dockerd is already running (pid $existing) but not answering yet; waiting up to ${TIMEOUT}s"
  if step "wait for existing dockerd" wait_ready ""; then
    print_versions
    log "total $(elapsed "$T_ALL") s"
    exit 0
  fi
  fail_with_log "dockerd pid $existing runs but 'docker info' does not answer (not started by us; not touching it)"
fi

# A pid is a live dockerd if it exists, is not a zombie (PID 1 here may reap late) and is dockerd.
dockerd_alive() {
  local pid="$1" stat
  [ -n "$pid" ] && stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ "$stat" == *"(dockerd) "[!Z]* ]]
}

# stale pid file from a dockerd that died (killed, machine handed over, VM restarted)
remove_stale_pidfile() {
  if [ -f /var/run/docker.pid ] && ! dockerd_alive "$(cat /var/run/docker.pid 2>/dev/null)"; then
    log "removing stale /var/run/docker.pid"
    rm -f /var/run/docker.pid
  fi
}
remove_stale_pidfile

# A dockerd killed with SIGKILL leaves the containerd it manages (pid file below) running for a
# while; a new dockerd then waits 15 s for it and gives up ("timeout waiting for containerd").
# No dockerd is alive at this point, so that containerd is an orphan of the dead engine: stop it.
stop_orphan_containerd() {
  local pidfile=/var/run/docker/containerd/containerd.pid pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  if [ -n "$pid" ] && grep -q '^containerd' "/proc/$pid/comm" 2>/dev/null; then
    log "stopping orphaned dockerd-managed containerd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}
stop_orphan_containerd

# ---------------------------------------------------------------- start
mkdir -p "$(dirname "$LOG")"
extra_args=()
[ -n "${ORBIT_DOCKER_STORAGE_DRIVER:-}" ] && extra_args+=("--storage-driver=$ORBIT_DOCKER_STORAGE_DRIVER")
# shellcheck disable=SC2206
[ -n "${ORBIT_DOCKERD_ARGS:-}" ] && extra_args+=($ORBIT_DOCKERD_ARGS)
use_shim=0
tried_legacy=0 tried_noiptables=0 tried_vfs=0

make_legacy_shim() {
  command -v iptables-legacy >/dev/null || return 1
  mkdir -p "$SHIM_DIR"
  local t legacy
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    legacy="${t/tables/tables-legacy}"          # iptables-save -> iptables-legacy-save
    legacy=$(command -v "$legacy") || return 1
    ln -sf "$legacy" "$SHIM_DIR/$t"
  done
}

DOCKERD_PID=""
start_dockerd() {
  local path="$PATH"
  [ "$use_shim" -eq 1 ] && path="$SHIM_DIR:$PATH"
  printf '\n===== %s start-engine.sh: dockerd %s =====\n' "$(date -Is)" "${extra_args[*]:-}" >>"$LOG"
  # setsid + nohup: dockerd must outlive this script and its shell.
  PATH="$path" setsid nohup dockerd "${extra_args[@]}" >>"$LOG" 2>&1 </dev/null &
  DOCKERD_PID=$!
  log "dockerd started (pid $DOCKERD_PID, args: ${extra_args[*]:-<none>}, log $LOG)"
}

attempt=1
while :; do
  log_offset=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
  start_dockerd
  rc=0
  step "start dockerd (attempt $attempt) and wait for docker info" wait_ready "$DOCKERD_PID" || rc=$?
  [ "$rc" -eq 0 ] && break
  new_log=$(tail -c +"$((log_offset + 1))" "$LOG" 2>/dev/null || true)
  if [ "$rc" -eq 1 ]; then
    fail_with_log "dockerd (pid $DOCKERD_PID) did not answer within ${TIMEOUT}s (left running for inspection)"
  fi
  attempt=$((attempt + 1))
  if grep -q 'timeout waiting for containerd' <<<"$new_log" && [ "$attempt" -le 3 ]; then
    stop_orphan_containerd
    continue
  fi
  if grep -q 'pid file found' <<<"$new_log" && [ "$attempt" -le 3 ]; then
    remove_stale_pidfile
    [ -f /var/run/docker.pid ] && fail_with_log "another dockerd (pid $(cat /var/run/docker.pid)) owns /var/run/docker.pid"
    continue
  fi
  if grep -qiE 'iptables|nf_tables|nftables|nat chain' <<<"$new_log"; then
    if [ "$tried_legacy" -eq 0 ] && make_legacy_shim; then
      tried_legacy=1; use_shim=1
      warn "dockerd failed on iptables; retrying with iptables-legacy (PATH shim $SHIM_DIR)"
      continue
    elif [ "$tried_noiptables" -eq 0 ]; then
      tried_noiptables=1; use_shim=0; extra_args+=("--iptables=false")
      warn "dockerd failed on iptables; retrying with --iptables=false (no NAT/isolation rules; if iptables is unusable altogether the embedded DNS 127.0.0.11 fails too: use --ip and --add-host)"
      continue
    fi
  fi
  if grep -qiE 'overlay|storage.driver|graphdriver|driver not supported' <<<"$new_log" && [ "$tried_vfs" -eq 0 ]; then
    tried_vfs=1; extra_args+=("--storage-driver=vfs")
    warn "dockerd failed on its storage driver; retrying with --storage-driver=vfs (slow, full copies)"
    continue
  fi
  fail_with_log "dockerd exited during startup (no known fallback applies)"
done

print_versions
log "total $(elapsed "$T_ALL") s"
