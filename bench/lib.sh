# shellcheck shell=bash
# bench/lib.sh — what bench/quick.sh and bench/run.sh share: the Release build,
# the services (deploy/pg.sh, deploy/kafka.sh, reused when already running in
# WORK), fresh partitioned warehouses, simulated topic sets, timed `hemoflow
# consume` runs and their statistics, row counts, the plain binary COPY limit.
# Source it, then call hfb_setup. The caller sets first:
#   REPO BUILD WORK KEEP COUNT DAYS END_DATE SEED (see bench/quick.sh)
#   HFB_PARTITIONS (partitions per topic, default 6)
# After hfb_setup: RUN (this run's files), RUN_ID, HF (the binary), HEMOFLOW_*
# exported for the services, dsn DB / sql DB QUERY, new_db NAME (-> NEWDB),
# simulate_into NAME ARGS..., quiesce DB (appends to LOADAVG), consume_run,
# consume_stats, total_rows DB, copy_limit SRC_DB NAME (-> LIMIT_S LIMIT_ROWS
# LIMIT_BYTES). CHILDREN: pids the EXIT trap stops (with their children).

# logging: deploy/lib.sh's hf_log / hf_die, tagged [bench]
# shellcheck source=/dev/null
source "$REPO/deploy/lib.sh"
HF_LOG_TAG=bench
HFB_PARTITIONS=${HFB_PARTITIONS:-6}
CHILDREN=()

STARTED_PG=0 STARTED_KAFKA=0
DBS=()
# cleanup: the EXIT trap. Stops CHILDREN, calls hfb_cleanup_hook when the
# caller defines one, drops the databases and stops the services this run
# started (unless --keep); after a failure keeps logs, reports and databases.
cleanup() {
  local rc=$?
  set +e
  local c
  for c in "${CHILDREN[@]}"; do
    if kill -0 "$c" 2>/dev/null; then
      pkill -TERM -P "$c" # the consumer under /usr/bin/time or perf
      kill "$c"
      wait "$c" 2>/dev/null
    fi
  done
  declare -F hfb_cleanup_hook >/dev/null && hfb_cleanup_hook
  if ((KEEP)); then
    hf_log "--keep: services and databases left in place (work dir $WORK, run files $RUN)"
    hf_log "  stop them with: deploy/kafka.sh stop $WORK; deploy/pg.sh stop $WORK"
  else
    # after a failure the databases stay (in $WORK/pg); HFB_NO_DROP=1: the
    # caller throws the cluster away (deploy/test.sh), dropping a dozen
    # databases of ~700 partitions each took over a minute under load
    if [[ -n ${HF_PG_DSN:-} ]] && ((rc == 0)) && [[ ${HFB_NO_DROP:-0} != 1 ]]; then
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

pg_field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$HF_PG_DSN"; }
dsn() { echo "host=$PGHOST_ port=$PGPORT_ dbname=$1 user=$PGUSER_"; }
sql() { psql "$(dsn "$1")" -XqAt -v ON_ERROR_STOP=1 -c "$2"; }

# hfb_setup: build, start (or reuse) the services, export their settings.
hfb_setup() {
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

PGHOST_=$(pg_field host) PGPORT_=$(pg_field port) PGUSER_=$(pg_field user)
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
}

# new_db NAME: a fresh database, migrated, with the window's partitions; its
# name in NEWDB (not echoed: DBS must be updated in this shell, not a subshell).
# The first call migrates a template database of this run and creates the
# window's partitions in it (tens of seconds: ~700 partitions with their
# indexes); every warehouse is then a `CREATE DATABASE ... TEMPLATE` copy of
# it (a few seconds): the same empty warehouse a fresh migration gives, but
# for the loader/analyst roles' CONNECT grant on the database itself, which
# lives outside it (the benchmark connects as the cluster's superuser).
HFB_TEMPLATE=""
new_db() {
  local db="hf_bench_${RUN_ID}_$1" i
  if [[ -z $HFB_TEMPLATE ]]; then
    local t="hf_bench_${RUN_ID}_template"
    psql "$HF_PG_DSN" -XqAtc "CREATE DATABASE \"$t\"" >/dev/null || hf_die "cannot create database $t"
    DBS+=("$t")
    HEMOFLOW_PG_DBNAME=$t "$HF" migrate >"$RUN/migrate.template.out" 2>&1 || hf_die "migrate: $(tail -5 "$RUN/migrate.template.out")"
    HEMOFLOW_PG_DBNAME=$t "$HF" partitions --from "$P_FROM" --to "$P_TO" >"$RUN/partitions.template.out" 2>&1 \
      || hf_die "partitions: $(tail -5 "$RUN/partitions.template.out")"
    HFB_TEMPLATE=$t
  fi
  # an autovacuum worker still in the template makes CREATE DATABASE fail
  # after PostgreSQL's own 5 s wait; try a few times
  for i in 1 2 3 4 5; do
    psql "$HF_PG_DSN" -XqAtc "CREATE DATABASE \"$db\" TEMPLATE \"$HFB_TEMPLATE\"" >"$RUN/createdb.$1.out" 2>&1 && break
    ((i == 5)) && hf_die "cannot create database $db: $(tail -3 "$RUN/createdb.$1.out")"
    sleep 1
  done
  DBS+=("$db")
  NEWDB=$db
}

# ---- 1. events into Kafka first (not timed) -----------------------------------
# simulate_into NAME ARGS...: topics under a private prefix, then N events
simulate_into() {
  local name=$1; shift
  export HEMOFLOW_TOPIC_PREFIX="bench-$RUN_ID-$name."
  "$HF" topics --partitions "$HFB_PARTITIONS" >"$RUN/topics.$name.out" 2>&1 || hf_die "topics: $(tail -5 "$RUN/topics.$name.out")"
  hf_log "simulating $COUNT events into topics ${HEMOFLOW_TOPIC_PREFIX}* ($*)"
  local t0=$SECONDS
  HEMOFLOW_PUBLISH_SPOOL_DIR="$RUN/spool.$name" "$HF" simulate --count "$COUNT" --days "$DAYS" \
      --end-date "$END_DATE" --seed "$SEED" --report "$RUN/report.$name.json" "$@" \
      >"$RUN/simulate.$name.out" 2>"$RUN/simulate.$name.err" \
    || hf_die "simulate: $(tail -5 "$RUN/simulate.$name.err")"
  rm -rf "$RUN/spool.$name"
  hf_log "  produced in $((SECONDS - t0)) s"
}

json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# ---- consumer runs ------------------------------------------------------------
# quiesce DB: before a timed phase, wait (up to 120 s) until no autovacuum
# worker runs in our cluster (the previous phase's bulk load triggers ANALYZE
# and insert-VACUUM that would otherwise compete with this one), then
# CHECKPOINT so every phase starts with no dirty buffers. Records the load
# average: other work on the machine makes the numbers noisy.
# HFB_QUIESCE_WAIT=0 (--quick) skips the autovacuum wait: its numbers are
# not read, and the wait was most of its time.
quiesce() {
  local i n
  for i in $(seq 1 "${HFB_QUIESCE_WAIT:-120}"); do
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
  local t0 t1 rc=0 CHILD
  t0=$(date +%s.%N)
  if [[ -x /usr/bin/time ]]; then
    "$@" /usr/bin/time -v -o "$RUN/consume.$label.time" "$HF" consume --idle-exit "$IDLE_MS" \
      >"$RUN/consume.$label.out" 2>"$RUN/consume.$label.err" &
    CHILD=$!
    CHILDREN+=("$CHILD")
    wait "$CHILD" || rc=$?
  else
    # no GNU time: poll the peak (VmHWM) while the consumer runs
    "$@" "$HF" consume --idle-exit "$IDLE_MS" >"$RUN/consume.$label.out" 2>"$RUN/consume.$label.err" &
    CHILD=$!
    CHILDREN+=("$CHILD")
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

# copy_limit SRC_DB NAME: export SRC_DB's rows (without loaded_at) to binary COPY
# files, then load them with a plain `COPY ... FROM file (FORMAT binary)` per
# table, all in one transaction, into a fresh warehouse NAME with the same
# partitions and indexes: the physical limit. Sets B_S (seconds), B_ROWS,
# BIN_BYTES, DB_COPY. The files are removed afterwards.
copy_limit() {
  local src=$1 name=$2 t cols t0 t1 want dir="$RUN/copy.$2"
  mkdir -p "$dir"
  hf_log "exporting the rows of $src to binary COPY files"
  # one psql for the export, one for the load: a psql start is not free on a
  # loaded machine
  echo 'BEGIN;' >"$dir/copy.sql"
  : >"$dir/export.sql"
  while IFS='|' read -r t cols; do
    echo "\\copy (SELECT $cols FROM hemoflow.$t ORDER BY province_code, event_date) TO '$dir/$t.bin' WITH (FORMAT binary)" >>"$dir/export.sql"
    echo "\\copy hemoflow.$t ($cols) FROM '$dir/$t.bin' WITH (FORMAT binary)" >>"$dir/copy.sql"
  done < <(sql "$src" "SELECT f.table_name, string_agg(quote_ident(c.column_name), ', ' ORDER BY c.ordinal_position) FROM hemoflow.hf_fact_tables f JOIN information_schema.columns c ON c.table_schema = 'hemoflow' AND c.table_name = f.table_name AND c.column_name <> 'loaded_at' GROUP BY f.table_name ORDER BY f.table_name")
  echo 'COMMIT;' >>"$dir/copy.sql"
  psql "$(dsn "$src")" -XqAt -v ON_ERROR_STOP=1 -f "$dir/export.sql" >"$dir/export.out" 2>&1 \
    || hf_die "export failed: $(tail -5 "$dir/export.out")"
  want=$(total_rows "$src")
  new_db "$name"; DB_COPY=$NEWDB
  quiesce "$DB_COPY"
  hf_log "plain binary COPY into $DB_COPY"
  t0=$(date +%s.%N)
  psql "$(dsn "$DB_COPY")" -XqAt -v ON_ERROR_STOP=1 -f "$dir/copy.sql" >"$dir/copy.out" 2>&1 \
    || hf_die "COPY failed: $(tail -5 "$dir/copy.out")"
  t1=$(date +%s.%N)
  B_S=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
  B_ROWS=$(total_rows "$DB_COPY")
  [[ $B_ROWS == "$want" ]] || hf_die "COPY loaded $B_ROWS rows, expected $want"
  BIN_BYTES=$(cat "$dir"/*.bin | wc -c)
  rm -f "$dir"/*.bin
  hf_log "  $B_ROWS rows in $B_S s"
}
