"""The cost of calling the operator from Python: sse.attention against the same call timed
inside `sse-run attention --repeat` (C++), same inputs, same thread count, one run.

    PYTHONPATH=build/python python3 bench/python/call_overhead.py build/examples/sse-run [--threads 2]

Cases: a decode step (B=1, T=1) and a 4k-token prefill (B=1, T=4096), both H=4, K=V=128, N=4,
k=1, from random states. Python three ways: returning new o and ht (the default), writing
preallocated out_o and out_ht (what sse-run does with its buffers) and in place (out_o given,
out_ht=h0).
"""

import argparse
import pathlib
import re
import subprocess
import tempfile
import time

import numpy as np

import sse


def median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def sse_run_ms(sse_run, folder, threads, repeat):
    out = folder / "out"
    result = subprocess.run(
        [sse_run, "attention", "--base", "gla", "--in", str(folder), "--out", str(out),
         "--threads", str(threads), "--repeat", str(repeat)],
        check=True, capture_output=True, text=True)
    return float(re.search(r"median=([0-9.]+)", result.stderr).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sse_run")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    H, K, V, N = 4, 128, 128, 4
    for name, T, repeat in (("decode step", 1, 2000), ("4k prefill", 4096, 20)):
        def normal(*shape):
            return rng.standard_normal(shape, dtype=np.float32)
        tensors = dict(q1=normal(1, T, H, K), k1=normal(1, T, H, K), q2=normal(1, T, H, K),
                       k2=normal(1, T, H, K), v=normal(1, T, H, V),
                       g1=-rng.uniform(0.01, 0.5, (1, T, H, K)).astype(np.float32),
                       g2=-rng.uniform(0.01, 0.5, (1, T, H, K)).astype(np.float32),
                       eta=normal(1, T, N), h0=normal(1, 1 + N, H, K, V))
        operands = [tensors[n] for n in ("q1", "k1", "q2", "k2", "v", "g1", "g2", "eta")]
        h0 = tensors["h0"]
        with tempfile.TemporaryDirectory() as tmp:
            folder = pathlib.Path(tmp)
            for key, value in tensors.items():
                np.save(folder / f"{key}.npy", value)
            cpp = sse_run_ms(args.sse_run, folder, args.threads, repeat)
        fresh = median_ms(lambda: sse.attention(*operands, base="gla", h0=h0, threads=args.threads),
                          repeat)
        out_o, out_ht = np.empty_like(tensors["v"]), np.empty_like(h0)
        given = median_ms(lambda: sse.attention(*operands, base="gla", h0=h0, out_o=out_o,
                                                out_ht=out_ht, threads=args.threads), repeat)
        state = h0.copy()
        in_place = median_ms(lambda: sse.attention(*operands, base="gla", h0=state, out_o=out_o,
                                                   out_ht=state, threads=args.threads), repeat)
        print(f"{name}: C++ {cpp * 1e3:.1f} us; Python, new o and ht {fresh * 1e3:.1f} us "
              f"({fresh / cpp:.2f}x), out_o and out_ht given {given * 1e3:.1f} us "
              f"({given / cpp:.2f}x), "
              f"in place {in_place * 1e3:.1f} us ({in_place / cpp:.2f}x); "
              f"{args.threads} threads, median of {repeat}")


if __name__ == "__main__":
    main()
