#!/usr/bin/env bash
# Installs the JVM bridge (dev.orbitrust:orbit-jvm-bridge) into a local Maven repository: the
# main jar with the glibc build of the native library (linked against glibc 2.17), and the
# classifier jars linux-x86_64 (the same) and linux-x86_64-musl, built by
# scripts/build-jvm-bridge-natives.sh.
#
#   scripts/install-jvm-bridge.sh [--debug] [--repo DIR]
#
# --debug   use the debug build of the native library (faster to build; what CI uses)
# --repo    the local Maven repository (default: ~/.m2/repository)
#
# The bridge's tests are neither compiled nor run here (the test command runs them), so the
# Kotlin Orbit reference is not needed.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
repo=
while [ $# -gt 0 ]; do
  case $1 in
    --debug) profile=debug ;;
    --repo) repo=$2; shift ;;
    *) echo "unknown argument $1 (use --debug, --repo DIR)" >&2; exit 64 ;;
  esac
  shift
done
if [ "$profile" = release ]; then
  bash scripts/build-jvm-bridge-natives.sh --release
else
  bash scripts/build-jvm-bridge-natives.sh
fi
args=(-B -q -f jvm-bridge/java/pom.xml install -Dmaven.test.skip=true
  "-Dnative.dir=$(pwd)/target/x86_64-unknown-linux-gnu/$profile"
  "-Dnative.musl.dir=$(pwd)/target/x86_64-unknown-linux-musl/$profile")
[ -n "$repo" ] && args+=("-Dmaven.repo.local=$repo")
mvn "${args[@]}"
echo "installed dev.orbitrust:orbit-jvm-bridge:0.1.0 (native library: $profile build) into ${repo:-$HOME/.m2/repository}"
