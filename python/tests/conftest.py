"""Shared helpers of the Python tests: random operator inputs, the relative error, bf16
rounding and the upstream checkpoints (tests/data)."""

import os
import pathlib

import numpy as np
import pytest

DATA_DIR = pathlib.Path(
    os.environ.get("SSE_TEST_DATA_DIR", pathlib.Path(__file__).resolve().parents[2] / "tests" / "data")
)


def rel_error(out, ref):
    """||out - ref|| / ||ref||, in float64."""
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(out - ref) / np.linalg.norm(ref))


def round_to_bf16(x):
    """float32 -> the nearest bfloat16 (ties to even), as float32."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def attention_inputs(rng, base, B, T, H, K, V, N, *, packed=None):
    """Random operator inputs of upstream's value ranges: keys and queries of both branches,
    values, log decays in (-1, 0) (GLA per key, GDN per head), betas in (0, 1) (GDN), logits."""
    def normal(*shape, scale=1.0):
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    gate_shape = (B, T, H, K) if base == "gla" else (B, T, H)
    args = dict(
        q1=normal(B, T, H, K), k1=normal(B, T, H, K), q2=normal(B, T, H, K), k2=normal(B, T, H, K),
        v=normal(B, T, H, V),
        g1=-rng.uniform(0.01, 1.0, gate_shape).astype(np.float32),
        g2=-rng.uniform(0.01, 1.0, gate_shape).astype(np.float32),
        eta=normal(B, T, N, scale=2.0),
    )
    if base == "gdn":
        args["beta1"] = rng.uniform(0.05, 1.0, (B, T, H)).astype(np.float32)
        args["beta2"] = rng.uniform(0.05, 1.0, (B, T, H)).astype(np.float32)
    return args


def positional(args):
    """The eight positional tensors of sse.attention, in its order."""
    return [args[name] for name in ("q1", "k1", "q2", "k2", "v", "g1", "g2", "eta")]


def keywords(args):
    return {name: args[name] for name in ("beta1", "beta2") if name in args}


@pytest.fixture
def rng(request):
    # A fresh seed per test, printed on failure (pytest shows the test's name; the seed is its hash).
    seed = abs(hash(request.node.nodeid)) % (2**32)
    return np.random.default_rng(seed)
