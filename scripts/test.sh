#!/usr/bin/env bash
# The test command (`npm test`): installs what the tests need from outside npm when it is
# missing (moto server in a local virtualenv), then runs jest under Node 22.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CHECKPOINT_DISABLE=1
IOT_DR_MOTO_SERVER="$(bash scripts/ensure-moto.sh)"
export IOT_DR_MOTO_SERVER
exec jest "$@"
