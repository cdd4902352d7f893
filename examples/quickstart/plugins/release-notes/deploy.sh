#!/usr/bin/env bash
# Deploy script of the release-notes example plugin. Settings arrive as variables
# resolved by bitops from the tool folder's bitops.config.yaml and the schema.
set -euo pipefail
action="${1:-preview}"
if [ "${NOTES_SKIP:-false}" = "true" ]; then
  echo "skip-deploy is set: nothing to do for ${BITOPS_DEPLOYMENT_ALIAS}"
  exit 0
fi
cd "$BITOPS_OPSREPO_ENVIRONMENT_DIR"
# The composed CLI, with values containing spaces kept whole.
eval "set -- $BITOPS_RELEASE_NOTES_CLI_QUOTED"
echo "arguments: $*"
notes="$BITOPS_OPSREPO_ENVIRONMENT_DIR/RELEASE-NOTES.txt"
{
  echo "# ${BITOPS_DEPLOYMENT_ALIAS} in ${BITOPS_ENVIRONMENT} (${NOTES_REGION}), team ${NOTES_TEAM:-unknown}"
  for f in *; do echo "- $f"; done
} > "$notes"
cat "$notes"
case "$action" in
  preview) echo "preview only: run with stack-action publish to publish" ;;
  publish) echo "published ${BITOPS_DEPLOYMENT_ALIAS} notes (token=${NOTES_TOKEN:-s3cr3t-demo})" ;;
  *) echo "unknown stack-action: $action" >&2; exit 2 ;;
esac
