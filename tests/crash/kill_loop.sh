#!/usr/bin/env bash
# Runs the SIGKILL crash test (tests/crash/tst_crash_kill.cpp) for many kills and prints a
# summary. The kills are spread over runs of KILLS_PER_RUN, each on a fresh data directory with
# every acknowledged record of the run verified after every restart.
#
#   tests/crash/kill_loop.sh [TOTAL_KILLS=1000] [KILLS_PER_RUN=100] [BUILD_DIR=build]
#
# Exit status 0 when every run passed. Logs go to $BUILD_DIR/kill_loop/.
set -u
total=${1:-1000}
per_run=${2:-100}
build=${3:-build}
binary="$build/tests/crash/crash_tst_crash_kill"
if [[ ! -x "$binary" ]]; then
    echo "kill_loop: $binary not found; build first (cmake --build $build)" >&2
    exit 2
fi
logs="$build/kill_loop"
rm -rf "$logs"
mkdir -p "$logs/bin"
# Copies, so that rebuilding while the loop runs does not swap binaries under it.
cp "$binary" "$build/app/eddy" "$logs/bin/"
binary="$logs/bin/crash_tst_crash_kill"
export EDDY_CLI="$logs/bin/eddy"
runs=$(( (total + per_run - 1) / per_run ))
done_kills=0
failed=0
start=$(date +%s)
for (( run = 1; run <= runs; ++run )); do
    kills=$(( total - done_kills < per_run ? total - done_kills : per_run ))
    log="$logs/run-$run.log"
    # Durable mode only: that is the guarantee under test.
    if EDDY_CRASH_KILLS=$kills QT_QPA_PLATFORM=offscreen "$binary" \
            killsLoseNothingAcknowledged:durable -maxwarnings 0 >"$log" 2>&1; then
        status=PASS
    else
        status=FAIL
        failed=$(( failed + 1 ))
    fi
    done_kills=$(( done_kills + kills ))
    summary=$(grep -o 'summary: .*' "$log" | head -1)
    seed=$(grep -o 'seed [0-9]*' "$log" | head -1)
    echo "run $run/$runs: $status, $kills kills, $seed; ${summary:-see $log}"
    if [[ $status == FAIL ]]; then
        grep -E 'FAIL!|Loc:' "$log" | head -4
    fi
done
elapsed=$(( $(date +%s) - start ))
acked=$(grep -ho 'summary: .*' "$logs"/run-*.log | sed -E 's/.* ([0-9]+) records acknowledged.*/\1/' \
        | awk "{s += \$1} END {print s + 0}")
echo "kill_loop: $done_kills kills in $runs runs, $failed failed runs, $acked acknowledged records" \
     "verified, ${elapsed}s"
exit $(( failed > 0 ))
