#!/usr/bin/env bash
# Install-time check of the built-in aws plugin: the AWS CLI must already be on PATH.
set -euo pipefail

if ! command -v aws >/dev/null 2>&1; then
  echo "aws: error: the AWS CLI (aws) is not on PATH; install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and put it on PATH" >&2
  exit 127
fi
echo "aws: found $(command -v aws)"
AWS_PAGER="" aws --version 2>&1
