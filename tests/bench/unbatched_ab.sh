#!/usr/bin/env bash
# The unbatched-produce row of peers.sh on its own, alternated so that machine load hits both
# sides alike: raw NNG (tests/bench/nng_peer.cpp), then `eddy bench produce --batch 1` (and, with
# --baseline, an older eddy binary), run after run, each with the same 8 connections of one
# request in flight. Prints every run (records/s, p50, and, when `perf` is installed, CPU time and
# context switches per request of the whole process: client and broker), the load average at the
# start of each run, and the medians of the per-run ratios against raw NNG.
#
# usage: tests/bench/unbatched_ab.sh [--build DIR] [--runs N] [--requests N] [--baseline EDDY]
#                                    [--nice N]
#   --nice N  run the measured processes at nice N (e.g. -10 on a machine shared with builds
#             running at nice 5; needs root); both sides get the same
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${EDDY_BUILD_DIR:-$root/build}"
runs=5
requests=60000
baseline=""
niceness=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --requests) requests="$2"; shift 2 ;;
        --baseline) baseline="$2"; shift 2 ;;
        --nice) niceness="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unbatched_ab.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
eddy="$build/app/eddy"
nngpeer="$build/tests/bench/eddy_nng_peer"
for b in "$eddy" "$nngpeer" ${baseline:+"$baseline"}; do
    [ -x "$b" ] || { echo "unbatched_ab.sh: $b is missing: build first" >&2; exit 2; }
done
tmp="$(mktemp -d /tmp/eddy-unbatched.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
prefix=()
[ -z "$niceness" ] || prefix=(nice -n "$niceness")
perf_ok=0
command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1 && perf_ok=1

# run NAME CMD...: one measured run; appends "NAME records/s cpu_us cs" to $tmp/results.
run() {
    local name="$1"
    shift
    local json
    if [ "$perf_ok" = 1 ]; then
        json="$("${prefix[@]}" perf stat -x, -e task-clock,context-switches -o "$tmp/stat" "$@")"
    else
        json="$("${prefix[@]}" "$@")"
    fi
    python3 - "$name" "$requests" "$tmp/stat" "$perf_ok" "$json" >>"$tmp/results" <<'EOF'
import json, sys
name, n, stat, perf_ok, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
d = json.loads(out.strip().splitlines()[-1])
cpu = cs = float("nan")
if perf_ok == "1":
    for line in open(stat):
        f = line.split(",")
        if len(f) > 2 and f[2] == "task-clock":
            cpu = float(f[0]) * 1000 / n
        if len(f) > 2 and f[2] == "context-switches":
            cs = float(f[0]) / n
print(name, d["records_per_s"], d["p50_us"], cpu, cs)
EOF
    tail -n 1 "$tmp/results" | awk '{printf "  %-8s %9.0f rec/s  p50 %5.0f us  %5.1f us CPU/req  %.2f cs/req\n", $1, $2, $3, $4, $5}'
}

eddy_args=(bench produce --records "$requests" --batch 1 --connections 8 --partitions 8 --json --quiet)
for i in $(seq "$runs"); do
    echo "run $i, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    run raw "$nngpeer" --requests "$requests" --batch 1 --size 100 --connections 8 --json
    [ -z "$baseline" ] || run baseline "$baseline" "${eddy_args[@]}"
    run eddy "$eddy" "${eddy_args[@]}"
done

python3 - "$tmp/results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
names = []
for r in rows:
    if r[0] not in names:
        names.append(r[0])
runs = {n: [r for r in rows if r[0] == n] for n in names}
print("medians over %d runs:" % len(runs["raw"]))
for n in names:
    rate = statistics.median(float(r[1]) for r in runs[n])
    cpu = statistics.median(float(r[3]) for r in runs[n])
    line = "  %-8s %9.0f rec/s  %5.1f us CPU/req" % (n, rate, cpu)
    if n != "raw":
        ratios = [float(a[1]) / float(b[1]) for a, b in zip(runs[n], runs["raw"])]
        line += "  %.2fx raw NNG (median of per-run ratios)" % statistics.median(ratios)
    print(line)
EOF
