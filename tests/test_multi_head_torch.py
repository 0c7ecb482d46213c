"""The solution's multi_head_attention is PyTorch's nn.MultiheadAttention (no biases).

With ``in_proj_weight = concat(W_q, W_k, W_v, axis=1).T`` and
``out_proj.weight = W_o.T`` (PyTorch stores weights as (out, in); the course
multiplies row vectors on the left), the outputs and the per-head and
head-averaged weights agree, for self- and cross-attention.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import SOLUTIONS
from autograder.notebooks import load_functions, read
from conftest import assert_close

torch = pytest.importorskip("torch")

AID = "05_multi_head"


@pytest.fixture(scope="module")
def mha():
    fns = load_functions(read(SOLUTIONS / AID / f"{AID}.ipynb"),
                         ["split_heads", "merge_heads", "multi_head_attention"])
    return fns["multi_head_attention"]


def _torch_mha(W_q, W_k, W_v, W_o, num_heads, dtype):
    d_model = W_q.shape[0]
    layer = torch.nn.MultiheadAttention(d_model, num_heads, bias=False, batch_first=True, dtype=dtype)
    with torch.no_grad():
        layer.in_proj_weight.copy_(torch.from_numpy(np.concatenate([W_q, W_k, W_v], axis=1).T.copy()))
        layer.out_proj.weight.copy_(torch.from_numpy(W_o.T.copy()))
    return layer.eval()


CASES = [
    # (label, batch, n_q, n_kv, d_model, num_heads, self-attention?)
    ("self, lecture sizes", 2, 6, 6, 512, 8, True),
    ("self, 4 heads", 3, 5, 5, 16, 4, True),
    ("cross, 2 heads", 2, 3, 7, 12, 2, False),
    ("cross, 6 heads", 1, 4, 2, 24, 6, False),
    ("cross, 1 head", 2, 5, 3, 8, 1, False),
]


# The course's tolerances (COURSE_SPEC: float64 exact to 1e-10, float32 to 1e-5 relative), under
# its rule: relative elementwise or to the array's scale (attnlab.checks.close). NumPy and torch
# sum in different orders, so entries near zero differ by more than 1e-5 of themselves.
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("label,batch,n_q,n_kv,d_model,h,is_self", CASES, ids=[c[0] for c in CASES])
def test_matches_torch_multihead_attention(mha, label, batch, n_q, n_kv, d_model, h, is_self, dtype, tol):
    rng = np.random.default_rng(d_model * 100 + h)
    X_q = rng.standard_normal((batch, n_q, d_model)).astype(dtype)
    X_kv = X_q if is_self else rng.standard_normal((batch, n_kv, d_model)).astype(dtype)
    W_q, W_k, W_v, W_o = (rng.standard_normal((4, d_model, d_model)) / np.sqrt(d_model)).astype(dtype)

    out, weights = mha(X_q, X_kv, W_q, W_k, W_v, W_o, h)
    assert out.shape == (batch, n_q, d_model)
    assert weights.shape == (batch, h, n_q, X_kv.shape[-2])

    layer = _torch_mha(W_q, W_k, W_v, W_o, h, torch.float64 if dtype == np.float64 else torch.float32)
    q, kv = torch.from_numpy(X_q), torch.from_numpy(X_kv)
    with torch.no_grad():
        t_out, t_heads = layer(q, kv, kv, need_weights=True, average_attn_weights=False)
        _, t_mean = layer(q, kv, kv, need_weights=True, average_attn_weights=True)
    assert_close(out, t_out.numpy(), rtol=tol)
    assert_close(weights, t_heads.numpy(), rtol=tol)
    assert_close(weights.mean(axis=-3), t_mean.numpy(), rtol=tol)


def test_unbatched_input_matches_torch(mha):
    rng = np.random.default_rng(0)
    X_q, X_kv = rng.standard_normal((3, 8)), rng.standard_normal((5, 8))
    Ws = rng.standard_normal((4, 8, 8)) / np.sqrt(8)
    out, weights = mha(X_q, X_kv, *Ws, 2)
    layer = _torch_mha(*Ws, 2, torch.float64)
    with torch.no_grad():
        t_out, t_w = layer(torch.from_numpy(X_q), torch.from_numpy(X_kv), torch.from_numpy(X_kv),
                           average_attn_weights=False)
    assert_close(out, t_out.numpy(), rtol=1e-10)
    assert_close(weights, t_w.numpy(), rtol=1e-10)
