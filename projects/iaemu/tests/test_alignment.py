"""Dimroth-Watson sampling: the brief's limits, the exact law, and halotools' sampler."""

import numpy as np
import pytest
from iaemu.alignment import sample_watson_cos, watson_axes, watson_k
from scipy.integrate import quad


def test_limits_of_own_sampler():
    rng = np.random.default_rng(0)
    n = 200_000
    c1 = sample_watson_cos(np.ones(n), rng)
    assert (np.abs(c1) > 0.99).mean() >= 0.99
    c0 = sample_watson_cos(np.zeros(n), rng)
    assert abs((c0**2).mean() - 1 / 3) < 0.01
    cm = sample_watson_cos(-np.ones(n), rng)
    assert (cm**2).mean() < 0.01


@pytest.mark.parametrize("mu", [-0.9, -0.5, -0.1, 0.3, 0.7, 0.95])
def test_second_moment_matches_density(mu):
    k = float(watson_k(np.array(mu)))
    dens = lambda t: np.exp(-k * t * t)
    z = quad(dens, -1, 1)[0]
    expected = quad(lambda t: t * t * dens(t), -1, 1)[0] / z
    c = sample_watson_cos(np.full(200_000, mu), np.random.default_rng(1))
    # Standard error of the mean of cos^2 is < 0.001 here.
    assert abs((c**2).mean() - expected) < 0.004
    assert abs(c.mean()) < 0.01  # bipolar: symmetric in the sign


def test_axes_about_reference_are_unit_and_follow_the_law():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(50_000, 3)) * np.array([1.0, 5.0, 0.1])
    e = watson_axes(ref, 0.8, rng)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-12)
    cos = np.einsum("ij,ij->i", e, ref / np.linalg.norm(ref, axis=1, keepdims=True))
    same = sample_watson_cos(np.full(50_000, 0.8), np.random.default_rng(3))
    # The angle to the reference has the Watson law whatever the reference direction.
    assert abs((cos**2).mean() - (same**2).mean()) < 0.01


def test_halotools_sampler_agrees_with_ours():
    from halotools.empirical_models.ia_models.ia_model_components import (
        axes_correlated_with_input_vector,
    )

    rng = np.random.default_rng(4)
    ref = rng.normal(size=(40_000, 3))
    unit = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    for mu in (-0.99, 0.0, 0.6, 0.99):
        np.random.seed(5)  # noqa: NPY002 (halotools draws from the global RNG)
        e = axes_correlated_with_input_vector(ref, p=np.full(len(ref), mu))
        c_ht = np.einsum("ij,ij->i", e, unit)
        c_own = sample_watson_cos(np.full(len(ref), mu), rng)
        assert abs((c_ht**2).mean() - (c_own**2).mean()) < 0.01, mu
