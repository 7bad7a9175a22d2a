#!/usr/bin/env bash
# Issue 9 (part 6): the status page at / of a running consumer, rendered in
# headless Chromium (Debian's chromium; the test fails without it). After
# the page's script ran (--virtual-time-budget) the DOM shows the numbers
# the consumer reports in /status.json and /metrics: totals, one row per
# owned partition with its lag and its Burrow-style status,
# quarantine by reason, silent provinces; the browser logged no console
# message (a page that does log one is caught, so the check is not
# vacuous); the document needs nothing but its own origin. A screenshot
# is kept at <build>/test-artifacts/status-page.png.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v chromium >/dev/null || t_fail "chromium not installed (deploy/install-deps.sh installs it)"
command -v curl >/dev/null || t_fail "curl not installed"
ART="$(cd "$(dirname "$HF_BIN")" && pwd)/test-artifacts"
mkdir -p "$ART"
t_setup_pipeline status 2
t_simulate "$T_TMP/report.json" --count 4000 --dup-rate 0.03 --malformed-rate 0.01 \
  --unknown-fp-rate 0.005 --seed 5
MSGS=$(t_json "$T_TMP/report.json" "r['totals']['messages']")

"$HF_BIN" --set http.port=0 consume >"$T_TMP/consume.out" 2>"$T_TMP/consume.err" &
CPID=$!
T_PIDS+=("$CPID")
t_wait_for grep -q 'event=http.listening' "$T_TMP/consume.err" || t_fail "no http.listening line"
PORT=$(sed -n 's/.*event=http.listening .* port=\([0-9]*\).*/\1/p' "$T_TMP/consume.err" | head -1)
URL="http://127.0.0.1:$PORT"
drained() { curl -s "$URL/status.json" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d['totals']['messages']==$MSGS and d['ready'] else 1)"; }
for _ in $(seq 1 300); do drained && break; sleep 0.2; done
drained || t_fail "not drained and ready: $(curl -s "$URL/status.json" | head -c 600)"
sleep 1.5
curl -sf "$URL/status.json" >"$T_TMP/status.json" || t_fail "GET /status.json"
curl -sf -D "$T_TMP/page.headers" "$URL/" >"$T_TMP/page.html" || t_fail "GET /"
grep -qi '^content-type: text/html' "$T_TMP/page.headers" || t_fail "/ is not text/html"
grep -qi "^content-security-policy: default-src 'none'" "$T_TMP/page.headers" || t_fail "no CSP on /"
# self-contained: no external scripts, styles, fonts, images or CDNs
grep -Eiq '(src|href)="(https?:)?//|@import|url\(' "$T_TMP/page.html" && t_fail "the page loads something from elsewhere"

chrome() { # chrome OUTFILE ERRFILE ARGS...: one headless run, fresh profile, bounded in time
  local out=$1 err=$2 prof
  shift 2
  prof=$(mktemp -d "$T_TMP/chrome.XXXXXX")
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$prof" \
    --enable-logging=stderr --v=0 --virtual-time-budget=5000 "$@" >"$out" 2>"$err" \
    || t_fail "chromium failed: $(grep -v dbus "$err" | tail -5)"
}
# the console check catches a page that logs
chrome "$T_TMP/ctl.html" "$T_TMP/ctl.err" --dump-dom 'data:text/html,<script>console.error("hf-control")</script>'
grep -q ':CONSOLE.*hf-control' "$T_TMP/ctl.err" || t_fail "chromium's console log is not seen: the check would be vacuous"

chrome "$T_TMP/dom.html" "$T_TMP/chrome.err" --dump-dom "$URL/"
grep ':CONSOLE' "$T_TMP/chrome.err" && t_fail "the status page logged to the console (above)"
python3 - "$T_TMP/dom.html" "$T_TMP/status.json" "$MSGS" <<'EOF' || t_fail "the rendered page does not show the consumer's numbers"
import html.parser, json, sys
dom, st, msgs = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), int(sys.argv[3])

class P(html.parser.HTMLParser):
    """text of elements by id, and the cell texts of each tbody's rows"""
    def __init__(self):
        super().__init__()
        self.ids, self.stack, self.tbody, self.rows = {}, [], None, {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append((tag, a.get('id')))
        if tag == 'tbody':
            self.tbody = a.get('id')
            self.rows.setdefault(self.tbody, [])
        elif tag == 'tr' and self.tbody:
            self.rows[self.tbody].append([])
        elif tag == 'td' and self.tbody and self.rows[self.tbody]:
            self.rows[self.tbody][-1].append('')
    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
        if tag == 'tbody':
            self.tbody = None
    def handle_data(self, data):
        for t, i in self.stack:
            if i:
                self.ids[i] = self.ids.get(i, '') + data
        if self.tbody and self.stack and self.stack[-1][0] == 'td' and self.rows[self.tbody]:
            self.rows[self.tbody][-1][-1] += data

p = P()
p.feed(dom)
def eq(what, got, want):
    if str(got) != str(want):
        sys.exit(f'{what}: page shows {got!r}, consumer reports {want!r}')
t = st['totals']
eq('ready badge', p.ids.get('ready'), 'READY')
eq('messages', p.ids.get('total-messages'), msgs)
eq('rows loaded', p.ids.get('total-rows'), t['rows_loaded'])
eq('duplicates', p.ids.get('total-duplicates'), t['duplicates'])
eq('quarantined', p.ids.get('total-quarantined'), t['quarantined'])
eq('batches', p.ids.get('total-batches'), t['batches'])
if t['messages'] != t['rows_loaded'] + t['duplicates'] + t['quarantined']:
    sys.exit('status.json totals do not add up')
float(p.ids.get('rate-10s', 'x'))
parts = p.rows.get('partitions', [])
eq('partition rows', len(parts), len(st['partitions']))
eq('partition rows (2 per topic)', len(parts), 20)
want = sorted((x['topic'], str(x['partition']),
               str(x['committed']) if x['committed'] >= 0 else 'none', str(x['high_watermark']),
               str(x['lag_messages'])) for x in st['partitions'])
got = sorted(tuple(r[:5]) for r in parts)
eq('partition cells (topic, partition, committed, high watermark, lag)', got, want)
# the Burrow-style status judged by the lag evaluator; '\u2014' before it has a window
want_status = {(x['topic'], str(x['partition'])): x.get('status') or '\u2014' for x in st['partitions']}
for r in parts:
    eq(f'status column of {r[0]}[{r[1]}]', r[7], want_status[(r[0], r[1])])
eq('quarantine reasons', sorted((r[0], r[1]) for r in p.rows.get('quarantine', [])),
   sorted((q['reason'], str(q['count'])) for q in st['quarantine']))
if not p.rows.get('quarantine'):
    sys.exit('no quarantine rows shown')
eq('silent provinces', sorted(r[0] for r in p.rows.get('silent', [])),
   sorted(x['code'] for x in st['provinces'] if x['silent']))
eq('error line', p.ids.get('error', ''), '')
print(f"page: {len(parts)} partitions, {t['rows_loaded']} rows, "
      f"{len(p.rows['quarantine'])} quarantine reasons, {len(p.rows.get('silent', []))} silent provinces")
EOF

chrome "$T_TMP/shot.out" "$T_TMP/shot.err" --window-size=1280,1700 --hide-scrollbars \
  --screenshot="$ART/status-page.png" "$URL/"
grep ':CONSOLE' "$T_TMP/shot.err" && t_fail "the status page logged to the console (screenshot run)"
[[ -s $ART/status-page.png ]] || t_fail "no screenshot at $ART/status-page.png"
kill -TERM "$CPID"
wait "$CPID" || t_fail "consume exit status after SIGTERM"
t_pass "status page renders the consumer's numbers; screenshot $ART/status-page.png"
