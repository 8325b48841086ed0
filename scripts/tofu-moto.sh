#!/usr/bin/env bash
# Plan / apply / destroy the synthesized stack against moto server (an AWS emulator) on a
# loopback port, with the engine from scripts/terraform-engine.sh.
#
#   scripts/tofu-moto.sh all       start moto, synth, init, plan, apply, state list, destroy, stop
#   scripts/tofu-moto.sh server P  run moto server on 127.0.0.1:P in the foreground
#   scripts/tofu-moto.sh plan      synth, init, plan          (needs IOT_DR_TEST_ENDPOINT, IOT_DR_MOTO_WORKDIR)
#   scripts/tofu-moto.sh up        synth, init, plan, apply   (same two variables)
#   scripts/tofu-moto.sh down      destroy                    (same two variables)
#
# The app reads IOT_DR_TEST_ENDPOINT=http://127.0.0.1:PORT and points both AWS providers at it.
# The full stack is planned as synthesized. For the apply, resources moto cannot create are
# replaced by stand-ins or skipped with -target on everything else; the skip list is
# IOT_DR_MOTO_EXCLUDE (comma separated addresses or resource types), default below.
#
# Skips (exit 0) when the engine is not built, unless IOT_DR_REQUIRE_ENGINE is set.
# moto comes from scripts/ensure-moto.sh (venv ${IOT_DR_VENV:-.venv}) or IOT_DR_MOTO_SERVER.
set -euo pipefail
TF_LOG_TAG=tofu-moto
# shellcheck source=scripts/terraform-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/terraform-lib.sh"

# What moto 5.2.5 cannot create (found by applying against it; see docs/terraform-engine.md).
# Left out of the apply with -target on everything else (nothing references them):
#   aws_iot_event_configurations  UpdateEventConfigurations: NotImplementedError (HTTP 500, retried until timeout)
#   aws_cloudwatch_metric_alarm   PutMetricAlarm: 404 (the SDK speaks smithy-rpcv2-cbor to CloudWatch; moto does not)
#   aws_iot_topic_rule            created, but reading it back calls IoT ListTagsForResource: NotImplementedError
#                                 (HTTP 500, retried until the create timeout)
# Replaced by stand-ins in the applied copy (`terraform-stack.mjs standins`), because other
# resources read their attributes; their dependents are applied for real:
#   aws_dynamodb_table replica    UpdateTable ReplicaUpdates is ignored: no replica ever appears, the provider
#                                 waits for it until its 30 min timeout -> a plain table with a stream in the
#                                 replica's region
#   aws_sfn_state_machine         ValidateStateMachineDefinition: NotImplementedError (called before create)
#                                 -> terraform_data carrying the state machine's ARN
# Anything else referencing an excluded resource would be excluded with it (else -target pulls it
# in); with the stand-ins, nothing is. IOT_DR_MOTO_STANDINS=0 applies without stand-ins.
DEFAULT_EXCLUDE="aws_iot_event_configurations,aws_cloudwatch_metric_alarm,aws_iot_topic_rule"
EXCLUDE="${IOT_DR_MOTO_EXCLUDE-$DEFAULT_EXCLUDE}"
if [ "${IOT_DR_MOTO_STANDINS:-1}" = 0 ]; then
  # no stand-ins: the two resources are skipped, with everything that references them
  EXCLUDE="${EXCLUDE:+$EXCLUDE,}aws_sfn_state_machine,aws_dynamodb_table+replica"
fi
TIMINGS_OUT="${IOT_DR_MOTO_TIMINGS:-}"

timing() { # step seconds
  tf_log "$1: $2s"
  if [ -n "$TIMINGS_OUT" ]; then printf '%s\t%s\n' "$1" "$2" >>"$TIMINGS_OUT"; fi
}

moto_bin() {
  if [ -n "${IOT_DR_MOTO_SERVER:-}" ]; then echo "$IOT_DR_MOTO_SERVER"; return; fi
  bash "$REPO/scripts/ensure-moto.sh"
}

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

wait_moto() { # url
  local i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1/moto-api/" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  tf_log "FAIL: moto did not answer at $1"
  return 1
}

# Fake credentials for the provider and any CLI/SDK check; never real ones.
fake_aws_env() {
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
  export AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_DEFAULT_PROFILE
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
}

tofu_() { "$IOT_DR_TOFU" -chdir="$WORK/stack" "$@"; }

require_work() {
  : "${IOT_DR_TEST_ENDPOINT:?set IOT_DR_TEST_ENDPOINT=http://127.0.0.1:PORT (moto)}"
  : "${IOT_DR_MOTO_WORKDIR:?set IOT_DR_MOTO_WORKDIR to a directory kept between up and down}"
  WORK="$IOT_DR_MOTO_WORKDIR"
}

# synth, init and plan the whole stack into $WORK (plan file $WORK/full.plan, log $WORK/plan.log)
plan_stack() {
  require_work
  export IOT_DR_TEST_ENDPOINT
  # the tables have deletion protection on by default: off in the emulator, or destroy fails
  # synthesize into the work dir: the shared cdktf.out keeps the normal (non-test) synth
  export CDKTF_OUTDIR="$WORK/cdktf.out"
  local unprotect='{"replication":{"tableDeletionProtection":false}}'
  export IOT_DR_CONFIG_JSON="${IOT_DR_CONFIG_JSON:-$unprotect}"
  run_synth
  mapfile -t STACKS < <(stack_dirs)
  [ "${#STACKS[@]}" -eq 1 ] || { tf_log "FAIL: expected exactly one stack, found ${#STACKS[@]}"; return 1; }
  if ! grep -q "$IOT_DR_TEST_ENDPOINT" "${STACKS[0]}/cdk.tf.json"; then
    tf_log "FAIL: the synthesized providers do not point at $IOT_DR_TEST_ENDPOINT (does the app support IOT_DR_TEST_ENDPOINT yet?)"
    return 1
  fi
  rm -rf "$WORK/stack"
  copy_stack "${STACKS[0]}" "$WORK/stack" --local-backend || return 1
  node "$REPO/scripts/terraform-stack.mjs" regions "$WORK/stack" | sed 's/^/  [provider] /' >&2
  local t0=$SECONDS
  tofu_ init -input=false -no-color >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; tf_log "FAIL: init"; return 1; }
  timing init $((SECONDS - t0))
  t0=$SECONDS
  if ! tofu_ plan -input=false -no-color -out="$WORK/full.plan" >"$WORK/plan.log" 2>&1; then
    cat "$WORK/plan.log" >&2; tf_log "FAIL: plan"; return 1
  fi
  grep -E '^Plan:|Warning:|Error:' "$WORK/plan.log" >&2 || true
  timing plan $((SECONDS - t0))
}

up() {
  plan_stack || return $?
  if [ "${IOT_DR_MOTO_STANDINS:-1}" != 0 ]; then
    node "$REPO/scripts/terraform-stack.mjs" standins "$WORK/stack" | sed 's/^/  [stand-in] /' >&2
  fi
  local targets=() t0
  load_targets
  [ -z "$EXCLUDE" ] || tf_log "apply: excluding moto-unsupported: $EXCLUDE (${#targets[@]} targets remain)"
  t0=$SECONDS
  local rc=0
  tofu_ apply -input=false -no-color -auto-approve -parallelism="${IOT_DR_MOTO_PARALLELISM:-4}" "${targets[@]}" \
    >"$WORK/apply.log" 2>&1 || rc=$?
  timing apply $((SECONDS - t0))
  grep -E '^Apply complete|Error:|^│' "$WORK/apply.log" >&2 || true
  if [ "$rc" -ne 0 ]; then tf_log "FAIL: apply (log: $WORK/apply.log)"; return "$rc"; fi
  tofu_ state list >"$WORK/state.txt"
  tf_log "applied $(wc -l <"$WORK/state.txt") resources/data sources (list: $WORK/state.txt)"
}

# targets: -target=ADDR for everything but the exclusions (empty: no targeting)
load_targets() {
  targets=()
  if [ -n "$EXCLUDE" ]; then
    mapfile -t targets < <(node "$REPO/scripts/terraform-stack.mjs" targets "$WORK/stack" "$EXCLUDE")
  fi
}

down() {
  require_work
  [ -d "$WORK/stack/.terraform" ] || { tf_log "nothing to destroy in $WORK"; return 0; }
  local t0=$SECONDS rc=0 targets=()
  # destroy runs a normal plan first: the same targets keep it away from the excluded resources
  # (the sfn state machine's plan calls ValidateStateMachineDefinition, which moto lacks)
  load_targets 2>/dev/null
  # Wider than apply: the AWS provider waits for every deleted SQS queue to be reported gone 15
  # times in a row, at least 3 s apart (internal/service/sqs waitQueueDeleted: about 2 min per
  # queue, even on moto). Those waits cost no CPU, so they run side by side.
  tofu_ destroy -input=false -no-color -auto-approve -parallelism="${IOT_DR_MOTO_DESTROY_PARALLELISM:-16}" "${targets[@]}" \
    >"$WORK/destroy.log" 2>&1 || rc=$?
  timing destroy $((SECONDS - t0))
  grep -E '^Destroy complete|Error:|^│' "$WORK/destroy.log" >&2 || true
  [ "$rc" -eq 0 ] || { tf_log "FAIL: destroy (log: $WORK/destroy.log)"; return "$rc"; }
  local left; left=$(tofu_ state list | grep -vc '^data\.' || true)
  [ "$left" -eq 0 ] || { tf_log "FAIL: $left entries left in state after destroy"; return 1; }
}

all() {
  local moto port
  moto=$(moto_bin)
  port=$(free_port)
  export IOT_DR_TEST_ENDPOINT="http://127.0.0.1:$port"
  export IOT_DR_MOTO_WORKDIR="${IOT_DR_MOTO_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/iot-dr-moto.XXXXXX")}"
  tf_log "moto: $moto on $IOT_DR_TEST_ENDPOINT; workdir $IOT_DR_MOTO_WORKDIR"
  "$moto" -H 127.0.0.1 -p "$port" >"$IOT_DR_MOTO_WORKDIR/moto.log" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
  trap 'exit 130' INT TERM
  wait_moto "$IOT_DR_TEST_ENDPOINT"
  local rc=0
  up || rc=$?
  if [ -f "$IOT_DR_MOTO_WORKDIR/state.txt" ]; then sed 's/^/  [state] /' "$IOT_DR_MOTO_WORKDIR/state.txt" >&2; fi
  down || rc=$?
  return $rc
}

cmd=${1:-all}
case "$cmd" in
  server)
    port=${2:?usage: tofu-moto.sh server PORT}
    exec "$(moto_bin)" -H 127.0.0.1 -p "$port" ;;
  plan)
    engine_or_skip
    tofu_env
    fake_aws_env
    plan_stack ;;
  up|down|all)
    engine_or_skip
    tofu_env
    fake_aws_env
    "$cmd" ;;
  *) tf_log "unknown command $cmd"; exit 2 ;;
esac
