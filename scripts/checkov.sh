#!/usr/bin/env bash
# checkov on the synthesized Terraform JSON (framework terraform_json: the plain `terraform`
# framework reads 0 resources from cdk.tf.json), for every configuration of
# scripts/engine-stacks.json (the default synth and the widest: failover DNS, custom domain,
# alarms). Every failed check must be listed, with its reviewed reason, in
# scripts/checkov-skips.json; anything else fails, naming check id, resource type and name.
#
#   scripts/checkov.sh            synth the configurations, run checkov, judge
#   scripts/checkov.sh DIR...     run on these stack dirs (each holding a cdk.tf.json) instead
#
# checkov (pinned below) comes from PyPI into its own virtualenv
# ${IOT_DR_CHECKOV_VENV:-$HOME/.cache/iot-dr/checkov-venv}, installed once under a lock; pip's
# cache is the user's. No network besides that install (--skip-download: nothing is fetched from
# Prisma Cloud). Reports: $IOT_DR_CHECKOV_OUT (default a temp dir), one JSON per stack.
set -euo pipefail
TF_LOG_TAG=checkov
# shellcheck source=scripts/terraform-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/terraform-lib.sh"

CHECKOV_VERSION=3.3.30
VENV="${IOT_DR_CHECKOV_VENV:-$HOME/.cache/iot-dr/checkov-venv}"
MARKER="$VENV/.checkov-$CHECKOV_VERSION"

ensure_checkov() {
  if [ ! -f "$MARKER" ]; then
    mkdir -p "$(dirname "$VENV")"
    exec 8>"$(dirname "$VENV")/.checkov-venv.lock"
    flock 8
    if [ ! -f "$MARKER" ]; then
      local t0=$SECONDS
      tf_log "installing checkov==$CHECKOV_VERSION into $VENV (PyPI)"
      rm -rf "$VENV"
      python3 -m venv "$VENV" >&2
      "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" >&2
      touch "$MARKER"
      tf_log "checkov installed in $((SECONDS - t0))s"
    fi
    exec 8>&-
  fi
}

ensure_checkov
OUT="${IOT_DR_CHECKOV_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/iot-dr-checkov.XXXXXX")}"
mkdir -p "$OUT"

if [ "$#" -gt 0 ]; then
  DIRS=("$@")
else
  synth_engine_stacks "$OUT/synth"
  mapfile -t DIRS < <(for d in "$OUT"/synth/*/stacks/*/; do printf '%s\n' "${d%/}"; done)
fi
[ "${#DIRS[@]}" -gt 0 ] || { tf_log "FAIL: no stack to scan"; exit 1; }

reports=()
i=0
for dir in "${DIRS[@]}"; do
  [ -f "$dir/cdk.tf.json" ] || { tf_log "FAIL: $dir has no cdk.tf.json"; exit 1; }
  report="$OUT/checkov-$i.json"
  t0=$SECONDS
  # exit 1 = failed checks (judged below against the skip list); anything else is an error
  # checkov 3.3.30's terraform_json parser raises "this method receives only dicts" on the
  # string `terraform.required_version` (and then runs no check): it reads a copy without it.
  # Nothing it checks lives in the `terraform` block.
  scan="$OUT/scan-$i"
  mkdir -p "$scan"
  node_ -e '
    const fs = require("node:fs");
    const tf = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    if (tf.terraform) delete tf.terraform.required_version;
    fs.writeFileSync(process.argv[2], JSON.stringify(tf, null, 2));
  ' "$dir/cdk.tf.json" "$scan/cdk.tf.json"
  rc=0
  "$VENV/bin/checkov" -d "$scan" --framework terraform_json -o json --quiet --compact --skip-download \
    >"$report" 2>"$OUT/checkov-$i.err" || rc=$?
  if [ "$rc" -gt 1 ] || [ ! -s "$report" ]; then
    cat "$OUT/checkov-$i.err" >&2
    tf_log "FAIL: checkov exited $rc on $dir"
    exit 1
  fi
  tf_log "scanned $dir in $((SECONDS - t0))s"
  reports+=("$dir=$report")
  i=$((i + 1))
done
tf_log "reports: $OUT/checkov-*.json"
node "$REPO/scripts/checkov-report.mjs" "$REPO/scripts/checkov-skips.json" "${reports[@]}"
