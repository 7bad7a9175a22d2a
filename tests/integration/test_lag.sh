#!/usr/bin/env bash
# Issue 9 (1, 4): `hemoflow lag` against the real broker and PostgreSQL.
#  * the commit window function (hemoflow.hf_window_record): bounded, the
#    min-interval replacement, nothing recorded for a stale view;
#  * Kafka's own tools see the group: while a backlog drains (the loader
#    slowed down by a trigger), Apache Kafka's consumer-groups tool
#    (ConsumerGroupCommand, from the jars deploy/kafka.sh fetches) and kcat
#    (-o stored) report committed offsets between two `hemoflow lag` runs
#    taken before and after them, the same log-end offsets and the lag that
#    follows; after the drain all three agree exactly;
#  * each Burrow status on purpose, with its exit status: no commits yet
#    (OK), caught up (OK, 0), consumer stopped mid-drain (STOP, 6), offsets
#    reset backwards (REWIND, 7), partitions left waiting while the loader
#    commits others (STALL, 5), consumer slower than the producers (WARN,
#    4); --watch refreshes and exits with the last status.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need_kcat
# one partition per topic: the WARN case below feeds exactly one partition
t_setup_pipeline lag 1
export HEMOFLOW_CONSUME_BATCH_MAX_ROWS=1000
export HEMOFLOW_LAG_WINDOW_COMMITS=4 HEMOFLOW_LAG_WINDOW_MIN_INTERVAL_MS=0
export HEMOFLOW_LAG_STOP_MIN_MS=3000
GROUP=$HEMOFLOW_CONSUME_GROUP_ID
KAFKA_SH="$HF_SOURCE_DIR/deploy/kafka.sh"

# lag_json FILE: `hemoflow lag --json` into FILE; prints its exit status
lag_json() { local rc=0; "$HF_BIN" lag --json >"$1" 2>>"$T_TMP/lag.err" || rc=$?; echo "$rc"; }
# consumer_groups FILE: "topic partition current log_end lag" per line
consumer_groups() {
  "$KAFKA_SH" consumer-groups --bootstrap-server "$HF_KAFKA_BOOTSTRAP" --describe --group "$GROUP" \
    2>"$T_TMP/cg.err" | awk -v g="$GROUP" '$1 == g {print $2, $3, $4, $5, $6}' | sort >"$1" \
    || t_fail "consumer-groups: $(cat "$T_TMP/cg.err")"
}
# kcat_stored TOPIC PARTITION: "topic partition offset" of the group's stored
# offset, as kcat sees it reading at -o stored: the first message's offset, or
# where it reached the end (after the drain: nothing consumed, nothing committed).
# librdkafka 2.0.2's legacy consumer (kcat -C) asserts in its exit-time offset
# commit (rd_kafka_offset_broker_commit: rktp_cgrp != NULL) after consuming
# while the group has members: the assert fires before any commit is sent (the
# consumer-groups checks below would see one), and -u has printed the line.
# With nothing stored it starts where hemoflow does: at the log start.
kcat_stored() {
  local topic=$1 part=$2 out rc=0
  out=$(ulimit -c 0; kcat -C -u -b "$HF_KAFKA_BOOTSTRAP" -X group.id="$GROUP" \
        -X enable.auto.commit=false -X auto.commit.enable=false -X auto.offset.reset=earliest \
        -t "$topic" -p "$part" -o stored -e -c 1 -f '%t %p %o\n' 2>&1) || rc=$?
  [[ $rc == 0 || $rc == 134 ]] || t_fail "kcat $topic [$part] (exit $rc): $out"
  python3 - "$out" <<'PY'
import re, sys
seen = {}
for line in sys.argv[1].splitlines():
    m = re.match(r'% Reached end of topic (\S+) \[(\d+)\] at offset (\d+)', line)
    if m:
        seen.setdefault((m[1], int(m[2])), int(m[3]))
        continue
    f = line.split()
    if len(f) == 3 and f[1].isdigit() and f[2].isdigit():
        seen.setdefault((f[0], int(f[1])), int(f[2]))
for (t, p), o in sorted(seen.items()):
    print(t, p, o)
PY
}
# sql_topic SNAKE: the topic of an event type in this test
topic() { echo "${T_PREFIX}$1"; }

# ---- the window function ------------------------------------------------------
t_sql "INSERT INTO hemoflow.hf_offsets VALUES ('w.t', 0, 10, now())" >/dev/null
rec() { t_sql "SELECT hemoflow.hf_window_record('{w.t}', '{0}', '{$1}', '{$2}', 3, $3)"; }
t_eq "$(rec 10 20 0)" 1 "entry recorded"
t_eq "$(rec 11 20 0)" 0 "nothing recorded where hf_offsets differs (a stale view)"
for o in 11 12 13 14; do
  t_sql "UPDATE hemoflow.hf_offsets SET next_offset = $o WHERE topic = 'w.t'" >/dev/null
  t_eq "$(rec $o NULL 0)" 1 "entry $o"
done
t_eq "$(t_sql "SELECT string_agg(seq || ':' || next_offset, ',' ORDER BY seq) FROM hemoflow.hf_commit_window WHERE topic = 'w.t'")" \
  "3:12,4:13,5:14" "window bounded to 3, newest kept"
before=$(t_sql "SELECT committed_at FROM hemoflow.hf_commit_window WHERE topic = 'w.t' AND seq = 5")
t_sql "UPDATE hemoflow.hf_offsets SET next_offset = 15 WHERE topic = 'w.t'" >/dev/null
t_eq "$(rec 15 30 60000)" 1 "entry within the min interval"
t_eq "$(t_sql "SELECT string_agg(seq || ':' || next_offset || ':' || coalesce(log_end_offset::text, ''), ',' ORDER BY seq) FROM hemoflow.hf_commit_window WHERE topic = 'w.t'")" \
  "3:12:,4:13:,5:15:30" "the newest entry replaced"
t_eq "$(t_sql "SELECT committed_at FROM hemoflow.hf_commit_window WHERE topic = 'w.t' AND seq = 5")" \
  "$before" "a replaced entry keeps its time"
t_sql "DELETE FROM hemoflow.hf_commit_window; DELETE FROM hemoflow.hf_offsets" >/dev/null
t_pass "hf_window_record: bounded, min interval, stale views skipped"

# ---- a backlog, no consumer yet -------------------------------------------------
t_simulate "$T_TMP/report1.json" --count 30000 --seed 5
rc=$(lag_json "$T_TMP/l0.json")
t_eq "$rc" 0 "exit status with no commits"
t_eq "$(t_json "$T_TMP/l0.json" "r['status']")" OK "status with no commits"
t_eq "$(t_json "$T_TMP/l0.json" "len(r['partitions'])")" 10 "partitions"
want=$(t_json "$T_TMP/report1.json" "r['totals']['messages']")
t_eq "$(t_json "$T_TMP/l0.json" "r['lag_messages']")" "$want" "lag before any consumer = every message"
t_eq "$(t_json "$T_TMP/l0.json" "all(p['lag_seconds'] is not None and p['lag_seconds'] >= 0 for p in r['partitions'] if p['lag_messages'])")" \
  True "lag in seconds known for every partition with lag"
"$HF_BIN" lag >"$T_TMP/l0.txt" || t_fail "lag (text) exit status $?"
grep -q "^group $GROUP: OK" "$T_TMP/l0.txt" || t_fail "text header: $(head -2 "$T_TMP/l0.txt")"
t_eq "$(grep -c "^${T_PREFIX}" "$T_TMP/l0.txt")" 10 "text rows"
t_pass "no consumer: lag = the whole backlog, OK"

# ---- a slowed-down drain, compared with kafka-consumer-groups and kcat ----------
# every commit of the loader sleeps 0.3 s in the window insert (5 s while
# the tools compare)
t_sql "CREATE TABLE public.hf_it_throttle (s float8); INSERT INTO public.hf_it_throttle VALUES (0.3);
       CREATE FUNCTION public.hf_it_slow() RETURNS trigger LANGUAGE plpgsql AS
       \$\$BEGIN PERFORM pg_sleep((SELECT s FROM public.hf_it_throttle)); RETURN NULL; END\$\$;
       CREATE TRIGGER hf_it_slow AFTER INSERT ON hemoflow.hf_commit_window
       FOR EACH STATEMENT EXECUTE FUNCTION public.hf_it_slow()" >/dev/null
"$HF_BIN" consume --idle-exit 3000 >"$T_TMP/c1.out" 2>"$T_TMP/c1.err" & C1=$!
T_PIDS+=("$C1")
committed() { t_sql "SELECT coalesce(sum(next_offset), 0) FROM hemoflow.hf_offsets"; }
for _ in $(seq 1 300); do (( $(committed) >= 3000 )) && break; sleep 0.1; done
(( $(committed) >= 3000 )) || t_fail "the drain did not start: $(tail -3 "$T_TMP/c1.err")"
# nearly hold the drain while the tools (a JVM start each) look at it, so a
# busy machine cannot let it finish first; full speed again afterwards
t_sql "UPDATE public.hf_it_throttle SET s = 5" >/dev/null
lag_json "$T_TMP/a.json" >/dev/null
consumer_groups "$T_TMP/k.txt"
big=$(topic screening_result_recorded)
for et in screening_result_recorded component_produced unit_moved; do
  kcat_stored "$(topic $et)" 0
done >"$T_TMP/kc.txt"
lag_json "$T_TMP/b.json" >/dev/null
(( $(t_json "$T_TMP/b.json" "r['lag_messages']") > 0 )) || t_fail "the drain ended before the comparison: slow it down more"
python3 - "$T_TMP/a.json" "$T_TMP/b.json" "$T_TMP/k.txt" "$T_TMP/kc.txt" <<'PY' || t_fail "during the drain: see above"
import json, sys
A, B = (dict(((p['topic'], p['partition']), p) for p in json.load(open(f))['partitions'])
        for f in sys.argv[1:3])
bad = []
def num(v): return None if v == '-' else int(v)
k = [l.split() for l in open(sys.argv[3]) if l.strip()]
if len(k) != len(A): bad.append(f"consumer-groups lists {len(k)} partitions, hemoflow lag {len(A)}")
for t, p, cur, end, lag in k:
    a, b = A[(t, int(p))], B[(t, int(p))]
    cur, end, lag = num(cur), num(end), num(lag)
    lo, hi = a['committed_offset'] or 0, b['committed_offset'] or 0
    if cur is None:
        if lo: bad.append(f"{t}[{p}]: nothing committed to Kafka, hf_offsets had {lo}")
        continue
    if not lo <= cur <= hi: bad.append(f"{t}[{p}]: Kafka's offset {cur} not within hemoflow's {lo}..{hi}")
    if not end == a['log_end_offset'] == b['log_end_offset']: bad.append(f"{t}[{p}]: log end {end} vs {a['log_end_offset']}, {b['log_end_offset']}")
    if lag != end - cur: bad.append(f"{t}[{p}]: Kafka's lag {lag} != {end} - {cur}")
    if not b['lag_messages'] <= lag <= a['lag_messages']: bad.append(f"{t}[{p}]: Kafka's lag {lag} not within hemoflow's {b['lag_messages']}..{a['lag_messages']}")
for l in open(sys.argv[4]):
    t, p, o = l.split(); o = int(o)
    lo, hi = A[(t, int(p))]['committed_offset'] or 0, B[(t, int(p))]['committed_offset'] or 0
    if not lo <= o <= hi: bad.append(f"kcat {t}[{p}]: stored offset {o} not within hemoflow's {lo}..{hi}")
for x in bad: print("  " + x)
sys.exit(1 if bad else 0)
PY
t_pass "during the drain: consumer-groups and kcat within hemoflow lag before/after ($(t_json "$T_TMP/b.json" "r['lag_messages']") messages left)"
t_sql "UPDATE public.hf_it_throttle SET s = 0" >/dev/null

wait "$C1" || t_fail "consume: $(tail -5 "$T_TMP/c1.err")"
grep -q 'kafka_commit_failed' "$T_TMP/c1.err" && t_fail "advisory commits failed: $(grep kafka_commit_failed "$T_TMP/c1.err" | head -3)"
rc=$(lag_json "$T_TMP/d.json")
t_eq "$rc" 0 "exit status caught up"
t_eq "$(t_json "$T_TMP/d.json" "r['status']")" OK "status caught up"
t_eq "$(t_json "$T_TMP/d.json" "r['lag_messages']")" 0 "lag caught up"
t_eq "$(t_json "$T_TMP/d.json" "sum(p['committed_offset'] or 0 for p in r['partitions'])")" "$want" "hf_offsets covers every message"
consumer_groups "$T_TMP/k2.txt"
: >"$T_TMP/kc2.txt"
# every partition that has messages (on an empty one with nothing stored, kcat
# stores and commits offset 1: not a view of the group worth having)
while read -r et p; do
  kcat_stored "$et" "$p" >>"$T_TMP/kc2.txt"
done < <(t_json "$T_TMP/d.json" "'\\n'.join(f\"{p['topic']} {p['partition']}\" for p in r['partitions'] if p['log_end_offset'])")
consumer_groups "$T_TMP/k3.txt"
python3 - "$T_TMP/d.json" "$T_TMP/k2.txt" "$T_TMP/kc2.txt" <<'PY' || t_fail "after the drain: see above"
import json, sys
D = dict(((p['topic'], p['partition']), p) for p in json.load(open(sys.argv[1]))['partitions'])
k = {(l.split()[0], int(l.split()[1])): l.split()[2:] for l in open(sys.argv[2]) if l.strip()}
c = {(l.split()[0], int(l.split()[1])): int(l.split()[2]) for l in open(sys.argv[3]) if l.strip()}
bad = []
for key, p in D.items():
    if p['log_end_offset'] == 0:
        continue  # an empty partition: nothing consumed, nothing committed anywhere
    want = [str(p['committed_offset']), str(p['log_end_offset']), '0']
    if k.get(key) != want: bad.append(f"{key}: consumer-groups {k.get(key)} != hemoflow {want}")
    if c.get(key) != p['committed_offset']: bad.append(f"{key}: kcat {c.get(key)} != hemoflow {p['committed_offset']}")
for x in bad: print("  " + x)
sys.exit(1 if bad else 0)
PY
diff "$T_TMP/k2.txt" "$T_TMP/k3.txt" >&2 || t_fail "kcat changed the group's offsets"
t_pass "after the drain: consumer-groups, kcat and hemoflow lag agree on every partition, lag 0"

# ---- STOP: the consumer stopped mid-drain -----------------------------------------
t_simulate "$T_TMP/report2.json" --count 20000 --seed 6
before=$(committed)
"$HF_BIN" consume >"$T_TMP/c2.out" 2>"$T_TMP/c2.err" & C2=$!
T_PIDS+=("$C2")
# more commits than the window holds, so none of its entries is caught up
for _ in $(seq 1 300); do (( $(committed) >= before + 6000 )) && break; sleep 0.1; done
(( $(committed) >= before + 6000 )) || t_fail "second drain did not start: $(tail -3 "$T_TMP/c2.err")"
kill -TERM "$C2"; wait "$C2" || t_fail "consume after SIGTERM: $(tail -3 "$T_TMP/c2.err")"
rc=$(lag_json "$T_TMP/s0.json")
t_eq "$(t_json "$T_TMP/s0.json" "r['status'] != 'STOP'")" True "just stopped: not STOP yet"
for _ in $(seq 1 60); do rc=$(lag_json "$T_TMP/s.json"); [[ $rc == 6 ]] && break; sleep 0.5; done
t_eq "$rc" 6 "exit status of a stopped consumer"
t_eq "$(t_json "$T_TMP/s.json" "r['status']")" STOP "status of a stopped consumer"
t_eq "$(t_json "$T_TMP/s.json" "all(p['status'] == 'STOP' for p in r['partitions'] if p['lag_messages'])")" True "every partition with lag is STOP"
"$HF_BIN" lag >"$T_TMP/s.txt" && t_fail "text lag exit 0 for STOP"
grep -q "^group $GROUP: STOP" "$T_TMP/s.txt" || t_fail "text header: $(head -1 "$T_TMP/s.txt")"
t_pass "consumer stopped with lag -> STOP (exit 6)"

# ---- caught up again: OK ------------------------------------------------------------
t_sql "UPDATE public.hf_it_throttle SET s = 0" >/dev/null
t_consume_until_idle "$T_TMP/c3.err"
rc=$(lag_json "$T_TMP/o.json")
t_eq "$rc" 0 "exit status after catching up"
t_eq "$(t_json "$T_TMP/o.json" "r['status']")" OK "status after catching up"
t_pass "caught up -> OK (exit 0)"

# ---- REWIND: an operator resets an offset backwards ---------------------------------
t_sql "UPDATE hemoflow.hf_offsets SET next_offset = next_offset - 10 WHERE topic = '$big' AND kafka_partition = 0" >/dev/null
rc=$(lag_json "$T_TMP/r.json")
t_eq "$rc" 7 "exit status after a reset backwards"
t_eq "$(t_json "$T_TMP/r.json" "r['status']")" REWIND "status after a reset backwards"
t_eq "$(t_json "$T_TMP/r.json" "[(p['topic'], p['partition'], p['lag_messages']) for p in r['partitions'] if p['status'] == 'REWIND']")" \
  "[('$big', 0, 10)]" "the rewound partition"
t_consume_until_idle "$T_TMP/c4.err"
t_eq "$(lag_json "$T_TMP/r2.json")" 0 "exit status once the rewound messages are reloaded"
t_pass "offsets reset backwards -> REWIND (exit 7), then OK"

# ---- STALL: commits go on, some partitions do not move --------------------------------
# A backlog on every topic and a loader taking 100 messages per commit: each
# batch comes from one or two partitions (librdkafka hands over a fetched
# chunk of one partition at a time), so while it drains those, the others'
# entries keep the same offset, with lag, commit after commit.
t_simulate "$T_TMP/report3.json" --count 5000 --seed 8
t_sql "UPDATE public.hf_it_throttle SET s = 0.3" >/dev/null
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HEMOFLOW_HTTP_PORT=$HTTP_PORT HEMOFLOW_CONSUME_BATCH_MAX_ROWS=100 \
  "$HF_BIN" consume --idle-exit 2000 >"$T_TMP/c6.out" 2>"$T_TMP/c6.err" & C6=$!
T_PIDS+=("$C6")
seen=
for _ in $(seq 1 60); do
  rc=$(lag_json "$T_TMP/st.json")
  if [[ $rc == 5 ]]; then seen=1; break; fi
  sleep 0.3
done
[[ -n $seen ]] || t_fail "no STALL while the loader works on other partitions (last: $(t_json "$T_TMP/st.json" "r['status'], r['partitions_by_status']"))"
t_eq "$(t_json "$T_TMP/st.json" "all(len({c['offset'] for c in p['window']}) == 1 and p['lag_messages'] > 0 for p in r['partitions'] if p['status'] == 'STALL')")" \
  True "STALL partitions: one offset over the window, with lag"
# the status page's status column: the same evaluator over the consumer's own commits
python3 - "$HTTP_PORT" <<'PY' || t_fail "status.json: see above"
import json, sys, time, urllib.request
for _ in range(50):
    d = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/status.json", timeout=5))
    st = [p['status'] for p in d['partitions']]
    if st and all(s in ('OK', 'WARN', 'STALL', 'STOP', 'REWIND') for s in st):
        print("  status.json statuses:", sorted(set(st)))
        sys.exit(0)
    time.sleep(0.2)
print("  status.json statuses never all set:", st)
sys.exit(1)
PY
t_sql "UPDATE public.hf_it_throttle SET s = 0" >/dev/null
wait "$C6" || t_fail "consume: $(tail -3 "$T_TMP/c6.err")"
t_eq "$(lag_json "$T_TMP/st2.json")" 0 "exit status after that drain"
t_pass "partitions waiting while commits go on -> STALL (exit 5), then OK; the status page judges too"

# ---- WARN: producers faster than the consumer ----------------------------------------
t_sql "UPDATE public.hf_it_throttle SET s = 0.8" >/dev/null
HEMOFLOW_CONSUME_BATCH_MAX_ROWS=100 "$HF_BIN" consume >"$T_TMP/c5.out" 2>"$T_TMP/c5.err" & C5=$!
T_PIDS+=("$C5")
# one partition (DonationCollected) receives 300 messages/s; the loader takes
# at most 100 per commit and each commit takes 0.8 s: its lag grows commit after commit
"$HF_BIN" simulate --end-date 2026-11-20 --days 2 --count 3600 --rate 300 --seed 7 \
  --types DonationCollected \
  >"$T_TMP/sim3.out" 2>"$T_TMP/sim3.err" & S3=$!
T_PIDS+=("$S3")
seen=
for _ in $(seq 1 40); do
  rc=$(lag_json "$T_TMP/w.json")
  if [[ $rc == 4 ]]; then seen=1; break; fi
  sleep 0.5
done
[[ -n $seen ]] || t_fail "no WARN while falling behind (last: $(t_json "$T_TMP/w.json" "r['status'], r['partitions_by_status']"))"
t_eq "$(t_json "$T_TMP/w.json" "r['status']")" WARN "status while falling behind"
# --watch: refreshes every second, exits on SIGTERM with the last status
"$HF_BIN" lag --watch 1 --json >"$T_TMP/watch.out" 2>"$T_TMP/watch.err" & W=$!
sleep 2.5
kill -TERM "$W"; rc=0; wait "$W" || rc=$?
(( $(wc -l <"$T_TMP/watch.out") >= 2 )) || t_fail "--watch printed $(wc -l <"$T_TMP/watch.out") documents"
last=$(tail -1 "$T_TMP/watch.out" | python3 -c "import json,sys; print(json.load(sys.stdin)['status'])")
want_rc=$(python3 -c "print({'OK':0,'WARN':4,'STALL':5,'STOP':6,'REWIND':7}['$last'])")
t_eq "$rc" "$want_rc" "--watch exit status follows its last status ($last)"
wait "$S3" || t_fail "simulate: $(tail -3 "$T_TMP/sim3.err")"
t_sql "UPDATE public.hf_it_throttle SET s = 0" >/dev/null
kill -TERM "$C5"; wait "$C5" || t_fail "consume after SIGTERM: $(tail -3 "$T_TMP/c5.err")"
t_pass "falling behind -> WARN (exit 4); --watch"
t_pass "hemoflow lag"
