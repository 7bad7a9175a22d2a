#!/usr/bin/env bash
# Decision 6 end to end: two consumers that both believe they own every
# partition (different consumer groups on the same topics and warehouse, as a
# zombie would) race on the same messages while traffic flows. The offsets
# compare-and-set lets exactly one commit each range: exact counts, and the
# loser logs consume.conflict and carries on from what PostgreSQL holds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_setup_pipeline zombie 3
N=${HF_IT_EVENTS:-30000}
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=500
t_simulate "$T_TMP/report.json" --count "$N" --rate $((N / 6)) --dup-rate 0.05 \
  --malformed-rate 0.01 --seed 66 &
sim=$!
HEMOFLOW_CONSUME_GROUP_ID="$HEMOFLOW_CONSUME_GROUP_ID-a" \
  "$HF_BIN" consume --idle-exit 4000 >"$T_TMP/a.out" 2>"$T_TMP/a.err" &
a=$!
HEMOFLOW_CONSUME_GROUP_ID="$HEMOFLOW_CONSUME_GROUP_ID-b" \
  "$HF_BIN" consume --idle-exit 4000 >"$T_TMP/b.out" 2>"$T_TMP/b.err" &
b=$!
wait "$sim" || t_fail "simulate failed"
wait "$a" || t_fail "consumer A failed: $(tail -3 "$T_TMP/a.err")"
wait "$b" || t_fail "consumer B failed: $(tail -3 "$T_TMP/b.err")"
conflicts=$(( $(sed -n 's/.*conflicts=\([0-9]*\).*/\1/p' "$T_TMP/a.out") + $(sed -n 's/.*conflicts=\([0-9]*\).*/\1/p' "$T_TMP/b.out") ))
(( conflicts > 0 )) || t_fail "no offset conflict between two owners of the same partitions"
t_check_warehouse "$T_TMP/report.json"
t_pass "two owners of every partition: $conflicts conflicts, exact counts"
