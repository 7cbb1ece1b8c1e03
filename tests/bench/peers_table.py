#!/usr/bin/env python3
"""Summarises the runs of tests/bench/peers.sh: one Markdown table of medians with the ratio of
each Eddy figure to its peer (median of the per-run ratios) next to the target of the
performance issue. usage: peers_table.py RESULTS_DIR"""
import json
import os
import statistics
import sys


def load(run_dir, name):
    with open(os.path.join(run_dir, name + ".json")) as f:
        return json.loads(f.read())


def mem_overhead(m):
    """RSS growth per retained record over the first N records, beyond its payload (bytes;
    negative: less than the payload)."""
    return (m["rss_after"] - m["rss_before"]) / m["records"] - m["payload"]


def mem_overhead_second(m):
    """The same over the second N records: what one more retained record costs."""
    return (m["rss_after_twice"] - m["rss_after"]) / m["records"] - m["payload"]


def fmt(v, unit):
    if unit == "rec/s":
        return f"{v:,.0f} rec/s"
    if unit == "us":
        return f"{v:,.0f} µs"
    if unit == "B":
        return f"{v:,.1f} B"
    return f"{v:,.2f}"


# (label, eddy figure, peer label, peer figure, unit, how to compare, target)
# compare "ge": eddy/peer >= target; "le": eddy/peer <= target; "abs": eddy <= target (µs).
ROWS = [
    ("Batched produce (1,000/req, acks=leader, fast)",
     lambda r: load(r, "produce_batched")["records_per_s"],
     "Redis XADD, 50 clients, pipeline 64",
     lambda r: load(r, "xadd_p64")["records_per_s"], "rec/s", "ge", 2.0),
    ("Unbatched produce (1/req, 8 connections, 8 partitions)",
     lambda r: load(r, "produce_unbatched")["records_per_s"],
     "raw NNG, same pattern",
     lambda r: load(r, "nng_unbatched")["records_per_s"], "rec/s", "ge", 0.85),
    ("Unbatched produce (1/req, 8 connections, 8 partitions)",
     lambda r: load(r, "produce_unbatched")["records_per_s"],
     "Redis XADD, 50 clients, unpipelined",
     lambda r: load(r, "xadd_p1")["records_per_s"], "rec/s", "ge", None),
    ("Durable produce, 50 unbatched producers (group commit)",
     lambda r: load(r, "produce_durable50")["records_per_s"],
     "Redis XADD, appendfsync always, 50 clients",
     lambda r: load(r, "xadd_always")["records_per_s"], "rec/s", "ge", 1.5),
    ("Durable produce, 50 producers × 5 in flight (Kafka's default pipelining)",
     lambda r: load(r, "produce_durable50_inflight5")["records_per_s"],
     "Redis XADD, appendfsync always, 50 clients",
     lambda r: load(r, "xadd_always")["records_per_s"], "rec/s", "ge", None),
    # The same target with batching on both sides: records sent one at a time through the client
    # library's Producer (64 outstanding per producer), against Redis pipelining 64 per client.
    ("Durable produce, 50 client-library producers × 64 records outstanding (the library "
     "batches them)",
     lambda r: load(r, "producer_durable50")["records_per_s"],
     "Redis XADD, appendfsync always, 50 clients, pipeline 64",
     lambda r: load(r, "xadd_always_p64")["records_per_s"], "rec/s", "ge", 1.5),
    # What bounds the unbatched rows above on this machine: the transport's own rate for 50 unbatched
    # request/reply connections, and the broker's rate for them without fsync.
    ("Raw NNG, 50 connections, 1/req (the transport's ceiling for 50 unbatched producers)",
     lambda r: load(r, "nng_unbatched50")["records_per_s"],
     "Redis XADD, appendfsync always, 50 clients",
     lambda r: load(r, "xadd_always")["records_per_s"], "rec/s", "ge", None),
    ("Durable produce, 50 unbatched producers (group commit)",
     lambda r: load(r, "produce_durable50")["records_per_s"],
     "Eddy fast produce, 50 unbatched producers, acks=leader",
     lambda r: load(r, "produce_unbatched50")["records_per_s"], "rec/s", "ge", None),
    # The same producers over the Kafka listener (Produce v8 on nng_stream, thin clients).
    ("Kafka protocol: durable produce, 50 unbatched producers (acks=-1)",
     lambda r: load(r, "kafka_durable50")["records_per_s"],
     "Redis XADD, appendfsync always, 50 clients",
     lambda r: load(r, "xadd_always")["records_per_s"], "rec/s", "ge", None),
    ("Kafka protocol: produce, 50 unbatched producers (acks=1)",
     lambda r: load(r, "kafka_unbatched50")["records_per_s"],
     "Redis XADD, 50 clients, unpipelined",
     lambda r: load(r, "xadd_p1")["records_per_s"], "rec/s", "ge", None),
    ("Kafka protocol: produce, 50 unbatched producers (acks=1)",
     lambda r: load(r, "kafka_unbatched50")["records_per_s"],
     "raw NNG, 50 connections, 1/req",
     lambda r: load(r, "nng_unbatched50")["records_per_s"], "rec/s", "ge", None),
    # The floor of the durable rows for these clients (tests/bench/resp_floor.cpp, driven by
    # redis-benchmark as Redis is): what 1.5x Redis always asks against what a server that does
    # nothing but answer, or nothing but one pwrite + fdatasync per pass, reaches here.
    ("Floor: a server that only answers, 50 clients (redis-benchmark, unpipelined)",
     lambda r: load(r, "floor_none")["records_per_s"],
     "Redis XADD, appendfsync always, 50 clients",
     lambda r: load(r, "xadd_always")["records_per_s"], "rec/s", "ge", None),
    ("Floor: one pwrite + fdatasync into a preallocated file per pass, 50 clients",
     lambda r: load(r, "floor_loop")["records_per_s"],
     "Redis XADD, appendfsync always, 50 clients",
     lambda r: load(r, "xadd_always")["records_per_s"], "rec/s", "ge", None),
    ("Kafka protocol: durable produce, 50 unbatched producers (acks=-1)",
     lambda r: load(r, "kafka_durable50")["records_per_s"],
     "Floor: one pwrite + fdatasync per pass, 50 clients",
     lambda r: load(r, "floor_loop")["records_per_s"], "rec/s", "ge", None),
    ("Durable produce, batched (1,000/req)",
     lambda r: load(r, "produce_durable_batched")["records_per_s"],
     "raw SQLite, WAL, synchronous=FULL, 1,000 rows/commit",
     lambda r: load(r, "sqlite_durable")["records_per_s"], "rec/s", "ge", 0.5),
    ("Consume (batched fetch, 1,000/req)",
     lambda r: load(r, "consume")["records_per_s"],
     "Redis XREAD COUNT 100",
     lambda r: load(r, "xread100")["records_per_s"], "rec/s", "ge", 1.5),
    ("Consume (batched fetch, 1,000/req)",
     lambda r: load(r, "consume")["records_per_s"],
     "Eddy batched produce (same run)",
     lambda r: load(r, "produce_batched")["records_per_s"], "rec/s", "ge", 1.0),
    ("Consume (batched fetch, 1,000/req)",
     lambda r: load(r, "consume")["records_per_s"],
     "Redis XREADGROUP COUNT 100 + XACK",
     lambda r: load(r, "xreadgroup100")["records_per_s"], "rec/s", "ge", None),
    ("Idle produce→consume p50 (200 rec/s)",
     lambda r: load(r, "e2e_idle")["p50_us"],
     "raw NNG round trip p50, paced at 200/s",
     lambda r: load(r, "nng_idle")["p50_us"], "us", "le", 2.0),
    ("Idle produce→consume p50 (200 rec/s)",
     lambda r: load(r, "e2e_idle")["p50_us"],
     "raw NNG round trip p50, back to back",
     lambda r: load(r, "nng_rtt")["p50_us"], "us", "le", None),
    ("Idle produce→consume p99 (200 rec/s)",
     lambda r: load(r, "e2e_idle")["p99_us"], "absolute", None, "us", "abs", 1000.0),
    ("Raw NNG round trip p99, paced at 200/s (the machine's floor)",
     lambda r: load(r, "nng_idle")["p99_us"], "absolute", None, "us", "abs", 1000.0),
    ("Produce→consume p99 at 10,000 rec/s (long-poll)",
     lambda r: load(r, "e2e_load")["p99_us"], "absolute", None, "us", "abs", 5000.0),
    ("Idle produce→consume p50 over Kafka's protocol (200 rec/s)",
     lambda r: load(r, "e2e_idle_kafka")["p50_us"],
     "raw NNG round trip p50, paced at 200/s",
     lambda r: load(r, "nng_idle")["p50_us"], "us", "le", 2.0),
    ("Idle produce→consume p99 over Kafka's protocol (200 rec/s)",
     lambda r: load(r, "e2e_idle_kafka")["p99_us"], "absolute", None, "us", "abs", 1000.0),
    ("Produce→consume p99 at 10,000 rec/s over Kafka's protocol (long-poll)",
     lambda r: load(r, "e2e_load_kafka")["p99_us"], "absolute", None, "us", "abs", 5000.0),
    ("Produce→consume p99 at 10,000 rec/s sent 10 per request (not the target)",
     lambda r: load(r, "e2e_load_batched")["p99_us"], "absolute", None, "us", "abs", 5000.0),
    ("Unbatched request round trip p50",
     lambda r: load(r, "roundtrip")["p50_us"],
     "raw NNG round trip p50",
     lambda r: load(r, "nng_rtt")["p50_us"], "us", "le", None),
    ("RAM per retained record beyond payload, first N records",
     lambda r: mem_overhead(load(r, "mem_eddy")),
     "Redis stream entry overhead, first N",
     lambda r: mem_overhead(load(r, "mem_redis")), "B", "le", 0.5),
    ("RAM per retained record beyond payload, second N records",
     lambda r: mem_overhead_second(load(r, "mem_eddy")),
     "Redis stream entry overhead, second N",
     lambda r: mem_overhead_second(load(r, "mem_redis")), "B", "le", None),
    ("Scale: batched produce, 10×1,000 partitions, 1,000 conns",
     lambda r: load(r, "scale_batched")["records_per_s"],
     "Eddy batched produce (4 partitions, 4 conns)",
     lambda r: load(r, "produce_batched")["records_per_s"], "rec/s", "ge", 0.5),
    ("Scale: unbatched produce, 10×1,000 partitions, 1,000 conns",
     lambda r: load(r, "scale_unbatched")["records_per_s"],
     "Eddy unbatched produce (8 conns, 8 partitions)",
     lambda r: load(r, "produce_unbatched")["records_per_s"], "rec/s", "ge", 0.5),
]


def main():
    out = sys.argv[1]
    runs = sorted(os.path.join(out, d) for d in os.listdir(out) if d.startswith("run"))
    print(f"{len(runs)} run(s); load average at the start of each: "
          + "; ".join(open(os.path.join(r, "load")).read().strip() for r in runs))
    print()
    print("| workload | Eddy (median) | peer | peer (median) | ratio (median) | target | met |")
    print("| --- | ---: | --- | ---: | ---: | --- | --- |")
    for label, eddy, peer_label, peer, unit, how, target in ROWS:
        try:
            e = [eddy(r) for r in runs]
            p = [peer(r) for r in runs] if peer else None
        except (OSError, KeyError, ValueError) as err:
            print(f"| {label} | missing ({err}) | {peer_label} | | | | |")
            continue
        em = statistics.median(e)
        if how == "abs":
            met = "yes" if em <= target else "**no**"
            print(f"| {label} | {fmt(em, unit)} | — | — | — | ≤ {fmt(target, unit)} | {met} |")
            continue
        pm = statistics.median(p)
        if unit == "B":
            # Overheads can be zero or negative (RAM not growing with retained records).
            ratio = em / pm if pm > 0 else float("nan")
        else:
            ratio = statistics.median(a / b for a, b in zip(e, p) if b)
        if target is None:
            tgt, met = "(for reference)", ""
        elif how == "ge":
            tgt, met = f"≥ {target}×", "yes" if ratio >= target else "**no**"
        else:
            tgt, met = f"≤ {target}×", "yes" if ratio <= target else "**no**"
        # Two decimals, or three where two would round a miss onto its target (1.496× is not
        # 1.50×).
        shown = f"{ratio:.2f}"
        if target is not None and float(shown) == target and met != "yes":
            shown = f"{ratio:.3f}"
        print(f"| {label} | {fmt(em, unit)} | {peer_label} | {fmt(pm, unit)} | "
              f"{shown}× | {tgt} | {met} |")
    for name, label in (("mem_eddy", "eddy broker"), ("mem_redis", "redis-server")):
        try:
            m = [load(r, name) for r in runs]
            print()
            print(f"{label} RSS (MiB) before / after N / after 2N records, per run: "
                  + "; ".join(f"{x['rss_before'] / 2**20:.0f} / {x['rss_after'] / 2**20:.0f} / "
                              f"{x['rss_after_twice'] / 2**20:.0f}" for x in m)
                  + f" (N = {m[0]['records']:,})")
            if all("rss_peak" in x for x in m):
                print(f"{label} peak RSS (VmHWM, MiB) over the 2N records, per run: "
                      + "; ".join(f"{x['rss_peak'] / 2**20:.0f}" for x in m))
        except (OSError, KeyError, ValueError):
            pass


if __name__ == "__main__":
    main()
