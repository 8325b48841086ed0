#!/usr/bin/env bash
# Synthesize the app and run `tofu init` (offline, providers from the local mirror built by
# scripts/terraform-engine.sh) and `tofu validate` on a temp copy of every stack in
# cdktf.out/stacks. Any failure prints the engine's own message and exits non-zero.
#
# Skips (exit 0, with a SKIP line) when the engine is not built, unless IOT_DR_REQUIRE_ENGINE
# is set. IOT_DR_SKIP_SYNTH=1 validates the existing cdktf.out without synthesizing;
# IOT_DR_KEEP_TMP=1 keeps the temp copies.
set -euo pipefail
TF_LOG_TAG=validate-terraform
# shellcheck source=scripts/terraform-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/terraform-lib.sh"

engine_or_skip
tofu_env

run_synth

mapfile -t STACKS < <(stack_dirs)
if [ "${#STACKS[@]}" -eq 0 ]; then
  tf_log "FAIL: no cdktf.out/stacks/*/cdk.tf.json after synth"
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/iot-dr-validate.XXXXXX")
if [ -z "${IOT_DR_KEEP_TMP:-}" ]; then trap 'rm -rf "$TMP"' EXIT; else tf_log "keeping $TMP"; fi

# Also every configuration of scripts/engine-stacks.json (failover DNS, custom domain, alarm
# topics, the API health mode): optional parts of the stack are validated too, not only the
# default synth. IOT_DR_VALIDATE_DEFAULT_ONLY=1 skips them.
if [ -z "${IOT_DR_VALIDATE_DEFAULT_ONLY:-}" ]; then
  t0=$SECONDS
  synth_engine_stacks "$TMP/variants"
  mapfile -t VARIANTS < <(for d in "$TMP"/variants/*/stacks/*/; do [ -f "$d/cdk.tf.json" ] && printf '%s\n' "${d%/}"; done)
  STACKS+=("${VARIANTS[@]}")
  tf_log "synthesized ${#VARIANTS[@]} engine-stacks.json configuration(s) in $((SECONDS - t0))s"
fi

# read the whole output: `| head` under pipefail fails the run with SIGPIPE (exit 141) when
# tofu prints more than one line (provider list, update notice)
ver=$("$IOT_DR_TOFU" version 2>&1 || true)
printf '%s\n' "${ver%%$'\n'*}" >&2
fail=0
for src in "${STACKS[@]}"; do
  name=$(basename "$src")
  case "$src" in "$TMP"/variants/*) name="$name@config-$(basename "$(dirname "$(dirname "$src")")")" ;; esac
  dir="$TMP/stack-$name"
  tf_log "stack $name: copy -> $dir"
  copy_stack "$src" "$dir" || { fail=1; continue; }
  t0=$SECONDS
  if ! out=$("$IOT_DR_TOFU" -chdir="$dir" init -backend=false -input=false -no-color 2>&1); then
    printf '%s\n' "$out" >&2
    tf_log "FAIL: stack $name: tofu init failed (above)"
    fail=1; continue
  fi
  tf_log "stack $name: init ok ($((SECONDS - t0))s)"
  t0=$SECONDS
  if ! out=$("$IOT_DR_TOFU" -chdir="$dir" validate -no-color 2>&1); then
    printf '%s\n' "$out" >&2
    tf_log "FAIL: stack $name: tofu validate failed (above)"
    fail=1; continue
  fi
  # warnings are printed but do not fail the run
  printf '%s\n' "$out" | sed 's/^/  /' >&2
  tf_log "stack $name: validate ok ($((SECONDS - t0))s)"
done
exit $fail
