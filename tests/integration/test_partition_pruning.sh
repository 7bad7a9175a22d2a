#!/usr/bin/env bash
# Issue 10: the typical analyst query (one province, a date range) reads
# only that province's partitions for those months. For every fact table,
# EXPLAIN of a count over the parent table and over its _current view,
# filtered by province_code and event_date, must scan only the leaf
# partitions <table>_p32_2026_03 and _2026_04, out of 31 provinces x 6
# months (and the current one migrate creates). (The _current view's NOT EXISTS probes every partition's partial
# supersedes index; only its outer side, alias t, is pruned. See
# docs/indicators.md.) The same for a query whose bounds are parameters
# (a prepared statement with a generic plan: pruned at run time).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_PG_DSN
DB=hf_it_pruning_$$
admin() { psql "$HF_PG_DSN" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
for kv in $HF_PG_DSN; do
  k=${kv%%=*}; v=${kv#*=}
  [[ $k == dbname ]] && continue
  export "HEMOFLOW_PG_${k^^}=$v"
done
export HEMOFLOW_PG_DBNAME=$DB HEMOFLOW_WAREHOUSE_PARTITIONS_AHEAD=0
admin "CREATE DATABASE $DB"
T_CLEAN_DB=$DB
T_DSN="$HF_PG_DSN dbname=$DB"
"$HF_BIN" migrate >"$T_TMP/m.out" 2>&1 || t_fail "migrate: $(cat "$T_TMP/m.out")"
"$HF_BIN" partitions --from 2026-01-01 --to 2026-06-30 >"$T_TMP/p.out" 2>&1 || t_fail "partitions: $(cat "$T_TMP/p.out")"
tables=$(t_sql "SELECT table_name FROM hemoflow.hf_fact_tables ORDER BY 1")
t_eq "$(wc -w <<<"$tables")" 10 "fact tables"
WHERE="province_code = '32' AND event_date BETWEEN '2026-03-10' AND '2026-04-20'"
# scans NAME ALIAS SQL: the relations the plan scans under aliases ALIAS*, sorted
scans() {
  psql "$T_DSN" -XAtq -v ON_ERROR_STOP=1 -c "SET plan_cache_mode = force_generic_plan" \
    -c "$3" | grep -oE " on $1_p[0-9]{2}_[0-9_]+( $2(_[0-9]+)?)?\$| on $1_p[0-9]{2}_[0-9_]+ $2(_[0-9]+)? " \
    | awk '{print $2}' | sort -u | tr '\n' ' '
}
for t in $tables; do
  want="${t}_p32_2026_03 ${t}_p32_2026_04 "
  [[ $(t_sql "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent WHERE c.relname LIKE '${t}_p%'") -ge 186 ]] \
    || t_fail "$t: fewer than 31 x 6 leaf partitions"
  got=$(scans "$t" "$t" "EXPLAIN (COSTS OFF) SELECT count(*) FROM hemoflow.$t WHERE $WHERE")
  t_eq "$got" "$want" "$t: partitions scanned"
  got=$(scans "$t" "t" "EXPLAIN (COSTS OFF) SELECT count(*) FROM hemoflow.${t}_current WHERE $WHERE")
  t_eq "$got" "$want" "${t}_current: partitions scanned (outer side)"
done
# parameters: the generic plan prunes at executor start-up
out=$(psql "$T_DSN" -XAtq -v ON_ERROR_STOP=1 -c "SET plan_cache_mode = force_generic_plan" \
  -c "PREPARE q(text, date, date) AS SELECT count(*) FROM hemoflow.donation_collected WHERE province_code = \$1 AND event_date BETWEEN \$2 AND \$3" \
  -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE q('32', '2026-03-10', '2026-04-20')")
leaves=$(t_sql "SELECT count(*) FROM pg_class WHERE relispartition AND relkind = 'r' AND relname LIKE 'donation_collected_p%'")
[[ $out == *"Subplans Removed: $((leaves - 2))"* ]] || t_fail "generic plan did not prune $((leaves - 2)) of $leaves partitions: $out"
t_eq "$(grep -oE ' on donation_collected_p[0-9_]+ ' <<<"$out" | sort -u | tr -d '\n')" " on donation_collected_p32_2026_03  on donation_collected_p32_2026_04 " "generic plan: partitions scanned"
t_pass "one province and a date range scan only its partitions, in all 10 fact tables (plain, _current, generic plan)"
