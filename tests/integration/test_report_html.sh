#!/usr/bin/env bash
# Issue 10: `hemoflow report --format html` renders in a real headless
# browser (Debian's chromium): the indicator fixture goes through the
# pipeline, the page is written, then chromium
#  - loads it with logging on: no console message or uncaught error
#    (checked to work on a page that logs one on purpose);
#  - dumps the DOM after rendering: the four charts are there as SVG with
#    their cells and bars, suppressed values drawn as *;
#  - takes a screenshot, kept as <build>/test-artifacts/report.png.
# The page must be self-contained: no script, no external URL.
# Fails when chromium is not installed (deploy/install-deps.sh installs it).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROMIUM ]] || t_fail "chromium not installed (deploy/install-deps.sh installs it)"
ART="$(cd "$(dirname "$HF_BIN")" && pwd)/test-artifacts"
mkdir -p "$ART"
t_setup_pipeline report_html 3
t_load_indicator_fixture
"$HF_BIN" refresh >"$T_TMP/refresh.out" 2>&1 || t_fail "refresh: $(cat "$T_TMP/refresh.out")"
PAGE="$ART/report.html"
"$HF_BIN" report --from 2026-02-01 --to 2026-03-31 --format html -o "$PAGE" 2>"$T_TMP/r.err" \
  || t_fail "report html: $(cat "$T_TMP/r.err")"

# self-contained: no script, stylesheet link, image or frame, no URL but the SVG namespace
grep -qiE '<script|<link|<img|<iframe|@import|url\(' "$PAGE" && t_fail "the page loads something"
grep -oE '(https?:)?//[a-zA-Z0-9.-]+' "$PAGE" | grep -vxF '//www.w3.org' | grep -vxF 'http://www.w3.org' \
  | head -1 | grep -q . && t_fail "the page names an external URL"

# chrome MODE ARGS...: chromium headless as root needs --no-sandbox; a fresh profile each run
chrome() {
  local prof
  prof=$(mktemp -d "$T_TMP/chrome.XXXXXX")
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-extensions \
    --user-data-dir="$prof" --enable-logging=stderr --v=0 "$@"
}
console_errors() { grep -E 'CONSOLE|Uncaught|:ERROR:CONSOLE' "$1" || true; }

# the console check itself: a page with an error is caught
cat >"$T_TMP/bad.html" <<'HTML'
<!DOCTYPE html><html><body><p>x</p><script>console.error("deliberate"); undefined_fn();</script></body></html>
HTML
chrome --dump-dom "file://$T_TMP/bad.html" >"$T_TMP/bad.dom" 2>"$T_TMP/bad.log" || t_fail "chromium failed: $(tail -5 "$T_TMP/bad.log")"
[[ -n $(console_errors "$T_TMP/bad.log") ]] || t_fail "the console check does not see a deliberate error: $(tail -5 "$T_TMP/bad.log")"

chrome --dump-dom "file://$PAGE" >"$T_TMP/dom.html" 2>"$T_TMP/dom.log" \
  || t_fail "chromium --dump-dom failed: $(tail -5 "$T_TMP/dom.log")"
errs=$(console_errors "$T_TMP/dom.log")
[[ -z $errs ]] || t_fail "console messages while rendering the report: $errs"
for id in chart-supply chart-trend chart-wastage chart-positivity; do
  grep -q "<svg id=\"$id\"" "$T_TMP/dom.html" || t_fail "rendered page lacks the SVG chart $id"
done
# heat map of days of supply: Jiangsu's row, 9 group columns; A+ 105.0 days, O+ withheld
python3 - "$T_TMP/dom.html" <<'PY' || t_fail "chart content (see above)"
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
def svg(i):
    m = re.search(r'<svg id="%s".*?</svg>' % i, dom, re.S)
    assert m, i
    return m.group(0)
s = svg("chart-supply")
cells = re.findall(r'<rect class="cell[^"]*"', s)
assert len(cells) == 9, ("supply cells", len(cells))
assert "<title>32 A+: 105.0 days</title>" in s, "A+ cell"
assert "<title>32 O+: *</title>" in s and 'class="cell suppressed"' in s, "O+ withheld"
t = svg("chart-trend")
bars = re.findall(r'<rect class="bar[^"]*"', t)
# 2026-02 and 2026-03 for 32 and 51, 2026-03 for 11, 33, 44: 7 bars (4 of them suppressed stubs)
assert len(bars) == 7, ("trend bars", len(bars))
assert len(re.findall(r'class="bar suppressed"', t)) == 4, "suppressed months"
assert "<title>2026-03: 15</title>" in t, "Jiangsu March bar"
w = svg("chart-wastage")
assert "<title>32 expired: 50.00 %</title>" in w, "wastage expired"
p = svg("chart-positivity")
assert "<title>32 anti_hcv: 0.00 %</title>" in p and "<title>32 hbsag: *</title>" in p, "positivity"
print("charts ok")
PY

SHOT="$ART/report.png"
rm -f "$SHOT"
chrome --hide-scrollbars --window-size=1200,2200 --screenshot="$SHOT" "file://$PAGE" \
  >"$T_TMP/shot.out" 2>"$T_TMP/shot.log" || t_fail "chromium --screenshot failed: $(tail -5 "$T_TMP/shot.log")"
errs=$(console_errors "$T_TMP/shot.log")
[[ -z $errs ]] || t_fail "console messages while taking the screenshot: $errs"
[[ -s $SHOT ]] && [[ $(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] \
  || t_fail "no PNG screenshot at $SHOT"
t_pass "HTML report renders in headless chromium with its four charts and no console errors (screenshot: $SHOT)"
