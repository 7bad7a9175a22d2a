#!/usr/bin/env bash
# Indicator benchmark (not a test): a warehouse of HF_BENCH_ROWS fact rows
# (default 10 000 000) over the 31 provinces and the 12 months of 2025, then
#  - `hemoflow refresh` (every hf_ind_* view recomputed), timed;
#  - each published indicator for one province (32) and one month
#    (2025-06), as the analyst role, timed (best of 3);
#  - the typical raw query (one province, one month) on
#    donation_collected_current, timed.
# Rows are written with INSERT ... SELECT generate_series as the owner,
# not through Kafka (that path is bench/quick.sh): the point is the size of
# the tables the views read. The mix per 10 M: donations 2.5 M, screening
# 3 M, components 1.5 M, eligibility 1.2 M, unit moves 1.2 M, transfusions
# 0.3 M, discards 0.15 M, inventory lines 0.1 M, adverse events 0.03 M,
# registrations 0.02 M. Figures go in docs/indicators.md.
# Usage: bench/indicators.sh            env: HF_BENCH_ROWS=N, HF_BENCH_WORK=DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib.sh"
cd "$HF_REPO"
ROWS=${HF_BENCH_ROWS:-10000000}
WORK=$(hf_workdir "${HF_BENCH_WORK:-$HF_REPO/build/bench-indicators}")
BIN="$HF_REPO/build/hemoflow"
[[ -x $BIN ]] || { cmake -S . -B build -G Ninja >/dev/null && ninja -C build hemoflow >/dev/null; }
"$HF_REPO/deploy/pg.sh" stop "$WORK" >/dev/null 2>&1 || true
rm -rf "$WORK/pg"
"$HF_REPO/deploy/pg.sh" start "$WORK" >/dev/null
trap '"$HF_REPO/deploy/pg.sh" stop "$WORK" >/dev/null 2>&1 || true' EXIT
hf_load_env "$WORK/pg.env"
export HEMOFLOW_PG_HOST=$HF_PG_HOST HEMOFLOW_PG_PORT=$HF_PG_PORT HEMOFLOW_PG_DBNAME=hemoflow HEMOFLOW_PG_USER=hemoflow
sql() { psql "$HF_PG_DSN" -XqAt -v ON_ERROR_STOP=1 "$@"; }
"$BIN" migrate >/dev/null
"$BIN" partitions --from 2025-01-01 --to 2025-12-31 >/dev/null

# n ROWS*share: this table's rows
n() { python3 -c "print(max(1, int($ROWS * $1)))"; }
t0=$SECONDS
# common envelope columns for row g (province from g, day of 2025 from g)
ENV="'2025-01-01'::date + (g / 31 % 365)::int, md5(TBL || g)::uuid, EVT, 1, 'bench', P || '010001', P,
     ('2025-01-01'::date + (g / 31 % 365)::int + time '10:00')::timestamp AT TIME ZONE 'Asia/Shanghai', 480,
     now(), 0, NULL, 'create'"
PROV="(ARRAY['11','12','13','14','15','21','22','23','31','32','33','34','35','36','37','41','42','43','44','45','46','50','51','52','53','54','61','62','63','64','65'])[1 + g % 31]"
ins() { # ins TABLE EVENT_TYPE SHARE "payload columns" "payload exprs"
  local t=$1 et=$2 k
  k=$(n "$3")
  local env=${ENV//TBL/\'$t\'}
  env=${env//EVT/\'$et\'}
  sql -c "INSERT INTO hemoflow.$t (event_date, event_id, event_type, schema_version, source_system,
            facility_id, province_code, occurred_at, utc_offset_minutes, reported_at, revision,
            supersedes_event_id, op, $4, kafka_partition, kafka_offset)
          SELECT ${env//P/p}, $5, 0, g FROM (SELECT g, $PROV AS p FROM generate_series(1, $k) g) s"
  echo "  $t: $k rows"
}
echo "== writing $ROWS rows"
ins donation_collected DonationCollected 0.25 \
  "din, donor_pid, procedure, collection_type, volume_ml, plasma_g, interval_days_since_last, incomplete" \
  "'J' || p || '0125' || lpad((g % 1000000)::text, 6, '0'), md5('d' || (g % 400000)),
   CASE WHEN g % 10 = 0 THEN 'apheresis_plasma' ELSE 'whole_blood' END, 'volunteer',
   CASE WHEN g % 10 = 0 THEN NULL ELSE 400 END, CASE WHEN g % 10 = 0 THEN 580 END,
   CASE WHEN g % 3 = 0 THEN NULL ELSE 200 END, false"
ins screening_result_recorded ScreeningResultRecorded 0.30 \
  "din, marker, method, kit_lot, result, value, is_final" \
  "'J' || p || '0125' || lpad((g / 3 % 1000000)::text, 6, '0'),
   (ARRAY['hbsag','anti_hcv','hiv_ag_ab'])[1 + g % 3], 'elisa', NULL,
   CASE WHEN g % 500 = 0 THEN 'reactive' ELSE 'non_reactive' END, 0.1, true"
ins component_produced ComponentProduced 0.15 \
  "din, product_code, parent_product_code, abo, rhd, abo_rhd_source, volume_ml, expires_at" \
  "'J' || p || '0125' || lpad((g / 2 % 1000000)::text, 6, '0'),
   CASE WHEN g % 2 = 0 THEN 'E0336V00' ELSE 'E2555V00' END, 'E0001V00',
   (ARRAY['o','a','b','ab'])[1 + g % 4], CASE WHEN g % 7 = 0 THEN 'neg' ELSE 'pos' END, NULL, 250,
   now() + interval '35 days'"
ins donor_eligibility_assessed DonorEligibilityAssessed 0.12 \
  "donor_pid, outcome, deferral_reason, deferral_until, hb_g_per_l, weight_kg, first_time" \
  "md5('d' || (g % 400000)), CASE WHEN g % 8 = 0 THEN 'temporary_deferral' ELSE 'accepted' END,
   CASE WHEN g % 8 = 0 THEN 'low_hb' END, NULL, 140, 60, g % 3 = 0"
ins unit_moved UnitMoved 0.12 \
  "din, product_code, movement, from_facility_id, to_facility_id, from_province_code, to_province_code" \
  "'J' || p || '0125' || lpad((g / 2 % 1000000)::text, 6, '0'),
   CASE WHEN g % 2 = 0 THEN 'E0336V00' ELSE 'E2555V00' END,
   CASE WHEN g % 50 = 0 THEN 'transfer' ELSE 'issue' END, p || '010001', p || '010203', p,
   CASE WHEN g % 50 = 0 THEN '11' ELSE p END"
ins transfusion_administered TransfusionAdministered 0.03 \
  "din, product_code, hospital_id, patient_pid, department, started_at, ended_at, volume_ml" \
  "'J' || p || '0125' || lpad((g % 1000000)::text, 6, '0'), 'E0336V00', p || '010203',
   md5('p' || g), 'ICU', now(), NULL, 250"
ins unit_discarded UnitDiscarded 0.015 "din, product_code, stage, reason" \
  "'J' || p || '0125' || lpad((g % 1000000)::text, 6, '0'), 'E0336V00', 'station',
   (ARRAY['expired','broken_bag','reactive'])[1 + g % 3]"
ins inventory_snapshot InventorySnapshot 0.01 \
  "snapshot_at, product_class, abo, rhd, abo_rhd_source, on_hand, quarantined" \
  "('2025-01-01'::date + (g / 31 % 365)::int + time '08:00')::timestamp AT TIME ZONE 'Asia/Shanghai' + (g % 8) * interval '1 second',
   (ARRAY['red_cells','plasma'])[1 + g % 2], (ARRAY['o','a','b','ab'])[1 + g / 2 % 4],
   CASE WHEN g % 8 < 4 THEN 'pos' ELSE 'neg' END, NULL, 100 + g % 50, 5"
ins adverse_event_reported AdverseEventReported 0.003 \
  "subject, dins, category, severity, imputability, onset_minutes, outcome, report_status" \
  "'recipient', ARRAY['J' || p || '0125000001'], 'allergic', 'non_severe', 'likely', 30, 'resolved', 'final'"
ins donor_registered DonorRegistered 0.002 \
  "donor_pid, id_format, id_checksum_valid, birth_date, sex, donor_kind" \
  "md5('d' || g), 'id18', true, '1990-01-01', 'male', 'blood'"
sql -c "ANALYZE"
total=$(sql -c "SELECT sum(n) FROM (SELECT count(*) n FROM hemoflow.donation_collected UNION ALL SELECT count(*) FROM hemoflow.screening_result_recorded UNION ALL SELECT count(*) FROM hemoflow.component_produced UNION ALL SELECT count(*) FROM hemoflow.donor_eligibility_assessed UNION ALL SELECT count(*) FROM hemoflow.unit_moved UNION ALL SELECT count(*) FROM hemoflow.transfusion_administered UNION ALL SELECT count(*) FROM hemoflow.unit_discarded UNION ALL SELECT count(*) FROM hemoflow.inventory_snapshot UNION ALL SELECT count(*) FROM hemoflow.adverse_event_reported UNION ALL SELECT count(*) FROM hemoflow.donor_registered) x")
echo "== $total fact rows written and analyzed in $((SECONDS - t0)) s"

echo "== hemoflow refresh"
"$BIN" refresh 2>/dev/null

# best of 3, in ms, as the analyst role
best() {
  local q=$1 i t b=""
  for i in 1 2 3; do
    t=$(psql "$HF_PG_DSN" -XqAt -v ON_ERROR_STOP=1 -c "SET ROLE hemoflow_analyst" -c '\timing on' \
          -c "$q" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
    [[ -z $b ]] || (( $(python3 -c "print(int($t < $b))") )) && b=$t
  done
  echo "$b"
}
W="province_code = '32' AND month = '2025-06-01'"
echo "== one province (32), one month (2025-06), best of 3, ms"
for q in "ind_donation_rate WHERE $W" \
         "ind_days_of_supply WHERE province_code = '32' AND snapshot_date BETWEEN '2025-06-01' AND '2025-06-30'" \
         "ind_wastage WHERE $W" "ind_screening_positivity WHERE $W" "ind_deferral_rate WHERE $W" \
         "ind_donor_return WHERE $W" "ind_plasma_interval WHERE $W" "ind_adverse_reactions WHERE $W" \
         "ind_transfers WHERE month = '2025-06-01' AND (from_province_code = '32' OR to_province_code = '32')"; do
  printf '  %-28s %8s ms\n' "${q%% *}" "$(best "SELECT * FROM hemoflow.$q")"
done
sql -c "GRANT SELECT ON hemoflow.donation_collected_current, hemoflow.donation_collected TO hemoflow_analyst"
printf '  %-28s %8s ms\n' "donation_collected_current" "$(best "SELECT count(*) FROM hemoflow.donation_collected_current WHERE province_code = '32' AND event_date BETWEEN '2025-06-01' AND '2025-06-30'")"
t0=$SECONDS
"$BIN" report --from 2025-06-01 --to 2025-06-30 --province 32 --format html -o "$WORK/report.html" 2>/dev/null
echo "== hemoflow report --province 32 (html, one month): $((SECONDS - t0)) s; $WORK/report.html"
