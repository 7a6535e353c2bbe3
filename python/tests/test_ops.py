"""sse.attention and sse.scan against their float64 oracles (sse.reference), and how they treat
bad input, in-place states and thread counts."""

import threading
import time

import numpy as np
import pytest

import sse
from conftest import attention_inputs, keywords, positional, rel_error, round_to_bf16

TOL = 1e-4  # float32 kernels against float64; measured about 1e-7 to 1e-6

SHAPES = [  # B, T, H, K, V, N
    (1, 1, 1, 16, 16, 2),
    (2, 37, 2, 32, 16, 4),
    (1, 130, 3, 16, 32, 5),
    (3, 64, 1, 64, 64, 8),
]


@pytest.mark.parametrize("base", ["gla", "gdn"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("path", ["masked", "sparse"])
def test_attention_matches_reference(rng, base, shape, path):
    B, T, H, K, V, N = shape
    args = attention_inputs(rng, base, *shape)
    writers = min(2, N)
    h0 = rng.standard_normal((B, 1 + N, H, K, V)).astype(np.float32)
    out_ht = np.full_like(h0, np.nan)  # poisoned: every state and output must be written
    out_o = np.full((B, T, H, V), np.nan, dtype=np.float32)
    o, ht, routing = sse.attention(*positional(args), base=base, **keywords(args), writers=writers,
                                   readers=writers, path=path, h0=h0, out_o=out_o, out_ht=out_ht,
                                   return_routing=True)
    ro, rht, rrouting = sse.reference.attention(*positional(args), base=base, **keywords(args),
                                                writers=writers, readers=writers, h0=h0,
                                                return_routing=True)
    assert o.dtype == np.float32 and o.shape == (B, T, H, V)
    assert o is out_o and ht is out_ht
    assert rel_error(o, ro) < TOL
    assert rel_error(ht, rht) < TOL
    assert np.array_equal(routing["writer_ids"], rrouting["writer_ids"])
    assert np.array_equal(routing["reader_ids"], rrouting["reader_ids"])
    assert rel_error(routing["p"], rrouting["p"]) < 1e-6


@pytest.mark.parametrize("base", ["gla", "gdn"])
@pytest.mark.parametrize("mode", ["chunk", "recurrent"])
def test_attention_options_match_reference(rng, base, mode):
    """writers != readers (masked path), no p scaling, an explicit scale, qk_l2norm flipped."""
    args = attention_inputs(rng, base, 2, 70, 2, 32, 32, 4)
    options = dict(base=base, **keywords(args), writers=1, readers=3, emulq=False, emulk=False,
                   scale=0.3, qk_l2norm=(base == "gla"))
    o, ht = sse.attention(*positional(args), **options, mode=mode, path="auto")
    ro, rht = sse.reference.attention(*positional(args), **options)
    assert rel_error(o, ro) < TOL and rel_error(ht, rht) < TOL


def test_attention_packed_sequences_and_state_pool(rng):
    """cu_seqlens (int32) packs 3 sequences; state_slots (int64) picks their slots of a pool
    that out_ht defaults to a copy of: the other slots keep h0's states."""
    N, H, K, V = 3, 2, 16, 16
    args = attention_inputs(rng, "gla", 1, 50, H, K, V, N)
    cu_seqlens = np.array([0, 20, 21, 50], dtype=np.int32)
    slots = np.array([4, 0, 2], dtype=np.int64)
    pool = rng.standard_normal((6, 1 + N, H, K, V)).astype(np.float32)
    o, ht = sse.attention(*positional(args), base="gla", h0=pool, cu_seqlens=cu_seqlens,
                          state_slots=slots, writers=2, readers=2)
    ro, rht = sse.reference.attention(*positional(args), base="gla", h0=pool,
                                      cu_seqlens=cu_seqlens, state_slots=slots, writers=2, readers=2)
    assert ht.shape == pool.shape and ht is not pool
    assert rel_error(o, ro) < TOL
    assert rel_error(ht[slots], rht) < TOL
    for untouched in (1, 3, 5):
        assert np.array_equal(ht[untouched], pool[untouched])


def test_attention_key_rows_matches_reference(rng):
    args = attention_inputs(rng, "gla", 1, 40, 2, 32, 16, 4)
    o, ht = sse.attention(*positional(args), base="gla", key_rows=4)
    ro, rht = sse.reference.attention(*positional(args), base="gla", key_rows=4)
    assert rel_error(o, ro) < TOL and rel_error(ht, rht) < TOL


@pytest.mark.parametrize("base", ["gla", "gdn"])
def test_attention_bf16_matches_reference_on_rounded_inputs(rng, base):
    args = attention_inputs(rng, base, 1, 45, 2, 32, 32, 4)
    o, ht = sse.attention(*positional(args), base=base, **keywords(args), bf16=True)
    rounded = {name: (a if name == "eta" else round_to_bf16(a)) for name, a in args.items()}
    ro, rht = sse.reference.attention(*positional(rounded), base=base, **keywords(rounded))
    assert rel_error(o, ro) < TOL and rel_error(ht, rht) < TOL


@pytest.mark.parametrize("base", ["gla", "gdn"])
def test_decode_loop_updates_states_in_place(rng, base):
    """out_ht=h0 and out_o: a Python decode loop keeps one state buffer and one output buffer
    (no array allocated per step); steps equal one call over all."""
    B, T, H, K, V, N = 2, 6, 2, 16, 16, 4
    args = attention_inputs(rng, base, B, T, H, K, V, N)
    full_o, full_ht = sse.attention(*positional(args), base=base, **keywords(args), mode="recurrent")
    state = np.zeros((B, 1 + N, H, K, V), dtype=np.float32)
    address = state.__array_interface__["data"][0]
    out_o = np.empty((B, 1, H, V), dtype=np.float32)
    for t in range(T):
        step = {name: np.ascontiguousarray(a[:, t:t + 1]) for name, a in args.items()}
        out_o.fill(np.nan)  # poisoned: the step must write all of o
        o, ht = sse.attention(*positional(step), base=base, **keywords(step), h0=state,
                              out_o=out_o, out_ht=state)
        assert o is out_o and ht is state and state.__array_interface__["data"][0] == address
        assert np.array_equal(o[:, 0], full_o[:, t])
    assert np.array_equal(state, full_ht)


def test_results_do_not_depend_on_threads(rng):
    args = attention_inputs(rng, "gdn", 3, 300, 4, 32, 32, 4)
    one = sse.attention(*positional(args), base="gdn", **keywords(args), threads=1)
    two = sse.attention(*positional(args), base="gdn", **keywords(args), threads=2)
    default = sse.attention(*positional(args), base="gdn", **keywords(args))
    for a, b, c in zip(one, two, default):
        assert np.array_equal(a, b) and np.array_equal(a, c)


@pytest.mark.parametrize("base", ["gla", "gdn"])
@pytest.mark.parametrize("packed", [False, True])
def test_scan_matches_reference(rng, base, packed):
    B, T, H, K, V = (1, 90, 2, 32, 16) if packed else (2, 70, 3, 16, 32)
    args = attention_inputs(rng, base, B, T, H, K, V, 2)
    S = 3 if packed else B
    extra = dict(cu_seqlens=np.array([0, 10, 61, 90], dtype=np.int64)) if packed else {}
    if base == "gdn":
        extra["beta"] = args["beta1"]
    h0 = rng.standard_normal((S, H, K, V)).astype(np.float32)
    q, k, v, g = args["q1"], args["k1"], args["v"], args["g1"]
    o, ht = sse.scan(q, k, v, g, base=base, h0=h0, **extra)
    ro, rht = sse.reference.scan(q, k, v, g, base=base, h0=h0, **extra)
    assert rel_error(o, ro) < TOL and rel_error(ht, rht) < TOL
    # in place, and the same bits with 1 thread
    state, out_o = h0.copy(), np.full_like(o, np.nan)
    o2, ht2 = sse.scan(q, k, v, g, base=base, h0=state, out_o=out_o, out_ht=state, threads=1,
                       **extra)
    assert o2 is out_o and ht2 is state
    assert np.array_equal(o2, o) and np.array_equal(state, ht)


def test_scan_key_rows_matches_reference(rng):
    args = attention_inputs(rng, "gla", 1, 33, 2, 32, 16, 2)
    q, k, v, g = args["q1"], args["k1"], args["v"], args["g1"]
    o, ht = sse.scan(q, k, v, g, base="gla", key_rows=3, scale=0.5)
    ro, rht = sse.reference.scan(q, k, v, g, base="gla", key_rows=3, scale=0.5)
    assert rel_error(o, ro) < TOL and rel_error(ht, rht) < TOL


# --- bad input ------------------------------------------------------------------------------

def call_with(args, base="gla", **changes):
    tensors = dict(args)
    options = {}
    for name, value in changes.items():
        (tensors if name in tensors else options)[name] = value
    return sse.attention(*positional(tensors), base=base, **keywords(tensors), **options)


@pytest.mark.parametrize(
    "name, bad, message",
    [
        ("q1", lambda a: a.astype(np.float64), "q1: expected a C-contiguous float32 numpy array"),
        ("k2", lambda a: a[:, ::2], "k2: expected a C-contiguous float32 numpy array (no conversion is made), got a float32 array that is not C-contiguous"),
        ("v", lambda a: a.tolist(), "v: expected a C-contiguous float32 numpy array (no conversion is made), got a list"),
        ("eta", lambda a: a.astype(np.float16), "eta: expected a C-contiguous float32"),
        ("g1", lambda a: np.asfortranarray(a), "g1: expected a C-contiguous float32"),
    ],
)
def test_wrong_dtype_or_layout_raises_type_error(rng, name, bad, message):
    args = attention_inputs(rng, "gla", 2, 8, 2, 16, 16, 4)
    args[name] = bad(args[name])
    with pytest.raises(TypeError) as error:
        call_with(args)
    assert message in str(error.value)


def test_integer_arrays_must_be_int32_or_int64(rng):
    args = attention_inputs(rng, "gla", 1, 8, 2, 16, 16, 4)
    with pytest.raises(TypeError, match="cu_seqlens: expected an int32 or int64"):
        call_with(args, cu_seqlens=np.array([0, 8], dtype=np.float32))


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(writers=5), "writers: expected 1 <= k <= N = 4, got 5"),
        (dict(readers=2, writers=1, path="sparse"), "path"),
        (dict(path="fast"), "path: expected 'auto', 'masked' or 'sparse', got 'fast'"),
        (dict(mode="fast"), "mode: expected 'auto', 'chunk' or 'recurrent', got 'fast'"),
        (dict(base="gln"), "base: expected 'gla' or 'gdn', got 'gln'"),
        (dict(scale=float("nan")), "scale"),
        (dict(threads=0), "threads: expected None or 1 to 4096, got 0"),
        (dict(cu_seqlens=np.array([0, 5, 4], dtype=np.int64)), "cu_seqlens"),
        (dict(h0=np.zeros((2, 5, 2, 16, 8), dtype=np.float32)), "h0"),
    ],
)
def test_bad_values_raise_value_error(rng, changes, message):
    args = attention_inputs(rng, "gla", 1 if "cu_seqlens" in changes else 2, 8, 2, 16, 16, 4)
    with pytest.raises(ValueError) as error:
        call_with(args, **changes)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_shape_mismatch_and_missing_beta(rng):
    args = attention_inputs(rng, "gdn", 2, 8, 2, 16, 16, 4)
    with pytest.raises(ValueError, match="beta2: required by base='gdn'"):
        sse.attention(*positional(args), base="gdn", beta1=args["beta1"])
    args["k1"] = args["k1"][:, :7].copy()
    with pytest.raises(ValueError, match="k1"):
        sse.attention(*positional(args), base="gdn", **keywords(args))
    with pytest.raises(ValueError, match="q1: expected 4 dimensions"):
        sse.attention(args["q1"][0], *positional(args)[1:], base="gdn", **keywords(args))


def test_a_rejected_call_changes_nothing(rng):
    args = attention_inputs(rng, "gla", 2, 8, 2, 16, 16, 4)
    state = rng.standard_normal((2, 5, 2, 16, 16)).astype(np.float32)
    before = state.copy()
    args["eta"][1, 3, 2] = np.nan
    with pytest.raises(ValueError, match="eta"):
        call_with(args, h0=state, out_ht=state)
    assert np.array_equal(state, before)
    args["eta"][1, 3, 2] = 0.5
    state.flags.writeable = False
    with pytest.raises(TypeError, match="out_ht: expected a writable array"):
        call_with(args, out_ht=state)


def test_given_outputs_are_checked(rng):
    """out_o and out_ht: errors name the argument; an output may not share an input's memory."""
    args = attention_inputs(rng, "gla", 2, 8, 2, 16, 16, 4)
    o = np.full((2, 8, 2, 16), np.nan, dtype=np.float32)
    with pytest.raises(ValueError, match=r"out_o: expected shape \[B,T,H,V\] = \[2,8,2,16\], got \[2,8,2,8\]"):
        call_with(args, out_o=np.zeros((2, 8, 2, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="out_ht: expected shape"):
        call_with(args, out_ht=np.zeros((2, 5, 2, 16, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="out_o: overlaps an input"):
        call_with(args, out_o=args["v"])
    with pytest.raises(ValueError, match="out_o: overlaps"):
        sse.scan(args["q1"], args["k1"], args["v"], args["g1"], base="gla", out_o=args["q1"])
    with pytest.raises(TypeError, match="out_o: expected a C-contiguous float32"):
        call_with(args, out_o=o.astype(np.float64))
    o.flags.writeable = False
    with pytest.raises(TypeError, match="out_o: expected a writable array"):
        call_with(args, out_o=o)
    assert np.isnan(o).all()


def test_reference_is_a_module():
    from sse.reference import attention, scan  # noqa: F401
    import sse.reference
    assert sse.reference.attention is attention


def test_the_gil_is_released_while_the_kernel_runs(rng):
    """Two Python threads, each calling sse.attention with one kernel thread, take about the
    time of one call on two cores; were the GIL held during the kernel, they would take two.
    (Best of three, against a shared machine's noise.)"""
    args = attention_inputs(rng, "gla", 1, 2048, 8, 64, 64, 4)
    operands = positional(args)

    def call():
        sse.attention(*operands, base="gla", threads=1)

    def timed(threads):
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - start

    one = min(timed([threading.Thread(target=call)]) for _ in range(3))
    two = min(timed([threading.Thread(target=call) for _ in range(2)]) for _ in range(3))
    assert two < 1.6 * one, (two, one)
