#!/usr/bin/env bash
# Helper of the aws plugin, run by the helm plugin and by the aws plugin's deploy.sh:
#   bash "$aws_plugin_dir/eks.update-kubeconfig.sh" [CLUSTER [KUBECONFIG_FILE]]
# Writes the kubeconfig of an EKS cluster with `aws eks update-kubeconfig`.
#   CLUSTER          default: $CLUSTER_NAME (the name BitOps' helm plugin passes)
#   KUBECONFIG_FILE  default: $BITOPS_KUBE_CONFIG_FILE, else $KUBECONFIG
set -euo pipefail
export AWS_PAGER=""

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cluster=${1:-${CLUSTER_NAME:-}}
file=${2:-${BITOPS_KUBE_CONFIG_FILE:-${KUBECONFIG:-}}}
if [[ -z $cluster ]]; then
  echo "aws: error: eks.update-kubeconfig.sh: no cluster name: pass it as the first argument or in CLUSTER_NAME" >&2
  exit 2
fi
if [[ -z $file ]]; then
  echo "aws: error: eks.update-kubeconfig.sh: no kubeconfig file: pass it as the second argument or set BITOPS_KUBE_CONFIG_FILE" >&2
  exit 2
fi
if ! command -v aws >/dev/null 2>&1; then
  echo "aws: error: the AWS CLI (aws) is not on PATH; it is needed to fetch the kubeconfig of EKS cluster ${cluster}" >&2
  exit 127
fi
bash "$here/check-credentials.sh"

mkdir -p "$(dirname "$file")"
echo "aws: aws eks update-kubeconfig --name ${cluster} --kubeconfig ${file}"
rc=0
aws eks update-kubeconfig --name "$cluster" --kubeconfig "$file" || rc=$?
if ((rc != 0)); then
  echo "aws: error: could not fetch the kubeconfig of EKS cluster ${cluster} in ${AWS_DEFAULT_REGION} (\`aws eks update-kubeconfig\` exited with $rc; its message is above)" >&2
  exit "$rc"
fi
chmod 600 "$file"
