#!/usr/bin/env bash
# Deploy script of the built-in aws plugin: checks the AWS credentials and the identity
# they belong to, then (options.eks-cluster-name) writes an EKS cluster's kubeconfig to
# $BITOPS_KUBE_CONFIG_FILE for the steps that follow. Changes nothing in AWS, so a dry
# run does the same.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
truthy() { [[ ${1,,} =~ ^(true|1|yes|on)$ ]]; }

if truthy "${AWS_SKIP_DEPLOY:-}"; then
  echo "aws: options.skip-deploy (AWS_SKIP_DEPLOY) is true: skipping ${BITOPS_DEPLOYMENT_ALIAS:-aws}"
  exit 0
fi
if truthy "${BITOPS_DRY_RUN:-}"; then
  echo "aws: dry run: the checks below only read from AWS"
fi

bash "$here/check-identity.sh"

if [[ -n ${AWS_EKS_CLUSTER_NAME:-} ]]; then
  bash "$here/eks.update-kubeconfig.sh" "$AWS_EKS_CLUSTER_NAME" "${BITOPS_KUBE_CONFIG_FILE:?BITOPS_KUBE_CONFIG_FILE is not set}"
fi
