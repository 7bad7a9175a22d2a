#!/usr/bin/env bash
# Issue 12, Kafka faults on a 3-node KRaft cluster of this test's own
# (deploy/kafka.sh start-cluster: replication factor 3, min.insync.replicas 2),
# started once and shared by three scenarios, each with its own topics and
# consumer group in one database, each ending with an exact reconciliation of
# everything loaded so far:
#   1. leader kill: while simulate publishes (acks=all, idempotent) and a
#      consumer loads, the broker leading a partition is killed with -9; the
#      leadership moves, both go on, the broker is restarted and catches up.
#   2. repeated kill -9 of publish and of consume at random points against
#      the cluster; each publish run resumes after the last line its progress
#      log called durable, so a lost accepted row would be missing at the end.
#   3. rebalance storm: members join and leave (SIGTERM, sometimes kill -9)
#      every few seconds for about a minute while traffic flows.
# Every wait is a bounded poll for a condition; nothing assumes speed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_PG_DSN HF_SOURCE_DIR
t_need_kcat
K="$HF_SOURCE_DIR/deploy/kafka.sh"
W="$T_TMP/cluster"
# a throwaway cluster: kill -9 is enough (a graceful stop of the last nodes
# can wait up to 30 s for a controller quorum that is gone)
stop_cluster() {
  local i
  for i in 1 2 3; do "$K" kill-node "$W" "$i" >/dev/null 2>&1 || true; done
}
trap 'stop_cluster; t_cleanup' EXIT
# reap PID: wait for a child and drop it from T_PIDS (so the cleanup never
# signals a pid that may have been reused); returns the child's status
reap() {
  local rc=0 p keep=()
  wait "$1" 2>/dev/null || rc=$?
  for p in "${T_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  T_PIDS=("${keep[@]}")
  return "$rc"
}
# one database for the three scenarios (each has its own topics, so its own
# hf_offsets rows), migrated while the cluster starts
t_create_db "hf_it_cluster_$$"
t_use_db "hf_it_cluster_$$"
"$HF_BIN" migrate >"$T_TMP/migrate.out" 2>&1 &
mig=$!
T_PIDS+=("$mig")
"$K" start-cluster "$W" 3 >"$T_TMP/kenv" 2>"$T_TMP/kstart" \
  || t_fail "3-node cluster did not start: $(tail -5 "$T_TMP/kstart")"
reap "$mig" || t_fail "migrate: $(cat "$T_TMP/migrate.out")"
HF_KAFKA_BOOTSTRAP=$(sed -n 's/^HF_KAFKA_BOOTSTRAP=//p' "$W/kafka.env")
[[ $HF_KAFKA_BOOTSTRAP == *,*,* ]] || t_fail "cluster bootstrap list: '$HF_KAFKA_BOOTSTRAP'"
export HF_KAFKA_BOOTSTRAP
note() { echo "[+${SECONDS}s] $*"; }
note "cluster up: $HF_KAFKA_BOOTSTRAP"

# a kill -9'ed member must leave the group quickly (broker minimum is 6 s)
export HEMOFLOW_KAFKA_SESSION_TIMEOUT_MS=6000 HEMOFLOW_KAFKA_HEARTBEAT_INTERVAL_MS=1000
# a leader failover takes seconds; a delivery must outlive it (else the spool
# re-sends it: harmless for valid events, but a re-sent garbage frame would be
# quarantined twice and the reconciliation could not be exact)
export HEMOFLOW_PUBLISH_DELIVERY_TIMEOUT_MS=300000

# msgs: messages of the current scenario's topics loaded (stored offsets)
msgs() {
  psql "$T_DSN" -XqAt -v ON_ERROR_STOP=1 -v p="$T_PREFIX" \
    <<<"SELECT coalesce(sum(next_offset), 0) FROM hemoflow.hf_offsets WHERE starts_with(topic, :'p')"
}
# merge_reports OUT REPORT...: what all the scenarios so far should have left,
# for t_check_warehouse (rows, quarantine reasons and messages add up)
merge_reports() {
  python3 - "$@" <<'PY'
import json, sys
out = {"expected_warehouse_rows": {}, "expected_quarantine_detail": {}, "totals": {"messages": 0}}
for f in sys.argv[2:]:
    r = json.load(open(f))
    for k in ("expected_warehouse_rows", "expected_quarantine_detail"):
        for n, v in r[k].items():
            out[k][n] = out[k].get(n, 0) + v
    out["totals"]["messages"] += r["totals"]["messages"]
json.dump(out, open(sys.argv[1], "w"))
PY
}
# poll_until SECONDS CMD...: run CMD every 0.2 s until it succeeds, at most SECONDS
poll_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}
msgs_above() { (( $(msgs) > $1 )); }
alive() { kill -0 "$1" 2>/dev/null; }
# simulate_bg NAME ARGS...: simulate in the background (fixed end date); sets SIM
simulate_bg() {
  local name=$1; shift
  "$HF_BIN" simulate --end-date 2026-11-20 --days 60 --report "$T_TMP/$name.json" "$@" \
    >"$T_TMP/$name.sim.out" 2>"$T_TMP/$name.sim.err" &
  SIM=$!
  T_PIDS+=("$SIM")
}
# sim_done NAME: simulate exited 0 and delivered everything
sim_done() {
  local rc=0
  reap "$SIM" || rc=$?
  t_eq "$rc" 0 "simulate $1 exit status ($(tail -3 "$T_TMP/$1.sim.err"))"
  [[ $(t_json "$T_TMP/$1.json" "r['totals']['messages']") -gt 0 ]] || t_fail "simulate $1 sent nothing"
  grep -q 'still_spooled=0' "$T_TMP/$1.sim.out" || t_fail "simulate $1: $(cat "$T_TMP/$1.sim.out")"
}
leader_of() { "$K" leader "$W" "$1" "$2" 2>/dev/null; }
leader_moved() { # TOPIC PARTITION OLD
  local l
  l=$(leader_of "$1" "$2") && [[ $l != -1 && $l != "$3" ]]
}

# ==== 1. the leader's broker killed -9 during publish and consume ==========
t0=$SECONDS
# hemoflow topics without --replication-factor: the cluster's own default
# (deploy/kafka.sh start-cluster: 3), not 1
t_setup_kafka clleader 3 default
grep -q 'replication_factor=default' "$T_TMP/topics.out" || t_fail "topics: $(cat "$T_TMP/topics.out")"
nrep3=$(kcat -b "$HF_KAFKA_BOOTSTRAP" -L -t "${T_PREFIX}donation_collected" \
  | grep -Ec 'replicas: [0-9]+,[0-9]+,[0-9]+,')
t_eq "$nrep3" 3 "partitions of ${T_PREFIX}donation_collected with 3 replicas (hemoflow topics' default)"
export HEMOFLOW_PUBLISH_SPOOL_DIR="$T_TMP/spool-clleader"
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=200
"$HF_BIN" consume >"$T_TMP/l.c.out" 2>"$T_TMP/l.c.err" &
c=$!
T_PIDS+=("$c")
# traffic starts once the consumer owns its partitions (the first group join
# on a fresh cluster can take long)
poll_until 240 grep -q 'event=consume.assigned' "$T_TMP/l.c.err" \
  || t_fail "consume got no partitions within 240 s: $(tail -3 "$T_TMP/l.c.err")"
# ~15 s of traffic at a steady rate: both sides are busy when the broker dies
simulate_bg lead --count 1800 --rate 120 --dup-rate 0.05 --malformed-rate 0.01 \
  --bad-din-rate 0.005 --seed 41
poll_until 240 msgs_above 0 || t_fail "nothing loaded within 240 s: $(tail -3 "$T_TMP/l.c.err")"
topic="${T_PREFIX}donation_collected"
victim=$(leader_of "$topic" 0) || t_fail "no leader for $topic/0"
alive "$SIM" || t_fail "simulate finished before the leader kill (it paces at 120/s)"
"$K" kill-node "$W" "$victim" 2>>"$T_TMP/k.log" || t_fail "kill-node $victim"
at_kill=$(msgs)
note "killed node $victim (leader of $topic/0) with $at_kill messages loaded, publish running"
poll_until 120 leader_moved "$topic" 0 "$victim" || t_fail "leadership of $topic/0 did not move off node $victim"
note "new leader of $topic/0: node $(leader_of "$topic" 0)"
# loading goes on with one node down
poll_until 180 msgs_above $((at_kill + 200)) || t_fail "no progress with node $victim down: $(tail -3 "$T_TMP/l.c.err")"
note "loading went on with node $victim down ($(msgs) messages)"
"$K" start-node "$W" "$victim" 2>>"$T_TMP/k.log" || t_fail "node $victim did not restart"
note "node $victim restarted"
sim_done lead
note "simulate done"
"$K" wait-isr "$W" 240 2>>"$T_TMP/k.log" || t_fail "replicas not back in sync"
note "every replica back in sync"
alive "$c" || t_fail "consume exited during the leader kill: $(tail -3 "$T_TMP/l.c.err")"
kill -TERM "$c"
reap "$c" || t_fail "consume did not exit 0 on SIGTERM: $(tail -3 "$T_TMP/l.c.err")"
t_consume_until_idle "$T_TMP/l.final.err"
note "drained"
merge_reports "$T_TMP/expect1.json" "$T_TMP/lead.json"
t_check_warehouse "$T_TMP/expect1.json"
note "leader kill reconciled"
t_pass "leader kill -9 mid-publish and mid-consume, restart: exact reconciliation ($((SECONDS - t0)) s)"

# ==== 2. repeated kill -9 of publish and consume, on the cluster ===========
t0=$SECONDS
t_setup_kafka clkill 3 3
export HEMOFLOW_PUBLISH_SPOOL_DIR="$T_TMP/spool-clkill"
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=100
N=6000
python3 - "$T_TMP/rows.csv" "$N" <<'PY'
import sys, uuid
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(f"{uuid.uuid5(uuid.NAMESPACE_URL, f'clkill/{i}')},3201{i%100:04d},32,2026-03-02T17:{i//60%60:02d}:{i%60:02d}+08:00,J3201260{i%100000:05d},E0001V00,station,expired\n")
PY
# feed FROM: the CSV header, then rows FROM.. (0-based) at ~300 rows/s into a FIFO
feed() {
  python3 - "$T_TMP/rows.csv" "$1" "$T_TMP/in.csv" <<'PY' &
import sys, time
rows = open(sys.argv[1]).readlines()[int(sys.argv[2]):]
try:
    with open(sys.argv[3], "w") as out:
        out.write("event_id,facility_id,province_code,occurred_at,din,product_code,stage,reason\n")
        t0 = time.monotonic()
        for k, r in enumerate(rows):
            out.write(r)
            if k % 30 == 29:
                out.flush()
                time.sleep(max(0.0, t0 + (k + 1) / 300 - time.monotonic()))
except BrokenPipeError:
    pass
PY
  FEED=$!
  T_PIDS+=("$FEED")
}
publish_bg() {
  : >"$T_TMP/progress"
  "$HF_BIN" publish --type UnitDiscarded --progress-log "$T_TMP/progress" "$T_TMP/in.csv" \
    >"$T_TMP/p.out" 2>>"$T_TMP/p.err" &
  PUB=$!
  T_PIDS+=("$PUB")
}
progress_line() { (tail -n 1 "$T_TMP/progress" 2>/dev/null || true) | sed -n 's/^line=\([0-9]*\).*/\1/p'; }
progress_at_least() { local l; l=$(progress_line); [[ -n $l ]] && (( l >= $1 )); }
rm -f "$T_TMP/in.csv"
mkfifo "$T_TMP/in.csv"
start=0 ckills=0 pkills=0 prev=0
for round in 1 2 3; do
  "$HF_BIN" consume >"$T_TMP/k.c$round.err" 2>&1 &
  c=$!
  T_PIDS+=("$c")
  # rows flow once this instance owns the partitions (after the previous
  # one's session expired), so the publish run below is busy at both kills
  poll_until 240 grep -q 'event=consume.assigned' "$T_TMP/k.c$round.err" \
    || t_fail "round $round: consume got no partitions: $(tail -3 "$T_TMP/k.c$round.err")"
  feed "$start"
  publish_bg
  # the consumer: killed at a random point after it committed something new
  poll_until 180 msgs_above "$prev" || t_fail "round $round: consumer loaded nothing new"
  sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
  alive "$PUB" || t_fail "round $round: publish ended before the consumer kill (feed too fast?)"
  kill -9 "$c"; reap "$c" || true
  ckills=$((ckills + 1))
  prev=$(msgs)
  # the publisher: killed at a random line, 100-600 rows past where it is now
  l=$(progress_line); l=${l:-1}
  poll_until 180 progress_at_least $((l + 100 + RANDOM % 500)) || t_fail "round $round: publish made no progress: $(tail -3 "$T_TMP/p.err")"
  alive "$PUB" || t_fail "round $round: publish ended before its kill (feed too fast?)"
  kill -9 "$PUB"; reap "$PUB" || true
  pkills=$((pkills + 1))
  kill "$FEED" 2>/dev/null || true; reap "$FEED" || true
  l=$(progress_line)
  [[ -n $l && $l -ge 2 ]] || t_fail "round $round: no durable line logged before the kill"
  # stream lines 2..l (rows start..start+l-2) were durable: resume after them
  start=$((start + l - 1))
  note "round $round: consumer killed at $prev messages, publish killed after row $start of $N"
  (( start < N )) || t_fail "round $round: the whole file was durable before the kill (feed too fast?)"
done
feed "$start"
publish_bg
set +e; reap "$PUB"; rc=$?; set -e
t_eq "$rc" 0 "final publish exit status ($(cat "$T_TMP/p.out") $(tail -3 "$T_TMP/p.err"))"
grep -q 'still_spooled=0' "$T_TMP/p.out" || t_fail "final publish: $(cat "$T_TMP/p.out")"
reap "$FEED" || true
t_consume_until_idle "$T_TMP/k.final.err"
in_kafka=$(timeout 120 kcat -b "$HF_KAFKA_BOOTSTRAP" -C -t "${T_PREFIX}unit_discarded" -e -q -f 'x\n' | wc -l)
# this scenario adds exactly the file's N rows, nothing to the quarantine, and
# stored offsets for every message in Kafka (resends included)
printf '{"expected_warehouse_rows": {"unit_discarded": %d}, "expected_quarantine_detail": {}, "totals": {"messages": %d}}\n' \
  "$N" "$in_kafka" >"$T_TMP/kill.json"
merge_reports "$T_TMP/expect2.json" "$T_TMP/lead.json" "$T_TMP/kill.json"
t_check_warehouse "$T_TMP/expect2.json"
# ... and those N rows are the file's
cut -d, -f1 "$T_TMP/rows.csv" | sort >"$T_TMP/want.ids"
t_sql "SELECT event_id FROM hemoflow.unit_discarded" | sort >"$T_TMP/got.ids"
t_eq "$(comm -23 "$T_TMP/want.ids" "$T_TMP/got.ids" | wc -l)" 0 "rows of the file missing from the warehouse"
note "kill -9 rounds reconciled"
t_pass "kill -9 x$pkills publish and x$ckills consume on the cluster: all $N rows once, $in_kafka messages ($((SECONDS - t0)) s)"

# ==== 3. rebalance storm while traffic flows ================================
t0=$SECONDS
t_setup_kafka clstorm 6 3
export HEMOFLOW_PUBLISH_SPOOL_DIR="$T_TMP/spool-clstorm"
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=500
"$HF_BIN" consume >"$T_TMP/s.a.out" 2>"$T_TMP/s.a.err" &
a=$!
T_PIDS+=("$a")
poll_until 240 grep -q 'event=consume.assigned' "$T_TMP/s.a.err" \
  || t_fail "member A got no partitions within 240 s: $(tail -3 "$T_TMP/s.a.err")"
tstorm=$SECONDS
# ~50 s of traffic
simulate_bg storm --count 4500 --rate 90 --dup-rate 0.05 --malformed-rate 0.01 --seed 43
members=() joins=0 leaves=0 kills9=0 i=0
# every 3 s a member joins (while there are fewer than 3 besides A) or leaves;
# every third leave is a kill -9 (the group waits out its session)
while alive "$SIM"; do
  (( SECONDS - tstorm < 300 )) || t_fail "traffic did not end within 300 s"
  i=$((i + 1))
  if (( ${#members[@]} < 3 && (i % 4 != 0) )); then
    "$HF_BIN" consume >"$T_TMP/s.m$i.out" 2>"$T_TMP/s.m$i.err" &
    members+=("$!"); T_PIDS+=("$!")
    joins=$((joins + 1))
  elif (( ${#members[@]} > 0 )); then
    m=${members[0]}; members=("${members[@]:1}")
    leaves=$((leaves + 1))
    if (( leaves % 3 == 0 )); then
      kill -9 "$m"; reap "$m" || true
      kills9=$((kills9 + 1))
    else
      kill -TERM "$m"
      reap "$m" || t_fail "a member did not exit 0 after SIGTERM"
    fi
  fi
  sleep 3
done
sim_done storm
note "storm traffic done"
for m in "${members[@]}"; do
  kill -TERM "$m"; reap "$m" || t_fail "a member did not exit 0 after SIGTERM"
done
(( joins >= 6 && leaves >= 4 )) || t_fail "storm too small: $joins joins, $leaves leaves"
alive "$a" || t_fail "member A died in the storm: $(tail -3 "$T_TMP/s.a.err")"
kill -TERM "$a"
reap "$a" || t_fail "member A did not exit 0 after SIGTERM: $(tail -3 "$T_TMP/s.a.err")"
revoked=$(grep -c 'event=consume.revoked' "$T_TMP/s.a.err" || true)
(( revoked >= 3 )) || t_fail "member A saw only $revoked rebalances"
t_consume_until_idle "$T_TMP/s.final.err"
merge_reports "$T_TMP/expect3.json" "$T_TMP/lead.json" "$T_TMP/kill.json" "$T_TMP/storm.json"
t_check_warehouse "$T_TMP/expect3.json"
note "storm reconciled"
t_pass "rebalance storm ($joins joins, $leaves leaves of which $kills9 kill -9; A revoked $revoked times): exact reconciliation ($((SECONDS - t0)) s)"
