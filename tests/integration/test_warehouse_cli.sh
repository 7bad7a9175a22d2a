#!/usr/bin/env bash
# Integration: `hemoflow migrate` and `hemoflow partitions` from the command
# line against the real PostgreSQL (own database, dropped at the end):
# dry run, apply, idempotent re-run, concurrent runs, refusals with exit
# codes, partitions ahead / for a range / listed.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_PG_DSN

DB=hf_it_wh_cli
admin() { psql "$HF_PG_DSN dbname=postgres" -XAtq -v ON_ERROR_STOP=1 "$@"; }
q() { psql "$HF_PG_DSN dbname=$DB" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
# pg.* from HF_PG_DSN, database replaced
for kv in $HF_PG_DSN; do
  k=${kv%%=*}; v=${kv#*=}
  [[ $k == dbname ]] && continue
  export "HEMOFLOW_PG_${k^^}=$v"
done
export HEMOFLOW_PG_DBNAME=$DB HEMOFLOW_WAREHOUSE_PARTITIONS_AHEAD=1
cleanup_db() { admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null || true; }
trap 'cleanup_db; t_cleanup' EXIT
cleanup_db
admin -c "CREATE DATABASE $DB"

# other work adds migrations: count the files instead of assuming 0001 alone
NFILES=$(find "$HF_SOURCE_DIR/schemas/sql" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]_*.sql' | wc -l)
NEWEST=$(find "$HF_SOURCE_DIR/schemas/sql" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]_*.sql' -printf '%f\n' | sort | tail -n 1 | cut -c1-4)

out=$("$HF_BIN" migrate --dry-run)
[[ $out == *"would apply 0001_warehouse.sql"* ]] || t_fail "dry run: $out"
t_eq "$(q "SELECT count(*) FROM pg_namespace WHERE nspname = 'hemoflow'")" 0 "dry run changed nothing"
t_pass "migrate --dry-run"

# two migrates at once: one applies, the other waits and finds it done
"$HF_BIN" migrate >"$T_TMP/m1" 2>&1 & p1=$!
"$HF_BIN" migrate >"$T_TMP/m2" 2>&1 & p2=$!
wait $p1 || t_fail "migrate 1: $(cat "$T_TMP/m1")"
wait $p2 || t_fail "migrate 2: $(cat "$T_TMP/m2")"
t_eq "$(cat "$T_TMP/m1" "$T_TMP/m2" | grep -c 'applied 0001_warehouse.sql')" 1 "applied once"
t_eq "$(cat "$T_TMP/m1" "$T_TMP/m2" | grep -c "up to date at version $NEWEST")" 1 "second found it done"
t_eq "$(q 'SELECT count(*) FROM hemoflow.hf_schema_migrations')" "$NFILES" "every migration recorded once"
t_eq "$(q "SELECT count(*) FROM pg_class WHERE relispartition AND relkind = 'r'")" 620 "partitions ahead"
t_pass "concurrent migrate"

out=$("$HF_BIN" migrate)
[[ $out == *"up to date at version $NEWEST"* && $out == *": 0 created"* ]] || t_fail "re-run: $out"
t_pass "migrate idempotent"

"$HF_BIN" partitions --from 2021-11-03 --to 2022-01-31 >"$T_TMP/p" || t_fail "partitions range"
t_eq "$(q "SELECT count(*) FROM pg_class WHERE relispartition AND relkind = 'r'")" 1550 "range partitions"
"$HF_BIN" partitions --list >"$T_TMP/list"
t_eq "$(wc -l <"$T_TMP/list")" 1550 "list lines"
grep -qP '^unit_moved_p65_2021_11\t65\t2021-11-01\t2021-12-01$' "$T_TMP/list" || t_fail "list format: $(head -2 "$T_TMP/list")"
t_pass "partitions --from/--to and --list"

set +e
"$HF_BIN" partitions --from 2022-01-01 >/dev/null 2>&1; rc=$?
t_eq "$rc" 2 "--from without --to is a usage error"
"$HF_BIN" -s warehouse.partition_granularity=day migrate >/dev/null 2>"$T_TMP/err"; rc=$?
t_eq "$rc" 2 "granularity change refused"
grep -q granularity "$T_TMP/err" || t_fail "granularity message: $(cat "$T_TMP/err")"
q "INSERT INTO hemoflow.hf_schema_migrations VALUES (42, 'future', 'x', now())"
"$HF_BIN" migrate >/dev/null 2>"$T_TMP/err"; rc=$?
t_eq "$rc" 1 "newer database refused"
grep -q "newer than the newest" "$T_TMP/err" || t_fail "newer message: $(cat "$T_TMP/err")"
set -e
t_pass "refusals"
