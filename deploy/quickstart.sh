#!/usr/bin/env bash
# The main job, end to end, on this machine: install packages, build, start a
# throwaway PostgreSQL and the embedded broker (`hemoflow devbroker`), and run
# the pipeline as far as it goes today. Leaves both services running and
# prints what to look at next; `deploy/quickstart.sh stop` stops them.
# Usage: deploy/quickstart.sh [stop]
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HF_REPO"
WORK="$HF_REPO/build/quickstart"
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

step() { printf '\n== %s\n' "$*"; }

step "1. Packages"
"$HF_REPO/deploy/install-deps.sh"

step "2. Build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build hemoflow >/dev/null
"$BIN" --version

step "3. Throwaway PostgreSQL and the embedded broker"
stop_all
mkdir -p "$WORK"
"$HF_REPO/deploy/pg.sh" start "$WORK" >/dev/null
hf_load_env "$WORK/pg.env"
port=$(hf_free_port)
setsid "$BIN" devbroker --port "$port" >"$WORK/devbroker.out" 2>"$WORK/devbroker.log" &
echo $! >"$WORK/devbroker.pid"
for _ in $(seq 1 50); do grep -q '^bootstrap=' "$WORK/devbroker.out" && break; sleep 0.2; done
grep -q '^bootstrap=' "$WORK/devbroker.out" || hf_die "devbroker did not start: $(cat "$WORK/devbroker.log")"
BOOTSTRAP="127.0.0.1:$port"
echo "PostgreSQL: $HF_PG_DSN"
echo "Kafka (embedded devbroker): $BOOTSTRAP"
export HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$BOOTSTRAP

export HEMOFLOW_PG_HOST=$HF_PG_HOST HEMOFLOW_PG_PORT=$HF_PG_PORT HEMOFLOW_PG_DBNAME=hemoflow HEMOFLOW_PG_USER=hemoflow
export HEMOFLOW_PUBLISH_SPOOL_DIR="$WORK/spool" HEMOFLOW_PUBLISH_KEY_FILE="$WORK/hmac.key"
if [[ ! -f $WORK/hmac.key ]]; then
  (umask 077; head -c 48 /dev/urandom | base64 >"$WORK/hmac.key")
fi

step "4. Warehouse schema, roles and partitions (hemoflow migrate)"
"$BIN" migrate

step "5. Simulated national traffic through the station path (hemoflow simulate)"
"$BIN" simulate --count "${HF_QUICKSTART_EVENTS:-30000}" --days 30 --dup-rate 0.03 \
  --late-rate 0.02 --amend-rate 0.01 --malformed-rate 0.005 --unknown-fp-rate 0.002 \
  --bad-din-rate 0.002 --old-schema-rate 0.1 --report "$WORK/simulate-report.json"

step "6. Load it (hemoflow consume, until caught up)"
"$BIN" consume --idle-exit 3000 2>"$WORK/consume.log"
echo "(consumer log: $WORK/consume.log)"

step "7. The result"
psql "$HF_PG_DSN" -X -v ON_ERROR_STOP=1 <<'SQL'
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

cat <<NEXT

== Next
  Services are still running (stop them with: deploy/quickstart.sh stop).
  The warehouse:       psql "$HF_PG_DSN"    (tables in schema hemoflow; docs/warehouse.md)
  The broker:          kcat -b $BOOTSTRAP -L
  Publish a station export:
                       HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$BOOTSTRAP HEMOFLOW_PUBLISH_KEY_FILE=$WORK/hmac.key \\
                       $BIN publish --type DonationCollected tests/fixtures/events/DonationCollected.csv
  Every config key:    $BIN --help-config
  The full test suite: ./deploy/test.sh
NEXT
