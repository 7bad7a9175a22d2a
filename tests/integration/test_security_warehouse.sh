#!/usr/bin/env bash
# Issue 12 part 5: least privilege and no identifiers at rest, against the
# real PostgreSQL and Kafka (docs/security.md).
#  1. consume runs as a login role that holds only hemoflow_loader, and the
#     load reconciles exactly with simulate's report;
#  2. connected as that role, as a login role holding only hemoflow_analyst
#     and as a login role holding neither, every forbidden statement fails
#     with insufficient_privilege (42501) and every allowed one works; no role
#     but the owner (and superusers) holds a write privilege on hf_offsets;
#  3. every text and bytea column of every table (facts, quarantine,
#     reference, indicators) holds nothing shaped like an 18-digit resident
#     ID, and the same scan finds the simulation's own raw IDs once they are
#     seeded in a scratch table (so it would find a leak).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_PG_DSN HF_KAFKA_BOOTSTRAP
t_setup_pipeline secwh 2
OWNER=$HEMOFLOW_PG_USER
LOADER="hf_sec_loader_$$" ANALYST="hf_sec_analyst_$$" NOBODY="hf_sec_nobody_$$"
drop_roles() {
  local r
  for r in "$LOADER" "$ANALYST" "$NOBODY"; do
    psql "$HF_PG_DSN" -XqAtc "DROP ROLE IF EXISTS \"$r\"" >/dev/null 2>&1 || true
  done
}
trap 'drop_roles; t_cleanup' EXIT
t_sql "CREATE ROLE \"$LOADER\" LOGIN IN ROLE hemoflow_loader;
       CREATE ROLE \"$ANALYST\" LOGIN IN ROLE hemoflow_analyst;
       CREATE ROLE \"$NOBODY\" LOGIN" >/dev/null

# ---- 1. a simulated load, consumed as the loader ----------------------------
SIM=(--count 3000 --dup-rate 0.05 --malformed-rate 0.01 --unknown-fp-rate 0.005
     --bad-din-rate 0.005 --amend-rate 0.01 --seed 12)
t_simulate "$T_TMP/report.json" "${SIM[@]}"
HEMOFLOW_PG_USER=$LOADER t_consume_until_idle
t_check_warehouse "$T_TMP/report.json"
"$HF_BIN" refresh >"$T_TMP/refresh.out" 2>&1 || t_fail "refresh: $(cat "$T_TMP/refresh.out")"

# ---- 2. least privilege -----------------------------------------------------
# as ROLE SQL: the result, or "ERROR <sqlstate>"
as() {
  { psql "host=$(t_pg_field host) port=$(t_pg_field port) dbname=$T_DB user=$1" -XqAt \
      -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$2" 2>&1 || true; } \
    | sed -E 's/^ERROR: +([0-9A-Z]{5}).*/ERROR \1/'
}
deny() { # deny ROLE SQL: fails with insufficient_privilege
  local out; out=$(as "$1" "$2")
  [[ $out == "ERROR 42501" ]] || t_fail "$1 was not refused (42501): $2 -> $out"
}
allow() { # allow ROLE SQL: runs
  local out; out=$(as "$1" "$2")
  [[ $out != ERROR* ]] || t_fail "$1 was refused: $2 -> $out"
}
IFS='|' read -r topic part next < <(t_sql "SELECT topic, kafka_partition, next_offset
                                            FROM hemoflow.hf_offsets WHERE next_offset > 0
                                            ORDER BY 1, 2 LIMIT 1")
[[ -n $next ]] || t_fail "no offsets stored after the load"

# the loader: its own work only
allow "$LOADER" "SELECT count(*) FROM hemoflow.donation_collected"
allow "$LOADER" "SELECT hemoflow.hf_ensure_partition('unit_moved', '46', '2021-06-15')"
allow "$LOADER" "CREATE TEMP TABLE s (LIKE hemoflow.unit_moved)"
allow "$LOADER" "SELECT hemoflow.hf_offsets_advance('sec.t', 0, -1, 5)"
for sql in \
  "SELECT count(*) FROM hemoflow.hf_quarantine" \
  "SELECT raw FROM hemoflow.hf_quarantine" \
  "SELECT count(*) FROM hemoflow.ind_donation_rate" \
  "SELECT count(*) FROM hemoflow.hf_ind_donations" \
  "SELECT count(*) FROM hemoflow.hf_population" \
  "SELECT count(*) FROM hemoflow.donation_collected_current" \
  "UPDATE hemoflow.hf_offsets SET next_offset = 0" \
  "INSERT INTO hemoflow.hf_offsets VALUES ('sec.x', 0, 1, now())" \
  "DELETE FROM hemoflow.hf_offsets" \
  "TRUNCATE hemoflow.hf_offsets" \
  "DELETE FROM hemoflow.hf_commit_window" \
  "UPDATE hemoflow.donation_collected SET revision = 1" \
  "DELETE FROM hemoflow.donation_collected" \
  "DELETE FROM hemoflow.hf_quarantine" \
  "UPDATE hemoflow.hf_settings SET value = 'day'" \
  "CREATE TABLE hemoflow.evil (x int)" \
  "CREATE TABLE public.evil (x int)" \
  "CREATE SCHEMA evil" \
  "CREATE FUNCTION hemoflow.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'" \
  "ALTER TABLE hemoflow.donation_collected ADD COLUMN evil int" \
  "DROP TABLE hemoflow.unit_moved_p46" \
  "CREATE INDEX ON hemoflow.donation_collected (donor_pseudonym)" \
  "SELECT hemoflow.hf_refresh_indicators()" \
  "REFRESH MATERIALIZED VIEW hemoflow.hf_ind_donations"; do
  deny "$LOADER" "$sql"
done
# offsets move forward only, and only where they stand
t_eq "$(as "$LOADER" "SELECT hemoflow.hf_offsets_advance('$topic', $part, $next, 0)")" "ERROR 22023" \
  "loader moving an offset back"
t_eq "$(as "$LOADER" "SELECT hemoflow.hf_offsets_advance('$topic', $part, $((next + 1)), $((next + 2)))")" "f" \
  "compare-and-set from a wrong offset"
t_eq "$(t_sql "SELECT next_offset FROM hemoflow.hf_offsets WHERE topic = '$topic' AND kafka_partition = $part")" \
  "$next" "offset after the loader's attempts"

# the analyst: published views, nothing written, no raw bytes, no offsets
allow "$ANALYST" "SELECT count(*) FROM hemoflow.ind_donation_rate"
allow "$ANALYST" "SELECT count(*) FROM hemoflow.hf_population"
for sql in \
  "SELECT count(*) FROM hemoflow.donation_collected" \
  "SELECT count(*) FROM hemoflow.hf_ind_donations" \
  "SELECT raw FROM hemoflow.hf_quarantine" \
  "SELECT count(*) FROM hemoflow.hf_quarantine" \
  "SELECT * FROM hemoflow.hf_offsets" \
  "UPDATE hemoflow.hf_offsets SET next_offset = 0" \
  "INSERT INTO hemoflow.hf_population SELECT * FROM hemoflow.hf_population LIMIT 1" \
  "UPDATE hemoflow.hf_population SET population = 0" \
  "DELETE FROM hemoflow.hf_population" \
  "INSERT INTO hemoflow.hf_quarantine (topic, kafka_partition, kafka_offset, reason_code, raw) VALUES ('t', 0, 1, 'x', '\\x00')" \
  "SELECT hemoflow.hf_ensure_partition('unit_moved', '46', '2021-07-15')" \
  "SELECT hemoflow.hf_offsets_advance('sec.t', 0, 5, 6)" \
  "SELECT hemoflow.hf_refresh_indicators()" \
  "CREATE TABLE hemoflow.evil (x int)"; do
  deny "$ANALYST" "$sql"
done
# raw access widens reading, never to the raw bytes or the offsets
HEMOFLOW_WAREHOUSE_ANALYST_RAW_ACCESS=true "$HF_BIN" migrate >"$T_TMP/migrate2.out" 2>&1 \
  || t_fail "migrate with raw access: $(cat "$T_TMP/migrate2.out")"
allow "$ANALYST" "SELECT count(*), min(reason_code) FROM hemoflow.hf_quarantine"
allow "$ANALYST" "SELECT count(*) FROM hemoflow.donation_collected"
deny "$ANALYST" "SELECT raw FROM hemoflow.hf_quarantine"
deny "$ANALYST" "SELECT * FROM hemoflow.hf_quarantine"
deny "$ANALYST" "SELECT * FROM hemoflow.hf_offsets"
deny "$ANALYST" "DELETE FROM hemoflow.donation_collected"
"$HF_BIN" migrate >"$T_TMP/migrate3.out" 2>&1 || t_fail "migrate: $(cat "$T_TMP/migrate3.out")"
deny "$ANALYST" "SELECT count(*) FROM hemoflow.donation_collected"

# a login role with neither: nothing at all
for sql in \
  "SELECT count(*) FROM hemoflow.donation_collected" \
  "SELECT count(*) FROM hemoflow.ind_donation_rate" \
  "SELECT * FROM hemoflow.hf_offsets" \
  "UPDATE hemoflow.hf_offsets SET next_offset = 0" \
  "SELECT hemoflow.hf_offsets_advance('sec.t', 0, 5, 6)" \
  "SELECT hemoflow.hf_window_record('{sec.t}', '{0}', '{6}', '{6}', 5, 0)" \
  "SELECT hemoflow.hf_ensure_partition('unit_moved', '46', '2021-08-15')"; do
  deny "$NOBODY" "$sql"
done
# whoever exists in the cluster: only the owner and superusers may write
# hf_offsets (the predefined pg_* roles such as pg_write_all_data excepted:
# granting one is a superuser's act; a role granted one still shows here)
writers=$(t_sql "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles
                 WHERE NOT rolsuper AND rolname <> '$OWNER' AND rolname NOT LIKE 'pg\\_%'
                   AND has_table_privilege(oid, 'hemoflow.hf_offsets',
                                           'INSERT, UPDATE, DELETE, TRUNCATE')")
t_eq "$writers" "" "roles besides the owner that can write hf_offsets"
# no SECURITY DEFINER function of the schema is open to PUBLIC
open_definers=$(t_sql "SELECT string_agg(p.oid::regprocedure::text, ',') FROM pg_proc p
                       JOIN pg_namespace n ON n.oid = p.pronamespace
                       WHERE n.nspname = 'hemoflow' AND p.prosecdef
                         AND has_function_privilege('$NOBODY', p.oid, 'EXECUTE')")
t_eq "$open_definers" "" "SECURITY DEFINER functions anyone may call"

# ---- 3. no resident IDs at rest ---------------------------------------------
scan() { psql "$T_DSN" -XqAt -v ON_ERROR_STOP=1 -f "$HF_SOURCE_DIR/tests/integration/resident_id_scan.sql"; }
hits=$(scan) || t_fail "the resident-ID scan failed: $hits"
[[ -z $hits ]] || t_fail "resident-ID-shaped values in the warehouse: $hits"
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.hf_quarantine WHERE raw IS NOT NULL")" \
  "$(t_json "$T_TMP/report.json" "sum(r['expected_quarantine_detail'].values())")" \
  "quarantined messages scanned (raw bytes kept)"
# the same simulation's raw exports (--dry-run writes the station CSVs with
# raw IDs): the scanner must find one of them, as text and as Avro-like bytes
"$HF_BIN" simulate --end-date 2026-11-20 --days 60 "${SIM[@]}" --dry-run -o "$T_TMP/raw" \
  >"$T_TMP/dry.out" 2>&1 || t_fail "simulate --dry-run: $(tail -3 "$T_TMP/dry.out")"
rid=$(grep -ohE '\b[0-9]{17}[0-9X]\b' "$T_TMP"/raw/*.csv | awk 'NR == 1')
[[ -n $rid ]] || t_fail "no raw resident ID in the dry-run exports"
t_sql "CREATE SCHEMA sec_scratch;
       CREATE TABLE sec_scratch.seeded (t text, b bytea, a text[]);
       INSERT INTO sec_scratch.seeded VALUES
         ('donor ' || '$rid', '\\x0a24'::bytea || convert_to('$rid', 'UTF8') || '\\x00ff'::bytea, NULL),
         (NULL, NULL, ARRAY['x', '11010519491231002X'])" >/dev/null
t_eq "$(scan)" "sec_scratch.seeded|a|1
sec_scratch.seeded|b|1
sec_scratch.seeded|t|1" "scan of the seeded scratch table"
t_sql "SET client_min_messages = warning; DROP SCHEMA sec_scratch CASCADE" >/dev/null
t_eq "$(scan)" "" "scan after dropping the scratch table"
t_pass "least privilege for loader, analyst and others; no resident IDs at rest ($(t_json "$T_TMP/report.json" "r['totals']['messages']") messages)"
