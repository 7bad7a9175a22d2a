#!/usr/bin/env bash
# Integration: `hemoflow publish` against the real broker. Publishes the
# DonationCollected and ComponentProduced fixtures (CSV and JSONL) and a file
# with invalid rows, then consumes the topics back and checks that exactly
# the accepted events arrived (by event_id, decoded from the Avro frames)
# and that every rejected row was reported as FILE:LINE: rejected reason=...
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need HF_KAFKA_BOOTSTRAP HF_TEST_WORK HF_SOURCE_DIR HF_FIXTURES
t_need_kcat

prefix="it-publish-$$-$RANDOM."
for t in donation_collected component_produced; do
  t_create_topic "$HF_TEST_WORK" "${prefix}$t" 3
done
t_hmac_key "$T_TMP/key"
ev="$HF_FIXTURES/events"
bad="$HF_FIXTURES/publish/DonationCollected.bad.csv"
pub() { "$HF_BIN" --set "kafka.bootstrap.servers=$HF_KAFKA_BOOTSTRAP" --set "topic.prefix=$prefix" \
  publish --key-file "$T_TMP/key" --spool-dir "$T_TMP/spool" --timeout 60000 "$@"; }

# ids of a topic: kcat %R gives a 4-byte length before each payload
ids_of() {
  timeout 60 kcat -b "$HF_KAFKA_BOOTSTRAP" -C -t "$1" -e -q -f '%R%s' | python3 -c '
import sys, struct
d = sys.stdin.buffer.read(); i = 0
while i + 4 <= len(d):
    n = struct.unpack(">i", d[i:i+4])[0]; i += 4; p = d[i:i+n]; i += n
    assert p[:2] == b"\xc3\x01" and p[10] == 72, "not a single-object frame with a uuid first"
    print(p[11:47].decode())'
}
csv_ids() { python3 -c 'import csv,sys; [print(r["event_id"]) for r in csv.DictReader(open(sys.argv[1]))]' "$1"; }

set +e
pub --type DonationCollected "$ev/DonationCollected.csv" "$ev/DonationCollected.jsonl" "$bad" \
  >"$T_TMP/out1" 2>"$T_TMP/err1"; rc=$?
pub --type component_produced "$ev/ComponentProduced.csv" "$ev/ComponentProduced.jsonl" \
  >"$T_TMP/out2" 2>"$T_TMP/err2"; rc2=$?
set -e
t_eq "$rc" 3 "exit status with rejected rows (stderr: $(tail -3 "$T_TMP/err1"))"
t_eq "$rc2" 0 "exit status for the clean ComponentProduced files ($(tail -3 "$T_TMP/err2"))"
grep -q 'read=23 accepted=17 rejected=6 delivered=17 still_spooled=0' "$T_TMP/out1" \
  || t_fail "summary: $(cat "$T_TMP/out1")"

for want in "3: rejected reason=din_format field=din" \
            "4: rejected reason=province_unknown field=province_code" \
            "5: rejected reason=cell_count" \
            "6: rejected reason=csv_syntax" \
            "8: rejected reason=time_format field=occurred_at" \
            "9: rejected reason=volume_not_allowed field=volume_ml"; do
  grep -qF "$bad:$want" "$T_TMP/err1" || t_fail "missing rejection '$bad:$want' in: $(cat "$T_TMP/err1")"
done
t_eq "$(grep -c 'rejected reason=' "$T_TMP/err1")" 6 "rejection lines"
grep -q '320102199003151239' "$T_TMP/err1" "$T_TMP/err2" && t_fail "a raw ID number reached the log"

# exactly the accepted events arrived
{ csv_ids "$ev/DonationCollected.csv"; printf '%s\n' 0b6f7a80-1b2c-5d3e-8f40-00000000000{1,6,9}; } | sort -u >"$T_TMP/want_dc"
ids_of "${prefix}donation_collected" >"$T_TMP/got_dc"
t_eq "$(wc -l <"$T_TMP/got_dc")" 17 "messages in ${prefix}donation_collected (7 CSV + 7 JSONL + 3)"
sort -u "$T_TMP/got_dc" | diff - "$T_TMP/want_dc" >/dev/null \
  || t_fail "donation_collected event ids differ: $(sort -u "$T_TMP/got_dc" | diff - "$T_TMP/want_dc")"
csv_ids "$ev/ComponentProduced.csv" | sort -u >"$T_TMP/want_cp"
ids_of "${prefix}component_produced" | sort -u >"$T_TMP/got_cp"
diff "$T_TMP/got_cp" "$T_TMP/want_cp" >/dev/null || t_fail "component_produced event ids differ"
# keys are facility ids
timeout 60 kcat -b "$HF_KAFKA_BOOTSTRAP" -C -t "${prefix}component_produced" -e -q -f '%k\n' | sort -u >"$T_TMP/keys"
t_eq "$(tr '\n' ' ' <"$T_TMP/keys")" "32010001 51130001 " "message keys"
grep -rq '320102199003151239' "$T_TMP/spool" && t_fail "a raw ID number reached the spool"

# unknown column: the file is refused, exit 1, nothing sent
printf 'facility_id,nickname\n32010001,x\n' >"$T_TMP/unk.csv"
set +e; pub --type DonationCollected "$T_TMP/unk.csv" >/dev/null 2>"$T_TMP/err3"; rc=$?; set -e
t_eq "$rc" 1 "exit status for an unknown column"
grep -q "unk.csv:1: unknown column 'nickname'" "$T_TMP/err3" || t_fail "unknown column message: $(cat "$T_TMP/err3")"
# bad key file permissions: refused with the mode in the message
chmod 644 "$T_TMP/key"
set +e; pub --type DonationCollected "$ev/DonationCollected.csv" >/dev/null 2>"$T_TMP/err4"; rc=$?; set -e
t_eq "$rc" 1 "exit status for a 0644 key file"
grep -q "mode 0644" "$T_TMP/err4" || t_fail "key file message: $(cat "$T_TMP/err4")"
t_pass "publish delivers exactly the accepted events and reports each rejected row"
