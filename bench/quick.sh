#!/usr/bin/env bash
# bench/quick.sh — hemoflow's quick throughput benchmark (DESIGN.md "Performance
# bars"), as ratios measured in ONE run on ONE machine:
#
#   1. consumer: N simulated events already in the real broker (Kafka 4.4,
#      produced first, not timed) -> `hemoflow consume` -> committed rows in a
#      fresh, migrated, partitioned warehouse; rate from the consumer's log
#      (first partition assigned -> last batch committed); peak RSS.
#   2. baseline: the same rows exported from that warehouse to binary COPY files
#      and loaded with a plain `COPY ... FROM ... (FORMAT binary)` into a second
#      fresh warehouse with the same partitions (one transaction, all tables).
#   3. resends: N events with --dup-rate 0.05 into a third fresh warehouse; its
#      message rate against step 1's.
#
# Targets (printed, never enforced): consumer >= 0.8 x COPY, RSS < 64 MiB,
# 5 % resends >= 0.9 x no resends. Exit 0 whatever the numbers; 1 when
# something broke (build, services, a command, or the row counts are wrong);
# 2 on a usage error. See docs/benchmarks.md.
#
# Usage: bench/quick.sh [--count N] [--quick] [--skip-dups] [--keep] [--perf]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNT=1000000
KEEP=0
SKIP_DUPS=0
PERF=0
DAYS=30
END_DATE=2026-11-20
SEED=1
BUILD=${HF_BENCH_BUILD:-$REPO/build-bench}
WORK=${HF_BENCH_WORK:-$REPO/build/bench-work}

usage() {
  cat <<EOF
Usage: bench/quick.sh [OPTIONS]

Loads N simulated events from a real Kafka broker into a fresh PostgreSQL
warehouse with \`hemoflow consume\`, then a plain binary COPY of the same rows
into a second fresh warehouse, and prints both rates, their ratio and the
consumer's peak RSS; then the same with 5 % resent events.

  -n, --count N    events to simulate (default 1000000)
  -q, --quick      CI smoke size: --count 20000
      --skip-dups  skip the 5 % resend run
      --keep       leave PostgreSQL, Kafka and the databases running/in place
      --perf       also record a system-wide \`perf record -g\` of one more
                   consumer run (not the measured one) into WORK/perf.data
  -h, --help       this help

Environment: HF_BENCH_BUILD (build dir, default build-bench/),
HF_BENCH_WORK (services and data, default build/bench-work/).
Exit status: 0 measured (whatever the numbers), 1 something broke, 2 usage.
EOF
}

while (($#)); do
  case $1 in
    -n|--count) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "quick.sh: --count expects a positive integer" >&2; exit 2; }
                COUNT=$2; shift 2 ;;
    --count=*) COUNT=${1#*=}; [[ $COUNT =~ ^[1-9][0-9]*$ ]] || { echo "quick.sh: --count expects a positive integer" >&2; exit 2; }; shift ;;
    -q|--quick) COUNT=20000; shift ;;
    --skip-dups) SKIP_DUPS=1; shift ;;
    --keep) KEEP=1; shift ;;
    --perf) PERF=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "quick.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

# logging: deploy/lib.sh's hf_log / hf_die, tagged [bench]
# shellcheck source=/dev/null
source "$REPO/deploy/lib.sh"
HF_LOG_TAG=bench

# ---- build ------------------------------------------------------------------
# Release, in our own build dir. HF_WERROR=OFF: a newer compiler's new warning
# must not stop a measurement (the tree builds warning-free at -O3 today).
if [[ ! -f $BUILD/build.ninja ]]; then
  hf_log "configuring $BUILD (Release)"
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHF_WERROR=OFF -DHF_TESTS=OFF \
    >"${TMPDIR:-/tmp}/hf-bench-cmake.$$.log" 2>&1 || { cat "${TMPDIR:-/tmp}/hf-bench-cmake.$$.log" >&2; hf_die "cmake failed"; }
fi
hf_log "building $BUILD/hemoflow"
ninja -C "$BUILD" hemoflow >"${TMPDIR:-/tmp}/hf-bench-ninja.$$.log" 2>&1 \
  || { tail -30 "${TMPDIR:-/tmp}/hf-bench-ninja.$$.log" >&2; hf_die "build failed"; }
rm -f "${TMPDIR:-/tmp}/hf-bench-cmake.$$.log" "${TMPDIR:-/tmp}/hf-bench-ninja.$$.log"
HF="$BUILD/hemoflow"
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" || hf_log "WARNING: $BUILD is not a Release build"

# ---- services ---------------------------------------------------------------
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
RUN_ID="$(date +%Y%m%d%H%M%S)_$$"
RUN="$WORK/run-$RUN_ID"
mkdir -p "$RUN"
STARTED_PG=0 STARTED_KAFKA=0
DBS=()
CHILD=
cleanup() {
  local rc=$?
  set +e
  if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
    pkill -TERM -P "$CHILD" # the consumer under /usr/bin/time or perf
    kill "$CHILD"
    wait "$CHILD" 2>/dev/null
  fi
  if ((KEEP)); then
    hf_log "--keep: services and databases left in place (work dir $WORK, run files $RUN)"
    hf_log "  stop them with: deploy/kafka.sh stop $WORK; deploy/pg.sh stop $WORK"
  else
    if [[ -n ${HF_PG_DSN:-} ]] && ((rc == 0)); then # after a failure the databases stay (in $WORK/pg)
      local db
      for db in "${DBS[@]}"; do
        psql "$HF_PG_DSN" -XqAtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
      done
    fi
    ((STARTED_KAFKA)) && "$REPO/deploy/kafka.sh" stop "$WORK" >/dev/null 2>&1
    ((STARTED_PG)) && "$REPO/deploy/pg.sh" stop "$WORK" >/dev/null 2>&1
    # the event data (a few hundred MB per million events) is not worth
    # keeping; after a failure the logs and reports are
    if ((rc == 0)); then
      rm -rf "$RUN"
    else
      rm -rf "$RUN"/*.bin "$RUN"/spool.* "$RUN"/copy
      hf_log "failed: logs and reports kept in $RUN, databases in the cluster in $WORK/pg (deploy/pg.sh start $WORK)"
    fi
    ((STARTED_KAFKA)) && rm -rf "$WORK/kafka"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if "$REPO/deploy/pg.sh" status "$WORK" >/dev/null 2>&1; then
  hf_log "reusing the PostgreSQL already running in $WORK"
else
  hf_log "starting PostgreSQL in $WORK"
  STARTED_PG=1
  "$REPO/deploy/pg.sh" start "$WORK" >/dev/null || hf_die "deploy/pg.sh start failed"
fi
if "$REPO/deploy/kafka.sh" status "$WORK" >/dev/null 2>&1; then
  hf_log "reusing the Kafka broker already running in $WORK"
else
  hf_log "starting Kafka in $WORK"
  STARTED_KAFKA=1
  rm -rf "$WORK/kafka" # a fresh broker: no topics from earlier runs
  "$REPO/deploy/kafka.sh" start "$WORK" >/dev/null || hf_die "deploy/kafka.sh start failed"
fi
hf_load_env "$WORK/pg.env"
hf_load_env "$WORK/kafka.env"

pg_field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$HF_PG_DSN"; }
PGHOST_=$(pg_field host) PGPORT_=$(pg_field port) PGUSER_=$(pg_field user)
dsn() { echo "host=$PGHOST_ port=$PGPORT_ dbname=$1 user=$PGUSER_"; }
sql() { psql "$(dsn "$1")" -XqAt -v ON_ERROR_STOP=1 -c "$2"; }

export HEMOFLOW_PG_HOST=$PGHOST_ HEMOFLOW_PG_PORT=$PGPORT_ HEMOFLOW_PG_USER=$PGUSER_
export HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$HF_KAFKA_BOOTSTRAP
export HEMOFLOW_PUBLISH_KEY_FILE="$RUN/hmac.key"
export HEMOFLOW_HTTP_PORT=${HEMOFLOW_HTTP_PORT:-0} # the consumer's endpoint on a free port
head -c 48 /dev/urandom | base64 >"$RUN/hmac.key"
chmod 600 "$RUN/hmac.key"

# Partitions of every warehouse: the simulated window (station-local dates may
# fall a day either side of it), created before anything is timed.
P_FROM=$(date -u -d "$END_DATE - $((DAYS + 1)) days" +%F)
P_TO=$(date -u -d "$END_DATE + 1 day" +%F)

# new_db NAME: a fresh database, migrated, with the window's partitions; its
# name in NEWDB (not echoed: DBS must be updated in this shell, not a subshell)
new_db() {
  local db="hf_bench_${RUN_ID}_$1"
  psql "$HF_PG_DSN" -XqAtc "CREATE DATABASE \"$db\"" >/dev/null || hf_die "cannot create database $db"
  DBS+=("$db")
  HEMOFLOW_PG_DBNAME=$db "$HF" migrate >"$RUN/migrate.$1.out" 2>&1 || hf_die "migrate: $(tail -5 "$RUN/migrate.$1.out")"
  HEMOFLOW_PG_DBNAME=$db "$HF" partitions --from "$P_FROM" --to "$P_TO" >"$RUN/partitions.$1.out" 2>&1 \
    || hf_die "partitions: $(tail -5 "$RUN/partitions.$1.out")"
  NEWDB=$db
}

# ---- 1. events into Kafka first (not timed) -----------------------------------
# simulate_into NAME ARGS...: topics under a private prefix, then N events
simulate_into() {
  local name=$1; shift
  export HEMOFLOW_TOPIC_PREFIX="bench-$RUN_ID-$name."
  "$HF" topics --partitions 6 >"$RUN/topics.$name.out" 2>&1 || hf_die "topics: $(tail -5 "$RUN/topics.$name.out")"
  hf_log "simulating $COUNT events into topics ${HEMOFLOW_TOPIC_PREFIX}* ($*)"
  local t0=$SECONDS
  HEMOFLOW_PUBLISH_SPOOL_DIR="$RUN/spool.$name" "$HF" simulate --count "$COUNT" --days "$DAYS" \
      --end-date "$END_DATE" --seed "$SEED" --report "$RUN/report.$name.json" "$@" \
      >"$RUN/simulate.$name.out" 2>"$RUN/simulate.$name.err" \
    || hf_die "simulate: $(tail -5 "$RUN/simulate.$name.err")"
  rm -rf "$RUN/spool.$name"
  hf_log "  produced in $((SECONDS - t0)) s"
}
simulate_into plain
((SKIP_DUPS)) || simulate_into dups --dup-rate 0.05

json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# ---- consumer runs ------------------------------------------------------------
# quiesce DB: before a timed phase, wait (up to 120 s) until no autovacuum
# worker runs in our cluster (the previous phase's bulk load triggers ANALYZE
# and insert-VACUUM that would otherwise compete with this one), then
# CHECKPOINT so every phase starts with no dirty buffers. Records the load
# average: other work on the machine makes the numbers noisy.
quiesce() {
  local i n
  for i in $(seq 1 120); do
    n=$(sql "$1" "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
    [[ $n == 0 ]] && break
    ((i == 1)) && hf_log "  waiting for autovacuum to finish"
    sleep 1
  done
  sql "$1" "CHECKPOINT"
  LOADAVG+="$(cut -d' ' -f1 /proc/loadavg) "
}
LOADAVG=""

# consume_run NAME LABEL DB [WRAPPER...]: one `hemoflow consume --idle-exit`
# over the NAME topics into DB, under /usr/bin/time -v (or polling VmHWM).
# Writes $RUN/consume.LABEL.{err,out,time}.
IDLE_MS=2000
consume_run() {
  local name=$1 label=$2 db=$3; shift 3
  export HEMOFLOW_TOPIC_PREFIX="bench-$RUN_ID-$name." HEMOFLOW_PG_DBNAME=$db
  export HEMOFLOW_CONSUME_GROUP_ID="bench-$RUN_ID-$label-$db"
  quiesce "$db"
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  if [[ -x /usr/bin/time ]]; then
    "$@" /usr/bin/time -v -o "$RUN/consume.$label.time" "$HF" consume --idle-exit "$IDLE_MS" \
      >"$RUN/consume.$label.out" 2>"$RUN/consume.$label.err" &
    CHILD=$!
    wait "$CHILD" || rc=$?
  else
    # no GNU time: poll the peak (VmHWM) while the consumer runs
    "$@" "$HF" consume --idle-exit "$IDLE_MS" >"$RUN/consume.$label.out" 2>"$RUN/consume.$label.err" &
    CHILD=$!
    local hwm=0 v pid
    while kill -0 "$CHILD" 2>/dev/null; do
      pid=$(pgrep -n -P "$CHILD" hemoflow 2>/dev/null || echo "$CHILD")
      v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [[ -n $v ]] && ((v > hwm)) && hwm=$v
      sleep 0.1
    done
    wait "$CHILD" || rc=$?
    echo "Maximum resident set size (kbytes): $hwm (polled VmHWM)" >"$RUN/consume.$label.time"
  fi
  CHILD=
  t1=$(date +%s.%N)
  echo "wall $t0 $t1" >>"$RUN/consume.$label.time"
  ((rc == 0)) || hf_die "consume ($label) exited $rc: $(tail -5 "$RUN/consume.$label.err")"
}

# consume_stats NAME: "seconds messages startup_s wall_s cpu_s rss_kib batches
# partitions_created duplicates inserted" from the consumer's log, summary and time file
consume_stats() {
  python3 - "$RUN/consume.$1.err" "$RUN/consume.$1.out" "$RUN/consume.$1.time" <<'EOF'
import re, sys, datetime
err, out, tim = sys.argv[1:4]
def ts(line):
    m = re.match(r'ts=(\S+)Z ', line)
    return datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S.%f').timestamp()
start = assigned = last = None
batches = created = 0
for line in open(err):
    if 'event=consume.start ' in line and start is None: start = ts(line)
    elif 'event=consume.assigned ' in line and assigned is None: assigned = ts(line)
    elif 'event=consume.batch_committed ' in line:
        last = ts(line); batches += 1
        created += int(re.search(r'partitions_created=(\d+)', line).group(1))
if None in (start, assigned, last):
    sys.exit('consumer log lacks consume.start/assigned/batch_committed lines')
summ = dict(kv.split('=') for kv in open(out).read().split())
t = open(tim).read()
rss = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', t).group(1))
user = re.search(r'User time \(seconds\): ([\d.]+)', t)
sysc = re.search(r'System time \(seconds\): ([\d.]+)', t)
cpu = float(user.group(1)) + float(sysc.group(1)) if user and sysc else -1
w = re.search(r'wall ([\d.]+) ([\d.]+)', t)
print(f"{last - assigned:.3f} {summ['consumed']} {assigned - start:.3f} "
      f"{float(w.group(2)) - float(w.group(1)):.3f} {cpu:.2f} {rss} {batches} {created} "
      f"{summ['duplicates']} {summ['loaded']}")
EOF
}

# total_rows DB: rows in all fact tables
total_rows() {
  local q="" t
  for t in $(sql "$1" "SELECT table_name FROM hemoflow.hf_fact_tables ORDER BY 1"); do
    q+="${q:+ UNION ALL }SELECT count(*) AS n FROM hemoflow.$t"
  done
  sql "$1" "SELECT sum(n) FROM ($q) x"
}

# ---- 2. the consumer, no resends ------------------------------------------------
new_db load; DB_LOAD=$NEWDB
hf_log "consumer run (no resends) into $DB_LOAD"
consume_run plain plain "$DB_LOAD"
read -r C_S C_MSG C_START C_WALL C_CPU C_RSS C_BATCHES C_CREATED _ _ < <(consume_stats plain) \
  || hf_die "cannot read the consumer's log"
WANT=$(json "$RUN/report.plain.json" "sum(r['expected_warehouse_rows'].values())")
GOT=$(total_rows "$DB_LOAD")
[[ $GOT == "$WANT" ]] || hf_die "warehouse holds $GOT rows after the consumer run, simulate reported $WANT"
hf_log "  $C_MSG messages, $GOT rows in $C_S s"

# ---- 3. baseline: plain binary COPY of the same rows ------------------------------
TABLES=$(sql "$DB_LOAD" "SELECT table_name FROM hemoflow.hf_fact_tables ORDER BY table_name")
hf_log "exporting the rows to binary COPY files"
: >"$RUN/copy.sql"
echo 'BEGIN;' >>"$RUN/copy.sql"
for t in $TABLES; do
  cols=$(sql "$DB_LOAD" "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'hemoflow' AND table_name = '$t' AND column_name <> 'loaded_at'")
  psql "$(dsn "$DB_LOAD")" -XqAt -v ON_ERROR_STOP=1 \
    -c "\\copy (SELECT $cols FROM hemoflow.$t ORDER BY province_code, event_date) TO '$RUN/$t.bin' WITH (FORMAT binary)" \
    || hf_die "export of $t failed"
  echo "\\copy hemoflow.$t ($cols) FROM '$RUN/$t.bin' WITH (FORMAT binary)" >>"$RUN/copy.sql"
done
echo 'COMMIT;' >>"$RUN/copy.sql"
new_db copy; DB_COPY=$NEWDB
quiesce "$DB_COPY"
hf_log "plain binary COPY into $DB_COPY"
t0=$(date +%s.%N)
psql "$(dsn "$DB_COPY")" -XqAt -v ON_ERROR_STOP=1 -f "$RUN/copy.sql" >"$RUN/copy.out" 2>&1 \
  || hf_die "COPY failed: $(tail -5 "$RUN/copy.out")"
t1=$(date +%s.%N)
B_S=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
B_ROWS=$(total_rows "$DB_COPY")
[[ $B_ROWS == "$GOT" ]] || hf_die "COPY loaded $B_ROWS rows, expected $GOT"
BIN_BYTES=$(cat "$RUN"/*.bin | wc -c)
hf_log "  $B_ROWS rows in $B_S s"

# ---- 4. the consumer with 5 % resends ----------------------------------------------
if ! ((SKIP_DUPS)); then
  new_db dups; DB_DUPS=$NEWDB
  hf_log "consumer run (5 % resends) into $DB_DUPS"
  consume_run dups dups "$DB_DUPS"
  read -r D_S D_MSG _ _ D_CPU D_RSS _ _ D_DUPS _ < <(consume_stats dups) \
    || hf_die "cannot read the consumer's log"
  WANT=$(json "$RUN/report.dups.json" "sum(r['expected_warehouse_rows'].values())")
  GOTD=$(total_rows "$DB_DUPS")
  [[ $GOTD == "$WANT" ]] || hf_die "warehouse holds $GOTD rows after the resend run, simulate reported $WANT"
  RESENDS=$(json "$RUN/report.dups.json" "r['totals']['resends']")
  [[ $D_DUPS == "$RESENDS" ]] || hf_log "WARNING: consumer dropped $D_DUPS duplicates, simulate resent $RESENDS"
  hf_log "  $D_MSG messages ($RESENDS resends), $GOTD rows in $D_S s"
fi

# ---- 5. optional profile (not measured) ------------------------------------------------
if ((PERF)); then
  new_db perf; DB_PERF=$NEWDB
  hf_log "perf record -a -g of a consumer run into $DB_PERF -> $WORK/perf.data"
  consume_run plain perf "$DB_PERF" perf record -a -g -o "$WORK/perf.data" --
  hf_log "  perf report -i $WORK/perf.data --sort comm,dso --no-children | head -40"
fi

# ---- report ----------------------------------------------------------------------------
GIT_STATE=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
GIT_DIRTY=$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
python3 - "$GIT_STATE" "$GIT_DIRTY" "$LOADAVG" "$IDLE_MS" "$COUNT" "$C_S" "$C_MSG" "$GOT" "$C_START" "$C_WALL" "$C_CPU" "$C_RSS" "$C_BATCHES" "$C_CREATED" \
  "$B_S" "$B_ROWS" "$BIN_BYTES" "${D_S:-}" "${D_MSG:-}" "${D_DUPS:-}" "${D_RSS:-}" "${D_CPU:-}" <<'EOF'
import sys
git_state, git_dirty, loadavg = sys.argv[1], sys.argv[2].strip(), sys.argv[3].split()
idle_s = int(sys.argv[4]) / 1000
a = sys.argv[5:]
count = int(a[0]); c_s, c_msg, rows = float(a[1]), int(a[2]), int(a[3])
c_start, c_wall, c_cpu, c_rss, c_batches, c_created = float(a[4]), float(a[5]), float(a[6]), int(a[7]), int(a[8]), int(a[9])
b_s, b_rows, bin_bytes = float(a[10]), int(a[11]), int(a[12])
c_rate, b_rate = c_msg / c_s, b_rows / b_s
print()
print(f"hemoflow quick benchmark: {count} simulated events requested, {c_msg} messages, {rows} rows")
print(f"  consumer  {c_s:8.2f} s  {c_rate:10,.0f} events/s   (first assignment -> last commit; "
      f"+{c_start:.2f} s startup, process wall {c_wall:.2f} s incl. {idle_s:.1f} s idle-exit; "
      f"CPU {c_cpu:.2f} s; {c_batches} batches; {c_created} partitions created)")
print(f"  COPY      {b_s:8.2f} s  {b_rate:10,.0f} rows/s     (psql \\copy binary, {bin_bytes / 2**20:.0f} MiB, one transaction)")
r = c_rate / b_rate
print(f"  ratio consumer/COPY         {r:6.2f}   (target >= 0.80: {'met' if r >= 0.8 else 'NOT met'})")
print(f"  consumer peak RSS      {c_rss / 1024:8.1f} MiB (target < 64 MiB: {'met' if c_rss < 64 * 1024 else 'NOT met'})")
if a[13]:
    d_s, d_msg, d_dups, d_rss, d_cpu = float(a[13]), int(a[14]), int(a[15]), int(a[16]), float(a[17])
    d_rate = d_msg / d_s
    dr = d_rate / c_rate
    print(f"  5 % resends {d_s:8.2f} s  {d_rate:10,.0f} events/s   ({d_dups} duplicates dropped; "
          f"CPU {d_cpu:.2f} s; peak RSS {d_rss / 1024:.1f} MiB)")
    print(f"  ratio resends/none          {dr:6.2f}   (target >= 0.90: {'met' if dr >= 0.9 else 'NOT met'})")
else:
    print("  5 % resends: skipped (--skip-dups)")
print(f"  source {git_state}" + (f" (modified: {git_dirty})" if git_dirty else ""))
print(f"  1-min load average at the start of each timed phase: {' '.join(loadavg)}"
      + ("  <- the machine was busy: expect noise" if any(float(x) > 1.5 for x in loadavg) else ""))
print("Timings are one run on this machine; compare ratios, not absolute rates.")
EOF
