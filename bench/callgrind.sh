#!/usr/bin/env bash
# bench/callgrind.sh — where hemoflow's consume CPU goes, in instructions per
# event: a fixed simulated topic set (same seed every time) consumed by ONE
# `hemoflow consume --idle-exit` under valgrind --tool=callgrind into a fresh
# warehouse, then the instruction counts (Ir) per consumed message of the
# whole process and of hemoflow's own stages. Instruction counts do not
# depend on the machine's load, so two trees can be compared on a busy
# machine where timings cannot (docs/benchmarks.md, "Instructions per event").
# Services, warehouses and topics come from bench/lib.sh.
#
# Usage: bench/callgrind.sh [--count N] [--dup-rate R] [--keep]
# Env: HF_BENCH_BUILD (default build-bench/, Release), HF_BENCH_WORK.
# Writes the callgrind file and the per-event table to
# $HF_BENCH_WORK/callgrind-<run id>.{out,txt}. Exit 0 measured, 1 broken, 2 usage.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNT=50000
DUP=""
KEEP=0
DAYS=30
END_DATE=2026-11-20
SEED=1
BUILD=${HF_BENCH_BUILD:-$REPO/build-bench}
WORK=${HF_BENCH_WORK:-$REPO/build/bench-work}
while (($#)); do
  case $1 in
    -n|--count) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "callgrind.sh: $1 expects a positive integer" >&2; exit 2; }
                COUNT=$2; shift 2 ;;
    --dup-rate) DUP=${2:-}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "callgrind.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
hfb_setup
if [[ -n $DUP ]]; then simulate_into prof --dup-rate "$DUP"; else simulate_into prof; fi
new_db prof; DB=$NEWDB
export HEMOFLOW_TOPIC_PREFIX="bench-$RUN_ID-prof." HEMOFLOW_PG_DBNAME=$DB
export HEMOFLOW_CONSUME_GROUP_ID="bench-$RUN_ID-prof"
OUT="$WORK/callgrind-$RUN_ID"
hf_log "hemoflow consume under callgrind ($COUNT events; slow)"
valgrind --tool=callgrind --callgrind-out-file="$OUT.out" --dump-instr=no \
  "$HF" consume --idle-exit 3000 >"$RUN/consume.out" 2>"$RUN/consume.err" \
  || hf_die "consume failed: $(grep -v '^==' "$RUN/consume.err" | tail -3)"
want=$(json "$RUN/report.prof.json" "sum(r['expected_warehouse_rows'].values())")
got=$(total_rows "$DB")
[[ $got == "$want" ]] || hf_die "the warehouse holds $got rows, simulate reported $want"
msgs=$(sed -n 's/.*consumed=\([0-9]*\).*/\1/p' "$RUN/consume.out")

callgrind_annotate --inclusive=yes --threshold=100 "$OUT.out" >"$RUN/annotate.txt" 2>/dev/null
python3 - "$RUN/annotate.txt" "$msgs" "$(git -C "$REPO" describe --always --dirty)" >"$OUT.txt" <<'EOF'
import re, sys
path, msgs, rev = sys.argv[1], int(sys.argv[2]), sys.argv[3]
incl, total = {}, None
for line in open(path):
    m = re.match(r'\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s*$', line)
    if not m:
        continue
    n = int(m.group(1).replace(',', ''))
    name = m.group(2)
    if name.startswith('PROGRAM TOTALS'):
        total = n; continue
    fn = name.split(':', 1)[1] if ':' in name else name
    fn = fn.split(' ')[0]
    incl[fn] = max(incl.get(fn, 0), n)
rows = [
    ('whole process (every thread, start-up included)', total),
    ('per message, main thread: the five below', sum(incl.get(f, 0) for f in ('hf_decoder_decode', 'hf_normalize', 'hf_hashset_insert', 'hf_wh_batch_add_event', 'hf__hook_take'))),
    ('  hf__hook_take (metrics, lag window)', incl.get('hf__hook_take')),
    ('  hf_decoder_decode (Avro -> generic value)', incl.get('hf_decoder_decode')),
    ('  hf_normalize (validate, key, event date)', incl.get('hf_normalize')),
    ('  hf_hashset_insert (in-batch dedupe)', incl.get('hf_hashset_insert')),
    ('  hf_wh_batch_add_event (row encoding, raw copy)', incl.get('hf_wh_batch_add_event')),
    ('    hf__wh_encode_row (binary COPY row)', incl.get('hf__wh_encode_row')),
    ('hf_wh_batch_commit: loader thread (sort, probe, COPY, commit; libpq incl.)', incl.get('hf_wh_batch_commit')),
    ('  hf__load_range (COPY of one table range)', incl.get('hf__load_range')),
    ('  hf__seen_remember (seen filter)', incl.get('hf__seen_remember')),
    ('librdkafka: rd_kafka_consumer_poll (main thread)', incl.get('rd_kafka_consumer_poll')),
    ('libzstd: ZSTD_decompressStream/Dctx (broker thread)', max(incl.get('ZSTD_decompressDCtx', 0), incl.get('ZSTD_decompressStream', 0), incl.get('ZSTD_decompress', 0)) or None),
]
print(f"hemoflow {rev}: {msgs} messages consumed under callgrind\n")
print("| what | Ir per message |")
print("|---|---:|")
for name, n in rows:
    print(f"| {name} | {n / msgs:,.0f} |" if n else f"| {name} | (not seen) |")
EOF
cat "$OUT.txt"
hf_log "callgrind file: $OUT.out (callgrind_annotate --inclusive=yes $OUT.out)"
