#!/usr/bin/env bash
# Builds Eddy and runs every test through ctest (GUI tests offscreen), then builds the Qt-free
# part again with clang under ASan+UBSan (preset asan, build-asan/) and runs those tests there,
# the fuzz harnesses' smoke runs included. Non-zero exit on failure. EDDY_ASAN=0 skips the
# sanitizer pass. Idempotent: installs only missing packages, rebuilds incrementally (ccache).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/deps.sh"
eddy_install_deps
eddy_build "$root"
export QT_QPA_PLATFORM=offscreen
# Two tests per core: the long tests mostly wait (a simulation runs its scenario in real time, the
# crash tests wait out session timeouts and restarts): sim_tst_runner uses 21 % of a core over
# its 76 s, sim_tst_faults 11 %, the crash tests 8-13 %. With one test per core the pass took
# 124 s, with two 76 s (the length of sim_tst_runner, which starts first), all passing.
jobs=$((2 * $(nproc)))
(cd "$EDDY_BUILD_DIR" && ctest --output-on-failure --timeout 300 -j "$jobs" "$@")

if [ "${EDDY_ASAN:-1}" != 0 ]; then
    # Without the GUI: eddy_ui under ASan would double the CI build time for one test.
    # Fuzz smokes of 5 s each here (15 s by default): CI time is the budget that is short.
    eddy_build_preset "$root" asan -DEDDY_BUILD_GUI=OFF -DEDDY_BUILD_BENCH=OFF \
        -DEDDY_FUZZ_SMOKE_SECONDS=5
    # One test per core plus one here: under ASan the simulations' timing checks (a fault
    # detected, recovered from within the run) failed now and then with two tests per core
    # beside the CPU-bound fuzz smokes.
    (cd "$root/build-asan" && ctest --output-on-failure --timeout 400 -j "$(($(nproc) + 1))" "$@")
fi
