#!/usr/bin/env bash
# Build the Terraform engine (OpenTofu) and the providers the iot-dr stack needs
# from the Go module proxy, into a cache folder OUTSIDE the repository.
#
#   scripts/terraform-engine.sh [all|tofu|aws|random|providers|actionlint|env|status]
#
#   all (default)  tofu + aws + random providers (+ plugin mirror and CLI config)
#   actionlint     builds actionlint through scripts/actionlint.sh (its own cache) and prints its version
#   env            print shell exports (eval "$(scripts/terraform-engine.sh env)")
#   status         print what is built and where; exit 1 if the engine is incomplete
#
# The aws provider is built cut to the service packages the synthesized stacks use (the
# configurations of scripts/engine-stacks.json, synthesized here; needs `npm ci`): see
# build_aws_cut below and scripts/aws-provider-cut.mjs. About 22 of 265 packages: minutes
# instead of an hour, 3-4 GB instead of 9.
#
# Idempotent: a component whose binary is already in the cache is not rebuilt (the aws
# provider: unless the stacks now need other service packages, then it is rebuilt with them);
# the script only prints where it is. Go's build and module caches live under
# the same root, so a rebuild after deleting a binary is mostly cache hits.
#
# Environment:
#   IOT_DR_ENGINE_DIR   cache root (default $HOME/.cache/iot-dr/engine)
#   IOT_DR_ENGINE_NICE  niceness for builds (default 19; the machine is shared)
#   IOT_DR_ENGINE_FORCE=1  rebuild even if present
#   IOT_DR_ENGINE_STACKS   extra stack dirs (holding cdk.tf.json) whose types the aws provider must cover
#
# Why pseudo-versions: the module proxy cannot serve terraform-provider-aws
# v6.25.0 or terraform-provider-random v3.7.2 by their tags (the repositories'
# go.mod has no /v6 resp. /v3 suffix, so Go rejects those tags), and the proxy
# available here serves only versions it already holds (no commit queries).
# We therefore pin the newest pseudo-versions the proxy serves and lay them out
# under their real release numbers; scripts/validate-terraform.sh adds an
# override file in its temp copy so the synthesized exact pins (6.25.0, 3.7.2)
# accept them. See docs/terraform-engine.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/terraform-lib.sh
. "$HERE/terraform-lib.sh"
ROOT="${IOT_DR_ENGINE_DIR:-$HOME/.cache/iot-dr/engine}"
NICE="${IOT_DR_ENGINE_NICE:-19}"
FORCE="${IOT_DR_ENGINE_FORCE:-}"

# ---- pinned versions -------------------------------------------------------
TOFU_MODULE=github.com/opentofu/opentofu
TOFU_VERSION=v1.12.6

AWS_MODULE=github.com/hashicorp/terraform-provider-aws
AWS_GO_VERSION=v1.60.1-0.20260602190131-5f2286d6d836 # commit 5f2286d6d836, version/VERSION=6.47.1 (after 6.47.0)
AWS_VERSION=6.47.1                                     # version the binary is published under in the mirror
AWS_WANTED=6.25.0                                      # what @cdktf/provider-aws 21.22.1 pins

RANDOM_MODULE=github.com/terraform-providers/terraform-provider-random # the go.mod's own module path
RANDOM_GO_VERSION=v1.3.2-0.20260513075824-f8d869dc98d9 # commit f8d869dc98d9, day after the 3.9.0 release
RANDOM_VERSION=3.9.0
RANDOM_WANTED=3.7.2                                    # what @cdktf/provider-random 12.0.1 pins


# ---- layout ----------------------------------------------------------------
GOOSARCH="$(go env GOOS 2>/dev/null || echo linux)_$(go env GOARCH 2>/dev/null || echo amd64)"
BIN="$ROOT/bin"
PLUGINS="$ROOT/plugins"
LOGS="$ROOT/logs"
TOFURC="$ROOT/tofurc"
TIMINGS="$ROOT/timings.tsv"
PRIMARY_HOST=registry.opentofu.org   # what OpenTofu resolves "aws" / "hashicorp/aws" to
ALIAS_HOST=registry.terraform.io     # hard-linked copy, for configs that spell the host out

export GOCACHE="$ROOT/go/build"
export GOMODCACHE="$ROOT/go/mod"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOFLAGS=-buildvcs=false

log() { printf '[terraform-engine] %s\n' "$*" >&2; }

provider_path() { # name version
  printf '%s/%s/hashicorp/%s/%s/%s/terraform-provider-%s_v%s' "$PLUGINS" "$PRIMARY_HOST" "$1" "$2" "$GOOSARCH" "$1" "$2"
}

# Peak summed RSS (kB) of a process tree, sampled every second (GNU time's
# "Maximum resident set size" is only the largest single process).
sample_tree() { # pid outfile
  local root=$1 out=$2 peak=0 s p r
  desc() { local q=$1 c; echo "$q"; for c in $(cat /proc/"$q"/task/*/children 2>/dev/null); do desc "$c"; done; }
  while kill -0 "$root" 2>/dev/null; do
    s=0
    for p in $(desc "$root"); do
      r=$(awk '/^VmRSS/{print $2}' /proc/"$p"/status 2>/dev/null || true)
      s=$((s + ${r:-0}))
    done
    if [ "$s" -gt "$peak" ]; then peak=$s; echo "$peak" >"$out"; fi
    sleep 1
  done
}

# measure NAME CMD... : run niced under /usr/bin/time -v, log to $LOGS/NAME.*
measure() {
  local name=$1; shift
  mkdir -p "$LOGS"
  local timer=()
  if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -v -o "$LOGS/$name.time"); else log "/usr/bin/time missing (apt-get install time): no peak-memory figure"; fi
  log "building $name (nice -n $NICE); log: $LOGS/$name.log"
  local start end rc=0
  start=$(date +%s)
  nice -n "$NICE" "${timer[@]}" "$@" >"$LOGS/$name.log" 2>&1 &
  local pid=$!
  sample_tree "$pid" "$LOGS/$name.treepeak" &
  local spid=$!
  wait "$pid" || rc=$?
  wait "$spid" 2>/dev/null || true
  end=$(date +%s)
  if [ "$rc" -ne 0 ]; then
    log "$name FAILED (exit $rc) after $((end - start))s; last lines of $LOGS/$name.log:"
    tail -n 30 "$LOGS/$name.log" >&2
    return "$rc"
  fi
  local wall maxrss treepeak
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$LOGS/$name.time" 2>/dev/null || true)
  maxrss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$LOGS/$name.time" 2>/dev/null || true)
  treepeak=$(cat "$LOGS/$name.treepeak" 2>/dev/null || echo "?")
  printf '%s\t%s\twall=%ss (%s)\tmax_single_rss_kB=%s\tpeak_tree_rss_kB=%s\tnice=%s\tnproc=%s\n' \
    "$(date -u +%FT%TZ)" "$name" "$((end - start))" "${wall:-?}" "${maxrss:-?}" "$treepeak" "$NICE" "$(nproc)" >>"$TIMINGS"
  log "$name built in $((end - start))s (max single-process RSS ${maxrss:-?} kB, peak tree RSS $treepeak kB)"
}

# Does MODULE@VERSION's go.mod carry replace directives (which `go install
# pkg@version` refuses)? Prints the module source dir on stdout.
module_dir() { go mod download -json "$1@$2" | awk -F'"' '/"Dir":/{print $4}'; }

# go_build NAME MODULE VERSION PKG(relative, "." for root) OUT LDFLAGS
go_build() {
  local name=$1 module=$2 version=$3 pkg=$4 out=$5 ldflags=$6
  local stage="$ROOT/stage/$name"
  rm -rf "$stage"; mkdir -p "$stage" "$(dirname "$out")"
  local gomod
  gomod=$(go mod download -json "$module@$version" | awk -F'"' '/"GoMod":/{print $4}')
  if grep -qE '^[[:space:]]*replace[[:space:]]' "$gomod"; then
    # replace directives: build inside the downloaded module (honours them)
    local dir; dir=$(module_dir "$module" "$version")
    measure "$name" go build -C "$dir" -trimpath -ldflags "$ldflags" -o "$stage/" "./$pkg"
  else
    local target="$module"; [ "$pkg" != "." ] && target="$module/$pkg"
    measure "$name" env GOBIN="$stage" go install -trimpath -ldflags "$ldflags" "$target@$version"
  fi
  local built; built=$(find "$stage" -maxdepth 1 -type f -perm -u+x -print -quit)
  [ -n "$built" ] || { log "$name: no binary produced in $stage"; return 1; }
  mv -f "$built" "$out"
  rm -rf "$stage"
}

have() { [ -z "$FORCE" ] && [ -x "$1" ]; }

build_tofu() {
  local out="$BIN/tofu"
  if have "$out"; then log "tofu present: $out"; return 0; fi
  go_build tofu "$TOFU_MODULE" "$TOFU_VERSION" cmd/tofu "$out" "-s -w -X $TOFU_MODULE/version.dev=no"
  env -u TF_CLI_CONFIG_FILE "$out" version >&2
}

# The same binary under registry.terraform.io, as a hard link: OpenTofu's mirror scan does not
# follow a symlinked directory (tried: "was not found in any of the search locations").
link_alias_host() { # name version
  local src; src=$(provider_path "$1" "$2")
  local dst="${src/\/$PRIMARY_HOST\//\/$ALIAS_HOST\/}"
  [ -L "$PLUGINS/$ALIAS_HOST/hashicorp/$1/$2" ] && rm -f "$PLUGINS/$ALIAS_HOST/hashicorp/$1/$2"
  mkdir -p "$(dirname "$dst")"
  [ "$dst" -ef "$src" ] || ln -f "$src" "$dst" 2>/dev/null || cp -f "$src" "$dst"
}

# ---- the aws provider, cut to the services of the synthesized stacks -------
# The full provider registers ~265 service packages and takes ~53 min / 9 GB to build on 2 cores.
# Its two generated registration lists are cut to the service packages the stack's resource and
# data-source types belong to (scripts/aws-provider-cut.mjs), applied as a `go build -overlay` on
# a writable copy of the module source; no provider logic is edited. The stack variants are
# synthesized from scripts/engine-stacks.json (the configurations the checks use: the default and
# the widest, failover DNS + custom domain + alarms), plus $IOT_DR_ENGINE_STACKS (extra stack
# dirs). A new resource type in the stack widens the list: `status` and the checks compare the
# stack's types with $ROOT/aws-services.txt, and a run of this script rebuilds (mostly cache hits).
AWS_SRC="$ROOT/src/terraform-provider-aws@$AWS_GO_VERSION"
AWS_CUT="$ROOT/aws-cut"

# prints the stack dirs whose types decide the cut
engine_stack_dirs() {
  local d
  for d in "$ROOT/stage/stacks"/*/stacks/*/ ${IOT_DR_ENGINE_STACKS:-}; do
    [ -e "$d" ] && printf '%s\n' "${d%/}"
  done
}

build_aws_cut() { # version
  local ver=$1 out; out=$(provider_path aws "$ver")
  log "aws provider: synthesizing the stack variants of scripts/engine-stacks.json"
  synth_engine_stacks "$ROOT/stage/stacks"
  if [ ! -d "$AWS_SRC" ]; then
    local t0=$SECONDS mod
    mod=$(go mod download -json "$AWS_MODULE@$AWS_GO_VERSION" | awk -F'"' '/"Dir":/{print $4}')
    # overlays may not replace files under GOMODCACHE: a writable copy of the module source
    rm -rf "$AWS_SRC.tmp"; mkdir -p "$ROOT/src"
    cp -r --no-preserve=mode "$mod" "$AWS_SRC.tmp" && mv "$AWS_SRC.tmp" "$AWS_SRC"
    log "aws provider source: $AWS_SRC ($((SECONDS - t0))s incl. download)"
  fi
  local stacks; mapfile -t stacks < <(engine_stack_dirs)
  [ "${#stacks[@]}" -gt 0 ] || { log "no stacks to derive the aws services from"; return 1; }
  local t0=$SECONDS
  rm -rf "$AWS_CUT.new"
  node_ "$HERE/aws-provider-cut.mjs" --src "$AWS_SRC" --out "$AWS_CUT.new" "${stacks[@]}" >&2
  log "aws provider cut: $((SECONDS - t0))s"
  if have "$out" && [ -f "$AWS_CUT/services.txt" ] && cmp -s "$AWS_CUT/services.txt" "$AWS_CUT.new/services.txt"; then
    log "aws provider present with the same services: $out"
    rm -rf "$AWS_CUT.new"; link_alias_host aws "$ver"; return 0
  fi
  [ -f "$AWS_CUT/services.txt" ] && log "aws services change: $(diff <(cat "$AWS_CUT/services.txt") "$AWS_CUT.new/services.txt" | grep '^[<>]' | tr '\n' ' ')"
  local stage="$ROOT/stage/provider-aws"
  rm -rf "$stage"; mkdir -p "$stage" "$(dirname "$out")"
  # the cut files live in $AWS_CUT.new while building; the overlay names them by absolute path
  measure provider-aws go build -C "$AWS_SRC" -overlay "$AWS_CUT.new/overlay.json" -trimpath -ldflags "-s -w" -o "$stage/terraform-provider-aws" .
  rm -rf "$AWS_CUT"; mv "$AWS_CUT.new" "$AWS_CUT"
  # keep overlay.json pointing at the files' final place
  sed -i "s#$AWS_CUT.new/#$AWS_CUT/#g" "$AWS_CUT/overlay.json"
  mv -f "$stage/terraform-provider-aws" "$out"; rm -rf "$stage"
  log "aws provider: $(tr '\n' ' ' <"$AWS_CUT/services.txt")"
  link_alias_host aws "$ver"
}

build_provider() { # name module goversion version
  local name=$1 module=$2 gov=$3 ver=$4
  local out; out=$(provider_path "$name" "$ver")
  if have "$out"; then log "$name provider present: $out"; link_alias_host "$name" "$ver"; return 0; fi
  go_build "provider-$name" "$module" "$gov" . "$out" "-s -w"
  link_alias_host "$name" "$ver"
}

write_tofurc() {
  cat >"$TOFURC" <<EOF
# Generated by scripts/terraform-engine.sh: offline provider installation
# from the local mirror only (no registry access).
provider_installation {
  filesystem_mirror {
    path    = "$PLUGINS"
    include = ["$PRIMARY_HOST/hashicorp/*", "$ALIAS_HOST/hashicorp/*"]
  }
}
EOF
}

write_env() {
  cat >"$ROOT/engine.env" <<EOF
IOT_DR_TOFU=$BIN/tofu
IOT_DR_PLUGIN_DIR=$PLUGINS
IOT_DR_TOFURC=$TOFURC
IOT_DR_AWS_PROVIDER_VERSION=$AWS_VERSION
IOT_DR_AWS_CUT=$AWS_CUT
IOT_DR_AWS_PROVIDER_WANTED=$AWS_WANTED
IOT_DR_RANDOM_PROVIDER_VERSION=$RANDOM_VERSION
IOT_DR_RANDOM_PROVIDER_WANTED=$RANDOM_WANTED
EOF
}

status() {
  local ok=0 f
  for f in "$BIN/tofu" "$(provider_path aws "$AWS_VERSION")" "$(provider_path random "$RANDOM_VERSION")"; do
    if [ -x "$f" ]; then echo "built:   $f"; else echo "missing: $f"; ok=1; fi
  done
  if [ -f "$AWS_CUT/services.txt" ]; then
    echo "aws:     $(wc -l <"$AWS_CUT/services.txt") service packages: $(tr '\n' ' ' <"$AWS_CUT/services.txt")"
  else
    echo "aws:     no $AWS_CUT/services.txt (not built by the cut)"; ok=1
  fi
  echo "mirror:  $PLUGINS (hosts $PRIMARY_HOST, $ALIAS_HOST)"
  echo "cli cfg: $TOFURC"
  [ -f "$TIMINGS" ] && { echo "timings: $TIMINGS"; cat "$TIMINGS"; }
  return $ok
}

main() {
  local cmd=${1:-all}
  command -v go >/dev/null || { log "go not found on PATH"; exit 2; }
  mkdir -p "$ROOT" "$BIN" "$PLUGINS" "$LOGS"; cd "$ROOT"
  case "$cmd" in
    all)
      build_tofu
      build_aws_cut "$AWS_VERSION"
      build_provider random "$RANDOM_MODULE" "$RANDOM_GO_VERSION" "$RANDOM_VERSION"
      write_tofurc; write_env; status ;;
    tofu) build_tofu; write_env ;;
    aws) build_aws_cut "$AWS_VERSION"; write_tofurc; write_env ;;
    random) build_provider random "$RANDOM_MODULE" "$RANDOM_GO_VERSION" "$RANDOM_VERSION"; write_tofurc; write_env ;;
    providers)
      build_aws_cut "$AWS_VERSION"
      build_provider random "$RANDOM_MODULE" "$RANDOM_GO_VERSION" "$RANDOM_VERSION"
      write_tofurc; write_env ;;
    # one actionlint build for the whole project: scripts/actionlint.sh (npm test) owns it
    actionlint) exec bash "$HERE/actionlint.sh" -version ;;
    env) write_env; sed 's/^/export /' "$ROOT/engine.env" ;;
    status) status ;;
    -h|--help|help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) log "unknown command: $cmd"; exit 2 ;;
  esac
}

main "$@"
