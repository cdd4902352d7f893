#!/usr/bin/env bash
# Built-in helm plugin: deploys every chart folder of the helm tool folder, in
# alphabetical order (README.md next to this file has the reference).
# Inputs, per chart: `bitops resolve` of <chart>/bitops.config.yaml over the tool folder's
# bitops.config.yaml (BITOPS_HELM_<KEY> variables first, then the files, then the schema
# defaults; `bitops plan` has already checked every chart's config against the schema);
# KUBECONFIG_BASE64, HELM_SECRETS_BASE64, BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY,
# HELM_UNINSTALL, HELM_UNINSTALL_CHARTS, HELM_SKIP_DEPLOY / SKIP_DEPLOY_HELM;
# BITOPS_DRY_RUN=true: helm lint + helm template only. Each chart runs in a subshell of
# its own, so nothing one chart resolves or exports reaches the next.
set -euo pipefail
export LC_ALL=C # byte order for every listing below

say() { printf 'helm: %s\n' "$*"; }
die() {
  local code=$1
  shift
  printf 'helm: error: %s\n' "$*" >&2
  exit "$code"
}
# bool TEXT: sets REPLY to true/false; returns 1 when TEXT is not a boolean.
bool() {
  case "${1,,}" in
    true | 1 | yes | on | y) REPLY=true ;;
    false | 0 | no | off | n | '') REPLY=false ;;
    *) return 1 ;;
  esac
}
env_bool() { # env_bool NAME: REPLY=true/false from the variable NAME (unset = false)
  bool "${!1:-}" || die 1 "$1 must be true or false, found \`${!1}\`"
}
# A path for messages: relative to the workspace.
rel() {
  if [[ -n ${BITOPS_TEMPDIR:-} ]]; then printf '%s' "${1#"$BITOPS_TEMPDIR"/}"; else printf '%s' "$1"; fi
}
show() {
  local line='+' word
  for word in "$@"; do line+=" $(printf '%q' "$word")"; done
  printf '%s\n' "$line"
}
# run WHAT CMD...: prints the command, runs it; on failure names WHAT and passes the code on.
run() {
  local what=$1 rc=0
  shift
  show "$@"
  "$@" || rc=$?
  ((rc == 0)) || die "$rc" "chart $chart: $what failed (exit $rc)"
}

# --- the whole step -----------------------------------------------------------------

# Read before anything is exported to hooks: these come from the caller only.
env_bool BITOPS_DRY_RUN
dry_run=$REPLY
env_bool HELM_SKIP_DEPLOY
skip_all=$REPLY
env_bool HELM_UNINSTALL
uninstall_all=$REPLY
env_bool BITOPS_DRY_RUN_HOOKS # with a dry run, the charts' own hooks run only when set, as bitops' hooks
dry_run_hooks=$REPLY
if [[ -n ${SKIP_DEPLOY_HELM:-} ]] || $skip_all; then
  say "HELM_SKIP_DEPLOY (or SKIP_DEPLOY_HELM) is set: skipping every chart"
  exit 0
fi
command -v helm >/dev/null 2>&1 ||
  die 127 "helm not found on PATH; install Helm 3 or 4 (https://helm.sh/docs/intro/install/) and put it on PATH"
# The charts' configs are resolved by bitops itself (`bitops resolve`).
bitops_bin=${BITOPS_BIN:-}
if [[ -z $bitops_bin || ! -x $bitops_bin ]]; then
  bitops_bin=$(command -v bitops 2>/dev/null) ||
    die 1 "BITOPS_BIN is not set and bitops is not on PATH: this plugin reads the charts' configs with \`bitops resolve\`; run it with \`bitops deploy\`"
fi

tool_dir=${BITOPS_OPSREPO_ENVIRONMENT_DIR:-$PWD}
default_name=${BITOPS_DEFAULT_ROOT_DIR:-_default}
# The default folder's copy of this tool folder, staged in the workspace.
default_tool_dir=${BITOPS_TEMPDIR:-/nonexistent}/$default_name/$(basename "$tool_dir")
kube_file=${BITOPS_KUBE_CONFIG_FILE:-${BITOPS_TEMPDIR:-$PWD}/.kube/config}
chart=""
# KUBECONFIG_BASE64 wins over every chart's kubeconfig settings; decoded once, below.
kube_b64=${KUBECONFIG_BASE64:-${BITOPS_KUBECONFIG_BASE64:-}}

$dry_run && say "dry run (BITOPS_DRY_RUN): helm lint and helm template only; nothing is deployed"
shopt -s nullglob
charts=()
if [[ -n ${BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY:-} ]]; then
  sub=$BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY
  if [[ $sub == */* || $sub == . || $sub == .. || ! -d $tool_dir/$sub ]]; then
    die 1 "BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY=$sub is not a chart folder of $(rel "$tool_dir")"
  fi
  [[ -f $tool_dir/$sub/Chart.yaml ]] ||
    die 1 "BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY=$sub: $(rel "$tool_dir/$sub") has no Chart.yaml"
  say "BITOPS_ENVIRONMENT_HELM_SUBDIRECTORY is set: only chart $sub"
  charts=("$sub")
else
  for dir in "$tool_dir"/*/; do
    name=$(basename "$dir")
    case "$name" in
      "$default_name" | bitops.before-deploy.d | bitops.after-deploy.d) continue ;;
    esac
    if [[ ! -f $dir/Chart.yaml ]]; then
      say "skipping folder $name: no Chart.yaml"
      continue
    fi
    if grep -Eq '^type:[[:space:]]*["'"'"']?library' "$dir/Chart.yaml"; then
      say "skipping folder $name: a library chart (a dependency of other charts, not deployable)"
      continue
    fi
    charts+=("$name")
  done
fi
if ((${#charts[@]} == 0)); then
  say "no chart folders in $(rel "$tool_dir"): nothing to do"
  exit 0
fi

# --- one chart's configuration ------------------------------------------------------

# The variables of the schema's options that this script reads. They are unset before a
# chart is resolved, so a chart without a value has none (and not the caller's: a
# KUBE_CONFIG_PATH meant for terraform, say). The core's BITOPS_HELM_<KEY> overrides are
# kept. The `cli` values are read from BITOPS_HELM_CLI_QUOTED.
option_vars=(HELM_SKIP_DEPLOY HELM_RELEASE_NAME HELM_UNINSTALL KUBE_CONFIG_PATH FETCH_KUBECONFIG CLUSTER_NAME)

# resolve_chart: exports this chart's values, resolved by bitops as `bitops plan` checked
# them: <chart>/bitops.config.yaml over <tool>/bitops.config.yaml (a missing file is
# skipped). Runs inside the chart's subshell. Problems go to stderr with file and line.
# `bitops plan` has already reported the warnings (unknown keys) of every chart with a
# config of its own; they are repeated only for a chart without one, which plan does not see.
resolve_chart() {
  local exports err rc=0
  unset "${option_vars[@]}"
  err=$(mktemp)
  exports=$(cd "${BITOPS_TEMPDIR:-$tool_dir}" && "$bitops_bin" resolve \
    --config "$(rel "$tool_dir/$chart")/bitops.config.yaml" \
    --config "$(rel "$tool_dir")/bitops.config.yaml" 2>"$err") || rc=$?
  if ((rc != 0)) || [[ ! -f $tool_dir/$chart/bitops.config.yaml ]]; then
    cat "$err" >&2
  fi
  rm -f "$err"
  # Not `eval "$(bitops resolve ...)"` in one go: errexit does not see a failure inside it.
  ((rc == 0)) || die 1 "chart $chart: its configuration has errors (above); nothing was done for this chart"
  eval "$exports"
}

# The Helm version, asked at most once per chart: Helm 4 renamed --atomic and --force (the old names
# still work, with a warning) and Helm 3.13 added `uninstall --ignore-not-found`.
helm_major="" helm_minor=""
helm_version() {
  [[ -z $helm_major ]] || return 0
  local v
  v=$(helm version --template '{{.Version}}' 2>/dev/null) || v=""
  if [[ $v =~ ^v?([0-9]+)\.([0-9]+) ]]; then
    helm_major=${BASH_REMATCH[1]} helm_minor=${BASH_REMATCH[2]}
  else
    helm_major=3 helm_minor=0
  fi
}
helm_flag() {
  helm_version
  case "$1" in
    atomic) ((helm_major >= 4)) && REPLY=--rollback-on-failure || REPLY=--atomic ;;
    force) ((helm_major >= 4)) && REPLY=--force-replace || REPLY=--force ;;
    dry-run) ((helm_major >= 4)) && REPLY=--dry-run=client || REPLY=--dry-run ;;
  esac
}

# --- values files -------------------------------------------------------------------

# values_args CHART_DIR DEFAULT_CHART_DIR: fills `values` with -f pairs, in this order:
# default values.yaml, values.yaml, values-versions.yaml, values-secrets.yaml, the
# default's values-files/*, the chart's values-files/* (a file the core copied in from
# the default folder unchanged is passed once, at the default's place). Empty files are left out.
values=()
values_args() {
  local dir=$1 def=$2 f name
  values=()
  for f in "$def/values.yaml" "$dir/values.yaml" "$dir/values-versions.yaml" "$dir/values-secrets.yaml"; do
    [[ -f $f && -s $f ]] && values+=(-f "$f")
  done
  for f in "$def"/values-files/*; do
    [[ -f $f && -s $f ]] && values+=(-f "$f")
  done
  for f in "$dir"/values-files/*; do
    name=$(basename "$f")
    [[ -f $f && -s $f ]] || continue
    [[ -f $def/values-files/$name ]] && cmp -s "$f" "$def/values-files/$name" && continue
    values+=(-f "$f")
  done
}

# decode64 TEXT FILE: writes the decoded TEXT to FILE (mode 600) or returns 1.
decode64() {
  local dir tmp
  dir=$(dirname "$2")
  (umask 077 && mkdir -p "$dir")
  tmp=$(mktemp "$dir/.bitops.XXXXXX")
  if ! printf '%s' "$1" | tr -d ' \t\r\n' | base64 -d >"$tmp" 2>/dev/null || [[ ! -s $tmp ]]; then
    rm -f "$tmp"
    return 1
  fi
  chmod 600 "$tmp"
  mv -f "$tmp" "$2"
}

# --- kubeconfig ---------------------------------------------------------------------

kube_args=() # --kubeconfig=FILE for helm and kubectl; empty: the caller's KUBECONFIG
kube_env=()
setup_kubeconfig() {
  local dir f found=""
  if [[ -n $kube_b64 ]]; then
    found=$kube_file # decoded before the first chart
  elif [[ -n $kube_path ]]; then
    if [[ $kube_path == /* ]]; then
      [[ -f $kube_path ]] && found=$kube_path
    else
      for dir in "$tool_dir/$chart" "$tool_dir" "${BITOPS_ENVROOT:-$tool_dir}" "${BITOPS_TEMPDIR:-$tool_dir}"; do
        if [[ -f $dir/$kube_path ]]; then
          found=$dir/$kube_path
          break
        fi
      done
    fi
    [[ -n $found ]] || die 1 "chart $chart: helm.options.k8s.kubeconfigpath \`$kube_path\` not found (a relative path is looked up in the chart folder, the helm folder, the environment folder and the workspace root)"
    say "chart $chart: kubeconfig $(rel "$found") (helm.options.k8s.kubeconfigpath)"
  elif $fetch && [[ -n $cluster ]]; then
    say "chart $chart: fetching the kubeconfig of EKS cluster $cluster"
    local aws_dir="${BITOPS_PLUGINS_DIR:-}aws" helper=""
    [[ -d $aws_dir ]] || aws_dir="${BITOPS_BUILTIN_PLUGINS_DIR:-/nonexistent}/aws"
    for f in "$aws_dir/eks.update-kubeconfig.sh" "$aws_dir/scripts/eks.update-kubeconfig.sh"; do
      [[ -f $f ]] && helper=$f && break
    done
    mkdir -p "$(dirname "$kube_file")"
    if [[ -n $helper ]]; then
      local rc=0
      show bash "$helper"
      CLUSTER_NAME=$cluster KUBECONFIG=$kube_file BITOPS_KUBE_CONFIG_FILE=$kube_file bash "$helper" || rc=$?
      ((rc == 0)) || die "$rc" "chart $chart: the aws plugin's EKS kubeconfig helper failed (exit $rc)"
    else
      command -v aws >/dev/null 2>&1 ||
        die 127 "aws not found on PATH; it is needed to fetch the kubeconfig of EKS cluster $cluster (helm.options.k8s.fetch)"
      run "aws eks update-kubeconfig" aws eks update-kubeconfig --name "$cluster" --kubeconfig "$kube_file"
    fi
    chmod 600 "$kube_file" 2>/dev/null || true
    found=$kube_file
  elif [[ -s $kube_file ]]; then
    say "chart $chart: using the kubeconfig already in $(rel "$kube_file") (written by an earlier step)"
    found=$kube_file
  elif [[ -n ${KUBECONFIG:-} ]]; then
    say "chart $chart: using KUBECONFIG from the environment"
    kube_args=()
    kube_env=("KUBECONFIG=$KUBECONFIG")
    return
  else
    die 1 "chart $chart: no kubeconfig: set KUBECONFIG_BASE64, helm.options.k8s.kubeconfigpath, or helm.options.k8s.fetch.cluster-name (EKS)"
  fi
  kube_args=("--kubeconfig=$found")
  kube_env=("KUBECONFIG=$found")
}

# --- chart hooks --------------------------------------------------------------------

hook_env=()
# run_hooks FOLDER-NAME: the chart's own hook folder, as bitops runs a tool's hooks.
run_hooks() {
  local dir=$tool_dir/$chart/$1 f name rc
  [[ -d $dir ]] || return 0
  if $dry_run && ! $dry_run_hooks; then
    say "chart $chart: dry run: skipping the hooks in $1 (BITOPS_DRY_RUN_HOOKS=true runs them)"
    return 0
  fi
  for f in "$dir"/*; do
    [[ -f $f ]] || continue
    name=$(basename "$f")
    rc=0
    if [[ $name == *.sh ]]; then
      say "chart $chart: hook $1/$name"
      (cd "$tool_dir/$chart" && env "${hook_env[@]}" bash "$f") || rc=$?
    elif [[ -x $f ]]; then
      say "chart $chart: hook $1/$name"
      (cd "$tool_dir/$chart" && env "${hook_env[@]}" "$f") || rc=$?
    else
      say "chart $chart: skipping hook $1/$name: not a .sh file and not executable"
      continue
    fi
    ((rc == 0)) || die "$rc" "chart $chart: hook $1/$name failed (exit $rc)"
  done
}

# --- one chart ----------------------------------------------------------------------

# deploy_chart: runs in a subshell of its own (see the loop at the end).
deploy_chart() {
  local dir=$tool_dir/$chart def=$default_tool_dir/$chart
  resolve_chart

  if [[ ${HELM_SKIP_DEPLOY:-false} == true ]]; then
    say "chart $chart: helm.options.skip-deploy is set: skipping"
    return
  fi
  # The `cli` words as bitops composed them (schema order), with Helm 4's flag names and
  # a bare number of seconds made explicit; a word of a `cli` property this script does
  # not know is passed on as it is.
  local cli=() words=() sets=() ns="" timeout="" debug=false atomic=false force=false helm_dry_run=false w
  eval "cli=(${BITOPS_HELM_CLI_QUOTED:-})"
  for w in "${cli[@]}"; do
    case "$w" in
      --namespace=*) ns=${w#*=} ;;
      --timeout=*)
        timeout=${w#*=}
        [[ $timeout =~ ^[0-9]+$ ]] && timeout+=s
        w=--timeout=$timeout
        ;;
      --set=*) sets+=("${w#*=}") ;;
      --debug) debug=true ;;
      --atomic)
        atomic=true
        helm_flag atomic
        w=$REPLY
        ;;
      --force)
        force=true
        helm_flag force
        w=$REPLY
        ;;
      --dry-run)
        helm_dry_run=true
        helm_flag dry-run
        w=$REPLY
        ;;
    esac
    words+=("$w")
  done
  # A namespace of `""` (a missing one is an error of bitops already).
  [[ -n $ns ]] || die 1 "chart $chart: helm.cli.namespace is empty: set it in $(rel "$dir")/bitops.config.yaml (or in $(rel "$tool_dir")/bitops.config.yaml for every chart), or set BITOPS_HELM_NAMESPACE"
  local release=${HELM_RELEASE_NAME:-$chart}
  local uninstall=${HELM_UNINSTALL:-false} item items
  $uninstall_all && uninstall=true
  IFS=, read -r -a items <<<"${HELM_UNINSTALL_CHARTS:-}"
  for item in "${items[@]}"; do
    item=${item//[[:space:]]/}
    [[ -n $item && ($item == "$release" || $item == "$chart") ]] && uninstall=true
  done
  kube_path=${KUBE_CONFIG_PATH:-}
  fetch=${FETCH_KUBECONFIG:-true}
  cluster=${CLUSTER_NAME:-}
  local timeout_arg=()
  [[ -z $timeout ]] || timeout_arg=("--timeout=$timeout")
  local quoted=""
  for w in "${words[@]}"; do quoted+="${quoted:+ }$(printf '%q' "$w")"; done

  kube_args=() kube_env=()
  $dry_run || setup_kubeconfig
  hook_env=(
    "HELM_CHART=$chart" "HELM_CHART_DIRECTORY=$dir"
    "BITOPS_HELM_CLI=${words[*]}" "BITOPS_HELM_CLI_QUOTED=$quoted"
    "NAMESPACE=$ns" "BITOPS_NAMESPACE=$ns" "TIMEOUT=$timeout" "BITOPS_TIMEOUT=$timeout"
    "HELM_SET_FLAG=${sets[*]}" "BITOPS_HELM_SET_FLAG=${sets[*]}"
    "HELM_DEBUG=$debug" "BITOPS_HELM_DEBUG=$debug"
    "HELM_ATOMIC=$atomic" "BITOPS_HELM_ATOMIC=$atomic" "HELM_FORCE=$force" "BITOPS_HELM_FORCE=$force"
    "HELM_DRY_RUN=$helm_dry_run" "BITOPS_HELM_DRY_RUN=$helm_dry_run"
    "HELM_SKIP_DEPLOY=false" "BITOPS_HELM_SKIP_DEPLOY=false"
    "HELM_RELEASE_NAME=$release" "BITOPS_HELM_RELEASE_NAME=$release"
    "HELM_UNINSTALL=$uninstall" "BITOPS_HELM_UNINSTALL=$uninstall"
    "FETCH_KUBECONFIG=$fetch" "BITOPS_FETCH_KUBECONFIG=$fetch"
    "${kube_env[@]}"
  )
  [[ -n $kube_path ]] && hook_env+=("KUBE_CONFIG_PATH=$kube_path" "BITOPS_KUBE_CONFIG_PATH=$kube_path")
  [[ -n $cluster ]] && hook_env+=("CLUSTER_NAME=$cluster" "BITOPS_CLUSTER_NAME=$cluster")

  run_hooks bitops.before-deploy.d

  if $uninstall; then
    if $dry_run; then
      say "chart $chart: dry run: would uninstall release $release from namespace $ns"
    else
      say "chart $chart: uninstalling release $release from namespace $ns"
      local ignore=()
      helm_version
      ((helm_major > 3 || (helm_major == 3 && helm_minor >= 13))) && ignore=(--ignore-not-found)
      run "helm uninstall" helm uninstall "$release" "--namespace=$ns" "${timeout_arg[@]}" "${ignore[@]}" "${kube_args[@]}"
    fi
    run_hooks bitops.after-deploy.d
    return
  fi

  if [[ -n ${HELM_SECRETS_BASE64:-} ]]; then
    decode64 "$HELM_SECRETS_BASE64" "$dir/values-secrets.yaml" ||
      die 1 "HELM_SECRETS_BASE64 is not valid base64 (or decodes to nothing)"
    say "chart $chart: values-secrets.yaml written from HELM_SECRETS_BASE64"
  fi
  values_args "$dir" "$def"
  local listed=() i
  for ((i = 1; i < ${#values[@]}; i += 2)); do listed+=("$(rel "${values[i]}")"); done
  say "chart $chart: release $release, namespace $ns, values files: ${listed[*]:-none}"

  run "helm dependency update" helm dependency update "$dir"

  if $dry_run; then
    say "chart $chart: dry run: helm lint and helm template only; no cluster is contacted"
    local render=("--namespace=$ns") s
    for s in "${sets[@]}"; do render+=("--set=$s"); done
    run "helm lint" helm lint "$dir" "${render[@]}" "${values[@]}"
    $debug && render+=(--debug)
    run "helm template" helm template "$release" "$dir" "${render[@]}" "${values[@]}"
    run_hooks bitops.after-deploy.d
    return
  fi

  # Namespace: created when missing (helm's own dry run changes nothing).
  local create=()
  if ! $helm_dry_run; then
    if command -v kubectl >/dev/null 2>&1; then
      show kubectl "${kube_args[@]}" get namespace "$ns"
      if ! kubectl "${kube_args[@]}" get namespace "$ns" >/dev/null 2>&1; then
        run "kubectl create namespace" kubectl "${kube_args[@]}" create namespace "$ns"
      fi
    else
      say "chart $chart: kubectl not found: helm creates the namespace (--create-namespace)"
      create=(--create-namespace)
    fi
  fi

  # The revision to roll back to when the upgrade fails (helm does it itself with atomic).
  local previous="" history status
  if ! $atomic && ! $helm_dry_run; then
    show helm history "$release" "--namespace=$ns" --max=1 --output=json "${kube_args[@]}"
    if history=$(helm history "$release" "--namespace=$ns" --max=1 --output=json "${kube_args[@]}" 2>/dev/null); then
      status=$(sed -n 's/.*"status":[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$history" | head -n1)
      previous=$(sed -n 's/.*"revision":[[:space:]]*\([0-9][0-9]*\).*/\1/p' <<<"$history" | head -n1)
      [[ $status == deployed ]] || previous=""
    fi
  fi

  local rc=0
  show helm upgrade "$release" "$dir" --install "${words[@]}" "${create[@]}" "${values[@]}" "${kube_args[@]}"
  helm upgrade "$release" "$dir" --install "${words[@]}" "${create[@]}" "${values[@]}" "${kube_args[@]}" || rc=$?
  if ((rc != 0)); then
    if $atomic; then
      die "$rc" "chart $chart: helm upgrade --install failed (exit $rc); with atomic, helm itself rolled the release back (or removed a failed first install)"
    elif [[ -n $previous ]]; then
      say "chart $chart: helm upgrade --install failed (exit $rc): rolling release $release back to revision $previous"
      local rb=0
      show helm rollback "$release" "$previous" "--namespace=$ns" "${timeout_arg[@]}" "${kube_args[@]}"
      helm rollback "$release" "$previous" "--namespace=$ns" "${timeout_arg[@]}" "${kube_args[@]}" || rb=$?
      ((rb == 0)) || die "$rc" "chart $chart: helm upgrade --install failed (exit $rc), and rolling release $release back to revision $previous failed too (exit $rb)"
      die "$rc" "chart $chart: helm upgrade --install failed (exit $rc); release $release rolled back to revision $previous"
    fi
    die "$rc" "chart $chart: helm upgrade --install failed (exit $rc); release $release had no deployed revision to roll back to"
  fi
  run_hooks bitops.after-deploy.d
}

if [[ -n $kube_b64 ]] && ! $dry_run; then
  decode64 "$kube_b64" "$kube_file" ||
    die 1 "KUBECONFIG_BASE64 is not valid base64 (or decodes to nothing); encode the kubeconfig with \`base64 -w0 kubeconfig\`"
  say "kubeconfig from KUBECONFIG_BASE64 written to $(rel "$kube_file")"
fi

# One subshell per chart: the chart's resolved values (exported by resolve_chart) and
# every variable this script sets for it end with it. A failing chart stops the step
# (errexit) with its exit code; the charts after it are not deployed.
for chart in "${charts[@]}"; do
  (deploy_chart)
done
say "done: ${charts[*]}"
