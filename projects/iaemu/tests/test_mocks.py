"""Halo catalog, halotools mocks on a tiny catalog, and the resumable generation cache."""

import numpy as np
import pytest
from iaemu import mocks
from iaemu.halos import build_halo_arrays, cumulative_mass_function, to_halotools
from iaemu.mocks import MockGenerator, generate
from iaemu.statistics import compute_statistics


def test_halo_catalog_follows_its_mass_function_and_clusters(tiny_halos):
    h = build_halo_arrays(tiny_halos)
    expected = (
        cumulative_mass_function(10**tiny_halos.log_mass_min)
        - cumulative_mass_function(10**tiny_halos.log_mass_max)
    ) * tiny_halos.lbox**3
    assert abs(h.n - expected) < 4 * np.sqrt(expected)
    above12 = (h.mass > 1e12).sum()
    exp12 = cumulative_mass_function(1e12) * tiny_halos.lbox**3
    assert abs(above12 - exp12) < 4 * np.sqrt(exp12)
    assert ((h.pos >= 0) & (h.pos < tiny_halos.lbox)).all()
    np.testing.assert_allclose(np.linalg.norm(h.axis, axis=1), 1.0, atol=1e-12)
    xi = compute_statistics(h.pos, h.axis, h.lbox, "kdtree")[0]
    assert np.nanmean(xi[10:16]) > 0.3  # clustered on 1-5 Mpc/h, unlike a Poisson catalog
    cat = to_halotools(h)
    assert len(cat.halo_table) == h.n and "halo_axisA_x" in cat.halo_table.keys()


def test_build_is_deterministic(tiny_halos):
    a, b = build_halo_arrays(tiny_halos), build_halo_arrays(tiny_halos)
    np.testing.assert_array_equal(a.pos, b.pos)
    np.testing.assert_array_equal(a.axis, b.axis)


def test_mock_draws_are_seeded_and_respond_to_alignment(tiny_halos):
    gen = MockGenerator(tiny_halos, backend="halotools")
    theta = np.array([0.0, 0.95, 11.6, 0.3, 11.5, 12.6, 1.1])
    y1, n1 = gen.draw(theta, 2, seed=5)
    y2, _ = gen.draw(theta, 2, seed=5)
    assert y1.shape == (2, 3, 20) and (n1 > 100).all()
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(y1[0], y1[1])  # realizations differ
    # Radial satellite alignment: positive small-scale omega; mu_sat = -0.95 flips its sign.
    flipped = theta.copy()
    flipped[1] = -0.95
    y3, _ = gen.draw(flipped, 2, seed=5)
    small = slice(4, 10)
    assert np.nanmean(y1[:, 1, small]) > 0.03
    assert np.nanmean(y3[:, 1, small]) < -0.01


def test_generation_is_cached_and_resumes(tiny_halos, tmp_path, monkeypatch):
    thetas = np.array(
        [
            [0.5, 0.5, 11.6, 0.3, 11.5, 12.6, 1.1],
            [-0.5, 0.2, 11.8, 0.5, 11.2, 12.8, 1.0],
            [0.1, -0.3, 11.7, 0.2, 11.8, 12.7, 0.9],
        ]
    )
    kw = dict(
        seed=0, backend="kdtree", workers=1, chunk_size=2, cache_dir=tmp_path / "c", progress=False
    )
    first = generate(thetas, tiny_halos, 2, **kw)
    assert first["y"].shape == (3, 2, 3, 20) and first["x"].shape == (3, 7)
    files = sorted((tmp_path / "c").glob("*.npz"))
    assert len(files) == 2  # one file per chunk
    # An interruption loses a chunk: only that chunk is rebuilt.
    files[0].unlink()
    calls = []
    real = mocks._build_chunk
    monkeypatch.setattr(mocks, "_build_chunk", lambda spec: calls.append(1) or real(spec))
    again = generate(thetas, tiny_halos, 2, **kw)
    assert len(calls) == 1
    np.testing.assert_array_equal(again["y"], first["y"])
    # Now fully cached: nothing is built.
    monkeypatch.setattr(mocks, "_build_chunk", lambda spec: pytest.fail("rebuilt a cached chunk"))
    np.testing.assert_array_equal(generate(thetas, tiny_halos, 2, **kw)["y"], first["y"])


def test_parallel_generation_matches_serial(tiny_halos, tmp_path):
    thetas = np.array(
        [[0.5, 0.5, 11.6, 0.3, 11.5, 12.6, 1.1], [-0.5, 0.2, 11.8, 0.5, 11.2, 12.8, 1.0]]
    )
    kw = dict(seed=1, backend="kdtree", chunk_size=1, progress=False)
    serial = generate(thetas, tiny_halos, 1, workers=1, cache_dir=tmp_path / "a", **kw)
    parallel = generate(thetas, tiny_halos, 1, workers=2, cache_dir=tmp_path / "b", **kw)
    np.testing.assert_array_equal(serial["y"], parallel["y"])


def test_bad_parameter_shape_is_rejected(tiny_halos):
    with pytest.raises(ValueError, match="shape"):
        generate(np.zeros((2, 6)), tiny_halos, 1, progress=False)


def test_held_out_draws_are_topped_up_with_new_realizations(tiny_halos, tmp_path):
    from iaemu.config import MockConfig
    from iaemu.mocks import generate_splits

    low = [-1.0, -1.0, 11.5, 0.2, 11.2, 12.5, 0.9]
    high = [1.0, 1.0, 11.8, 0.5, 11.8, 12.9, 1.1]
    kw = dict(n_draws=4, n_realizations=2, low=low, high=high, backend="kdtree", workers=1)
    base = MockConfig(**kw, chunk_size=2, test_fraction=0.25, cache_dir=str(tmp_path))
    data, sp = generate_splits(base, tiny_halos, seed=0, progress=False)
    assert sp.y_test.shape == (1, 2, 3, 20) and sp.y_train.shape == (3, 2, 3, 20)
    topped = MockConfig(
        **kw, chunk_size=2, test_fraction=0.25, test_realizations=5, cache_dir=str(tmp_path)
    )
    _, sp5 = generate_splits(topped, tiny_halos, seed=0, progress=False)
    assert sp5.y_test.shape == (1, 5, 3, 20)
    np.testing.assert_array_equal(sp5.y_test[:, :2], sp.y_test)  # same draws, more realizations
    np.testing.assert_array_equal(sp5.y_train, sp.y_train)
    flat = sp5.y_test[0, :, 0].reshape(5, -1)
    assert len({row.tobytes() for row in flat}) == 5  # every realization is new
