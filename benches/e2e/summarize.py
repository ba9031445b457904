#!/usr/bin/env python3
"""Summarize benches/e2e/run.sh results: medians per scenario and broker, ratio ours/mosquitto.

    summarize.py results.jsonl          # markdown tables
    summarize.py --one 'JSON LINE'      # one line about one run (progress output)
"""

import json
import statistics
import sys

# scenario -> (label, unit, how to get the value from a report, higher is better)
METRICS = {
    "qos0-fanin": ("QoS 0 fan-in 4 -> 1, 64 B", "msg/s", lambda r: r["traffic"]["throughput"], True),
    "qos1-fanin": ("QoS 1 fan-in 4 -> 1, 64 B", "msg/s", lambda r: r["traffic"]["throughput"], True),
    "qos0-fanout": ("QoS 0 fan-out 1 -> 100, 64 B", "deliveries/s", lambda r: r["traffic"]["throughput"], True),
    "latency": ("p99 latency, QoS 0 at 10k msg/s", "ms", lambda r: r["latency"]["p99_us"] / 1000, False),
    "connections": ("RSS per idle connection", "bytes", lambda r: r["connections"]["bytes_per_connection"], False),
}


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def value(run, get):
    try:
        return get(run["report"])
    except (KeyError, TypeError):
        return None


def one(line):
    run = json.loads(line)
    r = run["report"]
    if r is None:
        return "FAILED (see bench.err)" + ("" if run["broker_alive"] else ", broker died")
    parts = []
    if r.get("traffic"):
        t = r["traffic"]
        parts.append(f"{t['throughput']:,.0f} deliveries/s, lost {t['lost']:,}")
    if r.get("latency"):
        lat = r["latency"]
        parts.append(f"p50 {lat['p50_us'] / 1000:.3f} ms, p99 {lat['p99_us'] / 1000:.3f} ms")
    if r.get("connections"):
        c = r["connections"]
        parts.append(f"{c['succeeded']} connected, {fmt(c['bytes_per_connection'])} B each")
    if r.get("broker_cpu"):
        parts.append(f"broker {r['broker_cpu']['cores_used']:.2f} cores")
    g = r["generator"]
    parts.append(f"generator {g['utilization'] * 100:.0f}%" + (" SATURATED" if g["saturated"] else ""))
    if r["problems"]:
        parts.append("PROBLEMS: " + "; ".join(r["problems"]))
    if not run["broker_alive"]:
        parts.append("BROKER DIED")
    return ", ".join(parts)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    passes = sorted({r["pinned"] for r in runs}, reverse=True)
    out = []
    for p in passes:
        title = "pinned: broker on CPU 0, generator on CPU 1" if p else "unpinned"
        out.append(f"### {title}\n")
        out.append("| scenario | unit | ours | smol | mosquitto | ours/mosquitto | smol/mosquitto | runs | ours, per broker CPU s | smol, per broker CPU s | mosquitto, per broker CPU s | ratio per CPU s |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        notes = []
        for s, (label, unit, get, higher) in METRICS.items():
            sel = {b: [r for r in runs if r["pinned"] == p and r["scenario"] == s and r["broker"] == b]
                   for b in ("ours", "smol", "mosquitto")}
            if not any(sel.values()):
                continue
            med = {b: median(value(r, get) for r in rs) for b, rs in sel.items()}
            per_cpu = {b: median(value(r, lambda x: x["broker_cpu"]["deliveries_per_cpu_s"]) for r in rs)
                       for b, rs in sel.items()}
            ratio = med["ours"] / med["mosquitto"] if med["ours"] and med["mosquitto"] else None
            cpu_ratio = per_cpu["ours"] / per_cpu["mosquitto"] if per_cpu["ours"] and per_cpu["mosquitto"] else None
            smol_ratio = med["smol"] / med["mosquitto"] if med["smol"] and med["mosquitto"] else None
            n = "/".join(str(len(sel[b])) for b in ("ours", "smol", "mosquitto"))
            out.append(f"| {label} | {unit} | {fmt(med['ours'])} | {fmt(med['smol'])} | {fmt(med['mosquitto'])} | "
                       f"{fmt(ratio)}{'' if higher else ' (lower is better)' if ratio else ''} | {fmt(smol_ratio)} | {n} | "
                       f"{fmt(per_cpu['ours'])} | {fmt(per_cpu['smol'])} | {fmt(per_cpu['mosquitto'])} | {fmt(cpu_ratio)} |")
            for b, rs in sel.items():
                cores = median(value(r, lambda x: x["broker_cpu"]["cores_used"]) for r in rs)
                gen = median(value(r, lambda x: x["generator"]["utilization"]) for r in rs)
                sat = sum(1 for r in rs if r["report"] and r["report"]["generator"]["saturated"])
                lost = [value(r, lambda x: x["traffic"]["lost"]) for r in rs]
                extra = []
                if s == "latency":
                    for q in ("p50_us", "p999_us", "max_us"):
                        extra.append(f"{q[:-3]} {fmt(median(value(r, lambda x, q=q: x['latency'][q] / 1000) for r in rs))} ms")
                if any(x for x in lost if x):
                    extra.append(f"lost per run {lost}")
                if s == "connections":
                    extra.append(f"connected {[value(r, lambda x: x['connections']['succeeded']) for r in rs]}")
                failed = sum(1 for r in rs if r["report"] is None)
                died = sum(1 for r in rs if not r["broker_alive"])
                problems = sorted({pr for r in rs if r["report"] for pr in r["report"]["problems"]})
                notes.append(
                    f"- {s}, {b}: broker {fmt(cores)} cores, generator {fmt(gen * 100 if gen is not None else None)}% "
                    f"of its cores{f', SATURATED in {sat} runs' if sat else ''}"
                    f"{', ' + ', '.join(extra) if extra else ''}"
                    f"{f', {failed} runs failed' if failed else ''}{f', broker died in {died} runs' if died else ''}"
                    f"{', problems: ' + ' | '.join(problems[:3]) if problems else ''}")
        out.append("")
        out.extend(notes)
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(one(sys.argv[2]))
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit(__doc__)
