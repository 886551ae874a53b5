#!/usr/bin/env bash
# The main job on the embedded default: the acceptance matrix. The simulator,
# the streamer and our testers run on loopback as separate processes, and the
# harness starts each one only when the one before it is ready (the receiver
# bound, the streamer's `ingest_started` event), so nothing is lost to start-up
# order or to a cold GStreamer registry:
#   rtp_h264, rtp_h265                          -> rtp_receiver_tester (strict, decoding)
#   rtmp_h264, rtmp_h265_enhanced, _domestic    -> rtmp_stub_tester
#   rtmp_h264_domestic (invalid)                -> the streamer must refuse it (exit 2)
# Installs what is missing first; evidence goes to evidence/<run-id>/ and
# evidence/latest. Exit 0 only when every row passed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvmmap-streamer/target}"
cargo build --workspace --release --bins --locked
exec "$CARGO_TARGET_DIR/release/harness" acceptance \
  --evidence "${EVIDENCE_DIR:-evidence}" --bin-dir "$CARGO_TARGET_DIR/release" "$@"
