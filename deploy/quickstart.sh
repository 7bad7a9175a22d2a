#!/usr/bin/env bash
# The main job, end to end, on this machine: install packages, build, start a
# throwaway PostgreSQL and the embedded broker (`hemoflow devbroker`), and run
# the pipeline as far as it goes today. Leaves both services running and
# prints what to look at next; `deploy/quickstart.sh stop` stops them.
# Usage: deploy/quickstart.sh [stop]
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HF_REPO"
WORK="$HF_REPO/build/quickstart"
BIN="$HF_REPO/build/hemoflow"

stop_all() {
  if [[ -f $WORK/devbroker.pid ]]; then
    kill "$(cat "$WORK/devbroker.pid")" 2>/dev/null || true
    rm -f "$WORK/devbroker.pid"
  fi
  "$HF_REPO/deploy/pg.sh" stop "$WORK" >/dev/null 2>&1 || true
}
if [[ ${1:-} == stop ]]; then
  stop_all
  hf_log "quickstart services stopped"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "usage: deploy/quickstart.sh [stop]" >&2; exit 2; }

step() { printf '\n== %s\n' "$*"; }

step "1. Packages"
"$HF_REPO/deploy/install-deps.sh"

step "2. Build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build hemoflow >/dev/null
"$BIN" --version

step "3. Throwaway PostgreSQL and the embedded broker"
stop_all
mkdir -p "$WORK"
"$HF_REPO/deploy/pg.sh" start "$WORK" >/dev/null
hf_load_env "$WORK/pg.env"
port=$(hf_free_port)
setsid "$BIN" devbroker --port "$port" >"$WORK/devbroker.out" 2>"$WORK/devbroker.log" &
echo $! >"$WORK/devbroker.pid"
for _ in $(seq 1 50); do grep -q '^bootstrap=' "$WORK/devbroker.out" && break; sleep 0.2; done
grep -q '^bootstrap=' "$WORK/devbroker.out" || hf_die "devbroker did not start: $(cat "$WORK/devbroker.log")"
BOOTSTRAP="127.0.0.1:$port"
echo "PostgreSQL: $HF_PG_DSN"
echo "Kafka (embedded devbroker): $BOOTSTRAP"
export HEMOFLOW_KAFKA_BOOTSTRAP_SERVERS=$BOOTSTRAP

step "4. Round trip through the broker"
echo '{"hello":"hemoflow"}' | kcat -P -b "$BOOTSTRAP" -t hemoflow.donor_registered -k 32010001
timeout 30 kcat -C -b "$BOOTSTRAP" -t hemoflow.donor_registered -o beginning -c 1 -e -q

cat <<NEXT

== Next
  Services are still running (stop them with: deploy/quickstart.sh stop).
  The warehouse:       psql "$HF_PG_DSN"
  The broker:          kcat -b $BOOTSTRAP -L
  Every config key:    $BIN --help-config
  The full test suite: ./deploy/test.sh
NEXT
