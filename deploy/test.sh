#!/usr/bin/env bash
# The whole test suite: install packages, build (plain and ASan+UBSan), start a
# real PostgreSQL 15 and a real Apache Kafka broker on free local ports, run
# every CTest test (unit + integration) in both builds, run the README's main
# command (deploy/quickstart.sh, reduced, in its own work folder) and check
# its warehouse against simulate's report, run every libFuzzer target for a
# short fixed time under ASan + UBSan (tests/fuzz/run.sh), prove the benchmark
# harness (bench/run.sh --quick on the plain build and these services: every
# contender loads its rows and is reconciled; no timing is asserted), stop the
# services, and look for every key and password the tests used in every file
# they wrote (tests/integration/secrets_check.py).
# Exits non-zero if anything failed or a service could not start.
# Usage: deploy/test.sh            (env: HF_SKIP_SANITIZERS=1 to run only the plain build,
#                                        HF_TEST_REGEX=... to pass -R to ctest;
#                                        either skips fuzzing, as does HF_SKIP_FUZZ=1;
#                                        HF_FUZZ_SECONDS=N per fuzz target, default 15)
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HF_REPO"

WORK="$HF_REPO/build/test-work"
"$HF_REPO/deploy/install-deps.sh"

build() { # build DIR CMAKE_ARGS...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  ninja -C "$dir"
}
hf_log "building build/ (RelWithDebInfo, -Werror)"
build build
if [[ ${HF_SKIP_SANITIZERS:-0} != 1 ]]; then
  hf_log "building build-asan/ (ASan + UBSan)"
  build build-asan -DHF_ASAN=ON -DHF_UBSAN=ON
fi

stop_services() {
  "$HF_REPO/deploy/kafka.sh" stop "$WORK" || true
  "$HF_REPO/deploy/pg.sh" stop "$WORK" || true
}
trap stop_services EXIT
rm -rf "$WORK"
"$HF_REPO/deploy/kafka.sh" fetch
"$HF_REPO/deploy/pg.sh" start "$WORK" >/dev/null || hf_die "PostgreSQL did not start"
"$HF_REPO/deploy/kafka.sh" start "$WORK" >/dev/null || hf_die "Kafka did not start"
hf_load_env "$WORK/pg.env"
hf_load_env "$WORK/kafka.env"
export HF_TEST_WORK="$WORK"
PG_VERSION=$(psql "$HF_PG_DSN" -XAtc 'show server_version')
echo "== Services: PostgreSQL $PG_VERSION at $HF_PG_HOST:$HF_PG_PORT"
echo "== Services: Apache Kafka broker version $HF_KAFKA_VERSION (KRaft) at $HF_KAFKA_BOOTSTRAP"

ctest_args=(--output-on-failure --no-tests=error)
[[ -n ${HF_TEST_REGEX:-} ]] && ctest_args+=(-R "$HF_TEST_REGEX")
failed=0
timed() { # timed LABEL CMD...: run, print the duration
  local label=$1 t0=$SECONDS rc=0
  shift
  "$@" || rc=$?
  echo "== $label took $((SECONDS - t0)) s"
  return "$rc"
}
if [[ -z ${HF_TEST_REGEX:-} ]]; then
  echo "== The main command: deploy/quickstart.sh (reduced), checked against simulate's report"
  timed quickstart env HF_BIN="$HF_REPO/build/hemoflow" \
    bash "$HF_REPO/tests/integration/quickstart_check.sh" "$WORK" || failed=1
fi
echo "== Test suite: plain build"
timed "plain build suite" ctest --test-dir build "${ctest_args[@]}" || failed=1
if [[ ${HF_SKIP_SANITIZERS:-0} != 1 ]]; then
  echo "== Test suite: ASan + UBSan build"
  HF_SANITIZED=1 timed "ASan + UBSan suite" ctest --test-dir build-asan "${ctest_args[@]}" || failed=1
fi
if [[ -z ${HF_TEST_REGEX:-} && ${HF_SKIP_SANITIZERS:-0} != 1 && ${HF_SKIP_FUZZ:-0} != 1 ]]; then
  echo "== Fuzzing: every libFuzzer target, ${HF_FUZZ_SECONDS:-15} s each (tests/fuzz/run.sh)"
  timed "fuzzing (build + run)" "$HF_REPO/tests/fuzz/run.sh" || failed=1
fi
if [[ -z ${HF_TEST_REGEX:-} ]]; then
  # last: it turns on track_commit_timestamp (a PostgreSQL restart)
  echo "== The benchmark harness: bench/run.sh --quick (plain build, the suite's services)"
  timed "bench/run.sh --quick" env HF_BENCH_BUILD="$HF_REPO/build" HF_BENCH_WORK="$WORK" HFB_NO_DROP=1 \
    bash "$HF_REPO/bench/run.sh" --quick || failed=1
fi
# Secrets never in logs: every key and password the suite used, looked for
# in every file it wrote (services stopped first, so their logs are complete)
echo "== Secrets in logs: every file under $WORK and the CTest logs"
stop_services
timed "secrets check" timeout 900 python3 "$HF_REPO/tests/integration/secrets_check.py" \
  $( [[ -n ${HF_TEST_REGEX:-} ]] && echo --allow-none ) "$WORK" \
  "$HF_REPO"/build/Testing/Temporary/*.log \
  $( [[ ${HF_SKIP_SANITIZERS:-0} != 1 ]] && echo "$HF_REPO"/build-asan/Testing/Temporary/*.log ) \
  || failed=1
if ((failed)); then
  echo "== FAILED: see the test output above"
  exit 1
fi
echo "== All tests passed (Kafka $HF_KAFKA_VERSION, PostgreSQL $PG_VERSION)"
