#!/usr/bin/env bash
# Installs moto server (the AWS emulator the integration tests run against) into a project-local
# virtualenv, once. Prints the path of the moto_server executable.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${IOT_DR_VENV:-$root/.venv}"
version="5.2.5"
marker="$venv/.moto-$version"
if [ ! -f "$marker" ]; then
  exec 9>"/tmp/iot-dr-venv.lock"
  flock 9
  if [ ! -f "$marker" ]; then
    echo "installing moto[server]==$version into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$version" >&2
    touch "$marker"
  fi
fi
echo "$venv/bin/moto_server"
