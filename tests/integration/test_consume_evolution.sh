#!/usr/bin/env bash
# Issue 4 (e) and (f):
#  (e) DonationCollected events written with the older schema version (v1)
#      land in the current (v2) table: anticoagulant_ml NULL, schema_version 1.
#  (f) a batch whose dates need partitions that do not exist yet (one three
#      years back, one in a province-month never seen) loads without DDL.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_setup_pipeline evolution 2

# (e) half of the donations written with v1
t_simulate "$T_TMP/report.json" --types DonationCollected --count 4000 --old-schema-rate 0.5 --seed 55
old=$(t_json "$T_TMP/report.json" "r['event_types']['DonationCollected']['old_schema']")
(( old > 500 )) || t_fail "simulate wrote only $old v1 events"

# (f) station rows three years back and in the far past month of another province
cat >"$T_TMP/moves.csv" <<'CSV'
event_id,source_system,facility_id,province_code,occurred_at,din,product_code,movement,from_facility_id,to_facility_id,from_province_code,to_province_code
5d2f4a8e-0f51-4c55-9b0e-1d7f3d0c0001,Legacy 2.1,32010001,32,2023-06-15T10:00:00+08:00,J320123000001,E0336V00,issue,32010001,32010203,32,32
5d2f4a8e-0f51-4c55-9b0e-1d7f3d0c0002,Legacy 2.1,65010001,65,2023-06-30T23:59:59+08:00,J650123000002,E0336V00,transfer,65010001,62010001,65,62
5d2f4a8e-0f51-4c55-9b0e-1d7f3d0c0003,Legacy 2.1,54010001,54,2024-02-29T08:00:00+08:00,J540124000003,E0336V00,receipt,53010001,54010001,53,54
CSV
for p in unit_moved_p32_2023_06 unit_moved_p65_2023_06 unit_moved_p54_2024_02; do
  t_eq "$(t_sql "SELECT count(*) FROM pg_class WHERE relname = '$p'")" 0 "partition $p before the load"
done
"$HF_BIN" publish --type UnitMoved "$T_TMP/moves.csv" >"$T_TMP/pub.out" 2>"$T_TMP/pub.err" \
  || t_fail "publish: $(cat "$T_TMP/pub.err")"

t_consume_until_idle
# (e)
want=$(t_json "$T_TMP/report.json" "r['expected_warehouse_rows']['donation_collected']")
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.donation_collected")" "$want" "donation rows"
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.donation_collected WHERE schema_version = 1")" "$old" "rows written with v1"
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.donation_collected WHERE schema_version = 1 AND anticoagulant_ml IS NOT NULL")" 0 "v1 rows with anticoagulant_ml"
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.donation_collected WHERE schema_version = 1 AND procedure NOT IN ('whole_blood','apheresis_plasma','apheresis_platelets','unknown')")" 0 "v1 rows with a v2-only procedure"
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.hf_quarantine")" 0 "quarantined rows"
# (f)
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.unit_moved")" 3 "unit_moved rows"
for p in unit_moved_p32_2023_06 unit_moved_p65_2023_06 unit_moved_p54_2024_02; do
  t_eq "$(t_sql "SELECT count(*) FROM pg_class WHERE relname = '$p'")" 1 "partition $p after the load"
done
t_eq "$(t_sql "SELECT c.relname FROM hemoflow.unit_moved u JOIN pg_class c ON c.oid = u.tableoid WHERE din = 'J650123000002'")" \
  unit_moved_p65_2023_06 "partition of the row at 23:59:59+08:00 on 2023-06-30"
t_eq "$(t_sql "SELECT event_date || ' ' || utc_offset_minutes FROM hemoflow.unit_moved WHERE din = 'J650123000002'")" \
  "2023-06-30 480" "station-local event date and offset"
t_pass "old writer schema and on-demand partitions three years back"
