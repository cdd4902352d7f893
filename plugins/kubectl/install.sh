#!/usr/bin/env bash
# Install-time check of the built-in kubectl plugin: kubectl must already be on PATH
# (nothing is downloaded).
set -euo pipefail

if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl: error: kubectl not found on PATH; install it (https://kubernetes.io/docs/tasks/tools/) and put it on PATH" >&2
  exit 127
fi
echo "kubectl: found $(command -v kubectl)"
kubectl version --client
