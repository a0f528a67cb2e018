#!/usr/bin/env bash
# natsim bench-connect from the command line: the JSON report, determinism, shards that
# merge into the whole, the population view, hostile input, the HTML page in Chromium.
# usage: bench_connect_test.sh NATSIM SOURCE_DIR BUILD_DIR CASE
set -euo pipefail
natsim=$1
src=$2
build=$3
case=$4
tiny=$src/tools/test/bench_connect_tiny.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

case $case in
  json)
    "$natsim" bench-connect "$tiny" --quiet --json "$work/r.json" >"$work/table.txt"
    [[ $(field "$work/r.json" 'len(r["cells"])') == 8 ]] || fail "expected 8 cells"
    [[ $(field "$work/r.json" 'len(r["samples"])') == 16 ]] || fail "expected 16 samples"
    [[ $(field "$work/r.json" 'r["bench"]["seeds"]') == "{'count': 2, 'from': 1, 'to': 2}" ]] ||
      fail "seeds: $(field "$work/r.json" 'r["bench"]["seeds"]')"
    # Full cone on both sides connects directly; symmetric against symmetric needs the relay.
    c='[c for c in r["cells"] if c["nat_a"]=="full-cone" and c["nat_b"]=="full-cone" and c["strategy"]=="ice.trickle=true"][0]'
    [[ $(field "$work/r.json" "$c[\"success_rate\"]") == 1.0 ]] || fail "full-cone pair not all connected"
    [[ $(field "$work/r.json" "$c[\"path\"] in ('srflx','prflx','host')") == True ]] || fail "full-cone pair not direct"
    [[ $(field "$work/r.json" "$c[\"setup_ms\"][\"p50\"] <= $c[\"setup_ms\"][\"p90\"] <= $c[\"setup_ms\"][\"max\"]") == True ]] ||
      fail "quantiles out of order"
    [[ $(field "$work/r.json" "sorted($c[\"milestones_ms\"])") == "['answer_received_ms', 'first_check_ms', 'first_data_ms', 'first_success_ms', 'gathering_ms', 'nomination_ms']" ]] ||
      fail "milestones"
    s='[c for c in r["cells"] if c["nat_a"]=="symmetric" and c["nat_b"]=="symmetric" and c["strategy"]=="ice.trickle=false"][0]'
    [[ $(field "$work/r.json" "$s[\"path\"]") == relay ]] || fail "symmetric pair not relayed"
    # Without trickle the description waits for gathering: the answer comes later.
    [[ $(field "$work/r.json" "$s[\"milestones_ms\"][\"answer_received_ms\"] > $s[\"milestones_ms\"][\"gathering_ms\"]") == True ]] ||
      fail "no-trickle answer before gathering ended"
    grep -q '^full-cone  *full-cone  *default  *ice.trickle=false ' "$work/table.txt" || fail "table: $(cat "$work/table.txt")"
    ;;
  determinism)
    "$natsim" bench-connect "$tiny" --quiet --no-wall --jobs 1 --json "$work/a.json" --html "$work/a.html" >"$work/a.txt"
    "$natsim" bench-connect "$tiny" --quiet --no-wall --jobs 2 --json "$work/b.json" --html "$work/b.html" >"$work/b.txt"
    cmp "$work/a.json" "$work/b.json" || fail "JSON reports differ"
    cmp "$work/a.html" "$work/b.html" || fail "HTML reports differ"
    cmp "$work/a.txt" "$work/b.txt" || fail "tables differ"
    ! grep -q wall_s "$work/a.json" || fail "--no-wall left the wall time in"
    "$natsim" bench-connect "$tiny" --quiet --json "$work/c.json" >/dev/null
    grep -q '"wall_s"' "$work/c.json" || fail "no wall time without --no-wall"
    ;;
  shards)
    "$natsim" bench-connect "$tiny" --quiet --no-wall --json "$work/whole.json" >/dev/null
    "$natsim" bench-connect "$tiny" --quiet --no-wall --shard 0/3 --json "$work/s0.json" >/dev/null
    "$natsim" bench-connect "$tiny" --quiet --no-wall --shard 1/3 --json "$work/s1.json" >/dev/null
    "$natsim" bench-connect "$tiny" --quiet --no-wall --shard 2/3 --json "$work/s2.json" >/dev/null
    "$natsim" bench-connect --merge "$work/s2.json" "$work/s0.json" "$work/s1.json" --no-wall \
      --json "$work/merged.json" >/dev/null
    cmp "$work/whole.json" "$work/merged.json" || fail "merged shards differ from the whole"
    set +e
    "$natsim" bench-connect --merge "$work/s0.json" "$work/s1.json" 2>"$work/err" >/dev/null; code=$?
    set -e
    [[ $code -eq 2 ]] || fail "missing shard: expected exit 2, got $code"
    grep -q 'shard 2/3 is missing' "$work/err" || fail "$(cat "$work/err")"
    set +e
    "$natsim" bench-connect --merge "$work/s0.json" "$work/s0.json" "$work/s1.json" 2>"$work/err" >/dev/null; code=$?
    set -e
    [[ $code -eq 2 ]] || fail "repeated shard: expected exit 2, got $code"
    ;;
  seeds)
    "$natsim" bench-connect "$tiny" --quiet --seed-range 5..7 --json "$work/r.json" >/dev/null
    [[ $(field "$work/r.json" 'sorted({s["seed"] for s in r["samples"]})') == "[5, 6, 7]" ]] || fail "seed range"
    [[ $(field "$work/r.json" 'len(r["samples"])') == 24 ]] || fail "24 runs expected"
    "$natsim" bench-connect "$tiny" --quiet --seeds 1 --json "$work/one.json" >/dev/null
    [[ $(field "$work/one.json" 'len(r["samples"])') == 8 ]] || fail "--seeds 1: 8 runs expected"
    ;;
  bad-input)
    expect2() {
      set +e
      "$natsim" bench-connect "$@" --quiet >/dev/null 2>"$work/err"; code=$?
      set -e
      [[ $code -eq 2 ]] || fail "$*: expected exit 2, got $code"
    }
    printf '{\n  "name": "x",\n  "topology": {}, oops\n}\n' >"$work/syntax.json"
    expect2 "$work/syntax.json"
    grep -q 'syntax.json:3:' "$work/err" || fail "$(cat "$work/err")"
    expect2 "$src/scenarios/library/quickstart.json"
    grep -q 'no connect action in its timeline' "$work/err" || fail "$(cat "$work/err")"
    expect2 "$tiny" --seed-range 9..3
    expect2 "$tiny" --seed-range x..3
    expect2 "$tiny" --seeds 2 --seed-range 1..2
    expect2 "$tiny" --shard 2/2
    expect2 --merge "$tiny"
    grep -q 'not a bench-connect report' "$work/err" || fail "$(cat "$work/err")"
    # A report whose "bench" says nothing still merges into a page (fields shown as "-").
    echo '{"bench": {"seeds": 3}, "samples": [], "variants": []}' >"$work/bare.json"
    "$natsim" bench-connect --merge "$work/bare.json" --html "$work/bare.html" >/dev/null ||
      fail "bare report: exit $?"
    grep -q '<th>file</th><td>-</td>' "$work/bare.html" || fail "bare report page"
    echo '{"bench": {}, "samples": [{"variant": 0}], "variants": []}' >"$work/bad-sample.json"
    expect2 --merge "$work/bad-sample.json"
    grep -q 'sample without a seed' "$work/err" || fail "$(cat "$work/err")"
    echo '{"population": {"name": "p", "scenario": "'"$tiny"'", "weights": {"full-cone": -1}}}' >"$work/pop.json"
    expect2 "$work/pop.json"
    grep -q '/population/weights/full-cone: expected a weight of 0 or more' "$work/err" || fail "$(cat "$work/err")"
    cp "$tiny" "$work/tiny.json"
    echo '{"population": {"name": "p", "scenario": "tiny.json", "weights": {"cone": 1},
      "field": {"direct_rate": 0.82, "what": "w", "source": "s"}}}' >"$work/pop.json"
    expect2 "$work/pop.json"
    grep -q "no NAT 'cone' in the benchmark (its NATs: full-cone, symmetric)" "$work/err" || fail "$(cat "$work/err")"
    ;;
  population)
    cp "$tiny" "$work/tiny.json"
    # Half full cone, half symmetric: the symmetric pairs go through the relay.
    echo '{"population": {"name": "half", "scenario": "tiny.json", "weights": {"full-cone": 1, "symmetric": 1},
      "field": {"direct_rate": 0.82, "what": "of NATs support UDP hole punching", "source": "NAT Check"}}}' >"$work/pop.json"
    "$natsim" bench-connect "$work/pop.json" --quiet --json "$work/r.json" >"$work/out.txt"
    grep -q 'population half \[default, ice.trickle=true\]: direct-connection rate [0-9.]*% (field figure: 82.0% of NATs support UDP hole punching, NAT Check): ' "$work/out.txt" ||
      fail "$(cat "$work/out.txt")"
    rate=$(field "$work/r.json" '[x for x in r["population"]["results"] if x["strategy"]=="ice.trickle=true"][0]["direct_rate"]')
    want=$(field "$work/r.json" 'sum(c["direct_rate"] for c in r["cells"] if c["strategy"]=="ice.trickle=true")/4')
    python3 -c "import sys; sys.exit(abs($rate-$want) > 1e-3)" || fail "direct rate $rate, expected $want"
    ;;
  sigint)
    # A long sweep interrupted once it has started: the finished runs are reported (with
    # "interrupted") and natsim exits 130; --merge refuses the partial report.
    "$natsim" bench-connect "$tiny" --seeds 100000 --jobs 1 --json "$work/part.json" \
      >/dev/null 2>"$work/err" &
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
    [[ $code -eq 130 ]] || fail "expected exit 130, got $code"
    [[ $(field "$work/part.json" 'r["interrupted"] and 0 < len(r["samples"]) < r["planned"]') == True ]] ||
      fail "not a partial report"
    grep -q 'natsim: interrupted: ' "$work/err" || fail "$(cat "$work/err")"
    set +e
    "$natsim" bench-connect --merge "$work/part.json" >/dev/null 2>"$work/err"; code=$?
    set -e
    [[ $code -eq 2 ]] || fail "merge of a partial report: expected exit 2, got $code"
    ;;
  html)
    command -v chromium >/dev/null || { echo "chromium is missing: skipped"; exit 77; }
    "$natsim" bench-connect "$src/scenarios/library/bench-connect-matrix.json" --quiet --seeds 1 \
      --json "$build/bench-report.json" --html "$build/bench-report.html" >/dev/null
    [[ $(field "$build/bench-report.json" 'len(r["cells"])') == 81 ]] || fail "expected 81 cells"
    bash "$src/scripts/check-html-report.sh" "$build/bench-report.json" "$build/bench-report.html" \
      "$build/bench-report.png"
    ;;
  *) fail "unknown case $case" ;;
esac
echo "ok $case"
