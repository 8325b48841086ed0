#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, built from the Go module proxy into a cache
# folder outside the repository the first time (about a minute), reused afterwards. actionlint
# checks every `run:` script with shellcheck (scripts/ensure-shellcheck.sh installs it if missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="v1.7.12"
cache="${IOT_DR_TOOLS_DIR:-$HOME/.cache/iot-dr/tools}"
bin="$cache/actionlint-$version/actionlint"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { echo "actionlint: Go is needed to build actionlint $version" >&2; exit 3; }
  echo "building actionlint $version into $(dirname "$bin")" >&2
  GOBIN="$(dirname "$bin")" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
fi
shellcheck="$(bash "$root/scripts/ensure-shellcheck.sh")"
cd "$root"
exec "$bin" -no-color -shellcheck "$shellcheck" "$@"
