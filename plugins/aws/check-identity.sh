#!/usr/bin/env bash
# Helper of the aws plugin, also run by other plugins (cloudformation):
#   bash "$aws_plugin_dir/check-identity.sh"
# Runs check-credentials.sh, then `aws sts get-caller-identity`, and prints the account and
# ARN the credentials belong to. On failure the AWS CLI's own message is shown and its exit
# code is passed on.
set -euo pipefail
export AWS_PAGER=""

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v aws >/dev/null 2>&1; then
  echo "aws: error: the AWS CLI (aws) is not on PATH; install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) or use the bitops image" >&2
  exit 127
fi
bash "$here/check-credentials.sh"

rc=0
identity=$(aws sts get-caller-identity --query '[Account, Arn]' --output text) || rc=$?
if ((rc != 0)); then
  echo "aws: error: identity check failed: \`aws sts get-caller-identity\` exited with $rc (its message is above); check that the credentials are valid and active for region ${AWS_DEFAULT_REGION}" >&2
  exit "$rc"
fi
read -r account arn <<<"$identity"
echo "aws: identity: account ${account}, ${arn}"
