# shellcheck shell=bash
# Helpers for the shell integration tests (sourced). They fail loudly when
# the services deploy/test.sh starts are missing.
set -euo pipefail
HF_BIN=${HF_BIN:?HF_BIN must point at the hemoflow binary (set by CTest)}
# the checkout these tests belong to; CTest also passes it as HF_SOURCE_DIR
T_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HF_SOURCE_DIR=${HF_SOURCE_DIR:-$T_REPO}
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hf-it.XXXXXX")
T_PIDS=()
T_CLEAN_DB=
t_cleanup() {
  local p
  for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n ${T_CLEAN_DB:-} ]]; then
    psql "$HF_PG_DSN" -XqAtc "DROP DATABASE IF EXISTS \"$T_CLEAN_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$T_TMP"
}
trap t_cleanup EXIT
t_fail() { echo "FAIL: $*" >&2; exit 1; }
t_pass() { echo "PASS: $*"; }
t_need() { # t_need VAR...: required environment from deploy/test.sh
  local v
  for v in "$@"; do
    [[ -n ${!v:-} ]] || t_fail "$v is not set: run through deploy/test.sh (real services required)"
  done
}
t_eq() { [[ "$1" == "$2" ]] || t_fail "$3: expected '$2', got '$1'"; }
t_need_kcat() { command -v kcat >/dev/null || t_fail "kcat not installed (deploy/install-deps.sh installs it)"; }
# t_hmac_key FILE: a fresh pseudonymization key, mode 0600 as publish requires
t_hmac_key() { head -c 48 /dev/urandom | base64 >"$1"; chmod 600 "$1"; }
# t_create_topic WORK TOPIC PARTITIONS: a topic on the deploy/kafka.sh broker of WORK
t_create_topic() {
  "$HF_SOURCE_DIR/deploy/kafka.sh" create-topic "$1" "$2" "$3" >/dev/null 2>&1 \
    || t_fail "could not create topic $2"
}
# t_wait_for CMD... : retry a command for up to 30 s
t_wait_for() {
  local i
  for i in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# ---- warehouse / pipeline helpers -------------------------------------------

# t_pg_field KEY: a field of HF_PG_DSN ("host=... port=... dbname=... user=...")
t_pg_field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$HF_PG_DSN"; }

# t_setup_pipeline NAME [PARTITIONS]: a fresh database and a private topic
# prefix/consumer group for this test, exported as HEMOFLOW_* settings so every
# hemoflow command of the test uses them. Sets T_DB, T_PREFIX, T_DSN.
t_setup_pipeline() {
  t_need HF_PG_DSN HF_KAFKA_BOOTSTRAP
  local name=$1 parts=${2:-3}
  T_DB="hf_it_${name}_$$"
  T_PREFIX="it-${name}-$$."
  psql "$HF_PG_DSN" -XqAtc "DROP DATABASE IF EXISTS \"$T_DB\"" >/dev/null 2>&1
  psql "$HF_PG_DSN" -XqAtc "CREATE DATABASE \"$T_DB\"" >/dev/null || t_fail "cannot create database $T_DB"
  T_DSN="host=$(t_pg_field host) port=$(t_pg_field port) dbname=$T_DB user=$(t_pg_field user)"
  export HEMOFLOW_PG_HOST=$(t_pg_field host) HEMOFLOW_PG_PORT=$(t_pg_field port)
  export HEMOFLOW_PG_DBNAME=$T_DB HEMOFLOW_PG_USER=$(t_pg_field user)
  export HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$HF_KAFKA_BOOTSTRAP
  export HEMOFLOW_TOPIC_PREFIX=$T_PREFIX
  export HEMOFLOW_CONSUME_GROUP_ID="it-${name}-$$"
  export HEMOFLOW_PUBLISH_SPOOL_DIR="$T_TMP/spool"
  export HEMOFLOW_PUBLISH_KEY_FILE="$T_TMP/hmac.key"
  # consume's operations endpoint on a free port: tests run several consumers
  export HEMOFLOW_HTTP_PORT=0
  t_hmac_key "$T_TMP/hmac.key"
  "$HF_BIN" topics --partitions "$parts" >"$T_TMP/topics.out" 2>&1 \
    || t_fail "topics: $(cat "$T_TMP/topics.out")"
  "$HF_BIN" migrate >"$T_TMP/migrate.out" 2>&1 || t_fail "migrate: $(cat "$T_TMP/migrate.out")"
  T_CLEAN_DB=$T_DB
}

t_sql() { psql "$T_DSN" -XqAt -v ON_ERROR_STOP=1 -c "$1"; }

# t_json FILE EXPR: evaluate a Python expression over the JSON document `r`
t_json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# t_simulate REPORT ARGS...: publish simulated traffic through the station path
t_simulate() {
  local report=$1; shift
  "$HF_BIN" simulate --end-date 2026-11-20 --days 60 --report "$report" "$@" \
    >"$T_TMP/simulate.out" 2>"$T_TMP/simulate.err" \
    || t_fail "simulate: $(tail -5 "$T_TMP/simulate.err")"
}

# t_consume_until_idle [LOG]: one consumer run until every partition is drained
t_consume_until_idle() {
  local log=${1:-$T_TMP/consume.final.err}
  "$HF_BIN" consume --idle-exit 2500 >"$T_TMP/consume.out" 2>"$log" \
    || t_fail "consume: $(tail -5 "$log")"
}

# t_check_warehouse REPORT: the warehouse holds exactly what simulate reports:
# each distinct valid event once per table, each injected fault in
# hf_quarantine under its reason, and hf_offsets covering every message.
t_check_warehouse() {
  local report=$1 table want got reason
  for table in $(t_json "$report" "' '.join(r['expected_warehouse_rows'])"); do
    want=$(t_json "$report" "r['expected_warehouse_rows']['$table']")
    got=$(t_sql "SELECT count(*) FROM hemoflow.$table")
    t_eq "$got" "$want" "rows in $table"
    got=$(t_sql "SELECT count(DISTINCT event_id) FROM hemoflow.$table")
    t_eq "$got" "$want" "distinct event_ids in $table"
  done
  for reason in $(t_json "$report" "' '.join(r['expected_quarantine_detail'])"); do
    want=$(t_json "$report" "r['expected_quarantine_detail']['$reason']")
    got=$(t_sql "SELECT count(*) FROM hemoflow.hf_quarantine WHERE reason_code = '$reason'")
    t_eq "$got" "$want" "quarantined with reason $reason"
  done
  want=$(t_json "$report" "sum(r['expected_quarantine_detail'].values())")
  t_eq "$(t_sql "SELECT count(*) FROM hemoflow.hf_quarantine")" "$want" "quarantine rows in all"
  t_eq "$(t_sql "SELECT count(*) FROM (SELECT 1 FROM hemoflow.hf_quarantine GROUP BY topic, kafka_partition, kafka_offset HAVING count(*) > 1) d")" 0 "messages quarantined twice"
  want=$(t_json "$report" "r['totals']['messages']")
  t_eq "$(t_sql "SELECT coalesce(sum(next_offset), 0) FROM hemoflow.hf_offsets")" "$want" "offsets stored in hf_offsets"
}

# t_load_indicator_fixture: publish tests/fixtures/indicators/*.csv (every
# row accepted), consume until idle and refresh the indicator views with
# suppression off (hand-computed values: tests/fixtures/indicators/README.md).
t_load_indicator_fixture() {
  local f t out
  for f in "$HF_SOURCE_DIR"/tests/fixtures/indicators/*.csv; do
    t=$(basename "$f" .csv)
    out=$("$HF_BIN" publish --type "$t" "$f" 2>"$T_TMP/publish-$t.err") \
      || t_fail "publish $t: $out $(tail -3 "$T_TMP/publish-$t.err")"
    [[ $out == *" rejected=0 "* && $out == *" still_spooled=0" ]] || t_fail "publish $t: $out"
  done
  t_consume_until_idle
  "$HF_BIN" -s indicators.suppress_max=0 -s indicators.suppress_round=1 refresh \
    >"$T_TMP/refresh.out" 2>&1 || t_fail "refresh: $(cat "$T_TMP/refresh.out")"
}

# t_sql_as_analyst SQL: run SQL as the analyst role (SET ROLE); prints the
# result, or the SQLSTATE as "ERROR <state>" when it fails.
t_sql_as_analyst() {
  psql "$T_DSN" -XqAt -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate \
    -c "SET ROLE hemoflow_analyst" -c "$1" 2>&1 | sed -E 's/^ERROR: +([0-9A-Z]{5}).*/ERROR \1/'
}
