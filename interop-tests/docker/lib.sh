# shellcheck shell=bash
# Shared helpers for the interop-tests/docker scripts. Source it, don't run it.
#
# Every script prints lines of the form
#   [<tag>] <step> ... ok (1.234 s)
# so that timings can be grepped out of CI logs.

: "${DOCKER:=docker}"
ORBIT_TAG="${ORBIT_TAG:-orbit}"

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

# elapsed START -> seconds since START with millisecond precision
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

log()  { printf '[%s] %s\n' "$ORBIT_TAG" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$ORBIT_TAG" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$ORBIT_TAG" "$*" >&2; exit 1; }

# STEP_RESULTS collects "name<TAB>status<TAB>seconds" lines for a summary.
STEP_RESULTS=()

# step NAME CMD...   runs CMD, prints its duration, records it; returns CMD's status.
step() {
  local name="$1"; shift
  local t0 rc secs
  t0=$(now)
  log "step: $name ..."
  set +e
  "$@"
  rc=$?
  set -e
  secs=$(elapsed "$t0")
  if [ "$rc" -eq 0 ]; then
    log "step: $name ... ok ($secs s)"
    STEP_RESULTS+=("$name	ok	$secs")
  else
    log "step: $name ... FAILED rc=$rc ($secs s)"
    STEP_RESULTS+=("$name	FAILED($rc)	$secs")
  fi
  return "$rc"
}

print_summary() {
  local line name status secs
  printf '\n[%s] ---- summary ----\n' "$ORBIT_TAG"
  printf '[%s] %-44s %-12s %9s\n' "$ORBIT_TAG" "step" "status" "seconds"
  for line in "${STEP_RESULTS[@]}"; do
    IFS=$'\t' read -r name status secs <<<"$line"
    printf '[%s] %-44s %-12s %9s\n' "$ORBIT_TAG" "$name" "$status" "$secs"
  done
}

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (installs packages, starts dockerd, runs debootstrap)"
}

# apt_install PKG...  installs Debian packages without starting their services.
# Runs 'apt-get update' at most once per process (and only when needed).
_ORBIT_APT_UPDATED=0
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  # Keep package maintainer scripts from starting services (dockerd, containerd):
  # we start dockerd ourselves, with our own flags and log file.
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local rc=0
  # Lock::Timeout: other jobs on the same machine may be running apt at the same moment.
  local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
  local out; out=$(mktemp)
  if [ "$_ORBIT_APT_UPDATED" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >"$out" 2>&1 || rc=$?
    _ORBIT_APT_UPDATED=1
  fi
  if [ "$rc" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$out" 2>&1 || rc=$?
  fi
  [ "$made_policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" -ne 0 ] && { warn "apt-get failed (rc=$rc):"; tail -n 30 "$out" >&2; }
  rm -f "$out"
  return "$rc"
}

docker_ready() { "$DOCKER" info >/dev/null 2>&1; }

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
