#!/usr/bin/env bash
# Built-in terraform plugin: init, workspace, then plan, apply or destroy.
# Inputs (resolved by bitops from the tool's bitops.config.yaml, see README.md):
#   $1                            stack-action: plan (default), apply or destroy
#   BITOPS_TERRAFORM_CLI_QUOTED   the `cli` words: -var-file=, -target=, -backend-config=
#   TERRAFORM_SKIP_DEPLOY, TERRAFORM_WORKSPACE, TERRAFORM_INIT_UPGRADE, TERRAFORM_VERSION,
#   TERRAFORM_VERSION_STRICT, TERRAFORM_TARGETS_ONLY
#   TERRAFORM_APPLY / TERRAFORM_DESTROY=true force apply / destroy (bitops resolves them
#                                 into $1 already; kept for a run of this script alone)
#   TERRAFORM_LOCAL_STATE         keep | discard a state that would live in this folder;
#                                 keep uses BITOPS_STEP_STATE_DIR
#   BITOPS_DRY_RUN=true           plan only, report whether changes are pending, exit 0
#   BITOPS_OUTPUTS                when set: a file that `terraform output -json` is appended
#                                 to after plan and apply (and a dry run), never after destroy
set -euo pipefail

say() { printf 'terraform: %s\n' "$*"; }
die() {
  local code=$1
  shift
  printf 'terraform: error: %s\n' "$*" >&2
  exit "$code"
}
is_true() {
  case "${1,,}" in
    true | 1 | yes | on) return 0 ;;
    *) return 1 ;;
  esac
}
# Prints the command, runs it, and on failure names it and passes its exit code on.
run() {
  say "running: $*"
  local rc=0
  "$@" || rc=$?
  ((rc == 0)) || die "$rc" "\`$1 $2\` failed (exit $rc)"
}

if is_true "${TERRAFORM_SKIP_DEPLOY:-}"; then
  say "skip-deploy is set: nothing to do"
  exit 0
fi

command -v terraform >/dev/null 2>&1 ||
  die 127 "terraform not found on PATH; install Terraform and put it on PATH (see install.sh)"

cd "${BITOPS_OPSREPO_ENVIRONMENT_DIR:-.}"

# The action: stack-action, unless TERRAFORM_DESTROY or TERRAFORM_APPLY force one.
action=${1:-${TERRAFORM_COMMAND:-plan}}
case "$action" in
  plan | apply | destroy) ;;
  *) die 1 "unknown stack-action \`$action\`: use plan, apply or destroy" ;;
esac
if is_true "${TERRAFORM_DESTROY:-}"; then
  [[ $action == destroy ]] || say "TERRAFORM_DESTROY is set: destroy instead of $action"
  action=destroy
elif is_true "${TERRAFORM_APPLY:-}"; then
  if [[ $action == destroy ]]; then
    say "TERRAFORM_APPLY is set but stack-action is destroy: destroying"
  elif [[ $action != apply ]]; then
    say "TERRAFORM_APPLY is set: apply instead of $action"
    action=apply
  fi
fi
dry_run=false
is_true "${BITOPS_DRY_RUN:-}" && dry_run=true

# The terraform to run: with options.version, a binary of that version when one is
# installed (terraform-1.5.7 or terraform1.5.7 on PATH, or tfenv's versions folder),
# else the terraform on PATH, with a warning (an error with options.version-strict).
version_of() {
  local text
  text=$(CHECKPOINT_DISABLE=1 "$1" version 2>/dev/null) || return 1
  text=${text%%$'\n'*}
  text=${text#Terraform }
  printf '%s\n' "${text#v}"
}
matches() { [[ $1 == "$2" || $1 == "$2".* ]]; }
tf=$(command -v terraform)
have=$(version_of "$tf") ||
  die 1 "\`terraform version\` failed; is $(command -v terraform) a working terraform?"
if [[ -n ${TERRAFORM_VERSION:-} ]]; then
  want=${TERRAFORM_VERSION#v}
  if ! matches "$have" "$want"; then
    found=""
    for candidate in "terraform-$want" "terraform$want" \
      "${TFENV_ROOT:-$HOME/.tfenv}/versions/$want/terraform"; do
      path=$(command -v "$candidate" 2>/dev/null) || continue
      v=$(version_of "$path") || continue
      if matches "$v" "$want"; then
        found=$path
        have=$v
        break
      fi
    done
    if [[ -n $found ]]; then
      tf=$found
    elif is_true "${TERRAFORM_VERSION_STRICT:-}"; then
      die 1 "options.version requires terraform $want, but $(command -v terraform) is $have and no terraform-$want, terraform$want or tfenv version $want was found; install it or change options.version"
    else
      say "warning: options.version asks for terraform $want, not found (terraform-$want, terraform$want, tfenv); using $(command -v terraform), which is $have (set options.version-strict: true to make this an error)"
    fi
  fi
fi
terraform() { command "$tf" "$@"; }
mode=""
[[ $dry_run == true ]] && mode=", dry run"
say "terraform $have ($tf), stack-action $action$mode"

# The `cli` words, exactly as composed from the schema; each goes to the subcommands that take it.
# The -target= words are kept apart: BitOps applies each target, then the whole stack.
init_args=()
plan_args=()
targets=()
cli_words=()
if [[ -n ${BITOPS_TERRAFORM_CLI_QUOTED:-} ]]; then
  eval "cli_words=($BITOPS_TERRAFORM_CLI_QUOTED)"
else
  read -ra cli_words <<<"${BITOPS_TERRAFORM_CLI:-}"
fi
for word in "${cli_words[@]}"; do
  case "$word" in
    -backend-config=*) init_args+=("$word") ;;
    -var-file=*) plan_args+=("$word") ;;
    -target=*) targets+=("$word") ;;
    *) ;; # the positional stack-action, already in $1
  esac
done
targets_only=false
is_true "${TERRAFORM_TARGETS_ONLY:-}" && targets_only=true

color=()
[[ -t 1 ]] || color=(-no-color)
# Output for a wrapper: no "now run terraform apply" advice.
export TF_IN_AUTOMATION="${TF_IN_AUTOMATION:-1}"

# TF_WORKSPACE would select a workspace for every command, init included.
if [[ -n ${TERRAFORM_WORKSPACE:-} && -n ${TF_WORKSPACE:-} ]]; then
  say "TF_WORKSPACE=$TF_WORKSPACE is ignored: options.workspace is $TERRAFORM_WORKSPACE"
  unset TF_WORKSPACE
fi

# 1. init
upgrade=()
is_true "${TERRAFORM_INIT_UPGRADE:-}" && upgrade=(-upgrade)
run terraform init -input=false "${color[@]}" "${upgrade[@]}" "${init_args[@]}"

# 1b. Where the state lives. With no backend block, or a local backend whose path is
# relative, terraform writes the state into this folder: bitops' private copy, deleted
# after the run. options.local-state says what to do then: keep (copied in from
# BITOPS_STEP_STATE_DIR now, and back when the script ends, also after a failure),
# discard, or, unset, an apply or destroy is refused here (bitops refuses it before step 1
# already when no before-hook could have written a backend).
save_state() { :; }
state_path=""
backend_meta=.terraform/terraform.tfstate
if [[ ! -f $backend_meta ]]; then
  state_path=terraform.tfstate
else
  backend_type=$(sed -n 's/^ *"type": *"\([^"]*\)".*/\1/p' "$backend_meta" | head -n1)
  if [[ $backend_type == local ]]; then
    backend_path=$(sed -n 's/^ *"path": *"\([^"]*\)".*/\1/p' "$backend_meta" | head -n1)
    [[ $backend_path == /* ]] || state_path=${backend_path:-terraform.tfstate}
  fi
fi
writes_state=false
if [[ $action != plan && $dry_run == false ]]; then writes_state=true; fi
if [[ -n $state_path ]]; then
  case "${TERRAFORM_LOCAL_STATE:-}" in
    keep)
      [[ -n ${BITOPS_STEP_STATE_DIR:-} ]] ||
        die 1 "options.local-state is keep, but BITOPS_STEP_STATE_DIR is not set (run this plugin with bitops)"
      kept=$BITOPS_STEP_STATE_DIR
      for item in "$state_path" terraform.tfstate.d; do
        if [[ -e $kept/$item ]]; then
          mkdir -p "$(dirname "$item")"
          rm -rf "$item"
          cp -a "$kept/$item" "$item" || die 1 "could not copy the kept state $kept/$item into the folder"
        fi
      done
      say "local state: kept in $kept (options.local-state: keep)"
      if [[ $writes_state == true ]]; then
        save_state() {
          local item
          (umask 077 && mkdir -p "$kept") || { say "error: could not create $kept: the state of this run is lost"; return 1; }
          for item in "$state_path" "$state_path.backup" terraform.tfstate.d; do
            [[ -e $item ]] || continue
            mkdir -p "$kept/$(dirname "$item")"
            rm -rf "$kept/$item.new"
            if cp -a "$item" "$kept/$item.new" && rm -rf "${kept:?}/$item" && mv "$kept/$item.new" "$kept/$item"; then :; else
              say "error: could not save $item into $kept"
              return 1
            fi
          done
          say "local state saved in $kept"
        }
        trap save_state EXIT
      fi
      ;;
    discard)
      if [[ $writes_state == true ]]; then
        say "local state: $state_path is deleted with bitops' copy of the folder after the run (options.local-state: discard)"
      fi
      ;;
    *)
      if [[ $writes_state == true ]]; then
        die 1 "$action would keep the state in $state_path inside bitops' private copy of the folder, which is deleted after the run: the next run would not know what this one made; configure a backend (s3, or local with an absolute path: backend-config: [path=/var/lib/tfstate/x.tfstate]), or set options.local-state: keep (kept in bitops' state folder) or discard"
      fi
      ;;
  esac
fi

# 2. workspace: select it, or create it (not in a dry run: creating one is a change)
if [[ -n ${TERRAFORM_WORKSPACE:-} ]]; then
  listing=$(terraform workspace list "${color[@]}") || die 1 "\`terraform workspace list\` failed"
  exists=false
  while read -r line; do
    [[ ${line#\* } == "$TERRAFORM_WORKSPACE" ]] && exists=true
  done <<<"$listing"
  if [[ $exists == true ]]; then
    run terraform workspace select "${color[@]}" "$TERRAFORM_WORKSPACE"
  elif [[ $dry_run == true ]]; then
    say "dry run: changes pending: workspace \`$TERRAFORM_WORKSPACE\` does not exist yet and would be created; no plan was made (creating it is a change)"
    exit 0
  else
    run terraform workspace new "${color[@]}" "$TERRAFORM_WORKSPACE"
  fi
fi

# The state's outputs, as `terraform output -json` prints them (sensitive values included,
# marked "sensitive": true), appended to $BITOPS_OUTPUTS for the steps that follow. Never
# printed: they go only to that file. Outputs that cannot be read are a warning, not a
# failure; a file that cannot be written is an error.
publish_outputs() {
  [[ -n ${BITOPS_OUTPUTS:-} ]] || return 0
  local json rc=0
  json=$(terraform output -json) || rc=$?
  if ((rc != 0)); then
    say "warning: could not read the outputs (\`terraform output -json\` exited $rc): nothing published to BITOPS_OUTPUTS"
    return 0
  fi
  if [[ $json =~ ^[[:space:]]*\{[[:space:]]*\}[[:space:]]*$ ]]; then
    say "no outputs to publish"
    return 0
  fi
  if [[ ! $json =~ ^[[:space:]]*\{ ]]; then
    say "warning: \`terraform output -json\` did not print a JSON object: nothing published to BITOPS_OUTPUTS"
    return 0
  fi
  printf '%s\n' "$json" >>"$BITOPS_OUTPUTS" ||
    die 1 "could not append the outputs to BITOPS_OUTPUTS ($BITOPS_OUTPUTS)"
  say "outputs published to BITOPS_OUTPUTS (terraform output -json)"
}

# The runs, planned and, unless stack-action is plan or this is a dry run, applied in order. As BitOps' plugin does:
# with targets, plan and apply take each target first and then the whole stack; destroy
# ignores the targets and destroys the whole stack. options.targets-only limits all three
# to the targets.
names() {
  local t out=""
  for t in "$@"; do out+="${out:+, }${t#-target=}"; done
  printf '%s' "$out"
}
# Each run: `all` (the whole stack), `targets` (every target at once) or a target's index.
runs=()
if ((${#targets[@]} == 0)); then
  runs=(all)
elif [[ $targets_only == true ]]; then
  say "options.targets-only is set: $action limited to the targets ($(names "${targets[@]}")), the rest of the stack is left as it is"
  runs=(targets)
elif [[ $action == destroy ]]; then
  say "destroy: the whole stack; the targets ($(names "${targets[@]}")) are for plan and apply only, as in BitOps (options.targets-only: true destroys only them)"
  runs=(all)
else
  verb=$action
  [[ $dry_run == true ]] && verb="$action (dry run)"
  say "$verb: each target first ($(names "${targets[@]}")), then the whole stack, as in BitOps (options.targets-only: true limits it to the targets)"
  for i in "${!targets[@]}"; do runs+=("$i"); done
  runs+=(all)
fi

destroy_args=()
[[ $action == destroy ]] && destroy_args=(-destroy)
# One run: plan (into a file unless a dry run), then apply that exact plan when there is
# something to apply and the action is apply or destroy. Sets `changes`.
one_run() {
  local -a run_targets=()
  case $1 in
    all) ;;
    targets) run_targets=("${targets[@]}") ;;
    *) run_targets=("${targets[$1]}") ;;
  esac
  local what="the whole stack"
  ((${#run_targets[@]} == 0)) || what="target $(names "${run_targets[@]}")"
  # One run alone needs no heading.
  ((${#runs[@]} == 1)) || say "plan of $what"
  local cmd=(terraform plan -input=false -detailed-exitcode "${color[@]}" "${plan_args[@]}" "${destroy_args[@]}" "${run_targets[@]}")
  local rc=0
  if [[ $dry_run == true ]]; then
    say "running: ${cmd[*]}"
    "${cmd[@]}" || rc=$?
  else
    say "running: ${cmd[*]} -out=$plan_file"
    "${cmd[@]}" -out="$plan_file" || rc=$?
  fi
  case $rc in
    0) changes=false ;;
    2) changes=true ;;
    *) die "$rc" "\`terraform plan\` failed (exit $rc)" ;;
  esac
  [[ $changes == true ]] && any_changes=true
  [[ $dry_run == true || $action == plan ]] && return 0
  if [[ $changes == false ]]; then
    if ((${#runs[@]} == 1)); then say "$action: no changes to apply"; else say "$action of $what: no changes to apply"; fi
    return 0
  fi
  run terraform apply -input=false "${color[@]}" "$plan_file"
  applied=true
}

any_changes=false
applied=false
plan_file=""
if [[ $dry_run != true ]]; then
  plan_file=$(mktemp "${TMPDIR:-/tmp}/terraform-plan.XXXXXX")
  trap 'rm -f "$plan_file"; save_state' EXIT
fi
for r in "${runs[@]}"; do one_run "$r"; done

# dry run: report whether anything would change, and nothing else.
if [[ $dry_run == true ]]; then
  if [[ $any_changes == true ]]; then
    say "dry run: changes pending (stack-action $action): see the plan above; nothing was applied"
  else
    say "dry run: no changes (stack-action $action)"
  fi
  # The current state's outputs (what dependents' dry runs read); not for destroy.
  [[ $action == destroy ]] || publish_outputs
  exit 0
fi

if [[ $action == plan ]]; then
  if [[ $any_changes == true ]]; then
    say "plan: changes pending (stack-action is plan: nothing applied)"
  else
    say "plan: no changes"
  fi
  publish_outputs
  exit 0
fi

if [[ $applied == true ]]; then
  say "$action complete"
elif [[ $action == apply ]]; then
  terraform output "${color[@]}" || true
fi
[[ $action == destroy ]] || publish_outputs
