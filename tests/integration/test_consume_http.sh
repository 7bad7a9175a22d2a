#!/usr/bin/env bash
# Issue 9 (parts 2, 3, 7): the operations endpoint of a running consumer.
# 20k simulated events (resends, malformed frames, unknown fingerprints, bad
# DINs) through the real broker into a consumer with small batches, logging
# to log.file, then 20 committed messages replayed byte for byte (resends
# that meet the warehouse, whatever the batching); then:
#   * /metrics passes `promtool check metrics`;
#   * every count adds up: messages consumed = rows loaded + duplicates +
#     quarantined, in the metrics and in every consume.batch_committed line,
#     and the lines sum to the metrics;
#   * the loaded-row counters equal the rows in the warehouse per event type
#     and province, the quarantine counters hf_quarantine per reason, and
#     messages consumed what simulate sent;
#   * lag is 0 in messages and seconds once drained; /readyz 200, /healthz 200;
#   * hostile requests (bad methods, huge headers and URLs, garbage bytes,
#     many connections, a slow request) are refused and the server stays up;
#   * SIGTERM drains within consume.shutdown_deadline_ms and the summary line
#     agrees with the metrics;
#   * a consumer that cannot reach PostgreSQL answers /healthz 200 and
#     /readyz 503 with the reason, and stops on SIGTERM.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v curl >/dev/null || t_fail "curl not installed (deploy/install-deps.sh installs it)"
command -v promtool >/dev/null || t_fail "promtool not installed (deploy/install-deps.sh installs prometheus)"
OPS="$T_REPO/tests/integration/ops_http.py"
t_setup_pipeline http 3
N=${HF_IT_EVENTS:-20000}
t_simulate "$T_TMP/report.json" --count "$N" --dup-rate 0.05 --malformed-rate 0.01 \
  --unknown-fp-rate 0.002 --bad-din-rate 0.002 --late-rate 0.02 --seed 21
MSGS=$(t_json "$T_TMP/report.json" "r['totals']['messages']")

LOG="$T_TMP/consume.log"
"$HF_BIN" --set http.port=0 --set http.timeout_s=2 --set http.max_connections=16 \
  --set consume.batch_max_rows=1500 --set consume.shutdown_deadline_ms=5000 \
  --set log.file="$LOG" consume \
  >"$T_TMP/consume.out" 2>"$T_TMP/consume.err" &
CPID=$!
T_PIDS+=("$CPID")
t_wait_for grep -q 'event=http.listening' "$LOG" || t_fail "no http.listening line: $(tail -5 "$LOG" "$T_TMP/consume.err")"
PORT=$(sed -n 's/.*event=http.listening .* port=\([0-9]*\).*/\1/p' "$LOG" | head -1)
URL="http://127.0.0.1:$PORT"
[[ $(curl -s "$URL/healthz") == ok ]] || t_fail "/healthz"

# drained: every message of the report is in a committed batch
drained() { [[ $(curl -s "$URL/metrics" | sed -n 's/^hemoflow_messages_consumed_total \([0-9]*\)$/\1/p') == "$MSGS" ]]; }
wait_drained() {
  for _ in $(seq 1 600); do drained && break; sleep 0.2; done
  drained || t_fail "the consumer did not drain $MSGS messages: $(curl -s "$URL/metrics" | grep '^hemoflow_messages')"
}
wait_drained
wh_dups() { curl -s "$URL/metrics" | python3 -c 'import sys,re
print(sum(float(m.group(1)) for m in (re.match(r"hemoflow_duplicates_dropped_total\{[^}]*stage=\"warehouse\"[^}]*\} (\S+)$", l) for l in sys.stdin) if m))'; }
WH0=$(wh_dups)

# Resends that meet the warehouse whatever the batch sizes (simulate puts a
# resend close to its original, so most are dropped within a batch): REPLAY
# messages already committed are read back from Kafka and produced again,
# byte for byte, into their partitions; each is a warehouse duplicate.
t_need_kcat
REPLAY=20
RTOPIC="${T_PREFIX}donation_collected"
mkdir -p "$T_TMP/replay"
n=0
while IFS='|' read -r part off; do
  kcat -C -q -b "$HF_KAFKA_BOOTSTRAP" -t "$RTOPIC" -p "$part" -o "$off" -c 1 -e -f '%s' \
    >"$T_TMP/replay/$n.bin" 2>"$T_TMP/replay/$n.err" || t_fail "kcat -C $RTOPIC [$part] @$off: $(cat "$T_TMP/replay/$n.err")"
  [[ -s $T_TMP/replay/$n.bin ]] || t_fail "kcat -C $RTOPIC [$part] @$off read nothing"
  # the same key too: a message whose key is not its facility_id is quarantined (key_mismatch)
  key=$(kcat -C -q -b "$HF_KAFKA_BOOTSTRAP" -t "$RTOPIC" -p "$part" -o "$off" -c 1 -e -f '%k' 2>"$T_TMP/replay/$n.err") \
    || t_fail "kcat -C (key) $RTOPIC [$part] @$off: $(cat "$T_TMP/replay/$n.err")"
  [[ -n $key ]] || t_fail "kcat -C $RTOPIC [$part] @$off: no key"
  kcat -P -q -b "$HF_KAFKA_BOOTSTRAP" -t "$RTOPIC" -p "$part" -k "$key" "$T_TMP/replay/$n.bin" 2>"$T_TMP/replay/$n.err" \
    || t_fail "kcat -P $RTOPIC [$part]: $(cat "$T_TMP/replay/$n.err")"
  n=$((n + 1))
done < <(t_sql "SELECT kafka_partition, kafka_offset FROM hemoflow.donation_collected ORDER BY kafka_partition, kafka_offset LIMIT $REPLAY")
t_eq "$n" "$REPLAY" "committed messages replayed"
MSGS=$((MSGS + REPLAY))
wait_drained
t_eq "$(python3 -c "print(int($(wh_dups) - $WH0))")" "$REPLAY" "replayed resends dropped against the warehouse"
sleep 1.5 # one more snapshot of the partitions after the last commit

curl -sf "$URL/metrics" >"$T_TMP/metrics.txt" || t_fail "GET /metrics"
promtool check metrics <"$T_TMP/metrics.txt" >"$T_TMP/promtool.out" 2>&1 \
  || t_fail "promtool check metrics: $(head -20 "$T_TMP/promtool.out")"
python3 "$OPS" metrics "$URL/metrics" >"$T_TMP/metrics.json"
m() { # m EXPR: a Python expression over the scrape s = [[name, labels, value]]
  python3 -c "import json,sys; s=json.load(open(sys.argv[1]))
def tot(n, **kw): return int(sum(v for (k,l,v) in s if k==n and all(l.get(a)==b for a,b in kw.items())))
print($1)" "$T_TMP/metrics.json"
}
CONSUMED=$(m "tot('hemoflow_messages_consumed_total')")
LOADED=$(m "tot('hemoflow_rows_loaded_total')")
DUPS=$(m "tot('hemoflow_duplicates_dropped_total')")
QUAR=$(m "tot('hemoflow_records_quarantined_total')")
t_eq "$CONSUMED" "$MSGS" "messages consumed (metrics) vs simulate"
t_eq "$((LOADED + DUPS + QUAR))" "$CONSUMED" "rows loaded + duplicates + quarantined (metrics)"
t_eq "$(m "tot('hemoflow_duplicates_dropped_total', stage='warehouse') >= $REPLAY")" True \
  "the replayed resends met the warehouse"
t_eq "$(m "tot('hemoflow_duplicates_dropped_total', stage='batch') > 0")" True \
  "some resends were dropped within a batch"
t_eq "$(m "tot('hemoflow_batch_rows_count')")" "$(m "tot('hemoflow_batches_committed_total')")" \
  "one batch_rows observation per committed batch"
t_eq "$(m "tot('hemoflow_event_commit_latency_seconds_count')")" "$LOADED" \
  "one latency observation per loaded row"

# the log lines add up, each and in sum
python3 - "$LOG" "$CONSUMED" "$LOADED" "$DUPS" "$QUAR" <<'EOF' || t_fail "consume.batch_committed lines"
import re, sys
log, want = sys.argv[1], [int(x) for x in sys.argv[2:]]
tot = [0, 0, 0, 0]
for line in open(log):
    if 'event=consume.batch_committed ' not in line:
        continue
    v = [int(re.search(r'\b%s=(\d+)' % k, line).group(1))
         for k in ('messages', 'inserted', 'duplicates', 'quarantined')]
    if v[0] != v[1] + v[2] + v[3]:
        sys.exit('a batch does not add up: ' + line)
    tot = [a + b for a, b in zip(tot, v)]
if tot != want:
    sys.exit(f'batch_committed sums {tot} != metrics {want}')
EOF
grep -q 'event=consume.count_mismatch' "$LOG" && t_fail "consume.count_mismatch logged"

# the warehouse: rows per event type and province, quarantine per reason
while read -r name snake; do
  got=$(t_sql "SELECT string_agg(province_code || ':' || n, ' ' ORDER BY province_code) FROM (SELECT province_code, count(*) n FROM hemoflow.$snake GROUP BY 1) x")
  want=$(m "' '.join(f\"{p}:{int(v)}\" for p, v in sorted((l['province'], v) for (k,l,v) in s if k=='hemoflow_rows_loaded_total' and l['event_type']=='$name'))")
  t_eq "$got" "$want" "rows of $name per province (warehouse vs hemoflow_rows_loaded_total)"
done < <(python3 -c "
import re
for n in ['DonorRegistered','DonorEligibilityAssessed','DonationCollected','ComponentProduced','ScreeningResultRecorded','InventorySnapshot','UnitMoved','UnitDiscarded','TransfusionAdministered','AdverseEventReported']:
    print(n, re.sub(r'(?<!^)(?=[A-Z])', '_', n).lower())")
got=$(t_sql "SELECT string_agg(reason_code || ':' || n, ' ' ORDER BY reason_code) FROM (SELECT reason_code, count(*) n FROM hemoflow.hf_quarantine GROUP BY 1) x")
want=$(m "' '.join(f'{r}:{n}' for r, n in sorted({l['reason']: tot('hemoflow_records_quarantined_total', reason=l['reason']) for (k,l,v) in s if k=='hemoflow_records_quarantined_total'}.items()))")
t_eq "$got" "$want" "hf_quarantine per reason vs hemoflow_records_quarantined_total"
# simulate's report plus the replayed messages (they moved the offsets too)
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); r["totals"]["messages"] += int(sys.argv[2]); json.dump(r, open(sys.argv[3], "w"))' \
  "$T_TMP/report.json" "$REPLAY" "$T_TMP/report.replayed.json"
t_check_warehouse "$T_TMP/report.replayed.json"

# lag, partitions, connections, readiness
t_eq "$(m "tot('hemoflow_kafka_partitions_assigned')")" 30 "partitions assigned"
t_eq "$(m "tot('hemoflow_kafka_partition_lag_messages')")" 0 "lag in messages once drained"
t_eq "$(m "tot('hemoflow_kafka_partition_lag_seconds')")" 0 "lag in seconds once drained"
t_eq "$(m "len([1 for (k,l,v) in s if k=='hemoflow_kafka_partition_lag_seconds'])")" 30 "lag series per partition"
t_eq "$(m "int(sum(max(v, 0) for (k,l,v) in s if k=='hemoflow_kafka_partition_committed_offset'))")" "$MSGS" \
  "committed offsets (-1: none stored) sum to the messages"
t_eq "$(m "tot('hemoflow_kafka_connected')") $(m "tot('hemoflow_pg_connected')")" "1 1" "connection states"
t_eq "$(m "tot('process_resident_memory_bytes') > 1000000 and tot('process_open_fds') > 3 and sum(v for (k,l,v) in s if k=='process_cpu_seconds_total') > 0")" True "process metrics"
code=$(curl -s -o "$T_TMP/readyz" -w '%{http_code}' "$URL/readyz")
t_eq "$code $(cat "$T_TMP/readyz")" "200 ready" "/readyz once drained"
[[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/metrics") == 405 ]] || t_fail "POST /metrics is not 405"
curl -sI "$URL/metrics" | grep -qi '^content-type: text/plain; version=0.0.4' || t_fail "HEAD /metrics content type"

# hostile requests; the consumer keeps running and serving
python3 "$OPS" hostile 127.0.0.1 "$PORT" 16 2 || t_fail "hostile requests"
kill -0 "$CPID" 2>/dev/null || t_fail "the consumer died during the hostile requests"
[[ $(curl -s "$URL/healthz") == ok ]] || t_fail "/healthz after the hostile requests"
grep -q 'event=http.request' "$LOG" && t_fail "requests logged at info level"

# SIGTERM while traffic flows: drains within consume.shutdown_deadline_ms
# (5 s here) and exits 0; what it committed adds up; a later run loads the rest
t_simulate "$T_TMP/report2.json" --count 6000 --rate 2000 --seed 22 &
SIM=$!
for _ in $(seq 1 100); do (( $(curl -s "$URL/metrics" | sed -n 's/^hemoflow_messages_consumed_total \([0-9]*\)$/\1/p') > MSGS )) && break; sleep 0.1; done
t0=$(date +%s%N)
kill -TERM "$CPID"
rc=0; wait "$CPID" || rc=$?
took_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
t_eq "$rc" 0 "consume exit status after SIGTERM"
(( took_ms < 7000 )) || t_fail "SIGTERM took ${took_ms} ms (deadline 5000 ms)"
wait "$SIM" || t_fail "simulate (second run)"
read -r c l d q < <(sed -n 's/^consumed=\([0-9]*\) loaded=\([0-9]*\) duplicates=\([0-9]*\) quarantined=\([0-9]*\) .*/\1 \2 \3 \4/p' "$T_TMP/consume.out")
t_eq "$((l + d + q))" "$c" "summary line: loaded + duplicates + quarantined"
(( c > CONSUMED )) || t_fail "nothing of the second traffic was loaded before SIGTERM: $(cat "$T_TMP/consume.out")"
grep -q 'event=consume.stopping' "$LOG" || t_fail "no consume.stopping line"
MSGS2=$(t_json "$T_TMP/report2.json" "r['totals']['messages']")
t_consume_until_idle
t_eq "$(t_sql "SELECT sum(next_offset) FROM hemoflow.hf_offsets")" "$((MSGS + MSGS2))" \
  "offsets after the drain and a second run"
grep -vq '^ts=[^ ]* level=[a-z]* event=[A-Za-z0-9._]* ' "$LOG" && t_fail "a log line is not 'ts= level= event= key=value': $(grep -v '^ts=[^ ]* level=[a-z]* event=[A-Za-z0-9._]* ' "$LOG" | head -1)"

# not ready while PostgreSQL is unreachable; alive all the same
HEMOFLOW_PG_PORT=1 "$HF_BIN" --set http.port=0 consume >"$T_TMP/nopg.out" 2>"$T_TMP/nopg.err" &
NPID=$!
T_PIDS+=("$NPID")
t_wait_for grep -q 'event=http.listening' "$T_TMP/nopg.err" || t_fail "no endpoint while waiting for PostgreSQL"
NPORT=$(sed -n 's/.*event=http.listening .* port=\([0-9]*\).*/\1/p' "$T_TMP/nopg.err" | head -1)
[[ $(curl -s "http://127.0.0.1:$NPORT/healthz") == ok ]] || t_fail "/healthz while waiting for PostgreSQL"
code=$(curl -s -o "$T_TMP/readyz2" -w '%{http_code}' "http://127.0.0.1:$NPORT/readyz")
t_eq "$code" 503 "/readyz while waiting for PostgreSQL"
grep -q '^not ready: starting' "$T_TMP/readyz2" || t_fail "/readyz reason: $(cat "$T_TMP/readyz2")"
curl -s "http://127.0.0.1:$NPORT/metrics" | grep -q '^hemoflow_pg_connected 0$' || t_fail "hemoflow_pg_connected while waiting"
kill -TERM "$NPID"
for _ in $(seq 1 50); do kill -0 "$NPID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$NPID" 2>/dev/null && t_fail "consume waiting for PostgreSQL did not stop on SIGTERM"
t_pass "operations endpoint: $CONSUMED messages = $LOADED loaded + $DUPS duplicates + $QUAR quarantined, hostile requests survived"
