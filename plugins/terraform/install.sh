#!/usr/bin/env bash
# Install-time check of the built-in terraform plugin: the tool must already be on PATH.
set -euo pipefail

if ! command -v terraform >/dev/null 2>&1; then
  echo "terraform: error: terraform not found on PATH; install Terraform (https://developer.hashicorp.com/terraform/install) and put it on PATH" >&2
  exit 127
fi
echo "terraform: found $(command -v terraform)"
CHECKPOINT_DISABLE=1 terraform version
