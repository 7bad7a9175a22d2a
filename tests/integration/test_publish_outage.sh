#!/usr/bin/env bash
# Integration: the broker stops in the middle of `hemoflow publish` and comes
# back; every accepted event must reach Kafka (at least once, counted by
# distinct event_id). Runs its OWN broker (deploy/kafka.sh in a temp work
# folder) so that stopping it does not disturb other tests.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_SOURCE_DIR
t_need_kcat
K="$HF_SOURCE_DIR/deploy/kafka.sh"
W="$T_TMP/kafka-work"
stop_broker() { "$K" stop "$W" >/dev/null 2>&1 || true; }
trap 'stop_broker; t_cleanup' EXIT
"$K" start "$W" >"$T_TMP/kenv" 2>"$T_TMP/kstart" || t_fail "own broker did not start: $(tail -5 "$T_TMP/kstart")"
BOOT=$(sed -n 's/^HF_KAFKA_BOOTSTRAP=//p' "$W/kafka.env")
t_create_topic "$W" hemoflow.unit_moved 3
t_hmac_key "$T_TMP/key"

N=60000
HALF=$((N / 2))
python3 - "$T_TMP/rows.csv" "$N" <<'PY'
import sys, uuid
with open(sys.argv[1], "w") as f:
    f.write("event_id,source_system,facility_id,province_code,occurred_at,din,product_code,movement,from_facility_id,to_facility_id,from_province_code,to_province_code\n")
    for i in range(int(sys.argv[2])):
        f.write(f"{uuid.uuid5(uuid.NAMESPACE_URL, f'outage/{i}')},Sim 1.0,3201{i%100:04d},32,2026-03-03T08:{i//3600%60:02d}:{i%60:02d}+08:00,J3201260{i%100000:05d},E0336V00,issue,32010001,32010203,32,32\n")
PY
# The input is a FIFO fed in two halves, so the broker is stopped while the
# publisher is provably in the middle of the file: after the first half is
# accepted and before the second half exists.
mkfifo "$T_TMP/in.csv"
(
  head -n $((HALF + 1)) "$T_TMP/rows.csv"
  while [[ ! -e $T_TMP/go ]]; do sleep 0.1; done
  tail -n +$((HALF + 2)) "$T_TMP/rows.csv"
) >"$T_TMP/in.csv" &
T_PIDS+=($!)
"$HF_BIN" --set "kafka.bootstrap.servers=$BOOT" --set publish.delivery_timeout_ms=5000 \
  publish --type UnitMoved --key-file "$T_TMP/key" --spool-dir "$T_TMP/spool" --timeout 120000 \
  --progress-log "$T_TMP/progress" "$T_TMP/in.csv" >"$T_TMP/out" 2>"$T_TMP/err" &
pid=$!
T_PIDS+=("$pid")
# progress lines are written at each group commit (every 512 rows or 100 ms)
first_half_accepted() {
  local n
  n=$(sed -n 's/.*accepted=\([0-9]*\).*/\1/p' "$T_TMP/progress" 2>/dev/null | tail -n 1)
  [[ -n $n ]] && ((n >= HALF - 512))
}
for _ in $(seq 1 300); do first_half_accepted && break; sleep 0.1; done
first_half_accepted || t_fail "first half not accepted: $(tail -3 "$T_TMP/err")"
"$K" stop "$W" >/dev/null 2>&1 || t_fail "broker stop"
touch "$T_TMP/go"
for _ in $(seq 1 600); do grep -q 'broker unreachable, spooling' "$T_TMP/err" && break; sleep 0.1; done
grep -q 'broker unreachable, spooling' "$T_TMP/err" || t_fail "no 'broker unreachable' log line"
# down for longer than publish.delivery_timeout_ms (5 s): deliveries time out,
# and the next pass after them starts with a new producer
sleep 7
"$K" start "$W" >/dev/null 2>&1 || t_fail "broker restart"
set +e; wait "$pid"; rc=$?; set -e
t_eq "$rc" 0 "publish exit status ($(tail -5 "$T_TMP/err"))"
grep -q "read=$N accepted=$N rejected=0 delivered=$N still_spooled=0" "$T_TMP/out" \
  || t_fail "summary: $(cat "$T_TMP/out") $(tail -5 "$T_TMP/err")"
grep -q 'broker unreachable, spooling' "$T_TMP/err" || t_fail "no 'broker unreachable' log line"
grep -q 'broker back, draining' "$T_TMP/err" || t_fail "no 'broker back' log line"
grep -q 'Message timed out' "$T_TMP/err" || t_fail "no delivery timed out during a 7 s outage: $(grep -E 'level=(warn|error)' "$T_TMP/err" | tail -3)"
grep -q 'event=publish.producer_renewed' "$T_TMP/err" || t_fail "deliveries timed out but the producer was not renewed: $(grep -E 'level=(warn|error)' "$T_TMP/err" | tail -3)"
t_eq "$(grep -c 'broker unreachable, spooling' "$T_TMP/err")" "$(grep -c 'broker back, draining' "$T_TMP/err")" "down/up lines pair up"

timeout 90 kcat -b "$BOOT" -C -t hemoflow.unit_moved -e -q -f '%R%s' | python3 -c '
import sys, struct
d = sys.stdin.buffer.read(); i = 0; ids = set(); n = 0
while i + 4 <= len(d):
    m = struct.unpack(">i", d[i:i+4])[0]; i += 4; p = d[i:i+m]; i += m
    ids.add(p[11:47].decode()); n += 1
print(len(ids), n)' >"$T_TMP/count"
read -r distinct total <"$T_TMP/count"
t_eq "$distinct" "$N" "distinct event ids in Kafka after the outage (messages: $total)"
t_pass "broker outage mid-publish: all $N events delivered ($total messages, duplicates allowed)"
