#!/usr/bin/env python3
"""Medians over several `riptide-compare run` JSON files: CPU-µs per request (or echo pair) per system and rate.

Usage: perf/scripts/medians.py results/A.json results/B.json ...
"""
import json, sys, statistics
from collections import defaultdict
cpu = defaultdict(list); p50 = defaultdict(list); fails = defaultdict(int); n = defaultdict(int)
for f in sys.argv[1:]:
    r = json.load(open(f))
    for m in r["echo"] + r["runs"]:
        s = m["summary"]
        key = (m["system"], round(s["offered_rate"]))
        if s["successes"]:
            cpu[key].append(m["server_cpu_us"] / s["successes"])
        p50[key].append(s["latency"].get("flow", s["latency"].get("OPTIONS", {})).get("p50_us", 0))
        fails[key] += s["failures_total"]; n[key] += 1
rates = sorted({k[1] for k in cpu})
systems = []
for k in cpu:
    if k[0] not in systems: systems.append(k[0])
for rate in rates:
    ceiling = min(statistics.median(cpu[(s, rate)]) for s in systems if s.startswith("echo") and (s, rate) in cpu)
    print(f"\n### {rate}/s\n")
    print("| system | runs | failures | CPU-µs per request/pair (median) | all runs | × io_uring echo | × cheapest echo |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    ue = statistics.median(cpu[("echo io_uring multishot", rate)]) if ("echo io_uring multishot", rate) in cpu else float("nan")
    for s in systems:
        if (s, rate) not in cpu: continue
        v = cpu[(s, rate)]; med = statistics.median(v)
        print(f"| {s} | {n[(s,rate)]} | {fails[(s,rate)]} | {med:.2f} | {', '.join(f'{x:.1f}' for x in v)} | {med/ue:.2f} | {med/ceiling:.2f} |")
