"""NUTS through the emulator recovers alignment strengths that the emulator itself generated."""

import numpy as np
import torch
from iaemu.config import load
from iaemu.inference import nuts_alignment
from iaemu.training import build_emulator


def test_nuts_recovers_parameters_of_an_emulated_observation():
    cfg = load("smoke")
    emu = build_emulator(cfg)
    # Fit the scalers to plausible ranges and give BatchNorm non-trivial running statistics.
    rng = np.random.default_rng(0)
    x = np.asarray(cfg.mocks.low) + rng.uniform(0, 1, (64, 7)) * (
        np.asarray(cfg.mocks.high) - np.asarray(cfg.mocks.low)
    )
    y = np.abs(rng.normal(size=(64, 3, 20))) * 0.1 + 0.01
    emu.pre.fit(x, y)
    emu.net.train()
    emu.net(emu.pre.transform_x(torch.as_tensor(x)).float())
    emu.eval()
    truth = np.array([0.4, -0.3])
    hod = 0.5 * (np.asarray(cfg.mocks.low) + np.asarray(cfg.mocks.high))[2:]
    theta = torch.as_tensor(np.concatenate([truth, hod]))[None]
    with torch.no_grad():
        omega = emu.predict(theta)[0][0, 1].double().numpy()
    # Noise small against the emulator's sensitivity to (mu_cen, mu_sat): a sharp posterior.
    sens = []
    for i in range(2):
        t2 = theta.clone()
        t2[0, i] += 0.1
        with torch.no_grad():
            sens.append(np.abs(emu.predict(t2)[0][0, 1].numpy() - omega).max())
    sigma = 0.1 * min(sens)
    post = nuts_alignment(
        emu,
        omega,
        np.eye(20) * sigma**2,
        hod,
        warmup=60,
        samples=60,
        chains=2,
        seed=1,
        progress=False,
    )
    assert post["samples"].shape == (2, 60, 2)
    assert np.all(np.abs(post["samples"]) <= 1)
    assert np.all(np.abs(post["mean"] - truth) < 2 * post["std"] + 0.02), (
        post["mean"],
        post["std"],
    )
    assert np.isfinite(post["rhat"]).all()
