#!/usr/bin/env bash
# Lanes (consume.loaders): one consumer instance loads through several
# PostgreSQL connections in parallel, each committing the batches of its own
# share of the owned partitions.
#   1. consume.loaders=1 over a set with resends and faults: exact.
#   2. consume.loaders=3 over another set: every partition is given to one
#      lane (balanced), every lane commits, the loader connections are three
#      at once, and one of them killed mid-run is retried by its lane alone:
#      the warehouse is still exact (each event once, each fault once in
#      hf_quarantine, hf_offsets covering every message).
#   3. consume.loaders out of range is a configuration error.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${HF_IT_EVENTS_LANES:-30000}
SIMOPTS=(--count "$N" --dup-rate 0.05 --malformed-rate 0.01 --unknown-fp-rate 0.002
         --bad-din-rate 0.002 --amend-rate 0.01 --retract-rate 0.002 --late-rate 0.02)

# ---- 1. one lane --------------------------------------------------------------
t_setup_pipeline lanes1 4
t_simulate "$T_TMP/report1.json" "${SIMOPTS[@]}" --seed 23
HEMOFLOW_CONSUME_LOADERS=1 t_consume_until_idle "$T_TMP/consume1.err"
t_check_warehouse "$T_TMP/report1.json"
lanes=$(sed -n 's/.*event=consume.batch_committed .* lane=\([0-9]*\).*/\1/p' "$T_TMP/consume1.err" | sort -u | tr '\n' ' ')
t_eq "$lanes" "0 " "lanes that committed with consume.loaders=1"

# ---- 2. three lanes, one connection killed ---------------------------------------
t_setup_pipeline lanes3 4
t_simulate "$T_TMP/report3.json" "${SIMOPTS[@]}" --seed 29
LOG=$T_TMP/consume3.err
HEMOFLOW_CONSUME_LOADERS=3 HEMOFLOW_CONSUME_BATCH_MAX_ROWS=500 \
  "$HF_BIN" consume --idle-exit 2500 >"$T_TMP/consume3.out" 2>"$LOG" &
CPID=$!
loaders() {
  [[ $(t_sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$T_DB'
              AND application_name = 'hemoflow-loader'") == 3 ]]
}
t_wait_for loaders || t_fail "not three loader connections: $(tail -3 "$LOG")"
t_wait_for grep -q 'event=consume.batch_committed' "$LOG" || t_fail "no commit: $(tail -3 "$LOG")"
# kill the connection of the lane that committed last (it has more to do)
lane=$(grep 'event=consume.batch_committed' "$LOG" | tail -1 | sed -n 's/.* lane=\([0-9]*\).*/\1/p')
killed=$(t_sql "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity
                WHERE datname = '$T_DB' AND application_name = 'hemoflow-loader'
                ORDER BY backend_start, pid OFFSET $lane LIMIT 1) x")
t_eq "$killed" 1 "loader connections terminated"
wait "$CPID" || t_fail "consume (3 lanes) exited $?: $(tail -5 "$LOG")"
t_check_warehouse "$T_TMP/report3.json"

# partitions: 10 topics x 4 = 40, given round robin to lanes 0, 1, 2
for l in 0 1 2; do
  n=$(grep -c "event=consume.assigned .* lane=$l\$" "$LOG" || true)
  ((n >= 13 && n <= 14)) || t_fail "lane $l was given $n partitions, expected 13 or 14: $(grep -c event=consume.assigned "$LOG") assigned"
done
lanes=$(sed -n 's/.*event=consume.batch_committed .* lane=\([0-9]*\).*/\1/p' "$LOG" | sort -u | tr '\n' ' ')
t_eq "$lanes" "0 1 2 " "lanes that committed"
# the killed connection was noticed and reconnected (a retry, a reconnect, or
# an offsets re-read after a lost COMMIT), and nothing was abandoned
grep -Eq 'event=(warehouse\.(retry|reconnect|commit_unknown)|consume\.(retry|reconnect|waiting))' "$LOG" \
  || grep -q 'retries=[1-9]' "$T_TMP/consume3.out" \
  || t_fail "no sign of the killed loader connection in the log: $(grep -v 'level=info' "$LOG" | tail -5)"
grep -q 'event=consume.batch_abandoned' "$LOG" && t_fail "a batch was abandoned: $(grep batch_abandoned "$LOG")"
# each lane's partitions were committed only by that lane: no partition's
# offsets were ever compare-and-set by two connections at once
grep -q 'event=consume.conflict' "$LOG" && t_fail "offset conflict between lanes: $(grep consume.conflict "$LOG")"

# ---- 3. bad configuration --------------------------------------------------------
for bad in 0 9 two; do
  rc=0
  HEMOFLOW_CONSUME_LOADERS=$bad "$HF_BIN" consume --idle-exit 100 >"$T_TMP/bad.out" 2>"$T_TMP/bad.err" || rc=$?
  ((rc != 0)) || t_fail "consume.loaders=$bad accepted"
  grep -q 'consume.loaders' "$T_TMP/bad.err" || t_fail "consume.loaders=$bad: error does not name the key: $(tail -3 "$T_TMP/bad.err")"
done
t_pass "lanes: 1 and 3 loader connections exact, a killed lane connection retried alone ($(grep -o 'retries=[0-9]*' "$T_TMP/consume3.out"); $(grep -Eo 'event=(warehouse|consume)\.(retry|reconnect|commit_unknown|waiting|pg_back)' "$LOG" | sort | uniq -c | tr -s ' \n' ' '))"
