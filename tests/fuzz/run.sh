#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan + UBSan, in build-fuzz/) and run
# each one for a fixed time on its committed corpus (tests/fuzz/corpus/<t>/)
# plus what it finds. Any crash, sanitizer report, leak, per-input timeout or
# out-of-memory fails the run; the reproducer's path, its first bytes and the
# command that replays it are printed. The committed corpus is only read:
# new inputs go to the work folder.
# Usage: tests/fuzz/run.sh [--build-only] [TARGET...]   (default: every target)
#   HF_FUZZ_SECONDS  seconds per target (default 15)
#   HF_FUZZ_JOBS     targets run side by side (default 2)
#   HF_FUZZ_WORK     work folder (default build-fuzz/work; emptied first)
#   HF_FUZZ_BUILD    build folder (default build-fuzz)
# Exit status: 0 when every target ran clean, 1 otherwise.
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib.sh"
HF_LOG_TAG=fuzz
cd "$HF_REPO"

ALL=(frame decoder csv jsonl validate config stats)
declare -A MAX_LEN=([frame]=4096 [decoder]=8192 [csv]=8192 [jsonl]=8192 [validate]=512 [config]=4096 [stats]=16384)
BUILD=${HF_FUZZ_BUILD:-$HF_REPO/build-fuzz}
SECONDS_EACH=${HF_FUZZ_SECONDS:-15}
JOBS=${HF_FUZZ_JOBS:-2}
WORK=${HF_FUZZ_WORK:-$BUILD/work}

build_only=0
targets=()
for a in "$@"; do
  case $a in
    --build-only) build_only=1 ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) [[ -v MAX_LEN[$a] ]] || hf_die "unknown target '$a' (targets: ${ALL[*]})"; targets+=("$a") ;;
  esac
done
((${#targets[@]})) || targets=("${ALL[@]}")

command -v clang >/dev/null || hf_die "clang not found: run deploy/install-deps.sh"
hf_log "building the fuzz targets in $BUILD (clang, libFuzzer, ASan + UBSan)"
CC=clang cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHF_FUZZ=ON \
  -DHF_TESTS=OFF >/dev/null || hf_die "cmake (HF_FUZZ=ON) failed"
ninja -C "$BUILD" fuzz fuzz_make_seeds >/dev/null || {
  ninja -C "$BUILD" fuzz fuzz_make_seeds | tail -40
  hf_die "building the fuzz targets failed"
}
((build_only)) && exit 0

# Avro C lays generic values out packed, so a record field after an int
# holds its pointers at addresses not a multiple of 8; LeakSanitizer then
# misses them and reports the decoder's reused values as leaked unless it
# also follows unaligned pointers.
export LSAN_OPTIONS=use_unaligned=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export HF_SOURCE_DIR="$HF_REPO"
rm -rf "$WORK"
mkdir -p "$WORK"

run_one() { # run_one TARGET: fuzz it; 0 when clean
  local t=$1 dir="$WORK/$t"
  mkdir -p "$dir/new" "$dir/artifacts"
  "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len="${MAX_LEN[$t]}" \
    -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "$dir/new" "$HF_REPO/tests/fuzz/corpus/$t" >"$dir/log" 2>&1
}

report() { # report TARGET RC
  local t=$1 rc=$2 dir="$WORK/$t"
  local runs cov
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$dir/log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 | grep -o '[0-9]*$' || echo '?')
  if ((rc == 0)) && ! compgen -G "$dir/artifacts/*" >/dev/null; then
    echo "fuzz_$t: ok ($runs inputs in ${SECONDS_EACH} s, coverage $cov, corpus $(ls "$HF_REPO/tests/fuzz/corpus/$t" | wc -l) + $(ls "$dir/new" | wc -l) new)"
    return 0
  fi
  echo "fuzz_$t: FAILED (exit $rc); the end of its log ($dir/log):"
  grep -v '^#[0-9]' "$dir/log" | tail -60 | sed 's/^/    /'
  local f
  for f in "$dir"/artifacts/*; do
    [[ -e $f ]] || continue
    echo "  reproducer: $f ($(stat -c %s "$f") bytes), first bytes:"
    od -An -tx1 -N 64 "$f" | sed 's/^/   /'
    echo "  replay: LSAN_OPTIONS=use_unaligned=1 $BUILD/tests/fuzz/fuzz_$t $f"
    echo "  once fixed, add it to the corpus: cp $f tests/fuzz/corpus/$t/repro-<what>"
  done
  return 1
}

hf_log "running ${targets[*]}: ${SECONDS_EACH} s each, ${JOBS} at a time"
passed=0 failed=0
declare -A PID=()
i=0
while ((i < ${#targets[@]})); do
  batch=("${targets[@]:i:JOBS}")
  for t in "${batch[@]}"; do
    run_one "$t" &
    PID[$t]=$!
  done
  for t in "${batch[@]}"; do
    rc=0
    wait "${PID[$t]}" || rc=$?
    if report "$t" "$rc"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done
  i=$((i + JOBS))
done
# (not "N passed, N failed": deploy/test.sh's closing count is ctest's)
echo "fuzz: $passed of $((passed + failed)) targets clean"
((failed == 0))
