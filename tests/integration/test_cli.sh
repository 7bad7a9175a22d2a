#!/usr/bin/env bash
# The command line: --help is true for every listed command, usage errors
# exit 2, config errors name the key, `schemas list/check` exit codes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FIX=${HF_FIXTURES:?}

rc_of() { set +e; "$@" >"$T_TMP/out" 2>"$T_TMP/err"; local rc=$?; set -e; echo "$rc"; }

t_eq "$(rc_of "$HF_BIN" --help)" 0 "hemoflow --help"
grep -q '^Commands:' "$T_TMP/out" || t_fail "--help lists no commands"
# every listed command has its own --help that exits 0 and starts with Usage
for cmd in $(awk '/^Commands:/{f=1;next} f&&/^$/{exit} f{print $1}' "$T_TMP/out"); do
  t_eq "$(rc_of "$HF_BIN" "$cmd" --help)" 0 "hemoflow $cmd --help"
  grep -q "^Usage: hemoflow $cmd" "$T_TMP/out" || t_fail "$cmd --help does not start with its usage"
  t_eq "$(rc_of "$HF_BIN" "$cmd" --no-such-option)" 2 "hemoflow $cmd --no-such-option"
done
t_eq "$(rc_of "$HF_BIN")" 2 "no command"
t_eq "$(rc_of "$HF_BIN" frobnicate)" 2 "unknown command"
grep -q "unknown command 'frobnicate'" "$T_TMP/err" || t_fail "unknown command not named"
t_eq "$(rc_of "$HF_BIN" --version)" 0 "--version"
# the libraries it runs with: librdkafka >= 2.2 (fetch.queue.backoff.ms), libpq
"$HF_BIN" --version | grep -Eq '^hemoflow [0-9.]+ \(librdkafka 2\.([2-9]|[1-9][0-9])\.[0-9]+, libpq [0-9]+\)$' \
  || t_fail "--version: $("$HF_BIN" --version)"

# configuration errors: exit 2 and name the key (file:line / env var)
t_eq "$(rc_of "$HF_BIN" -c "$FIX/config/bad_key.conf" schemas list)" 2 "bad config key"
grep -q 'bad_key.conf:3.*consume.batch_max_rowz' "$T_TMP/err" || t_fail "bad key not named: $(cat "$T_TMP/err")"
t_eq "$(HEMOFLOW_CONSUME_BATCH_MAX_ROWS=lots rc_of "$HF_BIN" schemas list)" 2 "bad env value"
grep -q 'HEMOFLOW_CONSUME_BATCH_MAX_ROWS' "$T_TMP/err" || t_fail "env var not named"
t_eq "$(rc_of "$HF_BIN" -s nope=1 schemas list)" 2 "bad --set key"
t_eq "$(rc_of "$HF_BIN" --help-config)" 0 "--help-config"
grep -q 'consume.batch_max_rows' "$T_TMP/out" || t_fail "--help-config lacks keys"

# schemas list: every file in schemas/avro with a 16-hex-digit fingerprint
t_eq "$(rc_of "$HF_BIN" schemas list)" 0 "schemas list"
nfiles=$(ls "$HF_SOURCE_DIR"/schemas/avro/*.avsc | wc -l)
t_eq "$(grep -cE '\b[0-9a-f]{16}\b' "$T_TMP/out")" "$nfiles" "schemas listed"
# schemas check: compatible -> 0, incompatible -> 3, unreadable -> 1
t_eq "$(rc_of "$HF_BIN" schemas check "$FIX/avro/check_good/DonationCollected.v3.avsc")" 0 "schemas check good"
for bad in check_enum_removed check_no_default; do
  t_eq "$(rc_of "$HF_BIN" schemas check "$FIX/avro/$bad/DonationCollected.v3.avsc")" 3 "schemas check $bad"
done
t_eq "$(rc_of "$HF_BIN" schemas check /nonexistent/DonationCollected.v9.avsc)" 1 "schemas check missing file"
echo "PASS: command line"

# docs/configuration.md documents every key --help-config lists (README stays true)
"$HF_BIN" --help-config | awk '/^  [a-z]/{print $1}' | grep -v '<' >"$T_TMP/keys"
(( $(wc -l <"$T_TMP/keys") > 20 )) || t_fail "too few keys listed"
while read -r key; do
  grep -q -- "  $key " "$HF_SOURCE_DIR/docs/configuration.md" || t_fail "docs/configuration.md lacks $key"
done <"$T_TMP/keys"
t_pass "docs/configuration.md lists every key"
