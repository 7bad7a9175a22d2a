#!/usr/bin/env bash
# Issue 12 part 4: valgrind memcheck over a publish run and a consume -> load
# cycle against the real Kafka and PostgreSQL (docs/security.md). Registered
# for the plain build only (valgrind cannot run an ASan binary); CTest test
# integration.valgrind.
#   1. publish: a station CSV export (DonationCollected, from simulate's
#      --dry-run exports) through `hemoflow publish`;
#   2. simulate: 2 000 events of every type with faults, through the station
#      path (`hemoflow simulate`, the other publish front end);
#   3. consume: everything above loaded by `hemoflow consume --idle-exit`,
#      then reconciled exactly against simulate's report and publish's count.
# Each run: --leak-check=full, definite and indirect leaks and every invalid
# access are errors (--error-exitcode); suppressions only for third-party
# libraries' one-time allocations (tests/integration/valgrind.supp, each
# justified there).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v valgrind >/dev/null || t_fail "valgrind not installed (deploy/install-deps.sh installs it)"
t_setup_pipeline vg 2
VG=(valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --error-exitcode=99 --track-origins=no
    --num-callers=30 --suppressions="$HF_SOURCE_DIR/tests/integration/valgrind.supp")
# vg NAME ARGS...: hemoflow ARGS under memcheck; fails the test on any error
vg() {
  local name=$1 rc=0; shift
  "${VG[@]}" --log-file="$T_TMP/vg-$name.log" "$HF_BIN" "$@" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" || rc=$?
  if ((rc == 99)) || ! grep -q "ERROR SUMMARY: 0 errors" "$T_TMP/vg-$name.log"; then
    grep -v "^==[0-9]*== *$" "$T_TMP/vg-$name.log" | tail -80 >&2
    t_fail "valgrind found errors in hemoflow $name (exit $rc)"
  fi
  echo "$rc"
}

"$HF_BIN" simulate --end-date 2026-11-20 --days 30 --count 1500 --seed 41 --dry-run \
  -o "$T_TMP/raw" >"$T_TMP/dry.out" 2>&1 || t_fail "simulate --dry-run: $(tail -3 "$T_TMP/dry.out")"
rows=$(($(wc -l <"$T_TMP/raw/DonationCollected.csv") - 1))
((rows > 50)) || t_fail "only $rows DonationCollected rows to publish"

rc=$(vg publish publish --type DonationCollected "$T_TMP/raw/DonationCollected.csv")
t_eq "$rc" 0 "publish exit status under valgrind ($(tail -2 "$T_TMP/publish.err"))"
grep -q " accepted=$rows rejected=0 " "$T_TMP/publish.out" || t_fail "publish: $(cat "$T_TMP/publish.out")"

rc=$(vg simulate simulate --end-date 2026-11-20 --days 30 --count 2000 --seed 42 \
  --dup-rate 0.05 --malformed-rate 0.01 --unknown-fp-rate 0.005 --report "$T_TMP/report.json")
t_eq "$rc" 0 "simulate exit status under valgrind ($(tail -2 "$T_TMP/simulate.err"))"

rc=$(vg consume consume --idle-exit 5000)
t_eq "$rc" 0 "consume exit status under valgrind ($(tail -2 "$T_TMP/consume.err"))"
# simulate's DonationCollected plus publish's
sim_dc=$(t_json "$T_TMP/report.json" "r['expected_warehouse_rows']['donation_collected']")
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.donation_collected")" "$((sim_dc + rows))" \
  "donation_collected rows after publish + simulate"
python3 - "$T_TMP/report.json" "$rows" >"$T_TMP/report2.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r['expected_warehouse_rows']['donation_collected'] += int(sys.argv[2])
r['totals']['messages'] += int(sys.argv[2])
json.dump(r, sys.stdout)
PY
t_check_warehouse "$T_TMP/report2.json"
for n in publish simulate consume; do
  grep -h "ERROR SUMMARY\|definitely lost\|indirectly lost" "$T_TMP/vg-$n.log" | sed "s/^==[0-9]*==/$n:/"
done
t_pass "valgrind memcheck: publish, simulate and consume clean"
