#!/usr/bin/env bash
# Install-time check of the built-in ansible plugin: the tool must already be on PATH.
set -euo pipefail

if ! command -v ansible-playbook >/dev/null 2>&1; then
  echo "ansible: error: ansible-playbook not found on PATH; install ansible-core (pip install ansible-core) and put it on PATH" >&2
  exit 127
fi
echo "ansible: found $(command -v ansible-playbook)"
version=$(ansible-playbook --version)
echo "${version%%$'\n'*}"
