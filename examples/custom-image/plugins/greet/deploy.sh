#!/usr/bin/env bash
# The deploy script: runs in the tool folder with the settings as variables.
set -euo pipefail
echo "greet: ${GREET_MESSAGE} from ${BITOPS_ENVIRONMENT} (plugin installed $(cat "$BITOPS_INSTALLED_PLUGIN_DIR/installed-at" 2>/dev/null || echo '?'))"
