#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600) and prints executions and findings.
# cargo-fuzz wants nightly; RUSTC_BOOTSTRAP=1 lets the stable toolchain build it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
mkdir -p fuzz/logs
for target in core_config schema_resolution default_merge; do
  mkdir -p "fuzz/corpus/$target"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"fuzz/logs/$target.log" 2>&1 || true
  printf '%-18s %s; %s\n' "$target" \
    "$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/logs/$target.log" | tail -1)" \
    "$(grep -c 'SUMMARY\|panicked' "fuzz/logs/$target.log" || true) findings"
done
