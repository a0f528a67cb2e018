# What the CLI test scripts share: scripts/lib/harness.sh, an exit trap that stops every
# process and keeps the logs of a failed case, and expect/fail that print every log on
# the first failure (so ctest --output-on-failure shows them). Source it once TMP is set,
# PIDS=() declared and CMAKE set.

# shellcheck source=../../scripts/lib/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/harness.sh"

cli_cleanup() {
  local rc=$?
  stop_all
  if [ "$rc" = 0 ]; then rm -rf "$TMP"; else echo "logs kept in $TMP"; fi
  exit "$rc"
}
trap cli_cleanup EXIT

fail() { echo "FAIL: $*"; for f in "$TMP"/*; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }
expect() { local what=$1; shift; "$@" || fail "$what"; echo "ok: $what"; }
# fields FILE a;b;c -> sets J_a, J_b, J_c from a JSON object (fails the case unless it parses)
fields() { json_fields "$1" "$2" || fail "$1 is not valid JSON"; }
