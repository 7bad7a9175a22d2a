#!/usr/bin/env bash
# Issue 12 part 5: Kafka over TLS with SASL/SCRAM-SHA-512 (docs/security.md).
# Its own broker (HF_KAFKA_TLS=1 deploy/kafka.sh: a SASL_SSL client listener
# on 127.0.0.1 whose keystore keytool made, user hemoflow with a random
# password set at format time), so nothing else is disturbed. hemoflow
# creates the topics, publishes (simulate) and consumes through it with
# kafka.security.protocol=SASL_SSL in a config file, and the load reconciles
# exactly. Refused: a plaintext client on the TLS port, a CA that did not sign
# the broker's certificate, a wrong password. The password is registered for
# deploy/test.sh's secrets check.
# Needs librdkafka >= 2.6.1 (earlier ones cannot authenticate SCRAM against
# Kafka 4: librdkafka PR #4895); with an older one it fails and says so.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_PG_DSN HF_TEST_WORK
t_need_kcat
K="$HF_SOURCE_DIR/deploy/kafka.sh"
W="$HF_TEST_WORK/kafka-tls.$$"
stop_broker() {
  "$K" stop "$W" >/dev/null 2>&1 || true
  rm -rf "$W/kafka/data" "$W/kafka/tls"  # keep the broker's logs for the secrets check
}
trap 'stop_broker; t_cleanup' EXIT
HF_KAFKA_TLS=1 "$K" start "$W" >"$T_TMP/kenv" 2>"$T_TMP/kstart" \
  || t_fail "TLS broker did not start: $(tail -5 "$T_TMP/kstart")"
envget() { sed -n "s/^$1=//p" "$W/kafka.env"; }
BOOT=$(envget HF_KAFKA_BOOTSTRAP) CA=$(envget HF_KAFKA_CA) PWFILE=$(envget HF_KAFKA_SASL_PASSWORD_FILE)
[[ -n $BOOT && -f $CA && -f $PWFILE ]] || t_fail "kafka.env lacks the TLS settings: $(cat "$W/kafka.env")"
PW=$(<"$PWFILE")
((${#PW} >= 16)) || t_fail "SCRAM password too short"
t_register_secret "Kafka SCRAM password" "$PW"

# the warehouse: the shared PostgreSQL (a fresh database)
t_setup_pipeline_pg() {
  T_DB="hf_it_ktls_$$"
  psql "$HF_PG_DSN" -XqAtc "CREATE DATABASE \"$T_DB\"" >/dev/null || t_fail "cannot create $T_DB"
  T_CLEAN_DB=$T_DB
  T_DSN="host=$(t_pg_field host) port=$(t_pg_field port) dbname=$T_DB user=$(t_pg_field user)"
  export HEMOFLOW_PG_HOST=$(t_pg_field host) HEMOFLOW_PG_PORT=$(t_pg_field port)
  export HEMOFLOW_PG_DBNAME=$T_DB HEMOFLOW_PG_USER=$(t_pg_field user)
}
t_setup_pipeline_pg
export HEMOFLOW_TOPIC_PREFIX="it-ktls-$$." HEMOFLOW_CONSUME_GROUP_ID="it-ktls-$$"
export HEMOFLOW_PUBLISH_SPOOL_DIR="$T_TMP/spool" HEMOFLOW_PUBLISH_KEY_FILE="$T_TMP/hmac.key"
export HEMOFLOW_HTTP_PORT=0
t_hmac_key "$T_TMP/hmac.key"
# kafka_conf FILE PASSWORD CA: hemoflow's Kafka settings for the TLS listener
kafka_conf() {
  (umask 077; cat >"$1" <<CONF
kafka.bootstrap.servers = $BOOT
kafka.security.protocol = SASL_SSL
kafka.sasl.mechanisms = SCRAM-SHA-512
kafka.sasl.username = hemoflow
kafka.sasl.password = $2
kafka.ssl.ca.location = $3
kafka.ssl.endpoint.identification.algorithm = https
publish.delivery_timeout_ms = 20000
CONF
  )
}
kafka_conf "$T_TMP/good.conf" "$PW" "$CA"
kafka_conf "$T_TMP/badpw.conf" "not-the-password-$$" "$CA"
(cd "$T_TMP" && openssl req -x509 -new -nodes -newkey rsa:2048 -days 2 -keyout wrong-ca.key \
  -out wrong-ca.crt -subj "/CN=not the broker" >/dev/null 2>&1) || t_fail "openssl: wrong CA"
kafka_conf "$T_TMP/badca.conf" "$PW" "$T_TMP/wrong-ca.crt"

# refused: plaintext on the TLS port; a wrong CA and a wrong password deliver
# nothing (simulate waits 8 s for deliveries, then exits 1)
kcat -b "$BOOT" -L -m 5 >"$T_TMP/plain.out" 2>&1 && t_fail "a plaintext client read metadata from the SASL_SSL listener"
refused() { # refused CONF WHAT GREP: simulate delivers nothing, its log matching GREP
  local rc=0
  "$HF_BIN" -c "$T_TMP/$1" simulate --end-date 2026-11-20 --count 20 --seed 3 --timeout 8000 \
    -d "$T_TMP/spool-$1" >"$T_TMP/$1.out" 2>&1 || rc=$?
  ((rc == 1)) || t_fail "simulate with $2: exit $rc, expected 1 (undelivered): $(tail -3 "$T_TMP/$1.out")"
  grep -qiE "$3" "$T_TMP/$1.out" || t_fail "simulate with $2: expected /$3/, got: $(tail -5 "$T_TMP/$1.out")"
}
refused badca.conf "a wrong CA" "certificate verify failed|SSL handshake failed"
refused badpw.conf "a wrong password" "Authentication failed|SASL authentication error"

# through SASL_SSL: topics, publish (simulate), migrate, consume, reconcile
"$HF_BIN" -c "$T_TMP/good.conf" topics --partitions 2 >"$T_TMP/topics.out" 2>&1 \
  || t_fail "topics over SASL_SSL (a librdkafka older than 2.6.1 cannot authenticate SCRAM against Kafka 4): $(tail -5 "$T_TMP/topics.out")"
"$HF_BIN" migrate >"$T_TMP/migrate.out" 2>&1 || t_fail "migrate: $(cat "$T_TMP/migrate.out")"
"$HF_BIN" -c "$T_TMP/good.conf" simulate --end-date 2026-11-20 --days 60 --count 1500 \
  --dup-rate 0.05 --malformed-rate 0.01 --seed 14 --report "$T_TMP/report.json" \
  >"$T_TMP/simulate.out" 2>"$T_TMP/simulate.err" || t_fail "simulate over SASL_SSL: $(tail -5 "$T_TMP/simulate.err")"
"$HF_BIN" -c "$T_TMP/good.conf" consume --idle-exit 2500 >"$T_TMP/consume.out" \
  2>"$T_TMP/consume.err" || t_fail "consume over SASL_SSL: $(tail -5 "$T_TMP/consume.err")"
t_check_warehouse "$T_TMP/report.json"
grep -qF -- "$PW" "$T_TMP"/*.out "$T_TMP"/*.err && t_fail "the SCRAM password is in a hemoflow log"
t_pass "topics, simulate and consume over SASL_SSL (SCRAM-SHA-512, keytool keystore); plaintext, wrong CA and wrong password refused"
