#!/usr/bin/env bash
# Issue 4 (d): PostgreSQL restarts in the middle of a load; the consumer says
# what it is waiting for, resumes, and the counts are exact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_TEST_WORK HF_SOURCE_DIR
t_setup_pipeline pgrestart 3
N=${HF_IT_EVENTS:-40000}
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=1000
t_simulate "$T_TMP/report.json" --count "$N" --rate $((N / 6)) --dup-rate 0.05 \
  --malformed-rate 0.01 --seed 44 &
sim=$!
"$HF_BIN" consume --idle-exit 4000 >"$T_TMP/c.out" 2>"$T_TMP/c.err" &
c=$!
T_PIDS+=("$c" "$sim")
sleep 2.5
"$HF_SOURCE_DIR/deploy/pg.sh" restart "$HF_TEST_WORK" >/dev/null 2>"$T_TMP/restart.err" \
  || t_fail "pg restart: $(cat "$T_TMP/restart.err")"
wait "$sim" || t_fail "simulate failed"
wait "$c" || t_fail "consumer failed across the restart: $(tail -5 "$T_TMP/c.err")"
T_PIDS=()
grep -q 'msg="waiting for PostgreSQL"' "$T_TMP/c.err" || t_fail "no 'waiting for PostgreSQL' log line"
t_check_warehouse "$T_TMP/report.json"
t_pass "PostgreSQL restart mid-load: waited ($(grep -c 'waiting for PostgreSQL' "$T_TMP/c.err") log lines), exact counts"
