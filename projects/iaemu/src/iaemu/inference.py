"""NUTS (pyro) over the alignment strengths through the differentiable emulator.

Model (``hmc.py`` of the paper): mu_cen, mu_sat ~ U(-1, 1); the five HOD parameters fixed;
``omega_obs ~ MVN(omega_emu(theta), Sigma + 1e-6 I)`` on omega only, dropout off. ``Sigma`` is the
realization covariance of the target mock (the paper uses the TNG300 covariance).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from .model import Emulator


def nuts_alignment(
    emu: Emulator,
    omega_obs: np.ndarray,
    cov: np.ndarray,
    hod: np.ndarray,
    *,
    warmup: int = 500,
    samples: int = 500,
    chains: int = 2,
    step_size: float = 0.005,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, np.ndarray | float]:
    """Posterior samples of (mu_cen, mu_sat).

    Chains run one after another (different seeds and initial points) so that R-hat can be
    computed without multiprocessing.

    Returns
    -------
    dict with ``samples`` (chains, samples, 2), ``mean``, ``std`` (2,), ``rhat`` (2,) and
    ``divergences``.
    """
    import pyro
    import pyro.distributions as dist
    from pyro.infer import MCMC, NUTS
    from pyro.ops.stats import split_gelman_rubin

    emu64 = copy.deepcopy(emu).cpu().double().eval()
    for p in emu64.parameters():
        p.requires_grad_(False)
    obs = torch.as_tensor(omega_obs, dtype=torch.float64)
    cov_t = torch.as_tensor(cov, dtype=torch.float64) + 1e-6 * torch.eye(
        len(omega_obs), dtype=torch.float64
    )
    scale_tril = torch.linalg.cholesky(cov_t)
    hod_t = torch.as_tensor(hod, dtype=torch.float64)
    one = torch.tensor(1.0, dtype=torch.float64)

    def model():
        mu_cen = pyro.sample("mu_cen", dist.Uniform(-one, one))
        mu_sat = pyro.sample("mu_sat", dist.Uniform(-one, one))
        theta = torch.cat([mu_cen.reshape(1), mu_sat.reshape(1), hod_t]).unsqueeze(0)
        omega = emu64.predict(theta)[0][0, 1]
        pyro.sample("obs", dist.MultivariateNormal(omega, scale_tril=scale_tril), obs=obs)

    all_samples, divergences = [], 0
    rng = np.random.default_rng(seed)
    for c in range(chains):
        pyro.set_rng_seed(seed + 1000 * c)
        init = {
            "mu_cen": torch.tensor(rng.uniform(-0.5, 0.5), dtype=torch.float64),
            "mu_sat": torch.tensor(rng.uniform(-0.5, 0.5), dtype=torch.float64),
        }
        kernel = NUTS(
            model, step_size=step_size, adapt_step_size=True, init_strategy=_fixed_init(init)
        )
        mcmc = MCMC(kernel, num_samples=samples, warmup_steps=warmup, disable_progbar=not progress)
        mcmc.run()
        s = mcmc.get_samples()
        all_samples.append(torch.stack([s["mu_cen"], s["mu_sat"]], dim=-1))
        divergences += int(sum(len(v) for v in mcmc.diagnostics()["divergences"].values()))
    stacked = torch.stack(all_samples)  # (chains, samples, 2)
    rhat = split_gelman_rubin(stacked, chain_dim=0, sample_dim=1)
    flat = stacked.reshape(-1, 2)
    return {
        "samples": stacked.numpy(),
        "mean": flat.mean(0).numpy(),
        "std": flat.std(0).numpy(),
        "rhat": rhat.numpy(),
        "divergences": float(divergences),
    }


def _fixed_init(values: dict[str, torch.Tensor]):
    from pyro.infer.autoguide.initialization import init_to_value

    return init_to_value(values=values)
