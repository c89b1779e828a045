#!/usr/bin/env bash
# Runs every test of Orbit Rust on this machine, installing what a fresh machine lacks.
#
# Phases: install, locate the Kotlin Orbit reference (no test runs without it), cargo fmt,
# cargo clippy, Maven build and JVM tests (the Kotlin harness
# and the JVM test that reads Rust-encoded bytes), golden-vector staleness, the JVM bridge's
# JUnit suites (also under -Xcheck:jni), the Gradle example (gradle/), cargo tests
# (unit, codegen bootstrap, golden vectors, live Kotlin interop: single servers, etcd
# directories, mixed Kotlin/Rust meshes, rolling replacement behind haproxy). Each phase prints its
# duration; the first failure stops the run with a non-zero exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
MVN=(mvn -B -q -f interop-tests/jvm/pom.xml)
BRIDGE_MVN=(mvn -B -f jvm-bridge/java/pom.xml)
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
  command -v protoc >/dev/null || missing+=(protobuf-compiler) # etcd-client's build script
  command -v etcd >/dev/null || missing+=(etcd-server)         # a real etcd for the directory and mesh tests
  command -v haproxy >/dev/null || missing+=(haproxy)          # the load balancer of the rolling-replacement test
  command -v curl >/dev/null || missing+=(curl)
  command -v gradle >/dev/null || missing+=(gradle)            # the Gradle consumption example (gradle/)
  command -v musl-gcc >/dev/null || missing+=(musl-tools)      # loads the bridge's musl build with musl's loader
  command -v unzip >/dev/null || missing+=(unzip)
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

# The real Kotlin Orbit 2.0.0-alpha.108 jars (a file-based Maven repository), looked for in
# this order: $ORBIT_REFERENCE_REPO, ../shared/orbit-reference/maven beside the project, a
# repository built from the upstream release by scripts/build-orbit-reference.sh (kept in
# target/orbit-reference/maven). Sets ORBIT_REFERENCE to the directory found.
ORBIT_ARTIFACTS=(orbit-util orbit-shared orbit-proto orbit-client orbit-server orbit-server-etcd
  orbit-server-prometheus orbit-application orbit-client-spring-plugin)
reference_complete() {
  local dir=$1 artifact
  for artifact in "${ORBIT_ARTIFACTS[@]}"; do
    local base="$dir/cloud/orbit/$artifact/2.0.0-alpha.108/$artifact-2.0.0-alpha.108"
    [ -f "$base.jar" ] && [ -f "$base.pom" ] || { echo "  $dir: no $artifact-2.0.0-alpha.108.jar/.pom"; return 1; }
  done
}
locate_reference() {
  local looked=()
  if [ -n "${ORBIT_REFERENCE_REPO:-}" ]; then
    # An explicit choice is never silently replaced by another reference.
    if reference_complete "$ORBIT_REFERENCE_REPO"; then
      ORBIT_REFERENCE=$(cd "$ORBIT_REFERENCE_REPO" && pwd)
    else
      echo "ORBIT_REFERENCE_REPO=$ORBIT_REFERENCE_REPO does not hold the nine cloud.orbit 2.0.0-alpha.108 artifacts" >&2
      return 1
    fi
  elif reference_complete "$ROOT/../shared/orbit-reference/maven"; then
    ORBIT_REFERENCE=$(cd "$ROOT/../shared/orbit-reference/maven" && pwd)
  else
    looked+=("\$ORBIT_REFERENCE_REPO (unset)" "$ROOT/../shared/orbit-reference/maven (absent or incomplete)")
    local built="$ROOT/target/orbit-reference/maven"
    if ! reference_complete "$built" >/dev/null; then
      echo "building the reference from the upstream release (scripts/build-orbit-reference.sh)"
      if ! bash scripts/build-orbit-reference.sh "$built"; then
        looked+=("$built (scripts/build-orbit-reference.sh failed; see above)")
        echo "the Kotlin Orbit reference (cloud.orbit:*:2.0.0-alpha.108) cannot be found; looked in:" >&2
        printf '  - %s\n' "${looked[@]}" >&2
        return 1
      fi
    fi
    ORBIT_REFERENCE=$built
  fi
  echo "Kotlin Orbit reference: $ORBIT_REFERENCE"
  MVN+=("-Dorbit.reference.url=file://$ORBIT_REFERENCE")
  BRIDGE_MVN+=("-Dorbit.reference.url=file://$ORBIT_REFERENCE")
}

# The JVM bridge's JUnit suites (a real Kotlin server and client in the test JVM, orbit-node,
# the Rust test actors), once normally and once under -Xcheck:jni; prints the test counts and
# the jars with their native libraries. The main jar carries the glibc 2.17 build made by
# scripts/build-jvm-bridge-natives.sh (one test loads it from the jar's classes).
bridge_tests() {
  local log=target/jvm-bridge-tests.log
  mkdir -p target
  if "${BRIDGE_MVN[@]}" verify "-Dnative.dir=$ROOT/target/x86_64-unknown-linux-gnu/debug" \
      "-Dnative.musl.dir=$ROOT/target/x86_64-unknown-linux-musl/debug" >"$log" 2>&1; then
    grep -E "Tests run:.*in |^\[INFO\] Tests run:" "$log" || true
    local jar
    for jar in jvm-bridge/java/target/orbit-jvm-bridge-0.1.0*.jar; do
      echo "$jar: $(unzip -l "$jar" | grep -c '\.class$') classes; native: $(unzip -l "$jar" | awk '/\.so$/ {print $4 " (" $1 " bytes)"}' | tr '\n' ' ')"
    done
  else
    grep -E "Tests run:|FAIL|ERROR" "$log" | head -60
    echo "(full Maven output: $log)"
    return 1
  fi
}

phase "install prerequisites" install_prerequisites
phase "locate Kotlin reference" locate_reference
phase "cargo fmt --check" cargo fmt --all --check
phase "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
phase "cargo build" cargo build -p orbit-node -p orbit-loadgen -p orbit-jvm-bridge-native -p orbit-jvm-bridge-test-actors

phase "maven build + JVM tests" "${MVN[@]}" verify
phase "golden vectors fresh" check_vectors_fresh
phase "bridge native builds" bash scripts/build-jvm-bridge-natives.sh
phase "jvm bridge (JUnit)" bridge_tests
phase "gradle example" bash gradle/run.sh
phase "cargo test" cargo test --workspace -- --nocapture --test-threads=1

echo
echo "Summary (total ${SECONDS}s):"
printf '%s\n' "${SUMMARY[@]}"
