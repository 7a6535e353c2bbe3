"""An SSE-GLA layer written in plain PyTorch (DESIGN.md section 4, upstream's SSEGLA) around
sse.attention, against sse.Layer on the same weights: what a researcher does to check a model."""

import numpy as np
import pytest

import sse
from conftest import rel_error
from test_models import write_layer_weights

torch = pytest.importorskip("torch")
F = torch.nn.functional


class TorchSseGla(torch.nn.Module):
    """Projections, activations, gates and the output norm in PyTorch; the SSE operator from
    sse.attention on the tensors' memory (torch -> numpy shares it, no copy)."""

    def __init__(self, weights, heads, v_heads, writers, readers, norm_eps=1e-5):
        super().__init__()
        self.w = {key: torch.from_numpy(value) for key, value in weights.items()}
        self.H, self.HV = heads, v_heads
        self.K = self.w["q_proj.weight"].shape[0] // heads
        self.V = self.w["o_norm.weight"].shape[0]
        self.writers, self.readers, self.eps = writers, readers, norm_eps

    def forward(self, x):
        w, B, T = self.w, x.shape[0], x.shape[1]
        H, HV, K, V = self.H, self.HV, self.K, self.V
        q1 = F.linear(x, w["q_proj.weight"])
        k1 = F.linear(x, w["k_proj.weight"])
        q2 = q1 + F.linear(F.linear(x, w["lora_q_proj.0.weight"]), w["lora_q_proj.1.weight"])
        k2 = k1 + F.linear(F.linear(x, w["lora_k_proj.0.weight"]), w["lora_k_proj.1.weight"])
        v = F.silu(F.linear(x, w["v_proj.weight"])).view(B, T, HV, V)
        eta = F.linear(x, w["e_proj.weight"])
        group = HV // H

        def per_value_head(t):  # [B,T,H*K] -> [B,T,HV,K]: value head j uses key head j // group
            return t.view(B, T, H, K).repeat_interleave(group, dim=2)

        q1, q2 = (per_value_head(F.silu(t)) for t in (q1, q2))
        k1, k2 = (per_value_head(t.view(B, T, H, K).softmax(-1).view(B, T, H * K)) for t in (k1, k2))
        g1, g2 = (
            per_value_head(F.logsigmoid(F.linear(F.linear(x, w[f"gk_proj.{i}.0.weight"]),
                                                 w[f"gk_proj.{i}.1.weight"], w[f"gk_proj.{i}.1.bias"])) / 16)
            for i in ("0", "1"))
        operands = [t.contiguous().numpy() for t in (q1, k1, q2, k2, v, g1, g2, eta)]
        o, _ = sse.attention(*operands, base="gla", writers=self.writers, readers=self.readers)
        o = torch.from_numpy(o)
        o = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + self.eps) * w["o_norm.weight"]
        gate = F.linear(F.linear(x, w["g_proj.0.weight"]), w["g_proj.1.weight"]).view(B, T, HV, V)
        return F.linear((o * F.silu(gate)).reshape(B, T, HV * V), w["o_proj.weight"])


@pytest.mark.parametrize("v_heads_per_head, writers, readers", [(1, 2, 2), (2, 1, 3)])
def test_torch_sse_gla_layer_matches_sse_layer(tmp_path, rng, v_heads_per_head, writers, readers):
    D, H, K, V, N = 64, 2, 16, 32, 4
    HV = H * v_heads_per_head
    weights = write_layer_weights(tmp_path, rng, "gla", D, H, K, V, N, HV=HV)
    layer = sse.Layer(str(tmp_path), base="gla", heads=H, v_heads=HV, writers=writers,
                      readers=readers, path="auto")
    x = rng.standard_normal((2, 33, D)).astype(np.float32)
    with torch.no_grad():
        y_torch = TorchSseGla(weights, H, HV, writers, readers)(torch.from_numpy(x)).numpy()
    y = layer(x)
    assert rel_error(y_torch, y) < 1e-5
    # and it is not a test that passes whatever the layer does
    assert rel_error(layer(x[:, ::-1].copy()), y) > 1e-2
