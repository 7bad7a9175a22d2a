#!/usr/bin/env bash
# Messages deleted from Kafka before their turn (retention, DeleteRecords)
# are accepted as a gap, exactly those and nothing more: the consumer rewinds
# three times, asks the broker for the log start offset, logs the missing
# range as an error, counts it in gaps and loads everything after it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_KAFKA_BOOTSTRAP
t_setup_pipeline retgap 1
TOPIC="${T_PREFIX}donor_registered"
offset_of() { t_sql "SELECT coalesce(max(next_offset), -1) FROM hemoflow.hf_offsets WHERE topic = '$TOPIC' AND kafka_partition = 0"; }
rows() { t_sql "SELECT count(*) FROM hemoflow.donor_registered"; }

# 1. a first load: the stored offset is H1
t_simulate "$T_TMP/r1.json" --types DonorRegistered --count 400 --seed 5
t_consume_until_idle "$T_TMP/c1.err"
H1=$(offset_of); R1=$(rows)
(( H1 > 0 )) || t_fail "first load stored no offset"

# 2. more traffic, then Kafka deletes the first 100 messages of it
t_simulate "$T_TMP/r2.json" --types DonorRegistered --count 400 --seed 6
H2=$(kcat -b "$HF_KAFKA_BOOTSTRAP" -Q -t "$TOPIC:0:-1" 2>/dev/null | sed -n 's/.*\[0\] offset \([0-9]*\).*/\1/p')
[[ -n $H2 ]] || t_need_kcat
(( H2 > H1 + 100 )) || t_fail "second run produced too little ($H1 -> $H2)"
DEL=$((H1 + 100))
printf '{"partitions":[{"topic":"%s","partition":0,"offset":%d}],"version":1}\n' "$TOPIC" "$DEL" >"$T_TMP/delete.json"
"$HF_SOURCE_DIR/deploy/kafka.sh" tool org.apache.kafka.tools.DeleteRecordsCommand \
  --bootstrap-server "$HF_KAFKA_BOOTSTRAP" --offset-json-file "$T_TMP/delete.json" >"$T_TMP/delete.out" 2>&1 \
  || t_fail "DeleteRecords: $(tail -3 "$T_TMP/delete.out")"
grep -q "low_watermark: $DEL" "$T_TMP/delete.out" || t_fail "DeleteRecords did not move the log start to $DEL: $(cat "$T_TMP/delete.out")"

# 3. the consumer resumes at H1, which Kafka no longer has
t_consume_until_idle "$T_TMP/c2.err"
grep -q "level=error event=consume.gap topic=$TOPIC partition=0 first_missing=$H1 next_available=$DEL " "$T_TMP/c2.err" \
  || t_fail "no consume.gap error naming [$H1, $DEL): $(grep consume.gap "$T_TMP/c2.err" | tail -3)"
t_eq "$(grep -c 'level=error event=consume.gap' "$T_TMP/c2.err")" 1 "gap errors"
summary=$(cat "$T_TMP/consume.out")
gaps=$(sed -n 's/.*gaps=\([0-9]*\).*/\1/p' <<<"$summary")
consumed=$(sed -n 's/.*consumed=\([0-9]*\).*/\1/p' <<<"$summary")
loaded=$(sed -n 's/.*loaded=\([0-9]*\).*/\1/p' <<<"$summary")
t_eq "$gaps" 100 "gaps in the summary ($summary)"
t_eq "$consumed" $((H2 - DEL)) "messages consumed after the gap"
t_eq "$(offset_of)" "$H2" "stored offset after the second load"
t_eq "$(rows)" $((R1 + loaded)) "rows after the second load"
t_pass "retention gap [$H1, $DEL) accepted exactly; $consumed messages after it loaded"
