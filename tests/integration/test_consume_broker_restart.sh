#!/usr/bin/env bash
# Issue 12: a single Kafka broker restarted mid-consume. While simulate
# publishes at a steady rate and a consumer loads, the only broker is stopped
# (all of Kafka is gone: publish spools, consume says once that it waits for
# the broker) and started again on the same port and data. The SAME consumer
# process then loads everything: exact reconciliation. Runs its OWN broker
# (deploy/kafka.sh in a temp work folder), so the suite's broker is untouched.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_PG_DSN HF_SOURCE_DIR
t_need_kcat
K="$HF_SOURCE_DIR/deploy/kafka.sh"
W="$T_TMP/kafka-work"
stop_broker() { "$K" stop "$W" >/dev/null 2>&1 || true; }
trap 'stop_broker; t_cleanup' EXIT
note() { echo "[+${SECONDS}s] $*"; }
# the warehouse schema is migrated while the broker starts
t_create_db "hf_it_brestart_$$"
t_use_db "hf_it_brestart_$$"
"$HF_BIN" migrate >"$T_TMP/migrate.out" 2>&1 &
mig=$!
"$K" start "$W" >"$T_TMP/kenv" 2>"$T_TMP/kstart" || t_fail "own broker did not start: $(tail -5 "$T_TMP/kstart")"
wait "$mig" || t_fail "migrate: $(cat "$T_TMP/migrate.out")"
HF_KAFKA_BOOTSTRAP=$(sed -n 's/^HF_KAFKA_BOOTSTRAP=//p' "$W/kafka.env")
export HF_KAFKA_BOOTSTRAP
t_setup_kafka brestart 3
note "broker up: $HF_KAFKA_BOOTSTRAP"

msgs() { t_sql "SELECT coalesce(sum(next_offset), 0) FROM hemoflow.hf_offsets"; }
poll_until() { # SECONDS CMD...: CMD every 0.2 s until it succeeds, at most SECONDS
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}
msgs_above() { (( $(msgs) > $1 )); }
msgs_are() { (( $(msgs) == $1 )); }

export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=200
export HEMOFLOW_KAFKA_SESSION_TIMEOUT_MS=6000 HEMOFLOW_KAFKA_HEARTBEAT_INTERVAL_MS=1000
# a delivery must outlive the outage: one that times out is re-sent from the
# spool, and if the broker had written it after all, Kafka holds it twice (the
# warehouse drops the duplicate, but the message count would no longer match)
export HEMOFLOW_PUBLISH_DELIVERY_TIMEOUT_MS=300000
"$HF_BIN" consume >"$T_TMP/c.out" 2>"$T_TMP/c.err" &
c=$!
T_PIDS+=("$c")
# traffic starts once the consumer owns its partitions (a first group join on a
# fresh broker can take long), so the broker stop lands while both are busy
poll_until 240 grep -q 'event=consume.assigned' "$T_TMP/c.err" \
  || t_fail "consume got no partitions within 240 s: $(tail -3 "$T_TMP/c.err")"
# ~20 s of traffic
"$HF_BIN" simulate --end-date 2026-11-20 --days 60 --count 2000 --rate 100 --dup-rate 0.05 \
  --malformed-rate 0.01 --seed 51 --report "$T_TMP/report.json" \
  >"$T_TMP/sim.out" 2>"$T_TMP/sim.err" &
sim=$!
T_PIDS+=("$sim")
poll_until 240 msgs_above 0 || t_fail "nothing loaded within 240 s: $(tail -3 "$T_TMP/c.err")"
kill -0 "$sim" 2>/dev/null || t_fail "simulate finished before the broker stop (it paces at 100/s)"
"$K" stop "$W" >/dev/null 2>&1 || t_fail "broker stop"
at_stop=$(msgs)
note "broker stopped with $at_stop messages loaded, publish running"
poll_until 120 grep -q 'event=consume.waiting msg="waiting for the Kafka broker"' "$T_TMP/c.err" \
  || t_fail "consume did not say it waits for the broker: $(tail -3 "$T_TMP/c.err")"
kill -0 "$c" 2>/dev/null || t_fail "consume exited while the broker was down: $(tail -3 "$T_TMP/c.err")"
"$K" start "$W" >/dev/null 2>"$T_TMP/krestart" || t_fail "broker restart: $(tail -3 "$T_TMP/krestart")"
note "broker back"
set +e; wait "$sim"; rc=$?; set -e
T_PIDS=("$c")
if ((rc != 0)) && grep -q 'still_spooled=[1-9]' "$T_TMP/sim.out"; then
  # Known defect (librdkafka 2.12.1, seen about once in ten runs): after the
  # restart simulate's producer kept partitions' leaders unknown ("new
  # leader-1 not found in cache") and delivered nothing more until
  # publish.delivery_timeout_ms; the events stayed in the spool. Nothing is
  # lost: the documented recovery, `publish --drain`, sends them with a new
  # producer, and the reconciliation below must still be exact.
  note "simulate left $(sed -n 's/.*still_spooled=\([0-9]*\).*/\1/p' "$T_TMP/sim.out") events spooled: publish --drain"
  "$HF_BIN" publish --drain >"$T_TMP/drain.out" 2>"$T_TMP/drain.err" \
    || t_fail "publish --drain: $(tail -3 "$T_TMP/drain.err")"
else
  t_eq "$rc" 0 "simulate exit status ($(tail -3 "$T_TMP/sim.err"))"
  grep -q 'still_spooled=0' "$T_TMP/sim.out" || t_fail "simulate: $(cat "$T_TMP/sim.out")"
fi
total=$(t_json "$T_TMP/report.json" "r['totals']['messages']")
poll_until 240 msgs_are "$total" \
  || t_fail "the consumer did not catch up after the restart ($(msgs) of $total): $(tail -3 "$T_TMP/c.err")"
note "the same consumer loaded all $total messages"
t_check_warehouse "$T_TMP/report.json"
# Stopping while the broker is gone: the broker is stopped again, the
# group session (6 s) runs out while consume waits, then SIGTERM. The group
# cannot be left cleanly with no broker; consume must still exit 0 within
# consume.shutdown_deadline_ms (10 s) plus a margin, not hang in librdkafka's
# close. Everything it loaded is committed in PostgreSQL already.
"$K" stop "$W" >/dev/null 2>&1 || t_fail "second broker stop"
note "broker stopped again"
sleep 12
kill -0 "$c" 2>/dev/null || t_fail "consume exited while the broker was down: $(tail -3 "$T_TMP/c.err")"
t0=$SECONDS
kill -TERM "$c"
poll_until 25 eval '! kill -0 '"$c" \
  || t_fail "consume still running $((SECONDS - t0)) s after SIGTERM with the broker down: $(tail -3 "$T_TMP/c.err")"
set +e; wait "$c"; rc=$?; set -e
T_PIDS=()
t_eq "$rc" 0 "consume exit status on SIGTERM with the broker down ($(tail -3 "$T_TMP/c.err"))"
note "consume stopped $((SECONDS - t0)) s after SIGTERM with the broker down"
t_eq "$(msgs)" "$total" "messages in hf_offsets after the stop"
t_pass "single broker restarted mid-consume: the same consumer reconciled exactly ($at_stop of $total loaded at the stop), and stopped in time with the broker gone"
