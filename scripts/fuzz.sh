#!/usr/bin/env bash
# Fuzzes every parser of outside bytes (fuzz/, cargo-fuzz + libFuzzer) for
# SECONDS_PER_TARGET seconds each (default 20) and prints one JSON line per
# target:
#
#   {"target":"rtmp_amf0","seconds":20,"executions":123456,"cov":812,"ft":2410,"crashes":0}
#
# `executions` is libFuzzer's final stat::number_of_executed_units
# (-print_final_stats=1); `cov` and `ft` come from the last status line;
# `crashes` is 0 or the path of the crash / timeout / OOM artifact. Exits 1
# if any target crashed (after running all of them), 2 on a setup error.
#
# Each run fuzzes a copy of the committed seed corpus (fuzz/corpus/<target>),
# so runs never churn it; new inputs are dropped with the copy.
#
# Environment:
#   FUZZ_TARGETS      space-separated targets to run (default: all)
#   FUZZ_SANITIZER    cargo-fuzz --sanitizer (default: none; the parsers are
#                     safe Rust, so panics, overflow checks and debug
#                     assertions are the oracles; "address" also works)
#   FUZZ_JOBS_DIR     where run directories and logs go (default: a temp dir)
#   FUZZ_ARTIFACTS    where crash artifacts are copied (default:
#                     fuzz/artifacts/<target>/)
#   FUZZ_TARGET_DIR   build directory (default:
#                     ${XDG_CACHE_HOME:-~/.cache}/cvmmap-fuzz/target); an
#                     inherited CARGO_TARGET_DIR (the stable build's, from
#                     scripts/test.sh) is deliberately not used
#
# Nightly only: the product builds on stable; libFuzzer's instrumentation
# needs `cargo +nightly`.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-20}"
case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2
    exit 2
    ;;
esac
SANITIZER="${FUZZ_SANITIZER:-none}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvmmap-fuzz/target}"
TRIPLE=x86_64-unknown-linux-gnu

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz: installing the nightly toolchain" >&2
  rustup toolchain install nightly --profile minimal >&2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked >&2
fi

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a TARGETS <<<"$FUZZ_TARGETS"
else
  mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi
if [ "${#TARGETS[@]}" -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 2
fi

# One build for all targets (cargo-fuzz defaults: release, debug assertions
# and overflow checks on).
echo "fuzz: building ${#TARGETS[@]} targets (sanitizer $SANITIZER)" >&2
if [ -n "${FUZZ_TARGETS:-}" ]; then
  for t in "${TARGETS[@]}"; do
    cargo +nightly fuzz build --sanitizer "$SANITIZER" "$t" >&2
  done
else
  cargo +nightly fuzz build --sanitizer "$SANITIZER" >&2
fi
BIN_DIR="$CARGO_TARGET_DIR/$TRIPLE/release"

JOBS_DIR="${FUZZ_JOBS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/cvmmap-fuzz.XXXXXX")}"
mkdir -p "$JOBS_DIR"
ARTIFACTS="${FUZZ_ARTIFACTS:-$PWD/fuzz/artifacts}"
echo "fuzz: runs and logs in $JOBS_DIR" >&2

failed=0
for t in "${TARGETS[@]}"; do
  bin="$BIN_DIR/$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin was not built" >&2
    exit 2
  fi
  run="$JOBS_DIR/$t"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  if [ -d "fuzz/corpus/$t" ]; then
    cp -R "fuzz/corpus/$t/." "$run/corpus/"
  fi
  log="$run/log.txt"
  # libFuzzer exits non-zero on a crash; the JSON line is printed either way.
  set +e
  "$bin" "$run/corpus" \
    -max_total_time="$SECONDS_PER_TARGET" \
    -print_final_stats=1 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -max_len=65536 \
    -len_control=100 \
    -artifact_prefix="$run/artifacts/" \
    >"$log" 2>&1
  rc=$?
  set -e
  executions=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  status=$(grep -E '^#[0-9]+[[:space:]]' "$log" | grep ' cov: ' | tail -n 1 || true)
  cov=$(printf '%s\n' "$status" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(printf '%s\n' "$status" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  artifact=$(find "$run/artifacts" -type f | head -n 1 || true)
  if [ -n "$artifact" ] || [ "$rc" -ne 0 ]; then
    failed=1
    if [ -n "$artifact" ]; then
      mkdir -p "$ARTIFACTS/$t"
      cp "$artifact" "$ARTIFACTS/$t/"
      crashes="\"$ARTIFACTS/$t/$(basename "$artifact")\""
    else
      crashes="\"exit $rc, see $log\""
    fi
    echo "fuzz: $t failed (exit $rc); log: $log" >&2
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" | head -n 5 >&2 || true
  else
    crashes=0
  fi
  printf '{"target":"%s","seconds":%s,"executions":%s,"cov":%s,"ft":%s,"crashes":%s}\n' \
    "$t" "$SECONDS_PER_TARGET" "${executions:-null}" "${cov:-null}" "${ft:-null}" "$crashes"
done
exit "$failed"
