#!/usr/bin/env bash
# Issue 12 part 2, hostile input, through the real broker into a real
# warehouse:
#  - every message of tests/fixtures/hostile/cases.tsv (truncated frames,
#    bad lengths, varints, enum/union indexes, huge strings and arrays,
#    invalid UTF-8, NUL bytes, edge dates, metacharacters, keys that disagree
#    with the facility, empty messages...) is produced raw with kcat, one
#    partition per topic, so that each case's offset is known;
#  - the hostile CSV and JSONL station exports of tests/fixtures/publish go
#    through `hemoflow publish`: each bad line is rejected with its reason,
#    the others are published, exit status 3;
#  - one `hemoflow consume` run takes all of it without stopping, and then,
#    exactly: hf_quarantine holds one row per hostile message, at its offset,
#    with its reason, and nothing else; the fact tables hold exactly the valid
#    events (metacharacters stored verbatim); the summary adds up; hf_offsets
#    covers every message; hemoflow_records_quarantined_total counts each
#    reason as hf_quarantine does.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need_kcat
export HEMOFLOW_CONSUME_MAX_MESSAGE_BYTES=65536 # cases.tsv's oversize case is one byte more
export HEMOFLOW_PUBLISH_MAX_RECORD_BYTES=4096   # the CSV's line_too_long row is longer
# no partitions ahead: the cases are dated October 2026, their partitions are made on
# demand, and migrate is four times faster
export HEMOFLOW_WAREHOUSE_PARTITIONS_AHEAD=0
t_setup_pipeline hostile 1
F="$HF_SOURCE_DIR/tests/fixtures"

# ---- the raw messages: one file each, and what the consumer must do with it
mkdir -p "$T_TMP/msg"
python3 - "$F/hostile/cases.tsv" "$T_TMP/msg" "$T_PREFIX" >"$T_TMP/manifest.tsv" <<'PY' \
  || t_fail "cannot read cases.tsv"
import sys
src, out, prefix = sys.argv[1:4]
offsets = {}
for line in open(src):
    if line.startswith('#') or not line.strip():
        continue
    name, et, key, value, reason = line.rstrip('\n').split('\t')
    data = b''
    if value not in ('<null>', '<empty>'):
        for part in value.split('+'):
            hexpart, _, times = part.partition('*')
            data += bytes.fromhex(hexpart) * int(times or 1)
    topic = prefix + et
    off = offsets.get(topic, 0)
    offsets[topic] = off + 1
    path = '%s/%03d.bin' % (out, len(offsets) * 1000 + off)
    open(path, 'wb').write(data)
    # a valid frame's event_id is its first field: 36 bytes after 0x48
    eid = data[11:47].decode() if reason in ('loaded', 'duplicate') and data[10] == 0x48 else '-'
    print('\t'.join([name, topic, str(off), key, 'null' if value == '<null>' else 'bytes',
                     path, reason, eid]))
PY
n_cases=$(wc -l <"$T_TMP/manifest.tsv")
((n_cases >= 40)) || t_fail "only $n_cases cases"
# kcat sends each file as one message, in order; consecutive cases with the
# same topic and key go in one kcat run. kcat skips empty files, so an empty
# value is sent from stdin (-K: "key:" line; -Z makes it a NULL value).
kcat_send() { # kcat_send TOPIC KEY ARGS...
  local topic=$1 key=$2; shift 2
  local args=(-P -b "$HF_KAFKA_BOOTSTRAP" -t "$topic" -p 0 -X enable.idempotence=true)
  [[ $key == '<none>' ]] || args+=(-k "$key")
  kcat "${args[@]}" "$@" 2>"$T_TMP/kcat.err" || t_fail "kcat could not produce to $topic: $(cat "$T_TMP/kcat.err")"
}
group=() gtopic= gkey=
flush_group() { ((${#group[@]} == 0)) || kcat_send "$gtopic" "$gkey" "${group[@]}"; group=(); }
while IFS=$'\t' read -r name topic off key kind path reason eid; do
  if [[ ! -s $path ]]; then
    flush_group
    [[ $key != '<none>' && $key != *:* ]] || t_fail "case $name: an empty value needs a key without ':'"
    printf '%s:\n' "$key" | kcat -P -b "$HF_KAFKA_BOOTSTRAP" -t "$topic" -p 0 -K: \
      $([[ $kind == null ]] && echo -Z) 2>"$T_TMP/kcat.err" || t_fail "kcat: case $name: $(cat "$T_TMP/kcat.err")"
    continue
  fi
  [[ $topic == "$gtopic" && $key == "$gkey" ]] || flush_group
  gtopic=$topic gkey=$key
  group+=("$path")
done <"$T_TMP/manifest.tsv"
flush_group
# each case is at the offset the manifest gives it: the log end of every
# topic is its number of cases (kcat exits only once its message is acked)
while read -r topic want; do
  end=$(kcat -b "$HF_KAFKA_BOOTSTRAP" -Q -t "$topic:0:-1" 2>/dev/null | sed -n 's/.*\[0\] offset \([0-9]*\).*/\1/p')
  t_eq "$end" "$want" "messages produced to $topic"
done < <(cut -f2 "$T_TMP/manifest.tsv" | sort | uniq -c | awk '{print $2, $1}')

# ---- the station side: the hostile exports through hemoflow publish
n_pub=0
for type in DonationCollected DonorEligibilityAssessed; do
  rc=0
  "$HF_BIN" publish --type "$type" "$F/publish/$type".hostile.{csv,jsonl} \
    >"$T_TMP/pub.out" 2>"$T_TMP/pub.err" || rc=$?
  t_eq "$rc" 3 "$type: publish exit status with rejected rows ($(tail -2 "$T_TMP/pub.err"))"
  accepted=0 rejected=0
  for fmt in csv jsonl; do
    file="$F/publish/$type.hostile.$fmt"
    while IFS=$'\t' read -r line outcome; do
      [[ $line == \#* ]] && continue
      got=$(grep -a "^$file:$line: rejected " "$T_TMP/pub.err" || true)
      if [[ $outcome == accepted ]]; then
        [[ -z $got ]] || t_fail "$type $fmt line $line was rejected: $got"
        accepted=$((accepted + 1))
      else
        [[ $got == *" $outcome"* ]] || t_fail "$type $fmt line $line: expected '$outcome', got '${got:-no rejection}'"
        rejected=$((rejected + 1))
      fi
    done <"$file.expect"
  done
  t_eq "$(grep -ac ': rejected reason=' "$T_TMP/pub.err")" "$rejected" "$type: rejection lines"
  grep -q "^publish: read=$((accepted + rejected)) accepted=$accepted rejected=$rejected delivered=$accepted still_spooled=0\$" \
    "$T_TMP/pub.out" || t_fail "$type: publish summary: $(cat "$T_TMP/pub.out")"
  n_pub=$((n_pub + accepted))
  # raw ID numbers and the key never reach stderr (rejections show no raw IDs)
  ! grep -aq '320102199003151239' "$T_TMP"/pub.err || t_fail "a raw ID number is in publish's output"
done

# ---- one consumer run takes all of it, and its metrics name each reason
n_quar=$(awk -F'\t' '$7 != "loaded" && $7 != "duplicate"' "$T_TMP/manifest.tsv" | wc -l)
n_dup=$(awk -F'\t' '$7 == "duplicate"' "$T_TMP/manifest.tsv" | wc -l)
n_load=$(($(awk -F'\t' '$7 == "loaded"' "$T_TMP/manifest.tsv" | wc -l) + n_pub))
n_msgs=$((n_cases + n_pub))
command -v curl >/dev/null || t_fail "curl not installed (deploy/install-deps.sh installs it)"
"$HF_BIN" --set http.port=0 --set log.file="$T_TMP/consume.err" consume \
  >"$T_TMP/consume.out" 2>"$T_TMP/consume.stderr" &
CPID=$!
T_PIDS+=("$CPID")
t_wait_for grep -q 'event=http.listening' "$T_TMP/consume.err" \
  || t_fail "no http.listening line: $(tail -5 "$T_TMP/consume.err" "$T_TMP/consume.stderr")"
URL="http://127.0.0.1:$(sed -n 's/.*event=http.listening .* port=\([0-9]*\).*/\1/p' "$T_TMP/consume.err" | head -1)"
drained() { [[ $(curl -s "$URL/metrics" | sed -n 's/^hemoflow_messages_consumed_total \([0-9]*\)$/\1/p') == "$n_msgs" ]]; }
for _ in $(seq 1 600); do drained && break; sleep 0.2; done # up to 2 minutes
drained || t_fail "the consumer did not take all $n_msgs messages: $(curl -s "$URL/metrics" | grep '^hemoflow_messages')"
curl -sf "$URL/metrics" >"$T_TMP/metrics.txt" || t_fail "GET /metrics"
kill -TERM "$CPID"
rc=0
wait "$CPID" || rc=$?
t_eq "$rc" 0 "consume exit status after SIGTERM ($(tail -3 "$T_TMP/consume.stderr"))"
# hemoflow_records_quarantined_total{reason} per reason = hf_quarantine per reason
python3 - "$T_TMP/metrics.txt" <<'PY' | sort >"$T_TMP/qmetric.got"
import re, sys, collections
n = collections.Counter()
for line in open(sys.argv[1]):
    m = re.match(r'hemoflow_records_quarantined_total\{(.*)\} (\S+)$', line)
    if m:
        reason = re.search(r'reason="([^"]*)"', m.group(1)).group(1)
        n[reason] += int(float(m.group(2)))
for r in sorted(n):
    print(r, n[r])
PY
awk -F'\t' '$7 != "loaded" && $7 != "duplicate" {print $7}' "$T_TMP/manifest.tsv" | sort | uniq -c \
  | awk '{print $2, $1}' | sort >"$T_TMP/qmetric.want"
diff "$T_TMP/qmetric.want" "$T_TMP/qmetric.got" >"$T_TMP/qmetric.diff" \
  || t_fail "hemoflow_records_quarantined_total by reason (< expected, > got): $(cat "$T_TMP/qmetric.diff")"
grep -q "^consumed=$n_msgs loaded=$n_load duplicates=$n_dup quarantined=$n_quar " "$T_TMP/consume.out" \
  || t_fail "consume summary: $(cat "$T_TMP/consume.out"), expected consumed=$n_msgs loaded=$n_load duplicates=$n_dup quarantined=$n_quar"

# quarantine: exactly the hostile messages, each at its offset with its reason
awk -F'\t' -v OFS='|' '$7 != "loaded" && $7 != "duplicate" {print $2, $3, $7}' "$T_TMP/manifest.tsv" \
  | sort >"$T_TMP/quar.want"
t_sql "SELECT topic || '|' || kafka_offset || '|' || reason_code FROM hemoflow.hf_quarantine" \
  | sort >"$T_TMP/quar.got"
diff "$T_TMP/quar.want" "$T_TMP/quar.got" >"$T_TMP/quar.diff" \
  || t_fail "hf_quarantine is not exactly the hostile messages (< expected, > got): $(head -20 "$T_TMP/quar.diff")"
# the raw bytes are kept as they came (spot check: the NUL and invalid UTF-8 cases)
for c in nul_byte utf8_invalid_byte; do
  IFS=$'\t' read -r _ topic off _ _ path _ _ < <(awk -F'\t' -v c=$c '$1 == c' "$T_TMP/manifest.tsv")
  t_eq "$(t_sql "SELECT encode(raw, 'hex') FROM hemoflow.hf_quarantine WHERE topic = '$topic' AND kafka_offset = $off")" \
    "$(od -An -v -tx1 "$path" | tr -d ' \n')" "raw bytes kept for $c"
done
# pg_data rows name the SQLSTATE PostgreSQL would have given (date/time out of range)
t_eq "$(t_sql "SELECT string_agg(DISTINCT sqlstate, ',') FROM hemoflow.hf_quarantine WHERE reason_code = 'pg_data'")" \
  22008 "SQLSTATE of the out-of-range dates"

# the fact tables: exactly the valid events, once each
{ awk -F'\t' '$7 == "loaded" {print $8}' "$T_TMP/manifest.tsv"
  for i in 1 9 11 13 101 108 201 208 301 307; do printf '7c0f0000-0000-4000-8000-%012d\n' "$i"; done; } | sort >"$T_TMP/ids.want"
t_eq "$(wc -l <"$T_TMP/ids.want")" "$n_load" "valid events expected"
FACTS="donation_collected donor_registered adverse_event_reported component_produced
  donor_eligibility_assessed inventory_snapshot screening_result_recorded transfusion_administered
  unit_discarded unit_moved"
for t in $FACTS; do t_sql "SELECT event_id FROM hemoflow.$t"; done | sort >"$T_TMP/ids.got"
diff "$T_TMP/ids.want" "$T_TMP/ids.got" >"$T_TMP/ids.diff" \
  || t_fail "fact rows (all ten tables) are not exactly the valid events: $(head -20 "$T_TMP/ids.diff")"

# SQL and shell metacharacters are data: stored byte for byte, nothing ran
meta="x'); DROP TABLE hemoflow.hf_offsets; -- \$(touch /tmp/hf-pwned) \`id\` |&;<>*?\\\"%_"
t_eq "$(t_sql "SELECT source_system || '#' || facility_id FROM hemoflow.donation_collected WHERE event_id = '5e1f0000-0000-4000-8000-000000000042'")" \
  "$meta#32-\$(id)';--" "metacharacters in a Kafka message"
t_eq "$(t_sql "SELECT source_system FROM hemoflow.donation_collected WHERE event_id = '7c0f0000-0000-4000-8000-000000000009'")" \
  "$meta" "metacharacters in a CSV cell"
case_id() { printf '5e1f0000-0000-4000-8000-%012d' "$1"; }
for check in "transfusion_administered:hospital_id:50" "transfusion_administered:department:50" \
             "unit_moved:from_facility_id:51" "unit_moved:to_facility_id:51" \
             "screening_result_recorded:kit_lot:52" "donor_eligibility_assessed:deferral_reason:53" \
             "component_produced:abo_rhd_source:54" "inventory_snapshot:abo_rhd_source:55"; do
  IFS=: read -r t col n <<<"$check"
  t_eq "$(t_sql "SELECT $col FROM hemoflow.$t WHERE event_id = '$(case_id "$n")'")" "$meta" \
    "metacharacters in $t.$col"
done
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.donation_collected WHERE event_id = '5e1f0000-0000-4000-8000-000000000016' AND length(source_system) = 1024")" \
  1 "a 1024-byte string (the limit) is loaded"
t_eq "$(t_sql "SELECT procedure || ':' || coalesce(volume_ml::text, 'null') FROM hemoflow.donation_collected WHERE event_id = '5e1f0000-0000-4000-8000-000000000043'")" \
  "unknown:null" "procedure unknown is kept without a volume check"
# doubles: none is NaN or infinite; the largest finite one is kept exactly
t_eq "$(t_sql "SELECT count(*) FROM hemoflow.donor_eligibility_assessed WHERE weight_kg IN ('NaN', 'Infinity', '-Infinity')")$(t_sql "SELECT count(*) FROM hemoflow.screening_result_recorded WHERE value IN ('NaN', 'Infinity', '-Infinity')")" \
  00 "no NaN or infinite double in the warehouse"
t_eq "$(t_sql "SELECT weight_kg = 1.7976931348623157e308::float8 FROM hemoflow.donor_eligibility_assessed WHERE event_id = '$(case_id 61)'")" \
  t "the largest finite double (Kafka) is loaded"
t_eq "$(t_sql "SELECT weight_kg = 1.7976931348623157e308::float8 FROM hemoflow.donor_eligibility_assessed WHERE event_id = '7c0f0000-0000-4000-8000-000000000208'")" \
  t "the largest finite double (CSV) is loaded"

# offsets cover every message; each quarantine was logged once, without raw bytes
t_eq "$(t_sql "SELECT coalesce(sum(next_offset), 0) FROM hemoflow.hf_offsets")" "$n_msgs" "offsets stored in hf_offsets"
# (the consumer logs what it quarantines, the loader's encoder what PostgreSQL would refuse)
t_eq "$(grep -cE 'event=(consume.quarantine|warehouse.row_rejected) ' "$T_TMP/consume.err")" "$n_quar" \
  "consume.quarantine and warehouse.row_rejected log lines"
! grep -aq 'hf-pwned' "$T_TMP/consume.err" || t_fail "a message's text reached consume's log"
t_pass "$n_cases raw messages ($n_quar quarantined, each with its reason) and 36 station export lines ($n_pub published): exact"
