#!/usr/bin/env bash
# Issue 4 (b): the consumer is kill -9'd at random points mid-load (at least
# five times, each while rows are still missing) and restarted; the final
# warehouse holds exact counts: nothing lost, nothing twice.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_setup_pipeline kill9 4
N=${HF_IT_EVENTS:-60000}
t_simulate "$T_TMP/report.json" --count "$N" --dup-rate 0.05 --malformed-rate 0.01 \
  --bad-din-rate 0.002 --seed 22
total=$(t_json "$T_TMP/report.json" "sum(r['expected_warehouse_rows'].values())")
# small batches: many commits, so a kill lands between, inside and during them
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=700
# a kill -9ed member must leave the group quickly (broker minimum is 6 s)
export HEMOFLOW_KAFKA_SESSION_TIMEOUT_MS=6000 HEMOFLOW_KAFKA_HEARTBEAT_INTERVAL_MS=1000
rows() { t_sql "SELECT (SELECT count(*) FROM hemoflow.screening_result_recorded) + (SELECT count(*) FROM hemoflow.donor_eligibility_assessed) + (SELECT count(*) FROM hemoflow.donation_collected) + (SELECT count(*) FROM hemoflow.component_produced) + (SELECT count(*) FROM hemoflow.inventory_snapshot) + (SELECT count(*) FROM hemoflow.unit_moved) + (SELECT count(*) FROM hemoflow.transfusion_administered) + (SELECT count(*) FROM hemoflow.donor_registered) + (SELECT count(*) FROM hemoflow.unit_discarded) + (SELECT count(*) FROM hemoflow.adverse_event_reported)"; }
kills=0 prev=0
for round in $(seq 1 40); do
  "$HF_BIN" consume >>"$T_TMP/consume.kill.err" 2>&1 &
  pid=$!
  # wait until this instance has committed something new, then a random extra delay
  for _ in $(seq 1 100); do (( $(rows) > prev )) && break; sleep 0.05; done
  sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  now=$(rows)
  (( now <= total )) || t_fail "more rows ($now) than distinct events ($total) after kill $round"
  if (( now < total )); then kills=$((kills + 1)); fi
  prev=$now
  (( kills >= 6 )) && break
done
(( kills >= 5 )) || t_fail "only $kills kills landed mid-load (rows $prev of $total)"
echo "killed $kills times mid-load; rows before the final run: $prev of $total"
t_consume_until_idle
t_check_warehouse "$T_TMP/report.json"
t_pass "kill -9 x$kills mid-load: exact counts"
