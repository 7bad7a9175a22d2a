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
T_CLEAN_DBS=()   # every database t_setup_pipeline made (a test may set up several)
t_cleanup() {
  local p
  for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  # keep the test's logs for deploy/test.sh's secrets check
  # (secrets_check.py looks for every key and password in them)
  if [[ -n ${HF_TEST_WORK:-} && -d $HF_TEST_WORK ]]; then
    local keep="$HF_TEST_WORK/logs/$(basename "$0" .sh).$$"
    mkdir -p "$keep" && find "$T_TMP" -maxdepth 2 -type f \( -name '*.log' -o -name '*.err' \
      -o -name '*.out' \) -size -64M -exec cp -t "$keep" {} + 2>/dev/null || true
  fi
  for p in ${T_CLEAN_DB:-} "${T_CLEAN_DBS[@]}"; do
    psql "$HF_PG_DSN" -XqAtc "DROP DATABASE IF EXISTS \"$p\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
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
# t_register_secret NAME VALUE: record a key or password the test uses in
# $HF_TEST_WORK/secrets/registry; deploy/test.sh's last step
# (secrets_check.py) fails if any log of the suite holds one of them
t_register_secret() {
  [[ -n ${HF_TEST_WORK:-} ]] || return 0
  (umask 077 && mkdir -p "$HF_TEST_WORK/secrets" && printf '%s\t%s\n' "$1" "$2" >>"$HF_TEST_WORK/secrets/registry")
}
# t_hmac_key FILE: a fresh pseudonymization key, mode 0600 as publish requires
t_hmac_key() {
  head -c 48 /dev/urandom | base64 >"$1"
  chmod 600 "$1"
  t_register_secret "HMAC key of $(basename "$0")" "$(cat "$1")"
}
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

# t_setup_pipeline NAME [PARTITIONS [REPLICATION_FACTOR]]: a fresh database and
# a private topic prefix/consumer group for this test, exported as HEMOFLOW_*
# settings so every hemoflow command of the test uses them (topics on
# HF_KAFKA_BOOTSTRAP, replication factor 1 unless given). Sets T_DB, T_PREFIX, T_DSN.
t_setup_pipeline() {
  t_need HF_PG_DSN HF_KAFKA_BOOTSTRAP
  T_CLEAN_DBS+=("hf_it_${1}_$$")
  t_use_db "hf_it_${1}_$$"
  t_setup_kafka "$@"
  t_clone_migrated "$T_DB"
  "$HF_BIN" migrate >"$T_TMP/migrate.out" 2>&1 || t_fail "migrate: $(cat "$T_TMP/migrate.out")"
}

# t_create_db DB: a fresh, empty database, dropped when the test ends
t_create_db() {
  t_need HF_PG_DSN
  psql "$HF_PG_DSN" -XqAtc "DROP DATABASE IF EXISTS \"$1\"" >/dev/null 2>&1
  psql "$HF_PG_DSN" -XqAtc "CREATE DATABASE \"$1\"" >/dev/null || t_fail "cannot create database $1"
  T_CLEAN_DBS+=("$1")
}

# t_use_db DB: every later hemoflow command and t_sql use database DB (sets T_DB, T_DSN)
t_use_db() {
  T_DB=$1
  T_DSN="host=$(t_pg_field host) port=$(t_pg_field port) dbname=$T_DB user=$(t_pg_field user)"
  export HEMOFLOW_PG_HOST=$(t_pg_field host) HEMOFLOW_PG_PORT=$(t_pg_field port)
  export HEMOFLOW_PG_DBNAME=$T_DB HEMOFLOW_PG_USER=$(t_pg_field user)
}

# t_setup_kafka NAME [PARTITIONS [REPLICATION_FACTOR]]: a private topic prefix,
# consumer group, spool and key, exported as HEMOFLOW_* settings, and
# its topics created on HF_KAFKA_BOOTSTRAP. Several per test (one database) are
# fine: each has its own topics, so hf_offsets keeps them apart. Sets T_PREFIX.
t_setup_kafka() {
  t_need HF_KAFKA_BOOTSTRAP
  local name=$1 parts=${2:-3} rf=${3:-1}
  T_PREFIX="it-${name}-$$."
  export HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$HF_KAFKA_BOOTSTRAP
  export HEMOFLOW_TOPIC_PREFIX=$T_PREFIX
  export HEMOFLOW_CONSUME_GROUP_ID="it-${name}-$$"
  export HEMOFLOW_PUBLISH_SPOOL_DIR="$T_TMP/spool"
  export HEMOFLOW_PUBLISH_KEY_FILE="$T_TMP/hmac.key"
  # consume's operations endpoint on a free port: tests run several consumers
  export HEMOFLOW_HTTP_PORT=0
  t_hmac_key "$T_TMP/hmac.key"
  # rf "default": the cluster's default.replication.factor (no option)
  local rfopt=(--replication-factor "$rf")
  [[ $rf == default ]] && rfopt=()
  "$HF_BIN" topics --partitions "$parts" "${rfopt[@]}" >"$T_TMP/topics.out" 2>&1 \
    || t_fail "topics: $(cat "$T_TMP/topics.out")"
}

# t_clone_migrated DB: replace the empty database DB by a copy of a warehouse
# that `hemoflow migrate` built once for this suite run (CREATE DATABASE ...
# TEMPLATE, seconds instead of creating ~1 550 partitions again). The template
# is keyed by everything that decides what migrate builds: the hemoflow
# binary, the migration files, the HEMOFLOW_WAREHOUSE_* / HEMOFLOW_INDICATORS_*
# settings and the server's current date. The caller still runs migrate on
# the copy (it finds the schema up to date and sets roles, privileges and
# partitions exactly as on a fresh database). Needs HF_TEST_WORK (the
# services' folder, set by deploy/test.sh) for the lock file.
t_clone_migrated() {
  local db=$1 key tmpl today
  t_need HF_TEST_WORK
  today=$(psql "$HF_PG_DSN" -XqAtc "SELECT current_date") || t_fail "cannot read current_date"
  key=$( { sha256sum "$HF_BIN" "$HF_SOURCE_DIR"/schemas/sql/*.sql
           env | grep -E '^HEMOFLOW_(WAREHOUSE|INDICATORS)_' | sort
           echo "$today"; } | sha256sum | cut -c1-16)
  tmpl="hf_tmpl_$key"
  (
    flock -w 600 9 || t_fail "template lock $HF_TEST_WORK/hf-template.lock: timed out"
    if [[ $(psql "$HF_PG_DSN" -XqAtc "SELECT 1 FROM pg_database WHERE datname = '$tmpl'") != 1 ]]; then
      psql "$HF_PG_DSN" -XqAtc "DROP DATABASE IF EXISTS \"${tmpl}_new\"" -c "CREATE DATABASE \"${tmpl}_new\"" \
        >/dev/null 2>&1 || t_fail "cannot create database ${tmpl}_new"
      HEMOFLOW_PG_DBNAME="${tmpl}_new" "$HF_BIN" migrate >"$T_TMP/migrate-template.out" 2>&1 \
        || t_fail "migrate (template): $(cat "$T_TMP/migrate-template.out")"
      # published under its final name only once complete
      psql "$HF_PG_DSN" -XqAtc "ALTER DATABASE \"${tmpl}_new\" RENAME TO \"$tmpl\"" >/dev/null \
        || t_fail "cannot rename ${tmpl}_new"
    fi
    psql "$HF_PG_DSN" -XqAtc "DROP DATABASE IF EXISTS \"$db\"" -c "CREATE DATABASE \"$db\" TEMPLATE \"$tmpl\"" \
      >/dev/null || t_fail "cannot create database $db from $tmpl"
  ) 9>>"$HF_TEST_WORK/hf-template.lock" || exit 1
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
# One psql session for all the counts (a session per count took tens of
# seconds on a loaded machine: every count plans over all partitions).
t_check_warehouse() {
  local msg
  msg=$(python3 - "$1" "$T_DSN" <<'PY'
import json, re, subprocess, sys
def fail(msg):
    print(msg)
    sys.exit(1)
r = json.load(open(sys.argv[1]))
tables = list(r["expected_warehouse_rows"])
for t in tables:
    if not re.fullmatch(r"[a-z_]+", t):
        fail(f"report names a strange table {t!r}")
q = [f"SELECT 'rows', '{t}', count(*), count(DISTINCT event_id) FROM hemoflow.{t}" for t in tables]
q.append("SELECT 'reason', reason_code, count(*), 0 FROM hemoflow.hf_quarantine GROUP BY reason_code")
q.append("SELECT 'twice', '', count(*), 0 FROM (SELECT 1 FROM hemoflow.hf_quarantine "
         "GROUP BY topic, kafka_partition, kafka_offset HAVING count(*) > 1) d")
q.append("SELECT 'offsets', '', coalesce(sum(next_offset), 0), 0 FROM hemoflow.hf_offsets")
out = subprocess.run(["psql", sys.argv[2], "-XqAt", "-v", "ON_ERROR_STOP=1", "-F", "\t",
                      "-c", " UNION ALL ".join(q)], capture_output=True, text=True)
if out.returncode:
    fail(f"psql: {out.stderr.strip()}")
rows, reasons, other = {}, {}, {}
for line in out.stdout.splitlines():
    kind, name, a, b = line.split("\t")
    if kind == "rows":
        rows[name] = (int(a), int(b))
    elif kind == "reason":
        reasons[name] = int(a)
    else:
        other[kind] = int(a)
def check(got, want, what):
    if got != want:
        fail(f"{what}: expected '{want}', got '{got}'")
for t in tables:
    want = r["expected_warehouse_rows"][t]
    check(rows[t][0], want, f"rows in {t}")
    check(rows[t][1], want, f"distinct event_ids in {t}")
detail = r["expected_quarantine_detail"]
for reason, want in detail.items():
    check(reasons.get(reason, 0), want, f"quarantined with reason {reason}")
check(sum(reasons.values()), sum(detail.values()), "quarantine rows in all")
check(other["twice"], 0, "messages quarantined twice")
check(other["offsets"], r["totals"]["messages"], "offsets stored in hf_offsets")
PY
  ) || t_fail "${msg:-t_check_warehouse failed}"
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
