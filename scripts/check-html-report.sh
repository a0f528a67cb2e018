#!/bin/bash
# Opens a `natsim bench-connect --html` report in headless Chromium and checks what the
# browser built: one grid cell per NAT pair of the JSON report, each with a path type and
# a setup p50; the page forbids every load (its CSP) and still shows its data when every
# host name fails to resolve. Writes a screenshot next to the report.
# Needs Debian's chromium and python3.
# Usage: scripts/check-html-report.sh REPORT.json REPORT.html [SCREENSHOT.png]
set -euo pipefail
json=${1:?usage: check-html-report.sh REPORT.json REPORT.html [SCREENSHOT.png]}
html=${2:?usage: check-html-report.sh REPORT.json REPORT.html [SCREENSHOT.png]}
shot=${3:-$(dirname "$html")/bench-report.png}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "check-html-report: chromium is missing (apt-get install chromium)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A profile of its own, no network: every name resolves to nothing, so a request the page
# tried could not succeed, and the DOM must hold the data regardless.
flags=(--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$work/profile"
       --host-resolver-rules="MAP * ~NOTFOUND" --disable-background-networking)
url="file://$(realpath "$html")"
timeout 60 "$browser" "${flags[@]}" --dump-dom "$url" >"$work/dom.html" 2>"$work/dom.log"
timeout 60 "$browser" "${flags[@]}" --window-size=1400,1400 --screenshot="$shot" "$url" \
  >"$work/shot.log" 2>&1
test -s "$shot" || { echo "check-html-report: no screenshot at $shot" >&2; exit 1; }
python3 - "$json" "$work/dom.html" "$html" <<'PY'
import html.parser, json, re, sys
report = json.load(open(sys.argv[1]))
dom = open(sys.argv[2]).read()
source = open(sys.argv[3]).read()
failures = []

class Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.csp, self.loads = [], None, []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "cell" in (a.get("class") or "").split():
            self.cells.append(a)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = a.get("content", "")
        # Anything that would fetch: external scripts, styles, images, frames.
        for key in ("src", "href"):
            if key in a and not (a[key] or "").startswith(("#", "data:")):
                self.loads.append(f"<{tag} {key}={a[key]}>")

p = Cells()
p.feed(dom)
want = {(c["conditions"], c["strategy"], c["nat_a"], c["nat_b"]) for c in report["cells"]}
if len(p.cells) != len(report["cells"]):
    failures.append(f"{len(p.cells)} grid cells in the page, {len(report['cells'])} in the report")
pairs = {(c.get("data-nat-a"), c.get("data-nat-b")) for c in p.cells}
if pairs != {(c["nat_a"], c["nat_b"]) for c in report["cells"]}:
    failures.append("the page's NAT pairs are not the report's")
for c in p.cells:
    if not c.get("data-path"):
        failures.append(f"cell {c.get('data-nat-a')} x {c.get('data-nat-b')} has no path")
    if not re.fullmatch(r"[0-9.]+|none", c.get("data-p50") or ""):
        failures.append(f"cell {c.get('data-nat-a')} x {c.get('data-nat-b')} has no p50")
    if not c.get("title"):
        failures.append(f"cell {c.get('data-nat-a')} x {c.get('data-nat-b')} has no breakdown")
if p.csp is None or "default-src 'none'" not in p.csp:
    failures.append(f"no CSP forbidding loads (got {p.csp!r})")
if p.loads:
    failures.append("the page loads: " + ", ".join(p.loads[:5]))
if re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", re.sub(r'xmlns="[^"]*"', "", source)):
    failures.append("the page names a URL")
if "<svg" not in dom or "cdf" not in dom:
    failures.append("no CDF")
if report["natsim_version"] not in dom:
    failures.append("no natsim version in the page")
for f in failures:
    print("check-html-report: FAIL", f)
if failures:
    sys.exit(1)
print(f"check-html-report: ok: {len(p.cells)} cells, CSP {p.csp!r}, no loads")
PY
echo "check-html-report: screenshot $shot"
