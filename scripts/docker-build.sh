#!/usr/bin/env bash
# Builds the runtime image from docker/Dockerfile.
#
# Usage: scripts/docker-build.sh [--base local|nvidia|IMAGE] [--builder IMAGE]
#                                [--slim] [--tag TAG] [--network bridge|host]
#                                [-- DOCKER_BUILD_ARGS...]
#   --base local   (default) the locally made bases, no registry needed:
#                  builder cvmmap-local/rust:1.95-bookworm, runtime
#                  cvmmap-local/debian:bookworm; scripts/docker-base.sh makes
#                  them first when they are missing. Tag cvmmap-streamer:local.
#   --base nvidia  the Dockerfile's defaults (rust:1.95-bookworm and the
#                  nvidia/cuda runtime image), pulled from Docker Hub.
#                  Tag cvmmap-streamer:cuda.
#   --base IMAGE   any Debian bookworm / Ubuntu 24.04 runtime base.
#   --builder IMAGE  override the builder image.
#   --slim         the `streamer` target: the streamer alone (tags end in
#                  -slim: cvmmap-streamer:local-slim). Default: `runtime`.
#   --tag TAG      the image's tag.
#   --network N    network for the build's RUN steps; by default `host` only
#                  when containers on the bridge cannot reach the mirrors.
# Anything after `--` goes to `docker build` as is (e.g. --no-cache, --pull).
#
# Uses BuildKit where the buildx plugin is installed, the legacy builder
# otherwise (DOCKER_BUILDKIT in the environment wins). With the legacy builder
# the builder stage is tagged too (TAG's name + "-builder", e.g.
# cvmmap-streamer-builder:local) so that `docker image prune` keeps the
# compiled dependencies. Prints the tag last.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=local BUILDER="" TAG="" NETWORK="" TARGET=runtime SUFFIX=""
EXTRA=()
while (($#)); do
  case "$1" in
    --base) BASE=$2; shift 2 ;;
    --builder) BUILDER=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --slim) TARGET=streamer SUFFIX=-slim; shift ;;
    --network) NETWORK=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "docker-build: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "docker-build: $*" >&2; }

ARGS=()
case "$BASE" in
  local)
    LOCAL_BASE=${CVMMAP_BASE_IMAGE:-cvmmap-local/debian:bookworm}
    LOCAL_BUILDER=${CVMMAP_BUILDER_IMAGE:-cvmmap-local/rust:1.95-bookworm}
    if ! docker image inspect "$LOCAL_BASE" >/dev/null 2>&1 \
       || { [ -z "$BUILDER" ] && ! docker image inspect "$LOCAL_BUILDER" >/dev/null 2>&1; }; then
      log "local base images missing: running scripts/docker-base.sh"
      bash scripts/docker-base.sh >/dev/null
    fi
    ARGS+=(--build-arg "BASE_IMAGE=$LOCAL_BASE" --build-arg "BUILDER_IMAGE=${BUILDER:-$LOCAL_BUILDER}")
    TAG=${TAG:-cvmmap-streamer:local$SUFFIX}
    if [ -z "$NETWORK" ]; then
      # The same check docker-base.sh documents: bridge if it works, else host.
      NETWORK=$(bash scripts/docker-base.sh --check-network 2>/dev/null || true)
      [ -n "$NETWORK" ] || log "warning: containers reach neither deb.debian.org nor crates.io; the build will likely fail"
    fi
    ;;
  nvidia)
    [ -z "$BUILDER" ] || ARGS+=(--build-arg "BUILDER_IMAGE=$BUILDER")
    TAG=${TAG:-cvmmap-streamer:cuda$SUFFIX}
    ;;
  *)
    ARGS+=(--build-arg "BASE_IMAGE=$BASE")
    [ -z "$BUILDER" ] || ARGS+=(--build-arg "BUILDER_IMAGE=$BUILDER")
    TAG=${TAG:-cvmmap-streamer:custom$SUFFIX}
    ;;
esac
[ -z "$NETWORK" ] || [ "$NETWORK" = bridge ] || ARGS+=(--network "$NETWORK")

# OCI labels: the workspace version and the commit (read-only git queries).
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD 2>/dev/null; then REVISION="$REVISION-dirty"; fi
ARGS+=(--build-arg "VERSION=${VERSION:-0.0.0}" --build-arg "REVISION=$REVISION" --target "$TARGET")

if [ -z "${DOCKER_BUILDKIT:-}" ]; then
  if docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=1; else export DOCKER_BUILDKIT=0; fi
fi

log "building $TAG (DOCKER_BUILDKIT=$DOCKER_BUILDKIT${NETWORK:+, network $NETWORK})"
start=$(date +%s)
if [ "$DOCKER_BUILDKIT" != 0 ]; then
  docker build -f docker/Dockerfile "${ARGS[@]}" ${EXTRA[@]+"${EXTRA[@]}"} -t "$TAG" .
else
  # The legacy builder keeps its layer cache only in images, and the builder
  # stage ends as an untagged one that `docker image prune` deletes (and with
  # it the compiled dependencies). So that stage gets a tag too: its image is
  # the last " ---> ID" the build prints before the runtime stage's FROM.
  BUILD_LOG=$(mktemp)
  trap 'rm -f "$BUILD_LOG"' EXIT
  docker build -f docker/Dockerfile "${ARGS[@]}" ${EXTRA[@]+"${EXTRA[@]}"} -t "$TAG" . | tee "$BUILD_LOG"
  name=${TAG%:*} tagpart=${TAG##*:}
  if [ "$name" = "$TAG" ] || [[ "$tagpart" == */* ]]; then name=$TAG tagpart=latest; fi
  CACHE_TAG="$name-builder:$tagpart"
  BUILDER_ID=$(awk '/^ ---> [0-9a-f]+$/ { id = $2 }
                    /^Step [0-9]+\/[0-9]+ : FROM .* AS runtime/ { print id; exit }' "$BUILD_LOG")
  if [ -n "$BUILDER_ID" ] && docker tag "$BUILDER_ID" "$CACHE_TAG"; then
    log "builder stage $BUILDER_ID tagged $CACHE_TAG (keeps the dependency cache)"
  fi
fi
log "built $TAG in $(( $(date +%s) - start )) s, $(docker image inspect -f '{{.Size}}' "$TAG" | numfmt --to=iec)"
echo "$TAG"
