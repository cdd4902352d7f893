#!/usr/bin/env bash
# Helper of the aws plugin, also run by other plugins (cloudformation, helm):
#   bash "$aws_plugin_dir/check-credentials.sh"
# Asks the AWS CLI whether it has working credentials (`aws sts get-caller-identity`), from
# any source it accepts: variables, a profile in the config and credentials files (keys,
# SSO, credential_process, an assumed role), web identity (AWS_WEB_IDENTITY_TOKEN_FILE +
# AWS_ROLE_ARN), container or instance-profile credentials; and checks that a region is set.
# Prints where the credentials came from, the region and the identity, never a secret.
# When no source works, lists the sources the CLI tried and how to set each.
# Exit 0 when they work; 1 without a region; 127 without the CLI; else the CLI's code.
set -euo pipefail
export AWS_PAGER=""

say() { printf 'aws: %s\n' "$*"; }
err() { printf 'aws: error: %s\n' "$*"; }

if ! command -v aws >/dev/null 2>&1; then
  err "the AWS CLI (aws) is not on PATH; install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) or use the bitops image" >&2
  exit 127
fi
profile=${AWS_PROFILE:-${AWS_DEFAULT_PROFILE:-}}
profile_text=${profile:-default}
config_file=${AWS_CONFIG_FILE:-$HOME/.aws/config}
credentials_file=${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}

# 1. The region: the variable, else the profile's `region` (AWS CLI v2 also reads AWS_REGION).
region=${AWS_DEFAULT_REGION:-} region_from=AWS_DEFAULT_REGION
cli_major=$(aws --version 2>&1 | sed -n 's|^aws-cli/\([0-9]*\).*|\1|p')
if [[ -z $region && -n ${AWS_REGION:-} && ${cli_major:-1} -ge 2 ]]; then
  region=$AWS_REGION region_from=AWS_REGION
fi
if [[ -z $region ]]; then
  region=$(aws configure get region 2>/dev/null || true) region_from="profile $profile_text"
fi
if [[ -z $region ]]; then
  {
    if [[ -n ${AWS_REGION:-} ]]; then
      err "no AWS region for AWS CLI v${cli_major:-1}: AWS_REGION is set to ${AWS_REGION}, which this CLI does not read; set AWS_DEFAULT_REGION too"
    else
      err "no AWS region: set AWS_DEFAULT_REGION (e.g. \`-e AWS_DEFAULT_REGION=us-east-1\`), or \`region = ...\` in profile $profile_text of $config_file"
    fi
  } >&2
  exit 1
fi
# A temporary key (ASIA...) without its session token cannot work: say so before asking.
if [[ ${AWS_ACCESS_KEY_ID:-} == ASIA* && -z ${AWS_SESSION_TOKEN:-} ]]; then
  err "AWS_ACCESS_KEY_ID is a temporary key (ASIA...), which needs its session token: set AWS_SESSION_TOKEN too" >&2
  exit 1
fi

# 2. Ask the CLI.
errors=$(mktemp "${TMPDIR:-/tmp}/aws-check.XXXXXX")
trap 'rm -f "$errors"' EXIT
rc=0
identity=$(aws sts get-caller-identity --query '[Account, Arn]' --output text 2>"$errors") || rc=$?
if ((rc != 0)); then
  cat "$errors" >&2
  if ! grep -qiE 'unable to locate credentials|no credentials|could not be found|NoCredentialProviders' "$errors"; then
    err "identity check failed: \`aws sts get-caller-identity\` exited with $rc (its message is above); check that the credentials are valid and active for region ${region}" >&2
    exit "$rc"
  fi
  # What each source looks like here (set or not, never a value), and how to set it.
  state() { if [[ -n ${!1:-} ]]; then printf 'set'; else printf 'not set'; fi; }
  file_state() {
    if [[ ! -e $1 ]]; then
      printf '%s: missing' "$1"
    elif [[ ! -r $1 ]]; then
      printf '%s: not readable by uid %s' "$1" "$(id -u)"
    elif grep -qE "^\[(profile )?${profile_text}\]" "$1"; then
      printf '%s: has [%s]' "$1" "$profile_text"
    else
      printf '%s: no [%s]' "$1" "$profile_text"
    fi
  }
  imds="tried (nothing answered)"
  [[ ${AWS_EC2_METADATA_DISABLED:-} =~ ^[Tt][Rr][Uu][Ee]$ ]] && imds="off (AWS_EC2_METADATA_DISABLED=true)"
  {
    err "the AWS CLI found no credentials; it looked at, in order:"
    err "  1. variables         AWS_ACCESS_KEY_ID $(state AWS_ACCESS_KEY_ID), AWS_SECRET_ACCESS_KEY $(state AWS_SECRET_ACCESS_KEY)"
    err "                       set: docker run -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY [-e AWS_SESSION_TOKEN] -e AWS_DEFAULT_REGION ..."
    profile_state="not set (profile default)"
    [[ -z $profile ]] || profile_state="set: $profile"
    err "  2. profile           AWS_PROFILE $profile_state; $(file_state "$credentials_file"); $(file_state "$config_file")"
    err "                       set: docker run -v ~/.aws:/root/.aws:ro -e AWS_PROFILE=NAME ... (keys, sso_session, credential_process or role_arn in that profile)"
    err "  3. web identity      AWS_WEB_IDENTITY_TOKEN_FILE $(state AWS_WEB_IDENTITY_TOKEN_FILE), AWS_ROLE_ARN $(state AWS_ROLE_ARN)"
    err "                       set: both (EKS service accounts and CI OIDC set them), with the token file mounted"
    err "  4. container         AWS_CONTAINER_CREDENTIALS_RELATIVE_URI $(state AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), AWS_CONTAINER_CREDENTIALS_FULL_URI $(state AWS_CONTAINER_CREDENTIALS_FULL_URI)"
    err "                       set: by ECS and CodeBuild for their tasks"
    err "  5. instance profile  EC2 instance metadata: $imds"
    err "                       set: an IAM role on the instance the run is on"
  } >&2
  exit "$rc"
fi
read -r account arn <<<"$identity"

# 3. Where the CLI found them: the `Type` column of `aws configure list`'s access_key row.
# The row is `access_key VALUE TYPE [LOCATION]`, VALUE `****…` or `<not set>`.
source_type=$(aws configure list 2>/dev/null |
  awk '$1 == "access_key" { print ($2 == "<not" ? $4 : $3) }') || true
case $source_type in
  env) from="the variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY${AWS_SESSION_TOKEN:+, AWS_SESSION_TOKEN})" ;;
  shared-credentials-file) from="profile $profile_text in $credentials_file" ;;
  config-file) from="profile $profile_text in $config_file" ;;
  custom-process) from="profile $profile_text: credential_process" ;;
  assume-role) from="profile $profile_text: role_arn (assumed role)" ;;
  assume-role-with-web-identity) from="web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)" ;;
  sso) from="profile $profile_text: SSO" ;;
  container-role) from="container credentials" ;;
  iam-role) from="the instance profile (EC2 instance metadata)" ;;
  "") from="a source the CLI did not name" ;;
  *) from="$source_type" ;;
esac
endpoint=""
[[ -z ${AWS_ENDPOINT_URL:-} ]] || endpoint=", endpoint ${AWS_ENDPOINT_URL}"
say "credentials: from ${from}, region ${region} (${region_from})${endpoint}"
say "identity: account ${account}, ${arn}"
