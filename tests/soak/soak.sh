#!/usr/bin/env bash
# Soak test: `eddy broker --durability durable` as its own process under a steady `eddy
# simulate` load (tests/soak/soak.json: producers with acks=durable, a committing consumer
# group, retention by count so the store reaches a steady size) at about half the maximum rate
# measured first on the same machine. Every SAMPLE seconds it records the broker's RSS and its
# produce-to-consume latency (p50/p99 of the last second, from the `metrics` op); at the end it prints RSS over time,
# latency, throughput, the simulator's verdict and the RSS growth after warm-up (WARMUP_S: until
# SQLite's page cache, capped at 64 MiB, has filled; about 9 minutes at 200 records/s), and
# exits non-zero
# when RSS grew by 5 % or more between the end of warm-up and the end of the load, or the
# verdict was not ok.
#
#   tests/soak/soak.sh [DURATION_S=3600] [SAMPLE_S=10] [BUILD_DIR=build] [RATE=auto] [WARMUP_S=600]
#
# Needs jq and nngcat (scripts/deps.sh installs both). Output and raw samples: $BUILD_DIR/soak/.
set -euo pipefail
duration=${1:-3600}
sample=${2:-10}
build=${3:-build}
rate=${4:-auto}
warm=${5:-600}
here=$(cd "$(dirname "$0")" && pwd)
eddy="$build/app/eddy"
[[ -x "$eddy" ]] || { echo "soak: $eddy not found; build first" >&2; exit 2; }
for tool in jq nngcat; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is needed (scripts/deps.sh)" >&2; exit 2; }
done
out="$build/soak"
rm -rf "$out"
mkdir -p "$out/data"

"$eddy" broker --data "$out/data" --durability durable --listen tcp://127.0.0.1:0 --pub none \
    >"$out/broker.log" 2>&1 &
broker_pid=$!
trap 'kill $broker_pid 2>/dev/null || true; [[ -n ${sim_pid:-} ]] && kill $sim_pid 2>/dev/null || true' EXIT
url=""
for _ in $(seq 100); do
    url=$(grep -o 'requests on tcp://[0-9.:]*' "$out/broker.log" | head -1 | cut -d' ' -f3 || true)
    [[ -n $url ]] && break
    sleep 0.1
done
[[ -n $url ]] || { echo "soak: the broker did not start:" >&2; cat "$out/broker.log" >&2; exit 1; }

scenario() { # $1 = records/s in total, $2 = name
    jq --argjson per "$(awk -v r="$1" 'BEGIN {printf "%.1f", r / 2}')" --arg name "$2" \
        '.name = $name | (.services[] | select(.kind == "producer") | .rate.per_second) = $per' \
        "$here/soak.json"
}

if [[ $rate == auto ]]; then
    # The maximum: the same scenario asking for far more than the broker can take, for 20 s.
    scenario 200000 soak-calibrate >"$out/calibrate.json"
    "$eddy" simulate "$out/calibrate.json" --broker "$url" --duration 20 --quiet \
        --report "$out/calibrate-report.json" >/dev/null 2>&1 || true
    max=$(jq '.produced_per_s // 0' "$out/calibrate-report.json")
    rate=$(awk -v m="$max" 'BEGIN {printf "%d", m / 2}')
    echo "soak: measured maximum $max records/s; soaking at $rate records/s"
    [[ $rate -gt 0 ]] || { echo "soak: calibration failed" >&2; exit 1; }
fi
scenario "$rate" soak >"$out/scenario.json"

"$eddy" simulate "$out/scenario.json" --broker "$url" --duration "$duration" --quiet \
    --report "$out/report.json" >"$out/simulate.log" 2>&1 &
sim_pid=$!
echo "time_s rss_kib e2e_p50_us e2e_p99_us records_in_per_s" >"$out/samples.txt"
start=$(date +%s)
while kill -0 $sim_pid 2>/dev/null; do
    sleep "$sample"
    now=$(( $(date +%s) - start ))
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$broker_pid/status")
    metrics=$(nngcat --req0 --dial "$url" --ascii --data '{"op":"metrics"}' 2>/dev/null || true)
    lat=$(jq -r '.metrics | "\(.latency.p50_us) \(.latency.p99_us) \(.broker.records_in_per_s // "?")"' \
        <<<"$metrics" 2>/dev/null || echo "? ? ?")
    echo "$now $rss $lat" >>"$out/samples.txt"
done
wait $sim_pid || true

echo "== RSS over time (broker, KiB), produce-to-consume latency of the last second (us), rate"
column -t "$out/samples.txt"
# Growth between the end of warm-up and the end of the load (the simulator's drain and final
# read afterwards are not load).
read -r first last peak < <(awk -v w="$warm" -v d="$duration" 'NR > 1 && $1 >= w && $1 <= d {if (!f) f = $2; l = $2; if ($2 > p) p = $2}
    END {print f + 0, l + 0, p + 0}' "$out/samples.txt")
growth=$(awk -v a="$first" -v b="$last" 'BEGIN {printf "%.2f", a ? 100 * (b - a) / a : 0}')
peakgrowth=$(awk -v a="$first" -v b="$peak" 'BEGIN {printf "%.2f", a ? 100 * (b - a) / a : 0}')
median() { # column $1 of the samples under load: its median and its largest value
    awk -v c="$1" -v d="$duration" 'NR > 1 && $1 <= d && $c ~ /^[0-9.]+$/ {print $c}' "$out/samples.txt" | sort -n \
        | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)] " (worst sample " v[NR] ")"; else print "?"}'
}
p50=$(median 3)
p99=$(median 4)
echo "== summary"
jq -r '"throughput: produced \(.produced_per_s) records/s, consumed \(.consumed_per_s) records/s; verdict ok: \(.verdict.ok), passed: \(.passed)"' "$out/report.json" 2>/dev/null || cat "$out/simulate.log"
echo "target rate: $rate records/s; duration ${duration}s; samples every ${sample}s"
echo "produce-to-consume latency (median over the samples of each 1-second window's value): p50 ${p50} us, p99 ${p99} us"
echo "RSS from the end of warm-up (${warm}s) to the end of the load: $first KiB -> $last KiB (${growth} %), peak $peak KiB (${peakgrowth} %)"
ok=$(awk -v g="$growth" 'BEGIN {print (g < 5) ? 1 : 0}')
verdict=$(jq -r '.verdict.ok' "$out/report.json" 2>/dev/null || echo false)
[[ $ok == 1 && $verdict == true ]]
