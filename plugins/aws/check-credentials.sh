#!/usr/bin/env bash
# Helper of the aws plugin, also run by other plugins (cloudformation, helm):
#   bash "$aws_plugin_dir/check-credentials.sh"
# Checks that the AWS credentials are in the environment and says which are missing and
# how to set them. Never prints a secret value. Exit 0 when complete, 1 otherwise.
set -euo pipefail

names=()
missing=()
add() {
  names+=("$1")
  missing+=("$(printf '  %-22s %s' "$1" "$2")")
}

[[ -n ${AWS_ACCESS_KEY_ID:-} ]] || add AWS_ACCESS_KEY_ID "the access key ID of the IAM user or role session"
[[ -n ${AWS_SECRET_ACCESS_KEY:-} ]] || add AWS_SECRET_ACCESS_KEY "the secret access key that belongs to it"
if [[ -z ${AWS_DEFAULT_REGION:-} ]]; then
  if [[ -n ${AWS_REGION:-} ]]; then
    add AWS_DEFAULT_REGION "the region to work in (AWS_REGION is set to ${AWS_REGION}; set AWS_DEFAULT_REGION too)"
  else
    add AWS_DEFAULT_REGION "the region to work in, e.g. us-east-1"
  fi
fi
# A key ID starting with ASIA belongs to temporary credentials, which need their session token.
if [[ ${AWS_ACCESS_KEY_ID:-} == ASIA* && -z ${AWS_SESSION_TOKEN:-} ]]; then
  add AWS_SESSION_TOKEN "the session token (AWS_ACCESS_KEY_ID is a temporary key, ASIA...)"
fi

if ((${#missing[@]} > 0)); then
  {
    list=$(printf '%s, ' "${names[@]}")
    echo "aws: error: missing AWS settings: ${list%, }"
    printf 'aws: error: %s\n' "${missing[@]}"
    echo "aws: error: set them in the environment that runs bitops, e.g. \`export AWS_ACCESS_KEY_ID=...\` (or a CI secret), or \`docker run -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_DEFAULT_REGION ...\`; temporary credentials also need AWS_SESSION_TOKEN"
  } >&2
  exit 1
fi

token="not set (optional)"
[[ -z ${AWS_SESSION_TOKEN:-} ]] || token="set"
endpoint=""
[[ -z ${AWS_ENDPOINT_URL:-} ]] || endpoint=", endpoint ${AWS_ENDPOINT_URL}"
echo "aws: credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set, AWS_SESSION_TOKEN ${token}, region ${AWS_DEFAULT_REGION}${endpoint}"
