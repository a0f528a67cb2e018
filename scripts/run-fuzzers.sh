#!/usr/bin/env bash
# Runs every libFuzzer binary in DIR for SECONDS each, starting from the checked-in seed
# corpus (fuzz/corpus/<name>) when there is one. Fails on the first crash.
set -euo pipefail
dir=${1:?usage: run-fuzzers.sh BUILD_DIR SECONDS}
seconds=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for fuzzer in "$dir"/fuzz_*; do
  [[ -x $fuzzer ]] || continue
  name=$(basename "$fuzzer")
  work=$(mktemp -d)
  seeds="$root/fuzz/corpus/${name#fuzz_}"
  [[ -d $seeds ]] && cp -r "$seeds"/. "$work"/
  echo "fuzz: $name for ${seconds}s"
  if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=0 -artifact_prefix="$dir/$name-" \
      "$work" >"$dir/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see $dir/$name.log" >&2
    tail -40 "$dir/$name.log" >&2
    status=1
  fi
  rm -rf "$work"
done
exit $status
