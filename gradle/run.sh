#!/usr/bin/env bash
# Builds the Gradle example with Debian's Gradle (installed when missing) against the bridge
# installed into the local Maven repository, then runs it beside orbit-node and a Kotlin host
# (the harness's `client`, hosting its EchoActor). Needs target/debug/orbit-node, the Rust
# test-actors library and the harness jar (the test command builds them before this).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if ! command -v gradle >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gradle >/dev/null
fi
bash scripts/install-jvm-bridge.sh --debug
repo=$(mvn -B -q help:evaluate -Dexpression=settings.localRepository -DforceStdout | sed "s/\x1b\[[0-9;]*m//g")
logs=$ROOT/target/gradle-example
mkdir -p "$logs"
(cd gradle && gradle -q --no-daemon -PbridgeRepo="file://$repo" installDist)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$ROOT/target/debug/orbit-node" --port "$port" --listen 127.0.0.1 --url "127.0.0.1:$port" \
  --metrics-port "$(free_port)" 2>"$logs/orbit-node.log" &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
java -jar interop-tests/jvm/target/orbit-harness.jar client --server "127.0.0.1:$port" --namespace gradle \
  >"$logs/kotlin-host.out" 2>"$logs/kotlin-host.log" &
pids+=($!)
for _ in $(seq 300); do grep -q '^READY' "$logs/kotlin-host.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^READY' "$logs/kotlin-host.out" || { echo "the Kotlin host did not start; see $logs" >&2; exit 1; }
gradle/build/install/bridge-service/bin/bridge-service "127.0.0.1:$port" gradle \
  "$ROOT/target/debug/liborbit_bridge_test_actors.so"
