#!/usr/bin/env bash
# `hemoflow simulate` at every hour of a day under libfaketime (a running
# clock, the `@` form): with every fault option on it must exit 0 and the
# station must reject none of its records (`totals.rejected` = 0), whatever
# the hour. No services: --offline spools only.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v faketime >/dev/null || t_fail "faketime not installed (deploy/install-deps.sh installs it)"
count=20000
# sanitized builds are ~3x slower; ASan must accept being preloaded after libfaketime
if [[ ${HF_SANITIZED:-0} == 1 ]]; then
  count=6000
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
fi
# faketime reads the time in the process's zone: pin it to UTC
t_hmac_key "$T_TMP/key"
for h in $(seq -w 0 23); do
  rm -rf "$T_TMP/spool"
  set +e
  TZ=UTC faketime -f "@2026-12-02 $h:17:00" "$HF_BIN" -l error simulate --offline -k "$T_TMP/key" \
    -d "$T_TMP/spool" --count "$count" --days 30 --dup-rate 0.03 --late-rate 0.02 \
    --amend-rate 0.01 --retract-rate 0.01 --malformed-rate 0.005 --unknown-fp-rate 0.002 \
    --bad-din-rate 0.002 --old-schema-rate 0.1 --report "$T_TMP/rep.json" \
    >"$T_TMP/out" 2>"$T_TMP/err"
  rc=$?
  set -e
  ((rc == 0)) || t_fail "simulate at $h:17 UTC exited $rc: $(tail -n 3 "$T_TMP/err")"
  t_eq "$(t_json "$T_TMP/rep.json" "r['totals']['rejected']")" 0 "records rejected at $h:17 UTC"
  t_eq "$(t_json "$T_TMP/rep.json" "r['config']['end_date']")" \
    "$( ((10#$h < 16)) && echo 2026-12-02 || echo 2026-12-03)" "default --end-date (UTC+08:00) at $h:17 UTC"
done
t_pass "simulate: $count events with every fault at each of the 24 hours, nothing rejected"
