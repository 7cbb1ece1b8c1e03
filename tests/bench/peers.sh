#!/usr/bin/env bash
# Measures Eddy against the peers a user would pick instead and against the limits of this
# machine, in one go, on loopback only: Redis Streams (Debian's redis-server; XADD pipelined and
# unpipelined, XREAD, XREADGROUP + XACK, appendfsync always), the raw NNG transport
# (tests/bench/nng_peer.cpp: Eddy's message pattern with no broker), raw SQLite batched
# inserts (eddy_engine_bench --sqlite-only) and the floor of a durable server for Redis's own
# clients (tests/bench/resp_floor.cpp: answer only, or one pwrite + fdatasync per pass). Each
# workload runs --runs times (default 3); the table shows medians and the ratio against each
# target of the performance issue (docs/performance.md). Every server it starts, it stops
# (trap), and it removes its temp dir.
#
# usage: tests/bench/peers.sh [--build DIR] [--runs N] [--quick] [--out DIR]
#   --quick  small record counts: checks the script works, the figures mean little
#   --out    where the raw JSON of every run goes (default BUILD/peers-results, replaced)
#   --memory-only  just the memory measurement (fresh Redis and a fresh eddy broker)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${EDDY_BUILD_DIR:-$root/build}"
runs=3
quick=0
memory_only=0
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --quick) quick=1; shift ;;
        --memory-only) memory_only=1; shift ;;
        --out) out="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "peers.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

source "$root/scripts/deps.sh"
eddy_install_bench_deps
eddy="$build/app/eddy"
nngpeer="$build/tests/bench/eddy_nng_peer"
redispeer="$build/tests/bench/eddy_redis_peer"
enginebench="$build/tests/bench/eddy_engine_bench"
floor="$build/tests/bench/eddy_resp_floor"
for b in "$eddy" "$nngpeer" "$redispeer" "$enginebench" "$floor"; do
    [ -x "$b" ] || { echo "peers.sh: $b is missing: build first (cmake --build $build)" >&2; exit 2; }
done

tmp="$(mktemp -d /tmp/eddy-peers.XXXXXX)"
[ -n "$out" ] || out="$build/peers-results"
rm -rf "$out"
mkdir -p "$out"
redis_pid=""
broker_pid=""
floor_pid=""
stop_redis() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=""
    fi
}
stop_broker() {
    if [ -n "$broker_pid" ]; then
        kill "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
        broker_pid=""
    fi
}
cleanup() {
    stop_redis
    stop_broker
    if [ -n "$floor_pid" ]; then
        kill "$floor_pid" 2>/dev/null || true
        wait "$floor_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_redis fast|always: a fresh redis-server on a loopback port, no RDB snapshots; "always"
# turns on the append-only file with an fsync per write.
start_redis() {
    stop_redis
    redis_port="$(free_port)"
    rm -rf "$tmp/redis"
    mkdir -p "$tmp/redis"
    local aof=(--appendonly no)
    [ "$1" = always ] && aof=(--appendonly yes --appendfsync always)
    redis-server --port "$redis_port" --bind 127.0.0.1 --protected-mode yes --dir "$tmp/redis" \
        --save '' "${aof[@]}" --daemonize no --logfile "$tmp/redis/log" &
    redis_pid=$!
    wait_for_ping "$redis_port" "redis-server (see $tmp/redis/log)"
}

# wait_for_ping PORT WHAT: until the RESP server on PORT answers PING (5 s), or stop the script.
wait_for_ping() {
    for _ in $(seq 100); do
        redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "peers.sh: $2 did not start" >&2
    exit 1
}

# start_floor none|loop / stop_floor OUT: eddy_resp_floor on a loopback port; stopping it
# writes its counts (XADDs per fdatasync, mean fdatasync) to OUT.
start_floor() {
    floor_port="$(free_port)"
    "$floor" --port "$floor_port" --flush "$1" --dir "$tmp" >"$tmp/floor.json" \
        2>"$tmp/floor.log" &
    floor_pid=$!
    wait_for_ping "$floor_port" "eddy_resp_floor (see $tmp/floor.log)"
}
stop_floor() {
    kill "$floor_pid" 2>/dev/null || true
    wait "$floor_pid" 2>/dev/null || true
    floor_pid=""
    mv "$tmp/floor.json" "$1"
}

# An `eddy broker` process, for the memory measurement (its RSS alone).
start_broker() {
    stop_broker
    broker_port="$(free_port)"
    rm -rf "$tmp/broker"
    "$eddy" broker --data "$tmp/broker" --listen "tcp://127.0.0.1:$broker_port" \
        --pub "tcp://127.0.0.1:$(free_port)" >"$tmp/broker.log" 2>&1 &
    broker_pid=$!
    for _ in $(seq 100); do
        "$eddy" topic list --broker "tcp://127.0.0.1:$broker_port" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "peers.sh: eddy broker did not start (see $tmp/broker.log)" >&2
    exit 1
}

rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
# The RSS once the process settled: 5 s after the fill. A broker may still be writing its
# backlog to SQLite for a second or two after the last produce was acknowledged, and returns
# freed memory once a second after that; Redis settles at once. (2 s was not always enough under
# a load average of 10 on 2 cores.)
settled_rss_bytes() {
    sleep 5
    rss_bytes "$1"
}
# The peak RSS so far: what the process held at the worst moment of a fill, before it settled.
peak_bytes() { awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$1/status"; }

value="$(head -c 100 /dev/zero | tr '\0' v)"
# redis_bench NAME PORT ARGS...: redis-benchmark XADD against the RESP server on PORT, its CSV
# line -> the JSON fields of eddy bench (records = requests here) in $dir/NAME.json.
redis_bench() {
    local name="$1" port="$2"; shift 2
    redis-benchmark -p "$port" --csv "$@" XADD bench '*' f "$value" | python3 -c '
import csv, json, sys
rows = list(csv.reader(sys.stdin))
r = dict(zip(rows[0], rows[-1]))
ms = lambda k: float(r[k]) * 1000
print(json.dumps({"records_per_s": float(r["rps"]), "mb_per_s": float(r["rps"]) * 100 / 1e6,
                  "p50_us": ms("p50_latency_ms"), "p99_us": ms("p99_latency_ms"),
                  "max_us": ms("max_latency_ms")}))' >"$dir/$name.json"
}
# A run that dies (an NNG shutdown race in the client library, see docs/performance.md) is run
# once more and noted in $dir/retries; a second failure stops the script.
bench() {
    local name="$1"; shift
    if ! "$eddy" bench "$@" --json --quiet >"$dir/$name.json"; then
        echo "$name" >>"$dir/retries"
        "$eddy" bench "$@" --json --quiet >"$dir/$name.json"
    fi
}

# Record counts: full runs last a few seconds per workload on a 2-core machine.
if [ "$quick" = 1 ]; then
    n_batched=200000; n_unbatched=10000; n_durable=5000; n_durable_batched=100000
    n_durable_producer=20000
    n_consume=200000; n_idle=200; n_load=10000; n_rtt=2000; n_mem=200000; n_scale=200000
    n_scale_unbatched=10000
else
    n_batched=3000000; n_unbatched=100000; n_durable=50000; n_durable_batched=1000000
    n_durable_producer=1000000
    n_consume=3000000; n_idle=2000; n_load=100000; n_rtt=20000; n_mem=1000000; n_scale=4000000
    n_scale_unbatched=100000
fi

for run in $(seq "$runs"); do
    dir="$out/run$run"
    mkdir -p "$dir"
    echo "peers.sh: run $run of $runs (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    cut -d' ' -f1-3 /proc/loadavg >"$dir/load"

    if [ "$memory_only" = 0 ]; then
        # Batched produce: 1,000 records per request, acks=leader, fast durability.
        bench produce_batched produce --records "$n_batched" --batch 1000 --acks leader \
            --partitions 4 --connections 4 --inflight 2
        # Unbatched produce (8 producers, each its own partition), and the same pattern on raw NNG.
        bench produce_unbatched produce --records "$n_unbatched" --batch 1 --connections 8 \
            --partitions 8
        "$nngpeer" --requests "$n_unbatched" --batch 1 --size 100 --connections 8 --json \
            >"$dir/nng_unbatched.json"
        # Durable acks with group commit: 50 unbatched producers, and batched.
        bench produce_durable50 produce --durability durable --acks durable --records "$n_durable" \
            --batch 1 --connections 50 --partitions 4
        # The same 50 producers each keeping up to 5 requests in flight, as a Kafka producer does
        # by default (max.in.flight.requests.per.connection=5): more records per fsync.
        bench produce_durable50_inflight5 produce --durability durable --acks durable \
            --records "$n_durable" --batch 1 --connections 50 --partitions 4 --inflight 5
        # 50 producers of the client library, each keeping 64 records outstanding that it sends
        # one at a time: the library batches what queues while a batch is in flight, as a Kafka
        # producer does under load (linger 0, Kafka's default before 4.0). Its peer is Redis
        # with 64 commands pipelined per client.
        bench producer_durable50 producer --durability durable --acks durable \
            --records "$n_durable_producer" --connections 50 --partitions 4 --inflight 64 \
            --linger-ms 0
        # The same 50 unbatched producers over the Kafka listener (50 connections speaking
        # Produce v8 from one epoll thread, as redis-benchmark's are to Redis), durable and not.
        bench kafka_durable50 produce --kafka --durability durable --acks durable \
            --records "$n_durable" --batch 1 --connections 50 --partitions 4
        bench kafka_unbatched50 produce --kafka --records "$n_durable" --batch 1 --connections 50 \
            --partitions 4
        # What bounds it here: the same 50 connections without fsync, and on raw NNG.
        bench produce_unbatched50 produce --records "$n_durable" --batch 1 --connections 50 \
            --partitions 4
        "$nngpeer" --requests "$n_durable" --batch 1 --size 100 --connections 50 --json \
            >"$dir/nng_unbatched50.json"
        bench produce_durable_batched produce --durability durable --acks durable \
            --records "$n_durable_batched" --batch 1000 --partitions 4 --connections 4 --inflight 2
        "$enginebench" --sqlite-only --durability durable --records "$n_durable_batched" \
            --size 100 --dir "$tmp/sqlite" >"$dir/sqlite_durable.json"
        # Consume (batched fetch) from a filled topic.
        bench consume consume --records "$n_consume" --batch 1000 --partitions 4 --connections 4
        # Latency: idle and under 10,000 records/s (long-poll fetch), and the raw NNG round trip.
        bench e2e_idle e2e --records "$n_idle" --rate 200
        bench e2e_load e2e --records "$n_load" --rate 10000 --partitions 2 --connections 2
        # The same two over the Kafka listener (Produce v8, Fetch v4 long-polls), the path kcat
        # and librdkafka take.
        bench e2e_idle_kafka e2e --kafka --records "$n_idle" --rate 200
        bench e2e_load_kafka e2e --kafka --records "$n_load" --rate 10000 --partitions 2 \
            --connections 2
        # The same 10,000 records/s sent as 1,000 requests/s of 10 records (latency from the send of
        # each request: a producer's linger is not counted).
        bench e2e_load_batched e2e --records "$n_load" --rate 10000 --batch 10 --partitions 2 \
            --connections 2
        "$nngpeer" --requests "$n_idle" --rate 200 --batch 1 --size 100 --json >"$dir/nng_idle.json"
        bench roundtrip roundtrip --records "$n_rtt"
        "$nngpeer" --requests "$n_rtt" --batch 1 --size 100 --connections 1 --json >"$dir/nng_rtt.json"
        # Scale: 10 topics x 1,000 partitions, 1,000 connections.
        bench scale_batched produce --records "$n_scale" --batch 1000 --topics 10 --partitions 1000 \
            --connections 1000
        bench scale_unbatched produce --records "$n_scale_unbatched" --batch 1 --topics 10 \
            --partitions 1000 --connections 1000

        # Redis Streams, no persistence: XADD pipelined (50 clients x 64) and not, then the reads.
        start_redis fast
        redis_bench xadd_p64 "$redis_port" -c 50 -P 64 -n "$n_batched"
        redis_bench xadd_p1 "$redis_port" -c 50 -P 1 -n "$n_unbatched"
        redis-cli -p "$redis_port" del bench >/dev/null
        redis-benchmark -p "$redis_port" -q -c 50 -P 64 -n "$n_consume" XADD bench '*' f "$value" \
            >/dev/null
        "$redispeer" --port "$redis_port" --count 100 --connections 4 >"$dir/xread100.json"
        "$redispeer" --port "$redis_port" --count 100 --connections 4 --group \
            >"$dir/xreadgroup100.json"
        stop_redis
        # Redis with an fsync per write (per event-loop pass), 50 clients, unpipelined and
        # pipelined.
        start_redis always
        redis_bench xadd_always "$redis_port" -c 50 -P 1 -n "$n_durable"
        redis_bench xadd_always_p64 "$redis_port" -c 50 -P 64 -n "$n_durable_producer"
        stop_redis
        # The floor of that row on this machine (tests/bench/resp_floor.cpp), same clients: a
        # server that only answers, and one that also makes each pass's XADDs durable the
        # cheapest way (one pwrite into a preallocated file and one fdatasync per pass).
        for flush in none loop; do
            start_floor "$flush"
            redis_bench "floor_$flush" "$floor_port" -c 50 -P 1 -n "$n_durable"
            stop_floor "$dir/floor_${flush}_server.json"
        done
    fi

    # Memory: RSS growth per retained record, a fresh Redis and a fresh eddy broker process,
    # after N and after 2N records (each measured once the server settled), and its peak.
    start_redis fast
    before=$(rss_bytes "$redis_pid")
    redis-benchmark -p "$redis_port" -q -c 50 -P 64 -n "$n_mem" XADD bench '*' f "$value" \
        >/dev/null
    after=$(settled_rss_bytes "$redis_pid")
    redis-benchmark -p "$redis_port" -q -c 50 -P 64 -n "$n_mem" XADD bench '*' f "$value" \
        >/dev/null
    after2=$(settled_rss_bytes "$redis_pid")
    peak=$(peak_bytes "$redis_pid")
    echo "{\"records\": $n_mem, \"rss_before\": $before, \"rss_after\": $after," \
        "\"rss_after_twice\": $after2, \"rss_peak\": $peak, \"payload\": 101}" \
        >"$dir/mem_redis.json"
    stop_redis

    start_broker
    url="tcp://127.0.0.1:$broker_port"
    before=$(rss_bytes "$broker_pid")
    "$eddy" bench produce --broker "$url" --topic mem --records "$n_mem" --batch 1000 \
        --connections 4 --partitions 4 --json --quiet >"$dir/mem_fill1.json"
    after=$(settled_rss_bytes "$broker_pid")
    "$eddy" bench produce --broker "$url" --topic mem --records "$n_mem" --batch 1000 \
        --connections 4 --partitions 4 --json --quiet >"$dir/mem_fill2.json"
    after2=$(settled_rss_bytes "$broker_pid")
    peak=$(peak_bytes "$broker_pid")
    echo "{\"records\": $n_mem, \"rss_before\": $before, \"rss_after\": $after," \
        "\"rss_after_twice\": $after2, \"rss_peak\": $peak, \"payload\": 100}" \
        >"$dir/mem_eddy.json"
    stop_broker
done

python3 "$root/tests/bench/peers_table.py" "$out"
echo "peers.sh: raw results in $out" >&2
