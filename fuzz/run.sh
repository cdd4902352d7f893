#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), prints executions and findings,
# and exits 1 if any target found a crash (kept in fuzz/artifacts/TARGET/).
# cargo-fuzz wants nightly; RUSTC_BOOTSTRAP=1 lets the stable toolchain build it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
mkdir -p fuzz/logs
found=0
for target in core_config schema_resolution default_merge masker env_vars outputs; do
  mkdir -p "fuzz/corpus/$target"
  status=0
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"fuzz/logs/$target.log" 2>&1 || status=$?
  [ "$status" -eq 0 ] || found=1
  printf '%-18s %s; exit %s\n' "$target" \
    "$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/logs/$target.log" | tail -1)" "$status"
  [ "$status" -eq 0 ] || tail -30 "fuzz/logs/$target.log"
done
exit "$found"
