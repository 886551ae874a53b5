#!/usr/bin/env bash
# Makes the two local base images that docker/Dockerfile can build from on a
# machine that cannot pull anything from a registry:
#
#   cvmmap-local/debian:bookworm     Debian 12 minbase root filesystem, made
#                                    with debootstrap and `docker import`ed
#                                    (stands in for debian:bookworm and, as the
#                                    runtime base, for nvidia/cuda:*)
#   cvmmap-local/rust:1.95-bookworm  the same root filesystem plus the host's
#                                    Rust toolchain in /usr/local/rust and the
#                                    build packages (stands in for
#                                    rust:1.95-bookworm)
#
# Usage: scripts/docker-base.sh [--force] [--no-builder] [--no-host-ca] [--check-network]
#   --force          remake the images even if they exist
#   --no-builder     make only the Debian base
#   --no-host-ca     do not give the builder the certificate authorities that
#                    the host trusts beyond Debian's (see make_builder)
#   --check-network  only check that containers reach deb.debian.org and
#                    crates.io (needs the images), then exit
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
# RUST_TOOLCHAIN_DIR (default ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu),
# HOST_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt),
# CVMMAP_BASE_IMAGE / CVMMAP_BUILDER_IMAGE (the two tags above).
#
# Needs root (debootstrap and chroot), a Docker engine and Debian mirrors;
# installs debootstrap when it is missing. Nothing is pulled from a registry.
# Idempotent: an image that exists is kept unless --force. The last lines of
# stdout are the image names, one per line.
set -euo pipefail

BASE_IMAGE=${CVMMAP_BASE_IMAGE:-cvmmap-local/debian:bookworm}
BUILDER_IMAGE=${CVMMAP_BUILDER_IMAGE:-cvmmap-local/rust:1.95-bookworm}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TOOLCHAIN=${RUST_TOOLCHAIN_DIR:-$HOME/.rustup/toolchains/stable-x86_64-unknown-linux-gnu}
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
# The project's rust-version (Cargo.toml); an older toolchain cannot build it.
MIN_RUST=1.95
SYSTEM_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# What the builder stage of docker/Dockerfile installs anyway; having it in the
# builder image makes that step fast and lets it work offline from the mirror.
# zmq-sys builds libzmq from source (C++), hence g++.
BUILD_PACKAGES=(
  ca-certificates gcc g++ libc6-dev make pkg-config libzmq3-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
)

FORCE=0 BUILDER=1 CHECK_ONLY=0 HOST_CA=1
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --no-builder) BUILDER=0 ;;
    --check-network) CHECK_ONLY=1 ;;
    --no-host-ca) HOST_CA=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "docker-base: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "docker-base: $*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# --- network check ----------------------------------------------------------
# Builds (docker build) run their RUN steps on the default bridge network. On
# some hosts (no NAT for docker0, rootless engines) only the host network
# works; this check tells which one, and docker-build.sh uses its answer.
# Prints "bridge" or "host" on stdout; fails when neither reaches the mirror.
check_network() {
  local net
  for net in bridge host; do
    if docker run --rm --network "$net" "$BASE_IMAGE" \
        sh -c 'apt-get update -qq -o Acquire::Retries=1 >/dev/null 2>&1'; then
      log "containers reach $MIRROR on the $net network"
      if have_image "$BUILDER_IMAGE"; then
        # cargo fetch of one small crate: the sparse index (index.crates.io)
        # and the downloads (static.crates.io), the two hosts builds use.
        if docker run --rm --network "$net" "$BUILDER_IMAGE" sh -c '
            set -e; cd "$(mktemp -d)"; cargo init -q --vcs none --name probe
            printf "itoa = \"1\"\n" >> Cargo.toml; cargo fetch -q' >/dev/null 2>&1; then
          log "containers reach crates.io on the $net network"
        else
          log "containers do NOT reach crates.io on the $net network"
          continue
        fi
      fi
      echo "$net"
      return 0
    fi
    log "containers do not reach $MIRROR on the $net network"
  done
  return 1
}

if ((CHECK_ONLY)); then
  have_image "$BASE_IMAGE" || { log "$BASE_IMAGE is missing: run without --check-network first"; exit 1; }
  check_network
  exit $?
fi

[ "$(id -u)" -eq 0 ] || { log "needs root (debootstrap, chroot)"; exit 1; }
command -v docker >/dev/null || { log "docker is not installed"; exit 1; }
docker info >/dev/null 2>&1 || { log "the Docker engine does not answer"; exit 1; }

# Temporary root filesystems live under /var/tmp (disk, not a tmpfs) and are
# removed on exit, whatever happens. Nothing is ever mounted inside them, and
# rm stays on one file system, so the clean-up cannot reach the host.
WORK=$(mktemp -d /var/tmp/cvmmap-docker-base.XXXXXX)
trap 'rm -rf --one-file-system "$WORK"' EXIT
trap 'exit 130' INT TERM

# Streams a root filesystem into `docker import` with the given --change
# instructions. Device nodes, /proc and /sys stay out: the engine provides
# them. --numeric-owner keeps the rootfs's own uids (no host name mapping).
import_rootfs() {
  local root=$1 tag=$2; shift 2
  tar --numeric-owner --xattrs -C "$root" \
      --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . \
    | docker import "$@" - "$tag" >/dev/null
  log "imported $tag ($(docker image inspect -f '{{.Size}}' "$tag" | numfmt --to=iec))"
}

# Runs a shell command (apt-get) inside a root filesystem with the host's DNS
# (no mounts: apt and dpkg do not need /proc for these packages), then drops
# the package lists and caches. Extra arguments reach the command as "$@".
chroot_sh() {
  local root=$1 cmd=$2; shift 2
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # apt-key and maintainer scripts write to /dev/null. A rootfs that came out
  # of `docker export` has an empty /dev; make the few nodes they need
  # (import_rootfs leaves /dev out of the image again).
  local n
  for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$n"
    [ -e "$root/dev/$name" ] || mknod -m 666 "$root/dev/$name" c "$major" "$minor"
  done
  chroot "$root" env -i PATH="$SYSTEM_PATH" DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    sh -c "$cmd" chroot-sh "$@"
  tidy_rootfs "$root"
}

# What a Docker image should not carry: package lists and caches, logs, the
# host's resolv.conf (the engine bind-mounts its own), machine-id.
tidy_rootfs() {
  local root=$1
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
         "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/tmp/* \
         "$root"/var/log/apt/* "$root"/var/log/dpkg.log "$root"/var/log/bootstrap.log
  : > "$root/etc/resolv.conf"
  : > "$root/etc/machine-id"
}

# --- 1. the Debian base ------------------------------------------------------
make_base() {
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  local root=$WORK/base
  # minbase: essential packages and apt only, like the official debian image.
  log "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes)"
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -20 "$WORK/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }

  # The official image's apt sources: the release, its updates and security.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # The official image's container tweaks: services never start from dpkg,
  # no translations, no .deb cache left in layers.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  # debootstrap installs the release only; take bookworm-updates and
  # bookworm-security too, as the official image does.
  log "apt-get upgrade from $SUITE-updates and $SUITE-security"
  chroot_sh "$root" 'apt-get update -qq && apt-get upgrade -y -qq >/dev/null'

  import_rootfs "$root" "$BASE_IMAGE" \
    --change "ENV PATH=$SYSTEM_PATH" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --change "LABEL org.opencontainers.image.title=\"Debian $SUITE (debootstrap minbase, local)\"" \
    --message "debootstrap --variant=minbase $SUITE $MIRROR"
  rm -rf --one-file-system "$root"
}

# --- 2. the Rust builder -----------------------------------------------------
make_builder() {
  local rustc=$TOOLCHAIN/bin/rustc ver
  [ -x "$rustc" ] || { log "no Rust toolchain at $TOOLCHAIN (set RUST_TOOLCHAIN_DIR)"; exit 1; }
  ver=$("$rustc" --version | awk '{print $2}')
  printf '%s\n%s\n' "$MIN_RUST" "$ver" | sort -V -C || {
    log "toolchain $ver is older than the project's rust-version $MIN_RUST"; exit 1; }

  # Start from the base image's own files (docker export), so that the builder
  # is exactly the base plus what is added here, even when the base was made
  # by an earlier run.
  local root=$WORK/builder cid
  mkdir -p "$root"
  cid=$(docker create "$BASE_IMAGE" true)
  docker export "$cid" | tar --numeric-owner -C "$root" -x
  docker rm "$cid" >/dev/null

  log "installing the build packages: ${BUILD_PACKAGES[*]}"
  chroot_sh "$root" \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null' \
    "${BUILD_PACKAGES[@]}"

  # Certificate authorities the host trusts beyond Debian's own set (e.g. a
  # company's TLS-inspecting proxy in front of crates.io): without them cargo
  # in the container cannot fetch what cargo on the host can. Only this local
  # builder gets them; the runtime image never does. None on most machines.
  if ((HOST_CA)) && [ -r "$HOST_CA_BUNDLE" ]; then
    local n
    n=$(awk -v dir="$root/usr/local/share/ca-certificates" '
      NR == FNR { if (/BEGIN CERT/) b = ""; b = b $0 "\n"; if (/END CERT/) seen[b] = 1; next }
      /BEGIN CERT/ { b = ""; inb = 1 }
      inb { b = b $0 "\n" }
      /END CERT/ && inb { inb = 0; if (!(b in seen)) { k++; f = dir "/host-extra-" k ".crt"; printf "%s", b > f; close(f) } }
      END { print k + 0 }' "$root/etc/ssl/certs/ca-certificates.crt" "$HOST_CA_BUNDLE")
    if ((n > 0)); then
      log "adding $n certificate authorities the host trusts (from $HOST_CA_BUNDLE; --no-host-ca to skip)"
      chroot "$root" update-ca-certificates >/dev/null
    fi
  fi

  # The host's toolchain (rustup cannot download one in a container here),
  # without its 800 MB of HTML docs. Not a rustup install: plain bin/ and lib/.
  log "copying Rust $ver from $TOOLCHAIN to /usr/local/rust"
  mkdir -p "$root/usr/local/rust" "$root/usr/local/cargo/bin"
  tar -C "$TOOLCHAIN" --exclude=./share/doc -c . | tar -C "$root/usr/local/rust" -x --no-same-owner
  # CARGO_HOME is writable by everyone, like the official rust image's, so a
  # non-root build user can fetch into it.
  chmod -R a+w "$root/usr/local/cargo"

  import_rootfs "$root" "$BUILDER_IMAGE" \
    --change "ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:$SYSTEM_PATH" \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change "ENV RUST_VERSION=$ver" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --change "LABEL org.opencontainers.image.title=\"Rust $ver on Debian $SUITE (local)\"" \
    --message "$BASE_IMAGE + Rust $ver from the host + build packages"
  # Checked in a container, not in the chroot: rustc finds its libraries via
  # $ORIGIN, which the loader resolves through /proc (absent in the chroot).
  docker run --rm --network none "$BUILDER_IMAGE" sh -c 'rustc --version && cargo --version && cc --version | head -1' >&2 \
    || { log "the toolchain does not run in $BUILDER_IMAGE"; exit 1; }
  rm -rf --one-file-system "$root"
}

if ((FORCE)) || ! have_image "$BASE_IMAGE"; then
  make_base
  # A new base invalidates a builder made from the old one.
  ((BUILDER)) && FORCE=1
else
  log "$BASE_IMAGE exists (--force to remake it)"
fi
if ((BUILDER)); then
  if ((FORCE)) || ! have_image "$BUILDER_IMAGE"; then
    make_builder
  else
    log "$BUILDER_IMAGE exists (--force to remake it)"
  fi
fi

echo "$BASE_IMAGE"
((BUILDER)) && echo "$BUILDER_IMAGE"
exit 0
