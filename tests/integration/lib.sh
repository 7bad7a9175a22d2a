# shellcheck shell=bash
# Helpers for the shell integration tests (sourced). They fail loudly when
# the services deploy/test.sh starts are missing.
set -euo pipefail
HF_BIN=${HF_BIN:?HF_BIN must point at the hemoflow binary (set by CTest)}
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
  psql "$HF_PG_DSN" -XqAtc "DROP DATABASE IF EXISTS \"$T_DB\"" >/dev/null
  psql "$HF_PG_DSN" -XqAtc "CREATE DATABASE \"$T_DB\"" >/dev/null || t_fail "cannot create database $T_DB"
  T_DSN="host=$(t_pg_field host) port=$(t_pg_field port) dbname=$T_DB user=$(t_pg_field user)"
  export HEMOFLOW_PG_HOST=$(t_pg_field host) HEMOFLOW_PG_PORT=$(t_pg_field port)
  export HEMOFLOW_PG_DBNAME=$T_DB HEMOFLOW_PG_USER=$(t_pg_field user)
  export HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$HF_KAFKA_BOOTSTRAP
  export HEMOFLOW_TOPIC_PREFIX=$T_PREFIX
  export HEMOFLOW_CONSUME_GROUP_ID="it-${name}-$$"
  export HEMOFLOW_PUBLISH_SPOOL_DIR="$T_TMP/spool"
  export HEMOFLOW_PUBLISH_KEY_FILE="$T_TMP/hmac.key"
  head -c 48 /dev/urandom | base64 >"$T_TMP/hmac.key"
  chmod 600 "$T_TMP/hmac.key"
  "$HF_BIN" topics --partitions "$parts" >"$T_TMP/topics.out" 2>&1 \
    || t_fail "topics: $(cat "$T_TMP/topics.out")"
  "$HF_BIN" migrate >"$T_TMP/migrate.out" 2>&1 || t_fail "migrate: $(cat "$T_TMP/migrate.out")"
  T_CLEAN_DB=$T_DB
}

t_sql() { psql "$T_DSN" -XqAt -v ON_ERROR_STOP=1 -c "$1"; }

# t_json FILE EXPR: evaluate a Python expression over the JSON document `r`
t_json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }
