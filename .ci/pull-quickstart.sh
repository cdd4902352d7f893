#!/usr/bin/env bash
# Runs the README's pull-based quick start verbatim (the code block after "Quick start,
# verbatim") from the repository root, then checks that its deployment succeeded and
# that the planted secret reached neither the hub's database nor its log.
set -euo pipefail
cd "$(dirname "$0")/.."
block=$(awk '/^Quick start, verbatim/ {found = 1} found && /^```sh/ {inside = 1; next} inside && /^```/ {exit} inside {print}' README.md)
[[ -n $block ]] || { echo "pull-quickstart: no quick-start block in README.md" >&2; exit 1; }
rm -rf /tmp/bitops-pull
out=$(mktemp)
# The block ends by stopping the hub and the agent it started (kill %1 %2).
timeout 120 bash -euo pipefail -c "$block" >"$out" 2>&1 || { cat "$out"; exit 1; }
cat "$out"
grep -q '#1  succeeded' "$out" || { echo "pull-quickstart: deployment 1 did not succeed" >&2; exit 1; }
if grep -rq 's3cr3t-value-123' /tmp/bitops-pull/hub "$out"; then
  echo "pull-quickstart: the agent's secret reached the hub or the output" >&2
  exit 1
fi
echo "pull-quickstart: ok"
