#!/usr/bin/env bash
# The README's main command as a test (run by deploy/test.sh, not by CTest:
# it builds build/ and starts its own throwaway PostgreSQL and devbroker).
#  1. deploy/quickstart.sh with a reduced HF_QUICKSTART_EVENTS in its own work
#     folder: exit 0, the warehouse holds exactly simulate's
#     expected_warehouse_rows, hf_quarantine exactly the reported malformed /
#     unknown-fingerprint / invalid-DIN counts; then `quickstart.sh stop`
#     stops both services; it ends with an indicator table and the path of
#     the HTML report it wrote.
#  2. A quickstart whose step 5 fails (a bad HF_QUICKSTART_EVENTS): non-zero
#     exit, the failing step and the last lines of its log printed, and the
#     services it started are stopped.
# Usage: HF_BIN=build/hemoflow tests/integration/quickstart_check.sh WORKDIR
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$T_REPO
BASE=${1:?usage: quickstart_check.sh WORKDIR}
EVENTS=${HF_QUICKSTART_CHECK_EVENTS:-8000}

# broker_up WORK: the devbroker a quickstart printed still accepts connections
broker_up() {
  local hp
  hp=$(sed -n 's/^bootstrap=//p' "$1/devbroker.out" 2>/dev/null | head -n 1)
  [[ -n $hp ]] || return 1
  (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null
}
pg_running() { "$REPO/deploy/pg.sh" status "$1" >/dev/null 2>&1; }

# ---- 1. the main command, exact ---------------------------------------------
W="$BASE/quickstart-ok"
rm -rf "$W"
start=$SECONDS
if ! HF_QUICKSTART_EVENTS=$EVENTS HF_QUICKSTART_WORK=$W "$REPO/deploy/quickstart.sh" \
    >"$T_TMP/qs.out" 2>&1; then
  tail -n 40 "$T_TMP/qs.out" >&2
  t_fail "deploy/quickstart.sh failed (output above; logs in $W/logs)"
fi
echo "quickstart ($EVENTS events) took $((SECONDS - start)) s"
T_DSN=$(sed -n 's/^HF_PG_DSN=//p' "$W/pg.env" | tail -n 1)
[[ -n $T_DSN ]] || t_fail "no HF_PG_DSN in $W/pg.env"
report="$W/simulate-report.json"
[[ -s $report ]] || t_fail "simulate wrote no report"
t_eq "$(t_json "$report" "r['totals']['rejected']")" 0 "records the station rejected"
t_check_warehouse "$report"
# the grouped reasons simulate reports (malformed, unknown fingerprint, invalid DIN)
for pair in "malformed_frame:'bad_magic','truncated'" "unknown_fingerprint:'unknown_fingerprint'" \
            "invalid_din:'din_format','din_check'"; do
  want=$(t_json "$report" "r['expected_quarantine']['${pair%%:*}']")
  got=$(t_sql "SELECT count(*) FROM hemoflow.hf_quarantine WHERE reason_code IN (${pair#*:})")
  t_eq "$got" "$want" "quarantined as ${pair%%:*}"
done
rows=$(t_json "$report" "sum(r['expected_warehouse_rows'].values())")
((rows > EVENTS / 2)) || t_fail "only $rows warehouse rows expected from $EVENTS events"
grep -q '^== 7. The result' "$T_TMP/qs.out" || t_fail "quickstart did not show the result"
grep -q '^== 8. Indicators' "$T_TMP/qs.out" || t_fail "quickstart did not show the indicators"
grep -qE '^  province_code +province +period +donations ' "$T_TMP/qs.out" || t_fail "no indicator table in the quickstart output"
html=$(sed -n 's/^HTML report (charts; open it in a browser): //p' "$T_TMP/qs.out")
[[ -n $html && -s $html ]] || t_fail "quickstart did not print the path of an HTML report it wrote"
grep -q '<svg id="chart-supply"' "$html" || t_fail "the quickstart's HTML report has no charts: $html"
[[ $(tail -n 25 "$T_TMP/qs.out") == *"$html"* ]] || t_fail "the HTML report's path is not near the end"
HF_QUICKSTART_WORK=$W "$REPO/deploy/quickstart.sh" stop >/dev/null 2>&1
pg_running "$W" && t_fail "PostgreSQL still running after quickstart.sh stop"
broker_up "$W" && t_fail "devbroker still running after quickstart.sh stop"
t_pass "quickstart: $rows warehouse rows and $(t_json "$report" "sum(r['expected_quarantine'].values())") quarantined, exactly as simulate reported; stop stops both services"

# ---- 2. a failing step says so and stops what it started ----------------------
W="$BASE/quickstart-fail"
rm -rf "$W"
set +e
HF_QUICKSTART_EVENTS=not-a-number HF_QUICKSTART_WORK=$W "$REPO/deploy/quickstart.sh" \
  >"$T_TMP/qsf.out" 2>&1
rc=$?
set -e
((rc != 0)) || t_fail "quickstart with a failing step exited 0"
grep -q 'quickstart FAILED at step 5' "$T_TMP/qsf.out" || { cat "$T_TMP/qsf.out" >&2; t_fail "no 'FAILED at step 5' line"; }
grep -q "last lines of $W/logs/5-simulate.log" "$T_TMP/qsf.out" || t_fail "the failing step's log was not shown"
grep -q "expects a number, got 'not-a-number'" "$T_TMP/qsf.out" || t_fail "the step's error was not shown"
grep -q 'Stopped the services' "$T_TMP/qsf.out" || t_fail "no word about stopping the services"
pg_running "$W" && t_fail "PostgreSQL left running after a failed step"
[[ -s $W/devbroker.out ]] || t_fail "the failing run never started the devbroker"
broker_up "$W" && t_fail "devbroker left running after a failed step"
t_pass "quickstart: a failing step names itself, shows its log and stops the services (exit $rc)"
