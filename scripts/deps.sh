#!/usr/bin/env bash
# Installs the Debian packages Eddy needs when any is missing. Sourced by run.sh and test.sh.
# Uses sudo when not root; does nothing (and needs no network) when everything is present.
set -euo pipefail

EDDY_PACKAGES=(
    build-essential cmake ninja-build ccache pkg-config lld
    qt6-base-dev libqcustomplot-dev libgl-dev
    libnng-dev libmbedtls-dev nng-utils libsqlite3-dev nlohmann-json3-dev
    kcat # a real Kafka client (librdkafka) for the Kafka listener's tests
    libgoogle-perftools-dev # tcmalloc_minimal, the allocator of eddy and eddy-studio
    xvfb xauth openssl
    jq
    clang libclang-rt-14-dev llvm # sanitizer builds, libFuzzer, symbolized sanitizer reports
)

# eddy_install_deps [PACKAGE...]: those packages, or EDDY_PACKAGES without arguments.
eddy_install_deps() {
    local missing=() wanted=("$@")
    [ ${#wanted[@]} -gt 0 ] || wanted=("${EDDY_PACKAGES[@]}")
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "eddy: installing missing packages: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Optional: the peers tests/bench/peers.sh measures Eddy against (Redis Streams, hiredis for
# its reader), and perf for profiling. Not needed to build or test Eddy.
EDDY_BENCH_PACKAGES=(redis-server redis-tools libhiredis-dev linux-perf python3)

eddy_install_bench_deps() {
    eddy_install_deps "${EDDY_BENCH_PACKAGES[@]}"
}

# Configures (once) and builds the tree in $EDDY_BUILD_DIR.
eddy_build() {
    local root="$1"
    EDDY_BUILD_DIR="${EDDY_BUILD_DIR:-$root/build}"
    if [ ! -f "$EDDY_BUILD_DIR/build.ninja" ]; then
        cmake -S "$root" -B "$EDDY_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${EDDY_BUILD_TYPE:-Release}"
    fi
    cmake --build "$EDDY_BUILD_DIR" --parallel "$(nproc)"
}

# Configures (once) and builds the sanitizer build of CMakePresets.json preset $2 in its own
# directory (build-asan, build-tsan); further arguments go to the first configure.
eddy_build_preset() {
    local root="$1" preset="$2"
    shift 2
    if [ ! -f "$root/build-$preset/build.ninja" ]; then
        (cd "$root" && cmake --preset "$preset" "$@")
    fi
    cmake --build "$root/build-$preset" --parallel "$(nproc)"
}
