#!/usr/bin/env bash
# Deploy script of the built-in cloudformation plugin (see README.md):
#   deploy.sh [deploy|delete]      ($1 = cli.stack-action)
# deploy: check the AWS identity (aws plugin helpers), validate the template, create a
# change set, show it, execute it and wait. A dry run (BITOPS_DRY_RUN=true) shows the
# change set and deletes it instead. delete: delete the stack and wait.
# After a deploy that ends well (changes, no changes or a dry run), the stack's outputs are
# appended to $BITOPS_OUTPUTS, when it is set, as one JSON object {"OutputKey": "OutputValue"}.
set -euo pipefail
export AWS_PAGER=""

say() { echo "cloudformation: $*"; }
warn() { echo "cloudformation: warning: $*" >&2; }
die() {
  local rc=$1
  shift
  echo "cloudformation: error: $*" >&2
  exit "$rc"
}
truthy() { [[ ${1,,} =~ ^(true|1|yes|on)$ ]]; }

action=${1:-${CFN_STACK_ACTION:-deploy}}
action=${action,,}

# CFN_SKIP_DEPLOY is options.skip-deploy; the other two are older spellings.
for var in CFN_SKIP_DEPLOY CLOUDFORMATION_SKIP_DEPLOY SKIP_DEPLOY_CLOUDFORMATION; do
  if truthy "${!var:-}"; then
    say "skip-deploy is set ($var=true): skipping ${BITOPS_DEPLOYMENT_ALIAS:-cloudformation}"
    exit 0
  fi
done

dry_run=false
if truthy "${BITOPS_DRY_RUN:-}"; then dry_run=true; fi
stack=${CFN_STACK_NAME:-}
[[ -n $stack ]] || die 1 "options.cfn-stack-name (CFN_STACK_NAME) is not set"
case $action in
deploy | delete) ;;
*) die 1 "unknown stack-action \`$action\`: use deploy or delete (cli.stack-action, CFN_STACK_ACTION)" ;;
esac
command -v aws >/dev/null 2>&1 ||
  die 127 "the AWS CLI (aws) is not on PATH; install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) or use the bitops image"
cd "${BITOPS_OPSREPO_ENVIRONMENT_DIR:-.}"

# The aws plugin's helpers: an installed aws plugin that has them, else the built-in one.
aws_dir=""
for dir in "${BITOPS_PLUGINS_DIR:+${BITOPS_PLUGINS_DIR%/}/aws}" "${BITOPS_BUILTIN_PLUGINS_DIR:+$BITOPS_BUILTIN_PLUGINS_DIR/aws}"; do
  if [[ -n $dir && -f $dir/check-identity.sh ]]; then
    aws_dir=$dir
    break
  fi
done
[[ -n $aws_dir ]] ||
  die 1 "the aws plugin's check-identity.sh was found neither in ${BITOPS_PLUGINS_DIR:-<BITOPS_PLUGINS_DIR unset>} nor in ${BITOPS_BUILTIN_PLUGINS_DIR:-<BITOPS_BUILTIN_PLUGINS_DIR unset>}"

poll=5           # seconds between status checks
wait_limit=3600  # give up waiting for a stack or change set after this many seconds

# State for the exit trap: a change set this run made and did not execute is deleted, and
# so is a stack this run created that is left empty in REVIEW_IN_PROGRESS.
cs=""
cs_made=false
cs_executed=false
created_by_us=false
errfile=$(mktemp "${TMPDIR:-/tmp}/bitops-cfn.XXXXXX")
out=""
err=""
status=""

# aws_capture ARGS...: runs `aws ARGS...`; its stdout goes to $out, its stderr to $err.
aws_capture() {
  local rc=0
  out=$(aws "$@" 2>"$errfile") || rc=$?
  err=$(<"$errfile")
  return "$rc"
}

# read_status: $status = the stack's status, NONE when there is no such stack.
read_status() {
  if aws_capture cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].StackStatus' --output text; then
    status=$out
  elif [[ $err == *"does not exist"* ]]; then
    status=NONE
  else
    return 1
  fi
}

stack_status() {
  local rc=0
  read_status || rc=$?
  if ((rc != 0)); then
    printf '%s\n' "$err" >&2
    die "$rc" "could not read the status of stack $stack (aws cloudformation describe-stacks)"
  fi
}

cleanup() {
  local rc=$?
  set +e
  if $cs_made && ! $cs_executed; then
    if aws cloudformation delete-change-set --stack-name "$stack" --change-set-name "$cs" >/dev/null 2>"$errfile"; then
      say "deleted change set $cs"
    else
      warn "could not delete change set $cs of stack $stack: $(<"$errfile")"
    fi
  fi
  if $created_by_us && ! $cs_executed && read_status && [[ $status == REVIEW_IN_PROGRESS ]]; then
    say "deleting the empty stack $stack (REVIEW_IN_PROGRESS) that the change set created"
    if aws cloudformation delete-stack --stack-name "$stack" 2>"$errfile"; then
      local waited=0
      while read_status && [[ $status != NONE && $status != DELETE_COMPLETE ]] && ((waited < 300)); do
        sleep 1
        waited=$((waited + 1))
      done
      [[ $status == NONE || $status == DELETE_COMPLETE ]] ||
        warn "stack $stack is still $status; delete it with: aws cloudformation delete-stack --stack-name $stack"
    else
      warn "could not delete the empty stack $stack: $(<"$errfile")"
    fi
  fi
  rm -f "$errfile"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_stack OK_STATUS...: waits until the stack is no longer *_IN_PROGRESS; succeeds when
# it ends in one of OK_STATUS.
wait_stack() {
  local last="" waited=0 ok
  while :; do
    stack_status
    if [[ $status != "$last" ]]; then
      if [[ $status == NONE ]]; then say "stack $stack: gone"; else say "stack $stack: $status"; fi
      last=$status
    fi
    [[ $status == *_IN_PROGRESS ]] || break
    ((waited < wait_limit)) || die 1 "stack $stack is still $status after ${wait_limit}s"
    sleep "$poll"
    waited=$((waited + poll))
  done
  for ok in "$@"; do
    [[ $status != "$ok" ]] || return 0
  done
  return 1
}

# The latest failure reasons of the stack's resources.
print_failures() {
  local events
  events=$(aws cloudformation describe-stack-events --stack-name "$stack" --max-items 100 \
    --query "StackEvents[?ends_with(ResourceStatus, 'FAILED')].[LogicalResourceId, ResourceStatus, ResourceStatusReason]" \
    --output text 2>/dev/null) || return 0
  [[ -n $events ]] || return 0
  echo "cloudformation: latest failures of stack $stack:"
  head -n 10 <<<"$events" | sed 's/^/  /'
}

no_changes() {
  [[ $1 == *"didn't contain changes"* || $1 == *"No updates are to be performed"* ]]
}

# wait_change_set: waits until change set $cs is created; fails when it FAILED, with the
# reason in $cs_reason.
cs_reason=""
wait_change_set() {
  local waited=0 cs_status rc
  while :; do
    rc=0
    aws_capture cloudformation describe-change-set --stack-name "$stack" --change-set-name "$cs" \
      --query '[Status, StatusReason]' --output text || rc=$?
    if ((rc != 0)); then
      printf '%s\n' "$err" >&2
      die "$rc" "could not read change set $cs of stack $stack"
    fi
    IFS=$'\t' read -r cs_status cs_reason <<<"$out"
    case $cs_status in
    CREATE_COMPLETE) return 0 ;;
    FAILED | DELETE_*) return 1 ;;
    esac
    ((waited < wait_limit)) || die 1 "change set $cs is still $cs_status after ${wait_limit}s"
    sleep "$poll"
    waited=$((waited + poll))
  done
}

show_change_set() {
  local type=$1 rc=0 act id rtype replacement
  aws_capture cloudformation describe-change-set --stack-name "$stack" --change-set-name "$cs" \
    --query 'Changes[].ResourceChange.[Action, LogicalResourceId, ResourceType, Replacement]' --output text || rc=$?
  if ((rc != 0)); then
    printf '%s\n' "$err" >&2
    die "$rc" "could not describe change set $cs of stack $stack"
  fi
  say "change set $cs ($type) of stack $stack:"
  if [[ -z $out ]]; then
    echo "  no resource changes"
  else
    while IFS=$'\t' read -r act id rtype replacement; do
      if [[ -z $replacement || $replacement == None ]]; then replacement=""; else replacement="  (replacement: $replacement)"; fi
      printf '  %-8s %-32s %s%s\n' "$act" "$id" "$rtype" "$replacement"
    done <<<"$out"
  fi
  rc=0
  aws_capture cloudformation describe-change-set --stack-name "$stack" --change-set-name "$cs" \
    --query 'Parameters[].[ParameterKey, ParameterValue]' --output text || rc=$?
  if ((rc == 0)) && [[ -n $out ]]; then
    while IFS=$'\t' read -r id act; do
      printf '  parameter %s = %s\n' "$id" "$act"
    done <<<"$out"
  fi
}

lint() {
  local template=$1 rc=0
  if ! truthy "${CFN_LINT:-true}"; then
    say "options.cfn-lint is false: not running cfn-lint"
  elif ! command -v cfn-lint >/dev/null 2>&1; then
    say "cfn-lint is not on PATH: skipping it (install it with \`pip install cfn-lint\` to lint templates)"
  else
    say "cfn-lint $template"
    cfn-lint -- "$template" || rc=$?
    # cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 notes.
    if ((rc == 0)); then
      say "cfn-lint: no findings"
    elif ((rc & 2 || rc & 1)); then
      die "$rc" "cfn-lint found errors in $template (above); fix them or set options.cfn-lint: false"
    else
      say "cfn-lint: warnings or notes only (exit $rc): continuing"
    fi
  fi
}

deploy() {
  local template=${CFN_TEMPLATE_FILENAME:-}
  [[ -n $template ]] || die 1 "options.cfn-files.template-file (CFN_TEMPLATE_FILENAME) is not set"
  [[ -f $template ]] || die 1 "template \`$template\` not found in the tool folder $PWD (options.cfn-files.template-file)"

  # Parameters: `enabled` (BitOps v1 name) wins over template-param-flag when set.
  local params=() flag=${CFN_PARAMS_ENABLED:-${CFN_PARAMS_FLAG:-true}} pfile=${CFN_TEMPLATE_PARAMS_FILENAME:-}
  if truthy "$flag"; then
    if [[ -n $pfile ]]; then
      [[ -f $pfile ]] || die 1 "parameters file \`$pfile\` not found in the tool folder $PWD (options.cfn-files.parameters.template-param-file)"
      params=(--parameters "file://$pfile")
      say "parameters from $pfile"
    else
      say "no parameters file (options.cfn-files.parameters.template-param-file is not set)"
    fi
  elif [[ -n $pfile ]]; then
    say "parameters are off (cfn-files.parameters.template-param-flag or enabled is false): $pfile is not used"
  fi

  local caps=() cap_args=()
  local capstr=${CFN_CAPABILITY:-}
  read -r -a caps <<<"${capstr//,/ }"
  if ((${#caps[@]} > 0)); then cap_args=(--capabilities "${caps[@]}"); fi

  # Where CloudFormation reads the template from: inline, or S3 after uploading the tool
  # folder (as BitOps does: both s3bucket and s3prefix must be set).
  local tpl=(--template-body "file://$template") remote=true size rc=0
  local bucket=${CFN_TEMPLATE_S3_BUCKET:-} prefix=${CFN_S3_PREFIX:-}
  size=$(wc -c <"$template")
  if [[ -n $bucket && -n $prefix ]]; then
    prefix=${prefix#/}
    prefix=${prefix%/}
    if $dry_run; then
      say "dry run: not uploading to s3://$bucket/$prefix/; the template is passed inline"
    else
      say "uploading the tool folder to s3://$bucket/$prefix/"
      aws s3 sync . "s3://$bucket/$prefix/" --no-progress --exclude 'bitops.config.yaml' \
        --exclude 'bitops.before-deploy.d/*' --exclude 'bitops.after-deploy.d/*' --exclude 'ENV_FILE' || rc=$?
      ((rc == 0)) || die "$rc" "uploading the tool folder to s3://$bucket/$prefix/ failed (its message is above)"
      tpl=(--template-url "https://$bucket.s3.amazonaws.com/$prefix/${template#./}")
    fi
  elif [[ -n $bucket || -n $prefix ]]; then
    warn "options.s3bucket and options.s3prefix must both be set to deploy from S3; passing the template inline"
  fi
  if [[ ${tpl[0]} == --template-body ]] && ((size > 51200)); then
    if $dry_run; then
      remote=false
      warn "dry run: $template is $size bytes, over CloudFormation's 51,200-byte limit for inline templates, and a dry run uploads nothing to S3: no change set is made"
    else
      die 1 "$template is $size bytes, over CloudFormation's 51,200-byte limit for inline templates: set options.s3bucket and options.s3prefix to deploy it from S3"
    fi
  fi

  if truthy "${CFN_TEMPLATE_VALIDATION:-true}"; then
    if $remote; then
      say "aws cloudformation validate-template ($template)"
      aws cloudformation validate-template "${tpl[@]}" >/dev/null || rc=$?
      ((rc == 0)) || die "$rc" "template $template is not valid: aws cloudformation validate-template exited with $rc (its message is above)"
      say "template $template is valid"
    fi
    lint "$template"
  else
    say "validate-cfn is false: the template is not validated"
  fi
  $remote || return 0

  stack_status
  local type=UPDATE
  case $status in
  NONE | REVIEW_IN_PROGRESS) type=CREATE ;;
  ROLLBACK_COMPLETE)
    die 1 "stack $stack is ROLLBACK_COMPLETE: its creation failed and CloudFormation can only delete it; run once with stack-action: delete, then deploy again"
    ;;
  esac
  if [[ $status == NONE ]]; then
    say "stack $stack does not exist yet"
    created_by_us=true
  else
    say "stack $stack: $status"
  fi

  cs="bitops-$(date -u +%Y%m%d%H%M%S)-$RANDOM"
  say "creating change set $cs ($type)"
  aws_capture cloudformation create-change-set --stack-name "$stack" --change-set-name "$cs" \
    --change-set-type "$type" "${tpl[@]}" "${params[@]}" "${cap_args[@]}" \
    --description "bitops ${BITOPS_ENVIRONMENT:-}/${BITOPS_DEPLOYMENT_ALIAS:-}" --query Id --output text || rc=$?
  if ((rc != 0)); then
    if no_changes "$err"; then
      say "no changes: stack $stack is up to date"
      return 0
    fi
    printf '%s\n' "$err" >&2
    die "$rc" "could not create a change set for stack $stack"
  fi
  cs_made=true
  if ! wait_change_set; then
    if no_changes "$cs_reason"; then
      say "no changes: stack $stack is up to date"
      return 0
    fi
    die 1 "change set $cs of stack $stack failed: $cs_reason"
  fi
  show_change_set "$type"

  if $dry_run; then
    say "dry run: change set $cs is not executed"
    return 0
  fi
  say "executing change set $cs"
  aws cloudformation execute-change-set --stack-name "$stack" --change-set-name "$cs" || rc=$?
  ((rc == 0)) || die "$rc" "executing change set $cs of stack $stack failed (its message is above)"
  cs_executed=true
  if ! wait_stack CREATE_COMPLETE UPDATE_COMPLETE IMPORT_COMPLETE; then
    print_failures
    if [[ $status == ROLLBACK_COMPLETE ]]; then
      say "a stack whose creation failed can only be deleted: fix the template, run once with stack-action: delete, then deploy again"
    fi
    die 1 "deploying stack $stack failed: it ended in $status"
  fi
  aws_capture cloudformation describe-stacks --stack-name "$stack" \
    --query 'Stacks[0].Outputs[].[OutputKey, OutputValue]' --output text || true
  local key value
  while IFS=$'\t' read -r key value; do
    [[ -z $key || $key == None ]] || printf '  output %s = %s\n' "$key" "$value"
  done <<<"$out"
  say "stack $stack deployed"
}

# json_strings TEXT: the elements of TEXT, a JSON array of strings and nulls (nested arrays
# are flattened), into the array $tokens, each exactly as written in TEXT: a JSON string
# literal, escapes kept, or `null`. Fails when TEXT holds anything else.
tokens=()
json_strings() {
  local rest=$1 re='^[][:space:],[]*("([^"\\]|\\.)*"|null)'
  tokens=()
  while [[ $rest =~ $re ]]; do
    tokens+=("${BASH_REMATCH[1]}")
    rest=${rest:${#BASH_REMATCH[0]}}
  done
  [[ $rest =~ ^[][:space:],[]*$ ]]
}

# publish_outputs: the stack's outputs appended to $BITOPS_OUTPUTS (when it is set) as one
# JSON object, {"OutputKey": "OutputValue", ...}. The values are the AWS CLI's own JSON
# string literals, copied as they are, so any value (newlines, quotes, non-ASCII) stays
# exact. Outputs that cannot be read are a warning; a file that cannot be written is an error.
publish_outputs() {
  [[ -n ${BITOPS_OUTPUTS:-} ]] || return 0
  if ! aws_capture cloudformation describe-stacks --stack-name "$stack" \
    --query 'Stacks[0].Outputs[].[OutputKey, OutputValue][]' --output json; then
    if [[ $err == *"does not exist"* ]]; then
      say "stack $stack does not exist: no outputs to publish"
    else
      warn "could not read the outputs of stack $stack: nothing published to BITOPS_OUTPUTS: $err"
    fi
    return 0
  fi
  # A stack without outputs: `null` (an empty answer from other CLI versions).
  if [[ $out =~ ^[[:space:]]*(null)?[[:space:]]*$ ]]; then
    say "stack $stack has no outputs to publish"
    return 0
  fi
  if ! json_strings "$out" || ((${#tokens[@]} % 2 != 0)); then
    warn "could not read the outputs of stack $stack (unexpected answer from aws cloudformation describe-stacks): nothing published to BITOPS_OUTPUTS"
    return 0
  fi
  local i key value entries=() names=()
  for ((i = 0; i < ${#tokens[@]}; i += 2)); do
    key=${tokens[i]}
    value=${tokens[i + 1]}
    if [[ $key == null || $value == null ]]; then
      warn "an output of stack $stack without a key or a value (${key}) is not published"
      continue
    fi
    entries+=("$key: $value")
    names+=("${key:1:${#key}-2}")
  done
  if ((${#entries[@]} == 0)); then
    say "stack $stack has no outputs to publish"
    return 0
  fi
  local body
  body=$(printf ', %s' "${entries[@]}")
  printf '{%s}\n' "${body:2}" >>"$BITOPS_OUTPUTS" ||
    die 1 "could not append the outputs of stack $stack to BITOPS_OUTPUTS ($BITOPS_OUTPUTS)"
  say "outputs published to BITOPS_OUTPUTS: ${names[*]}"
}

delete_stack() {
  local rc=0
  stack_status
  if [[ $status == NONE ]]; then
    say "stack $stack does not exist: nothing to delete"
    return 0
  fi
  if $dry_run; then
    aws_capture cloudformation list-stack-resources --stack-name "$stack" \
      --query 'StackResourceSummaries[].[ResourceType, LogicalResourceId, PhysicalResourceId]' --output text || rc=$?
    if ((rc != 0)); then
      printf '%s\n' "$err" >&2
      die "$rc" "could not list the resources of stack $stack"
    fi
    say "dry run: stack $stack ($status) is not deleted; it holds:"
    if [[ -z $out ]]; then echo "  no resources"; fi
    local line
    while IFS= read -r line; do
      [[ -z $line ]] || printf '  %s\n' "${line//$'\t'/  }"
    done <<<"$out"
    return 0
  fi
  say "deleting stack $stack ($status)"
  aws cloudformation delete-stack --stack-name "$stack" || rc=$?
  ((rc == 0)) || die "$rc" "deleting stack $stack failed (its message is above)"
  if ! wait_stack DELETE_COMPLETE NONE; then
    print_failures
    die 1 "deleting stack $stack failed: it ended in $status"
  fi
  say "stack $stack deleted"
}

if $dry_run; then
  say "stack $stack: $action (dry run: nothing is changed)"
else
  say "stack $stack: $action"
fi
bash "$aws_dir/check-identity.sh"
case $action in
deploy)
  deploy
  publish_outputs
  ;;
delete) delete_stack ;;
esac
