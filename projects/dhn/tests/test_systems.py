"""Data: simulator accuracy (energy-drift floor), energy recovery from normalised states, the
Hamiltonian-system interface."""

import math

import numpy as np
import pytest
import torch
from dhn.systems import (
    DataConfig,
    DoublePendulum,
    HamiltonianSystem,
    build_split,
    get_system,
    load_dataset,
    physical_energy,
    relative_energy_drift,
)


@pytest.mark.parametrize("name", ["single_pendulum", "double_pendulum", "mass_spring"])
def test_simulator_energy_drift_floor(name):
    cfg = DataConfig(system=name, n_raw=1025, t_end=10.0)
    d = build_split(cfg, 4, seed=0)
    floor = relative_energy_drift(d["energy_raw"]).max()
    assert floor < 1e-2
    assert d["q"].shape == (4, 129, get_system(name).dim)
    pmax = np.abs(d["p"]).max(axis=(1, 2))  # p divided by its max |p| on the raw grid
    assert np.all(pmax <= 1 + 1e-12) and np.all(pmax > 0.95)


@pytest.mark.parametrize("name", ["single_pendulum", "double_pendulum"])
def test_energy_recovered_from_normalised_states(name):
    cfg = DataConfig(system=name, n_raw=257, t_end=2.5)
    d = build_split(cfg, 3, seed=1)
    e = physical_energy(get_system(name), d["q"], d["p"], d["p_scale"], d["params"])
    ref = d["energy_raw"][:, :: cfg.coarse_step]
    assert np.allclose(e, ref, rtol=1e-10, atol=1e-10)


def test_double_pendulum_canonical_h_equals_lagrangian_energy():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(10, 2))
    qd = rng.normal(size=(10, 2))
    l2 = rng.uniform(0.5, 1.5, size=(10, 1))
    m1 = m2 = l1 = 1.0
    g = 9.81
    c = np.cos(q[:, 0] - q[:, 1])
    p1 = (m1 + m2) * l1**2 * qd[:, 0] + m2 * l1 * l2[:, 0] * qd[:, 1] * c
    p2 = m2 * l2[:, 0] ** 2 * qd[:, 1] + m2 * l1 * l2[:, 0] * qd[:, 0] * c
    kin = (
        0.5 * (m1 + m2) * l1**2 * qd[:, 0] ** 2
        + 0.5 * m2 * l2[:, 0] ** 2 * qd[:, 1] ** 2
        + m2 * l1 * l2[:, 0] * qd[:, 0] * qd[:, 1] * c
    )
    pot = (m1 + m2) * g * l1 * (1 - np.cos(q[:, 0])) + m2 * g * l2[:, 0] * (1 - np.cos(q[:, 1]))
    h = DoublePendulum().energy(q, np.stack([p1, p2], 1), l2)
    assert np.allclose(h, kin + pot, rtol=1e-12)


def test_a_new_system_needs_only_h_and_sampling():
    class Quartic(HamiltonianSystem):
        name, dim, param_names = "quartic", 1, ("c",)

        def hamiltonian(self, q, p, params):
            return p[..., 0] ** 2 / 2 + params[..., 0] * q[..., 0] ** 4

        def sample_params(self, n, rng):
            return rng.uniform(1, 2, (n, 1))

        def initial_state(self, params):
            return np.ones((len(params), 1)), np.zeros((len(params), 1))

    from dhn.systems import simulate

    sys_ = Quartic()
    t = np.linspace(0, 2, 65)
    q, p = simulate(sys_, np.array([[1.0], [2.0]]), t, 1e-6, 0.01)
    e = sys_.energy(q, p, np.array([[1.0], [2.0]])[:, None])
    assert relative_energy_drift(e).max() < 1e-4
    # the spring of the registry oscillates with angular frequency sqrt(k)
    spring = get_system("mass_spring")
    qs, _ = simulate(spring, np.array([[4.0]]), np.array([0.0, math.pi / 2]), 1e-8, 0.01)
    assert abs(qs[0, 1, 0] - math.cos(math.pi)) < 1e-5


def test_unknown_system_and_bad_data_are_named(tmp_path, monkeypatch):
    with pytest.raises(KeyError, match="unknown system"):
        get_system("triple_pendulum")
    import dhn.systems as systems

    def bad(cfg, n, seed):
        return {
            "q": np.full((n, 3, 1), np.nan),
            "p": np.zeros((n, 3, 1)),
            "p_scale": np.ones(n),
            "params": np.ones((n, 1)),
        }

    monkeypatch.setattr(systems, "build_split", bad)
    with pytest.raises(ValueError, match="'q' missing or not finite"):
        load_dataset(DataConfig(system="mass_spring", n_train=2, n_test=2), cache_dir=tmp_path)


def test_vector_field_matches_hamilton_equations():
    sp = get_system("single_pendulum")
    q = torch.tensor([[0.3]], dtype=torch.float64)
    p = torch.tensor([[0.7]], dtype=torch.float64)
    par = torch.tensor([[0.8]], dtype=torch.float64)
    dq, dp = sp.vector_field(q, p, par)
    assert torch.allclose(dq, p / 0.8**2) and torch.allclose(dp, -9.81 * 0.8 * torch.sin(q))
