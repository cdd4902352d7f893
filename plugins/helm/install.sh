#!/usr/bin/env bash
# Install-time check of the built-in helm plugin: helm must already be on PATH
# (nothing is downloaded); kubectl is optional.
set -euo pipefail

if ! command -v helm >/dev/null 2>&1; then
  echo "helm: error: helm not found on PATH; install Helm 3 or 4 (https://helm.sh/docs/intro/install/) and put it on PATH" >&2
  exit 127
fi
echo "helm: found $(command -v helm) ($(helm version --short 2>/dev/null || echo 'version unknown'))"
if command -v kubectl >/dev/null 2>&1; then
  echo "helm: found $(command -v kubectl) (namespaces are created with kubectl)"
else
  echo "helm: kubectl not found on PATH: namespaces will be created with helm --create-namespace"
fi
