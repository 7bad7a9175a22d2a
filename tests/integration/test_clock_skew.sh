#!/usr/bin/env bash
# Issue 12 (fault matrix, clocks): stations whose clocks are hours ahead or
# behind. A station judges "in the future" by its own clock
# (validate.clock_skew_s) and rejects what is beyond it; the consumer judges
# again by its own clock and quarantines what a fast station let through;
# exactly-once never depends on a clock (offsets live in hf_offsets).
#
# The clocks are libfaketime offsets from the real clock, not fixed dates:
# the real broker stamps and retains messages by its own real clock (24 h
# retention), so the event times below are built from one reading of the
# real clock, with hours of margin on every side; nothing depends on how
# long a step takes. A station runs `publish --offline` under its skewed
# clock (validation, reported_at) and the spool is drained on the real one
# (the drain sends the frames as spooled, without validating them again):
# librdkafka cannot run under a realtime offset (its timed waits on
# CLOCK_REALTIME are not adjusted by libfaketime and stall for the offset).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v faketime >/dev/null || t_fail "faketime not installed (deploy/install-deps.sh installs it)"
export HEMOFLOW_WAREHOUSE_PARTITIONS_AHEAD=0 # migrate quicker; the loader creates what it needs
t_setup_pipeline clock 1
export FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC # timeouts and backoffs keep the real pace
if [[ ${HF_SANITIZED:-0} == 1 ]]; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
fi
NOW=$(date -u +%s)
at() { date -u -d "@$((NOW + $1 * 3600))" +%Y-%m-%dT%H:%M:%SZ; } # at HOURS: NOW + HOURS
HEAD=event_id,source_system,facility_id,province_code,occurred_at,revision,op,supersedes_event_id,snapshot_at,product_class,abo_rhd,on_hand,quarantined
row() { # row UUID_SUFFIX HOURS
  local t
  t=$(at "$2")
  echo "00000000-0000-4000-8000-0000000000$1,Clock-Test 1.0,32010001,32,$t,0,create,,$t,red_cells,62,10,0"
}
# station FAKETIME_OFFSET FILE: a station run under a skewed clock (spooled
# only); prints its exit status and summary
station() {
  local rc=0
  faketime -f "$1" "$HF_BIN" publish --offline --type InventorySnapshot "$2" >"$T_TMP/pub.out" \
    2>"$T_TMP/pub.err" || rc=$?
  echo "rc=$rc $(cat "$T_TMP/pub.out")"
}
# consume LOG: the consumer (real clock), until idle
consume() {
  "$HF_BIN" consume --idle-exit 2500 >"$T_TMP/consume.out" 2>"$1" || t_fail "consume: $(tail -5 "$1")"
}
ev() { t_sql "SELECT count(*) FROM hemoflow.inventory_snapshot WHERE event_id = '00000000-0000-4000-8000-0000000000$1'"; }
q() { t_sql "SELECT string_agg(reason_code, ',' ORDER BY kafka_offset) FROM hemoflow.hf_quarantine"; }

# ---- a station 5 h ahead and a station 5 h behind; the consumer on time ----
{ echo "$HEAD"; row 01 -1; row 02 3; row 03 6; } >"$T_TMP/ahead.csv"
out=$(station +5h "$T_TMP/ahead.csv")
[[ $out == "rc=3 "*" accepted=2 rejected=1 delivered=0 still_spooled=2" ]] || t_fail "station ahead: $out $(cat "$T_TMP/pub.err")"
grep -q ':4: rejected reason=time_future' "$T_TMP/pub.err" || t_fail "station ahead: row 3 not time_future: $(cat "$T_TMP/pub.err")"
{ echo "$HEAD"; row 11 -6; row 12 -1; } >"$T_TMP/behind.csv"
out=$(station -5h "$T_TMP/behind.csv")
[[ $out == "rc=3 "*" accepted=1 rejected=1 delivered=0 still_spooled=3" ]] || t_fail "station behind: $out $(cat "$T_TMP/pub.err")"
grep -q ':3: rejected reason=time_future' "$T_TMP/pub.err" || t_fail "station behind: a true event 1 h old must be in its future: $(cat "$T_TMP/pub.err")"
"$HF_BIN" publish --drain >"$T_TMP/drain.out" 2>"$T_TMP/drain.err" \
  || t_fail "publish --drain: $(tail -3 "$T_TMP/drain.err")"
grep -q 'delivered=3 still_spooled=0' "$T_TMP/drain.out" || t_fail "drain: $(cat "$T_TMP/drain.out")"
consume "$T_TMP/c1.err"
t_eq "$(ev 01)$(ev 02)$(ev 11)" 101 "rows loaded (the 1 h old event, not the one 3 h ahead, the 6 h old one)"
t_eq "$(q)" time_future "quarantine after the on-time consumer (the event the fast station let through)"
t_eq "$(t_sql "SELECT sum(next_offset) FROM hemoflow.hf_offsets")" 3 "messages covered by hf_offsets"

t_eq "$(t_sql "SELECT count(*) FROM hemoflow.inventory_snapshot")" 2 "rows in all (each once)"
# reported_at defaults to the station's clock: the warehouse keeps the skew (±1 h of margin)
skew() { t_sql "SELECT round((extract(epoch FROM reported_at) - $NOW) / 3600) FROM hemoflow.inventory_snapshot
  WHERE event_id = '00000000-0000-4000-8000-0000000000$1'"; }
t_eq "$(skew 01)" 5 "hours between reported_at and the real clock, station ahead"
t_eq "$(skew 11)" -5 "hours between reported_at and the real clock, station behind"
t_pass "stations 5 h ahead and behind: each judged future times by its own clock, the consumer by its own; each message once"
