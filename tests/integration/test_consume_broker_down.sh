#!/usr/bin/env bash
# consume with no reachable Kafka broker: it says once that it is waiting for
# the broker (librdkafka reports "all brokers down" through the error
# callback, not as a consumed message), keeps running, and stops cleanly on
# SIGTERM.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_setup_pipeline brokerdown 1
# a local port nobody listens on
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$port" "$HF_BIN" consume >"$T_TMP/c.out" 2>"$T_TMP/c.err" &
c=$!
T_PIDS+=("$c")
t_wait_for grep -q 'event=consume.waiting msg="waiting for the Kafka broker"' "$T_TMP/c.err" \
  || t_fail "no consume.waiting line within 30 s: $(tail -3 "$T_TMP/c.err")"
sleep 3
kill -0 "$c" 2>/dev/null || t_fail "consume exited while the broker was down: $(tail -3 "$T_TMP/c.err")"
t_eq "$(grep -c 'event=consume.waiting msg="waiting for the Kafka broker"' "$T_TMP/c.err")" 1 "waiting lines (logged once)"
kill -TERM "$c"
wait "$c" || t_fail "consume did not exit 0 on SIGTERM: $(tail -3 "$T_TMP/c.err")"
t_pass "broker down: logged once, kept running, clean stop"
