#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is missing, build
# once, run every test with nextest.
#
# Container tests (harness --runtime container) run only where a Docker
# engine answers: the image is built first (scripts/docker-build.sh, local
# bases, no registry) and nextest runs the ignored container tests too.
# Elsewhere they stay ignored, and nextest reports them as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Build artifacts live outside the checkout so that repeated clean clones on
# the same machine reuse them (cargo's fingerprints keep this correct).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvmmap-streamer/target}"
cargo build --workspace --all-targets --locked

RUN_IGNORED=()
if [ "${CVMMAP_SKIP_CONTAINERS:-0}" != 1 ] && docker info >/dev/null 2>&1; then
  echo "test: Docker engine answers: building the image for the container tests"
  t0=$(date +%s)
  bash scripts/docker-build.sh
  echo "test: image built in $(( $(date +%s) - t0 )) s"
  RUN_IGNORED=(--run-ignored all)
else
  echo "test: no Docker engine (or CVMMAP_SKIP_CONTAINERS=1): container tests are reported as skipped"
fi
cargo nextest run --workspace --locked --profile ci "${RUN_IGNORED[@]}"

# Every parser of outside bytes, fuzzed briefly (cargo-fuzz, nightly) so a
# regression shows: 20 s per target on a copy of the committed corpora,
# one JSON line of figures per target; a crash fails the run.
if [ "${CVMMAP_SKIP_FUZZ:-0}" != 1 ]; then
  t0=$(date +%s)
  bash scripts/fuzz.sh "${CVMMAP_FUZZ_SECONDS:-20}"
  echo "test: fuzzing took $(( $(date +%s) - t0 )) s"
else
  echo "test: CVMMAP_SKIP_FUZZ=1: fuzzing skipped"
fi
