#!/usr/bin/env bash
# (Re)write the generated seed files of tests/fuzz/corpus/ from the
# project's fixtures and its own encoder. Files it does not name (the
# reproducers of fixed findings, repro-*) are left alone. Run it when a
# schema version or a fixture is added, then commit the corpus.
# Usage: tests/fuzz/seed.sh            (builds build-fuzz/ first, as run.sh does)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/lib.sh
source deploy/lib.sh
HF_LOG_TAG=fuzz
C=tests/fuzz/corpus
FIX=tests/fixtures
tests/fuzz/run.sh --build-only
mkdir -p "$C"/{frame,decoder,csv,jsonl,validate,config,stats}

# decoder: every fixture row, encoded for every schema version; fastavro's frames
LSAN_OPTIONS=use_unaligned=1 build-fuzz/tests/fuzz/fuzz_make_seeds "$FIX/events" "$C/decoder"
cp "$FIX"/avro/fastavro_*.bin "$C/decoder/"
python3 - "$C/decoder" <<'PY'
import os, struct, sys
out = sys.argv[1]
# synthetic history (tests/fuzz/schemas/UnitMoved.vN): byte 0 picks vN
# (byte % 3 + 1), then a body of all-zero values of that version
for v, n in ((1, 41), (2, 37), (3, 39)):
    open(os.path.join(out, f'synthetic-UnitMoved.v{v}-zeros'), 'wb').write(bytes([v - 1]) + bytes(n))
# weight_kg 72.5 of the first DonorEligibilityAssessed row as NaN and +Inf
b = open(os.path.join(out, 'DonorEligibilityAssessed.v1.1'), 'rb').read()
i = b.find(struct.pack('<d', 72.5))
assert i > 0, 'weight_kg 72.5 not found'
for name, bits in (('nan', struct.pack('<Q', 0x7ff8000000000001)), ('inf', struct.pack('<d', float('inf')))):
    open(os.path.join(out, f'seed-{name}-double'), 'wb').write(b[:i] + bits + b[i + 8:])
PY

# frame: real frames, and the edges of the header
cp "$C/decoder/DonationCollected.v1.1" "$C/decoder/DonationCollected.v2.1" "$C/frame/"
printf '' >"$C/frame/empty"
printf '\xc3' >"$C/frame/magic-half"
printf '\xc3\x01\x00\x00\x00\x00\x00\x00\x00\x00' >"$C/frame/header-only"
printf '\x00\x00\x00\x00\x01\x02' >"$C/frame/confluent-framing"

# csv / jsonl: each station export fixture after its event type line
for f in "$FIX"/events/*.csv "$FIX"/publish/*.csv; do
  t=$(basename "$f" .csv); t=${t%.bad}
  { echo "$t"; cat "$f"; } >"$C/csv/$(basename "$f")"
done
for f in "$FIX"/events/*.jsonl; do
  t=$(basename "$f" .jsonl)
  { echo "$t"; cat "$f"; } >"$C/jsonl/$(basename "$f")"
done
# the same rows written with DonationCollected's older schema version
{ echo DonationCollected.v1; cat "$FIX/events/DonationCollected.csv"; } >"$C/csv/DonationCollected.v1.csv"
{ echo DonationCollected.v1; cat "$FIX/events/DonationCollected.jsonl"; } >"$C/jsonl/DonationCollected.v1.jsonl"

# validate: the input column of every tests/fixtures/validate table
python3 - "$FIX/validate" "$C/validate" <<'PY'
import hashlib, os, re, sys
src, out = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    if not name.endswith('.tsv'):
        continue
    for line in open(os.path.join(src, name), encoding='utf-8'):
        if not line.strip() or line.startswith('#'):
            continue
        cell = line.rstrip('\n').split('\t')[0]
        raw = re.sub(rb'\\x([0-9a-fA-F]{2})', lambda m: bytes([int(m.group(1), 16)]),
                     cell.encode('utf-8'))
        h = hashlib.sha1(raw).hexdigest()[:12]
        with open(os.path.join(out, f'{name[:-4]}-{h}'), 'wb') as f:
            f.write(raw)
PY

# config: the parser's fixtures, and environment-style lines
cp "$FIX"/config/*.conf "$C/config/"
printf 'HEMOFLOW_CONSUME_BATCH_MAX_ROWS=500\nHEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092\nHEMOFLOW_PG_SSLMODE=verify-full\nHEMOFLOW_VALIDATE_WHOLE_BLOOD_ML=200,300,400\n' \
  >"$C/config/environment"
hf_log "seed corpora written under $C: $(find "$C" -type f | wc -l) files"
