#!/usr/bin/env bash
# Smoke-tests a built image: versions, the GStreamer elements, the non-root
# user, and one real acceptance row (RTP + H.264, 300 frames 640x360) with
# every process in its own container, wired as docker/README.md describes
# (the flags the harness's container runtime reuses):
#
#   receiver  rtp_receiver_tester --strict --decode, on a user-defined network
#   streamer  owns the IPC namespace (--ipc shareable): the producer's
#             /dev/shm segment is visible to it
#   producer  cvmmap_sim in the streamer's IPC namespace (--ipc container:)
#   all       one named volume at /run/cvmmap: the ZeroMQ ipc:// socket, the
#             SDP and the JSON results
#
# Usage: scripts/docker-smoke.sh [IMAGE] [--gpu] [--streamer-image SLIM]
#   IMAGE  default cvmmap-streamer:local
#   --gpu  pass `--gpus all` to the streamer and report whether NVENC is there
#   --streamer-image SLIM  the streamer runs from SLIM (the slim `streamer`
#          target, scripts/docker-build.sh --slim) while the producer and the
#          receiver run from IMAGE; SLIM is checked too (non-root, nothing
#          but the streamer, its HEALTHCHECK turns healthy during the row)
# Exit 0 when everything passed. Cleans up what it created (its containers,
# network and volume carry this script's pid) on any exit.
#
# The single-quoted commands expand inside the containers, on purpose:
# shellcheck disable=SC2016
set -euo pipefail

IMAGE=cvmmap-streamer:local GPU=0 SLIM=""
while (($#)); do
  case "$1" in
    --gpu) GPU=1; shift ;;
    --streamer-image) SLIM=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "docker-smoke: unknown argument $1" >&2; exit 2 ;;
    *) IMAGE=$1; shift ;;
  esac
done
docker image inspect "$IMAGE" >/dev/null || { echo "docker-smoke: no image $IMAGE" >&2; exit 1; }
[ -z "$SLIM" ] || docker image inspect "$SLIM" >/dev/null || { echo "docker-smoke: no image $SLIM" >&2; exit 1; }
STREAMER_IMAGE=${SLIM:-$IMAGE}

P=cvmmap-smoke-$$
NET=$P VOL=$P RX=$P-rx ST=$P-streamer SIM=$P-sim
cleanup() {
  docker rm -f "$RX" "$ST" "$SIM" >/dev/null 2>&1 || true
  docker network rm "$NET" >/dev/null 2>&1 || true
  docker volume rm "$VOL" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fails=0
step() { echo; echo "== $*"; }
check() { # check NAME CMD...: runs CMD, reports, counts a failure
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name (exit $?)"; fails=$((fails + 1)); fi
}
in_image() { docker run --rm "$IMAGE" "$@"; }

step "image"
docker image inspect -f 'id {{.Id}}
size {{.Size}}
user {{.Config.User}}
labels {{json .Config.Labels}}' "$IMAGE"
check "cvmmap_streamer --version" in_image cvmmap_streamer --version
check "binaries answer --help" in_image sh -c \
  'for b in cvmmap_sim rtp_receiver_tester rtmp_stub_tester harness; do "$b" --help >/dev/null || exit 1; done'
check "runs as non-root" in_image sh -c 'id; test "$(id -u)" != 0'
for el in x264enc x265enc avdec_h264 avdec_h265 rtph264depay; do
  check "gst-inspect-1.0 $el" in_image sh -c "gst-inspect-1.0 $el | sed -n '/^Factory Details/,/^\$/p' | grep -E 'Long-name|Rank'"
done
check "nvcodec plugin installed (NVENC)" in_image sh -c 'gst-inspect-1.0 nvcodec | grep -E "^ +(Filename|Version)"'
check "nats-server, ffmpeg" in_image sh -c 'nats-server --version && ffmpeg -hide_banner -version | head -1'
if ((GPU)); then
  # Reported, not required: GPUs without NVENC (A100, H100, H200) must give
  # the software fallback, which the row below then shows.
  if docker run --rm --gpus all "$IMAGE" \
       sh -c 'gst-inspect-1.0 nvh264enc >/dev/null 2>&1 || gst-inspect-1.0 nvcudah264enc >/dev/null 2>&1'; then
    echo "NVENC element with the GPU: yes"
  else
    echo "NVENC element with the GPU: no (this GPU has no NVENC: software fallback expected)"
  fi
fi

if [ -n "$SLIM" ]; then
  step "slim image $SLIM"
  docker image inspect -f 'size {{.Size}}
user {{.Config.User}}
entrypoint {{json .Config.Entrypoint}}
healthcheck {{json .Config.Healthcheck}}' "$SLIM"
  in_slim() { docker run --rm --entrypoint "$1" "$SLIM" "${@:2}"; }
  check "slim: cvmmap_streamer --version" in_slim cvmmap_streamer --version
  check "slim: runs as non-root" in_slim sh -c 'test "$(id -u)" != 0'
  check "slim: the streamer alone" in_slim sh -c \
    'for b in cvmmap_sim rtp_receiver_tester rtmp_stub_tester harness cvmmap_tools ffmpeg nats-server gst-inspect-1.0; do
       if command -v "$b"; then echo "unexpected: $b"; exit 1; fi; done'
fi

step "row rtp_h264 in containers"
docker network create "$NET" >/dev/null
docker volume create "$VOL" >/dev/null
SHARED=(-v "$VOL:/run/cvmmap")
ENDPOINT=ipc:///run/cvmmap/smoke.ipc
GPU_ARGS=()
((GPU)) && GPU_ARGS=(--gpus all)

# 1. the receiver, listening before anything is sent
docker run -d --name "$RX" --network "$NET" "${SHARED[@]}" "$IMAGE" \
  rtp_receiver_tester --listen-host 0.0.0.0 --port 5004 --expect-pt 96 --expect-codec h264 \
  --frame-threshold 285 --strict --decode --timeout-ms 40000 --json /run/cvmmap/receiver.json >/dev/null
# 2. the streamer: owns the IPC namespace (so /dev/shm) the producer joins;
#    reaches the receiver by its container name on the user-defined network
HEALTH_ARGS=()
# The slim image's HEALTHCHECK, asked every second for this short row.
[ -z "$SLIM" ] || HEALTH_ARGS=(--health-interval 1s --health-start-period 1s)
docker run -d --name "$ST" --ipc shareable --network "$NET" "${SHARED[@]}" ${GPU_ARGS[@]+"${GPU_ARGS[@]}"} \
  ${HEALTH_ARGS[@]+"${HEALTH_ARGS[@]}"} --entrypoint cvmmap_streamer "$STREAMER_IMAGE" \
  --codec h264 --shm-name smoke --zmq-endpoint "$ENDPOINT" \
  --rtp --rtp-endpoint "$RX:5004" --rtp-payload-type 96 --rtp-sdp /run/cvmmap/smoke.sdp \
  --ingest-idle-timeout-ms 5000 --no-nats --summary-json /run/cvmmap/streamer.json >/dev/null
# The harness's readiness rule: the producer starts once the streamer's
# ingest listens (its stderr says "ingest started"), so no frame is missed.
for _ in $(seq 100); do
  docker logs "$ST" 2>&1 | grep -q "ingest started" && break
  sleep 0.1
done
# 3. the producer, in the streamer's IPC namespace, no network at all
docker run -d --name "$SIM" --ipc "container:$ST" --network none "${SHARED[@]}" "$IMAGE" \
  cvmmap_sim --label acc_1_rtp_h264 --shm-name smoke --zmq-endpoint "$ENDPOINT" \
  --frames 300 --fps 30 --width 640 --height 360 >/dev/null

health=none
if [ -n "$SLIM" ]; then
  for _ in $(seq 100); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$ST" 2>/dev/null || echo gone)
    [ "$health" = starting ] || break
    sleep 0.1
  done
  echo "streamer health: $health"
fi
rc_of() { timeout 120 docker wait "$1" 2>/dev/null || echo timeout; }
rx_rc=$(rc_of "$RX"); sim_rc=$(rc_of "$SIM"); st_rc=$(rc_of "$ST")
for c in "$SIM" "$ST" "$RX"; do echo "-- logs of ${c#"$P"-} (last 8 lines)"; docker logs --tail 8 "$c" 2>&1; done
echo "-- results"
docker run --rm "${SHARED[@]}" "$IMAGE" sh -c \
  'ls -ln /run/cvmmap; echo; cat /run/cvmmap/receiver.json; echo; cat /run/cvmmap/streamer.json; echo'
check "cvmmap_sim exit 0" test "$sim_rc" = 0
check "cvmmap_streamer exit 0" test "$st_rc" = 0
check "rtp_receiver_tester exit 0" test "$rx_rc" = 0
[ -z "$SLIM" ] || check "slim: HEALTHCHECK healthy while streaming" test "$health" = healthy

echo
if ((fails)); then echo "docker-smoke: $fails check(s) failed"; exit 1; fi
echo "docker-smoke: all checks passed ($IMAGE)"
