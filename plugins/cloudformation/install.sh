#!/usr/bin/env bash
# Install-time check of the built-in cloudformation plugin: the AWS CLI must already be on
# PATH; cfn-lint is optional (used when validate-cfn and cfn-lint are true).
set -euo pipefail

if ! command -v aws >/dev/null 2>&1; then
  echo "cloudformation: error: the AWS CLI (aws) is not on PATH; install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and put it on PATH" >&2
  exit 127
fi
echo "cloudformation: found $(command -v aws)"
AWS_PAGER="" aws --version 2>&1
if command -v cfn-lint >/dev/null 2>&1; then
  echo "cloudformation: found $(command -v cfn-lint)"
  cfn-lint --version 2>&1
else
  echo "cloudformation: cfn-lint is not on PATH (optional: \`pip install cfn-lint\` to lint templates before deploying)"
fi
