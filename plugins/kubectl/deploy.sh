#!/usr/bin/env bash
# Built-in kubectl plugin: decodes KUBECONFIG_BASE64 into $BITOPS_KUBE_CONFIG_FILE
# (the workspace's .kube/config, mode 600) so that later steps and hooks can use it.
# The kubeconfig is checked with `kubectl config` (offline) and never printed.
# Inputs: KUBECONFIG_BASE64 (or BITOPS_KUBECONFIG_BASE64), KUBECTL_SKIP_DEPLOY,
# BITOPS_DRY_RUN (the file is written all the same: it stays in the private workspace).
set -euo pipefail

say() { printf 'kubectl: %s\n' "$*"; }
die() {
  local code=$1
  shift
  printf 'kubectl: error: %s\n' "$*" >&2
  exit "$code"
}
is_true() {
  case "${1,,}" in
    true | 1 | yes | on) return 0 ;;
    *) return 1 ;;
  esac
}

if is_true "${KUBECTL_SKIP_DEPLOY:-}"; then
  say "skip-deploy is set: nothing to do"
  exit 0
fi
b64=${KUBECONFIG_BASE64:-${BITOPS_KUBECONFIG_BASE64:-}}
[[ -n $b64 ]] ||
  die 1 "KUBECONFIG_BASE64 is not set: set it to the base64 of a kubeconfig file (\`base64 -w0 ~/.kube/config\`)"
file=${BITOPS_KUBE_CONFIG_FILE:-}
[[ -n $file ]] || die 1 "BITOPS_KUBE_CONFIG_FILE is not set: run this plugin with bitops"
shown=${file#"${BITOPS_TEMPDIR:-}"/}

dir=$(dirname "$file")
(umask 077 && mkdir -p "$dir")
tmp=$(mktemp "$dir/.config.XXXXXX") # mode 600
trap 'rm -f "$tmp"' EXIT
printf '%s' "$b64" | tr -d ' \t\r\n' | base64 -d >"$tmp" 2>/dev/null ||
  die 1 "KUBECONFIG_BASE64 is not valid base64; encode the kubeconfig with \`base64 -w0 kubeconfig\`"
[[ -s $tmp ]] || die 1 "KUBECONFIG_BASE64 decodes to nothing"

# Offline check; kubectl's own message could quote the file, so it is not shown.
contexts=""
if command -v kubectl >/dev/null 2>&1; then
  contexts=$(kubectl config get-contexts --kubeconfig="$tmp" -o name 2>/dev/null) ||
    die 1 "KUBECONFIG_BASE64 does not decode to a kubeconfig that kubectl can read"
else
  say "kubectl not found on PATH: the kubeconfig is written without being checked"
fi
chmod 600 "$tmp"
mv -f "$tmp" "$file"
trap - EXIT

if is_true "${BITOPS_DRY_RUN:-}"; then
  say "dry run: the kubeconfig is written into the private workspace only; no cluster is contacted"
fi
say "kubeconfig from KUBECONFIG_BASE64 written to $shown (mode 600)"
if [[ -n $contexts ]]; then
  say "contexts: $(printf '%s' "$contexts" | paste -sd ' ' -)"
elif command -v kubectl >/dev/null 2>&1; then
  say "warning: the kubeconfig has no contexts"
fi
