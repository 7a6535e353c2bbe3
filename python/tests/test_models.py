"""sse.Model on checkpoints written by upstream's own code (fla's SSE-H, SpikingBrain2.0's
sse_swa_moba; tests/data/README.md), and sse.Layer against the float64 reference of a layer."""

import numpy as np
import pytest

import sse
from conftest import DATA_DIR, rel_error

UPSTREAM = DATA_DIR / "upstream"
TOL = 1e-4  # upstream's float32 GPU products against ours; measured 4e-7 to 1.3e-6
FOLDERS = ["sseh_public", "spb2_public", "spb2_public/bf16"]


def ids_of(path):
    return [int(token) for token in path.read_text().split(",")]


def upstream(folder):
    here = UPSTREAM / folder
    prompt_file = here / "prompt.txt" if (here / "prompt.txt").exists() else here.parent / "prompt.txt"
    return dict(
        model=sse.Model(str(here)),
        prompt=ids_of(prompt_file),
        generated=ids_of(here / "generated.txt"),
        logits=np.load(here / "logits.npy"),
        gen_logits=np.load(here / "gen_logits.npy"),
    )


@pytest.mark.parametrize("folder", FOLDERS)
def test_prompt_logits_match_upstream(folder):
    u = upstream(folder)
    model = u["model"]
    logits = model.logits(u["prompt"])
    assert logits.shape == (len(u["prompt"]), model.vocab_size) and logits.dtype == np.float32
    assert rel_error(logits, u["logits"]) < TOL
    # int32 and int64 arrays, a batch of one, the last position only
    batch = model.logits(np.array([u["prompt"]], dtype=np.int32), threads=1)
    assert np.array_equal(batch[0], logits)
    last = model.logits(np.array(u["prompt"], dtype=np.int64), last_only=True)
    # one row takes the head's dot-product form, all rows its GEMM: not the same bits
    assert last.shape == (model.vocab_size,) and rel_error(last, logits[-1]) < 1e-6


@pytest.mark.parametrize("folder", FOLDERS)
def test_generate_prints_upstream_greedy_ids(folder):
    u = upstream(folder)
    generated = u["generated"]
    assert u["model"].generate(u["prompt"], len(generated)) == generated
    assert u["model"].generate(u["prompt"], 0) == []


@pytest.mark.parametrize("folder", ["sseh_public", "spb2_public"])
def test_decode_through_a_cache_matches_upstream_steps(folder):
    u = upstream(folder)
    model = u["model"]
    cache = model.make_cache()
    step = model.logits(u["prompt"], cache, last_only=True)
    for n, token in enumerate(u["generated"]):
        assert int(np.argmax(step)) == token
        assert rel_error(step, u["gen_logits"][n]) < TOL
        step = model.logits([token], cache, last_only=True)
    assert cache.seen == [len(u["prompt"]) + len(u["generated"])]


def test_batched_sequences_through_one_cache():
    u = upstream("sseh_public")
    model = u["model"]
    prompts = np.array([u["prompt"][:12], u["prompt"][20:32]], dtype=np.int64)
    cache = model.make_cache(batch=2)
    logits = model.logits(prompts, cache)
    assert logits.shape == (2, 12, model.vocab_size)
    for b in range(2):
        assert rel_error(logits[b], model.logits(prompts[b])) < 1e-6
    step = model.logits([[5], [7]], cache, last_only=True)
    assert step.shape == (2, model.vocab_size)
    alone = model.make_cache()
    model.logits(prompts[1], alone)
    assert rel_error(step[1], model.logits([7], alone, last_only=True)) < 1e-6


def test_model_errors():
    model = sse.Model(str(UPSTREAM / "sseh_public"))
    with pytest.raises(ValueError, match="tokens: element \\[0,1\\] = 256 is not a token id in \\[0, 256\\)"):
        model.logits([1, 256])
    cache = model.make_cache(batch=2)
    with pytest.raises(ValueError, match="cache: made for 2 sequences"):
        model.logits([1, 2], cache)
    assert cache.seen == [0, 0]
    other = sse.Model(str(UPSTREAM / "sseh_public"))
    with pytest.raises(ValueError, match="cache: made by another model"):
        other.logits([[1], [2]], cache)
    with pytest.raises(TypeError, match="ids: expected an int32 or int64"):
        model.logits(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="ids: expected a list of ints"):
        model.logits([1, 2.5])
    with pytest.raises(TypeError, match="ids: expected an int32 or int64"):
        model.logits(np.array([1, 2], dtype=np.uint8))
    with pytest.raises(ValueError, match="ids: expected at least one token"):
        model.generate([], 3)
    with pytest.raises(ValueError, match="config.json"):
        sse.Model(str(UPSTREAM / "no_such_model"))


def write_layer_weights(folder, rng, base, D, H, K, V, N, HV=None):
    HV = HV or H
    HK = H * K
    shapes = {
        "q_proj.weight": (HK, D), "k_proj.weight": (HK, D),
        "lora_q_proj.0.weight": (V, D), "lora_q_proj.1.weight": (HK, V),
        "lora_k_proj.0.weight": (V, D), "lora_k_proj.1.weight": (HK, V),
        "v_proj.weight": (HV * V, D), "e_proj.weight": (N, D), "o_norm.weight": (V,),
        "o_proj.weight": (D, HV * V), "g_proj.0.weight": (V, D), "g_proj.1.weight": (HV * V, V),
    }
    if base == "gla":
        for i in ("0", "1"):
            shapes[f"gk_proj.{i}.0.weight"] = (16, D)
            shapes[f"gk_proj.{i}.1.weight"] = (HK, 16)
            shapes[f"gk_proj.{i}.1.bias"] = (HK,)
    else:
        shapes.update({"a_proj.weight": (2 * HV, D), "A_log": (2 * HV,), "dt_bias": (2 * HV,),
                       "b_proj.weight": (2 * HV, D)})
    weights = {}
    for key, shape in shapes.items():
        fan_in = shape[-1] if len(shape) == 2 else 1
        w = rng.standard_normal(shape) / np.sqrt(fan_in)
        if key == "o_norm.weight":
            w = 1 + 0.1 * w
        weights[key] = w.astype(np.float32)
        np.save(folder / f"{key}.npy", weights[key])
    return weights


@pytest.mark.parametrize("base", ["gla", "gdn"])
def test_layer_decodes_as_it_prefills(tmp_path, rng, base):
    D, H, K, V, N = 48, 2, 16, 16, 4
    write_layer_weights(tmp_path, rng, base, D, H, K, V, N)
    layer = sse.Layer(str(tmp_path), base=base, heads=H, writers=2, readers=2)
    assert (layer.hidden, layer.head_dim, layer.value_dim, layer.partitions) == (D, K, V, N)
    x = rng.standard_normal((2, 9, D)).astype(np.float32)
    y = layer(x)
    assert y.shape == x.shape and np.isfinite(y).all()
    cache = layer.make_cache(batch=2)
    first = layer(np.ascontiguousarray(x[:, :5]), cache)
    rest = [layer(np.ascontiguousarray(x[:, t:t + 1]), cache, threads=1) for t in range(5, 9)]
    assert rel_error(np.concatenate([first] + rest, axis=1), y) < 1e-5
    assert np.array_equal(layer(x, threads=1), layer(x, threads=2))


def test_layer_errors(tmp_path, rng):
    write_layer_weights(tmp_path, rng, "gla", 48, 2, 16, 16, 4)
    with pytest.raises(ValueError, match="q_proj.weight: 32 rows are not a multiple of 5 heads"):
        sse.Layer(str(tmp_path), base="gla", heads=5)
    with pytest.raises(ValueError, match="writers: expected 1 <= k <= N = 4"):
        sse.Layer(str(tmp_path), base="gla", heads=2, writers=5)
    with pytest.raises(ValueError, match="a_proj.weight"):
        sse.Layer(str(tmp_path), base="gdn", heads=2)
    layer = sse.Layer(str(tmp_path), base="gla", heads=2)
    with pytest.raises(ValueError, match="x"):
        layer(np.zeros((1, 3, 47), dtype=np.float32))
    with pytest.raises(TypeError, match="x: expected a C-contiguous float32"):
        layer(np.zeros((1, 3, 48)))
    (tmp_path / "o_norm.weight.npy").unlink()
    with pytest.raises(ValueError, match="o_norm.weight"):
        sse.Layer(str(tmp_path), base="gla", heads=2)
