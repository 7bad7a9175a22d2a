#!/usr/bin/env bash
# bench/run.sh — hemoflow against the physical limit and against what users
# would pick instead, in ONE run on the same services (issue 11; DESIGN.md
# "Performance bars"; bench/README.md explains the numbers).
#
# Throughput mode (default): N simulated events (same seed for everyone), once
# without and once with 5 % resent duplicates, each loaded by
#   limit          plain binary COPY of the same rows from local files
#   hemoflow x1    `hemoflow consume`, topics -> committed rows
#   hemoflow x2    two `hemoflow consume` instances in one consumer group
#   python         bench/peers/python_consumer.py (confluent-kafka + fastavro
#                  + psycopg COPY), from a pinned venv under build/
#   kafka-connect  Kafka Connect standalone + Debezium JDBC sink, from JSON
#                  copies of the same records (bench/peers/connect/)
# into fresh, migrated, partitioned warehouses, and prints one table.
# --latency: steady --rate events/s for --seconds, p50/p99/max produce->commit.
# --growth:  loads in --step steps until the warehouse holds --rows rows.
# Results (table + machine) go to bench/results/. Exit 0 measured (whatever
# the numbers), 1 something broke, 2 usage. Nothing here asserts a timing.
#
# Usage: bench/run.sh [--count N] [--quick] [--latency] [--growth] [--only LIST] ...
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HFB_ARGS="$*"
COUNT=2000000
KEEP=0
DAYS=30
END_DATE=2026-11-20
SEED=1
BUILD=${HF_BENCH_BUILD:-$REPO/build-bench}
WORK=${HF_BENCH_WORK:-$REPO/build/bench-work}
MODES=()
ONLY="limit,hemoflow,hemoflow2,python,connect"
RATE=10000
SECONDS_STEADY=60
GROWTH_ROWS=50000000
GROWTH_STEP=5000000
QUICK=0
OUT=""

usage() {
  cat <<EOF
Usage: bench/run.sh [OPTIONS]

  -n, --count N      events per topic set in throughput mode (default 2000000)
  -q, --quick        CI smoke (deploy/test.sh): --count 5000 over 3 days,
                     latency 1000/s for 3 s, growth to 9000 rows in 5000-event
                     steps (all three modes); no autovacuum wait between
                     phases, Kafka Connect loads both sets in one worker.
                     Proves the harness only: its numbers mean nothing.
      --throughput   run the throughput table (default when no mode is given)
      --latency      steady --rate events/s for --seconds s: produce->commit latency
      --growth       load until the warehouse holds --rows rows, per --step rows
      --rate N       latency mode rate (default 10000)
      --seconds S    latency mode duration (default 60)
      --rows N       growth mode target (default 50000000)
      --step N       growth mode step (default 5000000)
      --only LIST    contenders of the throughput table (default $ONLY)
      --out FILE     result file (default bench/results/run-<UTC time>.md;
                     --quick writes under the run folder, not bench/results/)
      --keep         leave the services and databases in place
  -h, --help         this help

Environment: HF_BENCH_BUILD (default build-bench/), HF_BENCH_WORK (services
and data, default build/bench-work/; PostgreSQL and Kafka already running
there are reused, as deploy/test.sh does with its own).
Exit status: 0 measured (whatever the numbers), 1 something broke (a build, a
service, a wrong row count in any warehouse; the table is printed first when
it can be), 2 usage error.
EOF
}

posint() { [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: $1 expects a positive integer" >&2; exit 2; }; }
while (($#)); do
  case $1 in
    -n|--count) posint "$1" "${2:-}"; COUNT=$2; shift 2 ;;
    -q|--quick) QUICK=1; COUNT=5000; DAYS=3; RATE=1000; SECONDS_STEADY=3; GROWTH_ROWS=9000; GROWTH_STEP=5000; shift ;;
    --throughput) MODES+=(throughput); shift ;;
    --latency) MODES+=(latency); shift ;;
    --growth) MODES+=(growth); shift ;;
    --rate) posint "$1" "${2:-}"; RATE=$2; shift 2 ;;
    --seconds) posint "$1" "${2:-}"; SECONDS_STEADY=$2; shift 2 ;;
    --rows) posint "$1" "${2:-}"; GROWTH_ROWS=$2; shift 2 ;;
    --step) posint "$1" "${2:-}"; GROWTH_STEP=$2; shift 2 ;;
    --only) ONLY=${2:-}; shift 2 ;;
    --out) OUT=${2:-}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if ((QUICK)); then
  export HFB_QUIESCE_WAIT=${HFB_QUIESCE_WAIT:-0}
  # C1 only: the JVM starts with far less compiling (Connect's run is short)
  export HFB_CONNECT_JAVA_OPTS=${HFB_CONNECT_JAVA_OPTS:--XX:TieredStopAtLevel=1}
fi
HFB_FAILURES=0 # contenders that ran and did not load every row (connect.sh)
if ((${#MODES[@]} == 0)); then
  if ((QUICK)); then MODES=(throughput latency growth); else MODES=(throughput); fi
fi
lastload() { awk '{print $NF}' <<<"$LOADAVG"; }
has_mode() { [[ " ${MODES[*]} " == *" $1 "* ]]; }
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
hfb_setup
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
[[ -n $OUT ]] || { if ((QUICK)); then OUT="$RUN/result.md"; else OUT="$REPO/bench/results/run-$(date -u +%Y%m%dT%H%M%SZ).md"; fi; }
RESULTS="$RUN/results.tsv" # contender set messages rows seconds cpu_s rss_kib loadavg note
: >"$RESULTS"
record() { local IFS=$'\t'; echo "$*" >>"$RESULTS"; }
EXTRA="$RUN/extra.md"
: >"$EXTRA"

# produce->commit latency needs the commit time of each row's transaction
if [[ $(sql postgres "SHOW track_commit_timestamp") != on ]]; then
  hf_log "turning on track_commit_timestamp (restarts PostgreSQL)"
  sql postgres "ALTER SYSTEM SET track_commit_timestamp = on"
  "$REPO/deploy/pg.sh" restart "$WORK" >/dev/null || hf_die "PostgreSQL restart failed"
fi

# ---- the Python peer's venv (pinned; cached under build/) ----------------------
VENV="$REPO/build/bench-venv"
PY_PINS="confluent-kafka==2.16.1 fastavro==1.13.1 psycopg[binary]==3.3.9"
venv() {
  if [[ ! -f $VENV/.pins ]] || [[ $(cat "$VENV/.pins") != "$PY_PINS" ]]; then
    hf_log "installing the Python peer's venv into $VENV ($PY_PINS)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || hf_die "python3 -m venv failed (apt-get install python3-venv)"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install -q $PY_PINS >"$RUN/pip.log" 2>&1 || hf_die "pip install failed: $(tail -5 "$RUN/pip.log")"
    echo "$PY_PINS" >"$VENV/.pins"
  fi
}
venv
PY="$VENV/bin/python"

# stats of one process's /usr/bin/time -v file: "cpu_s rss_kib"
time_stats() {
  python3 - "$@" <<'EOF'
import re, sys
cpu = rss = 0.0
for f in sys.argv[1:]:
    t = open(f).read()
    cpu += float(re.search(r'User time \(seconds\): ([\d.]+)', t).group(1)) + float(re.search(r'System time \(seconds\): ([\d.]+)', t).group(1))
    rss = max(rss, int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', t).group(1)))
print(f"{cpu:.2f} {int(rss)}")
EOF
}

# check_rows DB SET: the warehouse holds what simulate reported
check_rows() {
  local want got
  want=$(json "$RUN/report.$2.json" "sum(r['expected_warehouse_rows'].values())")
  got=$(total_rows "$1")
  [[ $got == "$want" ]] || hf_die "$1 holds $got rows, simulate reported $want"
  echo "$got"
}

# ---- contenders -----------------------------------------------------------------
# run_hemoflow SET INSTANCES: INSTANCES `hemoflow consume` in one group.
# Time: first partition assigned -> last batch committed, over all instances.
run_hemoflow() {
  local set=$1 n=$2 db i pids=() rc=0 label="hf$2-$1"
  new_db "hf${n}_$set"; db=$NEWDB
  export HEMOFLOW_TOPIC_PREFIX="bench-$RUN_ID-$set." HEMOFLOW_PG_DBNAME=$db
  export HEMOFLOW_CONSUME_GROUP_ID="bench-$RUN_ID-$label"
  quiesce "$db"
  hf_log "hemoflow x$n ($set) into $db"
  for ((i = 1; i <= n; i++)); do
    /usr/bin/time -v -o "$RUN/$label.$i.time" "$HF" consume --idle-exit "$IDLE_MS" \
      >"$RUN/$label.$i.out" 2>"$RUN/$label.$i.err" &
    pids+=($!); CHILDREN+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=$?; done
  ((rc == 0)) || hf_die "hemoflow consume ($label) exited $rc: $(tail -3 "$RUN/$label.1.err")"
  local rows secs msgs cs
  rows=$(check_rows "$db" "$set")
  read -r secs msgs < <(python3 - "$RUN/$label" "$n" <<'EOF'
import re, sys, datetime
base, n = sys.argv[1], int(sys.argv[2])
def ts(line):
    return datetime.datetime.strptime(re.match(r'ts=(\S+)Z ', line).group(1), '%Y-%m-%dT%H:%M:%S.%f').timestamp()
first = last = None; msgs = 0
for i in range(1, n + 1):
    for line in open(f"{base}.{i}.err"):
        if 'event=consume.assigned ' in line:
            t = ts(line); first = t if first is None else min(first, t)
        elif 'event=consume.batch_committed ' in line:
            t = ts(line); last = t if last is None else max(last, t)
    msgs += int(dict(kv.split('=') for kv in open(f"{base}.{i}.out").read().split())['consumed'])
print(f"{last - first:.3f} {msgs}")
EOF
  ) || hf_die "cannot read the logs of $label"
  local files=()
  for ((i = 1; i <= n; i++)); do files+=("$RUN/$label.$i.time"); done
  read -r cpu rss < <(time_stats "${files[@]}")
  record "hemoflow x$n" "$set" "$msgs" "$rows" "$secs" "$cpu" "$rss" "$(lastload)" \
    "$( ((n > 1)) && echo "peak RSS of one instance; CPU of both" )"
  HF1_DB=$db
}

run_python() {
  local set=$1 db label="py-$1"
  new_db "py_$set"; db=$NEWDB
  quiesce "$db"
  hf_log "python peer ($set) into $db"
  /usr/bin/time -v -o "$RUN/$label.time" "$PY" "$REPO/bench/peers/python_consumer.py" \
    --bootstrap "$HF_KAFKA_BOOTSTRAP" --group "bench-$RUN_ID-$label" --prefix "bench-$RUN_ID-$set." \
    --dsn "$(dsn "$db")" --schemas "$REPO/schemas/avro" --idle-exit-ms "$IDLE_MS" \
    >"$RUN/$label.out" 2>"$RUN/$label.err" &
  CHILDREN+=($!)
  wait $! || hf_die "python peer ($set) failed: $(tail -3 "$RUN/$label.err")"
  local rows secs msgs cpu rss
  rows=$(check_rows "$db" "$set")
  read -r secs msgs < <(json "$RUN/$label.out" "f\"{r['last_commit'] - r['assigned']:.3f} {r['consumed']}\"")
  read -r cpu rss < <(time_stats "$RUN/$label.time")
  record python "$set" "$msgs" "$rows" "$secs" "$cpu" "$rss" "$(lastload)" "no validation, no hf_offsets/hf_completeness"
}

# shellcheck source=bench/peers/connect.sh
source "$REPO/bench/peers/connect.sh"

run_limit() {
  local set=$1 src=$2
  copy_limit "$src" "copy_$set"
  record limit "$set" "$B_ROWS" "$B_ROWS" "$B_S" "" "" "$(lastload)" \
    "psql \\copy binary, $((BIN_BYTES / 1048576)) MiB, one transaction"
}

machine() {
  echo "- machine: $(uname -srm); $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)); $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM"
  echo "- PostgreSQL $(sql postgres 'SHOW server_version') (shared_buffers $(sql postgres 'SHOW shared_buffers'), fsync $(sql postgres 'SHOW fsync')), Apache Kafka $HF_KAFKA_VERSION (one KRaft node), $HFB_PARTITIONS partitions per topic"
  echo "- hemoflow $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown) ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt") build), $("$HF" --version | sed -n 's/^hemoflow [^ ]* (\(.*\))$/\1/p'), consume.loaders=$("$HF" --help-config | awk '$1 == "consume.loaders" {sub("default=", "", $3); print $3}')${HEMOFLOW_CONSUME_LOADERS:+ (env: $HEMOFLOW_CONSUME_LOADERS)}, consume.memory_max_bytes=$("$HF" --help-config | awk '$1 == "consume.memory_max_bytes" {sub("default=", "", $3); print $3}')${HEMOFLOW_CONSUME_MEMORY_MAX_BYTES:+ (env: $HEMOFLOW_CONSUME_MEMORY_MAX_BYTES)}; python peer $PY_PINS"
  echo "- $(date -u +%FT%TZ); load average at the start: $START_LOAD, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---- throughput ----------------------------------------------------------------------
throughput() {
  simulate_into plain
  simulate_into dups --dup-rate 0.05
  wants connect && connect_prepare plain dups
  local set
  for set in plain dups; do
    HF1_DB=""
    if wants hemoflow || wants limit; then run_hemoflow "$set" 1; fi
    wants limit && run_limit "$set" "$HF1_DB"
    wants hemoflow2 && run_hemoflow "$set" 2
    wants python && run_python "$set"
    if wants connect && ((!QUICK)); then connect_run "$set"; fi
  done
  if wants connect && ((QUICK)); then connect_run plain dups; fi
  python3 - "$RESULTS" "$COUNT" >"$RUN/table.md" <<'EOF'
import sys, csv
rows = [r for r in csv.reader(open(sys.argv[1]), delimiter='\t')]
count = int(sys.argv[2])
print(f"Throughput, {count} simulated events per set (plain: no resends; dups: 5 % resent):\n")
print("| contender | set | messages | rows | seconds | events/s | × limit | hemoflow x1 / it | peak RSS MiB | CPU s / M events | load | note |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
rate = {}
for r in rows:
    if r[4]:
        rate[(r[0], r[1])] = int(r[2]) / float(r[4])
for r in rows:
    name, st, msgs, nrows, secs, cpu, rss, load, note = (r + [''] * 9)[:9]
    if not secs:
        print(f"| {name} | {st} | | | | — | | | | | {load} | {note} |"); continue
    ev = rate[(name, st)]
    lim = rate.get(('limit', st))
    hf = rate.get(('hemoflow x1', st))
    xl = f"{ev / lim:.2f}" if lim else ""
    vs = f"{hf / ev:.2f}" if hf and name != 'hemoflow x1' else ""
    rs = f"{int(rss) / 1024:.0f}" if rss else ""
    cp = f"{float(cpu) / int(msgs) * 1e6:.1f}" if cpu else ""
    print(f"| {name} | {st} | {int(msgs):,} | {int(nrows):,} | {float(secs):.1f} | {ev:,.0f} | {xl} | {vs} | {rs} | {cp} | {load} | {note} |")
d, p = rate.get(('hemoflow x1', 'dups')), rate.get(('hemoflow x1', 'plain'))
if d and p:
    print(f"\nhemoflow x1, 5 % resends / none: {d / p:.2f} (bar ≥ 0.90)")
EOF
  cat "$RUN/table.md" >>"$EXTRA"
}

# ---- latency -------------------------------------------------------------------------
latency() {
  local count=$((RATE * SECONDS_STEADY)) db pid
  export HEMOFLOW_TOPIC_PREFIX="bench-$RUN_ID-lat."
  "$HF" topics --partitions "$HFB_PARTITIONS" >"$RUN/topics.lat.out" 2>&1 || hf_die "topics: $(tail -3 "$RUN/topics.lat.out")"
  new_db lat; db=$NEWDB
  export HEMOFLOW_PG_DBNAME=$db HEMOFLOW_CONSUME_GROUP_ID="bench-$RUN_ID-lat"
  quiesce "$db"
  hf_log "latency: hemoflow consume while simulate sends $RATE events/s for $SECONDS_STEADY s"
  # no --idle-exit: simulate may take longer to start than any idle time
  # under load; the consumer is stopped (SIGTERM, a clean exit) once every
  # row is in the warehouse
  /usr/bin/time -v -o "$RUN/lat.time" "$HF" consume >"$RUN/lat.out" 2>"$RUN/lat.err" &
  pid=$!; CHILDREN+=($pid)
  local i
  for i in $(seq 1 300); do grep -q 'event=consume.assigned ' "$RUN/lat.err" && break; sleep 0.1; done
  HEMOFLOW_PUBLISH_SPOOL_DIR="$RUN/spool.lat" "$HF" simulate --count "$count" --rate "$RATE" --days "$DAYS" \
    --end-date "$END_DATE" --seed "$SEED" --report "$RUN/report.lat.json" >"$RUN/simulate.lat.out" 2>"$RUN/simulate.lat.err" \
    || hf_die "simulate: $(tail -3 "$RUN/simulate.lat.err")"
  local want got=0
  want=$(json "$RUN/report.lat.json" "sum(r['expected_warehouse_rows'].values())")
  for i in $(seq 1 1200); do # up to 10 min: a loaded machine is slow, not stuck
    got=$(total_rows "$db")
    ((got >= want)) && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  pkill -TERM -P "$pid" 2>/dev/null || true # hemoflow, the child of /usr/bin/time
  wait "$pid" || hf_die "consume (latency) failed: $(tail -3 "$RUN/lat.err")"
  check_rows "$db" lat >/dev/null
  "$PY" "$REPO/bench/peers/latency.py" --bootstrap "$HF_KAFKA_BOOTSTRAP" --prefix "$HEMOFLOW_TOPIC_PREFIX" \
    --dsn "$(dsn "$db")" >"$RUN/latency.txt" || hf_die "latency.py failed"
  read -r cpu rss < <(time_stats "$RUN/lat.time")
  {
    echo
    echo "Latency, hemoflow x1, $RATE events/s for $SECONDS_STEADY s ($count events; load $(cut -d' ' -f1 /proc/loadavg) at the end):"
    echo
    cat "$RUN/latency.txt"
    echo "- consumer peak RSS $((rss / 1024)) MiB, CPU $cpu s (bar: p99 ≤ 1 s)"
  } >>"$EXTRA"
}

# ---- growth ----------------------------------------------------------------------------
growth() {
  local db step=0 rows=0 msgs secs
  new_db growth; db=$NEWDB
  {
    echo
    echo "Growth, hemoflow x1 into one warehouse, steps of $GROWTH_STEP events (new seed each step, same $DAYS-day window) until $GROWTH_ROWS rows:"
    echo
    echo "| step | rows before | rows after | events/s | peak RSS MiB | load |"
    echo "|---:|---:|---:|---:|---:|---:|"
  } >>"$EXTRA"
  while ((rows < GROWTH_ROWS)); do
    step=$((step + 1))
    COUNT=$GROWTH_STEP SEED=$((1000 + step)) simulate_into "g$step"
    consume_run "g$step" "g$step" "$db"
    read -r secs msgs _ _ _ rss _ < <(consume_stats "g$step") || hf_die "cannot read the consumer's log"
    local before=$rows
    rows=$(total_rows "$db")
    hf_log "  growth step $step: $msgs events in $secs s, warehouse $rows rows"
    printf '| %d | %s | %s | %s | %d | %s |\n' "$step" "$before" "$rows" \
      "$(python3 -c "print(f'{$msgs / $secs:,.0f}')")" $((rss / 1024)) "$(lastload)" >>"$EXTRA"
    "$REPO/deploy/kafka.sh" status "$WORK" >/dev/null 2>&1 || hf_die "Kafka died"
  done
}

for m in "${MODES[@]}"; do "$m"; done
if ((HFB_FAILURES)); then
  echo "FAILED: $HFB_FAILURES contender run(s) did not load every row (see the table)" >>"$EXTRA"
fi

mkdir -p "$(dirname "$OUT")"
{
  echo "# bench/run.sh $(date -u +%F)"
  echo
  machine
  echo "- modes: ${MODES[*]}; command: bench/run.sh ${HFB_ARGS:-}"
  echo
  cat "$EXTRA"
  echo
  echo "One run on one machine shared with other work: compare ratios measured in this run, not absolute rates."
} >"$OUT"
echo
cat "$OUT"
hf_log "written to $OUT"
if ((HFB_FAILURES)); then hf_die "$HFB_FAILURES contender run(s) did not load every row"; fi
