#!/usr/bin/env bash
# Integration: `hemoflow publish` is killed with SIGKILL in the middle of a
# 200k-row file; `hemoflow publish --drain` then sends what the spool holds.
# Soundness: the publisher appends "line=L ..." to --progress-log only after
# the rows up to L are fsync'ed in the spool, so every row up to the last
# logged L was accepted durably and must be in Kafka afterwards.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_KAFKA_BOOTSTRAP HF_TEST_WORK HF_SOURCE_DIR
t_need_kcat
prefix="it-kill-$$-$RANDOM."
t_create_topic "$HF_TEST_WORK" "${prefix}unit_discarded" 3
t_hmac_key "$T_TMP/key"
N=200000
python3 - "$T_TMP/in.csv" "$N" <<'PY'
import sys, uuid
with open(sys.argv[1], "w") as f:
    f.write("event_id,facility_id,province_code,occurred_at,din,product_code,stage,reason\n")
    for i in range(int(sys.argv[2])):
        f.write(f"{uuid.uuid5(uuid.NAMESPACE_URL, f'kill/{i}')},3201{i%100:04d},32,2026-03-02T17:{i//60%60:02d}:{i%60:02d}+08:00,J3201260{i%100000:05d},E0001V00,station,expired\n")
PY
set_args=(--set "kafka.bootstrap.servers=$HF_KAFKA_BOOTSTRAP" --set "topic.prefix=$prefix")
"$HF_BIN" "${set_args[@]}" publish --type UnitDiscarded --key-file "$T_TMP/key" \
  --spool-dir "$T_TMP/spool" --progress-log "$T_TMP/progress" "$T_TMP/in.csv" \
  >"$T_TMP/out" 2>"$T_TMP/err" &
pid=$!
T_PIDS+=("$pid")
for _ in $(seq 1 600); do
  l=$( (tail -n 1 "$T_TMP/progress" 2>/dev/null || true) | sed -n 's/^line=\([0-9]*\).*/\1/p')
  [[ -n $l && $l -ge 40000 ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null || t_fail "publish finished before it could be killed (make the file bigger)"
wait "$pid" 2>/dev/null || true
T_PIDS=()
last=$(tail -n 1 "$T_TMP/progress" | sed -n 's/^line=\([0-9]*\).*/\1/p')
[[ -n $last && $last -gt 1 ]] || t_fail "no progress logged before the kill"

set +e
"$HF_BIN" "${set_args[@]}" publish --drain --spool-dir "$T_TMP/spool" --timeout 90000 \
  >"$T_TMP/dout" 2>"$T_TMP/derr"; rc=$?
set -e
t_eq "$rc" 0 "drain exit status ($(cat "$T_TMP/dout") $(tail -3 "$T_TMP/derr"))"
grep -q 'still_spooled=0' "$T_TMP/dout" || t_fail "drain summary: $(cat "$T_TMP/dout")"
# an empty spool drains at once
"$HF_BIN" "${set_args[@]}" publish --drain --spool-dir "$T_TMP/spool" --timeout 1000 >/dev/null 2>&1 \
  || t_fail "draining an empty spool must exit 0"

timeout 120 kcat -b "$HF_KAFKA_BOOTSTRAP" -C -t "${prefix}unit_discarded" -e -q -f '%R%s' >"$T_TMP/msgs"
python3 - "$T_TMP/msgs" "$T_TMP/in.csv" "$last" <<'PY' || t_fail "events lost after kill -9 + drain"
import sys, struct, csv
d = open(sys.argv[1], "rb").read(); i = 0; got = set()
while i + 4 <= len(d):
    n = struct.unpack(">i", d[i:i+4])[0]; i += 4; p = d[i:i+n]; i += n
    got.add(p[11:47].decode())
last = int(sys.argv[3])
want = [r["event_id"] for k, r in enumerate(csv.DictReader(open(sys.argv[2]))) if k + 2 <= last]
missing = [w for w in want if w not in got]
print(f"rows durably accepted before the kill: {len(want)}, in Kafka: {len(got)}, missing: {len(missing)}")
sys.exit(1 if missing else 0)
PY
t_pass "kill -9 mid-file, then --drain: no accepted event lost (up to line $last)"
