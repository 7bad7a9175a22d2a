#!/usr/bin/env bash
# The install layout: `cmake --install` puts hemoflow in bin/ and the schemas
# in share/hemoflow/schemas/, and the installed binary finds them relative to
# itself, not in the source checkout it was built from. Proof: the prefix is
# copied elsewhere (the original removed), a schema version the checkout does
# not have is added to the copy only, and `schemas list` run from outside the
# checkout, with a config file that names no folder and no HEMOFLOW_*
# variables, lists one schema more than the checkout holds, all under the copy.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SRC=$T_REPO
BIN=$(cd "$(dirname "$HF_BIN")" && pwd)/$(basename "$HF_BIN")
BUILD=${HF_BUILD_DIR:-$(dirname "$BIN")}
[[ -f $BUILD/CMakeCache.txt ]] || BUILD=$(dirname "$BUILD")
[[ -f $BUILD/CMakeCache.txt ]] || t_fail "no CMake build folder found from HF_BIN=$HF_BIN (set HF_BUILD_DIR)"

cmake --install "$BUILD" --prefix "$T_TMP/prefix" >"$T_TMP/install.out" 2>&1 \
  || t_fail "cmake --install: $(tail -5 "$T_TMP/install.out")"
P=$T_TMP/prefix
[[ -x $P/bin/hemoflow ]] || t_fail "no bin/hemoflow under the prefix"
nsrc=$(ls "$SRC"/schemas/avro/*.avsc | wc -l)
t_eq "$(ls "$P"/share/hemoflow/schemas/avro/*.avsc | wc -l)" "$nsrc" "installed Avro schemas"
t_eq "$(ls "$P"/share/hemoflow/schemas/sql/*.sql | wc -l)" "$(ls "$SRC"/schemas/sql/*.sql | wc -l)" \
  "installed SQL migrations"

# relocate the prefix, and make the copy differ from the checkout
cp -a "$P" "$T_TMP/moved" && rm -rf "$P"
M=$T_TMP/moved
extra=$SRC/tests/fixtures/avro/check_good/DonationCollected.v3.avsc
[[ ! -e $SRC/schemas/avro/DonationCollected.v3.avsc ]] || t_fail "the checkout has DonationCollected.v3 now; pick another extra version"
cp "$extra" "$M/share/hemoflow/schemas/avro/"
mkdir -p "$T_TMP/elsewhere"
printf 'log.level = warn\n' >"$T_TMP/elsewhere/hemoflow.conf"

run() { (cd "$T_TMP/elsewhere" && env -u HF_SOURCE_DIR $(env | awk -F= '/^HEMOFLOW_/{print "-u", $1}') \
  "$M/bin/hemoflow" -c hemoflow.conf "$@"); }
run schemas list >"$T_TMP/list.out" 2>"$T_TMP/list.err" || t_fail "installed schemas list: $(cat "$T_TMP/list.err")"
t_eq "$(grep -cE '\b[0-9a-f]{16}\b' "$T_TMP/list.out")" "$((nsrc + 1))" "schemas listed from the moved prefix"
grep -q "$SRC" "$T_TMP/list.out" && t_fail "schemas list read the source checkout: $(cat "$T_TMP/list.out")"
t_eq "$(grep -cF "$M/share/hemoflow/schemas/avro/" "$T_TMP/list.out")" "$((nsrc + 1))" "listed files under the moved prefix"
run --help-config >"$T_TMP/help.out"
grep -q "warehouse.sql_dir .*default=$M/share/hemoflow/schemas/sql\$" "$T_TMP/help.out" \
  || t_fail "warehouse.sql_dir does not default to the installed migrations: $(grep sql_dir "$T_TMP/help.out")"
t_pass "installed hemoflow uses its own share/hemoflow/schemas"

# a build-tree binary (no share/hemoflow beside it) falls back to the checkout
(cd "$T_TMP/elsewhere" && "$BIN" schemas list) >"$T_TMP/build.out" || t_fail "build-tree schemas list"
t_eq "$(grep -cF "$SRC/schemas/avro/" "$T_TMP/build.out")" "$nsrc" "build-tree binary lists the checkout"
t_pass "build-tree hemoflow falls back to the source checkout"
