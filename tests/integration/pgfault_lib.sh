# shellcheck shell=bash
# Helpers for the PostgreSQL / disk fault tests (issue 12, part 1), sourced
# after lib.sh: a PostgreSQL instance of the test's own (these tests change
# server settings, pg_hba.conf, tablespaces and crash the server, so they
# never touch the shared one), its admin connection over the Unix socket
# (still open when TCP connections are refused), two-run reports, and
# bounded polls.

PF_DIR=
PF_MOUNTS=()
pf_cleanup() {
  # a consumer left running here is a failed test's: no graceful stop (its
  # commit may be held inside PostgreSQL by the fault, beyond any deadline)
  local p
  for p in "${T_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  t_cleanup
  local m
  if [[ -n $PF_DIR && -f $PF_DIR/pg/data/postmaster.pid ]]; then
    # fast, else immediate (a backend may still wait for a standby)
    "$HF_SOURCE_DIR/deploy/pg.sh" stop "$PF_DIR" >/dev/null 2>&1 \
      || kill -QUIT "$(head -1 "$PF_DIR/pg/data/postmaster.pid")" 2>/dev/null || true
  fi
  for m in "${PF_MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  [[ -n $PF_DIR ]] && rm -rf "$PF_DIR"
  return 0
}
trap pf_cleanup EXIT
trap 'exit 143' TERM INT # so that the mount and the server are cleaned up then too

# pf_own_pg NAME: start a PostgreSQL of this test's own under HF_TEST_WORK and
# point HF_PG_DSN at it (t_setup_pipeline then creates the test database
# there). Sets PF_DIR, PF_PORT, PF_SOCK.
pf_own_pg() {
  t_need HF_TEST_WORK
  PF_DIR="$HF_TEST_WORK/pgfault-$1-$$"
  rm -rf "$PF_DIR"
  mkdir -p "$PF_DIR"
  "$HF_SOURCE_DIR/deploy/pg.sh" start "$PF_DIR" >"$T_TMP/pgstart.out" 2>&1 \
    || t_fail "own PostgreSQL did not start: $(tail -5 "$T_TMP/pgstart.out")"
  PF_PORT=$(sed -n 's/^HF_PG_PORT=//p' "$PF_DIR/pg.env")
  PF_SOCK="$PF_DIR/pg/run"
  export HF_PG_DSN="host=127.0.0.1 port=$PF_PORT dbname=hemoflow user=hemoflow"
  # The faults here kill processes, never the machine: the OS keeps what was
  # written, so fsync only costs time (checkpoints, crash recovery).
  pf_admin postgres "ALTER SYSTEM SET fsync = off" >/dev/null
  pf_admin postgres "ALTER SYSTEM SET full_page_writes = off" >/dev/null
  pf_admin postgres "SELECT pg_reload_conf()" >/dev/null
}

# pf_admin DB SQL: run SQL over the Unix socket (pg_hba `local ... trust`),
# never waiting for a synchronous standby.
pf_admin() {
  PGOPTIONS='-c synchronous_commit=local' \
    psql -h "$PF_SOCK" -p "$PF_PORT" -U hemoflow -d "$1" -XqAt -v ON_ERROR_STOP=1 -c "$2"
}

# pf_poll SECONDS CMD...: run CMD every 0.2 s until it succeeds; fail after
# SECONDS (a generous bound: the machine is shared and slow).
pf_poll() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# pf_offsets_sum: messages hf_offsets covers (over the socket)
pf_offsets_sum() { pf_admin "$T_DB" "SELECT coalesce(sum(next_offset), 0) FROM hemoflow.hf_offsets"; }
pf_offsets_are() { [[ $(pf_offsets_sum) == "$1" ]]; }

# pf_merge_reports OUT A B: simulate's reports of two runs over the same
# topics as one (the keys t_check_warehouse reads, summed).
pf_merge_reports() {
  python3 - "$@" <<'PY'
import json, sys
out, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
m = {"totals": {"messages": a["totals"]["messages"] + b["totals"]["messages"]},
     "expected_warehouse_rows": {}, "expected_quarantine_detail": {}}
for k in ("expected_warehouse_rows", "expected_quarantine_detail"):
    for r in (a, b):
        for key, n in r[k].items():
            m[k][key] = m[k].get(key, 0) + n
json.dump(m, open(out, "w"))
PY
}

# pf_loader_waiting WAIT_EVENT: the pid of the loader's backend when it is
# running COMMIT and waiting on WAIT_EVENT (PgSleep, SyncRep); fails otherwise
pf_loader_waiting() {
  local pid
  pid=$(pf_admin "$T_DB" "SELECT pid FROM pg_stat_activity WHERE application_name = 'hemoflow-loader'
        AND state = 'active' AND query = 'COMMIT' AND wait_event = '$1' LIMIT 1")
  [[ -n $pid ]] && echo "$pid"
}

# pf_wait_loader SECONDS WAIT_EVENT: poll until the loader's backend waits on
# WAIT_EVENT inside COMMIT; sets PF_LOADER_PID (fails after SECONDS)
pf_wait_loader() {
  local deadline=$((SECONDS + $1))
  PF_LOADER_PID=
  until PF_LOADER_PID=$(pf_loader_waiting "$2"); do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# pf_consume LOG: a long-running consumer in the background (stopped with
# SIGTERM by the test); sets PF_CONSUMER
pf_consume() {
  "$HF_BIN" consume >"$T_TMP/consume.out" 2>"$1" &
  PF_CONSUMER=$!
  T_PIDS+=("$PF_CONSUMER")
}

# pf_stop_consumer LOG: SIGTERM, and it must exit 0
pf_stop_consumer() {
  kill -TERM "$PF_CONSUMER"
  wait "$PF_CONSUMER" || t_fail "consume did not exit 0 on SIGTERM: $(tail -5 "$1")"
  T_PIDS=()
}
