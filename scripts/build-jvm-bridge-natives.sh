#!/usr/bin/env bash
# Builds the bridge's own native library (orbit-jvm-bridge-native) for the two Linux x86_64
# flavours the jars carry, with zig as the linker (cargo-zigbuild):
#   * glibc, linked against glibc 2.17 symbols, so that it loads on older distributions than
#     this build machine (the main jar and the linux-x86_64 classifier jar);
#   * musl (Alpine-style images, as Orbit's own server image), the linux-x86_64-musl
#     classifier jar.
# Then checks what each needs from the system: no glibc symbol newer than 2.17; the musl one
# needs musl's libc and no glibc at all.
#
#   scripts/build-jvm-bridge-natives.sh [--release]
#
# Installs what is missing: zig and cargo-zigbuild (their PyPI packages `ziglang` and
# `cargo-zigbuild`, prebuilt), the Rust musl target (rustup). Outputs:
#   target/x86_64-unknown-linux-gnu/<profile>/liborbit_jvm_bridge.so
#   target/x86_64-unknown-linux-musl/<profile>/liborbit_jvm_bridge.so
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
flags=()
if [ "${1:-}" = --release ]; then profile=release; flags=(--release); fi

missing=()
python3 -m ziglang version >/dev/null 2>&1 || missing+=(ziglang)
command -v cargo-zigbuild >/dev/null || missing+=(cargo-zigbuild)
if [ ${#missing[@]} -gt 0 ]; then
  # (Debian's own python3 refuses installs outside a virtual environment: PEP 668.)
  python3 -m pip install --quiet --root-user-action=ignore "${missing[@]}" \
    || python3 -m pip install --quiet --root-user-action=ignore --break-system-packages "${missing[@]}"
  # pip puts cargo-zigbuild in the interpreter's scripts directory, which need not be on PATH
  # (pyenv shows it only after a rehash).
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  export PATH
fi
# cargo-zigbuild finds zig through `python3 -m ziglang` when no zig is on PATH.
rustup target list --installed | grep -q '^x86_64-unknown-linux-musl$' || rustup target add x86_64-unknown-linux-musl

cargo zigbuild "${flags[@]}" -p orbit-jvm-bridge-native --target x86_64-unknown-linux-gnu.2.17
# A cdylib on musl links musl's libc dynamically (the JVM process has one already).
RUSTFLAGS="-C target-feature=-crt-static" \
  cargo zigbuild "${flags[@]}" -p orbit-jvm-bridge-native --target x86_64-unknown-linux-musl

gnu=target/x86_64-unknown-linux-gnu/$profile/liborbit_jvm_bridge.so
musl=target/x86_64-unknown-linux-musl/$profile/liborbit_jvm_bridge.so
newest=$(objdump -T "$gnu" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "glibc build: $gnu ($(du -h "$gnu" | cut -f1)); newest glibc symbol version: $newest"
if [ "$(printf '%s\n' "$newest" GLIBC_2.17 | sort -V | tail -1)" != GLIBC_2.17 ]; then
  echo "the glibc build needs $newest, newer than 2.17" >&2
  exit 1
fi
needed=$(readelf -d "$musl" | grep NEEDED | grep -o '\[.*\]' | tr '\n' ' ')
echo "musl build: $musl ($(du -h "$musl" | cut -f1)); needs: $needed"
if objdump -T "$musl" | grep -q GLIBC_; then
  echo "the musl build references glibc symbols" >&2
  exit 1
fi

# The musl build must load with musl's own dynamic loader (Debian's musl and musl-tools), and
# the glibc build must not (it needs glibc's loader): a check that the two are what they say.
if command -v musl-gcc >/dev/null; then
  checker=target/musl-load-check
  musl-gcc -O2 -o "$checker" jvm-bridge/native/musl-check/load.c
  echo "musl loader, musl build: $("$checker" "$musl")"
  if glibc_under_musl=$("$checker" "$gnu"); then
    echo "the glibc build loaded under musl: $glibc_under_musl" >&2
    exit 1
  fi
  echo "musl loader, glibc build: refused as expected ($glibc_under_musl)"
else
  echo "musl-gcc not installed (Debian musl-tools): the musl load check did not run" >&2
  exit 1
fi
