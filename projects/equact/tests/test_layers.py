"""Layer-level equivariance: attention, iFiLM vs FiLM, norm, gate, pooling."""

import pytest
import torch
from equact.checks import random_rigid
from equact.geometry import farthest_point_sampling, gather, knn
from equact.layers import (
    EquivariantPointAttention,
    FeedForward,
    RMSNormSH,
    coefficient_max_pool,
)
from equact.so3 import rotate_degrees

from symlab.testing import assert_equivariant, equivariance_errors

C, L = 8, 2


def features(n, dtype, gen, b=2):
    return [torch.randn(b, n, C, 2 * deg + 1, dtype=dtype, generator=gen) for deg in range(L + 1)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_point_attention_is_se3_equivariant(dtype):
    gen = torch.Generator().manual_seed(0)
    layer = EquivariantPointAttention(C, L, 6, 3, 2, heads=2, n_rbf=8, cutoff=2.0).to(dtype)
    pos = torch.randn(2, 60, 3, dtype=dtype, generator=gen)
    query = torch.randn(2, 10, 3, dtype=dtype, generator=gen)
    x = features(60, dtype, gen)

    def fn(x, pos, query):
        return layer(x, pos, query, knn(query, pos, 12))

    def act(g, x, pos, query):
        return rotate_degrees(x, g[0]), pos @ g[0].T + g[1], query @ g[0].T + g[1]

    assert_equivariant(
        fn,
        (x, pos, query),
        random_rigid(gen, dtype),
        act,
        lambda g, y: rotate_degrees(y, g[0]),
        n_samples=4,
    )


@pytest.mark.parametrize("film, equivariant", [("ifilm", True), ("none", True), ("film", False)])
def test_film_variants(film, equivariant):
    gen = torch.Generator().manual_seed(1)
    ffn = FeedForward(C, L, 8, cond_dim=12, film=film).double()
    x = features(20, torch.float64, gen)
    cond = torch.randn(2, 12, dtype=torch.float64, generator=gen)
    report = equivariance_errors(
        lambda x: ffn(x, cond),
        (x,),
        random_rigid(gen),
        lambda g, x: rotate_degrees(x, g[0]),
        lambda g, y: rotate_degrees(y, g[0]),
        n_samples=4,
    )
    if equivariant:
        assert report.max_error < 1e-12, str(report)
    else:
        assert report.max_error > 1e-2, str(report)


def test_norm_and_max_pool_are_equivariant():
    gen = torch.Generator().manual_seed(2)
    norm = RMSNormSH(C, L).double()
    x = features(40, torch.float64, gen)
    pos = torch.randn(2, 40, 3, dtype=torch.float64, generator=gen)
    centres = gather(pos, farthest_point_sampling(pos, 10))
    index = knn(centres, pos, 6)
    for fn in (norm, lambda f: coefficient_max_pool(f, index)):
        assert_equivariant(
            fn,
            (x,),
            random_rigid(gen),
            lambda g, x: rotate_degrees(x, g[0]),
            lambda g, y: rotate_degrees(y, g[0]),
            n_samples=3,
        )
