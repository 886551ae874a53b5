#!/usr/bin/env bash
# Installs the system packages the build, the tests and the main job need,
# only where something is missing. Debian 12 (bookworm); run as root.
set -euo pipefail

PACKAGES=(
  pkg-config libzmq3-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  nats-server ffmpeg
  g++
)

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A modern static ffmpeg (9.x) for the decoder checks: Debian's 5.1 cannot
# read H.265 over RTMP. The PyPI package ships the binary.
if ! python3 -c 'import imageio_ffmpeg' >/dev/null 2>&1; then
  echo "install-deps: installing imageio-ffmpeg (static ffmpeg)" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  # Debian's own python3 refuses system-wide installs (PEP 668); others don't.
  python3 -m pip install --quiet --root-user-action=ignore imageio-ffmpeg 2>/dev/null \
    || python3 -m pip install --quiet --root-user-action=ignore --break-system-packages imageio-ffmpeg
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-nextest" >&2
  cargo install cargo-nextest --locked
fi
