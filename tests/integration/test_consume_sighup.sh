#!/usr/bin/env bash
# Issue 9 (part 7): SIGHUP on a running consumer. It reads its config file
# again, applies the reloadable keys (log.level, validate.*, consume.batch_*)
# and names the others as needing a restart, and reopens log.file (after a
# rotation the lines go to the new file); a config that no longer parses is
# refused and the running one kept. Batches loaded after the reload follow
# the new consume.batch_max_rows; every log line stays one key=value line;
# SIGTERM still drains and exits 0.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v curl >/dev/null || t_fail "curl not installed"
t_setup_pipeline sighup 2
CONF="$T_TMP/hemoflow.conf"
LOG="$T_TMP/consume.log"
cat >"$CONF" <<EOF
log.level = info
log.file = $LOG
consume.batch_max_rows = 5000
http.port = 0
EOF
"$HF_BIN" -c "$CONF" consume >"$T_TMP/consume.out" 2>"$T_TMP/consume.err" &
CPID=$!
T_PIDS+=("$CPID")
t_wait_for grep -q 'event=http.listening' "$LOG" || t_fail "no http.listening in log.file: $(tail -3 "$T_TMP/consume.err")"
PORT=$(sed -n 's/.*event=http.listening .* port=\([0-9]*\).*/\1/p' "$LOG" | head -1)
consumed() { curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^hemoflow_messages_consumed_total \([0-9]*\)$/\1/p'; }
wait_consumed() { # wait_consumed N
  local i
  for i in $(seq 1 400); do [[ $(consumed) == "$1" ]] && return 0; sleep 0.2; done
  t_fail "consumed $(consumed), expected $1"
}
t_wait_for grep -q 'event=consume.assigned' "$LOG" || t_fail "no partitions assigned"

t_simulate "$T_TMP/r1.json" --count 2000 --seed 31
N1=$(t_json "$T_TMP/r1.json" "r['totals']['messages']")
wait_consumed "$N1"

# rotate the log, change reloadable and non-reloadable keys, SIGHUP
mv "$LOG" "$LOG.1"
cat >"$CONF" <<EOF
log.level = debug
log.file = $LOG
validate.clock_skew_s = 600
consume.batch_max_rows = 100
consume.memory_max_bytes = 64M
EOF
kill -HUP "$CPID"
t_wait_for grep -q 'event=config.reloaded' "$LOG" || t_fail "no config.reloaded in the reopened log file"
grep -q 'event=config.reloaded' "$LOG.1" && t_fail "config.reloaded went to the rotated file"
grep -q 'event=config.reloaded applied=log.level,validate.clock_skew_s,consume.batch_max_rows not_applied=consume.memory_max_bytes log_reopened=true' "$LOG" \
  || t_fail "config.reloaded line: $(grep 'event=config.reloaded' "$LOG")"
grep -q 'event=config.restart_needed keys=consume.memory_max_bytes ' "$LOG" \
  || t_fail "no config.restart_needed for consume.memory_max_bytes"
grep -q 'event=consume.reconfigured batch_max_rows=100 ' "$LOG" || t_fail "no consume.reconfigured with the new batch limit"
kill -0 "$CPID" 2>/dev/null || t_fail "consume died on SIGHUP"
[[ $(curl -s "http://127.0.0.1:$PORT/healthz") == ok ]] || t_fail "the endpoint stopped answering"

# batches after the reload follow the new limit; debug lines now appear
before=$(grep -c 'event=consume.batch_committed' "$LOG" || true)
t_simulate "$T_TMP/r2.json" --count 1500 --seed 32
N2=$(t_json "$T_TMP/r2.json" "r['totals']['messages']")
wait_consumed "$((N1 + N2))"
after=$(grep -c 'event=consume.batch_committed' "$LOG")
(( after - before >= N2 / 100 )) || t_fail "$((after - before)) batches for $N2 messages with batch_max_rows=100"
big=$(sed -n 's/.*event=consume.batch_committed messages=\([0-9]*\) .*/\1/p' "$LOG" | awk '$1 > 100' | head -1)
[[ -z $big ]] || t_fail "a batch of $big messages after batch_max_rows=100"
grep -q 'level=debug' "$LOG" || t_fail "no debug lines after log.level=debug"

# a config that no longer parses: refused, the running one kept
cat >"$CONF" <<EOF
log.level = info
log.file = $LOG
consume.batch_max_rows = banana
EOF
kill -HUP "$CPID"
t_wait_for grep -q 'event=config.reload_failed' "$LOG" || t_fail "no config.reload_failed"
grep 'event=config.reload_failed' "$LOG" | grep -q "consume.batch_max_rows" || t_fail "reload_failed does not name the key"
t_eq "$(grep -c 'event=consume.reconfigured' "$LOG")" 1 "reconfigurations (the bad config applied nothing)"
kill -0 "$CPID" 2>/dev/null || t_fail "consume died on a bad SIGHUP config"

# SIGTERM still drains and exits 0
kill -TERM "$CPID"
rc=0; wait "$CPID" || rc=$?
t_eq "$rc" 0 "consume exit status after SIGTERM"
grep -q "^consumed=$((N1 + N2)) " "$T_TMP/consume.out" || t_fail "summary: $(cat "$T_TMP/consume.out")"
bad=$(cat "$LOG.1" "$LOG" | { grep -v '^ts=[^ ]* level=[a-z]* event=[A-Za-z0-9._]* ' || true; } | head -1)
[[ -z $bad ]] || t_fail "a log line is not one 'ts= level= event= key=value' line: $bad"
t_pass "SIGHUP reloaded log.level, validate.clock_skew_s and consume.batch_max_rows, reopened the log, refused a bad config"
