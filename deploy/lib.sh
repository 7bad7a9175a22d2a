# shellcheck shell=bash
# Shared helpers for the hemoflow deploy scripts. Source it; do not run it.
#   HF_REPO      repo root (computed from this file's location)
#   hf_log MSG   "[deploy] MSG" on stderr ("[$HF_LOG_TAG] MSG" when the caller sets it)
#   hf_die MSG   hf_log + exit 1
#   hf_free_port                 print a free TCP port on 127.0.0.1
#   hf_port_open HOST PORT       exit 0 if something accepts connections
#   hf_wait_port HOST PORT TIMEOUT_S
#   hf_workdir [DIR]             print the absolute work folder (default $HF_REPO/build/work)
#   hf_env_get FILE KEY / hf_load_env FILE   read the env files written by pg.sh/kafka.sh

HF_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HF_REPO

hf_log() { printf '[%s] %s\n' "${HF_LOG_TAG:-deploy}" "$*" >&2; }

hf_die() { hf_log "ERROR: $*"; exit 1; }

hf_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! hf_port_open 127.0.0.1 "$p"; then echo "$p"; return; fi
  done
  hf_die "could not find a free TCP port"
}

hf_port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

hf_wait_port() {
  local host=$1 port=$2 timeout=$3 deadline=$((SECONDS + $3))
  while (( SECONDS < deadline )); do
    hf_port_open "$host" "$port" && return 0
    sleep 0.2
  done
  hf_log "timed out after ${timeout}s waiting for $host:$port"
  return 1
}

hf_workdir() {
  local dir=${1:-$HF_REPO/build/work}
  mkdir -p "$dir" || hf_die "cannot create work folder $dir"
  (cd "$dir" && pwd)
}

# hf_env_get FILE KEY: value of KEY=... in an env file written by these scripts.
hf_env_get() {
  [[ -f $1 ]] || return 1
  sed -n "s/^$2=//p" "$1" | tail -n 1
}

# hf_load_env FILE: export every KEY=VALUE line of an env file written by these
# scripts. Values are unquoted and may contain spaces (HF_PG_DSN), so do NOT
# `source` the file; use this, or split each line at the first '='.
hf_load_env() {
  local key val
  [[ -f $1 ]] || hf_die "env file $1 not found (did the service start?)"
  while IFS='=' read -r key val; do
    [[ $key =~ ^[A-Z_][A-Z0-9_]*$ ]] && export "$key=$val"
  done < "$1"
}
