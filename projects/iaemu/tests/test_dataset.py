"""Real-format loader on small generated files, cleaning, and the preprocessing round trip."""

import numpy as np
import pytest
import torch
from iaemu.dataset import DataError, Preprocessor, clean_rows, load_iaemu_arrays, rows, split_draws


def _fake(n, rng, r=None):
    x = rng.uniform(0, 1, (n, 7))
    shape = (n, 3, 20) if r is None else (n, r, 3, 20)
    y = rng.normal(size=shape) * 0.05
    y[..., 0, :] = np.exp(rng.normal(size=shape[:-2] + (20,)))
    return x, y


def test_loader_reads_the_real_layout(tmp_path):
    rng = np.random.default_rng(0)
    x, y = _fake(12, rng)
    np.save(tmp_path / "x_train_10x.npy", x)
    np.save(tmp_path / "y_train_10x.npy", y)
    xl, yl = load_iaemu_arrays(tmp_path / "x_train_10x.npy", tmp_path / "y_train_10x.npy")
    np.testing.assert_array_equal(xl, x)
    np.testing.assert_array_equal(yl, y)


def test_loader_flattens_the_generator_layout(tmp_path):
    rng = np.random.default_rng(1)
    x, y = _fake(5, rng, r=4)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    xl, yl = load_iaemu_arrays(tmp_path / "x.npy", tmp_path / "y.npy")
    assert xl.shape == (20, 7) and yl.shape == (20, 3, 20)
    np.testing.assert_array_equal(xl[4:8], np.repeat(x[1:2], 4, axis=0))
    np.testing.assert_array_equal(yl[5], y[1, 1])


def test_loader_errors_name_the_problem(tmp_path):
    rng = np.random.default_rng(2)
    x, y = _fake(6, rng)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    with pytest.raises(DataError, match="not found"):
        load_iaemu_arrays(tmp_path / "missing.npy", tmp_path / "y.npy")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match="not a readable"):
        load_iaemu_arrays(tmp_path / "x.npy", tmp_path / "bad.npy")
    np.save(tmp_path / "y5.npy", y[:5])
    with pytest.raises(DataError, match="rows"):
        load_iaemu_arrays(tmp_path / "x.npy", tmp_path / "y5.npy")
    np.save(tmp_path / "yw.npy", y[:, :, :10])
    with pytest.raises(DataError, match="shape"):
        load_iaemu_arrays(tmp_path / "x.npy", tmp_path / "yw.npy")
    x[0, 0] = np.nan
    np.save(tmp_path / "xn.npy", x)
    with pytest.raises(DataError, match="NaN"):
        load_iaemu_arrays(tmp_path / "xn.npy", tmp_path / "y.npy")


def test_cleaning_drops_non_positive_xi():
    rng = np.random.default_rng(3)
    x, y = _fake(10, rng)
    y[2, 0, 5] = -0.1
    y[7, 0, 0] = 0.0
    y[8, 1, 3] = np.nan
    xc, yc = clean_rows(x, y)
    assert len(xc) == 7 and (yc[:, 0] > 0).all()
    xr, yr = rows(x[:3], np.stack([y[:3], y[:3]], axis=1))
    assert xr.shape == (4, 7)  # row 2 dropped in both realizations


def test_preprocessing_round_trips_and_pools_bins():
    rng = np.random.default_rng(4)
    x, y = _fake(200, rng)
    pre = Preprocessor().fit(x, y)
    # One scalar scaler per statistic, pooled over bins (stored per bin, all bins equal).
    assert (pre.y_mean == pre.y_mean[:, :1]).all() and (pre.y_scale == pre.y_scale[:, :1]).all()
    yt = pre.transform_y(torch.as_tensor(y))
    assert abs(float(yt.mean())) < 1e-10 and abs(float(yt[:, 1].std(unbiased=False)) - 1) < 1e-10
    np.testing.assert_allclose(pre.inverse_mean(yt).numpy(), y, rtol=1e-6, atol=1e-12)
    per_bin = Preprocessor(y_scaling="per_bin").fit(x, y)
    zt = per_bin.transform_y(torch.as_tensor(y))
    torch.testing.assert_close(zt.mean(0), torch.zeros(3, 20, dtype=zt.dtype), atol=1e-10, rtol=0)
    torch.testing.assert_close(zt.std(0, unbiased=False), torch.ones(3, 20, dtype=zt.dtype))
    np.testing.assert_allclose(per_bin.inverse_mean(zt).numpy(), y, rtol=1e-6, atol=1e-12)
    xt = pre.transform_x(torch.as_tensor(x))
    np.testing.assert_allclose((xt * pre.x_scale + pre.x_mean).numpy(), x, rtol=1e-6)


def test_xi_variance_transforms():
    rng = np.random.default_rng(5)
    x, y = _fake(50, rng)
    mean = torch.as_tensor(y[:4])
    svar = torch.rand(4, 3, 20, dtype=torch.float64)
    delta = Preprocessor("delta").fit(x, y).inverse_variance(svar, mean)
    orig = Preprocessor("original").fit(x, y).inverse_variance(svar, mean)
    pre = Preprocessor().fit(x, y)
    var_log = svar[:, 0] * pre.y_scale[0, 0] ** 2
    torch.testing.assert_close(delta[:, 0], var_log * mean[:, 0] ** 2)  # delta method
    torch.testing.assert_close(orig[:, 0], var_log * mean[:, 0])  # released behaviour
    torch.testing.assert_close(delta[:, 1:], orig[:, 1:])
    with pytest.raises(ValueError, match="xi_variance"):
        Preprocessor("log")


def test_split_is_by_draw():
    x = np.arange(50)[:, None] * np.ones((1, 7))
    y = np.zeros((50, 3, 3, 20))
    sp = split_draws(x, y, 0.2, seed=0)
    assert len(sp.x_test) == 10 and len(sp.x_train) == 40
    assert not set(sp.x_test[:, 0]) & set(sp.x_train[:, 0])
