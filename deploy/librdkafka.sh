#!/usr/bin/env bash
# Build the pinned librdkafka that hemoflow links (statically) into
# build/deps/librdkafka-<version>/ and skip when it is already there.
#
# Why: Debian 12 ships librdkafka 2.0.2 (no backport). hemoflow needs >= 2.2
# for `fetch.queue.backoff.ms` (docs/consume.md, "Resources"): with 2.0.2 a
# consumer whose prefetch queue is small enough to bound its memory stops
# fetching for up to a second each time the queue fills. The librdkafka
# source tree comes from a registry this machine and CI reach: the
# `rdkafka-sys` crate on crates.io carries it (with its CMake build) under
# librdkafka/. We fetch the crate with cargo (the registry's own client),
# check it against the sha256 pinned here, and build only its librdkafka/.
#
# Usage: deploy/librdkafka.sh          print the install prefix (build if needed)
#        deploy/librdkafka.sh --prefix print the prefix, build nothing
# Env:   HF_RDKAFKA_DEPS=DIR  where build/deps is (default $HF_REPO/build/deps)
set -euo pipefail
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HF_LOG_TAG=librdkafka

# ---- the pin: change all four together ---------------------------------------
RDK_VERSION=2.12.1                       # librdkafka inside the crate
CRATE_NAME=rdkafka-sys
CRATE_VERSION="4.10.0+$RDK_VERSION"
CRATE_SHA256=e234cf318915c1059d4921ef7f75616b5219b10b46e9f3a511a15eb4b56a3f77

DEPS=${HF_RDKAFKA_DEPS:-$HF_REPO/build/deps}
PREFIX="$DEPS/librdkafka-$RDK_VERSION"
STAMP="$PREFIX/.built-from-$CRATE_SHA256"

if [[ ${1:-} == --prefix ]]; then echo "$PREFIX"; exit 0; fi
if [[ -f $STAMP && -f $PREFIX/lib/librdkafka.a ]]; then
  hf_log "librdkafka $RDK_VERSION already built in $PREFIX"
  echo "$PREFIX"
  exit 0
fi

command -v cargo >/dev/null || hf_die "cargo not found (deploy/install-deps.sh installs it)"
command -v cmake >/dev/null || hf_die "cmake not found (deploy/install-deps.sh installs it)"
mkdir -p "$DEPS"
SCRATCH=$(mktemp -d "$DEPS/.librdkafka-build.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

# ---- fetch: a throwaway cargo package whose one dependency is the crate ------
# `cargo fetch` downloads it into cargo's own cache (CARGO_HOME) through
# whatever registry configuration the machine has; we take the .crate file
# from there and check it ourselves.
hf_log "fetching $CRATE_NAME $CRATE_VERSION with cargo"
mkdir -p "$SCRATCH/fetch/src"
cat >"$SCRATCH/fetch/Cargo.toml" <<EOF
[package]
name = "hf-fetch-librdkafka"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$CRATE_NAME = { version = "=$CRATE_VERSION", default-features = false }
EOF
: >"$SCRATCH/fetch/src/lib.rs"
(cd "$SCRATCH/fetch" && cargo fetch --quiet) >"$SCRATCH/fetch.log" 2>&1 \
  || { cat "$SCRATCH/fetch.log" >&2; hf_die "cargo fetch of $CRATE_NAME $CRATE_VERSION failed"; }
CARGO_CACHE="${CARGO_HOME:-$HOME/.cargo}/registry/cache"
crate=$(find "$CARGO_CACHE" -name "$CRATE_NAME-$CRATE_VERSION.crate" -print -quit 2>/dev/null || true)
[[ -n $crate ]] || hf_die "$CRATE_NAME-$CRATE_VERSION.crate not found under $CARGO_CACHE after cargo fetch"
got=$(sha256sum "$crate" | cut -d' ' -f1)
[[ $got == "$CRATE_SHA256" ]] \
  || hf_die "$crate: sha256 $got, pinned $CRATE_SHA256 (refusing to build it)"
hf_log "sha256 ok: $got"

# ---- build: librdkafka's own CMake, static, into PREFIX ----------------------
tar -xzf "$crate" -C "$SCRATCH" "$CRATE_NAME-$CRATE_VERSION/librdkafka"
SRC="$SCRATCH/$CRATE_NAME-$CRATE_VERSION/librdkafka"
grep -q "RD_KAFKA_VERSION  *0x0$(printf '%x%02x%02x' ${RDK_VERSION//./ })ff" "$SRC/src/rdkafka.h" \
  || hf_die "the crate does not carry librdkafka $RDK_VERSION"
hf_log "building librdkafka $RDK_VERSION (static; SSL, SASL incl. SCRAM, curl, zstd, zlib, bundled lz4)"
rm -rf "$PREFIX"
# SSL + SASL: TLS and SASL/SCRAM to the broker (WITH_SASL also enables Cyrus
# SASL, which librdkafka needs to compile SCRAM in with CMake). curl: its
# CMake build includes <curl/curl.h> even with WITH_CURL=OFF (an #ifdef on a
# macro defined to 0), so it is on (SASL/OAUTHBEARER OIDC comes with it). No
# snappy. Examples and tests are not built.
cmake -S "$SRC" -B "$SCRATCH/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DRDKAFKA_BUILD_STATIC=ON -DRDKAFKA_BUILD_EXAMPLES=OFF -DRDKAFKA_BUILD_TESTS=OFF \
  -DWITH_SSL=ON -DWITH_SASL=ON -DWITH_ZSTD=ON -DWITH_ZLIB=ON -DWITH_CURL=ON \
  -DWITH_SNAPPY=OFF -DENABLE_LZ4_EXT=OFF -DWITH_PLUGINS=OFF \
  >"$SCRATCH/cmake.log" 2>&1 || { cat "$SCRATCH/cmake.log" >&2; hf_die "cmake (librdkafka) failed"; }
ninja -C "$SCRATCH/build" install >"$SCRATCH/ninja.log" 2>&1 \
  || { tail -40 "$SCRATCH/ninja.log" >&2; hf_die "building librdkafka failed"; }
PC="$PREFIX/lib/pkgconfig/rdkafka-static.pc"
[[ -f $PREFIX/lib/librdkafka.a && -f $PC ]] \
  || hf_die "librdkafka built but $PREFIX/lib/librdkafka.a or rdkafka-static.pc is missing"
# librdkafka's CMake writes rdkafka-static.pc without the libraries the
# archive needs (its Requires.private is empty): name them, as the features
# above were chosen, as plain Requires: the archive links them as the shared
# libraries they are (`pkg-config --static` would ask for their own static
# dependencies, which Debian's -dev packages do not all carry).
sed -i 's/^Requires.private:.*/Requires: libcurl zlib libcrypto libssl libsasl2 libzstd/' "$PC"
PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --libs rdkafka-static >/dev/null \
  || hf_die "pkg-config cannot resolve $PC"
: >"$STAMP"
hf_log "librdkafka $RDK_VERSION installed in $PREFIX"
echo "$PREFIX"
