#!/usr/bin/env bash
# Runs every test of Orbit Rust on this machine, installing what a fresh machine lacks.
#
# Phases: install, cargo fmt, cargo clippy, Maven build and JVM tests (the Kotlin harness
# and the JVM test that reads Rust-encoded bytes), golden-vector staleness, cargo tests
# (unit, codegen bootstrap, golden vectors, live Kotlin interop). Each phase prints its
# duration; the first failure stops the run with a non-zero exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
MVN=(mvn -B -q -f interop-tests/jvm/pom.xml)
HARNESS_JAR=interop-tests/jvm/target/orbit-harness.jar

declare -a SUMMARY=()
phase() {
  local name=$1; shift
  local start=$SECONDS
  echo "==> $name"
  if "$@"; then
    SUMMARY+=("$(printf '%-28s %4ds  ok' "$name" $((SECONDS - start)))")
  else
    local rc=$?
    SUMMARY+=("$(printf '%-28s %4ds  FAILED' "$name" $((SECONDS - start)))")
    printf '%s\n' "${SUMMARY[@]}"
    echo "phase '$name' failed (exit $rc)" >&2
    exit "$rc"
  fi
}

install_prerequisites() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)
  command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v git >/dev/null || missing+=(git)
  command -v cc >/dev/null || missing+=(build-essential)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! command -v cargo >/dev/null; then
    echo "cargo is missing: this project needs a Rust toolchain (rustup) on PATH" >&2
    return 1
  fi
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy
  java -version 2>&1 | head -1
  cargo --version
}

check_vectors_fresh() {
  # The Kotlin harness regenerates the golden vectors; any difference means they are stale.
  java -jar "$HARNESS_JAR" vectors --out compat-proto/testdata
  local changes
  changes=$(git status --porcelain -- compat-proto/testdata)
  if [ -n "$changes" ]; then
    echo "golden vectors are stale (regenerated output differs from the committed files):" >&2
    echo "$changes" >&2
    git --no-pager diff --stat -- compat-proto/testdata >&2
    return 1
  fi
  echo "golden vectors: $(ls compat-proto/testdata/proto/*.bin | wc -l) protobuf, $(ls compat-proto/testdata/payloads/*.json | wc -l) payloads, unchanged"
}

phase "install prerequisites" install_prerequisites
phase "cargo fmt --check" cargo fmt --all --check
phase "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
phase "maven build + JVM tests" "${MVN[@]}" verify
phase "golden vectors fresh" check_vectors_fresh
phase "cargo test" cargo test --workspace -- --nocapture --test-threads=1

echo
echo "Summary (total ${SECONDS}s):"
printf '%s\n' "${SUMMARY[@]}"
