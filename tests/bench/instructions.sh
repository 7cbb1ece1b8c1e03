#!/usr/bin/env bash
# The unbatched-produce row of peers.sh counted in instructions instead of seconds: raw NNG
# (tests/bench/nng_peer.cpp) and `eddy bench produce --batch 1` (and, with --baseline, an older
# eddy binary), each with 8 connections of one request in flight, run under valgrind's callgrind.
# Instruction counts do not move with the machine's load, which on this 2-core machine moves the
# rates of unbatched_ab.sh by 10-40 % between runs: this is the A/B to use for a change to the
# per-request path, unbatched_ab.sh the one for its effect on the rate. It cannot see the kernel
# (wake-ups, context switches: two thirds of the CPU per request), only user space.
#
# Each side runs at N and 2N requests and the difference is divided by N, so startup (the
# broker's open, SQLite's schema) drops out. Prints instructions per request by object (the
# program, libnng, the pthread mutex and condition calls, libc, SQLite, libstdc++) and in all.
# NNG's own lock calls spin a little under valgrind's serialised threads, so a side is run
# twice at each size and the lower count kept. Valgrind runs the program about 12x slower, so
# work done per unit of time rather than per request (the store writer's commit every 50 ms,
# the metrics sampler) is spread over 12x fewer requests than at full speed and shows larger
# here than it is; SQLite's column is mostly that.
#
# usage: tests/bench/instructions.sh [--build DIR] [--requests N] [--baseline EDDY]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${EDDY_BUILD_DIR:-$root/build}"
requests=20000
baseline=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build="$2"; shift 2 ;;
        --requests) requests="$2"; shift 2 ;;
        --baseline) baseline="$2"; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "instructions.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null \
    || { echo "instructions.sh: needs valgrind (Debian package valgrind)" >&2; exit 2; }
eddy="$build/app/eddy"
nngpeer="$build/tests/bench/eddy_nng_peer"
for b in "$eddy" "$nngpeer" ${baseline:+"$baseline"}; do
    [ -x "$b" ] || { echo "instructions.sh: $b is missing: build first" >&2; exit 2; }
done
tmp="$(mktemp -d /tmp/eddy-instructions.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# profile NAME N CMD...: the lower of two callgrind runs of CMD, annotated into $tmp/NAME.N.
profile() {
    local name="$1" n="$2" best="" total
    shift 2
    for k in 1 2; do
        valgrind --tool=callgrind --callgrind-out-file="$tmp/$name.$n.$k.out" "$@" \
            >/dev/null 2>"$tmp/$name.$n.$k.log" \
            || { echo "instructions.sh: $name failed:" >&2; cat "$tmp/$name.$n.$k.log" >&2; exit 1; }
        total="$(sed -n 's/.*I *refs: *//p' "$tmp/$name.$n.$k.log" | tr -d ,)"
        if [ -z "$best" ] || [ "$total" -lt "$best" ]; then
            best="$total"
            callgrind_annotate --threshold=100 "$tmp/$name.$n.$k.out" >"$tmp/$name.$n" 2>/dev/null
        fi
    done
}

# side NAME CMD-WITH-@N@: profiles CMD at N and 2N requests.
side() {
    local name="$1"
    shift
    for n in "$requests" $((2 * requests)); do
        echo "  $name, $n requests" >&2
        profile "$name" "$n" "${@//@N@/$n}"
    done
    echo "$name" >>"$tmp/sides"
}

side raw "$nngpeer" --requests @N@ --batch 1 --size 100 --connections 8 --json
eddy_args=(bench produce --records @N@ --batch 1 --connections 8 --partitions 8 --json --quiet)
[ -z "$baseline" ] || side baseline "$baseline" "${eddy_args[@]}"
side eddy "$eddy" "${eddy_args[@]}"

python3 - "$tmp" "$requests" <<'EOF'
import collections, os, re, sys
tmp, n = sys.argv[1], int(sys.argv[2])
GROUPS = ["program", "libnng", "pthread", "libc", "libsqlite3", "libstdc++", "other"]

def by_object(path):
    out = collections.Counter()
    for line in open(path):
        m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        count, fn = int(m.group(1).replace(",", "")), m.group(2)
        obj = re.search(r"\[([^\]]*)\]\s*$", fn)
        obj = os.path.basename(obj.group(1)) if obj else ""
        if re.search(r"pthread_(mutex|cond|rwlock)", fn):
            group = "pthread"
        elif obj.startswith("libnng"):
            group = "libnng"
        elif obj.startswith("libc."):
            group = "libc"
        elif obj.startswith("libsqlite3"):
            group = "libsqlite3"
        elif obj.startswith("libstdc++"):
            group = "libstdc++"
        elif obj.startswith(("eddy", "eddy_nng_peer")):
            group = "program"
        else:
            group = "other"
        out[group] += count
    return out

sides = open(os.path.join(tmp, "sides")).read().split()
rows = {}
for side in sides:
    small = by_object(os.path.join(tmp, f"{side}.{n}"))
    large = by_object(os.path.join(tmp, f"{side}.{2 * n}"))
    rows[side] = {g: (large[g] - small[g]) / n for g in GROUPS}
    rows[side]["all"] = sum(rows[side][g] for g in GROUPS)
print(f"instructions per unbatched request ({n} and {2 * n} requests, 8 connections)")
print(f"{'':10}" + "".join(f"{g:>11}" for g in GROUPS + ["all"]))
for side in sides:
    print(f"{side:10}" + "".join(f"{rows[side][g]:11.0f}" for g in GROUPS + ["all"]))
raw = rows["raw"]["all"]
for side in sides:
    if side != "raw":
        print(f"{side}: {rows[side]['all'] / raw:.2f}x raw NNG's instructions, "
              f"{rows[side]['all'] - raw:.0f} more per request")
EOF
