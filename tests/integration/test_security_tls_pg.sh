#!/usr/bin/env bash
# Issue 12 part 5: the warehouse over TLS (docs/security.md). A TLS-only
# PostgreSQL (HF_PG_TLS=1 deploy/pg.sh: a throwaway CA, a server certificate
# for localhost/127.0.0.1, SCRAM passwords, plaintext TCP rejected) in its
# own work folder; hemoflow migrates and consumes through it with
# pg.sslmode=verify-full, and the load reconciles exactly. Refused: a wrong
# CA (certificate verify failed), a host name the certificate does not name,
# a connection without TLS, a wrong password. The password is registered for
# deploy/test.sh's secrets check, and consume reads it from a config file
# (pg.password) to prove it stays out of the logs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_KAFKA_BOOTSTRAP HF_TEST_WORK
command -v openssl >/dev/null || t_fail "openssl not installed"
PGW="$HF_TEST_WORK/pg-tls.$$"
stop_pg() {
  "$HF_SOURCE_DIR/deploy/pg.sh" stop "$PGW" >/dev/null 2>&1 || true
  # keep server.log for the secrets check; the secret stores go
  rm -rf "$PGW/pg/data" "$PGW/pg/tls" "$PGW/pgpass"
}
trap 'stop_pg; t_cleanup' EXIT
HF_PG_TLS=1 "$HF_SOURCE_DIR/deploy/pg.sh" start "$PGW" >"$T_TMP/pg-start.out" 2>&1 \
  || t_fail "TLS PostgreSQL did not start: $(tail -5 "$T_TMP/pg-start.out")"
envget() { sed -n "s/^$1=//p" "$PGW/pg.env"; }
CA=$(envget HF_PG_CA) PASSFILE=$(envget HF_PG_PASSFILE) PORT=$(envget HF_PG_PORT)
PW=$(cut -d: -f5- "$PASSFILE")
[[ -n $CA && -n $PASSFILE && ${#PW} -ge 16 ]] || t_fail "pg.env lacks the TLS settings: $(cat "$PGW/pg.env")"
t_register_secret "TLS PostgreSQL password" "$PW"

# hemoflow's settings: everything through TLS with the server verified
T_DB=hemoflow
T_DSN="host=localhost port=$PORT dbname=$T_DB user=hemoflow sslmode=verify-full sslrootcert=$CA passfile=$PASSFILE"
export HEMOFLOW_PG_HOST=localhost HEMOFLOW_PG_PORT=$PORT HEMOFLOW_PG_DBNAME=$T_DB
export HEMOFLOW_PG_USER=hemoflow HEMOFLOW_PG_SSLMODE=verify-full HEMOFLOW_PG_SSLROOTCERT=$CA
export HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$HF_KAFKA_BOOTSTRAP
export HEMOFLOW_TOPIC_PREFIX="it-pgtls-$$." HEMOFLOW_CONSUME_GROUP_ID="it-pgtls-$$"
export HEMOFLOW_PUBLISH_SPOOL_DIR="$T_TMP/spool" HEMOFLOW_PUBLISH_KEY_FILE="$T_TMP/hmac.key"
export HEMOFLOW_HTTP_PORT=0
t_hmac_key "$T_TMP/hmac.key"
t_eq "$(psql "$T_DSN" -XAtc "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")" t \
  "psql over verify-full uses TLS"

# refused: each names why
refused() { # refused WHAT GREP ENV...: migrate must fail, its error matching GREP
  local what=$1 want=$2 rc=0; shift 2
  env "$@" "$HF_BIN" migrate >"$T_TMP/refused.out" 2>&1 || rc=$?
  ((rc != 0)) || t_fail "migrate with $what succeeded"
  grep -q "$want" "$T_TMP/refused.out" || t_fail "migrate with $what: expected '$want', got: $(cat "$T_TMP/refused.out")"
}
(cd "$T_TMP" && openssl req -x509 -new -nodes -newkey rsa:2048 -days 2 -keyout wrong-ca.key \
  -out wrong-ca.crt -subj "/CN=not the warehouse CA" >/dev/null 2>&1) || t_fail "openssl: wrong CA"
refused "a wrong CA" "certificate verify failed" HEMOFLOW_PG_PASSFILE="$PASSFILE" \
  HEMOFLOW_PG_SSLROOTCERT="$T_TMP/wrong-ca.crt"
refused "a host name not in the certificate" "does not match host name" \
  HEMOFLOW_PG_PASSFILE="$PASSFILE" HEMOFLOW_PG_HOST=wrong.example HEMOFLOW_PG_HOSTADDR=127.0.0.1
refused "no TLS" "no encryption" HEMOFLOW_PG_PASSFILE="$PASSFILE" HEMOFLOW_PG_SSLMODE=disable \
  HEMOFLOW_PG_HOST=127.0.0.1
refused "a wrong password" "password authentication failed" HEMOFLOW_PG_PASSWORD=not-the-password \
  HEMOFLOW_PG_PASSFILE=/dev/null

# migrate (passfile) and consume (pg.password in a config file) through TLS
HEMOFLOW_PG_PASSFILE=$PASSFILE "$HF_BIN" topics --partitions 2 >"$T_TMP/topics.out" 2>&1 \
  || t_fail "topics: $(cat "$T_TMP/topics.out")"
HEMOFLOW_PG_PASSFILE=$PASSFILE "$HF_BIN" migrate >"$T_TMP/migrate.out" 2>&1 \
  || t_fail "migrate over TLS: $(cat "$T_TMP/migrate.out")"
t_simulate "$T_TMP/report.json" --count 1500 --dup-rate 0.05 --malformed-rate 0.01 --seed 13
(umask 077; printf 'pg.password = %s\n' "$PW" >"$T_TMP/secret.conf")
"$HF_BIN" -c "$T_TMP/secret.conf" -l debug consume --idle-exit 2500 >"$T_TMP/consume.out" \
  2>"$T_TMP/consume.err" || t_fail "consume over TLS: $(tail -5 "$T_TMP/consume.err")"
t_check_warehouse "$T_TMP/report.json"
grep -qF -- "$PW" "$T_TMP"/*.out "$T_TMP"/*.err && t_fail "the PostgreSQL password is in a hemoflow log"
t_pass "migrate and consume over TLS (verify-full) to a TLS-only PostgreSQL; wrong CA, host name, plaintext and password refused"
