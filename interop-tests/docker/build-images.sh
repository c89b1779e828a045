#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run indirectly, through `step NAME function`
# Build the container base images locally, with no registry: debootstrap (or host files)
# -> rootfs tarball (cached) -> `docker import`.
#
# Images (TAG = $ORBIT_IMAGE_TAG, default "probe"):
#   orbit-rust/base:TAG     debootstrap --variant=minbase <suite>  (+ $ORBIT_BASE_INCLUDE)
#   orbit-rust/jre:TAG      the same + openjdk-17-jre-headless      (+ $ORBIT_JRE_INCLUDE)
#   orbit-rust/busybox:TAG  host files only: busybox-static, the glibc runtime a host-built
#                           Rust binary needs (ld.so, libc, libm, libgcc_s), plus any
#                           $ORBIT_HOST_BINARIES and the libraries `ldd` lists for them
#
# Idempotent: an image whose recipe label matches is skipped; a cached rootfs tarball
# is re-imported without running debootstrap again. --rebuild redoes both. Tarballs are keyed
# by recipe (suite, arch, mirror, package list); old recipes' tarballs are not pruned.
#
# Usage: build-images.sh [--rebuild] [--only base,jre,busybox]
#
# Environment:
#   ORBIT_IMAGE_CACHE     cache dir (default /var/cache/orbit-rust-images): rootfs tarballs + .deb cache
#   ORBIT_IMAGE_TAG       tag for all images (default probe)
#   ORBIT_DEBIAN_MIRROR   mirror for debootstrap (default: the one apt uses, from /etc/apt/sources.list*)
#   ORBIT_DEBIAN_SUITE    suite (default: the host's VERSION_CODENAME, so host-built binaries run inside)
#   ORBIT_BASE_INCLUDE    extra packages for base (comma-separated, default none)
#   ORBIT_JRE_INCLUDE     extra packages for jre (comma-separated, default none)
#   ORBIT_HOST_BINARIES   extra host executables for the busybox image (space-separated paths)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ORBIT_TAG="build-images"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

REBUILD=0
ONLY="base,jre,busybox"
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) REBUILD=1 ;;
    --only) ONLY="$2"; shift ;;
    --only=*) ONLY="${1#--only=}" ;;
    -h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

CACHE="${ORBIT_IMAGE_CACHE:-/var/cache/orbit-rust-images}"
TAG="${ORBIT_IMAGE_TAG:-probe}"
ARCH="$(dpkg --print-architecture)"
HOST_SUITE="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
SUITE="${ORBIT_DEBIAN_SUITE:-${HOST_SUITE:-bookworm}}"
JRE_PKG="openjdk-17-jre-headless"

T_ALL=$(now)
require_root

# ---------------------------------------------------------------- mirror detection
# Print the first URI that apt uses for "$SUITE" (not -updates/-security), reading
# one-line .list files and deb822 .sources files the way apt does.
detect_mirror() {
  local f out
  out=$(for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }   # skip [ options ]
        if ($(i+1) == suite) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ") && uris != "") {
          split(uris, u, " "); print u[1]; found = 1; exit
        }
        types = ""; suites = ""; uris = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:"   { $1 = ""; types = $0 }
      tolower($1) == "suites:"  { $1 = ""; suites = $0 }
      tolower($1) == "uris:"    { $1 = ""; uris = $0 }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      END { if (!found) flush() }' "$f" | sed 's/^ *//'
  done)
  out="${out%%$'\n'*}"
  [ -n "$out" ] || return 1
  printf '%s\n' "${out%/}"
}

if [ -n "${ORBIT_DEBIAN_MIRROR:-}" ]; then
  MIRROR="$ORBIT_DEBIAN_MIRROR"
elif MIRROR=$(detect_mirror); then
  :
else
  MIRROR="http://deb.debian.org/debian"
  warn "no apt source for '$SUITE' found in /etc/apt/sources.list*; falling back to $MIRROR"
fi
log "suite=$SUITE arch=$ARCH mirror=$MIRROR cache=$CACHE tag=$TAG"
[ "$SUITE" = "$HOST_SUITE" ] || warn "suite $SUITE differs from host $HOST_SUITE: host-built binaries may not run in these images (glibc)"

# ---------------------------------------------------------------- prerequisites
prereqs() {
  apt_install debootstrap busybox-static || return 1
  if ! docker_ready; then
    log "docker engine not answering; running start-engine.sh"
    "$HERE/start-engine.sh"
  fi
}
step "prerequisites (debootstrap, busybox-static, engine)" prereqs || die "prerequisites failed"

mkdir -p "$CACHE/rootfs" "$CACHE/debs" "$CACHE/work"
# One build at a time per cache dir (concurrent CI jobs / developers).
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  log "waiting for another build-images.sh holding $CACHE/.lock"
  flock 9
fi

# ---------------------------------------------------------------- helpers
recipe_hash() { printf '%s' "$1" | sha256sum | cut -c1-12; }

image_recipe() {  # label of an existing image, or empty
  "$DOCKER" image inspect --format '{{ index .Config.Labels "org.orbit-rust.recipe" }}' "$1" 2>/dev/null || true
}

# Unmount anything debootstrap may have left mounted under $1 (proc, sys, a bind-mounted
# /dev when it runs inside a container), then delete it without crossing filesystems.
safe_rmtree() {
  local dir="$1"
  [ -d "$dir" ] || return 0
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$dir"
}

WORKDIRS=()
cleanup() { local d; for d in "${WORKDIRS[@]}"; do safe_rmtree "$d"; done; }
trap cleanup EXIT

# debootstrap_tarball NAME INCLUDE OUT.tar
debootstrap_tarball() {
  local name="$1" include="$2" out="$3" work rc=0
  work="$CACHE/work/$name.$$"
  WORKDIRS+=("$work")
  safe_rmtree "$work"
  local args=(--variant=minbase "--arch=$ARCH" "--cache-dir=$CACHE/debs")
  [ -n "$include" ] && args+=("--include=$include")
  log "debootstrap ${args[*]} $SUITE $work $MIRROR  (log: $CACHE/work/$name.debootstrap.log)"
  debootstrap "${args[@]}" "$SUITE" "$work" "$MIRROR" >"$CACHE/work/$name.debootstrap.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 30 "$CACHE/work/$name.debootstrap.log" >&2
    [ -f "$work/debootstrap/debootstrap.log" ] && tail -n 30 "$work/debootstrap/debootstrap.log" >&2
    return "$rc"
  fi
  # Trim: no .debs or package lists in the image (containers have no route to a mirror anyway).
  rm -f "$work"/var/cache/apt/archives/*.deb
  find "$work/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete
  tar -C "$work" --numeric-owner -cf "$out.tmp" . && mv -f "$out.tmp" "$out" || return 1
  safe_rmtree "$work"
}

# import_tarball TAR IMAGE RECIPE [--change ...]...
import_tarball() {
  local tar="$1" image="$2" recipe="$3"; shift 3
  "$DOCKER" import \
    --change "LABEL org.orbit-rust.recipe=$recipe" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    "$@" "$tar" "$image" >/dev/null
}

# build_debootstrap_image NAME INCLUDE [--change ...]...
build_debootstrap_image() {
  local name="$1" include="$2"; shift 2
  local image="orbit-rust/$name:$TAG"
  local recipe hash tar
  recipe="debootstrap variant=minbase suite=$SUITE arch=$ARCH include=$include mirror=$MIRROR"
  hash=$(recipe_hash "$recipe")
  tar="$CACHE/rootfs/$name-$SUITE-$ARCH-$hash.tar"
  if [ "$REBUILD" -eq 0 ] && [ "$(image_recipe "$image")" = "$hash" ]; then
    log "$image up to date (recipe $hash); skipping (use --rebuild to force)"
    return 0
  fi
  if [ "$REBUILD" -eq 1 ] || [ ! -s "$tar" ]; then
    step "debootstrap $name ($recipe)" debootstrap_tarball "$name" "$include" "$tar" || return 1
    printf '%s\n' "$recipe" >"$tar.recipe"
  else
    log "reusing cached rootfs $tar"
  fi
  step "docker import $image ($(du -h "$tar" | cut -f1) tarball)" import_tarball "$tar" "$image" "$hash" "$@"
}

# ---------------------------------------------------------------- host-files image
# copy_with_libs STAGE FILE... : copy FILE(s) to the same path under STAGE, dereferenced,
# with every shared library `ldd` lists for them.
copy_with_libs() {
  local stage="$1"; shift
  local f lib
  for f in "$@"; do
    mkdir -p "$stage$(dirname "$f")" && cp -L "$f" "$stage$f" || return 1
    # ldd prints "libx.so => /path (0x..)" and "/lib64/ld-linux-x86-64.so.2 (0x..)"
    for lib in $(ldd "$f" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | sort -u); do
      [ -e "$stage$lib" ] && continue
      mkdir -p "$stage$(dirname "$lib")" && cp -L "$lib" "$stage$lib" || return 1
    done
  done
}

stage_busybox() {
  local stage="$1" bb
  bb=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1)
  [ -x "$bb" ] || { warn "busybox-static binary not found"; return 1; }
  mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,tmp,root,proc,sys,dev,run,var/tmp} &&
  chmod 1777 "$stage/tmp" "$stage/var/tmp" &&
  cp -L "$bb" "$stage/bin/busybox" || return 1
  # applet symlinks (sh, nc, ping, wget, ip, ...) -> /bin/busybox
  local applet
  for applet in $("$bb" --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$stage/$(dirname "$applet")" && ln -sf /bin/busybox "$stage/$applet" || return 1
  done
  # glibc runtime for host-built (dynamically linked) Rust binaries: ld.so, libc, libm, libgcc_s
  local probe_libs=()
  for lib in /lib64/ld-linux-x86-64.so.2 /lib/"$(uname -m)"-linux-gnu/{libc.so.6,libm.so.6,libgcc_s.so.1}; do
    [ -e "$lib" ] && probe_libs+=("$lib")
  done
  copy_with_libs "$stage" "${probe_libs[@]}" || return 1
  local b
  for b in ${ORBIT_HOST_BINARIES:-}; do
    [ -x "$b" ] || { warn "ORBIT_HOST_BINARIES: $b is not an executable"; return 1; }
    copy_with_libs "$stage" "$b" || return 1
    if [ "$(dirname "$b")" != /usr/local/bin ]; then
      cp -L "$b" "$stage/usr/local/bin/$(basename "$b")" || return 1
    fi
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$stage/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$stage/etc/nsswitch.conf"
}

build_busybox_image() {
  local image="orbit-rust/busybox:$TAG" stage hash tar
  stage="$CACHE/work/busybox.$$"
  WORKDIRS+=("$stage")
  safe_rmtree "$stage"
  stage_busybox "$stage" || return 1
  # recipe = content: rebuilt whenever busybox, glibc or an extra binary changes
  hash=$( (cd "$stage" && find . -type f -print0 | sort -z | xargs -0 sha256sum; find . -type l -printf '%p %l\n' | sort) | sha256sum | cut -c1-12)
  tar="$CACHE/rootfs/busybox-host-$TAG-$ARCH-$hash.tar"
  if [ "$REBUILD" -eq 0 ] && [ "$(image_recipe "$image")" = "$hash" ]; then
    log "$image up to date (recipe $hash); skipping (use --rebuild to force)"
    safe_rmtree "$stage"
    return 0
  fi
  tar -C "$stage" --numeric-owner -cf "$tar.tmp" . && mv -f "$tar.tmp" "$tar" || return 1
  # host files change with host updates: keep only this tag's current tarball (rebuilt in ~1 s anyway)
  find "$CACHE/rootfs" -maxdepth 1 -name "busybox-host-$TAG-$ARCH-*.tar" ! -name "$(basename "$tar")" -delete
  safe_rmtree "$stage"
  step "docker import $image ($(du -h "$tar" | cut -f1) tarball)" \
    import_tarball "$tar" "$image" "$hash" --change 'CMD ["/bin/sh"]'
}

# ---------------------------------------------------------------- main
rc=0
for what in ${ONLY//,/ }; do
  case "$what" in
    base)    step "image orbit-rust/base:$TAG" build_debootstrap_image base "${ORBIT_BASE_INCLUDE:-}" \
               --change 'CMD ["/bin/bash"]' || rc=1 ;;
    jre)     step "image orbit-rust/jre:$TAG" build_debootstrap_image jre "$JRE_PKG${ORBIT_JRE_INCLUDE:+,$ORBIT_JRE_INCLUDE}" \
               --change "ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-$ARCH" --change 'CMD ["java","-version"]' || rc=1 ;;
    busybox) step "image orbit-rust/busybox:$TAG (host files)" build_busybox_image || rc=1 ;;
    *) die "unknown image '$what' (base, jre, busybox)" ;;
  esac
done

"$DOCKER" image ls --filter "reference=orbit-rust/*:$TAG" --format '[build-images] {{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}'
log "total $(elapsed "$T_ALL") s"
exit "$rc"
