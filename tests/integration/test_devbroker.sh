#!/usr/bin/env bash
# Integration: `hemoflow devbroker` serves a separate producer (kcat -P) and a
# consumer-group consumer (kcat -G), on a fixed port and on its own port.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t_need_kcat

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$HF_BIN" devbroker --port "$port" --partitions 4 >"$T_TMP/out" 2>"$T_TMP/err" &
T_PIDS+=($!)
t_wait_for grep -q '^bootstrap=' "$T_TMP/out" || t_fail "devbroker printed no bootstrap address: $(cat "$T_TMP/err")"
t_eq "$(cat "$T_TMP/out")" "bootstrap=127.0.0.1:$port" "bootstrap line"

# the ten hemoflow topics exist with 4 partitions each
kcat -b "127.0.0.1:$port" -L -J >"$T_TMP/md.json" || t_fail "metadata request failed"
ntopics=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(sum(1 for t in m["topics"] if t["topic"].startswith("hemoflow.") and len(t["partitions"])==4))' "$T_TMP/md.json")
t_eq "$ntopics" 10 "hemoflow.* topics with 4 partitions"

seq 1 50 | sed 's/^/event-/' | kcat -P -b "127.0.0.1:$port" -t hemoflow.unit_moved -K: 2>"$T_TMP/perr" \
  || t_fail "kcat producer failed: $(cat "$T_TMP/perr")"
timeout 60 kcat -C -b "127.0.0.1:$port" -G it-devbroker -X auto.offset.reset=earliest \
  -c 50 -f '%s\n' hemoflow.unit_moved >"$T_TMP/got" 2>"$T_TMP/cerr" \
  || t_fail "kcat consumer group did not receive 50 messages: $(tail -3 "$T_TMP/cerr")"
t_eq "$(sort "$T_TMP/got" | uniq | wc -l)" 50 "distinct messages consumed by the group"
grep -q 'assigned:' "$T_TMP/cerr" || t_fail "kcat did not report a group assignment"

# a second member of the same group, after commit, sees nothing new: offsets were committed
timeout 20 kcat -C -b "127.0.0.1:$port" -G it-devbroker -X auto.offset.reset=earliest \
  -e -f '%s\n' hemoflow.unit_moved >"$T_TMP/again" 2>/dev/null || true
t_eq "$(wc -l <"$T_TMP/again")" 0 "messages re-read after the group committed"

# SIGTERM stops it cleanly
kill -TERM "${T_PIDS[0]}"
wait "${T_PIDS[0]}" || t_fail "devbroker exited non-zero after SIGTERM"
T_PIDS=()
grep -q 'event=devbroker.stop' "$T_TMP/err" || t_fail "no stop log line"

# usage errors exit 2
set +e
"$HF_BIN" devbroker --partitions 0 2>/dev/null; rc=$?
set -e
t_eq "$rc" 2 "exit status for --partitions 0"
t_pass "devbroker serves kcat producer and consumer group"
