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

# build, services, helpers: shared with bench/run.sh
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
hfb_setup

# ---- 1. events into Kafka first (not timed) -----------------------------------
simulate_into plain
((SKIP_DUPS)) || simulate_into dups --dup-rate 0.05

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
copy_limit "$DB_LOAD" copy

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
