#!/usr/bin/env bash
# Helper of the aws plugin, also run by other plugins (cloudformation):
#   bash "$aws_plugin_dir/check-identity.sh"
# The same check as check-credentials.sh, which asks the AWS CLI for the identity of the
# credentials it finds (`aws sts get-caller-identity`) and prints where they came from, the
# region, and the account and ARN; kept under this name for the plugins that call it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec bash "$here/check-credentials.sh"
