"""Network shape and size, beta-NLL properties, MC dropout, gradients for NUTS."""

import numpy as np
import pytest
import torch
from iaemu.config import load
from iaemu.losses import beta_nll, betas_for_epoch, training_loss, validation_metric
from iaemu.model import IAEmu, mc_dropout_mode
from iaemu.training import build_emulator
from torch import nn


def test_output_layout_and_size():
    net = IAEmu(width=1.0)
    out = net.eval()(torch.randn(5, 7))
    assert out.shape == (5, 3, 40)
    assert (out[..., 20:] > 0).all()  # softplus variances
    n = sum(p.numel() for p in net.parameters())
    assert 0.55e6 < n < 0.75e6  # the brief's estimate: about 0.65 M
    for d in net.decoders:  # variance bias starts at 1
        assert float(d.head.bias[1].detach()) == 1.0


def test_beta_zero_is_gaussian_nll():
    mean, target = torch.randn(8, 20), torch.randn(8, 20)
    var = torch.rand(8, 20) + 0.1
    ref = nn.GaussianNLLLoss(reduction="sum")(mean, target, var) / 8
    torch.testing.assert_close(beta_nll(mean, var, target, beta=0.0), ref)


def test_beta_one_gradient_is_mse_like():
    mean = torch.randn(8, 20, requires_grad=True)
    target = torch.randn(8, 20)
    var = torch.rand(8, 20) * 3 + 0.1
    beta_nll(mean, var, target, beta=1.0).backward()
    # 0.5 (m - y)^2 / s2 * s2 -> gradient (m - y), divided by the batch size of the mean.
    torch.testing.assert_close(mean.grad, (mean - target).detach() / 8)


def test_variances_are_floored_and_loss_finite():
    mean, target = torch.zeros(2, 20), torch.ones(2, 20)
    loss = beta_nll(mean, torch.zeros(2, 20), target, beta=0.5)
    assert torch.isfinite(loss)


def test_beta_schedule():
    assert betas_for_epoch(0, 100, 1.0, [0.9, 0.5, 0.5]) == [1.0, 1.0, 1.0]
    assert betas_for_epoch(99, 100, 1.0, [0.9, 0.5, 0.5]) == [1.0, 1.0, 1.0]
    assert betas_for_epoch(100, 100, 1.0, [0.9, 0.5, 0.5]) == [0.9, 0.5, 0.5]


def test_validation_metric_weights():
    out = torch.randn(4, 3, 40)
    out[..., 20:] = out[..., 20:].abs() + 0.5
    y = torch.randn(4, 3, 20)
    comb, mse, nll = validation_metric(out, y, 0.7)
    assert comb == pytest.approx(0.7 * mse + 0.3 * nll)
    torch.testing.assert_close(
        training_loss(out, y, [0.0] * 3),
        sum(beta_nll(out[:, i, :20], out[:, i, 20:], y[:, i], 0.0) for i in range(3)),
    )


def test_mc_dropout_toggles_only_the_intended_layers_and_keeps_batchnorm():
    net = IAEmu(width=0.5)
    net.train()
    net(torch.randn(64, 7))  # populate BatchNorm running statistics
    bn_before = {k: v.clone() for k, v in net.state_dict().items() if "running" in k}
    intended = set(map(id, net.mc_dropouts()))
    all_dropouts = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    # Encoder: all 5; each decoder: dropout1-4 of its 6 conv dropouts, not the initial one.
    assert len(intended) == 5 + 3 * 4 and len(all_dropouts) == 5 + 3 * 7
    net.train()
    with mc_dropout_mode(net):
        for m in net.modules():
            if isinstance(m, nn.Dropout):
                assert m.training == (id(m) in intended)
            elif isinstance(m, nn.BatchNorm1d):
                assert not m.training
        a, b = net(torch.ones(3, 7)), net(torch.ones(3, 7))
        assert not torch.equal(a, b)  # stochastic passes
    assert all(m.training for m in net.modules())  # previous modes restored
    for k, v in net.state_dict().items():
        if "running" in k:
            torch.testing.assert_close(v, bn_before[k])


def test_emulator_mc_prediction_and_input_gradients():
    cfg = load("smoke")
    emu = build_emulator(cfg)
    emu.net.train()
    emu.net(torch.randn(32, 7))
    emu.eval()
    theta = torch.tensor([[0.3, -0.2, 12.0, 0.4, 12.0, 13.5, 1.0]], dtype=torch.float64)
    out = emu.predict_mc(theta.repeat(4, 1), passes=8)
    assert out["mean"].shape == (4, 3, 20) and (out["var_epi"] > 0).all()
    assert (out["var_ale"] > 0).all()
    det = emu.predict(theta)[0]
    torch.testing.assert_close(out["mean"][:1], det)  # deterministic mean: dropout off
    theta.requires_grad_(True)
    emu.predict(theta)[0][0, 1].sum().backward()
    assert torch.isfinite(theta.grad).all() and theta.grad[0, :2].abs().sum() > 0


def test_dropout_keeps_the_rate_and_the_expectation():
    from iaemu.model import Dropout

    drop = Dropout(0.2).train()
    x = torch.ones(200_000)
    y = drop(x)
    assert abs((y == 0).double().mean().item() - 0.2) < 0.005
    assert abs(y.mean().item() - 1.0) < 0.01  # inverted dropout: E[y] = x
    assert torch.equal(drop.eval()(x), x)


def test_inference_predictor_matches_predict():
    from iaemu.evaluation import inference_predictor

    cfg = load("smoke")
    emu = build_emulator(cfg)
    emu.net.train()
    emu.net(torch.randn(32, 7))  # non-trivial BatchNorm statistics, which get folded
    emu.eval()
    theta = np.array(
        [[0.3, -0.2, 12.0, 0.4, 12.0, 13.5, 1.0], [0.1, 0.5, 12.2, 0.2, 11.5, 13.2, 0.9]]
    )
    fast = inference_predictor(emu, theta[:1])
    with torch.inference_mode():
        m_fast, v_fast = fast(torch.as_tensor(theta))
        m, v = emu.predict(torch.as_tensor(theta))
    torch.testing.assert_close(m_fast, m, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(v_fast, v, rtol=1e-4, atol=1e-6)
