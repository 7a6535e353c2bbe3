#!/usr/bin/python3
"""Render the benchmark plots of docs/ from bench_scaling's JSON output.

    build/bench/bench_scaling --benchmark_out=docs/bench/scaling.json --benchmark_out_format=json
    /usr/bin/python3 scripts/plot_benchmarks.py docs/bench/scaling.json docs

Writes three PNGs into the output folder:
  throughput_vs_length.png  SSE-GLA, dense GLA and causal softmax attention against T: time per
                            call (log-log, linear vs quadratic growth) and tokens/s
  throughput_vs_partitions.png  SSE-GLA against N at k = 1, sparse and masked paths
  threads.png               1 and 2 threads
Needs Debian's python3-matplotlib (the system python, /usr/bin/python3).
"""

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def load(path):
    """{family: [(arg, seconds per call, tokens/s, label)]} from Google Benchmark JSON."""
    data = json.loads(Path(path).read_text())
    families = defaultdict(list)
    for run in data["benchmarks"]:
        if run.get("run_type", "iteration") != "iteration":
            continue
        match = re.match(r"BM_(\w+?)/\w+:(\d+)", run["name"])
        if not match:
            continue
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[run.get("time_unit", "ns")]
        families[match.group(1)].append(
            (int(match.group(2)), run["real_time"] * unit, run["tokens/s"], run.get("label", "")))
    for runs in families.values():
        runs.sort()
    return families, data.get("context", {})


def machine(context):
    return f"{context.get('num_cpus', '?')} CPUs at {context.get('mhz_per_cpu', '?')} MHz"


def label_axes(ax, xlabel, ylabel, title):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def save(fig, context, path):
    fig.suptitle(f"B=1, H=4, K=V=128, float32; {machine(context)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_length(families, context, out):
    fig, (ax_time, ax_rate) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"Length_Sse": ("SSE-GLA, sparse, N=4, k=1", "tab:blue"),
              "Length_Dense": ("dense GLA (chunked)", "tab:green"),
              "Length_Softmax": ("causal softmax attention", "tab:red")}
    for family, (name, color) in styles.items():
        runs = families.get(family, [])
        if not runs:
            continue
        T = [r[0] for r in runs]
        ax_time.loglog(T, [r[1] * 1e3 for r in runs], "o-", color=color, label=name)
        ax_rate.semilogx(T, [r[2] / 1e3 for r in runs], "o-", color=color, label=name)
    runs = families.get("Length_Dense", [])
    if runs:  # slope guides through the dense GLA's first point
        T0, t0 = runs[0][0], runs[0][1] * 1e3
        T = [r[0] for r in runs]
        ax_time.loglog(T, [t0 * (x / T0) for x in T], ":", color="gray", label="slope 1 (linear)")
        ax_time.loglog(T, [t0 * (x / T0) ** 2 for x in T], "--", color="gray",
                       label="slope 2 (quadratic)")
    lengths = [r[0] for r in families.get("Length_Dense", [])]
    for ax in (ax_time, ax_rate):
        ax.set_xticks(lengths, [str(t) for t in lengths])
        ax.minorticks_off()
    label_axes(ax_time, "sequence length T", "time per call (ms)",
               "Prefill time: linear attention grows as T, softmax as T^2")
    label_axes(ax_rate, "sequence length T", "thousand tokens / s", "Prefill throughput, one thread")
    ax_rate.set_ylim(bottom=0)
    save(fig, context, out / "throughput_vs_length.png")


def plot_partitions(families, context, out):
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for family, name, color in (("Partitions_Sparse", "sparse path", "tab:blue"),
                                ("Partitions_Masked", "masked path", "tab:orange")):
        runs = families.get(family, [])
        if runs:
            ax.plot([r[0] for r in runs], [r[2] / 1e3 for r in runs], "o-", color=color,
                    label=name)
    runs = families.get("Partitions_Masked", [])
    if runs:  # the masked path costs 1 + N states per token: its ideal falls as 2 / (1 + N)
        N1, rate1 = runs[0][0], runs[0][2] / 1e3
        ax.plot([r[0] for r in runs], [rate1 * (1 + N1) / (1 + r[0]) for r in runs], ":",
                color="gray", label="masked ideal, (1 + N) states")
    ax.set_xscale("log", base=2)
    partitions = [r[0] for r in families.get("Partitions_Sparse", [])]
    ax.set_xticks(partitions, [str(n) for n in partitions])
    ax.minorticks_off()
    label_axes(ax, "partitions N (k = 1)", "thousand tokens / s",
               "SSE-GLA, T=4096: the sparse path's cost does not grow with N")
    ax.set_ylim(bottom=0)
    save(fig, context, out / "throughput_vs_partitions.png")


def plot_threads(families, context, out):
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    groups = (("Threads_Sse", "SSE-GLA sparse N=4 k=1"), ("Threads_Dense", "dense GLA"))
    width = 0.35
    for i, (family, name) in enumerate(groups):
        runs = families.get(family, [])
        for j, run in enumerate(runs):
            bar = ax.bar(i + (j - 0.5) * width, run[2] / 1e3, width,
                         color=("tab:blue", "tab:green")[j], label=f"{run[0]} thread(s)"
                         if i == 0 else None)
            if j > 0:
                ax.bar_label(bar, labels=[f"{runs[0][1] / run[1]:.2f}x"], fontsize=8)
    ax.set_xticks(range(len(groups)), [g[1] for g in groups])
    label_axes(ax, "", "thousand tokens / s", "Prefill T=8192 on 1 and 2 threads")
    save(fig, context, out / "threads.png")


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    families, context = load(argv[1])
    out = Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    plot_length(families, context, out)
    plot_partitions(families, context, out)
    plot_threads(families, context, out)
    print(f"wrote {out}/throughput_vs_length.png, throughput_vs_partitions.png, threads.png")


if __name__ == "__main__":
    main(sys.argv)
