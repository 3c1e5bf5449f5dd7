"""Property tests of the DHN building blocks: gradients, the HNN limit, masks, noise, blocks."""

import numpy as np
import pytest
import torch
from dhn.baselines import HNNTransformer, VanillaTransformer, linear_upsample
from dhn.model import (
    DHN,
    HamiltonianTransformer,
    ModelConfig,
    add_noise,
    block_windows,
    forward_masks,
    h_minus_update,
    h_plus_update,
    hamiltonian_grads,
    representation_masks,
    rollout,
    src_tgt_blocks,
    superres,
    superres_masks,
    unblock,
)


def test_jacrev_gradients_match_autograd():
    cfg = ModelConfig(dim=2, z_dim=8, hidden=16, layers=2, heads=2, block=4, stride=2)
    net = HamiltonianTransformer(cfg).double()
    q, p = torch.randn(5, 4, 2, dtype=torch.float64), torch.randn(5, 4, 2, dtype=torch.float64)
    a = torch.rand(5, 4, 2, dtype=torch.float64)
    z = torch.randn(5, 8, dtype=torch.float64)
    gj = hamiltonian_grads(net, q, p, a, a, z, "jacrev")
    qa, pa = q.clone().requires_grad_(), p.clone().requires_grad_()
    ref = torch.autograd.grad(net(qa, pa, a, a, z).sum(), (qa, pa))
    for g, r in zip(gj, ref):
        assert torch.allclose(g, r, atol=1e-6, rtol=0)
        assert r.abs().max() > 1e-4  # a non-trivial gradient
    ga = hamiltonian_grads(net, q, p, a, a, z, "autograd")
    for g, r in zip(ga, ref):
        assert torch.allclose(g, r, atol=1e-12, rtol=0)


def test_jacrev_gradients_train_the_network():
    cfg = ModelConfig(dim=1, z_dim=4, hidden=8, layers=1, heads=2, block=2, stride=1)
    net = HamiltonianTransformer(cfg).double()
    q = torch.randn(3, 2, 1, dtype=torch.float64)
    one, z = torch.ones_like(q), torch.randn(3, 4, dtype=torch.float64)
    out = h_plus_update(net, q, q, one, one, z)[0].sum()
    grads = torch.autograd.grad(out, [net.head.weight])
    assert grads[0].abs().sum() > 0


def analytic_h(q, p, a_q, a_p, z):
    """Separable H = p^2/2 + V(q), V = 1 - cos q, summed over the block."""
    return (0.5 * p**2 + 1 - torch.cos(q)).sum((-1, -2))


def test_block_size_one_reduces_to_symplectic_euler_and_hnn_euler():
    q = torch.randn(7, 1, 1, dtype=torch.float64)
    p = torch.randn(7, 1, 1, dtype=torch.float64)
    one, z = torch.ones_like(q), torch.zeros(7, 1, dtype=torch.float64)
    # symplectic Euler: p' = p - V'(q), q' = q + p'
    p_next = p - torch.sin(q)
    q_next = q + p_next
    q_tgt, p_src = h_plus_update(analytic_h, q, p_next, one, one, z)
    assert torch.equal(q_tgt, q_next)
    assert torch.allclose(p_src, p, atol=1e-15, rtol=0)
    # H- with the same analytic H: Q_src = Q_tgt - dH/dP_src, P_tgt = P_src - dH/dQ_tgt
    q_src, p_tgt = h_minus_update(analytic_h, q_next, p, one, one, z)
    assert torch.allclose(q_src, q_next - p, atol=1e-15, rtol=0)
    assert torch.allclose(p_tgt, p - torch.sin(q_next), atol=1e-15, rtol=0)
    # evaluating at (Q_src, P_src) instead is exactly the explicit Euler step of the HNN baseline
    hnn = HNNTransformer(ModelConfig(dim=1, z_dim=1, hidden=8, heads=2, layers=1), 1).double()
    hnn.hamiltonian = lambda q, p, a_q, a_p, z: (0.5 * p**2 + 1 - torch.cos(q)).sum(-1)
    qe, pe = hnn.step(q[:, 0], p[:, 0], z)
    d_q, d_p = hamiltonian_grads(analytic_h, q, p, one, one, z)
    assert torch.equal(qe, (q + d_p)[:, 0]) and torch.equal(qe, (q + p)[:, 0])
    assert torch.allclose(pe, (p - torch.sin(q))[:, 0], atol=1e-15, rtol=0)


def test_forward_masks_exact():
    m = forward_masks(4, 2, 3)
    assert torch.equal(m.q_src, torch.ones(4, 3)) and torch.equal(m.p_src, torch.ones(4, 3))
    expect = torch.tensor([1.0, 1, 0, 0])[:, None].expand(4, 3)
    assert torch.equal(m.q_tgt, expect) and torch.equal(m.p_tgt, expect)


def test_representation_masks_half_independent():
    g = torch.Generator().manual_seed(0)
    seen_diff = False
    for _ in range(20):
        m = representation_masks(8, 2, g)
        for mask in (m.q_src, m.q_tgt):
            assert mask.sum(0).tolist() == [4.0, 4.0]  # half the positions, all coordinates
            assert torch.equal(mask[:, 0], mask[:, 1])
        assert torch.equal(m.q_src, m.p_src) and torch.equal(m.q_tgt, m.p_tgt)
        seen_diff |= not torch.equal(m.q_src, m.q_tgt)
    assert seen_diff  # source and target positions are drawn independently


def test_superres_masks_exact():
    m = superres_masks(2)
    first = torch.tensor([[1.0, 1], [0, 0]])
    assert torch.equal(m.q_src, first) and torch.equal(m.p_src, first)
    assert torch.equal(m.q_tgt, first.flip(0)) and torch.equal(m.p_tgt, first.flip(0))


def test_noise_formula_elementwise():
    x = torch.randn(6, 4, 2)
    mask = forward_masks(4, 2, 2).q_tgt
    xn, a = add_noise(x, mask, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    u = torch.rand(x.shape, generator=g)
    eps = torch.randn(x.shape, generator=g)
    known = mask.bool().expand_as(x)
    assert torch.equal(a[known], torch.ones_like(a[known]))
    assert torch.equal(a[~known], u[~known])
    assert torch.equal(xn[known], x[known])  # known entries are never noised
    assert torch.allclose(xn[~known], (a * x + (1 - a) * eps)[~known], atol=1e-7)
    xl, al = add_noise(x, mask, level=0.3)
    assert torch.allclose(al[~known], torch.full_like(al[~known], 0.3))
    assert torch.equal(xl[known], x[known])
    x0, _ = add_noise(x, mask, level=1.0)
    assert torch.equal(x0, x)


@pytest.mark.parametrize("b,s", [(1, 1), (2, 1), (4, 2), (8, 4)])
def test_blocks_round_trip(b, s):
    x = torch.randn(3, 4 * 8 + 1, 2)
    assert torch.allclose(unblock(block_windows(x, b), 1), x, atol=1e-6, rtol=0)
    src, tgt = src_tgt_blocks(x, b, s)
    assert torch.equal(tgt[:, :-s], src[:, s:])
    assert torch.equal(src[:, 5], x[:, 5 : 5 + b]) and torch.equal(
        tgt[:, 5], x[:, 5 + s : 5 + s + b]
    )
    n = (x.shape[1] - b) // s * s + b
    assert torch.allclose(unblock(block_windows(x[:, :n], b)[:, ::s], s), x[:, :n])


def test_vanilla_transformer_attends_within_each_trajectory():
    cfg = ModelConfig(dim=2, z_dim=4, hidden=16, heads=2, layers=2)
    net = VanillaTransformer(cfg, 5)
    q, p, z = torch.randn(5, 2), torch.randn(5, 2), torch.randn(5, 4)
    out = net.step(q, p, z)
    q2, p2 = q.clone(), p.clone()
    q2[1:] += 10.0
    p2[1:] -= 3.0
    out2 = net.step(q2, p2, z)
    assert torch.allclose(out[0][0], out2[0][0], atol=1e-6)
    assert torch.allclose(out[1][0], out2[1][0], atol=1e-6)
    assert not torch.allclose(out[0][1], out2[0][1])


def test_rollout_and_superres_keep_given_states():
    cfg = ModelConfig(dim=2, z_dim=4, hidden=16, heads=2, layers=1, block=4, stride=2)
    model = DHN(cfg, 3)
    q, p = torch.randn(3, 17, 2), torch.randn(3, 17, 2)
    z = model.code(torch.arange(3))
    qr, pr = rollout(model, q, p, z, n_init=8, denoise_steps=2)
    assert torch.equal(qr[:, :8], q[:, :8]) and torch.equal(pr[:, :8], p[:, :8])
    assert torch.isfinite(qr).all() and not torch.equal(qr[:, 8:], q[:, 8:])
    # every state is written, also when the remaining steps do not fill a whole stride
    for t_total, update in ((17, 2), (18, 2), (18, 1)):
        qa, pa = q[:, :1].expand(3, t_total, 2) * 0 + 5.0, p[:, :1].expand(3, t_total, 2) * 0 + 5.0
        qr, pr = rollout(model, qa.clone(), pa.clone(), z, 8, 1, update)
        assert (qr[:, 8:] != 0).all() and (pr[:, 8:] != 0).all()
    sr_model = DHN(
        ModelConfig(dim=2, z_dim=4, hidden=16, heads=2, layers=1, block=2, stride=1), 3, stages=2
    )
    qs, ps = superres(sr_model, q, p, z, factor_log2=2, denoise_steps=2)
    assert torch.equal(qs[:, ::4], q[:, ::4]) and torch.isfinite(qs).all()
    with pytest.raises(ValueError, match="gaps"):
        superres(sr_model, q[:, :16], p[:, :16], z, factor_log2=2, denoise_steps=1)


def test_linear_upsample_is_exact_on_lines():
    t = torch.arange(17, dtype=torch.float64)
    x = (2 * t - 1)[None, :, None]
    assert torch.allclose(linear_upsample(x, 4), x)


def test_benchmark_reference_step_computes_our_block_updates():
    """The re-implemented reference step (PyTorch encoder layers, vmap(jacrev)) computes the same
    H+ / H- updates as our DHN given the same weights, so the benchmark compares like with like."""
    from dhn.benchmark import ReferenceDHN, compare, copy_reference_weights

    ref = ReferenceDHN(4, dim=2, hidden=16, z_dim=8, block=4, stride=2)
    net = ModelConfig(dim=2, z_dim=8, hidden=16, layers=2, heads=4, block=4, stride=2)
    ours = DHN(net, 4)
    copy_reference_weights(ref.h_plus, ours.h_plus[0])
    copy_reference_weights(ref.h_minus, ours.h_minus[0])
    q, p, z = torch.randn(5, 4, 2), torch.randn(5, 4, 2), torch.randn(5, 8)
    one = torch.ones_like(q)
    for theirs, mine in (
        (ref._plus(q, p, one, one, z, q, p), ours.plus(0, q, p, one, one, z)),
        (ref._minus(q, p, one, one, z, q, p), ours.minus(0, q, p, one, one, z)),
    ):
        for a, b in zip(theirs, mine):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    times = compare(batch=2, steps=1, n_states=9, hidden=16)
    assert set(times) == {"reference", "ours-jacrev", "ours-autograd"}
    assert all(t > 0 for t in times.values())


class _ExactBlockH(torch.nn.Module):
    """Analytic block Hamiltonian of a linear flow whose ``s``-step map is ``[[a, b], [c, d]]``
    (read from the code ``z = (a, b, c, d)``), in the DHN's residual form.

    ``H+ = sum_j P[j] ((a - 1) Q[j] + b P[j - s])`` gives ``Q_tgt[j] = a q + b p`` and
    ``H- = -sum_j Q[j] ((d - 1) P[j] + c Q[j - s])`` gives ``P_tgt[j] = c q + d p`` for the
    unknown positions ``j >= b - s``; both only read known entries, so they are exact whatever
    noise the rollout puts on the unknown ones (an ideal denoiser)."""

    def __init__(self, b: int, s: int, plus: bool) -> None:
        super().__init__()
        self.b, self.s, self.plus = b, s, plus

    def forward(self, x1, x2, a1, a2, z):
        b, s = self.b, self.s
        a, bb, c, d = (z[..., k : k + 1, None] for k in range(4))
        j = torch.arange(b - s, b)
        if self.plus:  # x1 = Q_src, x2 = P_tgt
            h = x2[..., j, :] * ((a - 1) * x1[..., j, :] + bb * x2[..., j - s, :])
        else:  # x1 = Q_tgt, x2 = P_src
            h = -x1[..., j, :] * ((d - 1) * x2[..., j, :] + c * x1[..., j - s, :])
        return h.sum((-1, -2))


@pytest.mark.parametrize("backend", ["jacrev", "autograd"])
@pytest.mark.parametrize("update", [1, 2])
def test_rollout_of_an_exact_block_model_is_exact_on_mass_spring(backend, update):
    """Indexing, the states written back per window, the H+/H- signs and the masks of the
    rollout: with an exact (ideally denoising) block model on the mass-spring system the rollout
    reproduces the true trajectory at every step, so no error alternates between the states a
    window writes."""
    from dhn.systems import MassSpring

    system = MassSpring()
    k = torch.as_tensor(system.sample_params(3, np.random.default_rng(0)), dtype=torch.float64)
    q0, p0 = (torch.as_tensor(x, dtype=torch.float64) for x in system.initial_state(k.numpy()))
    b, s, h, n_steps = 4, 2, 0.3, 40
    w = k.sqrt()[:, 0]
    t = torch.arange(n_steps, dtype=torch.float64) * h
    # exact solution of H = p^2/2 + k q^2/2 with q(0) = q0, p(0) = p0
    ph = w[:, None] * t
    q = (q0 * torch.cos(ph) + p0 / w[:, None] * torch.sin(ph))[..., None]
    p = (-q0 * w[:, None] * torch.sin(ph) + p0 * torch.cos(ph))[..., None]
    e = system.energy(q.numpy(), p.numpy(), k.numpy()[:, None])
    assert np.allclose(e, e[:, :1], rtol=1e-12)
    # s-step flow map of each trajectory as its latent code
    c_, s_ = torch.cos(w * s * h), torch.sin(w * s * h)
    z = torch.stack([c_, s_ / w, -w * s_, c_], -1)
    cfg = ModelConfig(dim=1, z_dim=4, hidden=8, layers=1, heads=2, block=b, stride=s)
    cfg.grad_backend = backend
    model = DHN(cfg, n_codes=3).double()
    model.h_plus[0] = _ExactBlockH(b, s, plus=True)
    model.h_minus[0] = _ExactBlockH(b, s, plus=False)
    for k_steps in (10, 1):
        g = torch.Generator().manual_seed(0)
        qp, pp = rollout(model, q, p, z, 8, k_steps, update=update, generator=g)
        err_q = (qp - q).abs().amax((0, 2))
        err_p = (pp - p).abs().amax((0, 2))
        assert err_q.max() < 1e-10, err_q
        assert err_p.max() < 1e-10, err_p
