#!/usr/bin/env bash
# Built-in ansible plugin: runs the main playbook of the tool folder with ansible-playbook.
# Inputs (resolved by bitops from the tool's bitops.config.yaml, see README.md):
#   BITOPS_ANSIBLE_CLI_QUOTED   the `cli` words: flags and the playbook (positional)
#   ANSIBLE_MAIN_SCRIPT         the playbook, ANSIBLE_SKIP_DEPLOY, ANSIBLE_VERBOSITY
#   BITOPS_DRY_RUN=true         check mode: --check --diff, nothing is changed
set -euo pipefail

say() { printf 'ansible: %s\n' "$*"; }
die() {
  local code=$1
  shift
  printf 'ansible: error: %s\n' "$*" >&2
  exit "$code"
}
is_true() {
  case "${1,,}" in
    true | 1 | yes | on) return 0 ;;
    *) return 1 ;;
  esac
}

if is_true "${ANSIBLE_SKIP_DEPLOY:-}"; then
  say "skip-deploy is set: nothing to do"
  exit 0
fi

command -v ansible-playbook >/dev/null 2>&1 ||
  die 127 "ansible-playbook not found on PATH; install ansible-core and put it on PATH (see install.sh)"

cd "${BITOPS_OPSREPO_ENVIRONMENT_DIR:-.}"

playbook=${ANSIBLE_MAIN_SCRIPT:-playbook.yaml}
if [[ ! -f $playbook ]]; then
  shopt -s nullglob
  found=()
  for file in *.yaml *.yml; do
    [[ $file == bitops.config.* ]] || found+=("$file")
  done
  hint=""
  ((${#found[@]} == 0)) || hint=" (YAML files there: ${found[*]})"
  die 1 "main-playbook \`$playbook\` not found in $PWD$hint; set cli.main-playbook in bitops.config.yaml"
fi

# The `cli` words as composed from the schema (the playbook is the positional one).
args=()
if [[ -n ${BITOPS_ANSIBLE_CLI_QUOTED:-} ]]; then
  eval "args=($BITOPS_ANSIBLE_CLI_QUOTED)"
elif [[ -n ${BITOPS_ANSIBLE_CLI:-} ]]; then
  read -ra args <<<"$BITOPS_ANSIBLE_CLI"
else
  args=("$playbook")
fi

if is_true "${BITOPS_DRY_RUN:-}"; then
  say "dry run: check mode (--check --diff): tasks report what they would change; nothing is changed"
  args+=(--check --diff)
  export ANSIBLE_CHECK_MODE_MARKERS="${ANSIBLE_CHECK_MODE_MARKERS:-true}"
fi
[[ -n ${ANSIBLE_VERBOSITY:-} ]] && say "verbosity $ANSIBLE_VERBOSITY (ANSIBLE_VERBOSITY)"

say "running: $(command -v ansible-playbook) ${args[*]}"
rc=0
ansible-playbook "${args[@]}" || rc=$?
((rc == 0)) || die "$rc" "ansible-playbook failed (exit $rc)"
