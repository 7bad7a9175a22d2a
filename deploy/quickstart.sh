#!/usr/bin/env bash
# The main job, end to end, on this machine: install packages, build, start a
# throwaway PostgreSQL and the embedded broker (`hemoflow devbroker`), and run
# the pipeline as far as it goes today, and ends with the indicator summary
# and an HTML report (hemoflow refresh, hemoflow report). Leaves both services running and
# prints what to look at next; `deploy/quickstart.sh stop` stops them.
# When a step fails it says which, shows the last lines of that step's log
# (all logs: WORK/logs/) and stops the services it started.
# Usage: deploy/quickstart.sh [stop]
#   env: HF_QUICKSTART_EVENTS=N   events to simulate (default 30000)
#        HF_QUICKSTART_WORK=DIR   work folder (default build/quickstart)
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HF_REPO"
WORK="${HF_QUICKSTART_WORK:-$HF_REPO/build/quickstart}"
BIN="$HF_REPO/build/hemoflow"

stop_all() {
  if [[ -f $WORK/devbroker.pid ]]; then
    kill "$(cat "$WORK/devbroker.pid")" 2>/dev/null || true
    rm -f "$WORK/devbroker.pid"
  fi
  "$HF_REPO/deploy/pg.sh" stop "$WORK" >/dev/null 2>&1 || true
}
if [[ ${1:-} == stop ]]; then
  stop_all
  hf_log "quickstart services stopped"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "usage: deploy/quickstart.sh [stop]" >&2; exit 2; }

mkdir -p "$WORK/logs"
WORK="$(cd "$WORK" && pwd)"
STEP=""          # the step running now
STEP_LOG=""      # its log file
STARTED=0        # 1 once services may be running

on_exit() {
  local rc=$?
  ((rc == 0)) && return
  [[ -n $STEP ]] || exit "$rc"
  {
    printf '\n== quickstart FAILED at step %s (exit status %d)\n' "$STEP" "$rc"
    if [[ -n $STEP_LOG && -s $STEP_LOG ]]; then
      echo "-- last lines of $STEP_LOG:"
      tail -n 25 "$STEP_LOG"
      echo "--"
    fi
    echo "All step logs: $WORK/logs/"
    if ((STARTED)); then
      stop_all
      echo "Stopped the services this run started (PostgreSQL, devbroker)."
    fi
  } >&2
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step N TITLE: announce a step; run LOGNAME CMD...: run a command of it with
# its output shown and kept in WORK/logs/LOGNAME.log.
step() { STEP=$1; shift; printf '\n== %s. %s\n' "$STEP" "$*"; }
run() {
  STEP_LOG="$WORK/logs/$1.log"; shift
  "$@" 2>&1 | tee "$STEP_LOG"
}

step 1 "Packages"
run 1-packages "$HF_REPO/deploy/install-deps.sh"

step 2 "Build"
run 2-build bash -c 'set -o pipefail; cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
  ninja -C build hemoflow | tail -n 1'
"$BIN" --version

step 3 "Throwaway PostgreSQL and the embedded broker"
stop_all
# throwaway: the devbroker keeps nothing, so neither may the warehouse
# (hf_offsets) or the spool of an earlier run
rm -rf "$WORK/pg" "$WORK/spool" "$WORK/simulate-report.json"
STARTED=1
run 3-postgresql "$HF_REPO/deploy/pg.sh" start "$WORK" >/dev/null
hf_load_env "$WORK/pg.env"
port=$(hf_free_port)
STEP_LOG="$WORK/devbroker.log"
setsid "$BIN" devbroker --port "$port" >"$WORK/devbroker.out" 2>"$WORK/devbroker.log" &
echo $! >"$WORK/devbroker.pid"
for _ in $(seq 1 50); do grep -q '^bootstrap=' "$WORK/devbroker.out" && break; sleep 0.2; done
grep -q '^bootstrap=' "$WORK/devbroker.out" || hf_die "devbroker did not start"
BOOTSTRAP="127.0.0.1:$port"
echo "PostgreSQL: $HF_PG_DSN"
echo "Kafka (embedded devbroker): $BOOTSTRAP"
export HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$BOOTSTRAP

export HEMOFLOW_PG_HOST=$HF_PG_HOST HEMOFLOW_PG_PORT=$HF_PG_PORT HEMOFLOW_PG_DBNAME=hemoflow HEMOFLOW_PG_USER=hemoflow
export HEMOFLOW_PUBLISH_SPOOL_DIR="$WORK/spool" HEMOFLOW_PUBLISH_KEY_FILE="$WORK/hmac.key"
if [[ ! -f $WORK/hmac.key ]]; then
  (umask 077; head -c 48 /dev/urandom | base64 >"$WORK/hmac.key")
fi

step 4 "Warehouse schema, roles and partitions (hemoflow migrate)"
run 4-migrate "$BIN" migrate

step 5 "Simulated national traffic through the station path (hemoflow simulate)"
run 5-simulate "$BIN" simulate --count "${HF_QUICKSTART_EVENTS:-30000}" --days 30 --dup-rate 0.03 \
  --late-rate 0.02 --amend-rate 0.01 --malformed-rate 0.005 --unknown-fp-rate 0.002 \
  --bad-din-rate 0.002 --old-schema-rate 0.1 --report "$WORK/simulate-report.json"

step 6 "Load it (hemoflow consume, until caught up)"
STEP_LOG="$WORK/logs/6-consume.log"
# (its operations endpoint on a free port for this short run: see the
# http.listening line of the log; a long-running consume uses http.port)
"$BIN" --set http.port=0 consume --idle-exit 3000 2>"$STEP_LOG"
echo "(consumer log: $STEP_LOG)"

step 7 "The result"
STEP_LOG="$WORK/logs/7-result.log"
psql "$HF_PG_DSN" -X -v ON_ERROR_STOP=1 <<'SQL' 2>&1 | tee "$STEP_LOG"
\echo 'Rows per fact table (each distinct event once):'
SELECT 'donor_registered' AS fact_table, count(*) FROM hemoflow.donor_registered
UNION ALL SELECT 'donor_eligibility_assessed', count(*) FROM hemoflow.donor_eligibility_assessed
UNION ALL SELECT 'donation_collected', count(*) FROM hemoflow.donation_collected
UNION ALL SELECT 'screening_result_recorded', count(*) FROM hemoflow.screening_result_recorded
UNION ALL SELECT 'component_produced', count(*) FROM hemoflow.component_produced
UNION ALL SELECT 'inventory_snapshot', count(*) FROM hemoflow.inventory_snapshot
UNION ALL SELECT 'unit_moved', count(*) FROM hemoflow.unit_moved
UNION ALL SELECT 'unit_discarded', count(*) FROM hemoflow.unit_discarded
UNION ALL SELECT 'transfusion_administered', count(*) FROM hemoflow.transfusion_administered
UNION ALL SELECT 'adverse_event_reported', count(*) FROM hemoflow.adverse_event_reported;
\echo 'Quarantined records by reason (injected faults):'
SELECT reason_code, count(*) FROM hemoflow.hf_quarantine GROUP BY 1 ORDER BY 2 DESC;
\echo 'Donations per province, last 30 days (top 8):'
SELECT province_code, count(*) AS donations,
       sum(volume_ml) FILTER (WHERE procedure = 'whole_blood') AS whole_blood_ml
FROM hemoflow.donation_collected_current GROUP BY 1 ORDER BY 2 DESC LIMIT 8;
SQL
echo "What simulate sent: $WORK/simulate-report.json (compare expected_warehouse_rows above)"

step 8 "Indicators for health authorities (hemoflow refresh, hemoflow report)"
run 8-refresh "$BIN" refresh
# the calendar month with most of the simulated 30 days, and the whole window for the page
REPORT_TO=$(date -u +%F)
MONTH=$(date -u -d '15 days ago' +%Y-%m-01)
MONTH_END=$(date -u -d "$MONTH +1 month -1 day" +%F)
[[ $MONTH_END < $REPORT_TO ]] || MONTH_END=$REPORT_TO
REPORT_HTML="$WORK/indicators.html"
STEP_LOG="$WORK/logs/8-report.log"
"$BIN" report --from "$MONTH" --to "$MONTH_END" --summary 2>"$STEP_LOG"
"$BIN" report --from "$(date -u -d '30 days ago' +%F)" --to "$REPORT_TO" --format html \
  -o "$REPORT_HTML" 2>>"$STEP_LOG"
STEP=""
echo "HTML report (charts; open it in a browser): $REPORT_HTML"

STOP_CMD="deploy/quickstart.sh stop"
[[ -n ${HF_QUICKSTART_WORK:-} ]] && STOP_CMD="HF_QUICKSTART_WORK=$WORK $STOP_CMD"
cat <<NEXT

== Next
  Services are still running (stop them with: $STOP_CMD).
  The warehouse:       psql "$HF_PG_DSN"    (tables in schema hemoflow; docs/warehouse.md)
  The indicators:      $BIN report --from $MONTH --to $MONTH_END [--province 32] [--format csv|html]
                       (views hemoflow.ind_*; docs/indicators.md)
  The broker:          kcat -b $BOOTSTRAP -L
  Publish a station export:
                       HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$BOOTSTRAP HEMOFLOW_PUBLISH_KEY_FILE=$WORK/hmac.key \\
                       $BIN publish --type DonationCollected tests/fixtures/events/DonationCollected.csv
  Every config key:    $BIN --help-config
  The full test suite: ./deploy/test.sh

Indicator report written: $REPORT_HTML
NEXT
