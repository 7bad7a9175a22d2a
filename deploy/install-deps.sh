#!/usr/bin/env bash
# Install the Debian packages hemoflow needs to build, test and run locally,
# then build the pinned librdkafka into build/deps/ (deploy/librdkafka.sh;
# skipped when already built). Runs apt-get as root (or through sudo); does
# nothing when all are present.
# Usage: deploy/install-deps.sh
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKGS=(
  build-essential cmake ninja-build pkg-config git python3     # toolchain
  libpq-dev libavro-dev libjansson-dev                         # PostgreSQL, Avro, JSON
  libsasl2-dev libcurl4-openssl-dev                            # librdkafka's build (deploy/librdkafka.sh)
  libzstd-dev libssl-dev libcriterion-dev                      # spool compression, HMAC, tests
  zlib1g-dev libinih-dev                                       # spool CRC-32, config-file syntax
  libmicrohttpd-dev                                            # the operations HTTP endpoint
  postgresql-15 postgresql-client-15                           # throwaway warehouse
  kcat maven openjdk-17-jre-headless                           # Kafka tooling and the real broker
  procps faketime                                              # ps/pkill; a fake clock for the hour-of-day tests
  valgrind                                                     # tests: memcheck of publish and consume
  curl prometheus chromium                                     # tests: scrape /metrics, promtool, the status page and the HTML report
  clang libclang-rt-14-dev                                     # tests/fuzz: libFuzzer targets (-fsanitize=fuzzer)
  time python3-venv                                            # bench/run.sh --quick in the suite: /usr/bin/time -v, the Python peer's venv
)
# deploy/librdkafka.sh fetches librdkafka's source with cargo; Debian's cargo
# only where the machine has none of its own (e.g. rustup's).
command -v cargo >/dev/null 2>&1 || PKGS+=(cargo)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  hf_log "all ${#PKGS[@]} Debian packages present"
  "$HF_REPO/deploy/librdkafka.sh" >/dev/null
  exit 0
fi
hf_log "installing: ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || hf_die "need root or sudo to install: ${missing[*]}"
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || hf_die "apt-get install failed for: ${missing[*]}"
hf_log "installed ${#missing[@]} package(s)"
"$HF_REPO/deploy/librdkafka.sh" >/dev/null
