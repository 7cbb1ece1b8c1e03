#!/usr/bin/env bash
# Long fuzzing campaign: builds the asan preset (clang, ASan+UBSan, libFuzzer) and runs each
# named harness (default: all four) for SECONDS (default 600) with the seed corpus and the crash
# regressions, niced, one harness after another. New coverage inputs go to
# build-asan/tests/fuzz/found/<harness>/, crashes to build-asan/tests/fuzz/artifacts/<harness>/;
# a crash is a bug: fix it and copy its input into tests/fuzz/regressions/<harness>/.
#   tests/fuzz/campaign.sh [SECONDS] [HARNESS...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-600}"
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(json_codec binary_codec scenario broker)
source "$root/scripts/deps.sh"
eddy_install_deps
eddy_build_preset "$root" asan -DEDDY_BUILD_GUI=OFF
fuzz="$root/build-asan/tests/fuzz"
dict_for() {
    case "$1" in
    json_codec | broker) echo "-dict=$root/tests/fuzz/protocol.dict" ;;
    esac
}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for h in "${harnesses[@]}"; do
    echo "== fuzz_$h for ${seconds}s"
    mkdir -p "$fuzz/found/$h" "$fuzz/artifacts/$h"
    # shellcheck disable=SC2046 # dict_for prints one word or nothing
    nice -n 10 "$fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
        -print_final_stats=1 \
        -artifact_prefix="$fuzz/artifacts/$h/" $(dict_for "$h") \
        "$fuzz/found/$h" "$root/tests/fuzz/corpus/$h" "$root/tests/fuzz/regressions/$h" || status=1
done
ls -l "$fuzz"/artifacts/*/ 2>/dev/null | grep -E 'crash-|leak-|timeout-|oom-' && status=1
exit $status
