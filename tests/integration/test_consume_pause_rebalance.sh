#!/usr/bin/env bash
# A rebalance while flow control has every owned partition paused: the
# partitions that come back to the same member must be fetched again.
# librdkafka keeps a partition's pause flag across revoke and re-assignment
# (librdkafka issue #1849); without the resume in hf__on_assign member A
# never receives its partitions' remaining messages and never goes idle.
#
# How: a second session holds an EXCLUSIVE lock on hf_offsets (reads pass, writes wait), so A's commit
# blocks, its next batch fills up and A pauses (consume.paused). B joins
# (A's revoke waits for the blocked commit), the lock is released, A gets
# half of the partitions back and must drain them: exact counts at the end.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_setup_pipeline pausereb 2
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=300
t_simulate "$T_TMP/report.json" --count 8000 --dup-rate 0.05 --malformed-rate 0.01 --seed 41

# the lock: held until $T_TMP/release appears (at most 120 s); the server
# stats that file, so it may enter the test folder
chmod 711 "$T_TMP"
psql "$T_DSN" -XqAt -v ON_ERROR_STOP=1 >"$T_TMP/lock.out" 2>&1 <<SQL &
BEGIN;
LOCK TABLE hemoflow.hf_offsets IN EXCLUSIVE MODE;
\! touch $T_TMP/locked
DO \$\$ BEGIN
  FOR i IN 1..1200 LOOP
    EXIT WHEN (pg_stat_file('$T_TMP/release', true)).size IS NOT NULL;
    PERFORM pg_sleep(0.1);
  END LOOP;
END \$\$;
COMMIT;
SQL
lock=$!
T_PIDS+=("$lock")
t_wait_for test -e "$T_TMP/locked" || t_fail "the lock session did not start: $(cat "$T_TMP/lock.out")"

"$HF_BIN" consume --idle-exit 3000 >"$T_TMP/a.out" 2>"$T_TMP/a.err" &
a=$!
T_PIDS+=("$a")
t_wait_for grep -q 'event=consume.paused' "$T_TMP/a.err" \
  || t_fail "member A did not pause behind the blocked commit: $(tail -3 "$T_TMP/a.err")"

"$HF_BIN" consume --idle-exit 3000 >"$T_TMP/b.out" 2>"$T_TMP/b.err" &
b=$!
T_PIDS+=("$b")
sleep 4                       # B's join reaches the coordinator; A's revoke is waiting
touch "$T_TMP/release"
wait "$lock" || t_fail "lock session: $(cat "$T_TMP/lock.out")"

wait_or_fail() { # wait_or_fail PID NAME: exit 0 within 120 s
  local i
  for i in $(seq 1 600); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$1" 2>/dev/null && t_fail "member $2 did not drain its partitions and go idle within 120 s: $(grep -c 'consume.batch_committed' "$T_TMP/$2.err") batches; last: $(tail -2 "$T_TMP/$2.err")"
  wait "$1" || t_fail "member $2 failed: $(tail -3 "$T_TMP/$2.err")"
}
wait_or_fail "$b" b
wait_or_fail "$a" a
grep -q 'event=consume.revoked' "$T_TMP/a.err" || t_fail "member A saw no rebalance"
a_after=$(sed -n '/event=consume.revoked/,$p' "$T_TMP/a.err" | grep -c 'event=consume.batch_committed' || true)
(( a_after > 0 )) || t_fail "member A committed nothing after the rebalance"
t_check_warehouse "$T_TMP/report.json"
t_pass "rebalance while paused: A committed $a_after batch(es) after getting its partitions back; exact counts"
