#!/usr/bin/env bash
# Builds the Kotlin Orbit 2.0.0-alpha.108 jars from the upstream release source and writes them,
# with our published poms, as a file-based Maven repository: the same content as the shared
# reference (../shared/orbit-reference/maven, described by its README.md).
#
# Steps: check out orbit/orbit at v2.0.0-alpha.108 and rouzwawi/grpc-kotlin at v0.1.4 (and check
# their commits); build grpc-kotlin-gen as a plain jar and install it into the local Maven
# repository as io.rouz:grpc-kotlin-gen:0.1.4-plain; compile the nine Orbit modules with a Maven
# reactor (scripts/orbit-reference/build/); write OUT_DIR/cloud/orbit/<artifact>/<version>/ with
# the jar, the pom from scripts/orbit-reference/poms/ and their .sha1/.md5; print each jar's
# sha256 and compare with a reference repository when one is found.
#
# Usage: scripts/build-orbit-reference.sh OUT_DIR
# Environment (defaults in brackets):
#   ORBIT_SRC [clone of https://github.com/orbit/orbit]: a local git repository (bare or not)
#       holding tag v2.0.0-alpha.108
#   GRPC_KOTLIN_SRC [clone of https://github.com/rouzwawi/grpc-kotlin]: same, with tag v0.1.4
#   MAVEN_REPO_LOCAL [Maven's default, ~/.m2/repository]: passed as -Dmaven.repo.local
#   EXPECTED_REFERENCE [../shared/orbit-reference/maven from the project root, if it exists]:
#       repository to compare with; any difference makes the script exit non-zero
#   WORK_DIR [a new ${TMPDIR:-/tmp}/orbit-reference-build.XXXXXX]: checkouts and Maven output;
#       a directory this script created is removed unless a Maven build fails
# Needs git, Maven and a JDK. The jars are byte-identical to the reference only with JDK 17
# (the manifest records Build-Jdk-Spec) and the plugin versions pinned in the build poms.
set -euo pipefail

readonly ORBIT_VERSION=2.0.0-alpha.108
readonly ORBIT_TAG=v2.0.0-alpha.108
readonly ORBIT_COMMIT=c51ef4e345dd7077ca1280177f5697f6a96d7220
readonly ORBIT_URL=https://github.com/orbit/orbit.git
readonly GRPC_KOTLIN_TAG=v0.1.4
readonly GRPC_KOTLIN_COMMIT=9852620cd3e97d109ea256eaf92218d192fe1796
readonly GRPC_KOTLIN_URL=https://github.com/rouzwawi/grpc-kotlin.git
# Reactor order; orbit-benchmarks is not built.
readonly ARTIFACTS=(orbit-util orbit-shared orbit-proto orbit-server orbit-server-etcd
  orbit-server-prometheus orbit-application orbit-client orbit-client-spring-plugin)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CONF_DIR=$SCRIPT_DIR/orbit-reference

log() { printf '==> %s\n' "$*"; }
die() {
  printf 'build-orbit-reference: error: %s\n' "$*" >&2
  exit 1
}

if [ $# -ne 1 ] || [ -z "$1" ] || [ "${1#-}" != "$1" ]; then
  echo "usage: $0 OUT_DIR   (see the comment at the top of this script)" >&2
  exit 2
fi

for tool in git mvn java sha256sum sha1sum md5sum awk cmp; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done
for f in build/pom.xml build/orbit-proto.build.xml build/grpc-kotlin-gen.pom.xml; do
  [ -f "$CONF_DIR/$f" ] || die "missing $CONF_DIR/$f"
done
for artifact in "${ARTIFACTS[@]}"; do
  [ -f "$CONF_DIR/poms/$artifact.pom" ] || die "missing $CONF_DIR/poms/$artifact.pom"
done

mkdir -p "$1" || die "cannot create OUT_DIR $1"
OUT_DIR=$(cd "$1" && pwd)

REFERENCE=
if [ -n "${EXPECTED_REFERENCE:-}" ]; then
  [ -d "$EXPECTED_REFERENCE" ] || die "EXPECTED_REFERENCE=$EXPECTED_REFERENCE is not a directory"
  REFERENCE=$(cd "$EXPECTED_REFERENCE" && pwd)
elif [ -d "$ROOT/../shared/orbit-reference/maven" ]; then
  REFERENCE=$(cd "$ROOT/../shared/orbit-reference/maven" && pwd)
fi

for var in ORBIT_SRC GRPC_KOTLIN_SRC; do
  if [ -n "${!var:-}" ] && [ ! -d "${!var}" ]; then
    die "$var=${!var} is not a directory (it must name a local git repository)"
  fi
done

MVN=(mvn -B --no-transfer-progress -Dstyle.color=never)
if [ -n "${MAVEN_REPO_LOCAL:-}" ]; then
  mkdir -p "$MAVEN_REPO_LOCAL" || die "cannot create MAVEN_REPO_LOCAL $MAVEN_REPO_LOCAL"
  MVN+=("-Dmaven.repo.local=$(cd "$MAVEN_REPO_LOCAL" && pwd)")
fi

if [ -n "${WORK_DIR:-}" ]; then
  mkdir -p "$WORK_DIR"
  WORK_DIR=$(cd "$WORK_DIR" && pwd)
  [ -z "$(ls -A "$WORK_DIR")" ] || die "WORK_DIR=$WORK_DIR is not empty"
  OWN_WORK_DIR=false
else
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/orbit-reference-build.XXXXXX")
  OWN_WORK_DIR=true
fi
# Set once Maven runs: from then on a failed run keeps the work directory for inspection.
MAVEN_STARTED=false
finish() {
  local rc=$?
  if [ "$OWN_WORK_DIR" = true ] && { [ "$rc" -eq 0 ] || [ "$MAVEN_STARTED" = false ]; }; then
    rm -rf "$WORK_DIR"
  else
    echo "work directory kept: $WORK_DIR" >&2
  fi
}
trap finish EXIT

mvn_java=$("${MVN[@]}" -v 2>/dev/null | sed -n 's/^Java version: \([^,]*\).*/\1/p')
log "toolchain: $(mvn -v 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g'), Java ${mvn_java:-unknown}"
case "$mvn_java" in
  17|17.*) ;;
  *) echo "warning: Maven runs on Java ${mvn_java:-unknown}, not 17: the manifests (Build-Jdk-Spec)" \
    "and so the jars' sha256 will differ from the reference" >&2 ;;
esac
log "output: $OUT_DIR"
log "work directory: $WORK_DIR"

# checkout NAME VAR URL TAG COMMIT DEST: clones the local repository named by the variable VAR,
# or else URL, checks out TAG and fails unless it is COMMIT.
checkout() {
  local name=$1 var=$2 url=$3 tag=$4 commit=$5 dest=$6 head src
  src=${!var:-}
  if [ -n "$src" ]; then
    log "cloning $name from $var=$src"
    git clone --quiet --no-checkout "$src" "$dest" || die "cannot clone $name from $var=$src"
  else
    log "cloning $name $tag from $url"
    git clone --quiet --no-checkout --depth 1 --branch "$tag" "$url" "$dest" \
      || die "cannot clone $name from $url (set $var to a local repository instead)"
  fi
  git -C "$dest" rev-parse --quiet --verify "refs/tags/$tag^{commit}" >/dev/null \
    || die "$name: tag $tag not found in ${src:-$url}"
  git -C "$dest" -c advice.detachedHead=false checkout --quiet --detach "refs/tags/$tag^{commit}" \
    || die "$name: cannot check out $tag"
  head=$(git -C "$dest" rev-parse HEAD)
  [ "$head" = "$commit" ] || die "$name: tag $tag is commit $head, expected $commit"
  log "$name at $tag = $head"
}

checkout orbit/orbit ORBIT_SRC "$ORBIT_URL" "$ORBIT_TAG" "$ORBIT_COMMIT" "$WORK_DIR/orbit"
checkout rouzwawi/grpc-kotlin GRPC_KOTLIN_SRC "$GRPC_KOTLIN_URL" "$GRPC_KOTLIN_TAG" \
  "$GRPC_KOTLIN_COMMIT" "$WORK_DIR/grpc-kotlin"

log "building grpc-kotlin-gen (plain jar) and installing it into the local Maven repository"
gen_pom=$WORK_DIR/grpc-kotlin/grpc-kotlin-gen/orbit-reference-pom.xml
cp "$CONF_DIR/build/grpc-kotlin-gen.pom.xml" "$gen_pom"
MAVEN_STARTED=true
"${MVN[@]}" -f "$gen_pom" install || die "the grpc-kotlin-gen build failed"

log "writing the Maven reactor into the orbit checkout"
[ ! -e "$WORK_DIR/orbit/pom.xml" ] || die "the orbit checkout already has a pom.xml"
cp "$CONF_DIR/build/pom.xml" "$WORK_DIR/orbit/pom.xml"
for artifact in "${ARTIFACTS[@]}"; do
  module_dir=$WORK_DIR/orbit/src/$artifact
  [ -d "$module_dir/src/main/kotlin" ] || die "the orbit checkout has no $module_dir/src/main/kotlin"
  extra_deps=$CONF_DIR/build/$artifact.dependencies.xml
  [ -f "$extra_deps" ] || extra_deps=
  extra_build=$CONF_DIR/build/$artifact.build.xml
  [ -f "$extra_build" ] || extra_build=
  # The build pom is the published pom plus the reactor parent, with runtime-scoped entries made
  # compile-scoped (Gradle's `implementation` is on the module's own compile classpath), plus the
  # module's build-only dependencies and build section if it has them.
  awk -v deps="$extra_deps" -v build="$extra_build" -v version="$ORBIT_VERSION" '
    /^  <\/dependencies>/ && deps != "" { while ((getline line < deps) > 0) print line }
    /^<\/project>/ && build != "" { while ((getline line < build) > 0) print line }
    { sub(/<scope>runtime<\/scope>/, "<scope>compile</scope>"); print }
    /<modelVersion>4\.0\.0<\/modelVersion>/ {
      print "  <parent>"
      print "    <groupId>cloud.orbit</groupId>"
      print "    <artifactId>orbit-reference-build</artifactId>"
      print "    <version>" version "</version>"
      print "    <relativePath>../../pom.xml</relativePath>"
      print "  </parent>"
    }
  ' "$CONF_DIR/poms/$artifact.pom" >"$module_dir/pom.xml"
done

log "building the Orbit modules: mvn package"
build_start=$SECONDS
"${MVN[@]}" -f "$WORK_DIR/orbit/pom.xml" package || die "the Orbit build failed"
log "Orbit modules built in $((SECONDS - build_start)) s"

log "writing the repository layout under $OUT_DIR"
for artifact in "${ARTIFACTS[@]}"; do
  jar=$WORK_DIR/orbit/src/$artifact/target/$artifact-$ORBIT_VERSION.jar
  [ -f "$jar" ] || die "the build produced no $jar"
  dest=$OUT_DIR/cloud/orbit/$artifact/$ORBIT_VERSION
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$jar" "$dest/$artifact-$ORBIT_VERSION.jar"
  cp "$CONF_DIR/poms/$artifact.pom" "$dest/$artifact-$ORBIT_VERSION.pom"
  for ext in jar pom; do
    file=$dest/$artifact-$ORBIT_VERSION.$ext
    sha1sum "$file" | awk '{print $1}' >"$file.sha1"
    md5sum "$file" | awk '{print $1}' >"$file.md5"
  done
done

echo
echo "sha256 of the built jars:"
for artifact in "${ARTIFACTS[@]}"; do
  (cd "$OUT_DIR/cloud/orbit/$artifact/$ORBIT_VERSION" && sha256sum "$artifact-$ORBIT_VERSION.jar")
done

if [ -z "$REFERENCE" ]; then
  echo
  echo "no reference repository found (set EXPECTED_REFERENCE to compare); done in ${SECONDS} s"
  exit 0
fi

echo
echo "comparison with $REFERENCE:"
printf '%-48s %-64s %s\n' jar sha256 result
mismatches=0
for artifact in "${ARTIFACTS[@]}"; do
  name=$artifact-$ORBIT_VERSION.jar
  built=$(sha256sum "$OUT_DIR/cloud/orbit/$artifact/$ORBIT_VERSION/$name" | awk '{print $1}')
  ref_jar=$REFERENCE/cloud/orbit/$artifact/$ORBIT_VERSION/$name
  if [ ! -f "$ref_jar" ]; then
    result="mismatch (absent from the reference)"
  elif [ "$built" = "$(sha256sum "$ref_jar" | awk '{print $1}')" ]; then
    result=match
  else
    result="mismatch (reference: $(sha256sum "$ref_jar" | awk '{print $1}'))"
  fi
  [ "$result" = match ] || mismatches=$((mismatches + 1))
  printf '%-48s %-64s %s\n' "$name" "$built" "$result"
done
# The poms and checksum files must be the same too.
other_diffs=0
for artifact in "${ARTIFACTS[@]}"; do
  for suffix in jar.sha1 jar.md5 pom pom.sha1 pom.md5; do
    name=$artifact-$ORBIT_VERSION.$suffix
    if ! cmp -s "$OUT_DIR/cloud/orbit/$artifact/$ORBIT_VERSION/$name" \
      "$REFERENCE/cloud/orbit/$artifact/$ORBIT_VERSION/$name"; then
      echo "mismatch: $name differs from the reference"
      other_diffs=$((other_diffs + 1))
    fi
  done
done
[ "$other_diffs" -ne 0 ] || echo "poms, .sha1 and .md5 files: identical to the reference"

echo "done in ${SECONDS} s"
if [ $((mismatches + other_diffs)) -ne 0 ]; then
  die "$mismatches jar(s) and $other_diffs other file(s) differ from $REFERENCE"
fi
echo "all ${#ARTIFACTS[@]} jars match the reference"
