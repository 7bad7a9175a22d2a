# shellcheck shell=bash
# Helpers for the shell integration tests (sourced). They fail loudly when
# the services deploy/test.sh starts are missing.
set -euo pipefail
HF_BIN=${HF_BIN:?HF_BIN must point at the hemoflow binary (set by CTest)}
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hf-it.XXXXXX")
T_PIDS=()
t_cleanup() {
  local p
  for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T_TMP"
}
trap t_cleanup EXIT
t_fail() { echo "FAIL: $*" >&2; exit 1; }
t_pass() { echo "PASS: $*"; }
t_need() { # t_need VAR...: required environment from deploy/test.sh
  local v
  for v in "$@"; do
    [[ -n ${!v:-} ]] || t_fail "$v is not set: run through deploy/test.sh (real services required)"
  done
}
t_eq() { [[ "$1" == "$2" ]] || t_fail "$3: expected '$2', got '$1'"; }
# t_wait_for CMD... : retry a command for up to 30 s
t_wait_for() {
  local i
  for i in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
