#!/usr/bin/env bash
# The main job on the embedded default: the simulator, the streamer and our
# testers on loopback, 300 frames of 640x360 each:
#   row 1  RTP + H.264   -> rtp_receiver_tester (strict, decoding, latency)
#   row 2  RTMP + H.264  -> rtmp_stub_tester
# Installs what is missing first; evidence goes to evidence/main-job-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvmmap-streamer/target}"
cargo build --workspace --release --bins --locked
BIN="$CARGO_TARGET_DIR/release"

RUN="${EVIDENCE_DIR:-evidence}/main-job-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN"
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
sim() { "$BIN/cvmmap_sim" --label "$1" --shm-name "$2" --zmq-endpoint "ipc:///tmp/$2.ipc" \
          --frames 300 --fps 30 --width 640 --height 360 2>"$RUN/$1.sim.log"; }

rc=0
# Row 1: RTP + H.264.
ID="mainjob_rtp_$$"; PORT=$(free_port SOCK_DGRAM)
"$BIN/rtp_receiver_tester" --port "$PORT" --expect-pt 96 --expect-codec h264 --frame-threshold 285 \
  --strict --decode --timeout-ms 20000 --json "$RUN/rtp.receiver.json" 2>"$RUN/rtp.receiver.log" & RX=$!
"$BIN/cvmmap_streamer" --codec h264 --shm-name "$ID" --zmq-endpoint "ipc:///tmp/$ID.ipc" \
  --rtp --rtp-endpoint "127.0.0.1:$PORT" --rtp-payload-type 96 --rtp-sdp "$RUN/rtp.sdp" \
  --ingest-idle-timeout-ms 3000 --summary-json "$RUN/rtp.streamer.json" 2>"$RUN/rtp.streamer.log" & ST=$!
sim acc_1_rtp_h264 "$ID" & SIM=$!
r=0; wait "$RX" || r=$?; echo "row 1 RTP H.264: rtp_receiver_tester exit $r"; ((r == 0)) || rc=$r
wait "$SIM" || rc=$?; wait "$ST" || rc=$?

# Row 2: RTMP + H.264.
ID="mainjob_rtmp_$$"; PORT=$(free_port SOCK_STREAM)
"$BIN/rtmp_stub_tester" --mode h264 --listen-port "$PORT" --video-threshold 285 --timeout-ms 20000 \
  --json "$RUN/rtmp.stub.json" >/dev/null 2>"$RUN/rtmp.stub.log" & RX=$!
"$BIN/cvmmap_streamer" --codec h264 --shm-name "$ID" --zmq-endpoint "ipc:///tmp/$ID.ipc" \
  --rtmp --rtmp-url "rtmp://127.0.0.1:$PORT/live/acc_3" \
  --ingest-idle-timeout-ms 3000 --summary-json "$RUN/rtmp.streamer.json" 2>"$RUN/rtmp.streamer.log" & ST=$!
sim acc_3_rtmp_h264 "$ID" & SIM=$!
r=0; wait "$RX" || r=$?; echo "row 2 RTMP H.264: rtmp_stub_tester exit $r"; ((r == 0)) || rc=$r
wait "$SIM" || rc=$?; wait "$ST" || rc=$?

python3 - "$RUN" <<'PY'
import json, sys, pathlib
run = pathlib.Path(sys.argv[1])
rx = json.loads((run / "rtp.receiver.json").read_text())
stub = json.loads((run / "rtmp.stub.json").read_text())
lat = rx.get("latency_ms") or {}
print(f"RTP : {rx['result']}, {rx['access_units_complete']} complete units, decoded {rx['decoded_frames']} ({rx['decoded_format']}), "
      f"latency p50 {lat.get('p50', float('nan')):.1f} ms p99 {lat.get('p99', float('nan')):.1f} ms")
print(f"RTMP: {stub['result']}, {stub['video_frames']} frames, metadata_ok {stub['metadata_ok']}, videocodecid {stub['videocodecid']}")
PY
echo "evidence in $RUN"
exit "$rc"
