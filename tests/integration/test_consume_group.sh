#!/usr/bin/env bash
# Issue 4 (c): two consumers in one group while traffic is flowing; a member
# joins mid-load and another leaves (SIGTERM) mid-load; exact counts at the end.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_setup_pipeline group 6
N=${HF_IT_EVENTS:-60000}
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=1000
# traffic arrives over ~8 s while the group changes
t_simulate "$T_TMP/report.json" --count "$N" --rate $((N / 8)) --dup-rate 0.05 \
  --malformed-rate 0.01 --seed 33 &
sim=$!
"$HF_BIN" consume >"$T_TMP/a.out" 2>"$T_TMP/a.err" &
a=$!
sleep 2
"$HF_BIN" consume --idle-exit 4000 >"$T_TMP/b.out" 2>"$T_TMP/b.err" &   # joins mid-load
b=$!
sleep 3
kill -TERM "$a"                                                         # leaves mid-load
wait "$a" || t_fail "member A did not exit 0 after SIGTERM: $(tail -3 "$T_TMP/a.err")"
wait "$sim" || t_fail "simulate failed"
wait "$b" || t_fail "member B failed: $(tail -3 "$T_TMP/b.err")"
grep -q 'event=consume.revoked' "$T_TMP/a.err" || t_fail "member A saw no rebalance"
grep -q 'event=consume.assigned' "$T_TMP/b.err" || t_fail "member B got no partitions"
a_loaded=$(sed -n 's/.*loaded=\([0-9]*\).*/\1/p' "$T_TMP/a.out")
b_loaded=$(sed -n 's/.*loaded=\([0-9]*\).*/\1/p' "$T_TMP/b.out")
(( a_loaded > 0 && b_loaded > 0 )) || t_fail "both members should have loaded rows (A $a_loaded, B $b_loaded)"
t_check_warehouse "$T_TMP/report.json"
t_pass "group with join and leave: exact counts (A loaded $a_loaded, B loaded $b_loaded)"
