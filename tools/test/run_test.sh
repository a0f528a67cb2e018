#!/usr/bin/env bash
# natsim run / validate / merge from the command line: exit codes, reports, sharding.
# usage: run_test.sh NATSIM SCENARIO_DIR CASE
set -euo pipefail
natsim=$1
library=$2
case=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$work/wrong.json" <<'JSON'
{
  "name": "wrong expectation",
  "topology": {
    "servers": [{"name": "stun", "type": "stun", "address": "198.51.100.10", "alternate_address": "198.51.100.11"}],
    "sites": [{"name": "home", "nat": "full-cone", "hosts": ["alice"]}]
  },
  "timeline": [{"id": "p", "action": "probe", "host": "alice", "server": "stun"}],
  "expect": [{"action": "p", "mapping": "address-dependent"}]
}
JSON
printf '{\n  "name": "x",\n  "topology": {}, oops\n}\n' >"$work/syntax.json"

case $case in
  quickstart)
    out=$("$natsim" run "$library/quickstart.json") || fail "quickstart exited $?"
    grep -q '^PASS  quickstart' <<<"$out" || fail "no PASS line: $out"
    grep -q '^1 passed, 0 failed$' <<<"$out" || fail "no summary: $out"
    ;;
  failing)
    set +e
    out=$("$natsim" run "$work/wrong.json" --seed 4)
    code=$?
    set -e
    [[ $code -eq 1 ]] || fail "expected exit 1, got $code"
    grep -q 'mapping: expected address-dependent, got endpoint-independent' <<<"$out" || fail "$out"
    grep -q "replay: natsim run $work/wrong.json --seed 4" <<<"$out" || fail "no replay command: $out"
    ;;
  bad-input)
    set +e
    "$natsim" run "$work/syntax.json" 2>"$work/err"; code=$?
    set -e
    [[ $code -eq 2 ]] || fail "expected exit 2, got $code"
    grep -q "syntax.json:3:19: " "$work/err" || fail "$(cat "$work/err")"
    set +e
    "$natsim" validate "$work/syntax.json" 2>/dev/null; code=$?
    set -e
    [[ $code -eq 2 ]] || fail "validate: expected exit 2, got $code"
    "$natsim" validate "$library/quickstart.json" | grep -q '^ok ' || fail "validate ok"
    set +e
    "$natsim" run "$library/quickstart.json" --shard 3/2 2>/dev/null; code=$?
    set -e
    [[ $code -eq 2 ]] || fail "bad shard: expected exit 2, got $code"
    ;;
  shards)
    "$natsim" run "$library/seed-sweep.json" --shard 0/2 --json >"$work/a.json"
    "$natsim" run "$library/seed-sweep.json" --shard 1/2 --json >"$work/b.json"
    "$natsim" merge "$work/a.json" "$work/b.json" >"$work/m.json"
    "$natsim" run "$library/seed-sweep.json" --json >"$work/all.json"
    # The merged shards hold the same runs (digests) as one run of everything.
    digests() { grep -o '"digest": "[0-9a-f]*"' "$1" | sort; }
    [[ "$(digests "$work/m.json")" == "$(digests "$work/all.json")" ]] || fail "shards differ"
    [[ -n "$(digests "$work/all.json")" ]] || fail "no runs"
    set +e
    echo '{}' >"$work/junk.json"
    "$natsim" merge "$work/a.json" "$work/junk.json" >/dev/null 2>&1; code=$?
    set -e
    [[ $code -eq 2 ]] || fail "merge junk: expected exit 2, got $code"
    ;;
  sigint)
    # A sweep of a million runs, interrupted once it has started: the finished runs are
    # reported as JSON and natsim exits 130. Polls (bounded) for the first progress line.
    cat >"$work/sweep.json" <<'JSON'
{ "name": "long sweep", "seeds": {"from": 1, "count": 1000000},
  "topology": { "servers": [{"name": "stun", "type": "stun", "address": "198.51.100.10"}],
                "sites": [{"name": "home", "hosts": ["alice"]}] },
  "timeline": [{"action": "binding", "host": "alice", "server": "stun"}] }
JSON
    "$natsim" run "$work/sweep.json" --jobs 2 --json >"$work/out.json" 2>"$work/err" &
    pid=$!
    for _ in $(seq 1 1000); do
      grep -q ' runs, ' "$work/err" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.01
    done
    grep -q ' runs, ' "$work/err" || fail "no progress line: $(cat "$work/err")"
    kill -INT "$pid"
    set +e
    wait "$pid"; code=$?
    set -e
    [[ $code -eq 130 ]] || fail "expected exit 130, got $code: $(cat "$work/err")"
    grep -q 'interrupted: [0-9]* of 1000000 runs finished and reported' "$work/err" ||
      fail "no interruption message: $(tail -2 "$work/err")"
    python3 - "$work/out.json" <<'PY' || fail "bad report"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
assert s["interrupted"] is True and s["planned"] == 1000000, s
assert 0 < s["runs"] == len(r["runs"]) < 1000000, s
assert [x["seed"] for x in r["runs"]] == sorted(x["seed"] for x in r["runs"])
PY
    ;;
  *) fail "unknown case $case" ;;
esac
echo "ok: $case"
