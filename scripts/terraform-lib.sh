# shellcheck shell=bash
# Shared by scripts/validate-terraform.sh and scripts/tofu-moto.sh (sourced, not run).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENGINE_ROOT="${IOT_DR_ENGINE_DIR:-$HOME/.cache/iot-dr/engine}"

tf_log() { printf '[%s] %s\n' "${TF_LOG_TAG:-terraform}" "$*" >&2; }

# engine_check: sets IOT_DR_TOFU, IOT_DR_PLUGIN_DIR, provider versions. Returns 1 (after
# printing why) when the engine or a provider is not built.
engine_check() {
  local envf="$ENGINE_ROOT/engine.env"
  if [ ! -f "$envf" ]; then
    ENGINE_MISSING="no $envf (run scripts/terraform-engine.sh)"
    return 1
  fi
  set -a; # shellcheck disable=SC1090
  . "$envf"; set +a
  local f
  for f in "$IOT_DR_TOFU" \
    "$IOT_DR_PLUGIN_DIR/registry.opentofu.org/hashicorp/aws/$IOT_DR_AWS_PROVIDER_VERSION" \
    "$IOT_DR_PLUGIN_DIR/registry.opentofu.org/hashicorp/random/$IOT_DR_RANDOM_PROVIDER_VERSION"; do
    if [ ! -e "$f" ]; then
      ENGINE_MISSING="$f not built (run scripts/terraform-engine.sh)"
      return 1
    fi
  done
  return 0
}

# engine_or_skip: exit 0 with a SKIP line when the engine is missing, unless
# IOT_DR_REQUIRE_ENGINE is set (then exit 1).
engine_or_skip() {
  if engine_check; then return 0; fi
  if [ -n "${IOT_DR_REQUIRE_ENGINE:-}" ]; then
    tf_log "FAIL: Terraform engine required (IOT_DR_REQUIRE_ENGINE set) but $ENGINE_MISSING"
    exit 1
  fi
  tf_log "SKIP: Terraform engine not built: $ENGINE_MISSING. Set IOT_DR_REQUIRE_ENGINE=1 to make this an error."
  exit 0
}

# Environment every tofu call runs with: no telemetry, no registry, no prompts.
tofu_env() {
  export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
  # only the mirror: a CLI config with a filesystem_mirror and no direct installation
  export TF_CLI_CONFIG_FILE="$IOT_DR_TOFURC"
  unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR
}

# run_synth: npm run synth in the repo (unless IOT_DR_SKIP_SYNTH=1).
run_synth() {
  if [ -n "${IOT_DR_SKIP_SYNTH:-}" ]; then
    tf_log "IOT_DR_SKIP_SYNTH set: using existing $REPO/cdktf.out"
    return 0
  fi
  if [ ! -f "$REPO/scripts/synth.mjs" ] && [ ! -f "$REPO/main.ts" ]; then
    tf_log "FAIL: no synth yet (neither scripts/synth.mjs nor main.ts exists)"
    return 1
  fi
  local t0=$SECONDS
  tf_log "synth: npm run synth"
  (cd "$REPO" && npm run --silent synth) >&2
  tf_log "synth took $((SECONDS - t0))s"
}

# stack_dirs: every cdktf.out/stacks/<stack> holding a cdk.tf.json ($CDKTF_OUTDIR when set)
stack_dirs() {
  local d
  for d in "${CDKTF_OUTDIR:-$REPO/cdktf.out}"/stacks/*/; do
    [ -f "$d/cdk.tf.json" ] && printf '%s\n' "${d%/}"
  done
}

# copy_stack SRC DEST [--local-backend]: temp copy + provider-version override
copy_stack() {
  local src=$1 dest=$2 mode=${3:-}
  mkdir -p "$dest"
  cp -a "$src"/. "$dest"/
  rm -rf "$dest/.terraform" "$dest/.terraform.lock.hcl" "$dest"/terraform*.tfstate*
  node "$REPO/scripts/terraform-stack.mjs" override "$dest" $mode | sed 's/^/  [override] /' >&2
  # the aws provider is cut to the stack's services: a type outside the cut would be refused as
  # "Invalid resource type" although the real provider has it
  local why
  if ! why=$(node "$REPO/scripts/terraform-stack.mjs" coverage "$dest" 2>&1); then
    printf '%s\n' "$why" | sed 's/^/  /' >&2
    tf_log "FAIL: the engine's aws provider lacks services this stack uses: run scripts/terraform-engine.sh (it widens the cut; mostly cache hits)"
    return 1
  fi
}

node_() { # the project's Node (22, from the devDependency) when installed, else the PATH one
  if [ -x "$REPO/node_modules/.bin/node" ]; then "$REPO/node_modules/.bin/node" "$@"; else node "$@"; fi
}

# synth_engine_stacks DIR: one synth per configuration of scripts/engine-stacks.json into DIR/<n>
synth_engine_stacks() {
  local dir=$1 n cfg i
  rm -rf "$dir"; mkdir -p "$dir"
  n=$(node_ -e 'console.log(require(process.argv[1]).configurations.length)' "$REPO/scripts/engine-stacks.json")
  for ((i = 0; i < n; i++)); do
    cfg=$(node_ -e 'console.log(JSON.stringify(require(process.argv[1]).configurations[+process.argv[2]].config))' \
      "$REPO/scripts/engine-stacks.json" "$i")
    (cd "$REPO" && IOT_DR_CONFIG_JSON="$cfg" CDKTF_OUTDIR="$dir/$i" npm run --silent synth >/dev/null) \
      || { tf_log "synth of engine-stacks.json configuration $i failed"; return 1; }
  done
}

