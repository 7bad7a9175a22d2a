#!/usr/bin/env bash
# Issue 12 (fault matrix): PostgreSQL refuses connections for a minute — not
# a restart: pg_hba.conf `reject` for TCP, reloaded, and every backend of the
# warehouse terminated while the consumer is running. The consumer must wait
# it out (paused, one "waiting for PostgreSQL" warning), lose nothing, and
# load what arrived meanwhile once connections are accepted again; exact
# reconciliation against simulate's reports.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/pgfault_lib.sh"
t_need HF_TEST_WORK HF_SOURCE_DIR
REFUSE_S=${HF_IT_REFUSE_S:-60}
pf_own_pg refuse
t_setup_pipeline pgrefuse 3
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=300
export HEMOFLOW_CONSUME_RETRY_BACKOFF_MAX_MS=3000 # back within 3 s of the end of the outage
LOG="$T_TMP/c.err"

# 1. traffic before the fault, loaded by a running consumer
t_simulate "$T_TMP/a.json" --count 3000 --dup-rate 0.05 --malformed-rate 0.01 --seed 121
A=$(t_json "$T_TMP/a.json" "r['totals']['messages']")
pf_consume "$LOG"
pf_poll 180 pf_offsets_are "$A" || t_fail "first traffic not loaded: offsets $(pf_offsets_sum) of $A"

# 2. refuse TCP connections and cut the consumer's sessions
{ echo "host all all 127.0.0.1/32 reject"; cat "$PF_DIR/pg/data/pg_hba.conf"; } >"$T_TMP/hba"
cat "$T_TMP/hba" >"$PF_DIR/pg/data/pg_hba.conf" # keeps the owner and mode
pf_admin postgres "SELECT pg_reload_conf()" >/dev/null
pf_poll 30 bash -c "! psql 'host=127.0.0.1 port=$PF_PORT dbname=$T_DB user=hemoflow' -XAtc 'SELECT 1'" \
  || t_fail "pg_hba.conf reject did not take effect"
t0=$SECONDS
killed=$(pf_admin postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = '$T_DB' AND pid <> pg_backend_pid()")
((killed >= 1)) || t_fail "the consumer had no session to terminate"

# 3. traffic while refused: the consumer must notice, pause, keep everything
t_simulate "$T_TMP/b.json" --count 4000 --dup-rate 0.05 --malformed-rate 0.01 --seed 122
B=$(t_json "$T_TMP/b.json" "r['totals']['messages']")
pf_poll 60 grep -q 'msg="waiting for PostgreSQL"' "$LOG" || t_fail "no 'waiting for PostgreSQL' line"
pf_poll 60 bash -c "grep 'event=consume.reconnect' '$LOG' | grep -q 'rejects connection'" \
  || t_fail "the wait does not name the refusal: $(grep -E 'consume.(waiting|reconnect)' "$LOG")"
pf_poll 60 grep -q 'event=consume.paused' "$LOG" || t_fail "partitions not paused while refused"
left=$((REFUSE_S - (SECONDS - t0)))
if ((left > 0)); then sleep "$left"; fi # the fault lasts REFUSE_S; no assumption about speed
kill -0 "$PF_CONSUMER" 2>/dev/null || t_fail "consume died while PostgreSQL refused: $(tail -5 "$LOG")"
t_eq "$(pf_offsets_sum)" "$A" "offsets while refused"

# 4. accept again: everything loads, once
cat "$T_TMP/hba" | grep -v reject >"$PF_DIR/pg/data/pg_hba.conf"
pf_admin postgres "SELECT pg_reload_conf()" >/dev/null
pf_poll 300 pf_offsets_are $((A + B)) || t_fail "not loaded after the outage: offsets $(pf_offsets_sum) of $((A + B))"
pf_stop_consumer "$LOG"
t_eq "$(grep -c 'msg="waiting for PostgreSQL"' "$LOG")" 1 "waiting lines (logged once per outage)"
grep -q 'event=consume.pg_back' "$LOG" || t_fail "no consume.pg_back line"
grep -q 'event=consume.resumed' "$LOG" || t_fail "partitions not resumed"
pf_merge_reports "$T_TMP/all.json" "$T_TMP/a.json" "$T_TMP/b.json"
t_check_warehouse "$T_TMP/all.json"
t_pass "PostgreSQL refused connections for $((SECONDS - t0)) s: consumer paused, waited, loaded $((A + B)) messages exactly once"
