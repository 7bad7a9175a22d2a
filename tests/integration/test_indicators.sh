#!/usr/bin/env bash
# Issue 10: the indicator views against values computed by hand.
# The fixture (tests/fixtures/indicators/, story and arithmetic in its
# README.md) goes through the real pipeline: hemoflow publish -> Kafka ->
# hemoflow consume -> _current views -> hemoflow refresh. Then:
#  1. with suppression off (indicators.suppress_max=0, suppress_round=1)
#     every indicator view holds exactly the hand-computed counts and rates;
#  2. with the defaults (1-7 suppressed, others rounded to 5) the published
#     views suppress at the boundaries 0, 1, 7, 8, 12, 13 and withhold rates
#     whose numerator or denominator is suppressed; hf_suppress() at the
#     same boundaries with other settings;
#  3. the analyst role reads the published views and reference tables, not
#     the raw hf_ind_* counts or the fact tables, unless
#     warehouse.analyst_raw_access;
#  4. hemoflow report (text, csv) shows the published, suppressed values.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_setup_pipeline indicators 3
t_load_indicator_fixture

# expect NAME SQL: the query's rows (fields joined by |) equal standard input
expect() {
  local name=$1 sql=$2
  t_sql "$sql" >"$T_TMP/got.$name"
  cat >"$T_TMP/want.$name"
  diff -u "$T_TMP/want.$name" "$T_TMP/got.$name" >"$T_TMP/diff.$name" \
    || t_fail "$name differs from the hand-computed values:
$(cat "$T_TMP/diff.$name")"
}

# ---- 1. exact values ----------------------------------------------------------
expect donation_rate "SELECT province_code, month, donations, population, per_1000, per_1000_annualized
  FROM hemoflow.ind_donation_rate WHERE month >= '2026-02-01' ORDER BY 1, 2" <<'EOF'
11|2026-03-01|8|21858000|0.000366|0.004392
32|2026-02-01|4|85260000|0.000047|0.000563
32|2026-03-01|13|85260000|0.000152|0.001830
32|2026-04-01|1|85260000|0.000012|0.000141
33|2026-03-01|12|66270000|0.000181|0.002173
44|2026-03-01|7|127060000|0.000055|0.000661
51|2026-02-01|4|83680000|0.000048|0.000574
51|2026-03-01|4|83680000|0.000048|0.000574
EOF
expect days_of_supply "SELECT snapshot_date, product_class, blood_group, on_hand, issues_28d, avg_daily_issues,
  coalesce(days_of_supply::text, 'null') FROM hemoflow.ind_days_of_supply WHERE province_code = '32' ORDER BY 2, 3" <<'EOF'
2026-03-28|plasma|A+|40|5|0.18|224.0
2026-03-28|plasma|all|40|5|0.18|224.0
2026-03-28|red_cells|A+|30|8|0.29|105.0
2026-03-28|red_cells|AB-|2|0|0.00|null
2026-03-28|red_cells|B+|3|0|0.00|null
2026-03-28|red_cells|O+|16|3|0.11|149.3
2026-03-28|red_cells|all|51|11|0.39|129.8
EOF
expect wastage "SELECT province_code, month, product_class, reason, discards, issues, wastage_pct
  FROM hemoflow.ind_wastage ORDER BY 1, 2, 3, 4" <<'EOF'
32|2026-03-01|all|all|12|16|75.00
32|2026-03-01|all|broken_bag|1|16|6.25
32|2026-03-01|all|expired|8|16|50.00
32|2026-03-01|all|lipaemic|2|16|12.50
32|2026-03-01|all|temperature_excursion|1|16|6.25
32|2026-03-01|plasma|all|2|5|40.00
32|2026-03-01|plasma|lipaemic|2|5|40.00
32|2026-03-01|red_cells|all|10|11|90.91
32|2026-03-01|red_cells|broken_bag|1|11|9.09
32|2026-03-01|red_cells|expired|8|11|72.73
32|2026-03-01|red_cells|temperature_excursion|1|11|9.09
EOF
expect screening "SELECT province_code, month, marker, donor_status, tested, reactive, positivity_pct
  FROM hemoflow.ind_screening_positivity ORDER BY 1, 2, 3, 4" <<'EOF'
32|2026-03-01|anti_hcv|all|13|0|0.00
32|2026-03-01|anti_hcv|first_time|5|0|0.00
32|2026-03-01|anti_hcv|repeat|8|0|0.00
32|2026-03-01|hbsag|all|13|1|7.69
32|2026-03-01|hbsag|first_time|5|1|20.00
32|2026-03-01|hbsag|repeat|8|0|0.00
32|2026-03-01|hiv_ag_ab|all|8|1|12.50
32|2026-03-01|hiv_ag_ab|first_time|5|0|0.00
32|2026-03-01|hiv_ag_ab|repeat|3|1|33.33
EOF
expect deferral "SELECT province_code, month, reason, assessments, deferrals, deferral_pct
  FROM hemoflow.ind_deferral_rate ORDER BY 1, 2, 3" <<'EOF'
32|2026-03-01|all|24|11|45.83
32|2026-03-01|hbv_carrier|24|1|4.17
32|2026-03-01|low_hb|24|8|33.33
32|2026-03-01|other|24|1|4.17
32|2026-03-01|recent_travel|24|1|4.17
EOF
expect donor_return "SELECT province_code, month, donors, returned, return_pct
  FROM hemoflow.ind_donor_return WHERE month >= '2026-02-01' ORDER BY 1, 2" <<'EOF'
11|2026-03-01|8|0|0.00
32|2026-02-01|4|3|75.00
32|2026-03-01|13|1|7.69
32|2026-04-01|1|0|0.00
33|2026-03-01|12|0|0.00
44|2026-03-01|7|0|0.00
51|2026-02-01|2|2|100.00
51|2026-03-01|3|1|33.33
EOF
expect plasma "SELECT province_code, month, plasma_donations, short_gap, over_year, compliant, compliance_pct
  FROM hemoflow.ind_plasma_interval WHERE month >= '2026-01-01' ORDER BY 1, 2" <<'EOF'
51|2026-01-01|2|0|0|2|100.00
51|2026-02-01|4|0|0|4|100.00
51|2026-03-01|4|1|1|2|50.00
EOF
t_eq "$(t_sql "SELECT count(*), sum(plasma_donations) FROM hemoflow.ind_plasma_interval")" "13|30" "plasma months and donations in all"
expect reactions "SELECT province_code, month, category, imputability, reactions, units_transfused, per_1000_units
  FROM hemoflow.ind_adverse_reactions ORDER BY 1, 2, 3, 4" <<'EOF'
32|2026-03-01|all|all|3|9|333.33
32|2026-03-01|allergic|all|1|9|111.11
32|2026-03-01|allergic|likely|1|9|111.11
32|2026-03-01|febrile_non_haemolytic|all|1|9|111.11
32|2026-03-01|febrile_non_haemolytic|likely|1|9|111.11
32|2026-03-01|taco|all|1|9|111.11
32|2026-03-01|taco|certain|1|9|111.11
EOF
expect transfers "SELECT month, from_province_code, from_province, to_province_code, to_province, units
  FROM hemoflow.ind_transfers ORDER BY 1, 2, 4" <<'EOF'
2026-03-01|32|Jiangsu|33|Zhejiang|8
EOF
t_pass "every indicator equals the hand-computed value (suppression off)"

# ---- 2. suppression -------------------------------------------------------------
"$HF_BIN" refresh >"$T_TMP/refresh2.out" 2>&1 || t_fail "refresh: $(cat "$T_TMP/refresh2.out")"
t_eq "$(t_sql "SELECT value FROM hemoflow.hf_settings WHERE key IN ('suppress_max', 'suppress_round') ORDER BY key")" "7
5" "default settings written by refresh"
sup() { t_sql "SELECT string_agg(coalesce(hemoflow.hf_suppress(n)::text, '*'), ' ' ORDER BY n) FROM unnest('{0,1,7,8,12,13}'::bigint[]) n"; }
t_eq "$(sup)" "0 * * 10 10 15" "hf_suppress at 0 1 7 8 12 13 (1-7 suppressed, round to 5)"
# published counts at the boundaries, through the pipeline: 0 1 7 8 12 13
expect pub_donations "SELECT province_code, month, coalesce(donations::text, '*'), coalesce(per_1000::text, '*')
  FROM hemoflow.ind_donation_rate WHERE month >= '2026-03-01' ORDER BY 1, 2" <<'EOF'
11|2026-03-01|10|0.000366
32|2026-03-01|15|0.000152
32|2026-04-01|*|*
33|2026-03-01|10|0.000181
44|2026-03-01|*|*
51|2026-03-01|*|*
EOF
expect pub_return "SELECT province_code, coalesce(donors::text, '*'), coalesce(returned::text, '*'), coalesce(return_pct::text, '*')
  FROM hemoflow.ind_donor_return WHERE month = '2026-03-01' ORDER BY 1" <<'EOF'
11|10|0|0.00
32|15|*|*
33|10|0|0.00
44|*|0|*
51|*|*|*
EOF
expect pub_supply "SELECT product_class, blood_group, coalesce(on_hand::text, '*'), coalesce(issues_28d::text, '*'), coalesce(days_of_supply::text, '*')
  FROM hemoflow.ind_days_of_supply WHERE province_code = '32' ORDER BY 1, 2" <<'EOF'
plasma|A+|40|*|*
plasma|all|40|*|*
red_cells|A+|30|10|105.0
red_cells|AB-|*|0|*
red_cells|B+|*|0|*
red_cells|O+|15|*|*
red_cells|all|50|10|129.8
EOF
expect pub_wastage "SELECT product_class, reason, coalesce(discards::text, '*'), coalesce(issues::text, '*'), coalesce(wastage_pct::text, '*')
  FROM hemoflow.ind_wastage ORDER BY 1, 2" <<'EOF'
all|all|10|15|75.00
all|broken_bag|*|15|*
all|expired|10|15|50.00
all|lipaemic|*|15|*
all|temperature_excursion|*|15|*
plasma|all|*|*|*
plasma|lipaemic|*|*|*
red_cells|all|10|10|90.91
red_cells|broken_bag|*|10|*
red_cells|expired|10|10|72.73
red_cells|temperature_excursion|*|10|*
EOF
expect pub_screening "SELECT marker, donor_status, coalesce(tested::text, '*'), coalesce(reactive::text, '*'), coalesce(positivity_pct::text, '*')
  FROM hemoflow.ind_screening_positivity WHERE donor_status IN ('all', 'repeat') ORDER BY 1, 2" <<'EOF'
anti_hcv|all|15|0|0.00
anti_hcv|repeat|10|0|0.00
hbsag|all|15|*|*
hbsag|repeat|10|0|0.00
hiv_ag_ab|all|10|*|*
hiv_ag_ab|repeat|*|*|*
EOF
expect pub_deferral "SELECT reason, coalesce(assessments::text, '*'), coalesce(deferrals::text, '*'), coalesce(deferral_pct::text, '*')
  FROM hemoflow.ind_deferral_rate ORDER BY 1" <<'EOF'
all|25|10|45.83
hbv_carrier|25|*|*
low_hb|25|10|33.33
other|25|*|*
recent_travel|25|*|*
EOF
expect pub_other "SELECT 'transfers', coalesce(units::text, '*'), '' FROM hemoflow.ind_transfers
  UNION ALL SELECT 'reactions', coalesce(reactions::text, '*'), coalesce(per_1000_units::text, '*')
  FROM hemoflow.ind_adverse_reactions WHERE category = 'all'
  UNION ALL SELECT 'plasma ' || month, coalesce(compliant::text, '*'), coalesce(compliance_pct::text, '*')
  FROM hemoflow.ind_plasma_interval WHERE month = '2026-03-01'" <<'EOF'
transfers|10|
reactions|*|*
plasma 2026-03-01|*|*
EOF
"$HF_BIN" -s indicators.suppress_max=10 -s indicators.suppress_round=10 refresh >/dev/null 2>&1 || t_fail "refresh 10/10"
t_eq "$(sup)" "0 * * * 10 10" "hf_suppress at 0 1 7 8 12 13 (1-10 suppressed, round to 10)"
t_eq "$(t_sql "SELECT coalesce(donations::text, '*') FROM hemoflow.ind_donation_rate WHERE province_code = '11' AND month = '2026-03-01'")" "*" "8 suppressed under 1-10"
"$HF_BIN" -s indicators.suppress_max=7 -s indicators.suppress_round=1 refresh >/dev/null 2>&1 || t_fail "refresh 7/1"
t_eq "$(sup)" "0 * * 8 12 13" "hf_suppress at 0 1 7 8 12 13 (1-7 suppressed, no rounding)"
"$HF_BIN" refresh >/dev/null 2>&1 || t_fail "refresh defaults"
t_pass "suppression at 0, 1, 7, 8, 12, 13; rates withheld where a count they use is suppressed"

# ---- 3. what the analyst reads ----------------------------------------------------
t_eq "$(t_sql_as_analyst "SELECT donations FROM hemoflow.ind_donation_rate WHERE province_code = '32' AND month = '2026-03-01'")" 15 "analyst reads ind_donation_rate"
t_eq "$(t_sql_as_analyst "SELECT count(*) FROM hemoflow.hf_provinces")" 31 "analyst reads hf_provinces"
for rel in hf_ind_donations hf_ind_wastage donation_collected donation_collected_current hf_completeness; do
  t_eq "$(t_sql_as_analyst "SELECT count(*) FROM hemoflow.$rel")" "ERROR 42501" "analyst reading $rel"
done
t_eq "$(t_sql_as_analyst "SELECT hemoflow.hf_refresh_indicators()")" "ERROR 42501" "analyst refreshing"
"$HF_BIN" -s warehouse.analyst_raw_access=true migrate >"$T_TMP/m.out" 2>&1 || t_fail "migrate raw: $(cat "$T_TMP/m.out")"
t_eq "$(t_sql_as_analyst "SELECT count(*) FROM hemoflow.donation_collected_current WHERE province_code = '32' AND event_date BETWEEN '2026-03-01' AND '2026-03-31'")" 13 "analyst with raw access"
"$HF_BIN" migrate >"$T_TMP/m.out" 2>&1 || t_fail "migrate: $(cat "$T_TMP/m.out")"
t_eq "$(t_sql_as_analyst "SELECT count(*) FROM hemoflow.donation_collected")" "ERROR 42501" "raw access taken back"
t_pass "the analyst reads the published views only, unless warehouse.analyst_raw_access"

# ---- 4. the report ----------------------------------------------------------------
"$HF_BIN" report --from 2026-03-01 --to 2026-03-31 --province 32 >"$T_TMP/r.txt" 2>"$T_TMP/r.err" \
  || t_fail "report text: $(cat "$T_TMP/r.err")"
grep -qE '^  32 +Jiangsu +2026-03 +15 +0\.001830 +129\.8 +75\.00 +45\.83 +\*$' "$T_TMP/r.txt" \
  || t_fail "report summary line: $(sed -n '1,20p' "$T_TMP/r.txt")"
grep -q 'counts of 1-7 are shown as \*; other counts are rounded to the nearest 5' "$T_TMP/r.txt" || t_fail "no suppression note"
grep -qE '^  44 ' "$T_TMP/r.txt" && t_fail "--province 32 showed another province"
"$HF_BIN" report --from 2026-03-01 --to 2026-03-31 --format csv -o "$T_TMP/r.csv" 2>"$T_TMP/r.err" \
  || t_fail "report csv: $(cat "$T_TMP/r.err")"
t_eq "$(head -1 "$T_TMP/r.csv" | tr -d '\r')" "indicator,province_code,province,period,breakdown,measure,value" "CSV header"
for line in "donation_rate,32,Jiangsu,2026-03,,donations,15" "donation_rate,44,Guangdong,2026-03,,donations,*" \
            "donation_rate,11,Beijing,2026-03,,donations,10" "donation_rate,33,Zhejiang,2026-03,,donations,10" \
            "wastage,32,Jiangsu,2026-03,product_class=red_cells;reason=expired,wastage_pct,72.73" \
            "wastage,32,Jiangsu,2026-03,product_class=plasma;reason=all,wastage_pct,*" \
            "days_of_supply,32,Jiangsu,2026-03-28,product_class=red_cells;blood_group=B+,days_of_supply,-" \
            "transfers,32,Jiangsu,2026-03,to_province_code=33;to_province=Zhejiang,units,10" \
            "screening_positivity,32,Jiangsu,2026-03,marker=hbsag;donor_status=all,reactive,*"; do
  grep -qxF "$line" <(tr -d '\r' <"$T_TMP/r.csv") || t_fail "CSV lacks '$line'"
done
grep -q ',13$' <(tr -d '\r' <"$T_TMP/r.csv") && t_fail "CSV shows an unrounded 13"
set +e
"$HF_BIN" report --from 2026-03-31 --to 2026-03-01 >/dev/null 2>&1; rc=$?
set -e
t_eq "$rc" 2 "report with to < from"
t_pass "hemoflow report text and CSV show the published, suppressed values"
