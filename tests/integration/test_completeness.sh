#!/usr/bin/env bash
# Issue 9 (5): `hemoflow completeness` against a loaded warehouse: its counts
# and newest event times per province, date and event type equal the fact
# tables'; the provinces without events on a date are listed; the silent
# provinces are exactly those whose newest event is older than
# completeness.silent_after_s at --at (or that never sent one); bad options
# exit 2. The Prometheus alert rule file passes promtool's check and its
# unit test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_setup_pipeline compl 1

compl() { "$HF_BIN" completeness "$@"; }

# ---- empty warehouse: every province is silent ------------------------------------
compl --json >"$T_TMP/e.json" || t_fail "completeness on an empty warehouse: exit $?"
t_eq "$(t_json "$T_TMP/e.json" "len(r['rows'])")" 0 "rows of an empty warehouse"
t_eq "$(t_json "$T_TMP/e.json" "len(r['silent'])")" 31 "an empty warehouse: all 31 provinces silent"
compl >"$T_TMP/e.txt"
grep -q "never sent an event" "$T_TMP/e.txt" || t_fail "text: $(tail -3 "$T_TMP/e.txt")"

# ---- load some traffic -----------------------------------------------------------------
t_simulate "$T_TMP/report.json" --count 6000 --seed 9 --late-rate 0.05
t_consume_until_idle

# the busiest (province, date), and every fact table's rows for it
read -r P D < <(t_sql "SELECT province_code, event_date FROM hemoflow.hf_completeness
                       GROUP BY 1, 2 ORDER BY sum(events) DESC, 1, 2 LIMIT 1" | tr '|' ' ')
facts() { # facts WHERE: "event_type|count|newest" per event type, from the fact tables
  local t sql="" sep=""
  for t in $(t_sql "SELECT table_name FROM hemoflow.hf_fact_tables ORDER BY 1"); do
    sql+="$sep SELECT event_type, count(*), to_char(max(occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM hemoflow.$t WHERE $1 GROUP BY 1"
    sep=" UNION ALL"
  done
  t_sql "SELECT * FROM ($sql) x ORDER BY 1"
}
compl --date "$D" --province "$P" --json >"$T_TMP/pd.json" || t_fail "completeness --date --province: exit $?"
diff <(facts "province_code = '$P' AND event_date = '$D'") \
     <(t_json "$T_TMP/pd.json" "'\\n'.join(f\"{x['event_type']}|{x['events']}|{x['newest_event']}\" for x in r['rows'])") \
  >"$T_TMP/pd.diff" || t_fail "province $P on $D differs from the fact tables: $(head "$T_TMP/pd.diff")"
t_eq "$(t_json "$T_TMP/pd.json" "{x['province'] for x in r['rows']} == {'$P'} and {x['date'] for x in r['rows']} == {'$D'}")" True "only $P on $D"
t_pass "province $P on $D: $(t_json "$T_TMP/pd.json" "sum(x['events'] for x in r['rows'])") events in $(t_json "$T_TMP/pd.json" "len(r['rows'])") event types, as in the fact tables"

# one date, every province: the totals per province, and who sent nothing that day
compl --date "$D" --json >"$T_TMP/d.json"
diff <(t_sql "SELECT province_code, sum(events) FROM hemoflow.hf_completeness WHERE event_date = '$D' GROUP BY 1 ORDER BY 1") \
     <(t_json "$T_TMP/d.json" "'\\n'.join(f'{q}|{n}' for q, n in sorted({q: sum(x['events'] for x in r['rows'] if x['province'] == q) for q in {x['province'] for x in r['rows']}}.items()))") \
  >"$T_TMP/d.diff" || t_fail "per-province totals on $D: $(head "$T_TMP/d.diff")"
want=$(t_sql "SELECT count(*) FROM (VALUES $(python3 -c "print(','.join(f\"('{c}')\" for c in [11,12,13,14,15,21,22,23,31,32,33,34,35,36,37,41,42,43,44,45,46,50,51,52,53,54,61,62,63,64,65]))")) v(p)
              WHERE p NOT IN (SELECT province_code FROM hemoflow.hf_completeness WHERE event_date = '$D')")
t_eq "$(t_json "$T_TMP/d.json" "len(r['no_events_on_date'])")" "$want" "provinces without events on $D"
compl --date "$D" >"$T_TMP/d.txt"
t_eq "$(grep -c '(no events)' "$T_TMP/d.txt")" "$want" "text rows of provinces without events on $D"
grep -q "^date $D, province every:" "$T_TMP/d.txt" || t_fail "text header: $(head -1 "$T_TMP/d.txt")"
t_pass "date $D: per-province totals, $want provinces without events"

# ---- silent provinces, judged at a given time --------------------------------------------
newest=$(t_sql "SELECT to_char(max(max_occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM hemoflow.hf_completeness")
at=$(t_sql "SELECT to_char(('$newest'::timestamptz + interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
silent_sql() { # silent_sql SECONDS: the provinces silent at $at, from hf_completeness itself
  t_sql "SELECT string_agg(c, ',' ORDER BY c) FROM unnest(string_to_array('11,12,13,14,15,21,22,23,31,32,33,34,35,36,37,41,42,43,44,45,46,50,51,52,53,54,61,62,63,64,65', ',')) c
         WHERE NOT EXISTS (SELECT 1 FROM hemoflow.hf_completeness
                           WHERE province_code = c AND max_occurred_at >= '$at'::timestamptz - $1 * interval '1 second')"
}
some=
for after in 86400 43200 7200; do
  HEMOFLOW_COMPLETENESS_SILENT_AFTER_S=$after compl --at "$at" --json >"$T_TMP/s$after.json" \
    || t_fail "completeness --at: exit $?"
  t_eq "$(t_json "$T_TMP/s$after.json" "','.join(r['silent'])")" "$(silent_sql "$after")" "silent after $after s at $at"
  t_eq "$(t_json "$T_TMP/s$after.json" "r['silent_after_s']")" "$after" "silent_after_s in the JSON"
  n=$(t_json "$T_TMP/s$after.json" "len(r['silent'])")
  [[ -z $some ]] && (( n > 0 && n < 31 )) && some=$after
done
[[ -n $some ]] || t_fail "no threshold left some but not all provinces silent"
# the text names them, with the newest event and how long ago
n=$(t_json "$T_TMP/s$some.json" "len(r['silent'])")
HEMOFLOW_COMPLETENESS_SILENT_AFTER_S=$some compl --at "$at" >"$T_TMP/s.txt"
grep -q "^silent provinces ($n):" "$T_TMP/s.txt" || t_fail "text: $(grep silent "$T_TMP/s.txt")"
grep -Eq "newest event [0-9T:-]+Z \(([0-9]+d )?[0-9]+h( [0-9]+m)? ago\)" "$T_TMP/s.txt" || t_fail "text: $(tail -3 "$T_TMP/s.txt")"
# --province limits the silent list too
one=$(t_json "$T_TMP/s$some.json" "r['silent'][0]")
HEMOFLOW_COMPLETENESS_SILENT_AFTER_S=$some compl --at "$at" --province "$one" --json >"$T_TMP/s1.json"
t_eq "$(t_json "$T_TMP/s1.json" "r['silent']")" "['$one']" "silent list of one province"
# and now, two weeks after the simulated traffic, everyone is silent
t_eq "$(compl --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['silent']))")" 31 "silent now"
t_pass "silent provinces at $at: $n of 31 after $some s"

# ---- usage ------------------------------------------------------------------------------
rc_of() { local rc=0; "$@" >/dev/null 2>&1 || rc=$?; echo "$rc"; }
t_eq "$(rc_of compl --date 2026-02-30)" 2 "a date that does not exist"
t_eq "$(rc_of compl --province 99)" 2 "an unknown province"
t_eq "$(rc_of compl --province 1)" 2 "a one-digit province"
t_eq "$(rc_of compl --at 2026-11-20T12:00:00)" 2 "--at without an offset"
t_eq "$(rc_of compl extra)" 2 "an extra argument"
t_eq "$(rc_of compl --help)" 0 "--help"
t_eq "$(rc_of "$HF_BIN" -s completeness.silent_after_s=10 completeness)" 2 "silent_after_s below its minimum"
t_pass "usage errors exit 2"

# ---- the alert rule ---------------------------------------------------------------------
if command -v promtool >/dev/null; then
  (cd "$HF_SOURCE_DIR/deploy/prometheus" && promtool check rules hemoflow-completeness.rules.yml \
     && promtool test rules hemoflow-completeness.test.yml) >"$T_TMP/promtool.out" 2>&1 \
    || t_fail "promtool: $(cat "$T_TMP/promtool.out")"
  t_pass "deploy/prometheus/hemoflow-completeness.rules.yml: promtool check and test"
else
  echo "NOTE: promtool not installed (Debian package prometheus): alert rule file not checked"
fi
t_pass "hemoflow completeness"
