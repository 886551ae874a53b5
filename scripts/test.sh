#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is missing, build
# once, run every test with nextest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Build artifacts live outside the checkout so that repeated clean clones on
# the same machine reuse them (cargo's fingerprints keep this correct).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvmmap-streamer/target}"
cargo build --workspace --all-targets --locked
cargo nextest run --workspace --locked --profile ci
