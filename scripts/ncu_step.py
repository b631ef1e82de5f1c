#!/usr/bin/env python3
"""Per-kernel GPU time of one decode step from an ncu CSV (gpu__time_duration per launch).

The step is the kernels after the second-to-last sampling kernel up to the last one, so run the
bench with --gen 3 or more and --no-cuda-graphs. Prints each kernel's launches, total µs and share.
Usage: ncu_step.py FILE.csv [weight_bytes_per_step]
"""
import collections
import csv
import sys


def rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    return list(csv.DictReader(lines))


def kernel_name(signature):
    """'void ns::<unnamed>::k<T>(args)' -> 'k'."""
    name, depth = "", 0
    for ch in signature.split("(")[0].replace("void ", "", 1):
        depth += ch == "<"
        if depth == 0:
            name += ch
        depth -= ch == ">"
    return name.split("::")[-1].strip()


def main():
    path = sys.argv[1]
    launches = []
    for r in rows(path):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = r.get("Metric Unit", "ns")
        value = float(r["Metric Value"].replace(",", ""))
        scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}.get(unit, 1e-3)
        name = kernel_name(r["Kernel Name"])
        launches.append((name, value * scale))
    marks = [i for i, (name, _) in enumerate(launches) if "sample_kernel" in name]
    if len(marks) < 2:
        print(f"{path}: fewer than two sampling kernels; no whole step")
        return
    step = launches[marks[-2] + 1 : marks[-1] + 1]
    total = sum(t for _, t in step)
    per = collections.OrderedDict()
    for name, t in step:
        count, time = per.get(name, (0, 0.0))
        per[name] = (count + 1, time + t)
    print(f"== {path}: {len(step)} kernels, {total:.1f} us of kernel time per decode step")
    for name, (count, time) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:40} {count:5d} x {time / count:8.2f} us = {time:9.1f} us {100 * time / total:5.1f}%")


if __name__ == "__main__":
    main()
