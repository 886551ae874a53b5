#!/usr/bin/env bash
# Installs the system packages the build, the tests and the main job need,
# only where something is missing. Debian 12 (bookworm); run as root.
set -euo pipefail

PACKAGES=(
  pkg-config libzmq3-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  gstreamer1.0-x fonts-dejavu-core
  nats-server ffmpeg
  tmux
  nginx libnginx-mod-rtmp
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

# Python packages from PyPI: a modern static ffmpeg (9.x) for the decoder
# checks (Debian's 5.1 cannot read H.265 over RTMP; imageio-ffmpeg ships the
# binary), and the reference MCAP readers the recording tests read every
# file with (scripts/mcap_check.py).
pip_install() {
  if ! python3 -m pip --version >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  # Debian's own python3 refuses system-wide installs (PEP 668); others don't.
  python3 -m pip install --quiet --root-user-action=ignore "$@" 2>/dev/null \
    || python3 -m pip install --quiet --root-user-action=ignore --break-system-packages "$@"
}
if ! python3 -c 'import imageio_ffmpeg' >/dev/null 2>&1; then
  echo "install-deps: installing imageio-ffmpeg (static ffmpeg)" >&2
  pip_install imageio-ffmpeg
fi
if ! python3 -c 'import mcap, mcap_protobuf' >/dev/null 2>&1; then
  echo "install-deps: installing mcap and mcap-protobuf-support (reference MCAP readers)" >&2
  pip_install 'mcap>=1.2' 'mcap-protobuf-support>=0.5'
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-nextest" >&2
  cargo install cargo-nextest --locked
fi
