#!/usr/bin/python3
"""Render docs/model_speed.png from bench_model's JSON output (its BM_Length cases).

    SSE_BENCH_LAYERS=4 build/bench/bench_model --benchmark_filter=BM_Length \\
        --benchmark_out=docs/bench/model.json --benchmark_out_format=json
    /usr/bin/python3 scripts/plot_model.py docs/bench/model.json docs

Two panels against the prompt length: prefill tokens/s beside its floor (the SGEMM rate over
the useful FLOPs per token), and the following decode's ms/token beside its floor (the time to
read every weight a token reads). Needs Debian's python3-matplotlib.
"""

import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def load(path):
    """[(T, counters)] of the BM_Length runs, sorted by T."""
    rows = []
    for run in json.loads(Path(path).read_text())["benchmarks"]:
        match = re.match(r"BM_Length/(\d+)", run["name"])
        if match and run.get("run_type", "iteration") == "iteration":
            rows.append((int(match.group(1)), run))
    return sorted(rows)


def main(json_path, out_dir):
    rows = load(json_path)
    if not rows:
        sys.exit(f"{json_path}: no BM_Length runs")
    T = [t for t, _ in rows]
    fig, (prefill, decode) = plt.subplots(1, 2, figsize=(10, 4))
    prefill.plot(T, [r["prefill_tokens/s"] for _, r in rows], "o-", label="prefill")
    prefill.plot(T, [r["prefill_floor_tokens/s"] for _, r in rows], "k--",
                 label="SGEMM bound (useful FLOPs / SGEMM rate)")
    prefill.set(xscale="log", xlabel="prompt tokens", ylabel="tokens/s", ylim=(0, None),
                title="prefill")
    decode.plot(T, [r["decode_ms"] for _, r in rows], "o-", label="decode after the prompt")
    decode.plot(T, [r["decode_floor_ms"] for _, r in rows], "k--",
                label="bandwidth bound (weight read time)")
    decode.set(xscale="log", xlabel="prompt tokens", ylabel="ms/token", ylim=(0, None),
               title="decode")
    for ax in (prefill, decode):
        ax.set_xticks(T, [str(t) for t in T])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle("SpikingBrain2.0-5B widths, 4 layers, bf16 weights, 2 threads", fontsize=10)
    fig.tight_layout()
    out = Path(out_dir) / "model_speed.png"
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
