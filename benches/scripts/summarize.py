#!/usr/bin/env python3
"""Turns the criterion results of `cargo bench -p benches --bench codec` into the
markdown tables of benches/README.md.

Usage: python3 benches/scripts/summarize.py [CRITERION_DIR]   (default: target/criterion)
       python3 benches/scripts/summarize.py target/paired/codec.json   (paired mode)

Every number is criterion's median (of the per-sample mean times), in ns per packet
(per filter/topic pair for topic matching). The ratio is the faster of mqttbytes and
mqtt-protocol-core divided by mqtt-proto: above 1 means mqtt-proto is faster.

Given the JSON file of the paired mode (`-- --paired`), it prints the tables that run
printed: each number is the median over the rounds, the ratio is the median of the
per-round ratios, followed by their interquartile range.
"""
import json
import pathlib
import sys

MP, MB, MPC = "mqtt-proto", "mqttbytes", "mqtt-protocol-core"


def load(root):
    results = {}
    for bench in root.glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        ns = est["median"]["point_estimate"]
        tp = meta.get("throughput") or {}
        elements = tp.get("Elements") or tp.get("elements")
        if elements:
            ns /= elements
        results.setdefault(meta["group_id"], {})[meta["function_id"]] = ns
    return results


def load_paired(path):
    """The paired mode's results, and per workload the statistics of its per-round ratios."""
    data = json.loads(path.read_text())
    results, ratios = {}, {}
    for w in data["workloads"]:
        results[w["workload"]] = {r["id"]: r["ns"]["median"] for r in w["routines"]}
        ratios[w["workload"]] = w["ratio"]
    return results, ratios


def fmt(ns):
    if ns is None:
        return "n/a"
    return f"{ns:,.0f}" if ns >= 100 else f"{ns:.1f}"


def order(group):
    kind, _, case = group.partition("/")
    kinds = ["publish-decode", "publish-decode-stream16", "publish-encode", "connect-decode", "connect-encode",
             "subscribe-decode", "subscribe-encode", "topic-match"]
    parts = case.split("-")
    return (kinds.index(kind) if kind in kinds else 99, parts[0],
            "16KiB" in case, case)


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    paired = root.suffix == ".json"
    if paired:
        results, ratios = load_paired(root)
        print(f"| workload | {MP} | {MB} | {MPC} | ratio | ratio p25-p75 |")
        print("|---|---:|---:|---:|---:|---:|")
    else:
        results = load(root)
        print(f"| workload | {MP} | {MB} | {MPC} | ratio |")
        print("|---|---:|---:|---:|---:|")
    extra = []
    for group in sorted(results, key=order):
        r = results[group]
        others = [r[k] for k in (MB, MPC) if k in r]
        if MP in r:
            row = f"| {group} | {fmt(r.get(MP))} | {fmt(r.get(MB))} | {fmt(r.get(MPC))} |"
            if paired:
                st = ratios[group]
                if st:
                    row += f" {st['median']:.2f}x | {st['p25']:.2f}-{st['p75']:.2f} |"
                else:
                    row += " n/a | n/a |"
            else:
                row += f" {min(others) / r[MP]:.2f}x |" if others else " n/a |"
            print(row)
        for k, v in sorted(r.items()):
            if k not in (MP, MB, MPC):
                extra.append((group, k, v))
    if extra:
        print()
        print("| workload | variant | ns |")
        print("|---|---|---:|")
        for group, k, v in extra:
            print(f"| {group} | {k} | {fmt(v)} |")


if __name__ == "__main__":
    main()
