#!/usr/bin/env bash
# Issue 12 (fault matrix, PostgreSQL and disk): one running consumer, one
# PostgreSQL of the test's own, four faults in turn, each with fresh traffic
# (a simulate run of its own seed) that must be loaded before the next:
#   1. PostgreSQL refuses connections for a minute (pg_hba.conf `reject` for
#      TCP, reloaded, every session of the warehouse terminated): consume
#      waits, paused, one "waiting for PostgreSQL" warning per loader
#      connection (lane) that had a batch to commit; loads afterwards;
#   2. the loader's backend killed -9 inside COMMIT before the commit record
#      (held by a deferred constraint trigger): crash recovery; the outcome
#      is unknown to the consumer, hf_offsets says "not committed", it
#      commits the batch again;
#   3. the same inside COMMIT after the commit record is flushed (held by a
#      synchronous standby that never comes): hf_offsets says "committed",
#      the batch is not loaded twice;
#   4. the warehouse's new partitions on a tablespace on a full 16 MiB tmpfs:
#      SQLSTATE 53100 is transient, consume pauses and retries, and loads
#      everything once space is freed.
# Then the exact reconciliation against the four simulate reports: every
# distinct valid event once, every fault in quarantine with its reason,
# hf_offsets covering every message, hf_completeness agreeing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/pgfault_lib.sh"
t_need HF_TEST_WORK HF_SOURCE_DIR
((EUID == 0)) || t_fail "needs root: mounts a tmpfs for the disk-full fault"
# The outage lasts a minute in the plain build; the ASan build runs the same
# path for 20 s (what it adds is memory checking, not a longer wait).
REFUSE_S=${HF_IT_REFUSE_S:-$([[ ${HF_SANITIZED:-0} == 1 ]] && echo 20 || echo 60)}
N=1200
pf_own_pg matrix
export HEMOFLOW_WAREHOUSE_PARTITIONS_AHEAD=0 # migrate quicker; the loader creates what it needs
t_setup_pipeline pgfault 3
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=300
export HEMOFLOW_CONSUME_RETRY_BACKOFF_MAX_MS=3000 # back within 3 s of the end of a fault
LOG="$T_TMP/c.err"
TOTAL=0
# traffic NAME SEED [END_DATE]: simulate N more messages (60 days up to
# END_DATE); TOTAL counts them all
traffic() {
  local name=$1 seed=$2 end=${3:-2026-11-20}
  "$HF_BIN" simulate --report "$T_TMP/$name.json" --count "$N" --dup-rate 0.05 \
    --malformed-rate 0.01 --unknown-fp-rate 0.002 --seed "$seed" --end-date "$end" \
    --days 60 >"$T_TMP/simulate.out" 2>"$T_TMP/simulate.err" \
    || t_fail "simulate $name: $(tail -5 "$T_TMP/simulate.err")"
  TOTAL=$((TOTAL + $(t_json "$T_TMP/$name.json" "r['totals']['messages']")))
}
loaded() { # loaded WHAT: wait until hf_offsets covers TOTAL messages
  pf_poll 300 pf_offsets_are "$TOTAL" || t_fail "$1: offsets $(pf_offsets_sum) of $TOTAL"
}
alive() { kill -0 "$PF_CONSUMER" 2>/dev/null || t_fail "consume died ($1): $(tail -5 "$LOG")"; }
pg_ready() { pf_admin postgres "SELECT 1"; }
ready_lines() { grep -c 'database system is ready to accept connections' "$PF_DIR/pg/server.log"; }
# crash BACKEND_PID: kill -9 it; the postmaster resets every backend and
# replays the WAL; wait until it accepts connections again
crash() {
  local n
  [[ -n $1 ]] || t_fail "crash: no backend pid"
  n=$(ready_lines)
  pf_admin postgres "CHECKPOINT" # keeps crash recovery short: little WAL to replay
  kill -9 "$1"
  pf_poll 120 bash -c "(( \$(grep -c 'database system is ready to accept connections' '$PF_DIR/pg/server.log') > $n ))" \
    || t_fail "PostgreSQL did not come back from crash recovery: $(tail -5 "$PF_DIR/pg/server.log")"
  pf_poll 60 pg_ready || t_fail "PostgreSQL not accepting connections after recovery"
}

# ---- 0. traffic before any fault, loaded by the running consumer ------------
traffic t0 1200
pf_consume "$LOG"
loaded "first traffic"

# ---- 1. refusing connections for REFUSE_S seconds ----------------------------
HBA="$PF_DIR/pg/data/pg_hba.conf"
cp "$HBA" "$T_TMP/hba.orig"
{ echo "host all all 127.0.0.1/32 reject"; cat "$T_TMP/hba.orig"; } >"$HBA" # keeps owner and mode
pf_admin postgres "SELECT pg_reload_conf()" >/dev/null
pf_poll 30 bash -c "! psql 'host=127.0.0.1 port=$PF_PORT dbname=$T_DB user=hemoflow' -XAtc 'SELECT 1'" \
  || t_fail "pg_hba.conf reject did not take effect"
t0=$SECONDS
killed=$(pf_admin postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = '$T_DB' AND pid <> pg_backend_pid()")
((killed >= 1)) || t_fail "the consumer had no session to terminate"
before=$TOTAL
traffic t1 1201
pf_poll 60 grep -q 'msg="waiting for PostgreSQL"' "$LOG" || t_fail "no 'waiting for PostgreSQL' line"
pf_poll 60 bash -c "grep 'event=consume.reconnect' '$LOG' | grep -q 'rejects connection'" \
  || t_fail "the wait does not name the refusal: $(grep -E 'consume.(waiting|reconnect)' "$LOG")"
pf_poll 60 grep -q 'event=consume.paused' "$LOG" || t_fail "partitions not paused while refused"
left=$((REFUSE_S - (SECONDS - t0)))
if ((left > 0)); then sleep "$left"; fi # the fault lasts REFUSE_S; nothing assumes speed
alive "PostgreSQL refusing"
t_eq "$(pf_offsets_sum)" "$before" "offsets while refused"
cp "$T_TMP/hba.orig" "$HBA"
pf_admin postgres "SELECT pg_reload_conf()" >/dev/null
loaded "after refusing connections for $((SECONDS - t0)) s"
# once per outage and loader connection (lane): each lane that had a batch
# to commit says it once
w=$(grep -c 'msg="waiting for PostgreSQL"' "$LOG")
wl=$(grep 'msg="waiting for PostgreSQL"' "$LOG" | grep -o ' lane=[0-9]*' | sort -u | wc -l)
((w >= 1 && w == wl)) || t_fail "waiting lines (once per outage and lane): $w lines for $wl lanes: $(grep 'msg="waiting for PostgreSQL"' "$LOG")"
grep -q 'event=consume.pg_back' "$LOG" || t_fail "no consume.pg_back line"
grep -q 'event=consume.resumed' "$LOG" || t_fail "partitions not resumed"

# ---- 2. kill -9 inside COMMIT, before the commit record ----------------------
pf_admin "$T_DB" "CREATE TABLE public.hf_test_gate (hold boolean NOT NULL);
  INSERT INTO public.hf_test_gate VALUES (true);
  CREATE FUNCTION public.hf_test_hold() RETURNS trigger LANGUAGE plpgsql AS \$\$
  BEGIN
    WHILE (SELECT hold FROM public.hf_test_gate) LOOP PERFORM pg_sleep(0.05); END LOOP;
    RETURN NULL;
  END \$\$;
  CREATE CONSTRAINT TRIGGER hf_test_hold AFTER INSERT OR UPDATE ON hemoflow.hf_offsets
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.hf_test_hold()"
before=$TOTAL
traffic t2 1202
pf_wait_loader 120 PgSleep || t_fail "the loader never waited inside COMMIT"
crash "$PF_LOADER_PID"
t_eq "$(pf_offsets_sum)" "$before" "offsets after the crash (the COMMIT had not happened)"
pf_admin "$T_DB" "UPDATE public.hf_test_gate SET hold = false"
loaded "after kill -9 before the commit record"
grep -q 'event=warehouse.commit_unknown' "$LOG" || t_fail "no warehouse.commit_unknown line"
grep -q 'event=warehouse.commit_redo' "$LOG" || t_fail "no warehouse.commit_redo line"
pf_admin "$T_DB" "DROP TRIGGER hf_test_hold ON hemoflow.hf_offsets"

# ---- 3. kill -9 inside COMMIT, after the commit record -----------------------
# every partition the traffic needs exists first: creating one commits too,
# and would wait for the standby outside the batch's COMMIT
"$HF_BIN" partitions --from 2026-08-01 --to 2026-12-31 >"$T_TMP/parts.out" 2>&1 \
  || t_fail "partitions: $(tail -3 "$T_TMP/parts.out")"
pf_admin postgres "ALTER SYSTEM SET synchronous_standby_names = 'hf_test_no_such_standby'"
pf_admin postgres "SELECT pg_reload_conf()" >/dev/null
before=$TOTAL
traffic t3 1203
pf_wait_loader 120 SyncRep || t_fail "the loader never waited for the standby in COMMIT: $(
  pf_admin postgres "SELECT application_name, wait_event, left(query, 60) FROM pg_stat_activity WHERE state = 'active'")"
crash "$PF_LOADER_PID"
after=$(pf_offsets_sum)
((after > before)) || t_fail "offsets after the crash: $after, the flushed COMMIT should have moved them past $before"
pf_admin postgres "ALTER SYSTEM RESET synchronous_standby_names"
pf_admin postgres "SELECT pg_reload_conf()" >/dev/null
loaded "after kill -9 after the commit record"
grep -q 'event=warehouse.commit_recovered' "$LOG" || t_fail "no warehouse.commit_recovered line"

# ---- 4. the warehouse's disk full --------------------------------------------
MNT="$PF_DIR/small"
mkdir -p "$MNT"
mount -t tmpfs -o "size=16m,mode=0700,uid=$(id -u hemoflow),gid=$(id -g hemoflow)" hf-small "$MNT" \
  || t_fail "cannot mount a tmpfs at $MNT"
PF_MOUNTS+=("$MNT")
pf_admin "$T_DB" "CREATE TABLESPACE hf_small LOCATION '$MNT'"
# partitions created from now on (the next traffic's June dates) land there
pf_admin "$T_DB" "SELECT format('ALTER TABLE hemoflow.%I SET TABLESPACE hf_small;', c.relname)
  FROM pg_class c WHERE c.relkind = 'p' AND c.relnamespace = 'hemoflow'::regnamespace" >"$T_TMP/alter.sql"
PGOPTIONS='-c synchronous_commit=local' psql -h "$PF_SOCK" -p "$PF_PORT" -U hemoflow -d "$T_DB" \
  -XqAt -v ON_ERROR_STOP=1 -f "$T_TMP/alter.sql" || t_fail "moving the partitioned tables' default"
dd if=/dev/zero of="$MNT/fill1" bs=1M >/dev/null 2>&1 || true
dd if=/dev/zero of="$MNT/fill2" bs=4k >/dev/null 2>&1 || true
t_eq "$(df --output=avail -B1 "$MNT" | tail -1 | tr -d ' ')" 0 "free bytes on the full tmpfs"
before=$TOTAL
paused=$(grep -c 'event=consume.paused' "$LOG")
traffic t4 1204 2026-06-20
pf_poll 120 bash -c "grep 'event=consume.waiting' '$LOG' | grep -q 'SQLSTATE 53100'" \
  || t_fail "no wait on SQLSTATE 53100: $(grep -E 'consume.waiting' "$LOG" | tail -2)"
pf_poll 60 bash -c "(( \$(grep -c 'event=consume.paused' '$LOG') > $paused ))" || t_fail "not paused on a full disk"
alive "disk full"
t_eq "$(pf_offsets_sum)" "$before" "offsets while the disk is full"
rm -f "$MNT/fill1" "$MNT/fill2"
loaded "after freeing disk space"
got=$(pf_admin "$T_DB" "SELECT count(*) FROM pg_class c JOIN pg_tablespace s ON s.oid = c.reltablespace
      WHERE s.spcname = 'hf_small' AND c.relkind = 'r'")
((got > 0)) || t_fail "no partition on the small tablespace: the fault did not hit the warehouse"

# ---- exact reconciliation ----------------------------------------------------
pf_stop_consumer "$LOG"
pf_merge_reports "$T_TMP/ab.json" "$T_TMP/t0.json" "$T_TMP/t1.json"
pf_merge_reports "$T_TMP/abc.json" "$T_TMP/ab.json" "$T_TMP/t2.json"
pf_merge_reports "$T_TMP/abcd.json" "$T_TMP/abc.json" "$T_TMP/t3.json"
pf_merge_reports "$T_TMP/all.json" "$T_TMP/abcd.json" "$T_TMP/t4.json"
t_check_warehouse "$T_TMP/all.json"
t_eq "$(t_sql "SELECT sum(events) FROM hemoflow.hf_completeness")" \
  "$(t_json "$T_TMP/all.json" "sum(r['expected_warehouse_rows'].values())")" "events in hf_completeness"
t_pass "PostgreSQL refusing ${REFUSE_S} s, kill -9 in COMMIT before and after the commit record, disk full: $TOTAL messages reconciled exactly"
