#!/usr/bin/env bash
# Issue 4 (a): 100k simulated events with 5 % resends and 1 % malformed
# frames (plus unknown fingerprints and invalid DINs) through the real broker:
# every distinct valid event lands exactly once, every fault is quarantined
# with its reason, hf_offsets covers every message, and hf_completeness
# agrees with the fact tables. A second consumer run over the same topics
# changes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_setup_pipeline exact 3
N=${HF_IT_EVENTS:-100000}
t_simulate "$T_TMP/report.json" --count "$N" --dup-rate 0.05 --malformed-rate 0.01 \
  --unknown-fp-rate 0.002 --bad-din-rate 0.002 --amend-rate 0.01 --retract-rate 0.002 \
  --late-rate 0.02 --seed 11
t_consume_until_idle
t_check_warehouse "$T_TMP/report.json"
t_eq "$(t_json "$T_TMP/report.json" "r['totals']['resends'] > 0")" True "resends were injected"

# completeness: per (province, date, type) counts equal the fact rows
diff <(t_sql "SELECT province_code, event_date, 'DonationCollected', count(*) FROM hemoflow.donation_collected GROUP BY 1,2 ORDER BY 1,2") \
     <(t_sql "SELECT province_code, event_date, event_type, events FROM hemoflow.hf_completeness WHERE event_type = 'DonationCollected' ORDER BY 1,2") \
  >"$T_TMP/completeness.diff" || t_fail "hf_completeness disagrees with donation_collected: $(head "$T_TMP/completeness.diff")"
grep -q 'consumed=' "$T_TMP/consume.out" || t_fail "no summary line"

# a second run (new group, same warehouse): offsets come from PostgreSQL, nothing changes
before=$(t_sql "SELECT sum(n) FROM (SELECT count(*) n FROM hemoflow.hf_quarantine UNION ALL SELECT count(*) FROM hemoflow.screening_result_recorded) x")
HEMOFLOW_CONSUME_GROUP_ID="$HEMOFLOW_CONSUME_GROUP_ID-again" t_consume_until_idle "$T_TMP/consume2.err"
grep -q 'consumed=0 ' "$T_TMP/consume.out" || t_fail "second run consumed messages again: $(cat "$T_TMP/consume.out")"
after=$(t_sql "SELECT sum(n) FROM (SELECT count(*) n FROM hemoflow.hf_quarantine UNION ALL SELECT count(*) FROM hemoflow.screening_result_recorded) x")
t_eq "$after" "$before" "rows after a second consumer run"
t_check_warehouse "$T_TMP/report.json"
t_pass "exact counts for $(t_json "$T_TMP/report.json" "r['totals']['messages']") messages"
