"""Tests for symlab.data.Normalizer and DictNormalizer."""

import io

import numpy as np
import pytest
import torch

from symlab.data import DictNormalizer, Normalizer


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    # Features on very different scales and offsets, with time as an extra leading dim.
    scales = torch.tensor([0.01, 1.0, 250.0])
    offsets = torch.tensor([5.0, -3.0, 1000.0])
    return torch.randn(64, 10, 3, generator=g) * scales + offsets


def test_limits_maps_to_unit_range_and_round_trips():
    x = _data()
    norm = Normalizer("limits").fit(x)
    y = norm.normalize(x)
    flat = y.reshape(-1, 3)
    torch.testing.assert_close(flat.amin(0), -torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.amax(0), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(norm.unnormalize(y), x, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(norm.input_min, x.reshape(-1, 3).amin(0))


def test_custom_output_range():
    x = _data(1)
    y = Normalizer("limits", output_min=0.0, output_max=1.0).fit(x).normalize(x).reshape(-1, 3)
    torch.testing.assert_close(y.amin(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.amax(0), torch.ones(3), atol=1e-5, rtol=0)


def test_gaussian_standardises_and_round_trips():
    x = _data(2).double()
    norm = Normalizer("gaussian").double().fit(x)
    y = norm.normalize(x).reshape(-1, 3)
    torch.testing.assert_close(y.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(
        y.std(0, correction=0), torch.ones(3, dtype=torch.float64), atol=1e-9, rtol=0
    )
    torch.testing.assert_close(norm.unnormalize(norm.normalize(x)), x, atol=1e-9, rtol=1e-12)


@pytest.mark.parametrize("mode", ["limits", "gaussian"])
def test_constant_feature_uses_range_floor(mode):
    x = torch.randn(100, 2)
    x[:, 1] = 7.0
    norm = Normalizer(mode).fit(x)
    y = norm.normalize(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y[:, 1], torch.zeros(100))
    torch.testing.assert_close(norm.unnormalize(y), x)


def test_identity_and_unfitted():
    x = torch.randn(4, 3)
    ident = Normalizer.identity()
    assert torch.equal(ident.normalize(x), x) and torch.equal(ident.unnormalize(x), x)
    assert ident.fit(x) is ident
    with pytest.raises(RuntimeError, match="not fitted"):
        Normalizer("gaussian").normalize(x)


def test_shape_and_argument_errors():
    norm = Normalizer().fit(torch.randn(10, 3))
    with pytest.raises(ValueError, match=r"trailing feature shape \(3,\), found shape \(10, 4\)"):
        norm.normalize(torch.randn(10, 4))
    with pytest.raises(ValueError, match="unknown normalizer mode 'minmax'"):
        Normalizer("minmax")
    with pytest.raises(ValueError, match="non-finite"):
        Normalizer().fit(torch.tensor([[1.0], [float("nan")]]))
    with pytest.raises(ValueError, match="empty"):
        Normalizer().fit(torch.zeros(0, 3))


def test_fit_numpy_feature_ndim_and_integer_input():
    img = np.random.default_rng(0).integers(0, 256, size=(20, 3, 4, 4), dtype=np.uint8)
    norm = Normalizer("limits", feature_ndim=3).fit(img)
    assert norm.scale.shape == (3, 4, 4)
    y = norm.normalize(torch.from_numpy(img))
    assert y.dtype == torch.float32
    assert y.min() >= -1 - 1e-6 and y.max() <= 1 + 1e-6
    scalar = Normalizer("gaussian", feature_ndim=0).fit(img)
    assert scalar.scale.shape == ()


def test_keeps_half_precision():
    x = _data(3)
    norm = Normalizer().fit(x)
    assert norm.normalize(x.to(torch.bfloat16)).dtype == torch.bfloat16


def test_state_dict_into_fresh_module():
    x = _data(4)
    norm = Normalizer("gaussian", range_eps=1e-3).fit(x)
    buf = io.BytesIO()
    torch.save(norm.state_dict(), buf)
    buf.seek(0)
    fresh = Normalizer()
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert fresh.mode == "gaussian" and fresh.range_eps == 1e-3 and fresh.fitted
    torch.testing.assert_close(fresh.normalize(x), norm.normalize(x))
    assert "input_std" in norm.state_dict()


def test_dict_normalizer_round_trip_and_modes():
    g = torch.Generator().manual_seed(0)
    data = {
        "obs": torch.randn(30, 8, 5, generator=g) * 4 + 2,
        "action": torch.rand(30, 8, 2, generator=g) * 10,
        "gripper": torch.randint(0, 2, (30, 8, 1), generator=g).float(),
    }
    norm = DictNormalizer().fit(
        data, mode="limits", modes={"obs": "gaussian", "gripper": "identity"}
    )
    assert norm["obs"].mode == "gaussian" and norm["action"].mode == "limits"
    out = norm.normalize(data)
    assert torch.equal(out["gripper"], data["gripper"])
    assert out["action"].abs().max() <= 1 + 1e-5
    back = norm.unnormalize(out)
    for k in data:
        torch.testing.assert_close(back[k], data[k], atol=1e-5, rtol=1e-5)

    with pytest.raises(KeyError, match="no normalizer for key 'reward'"):
        norm.normalize({"obs": data["obs"], "reward": torch.zeros(3)})
    with pytest.raises(KeyError, match="'nope'"):
        DictNormalizer().fit(data, modes={"nope": "identity"})

    fresh = DictNormalizer()
    fresh.load_state_dict(norm.state_dict())
    assert set(fresh.keys()) == set(data)
    assert fresh["gripper"].mode == "identity"
    for k, v in fresh.normalize(data).items():
        torch.testing.assert_close(v, out[k])


def test_dict_normalizer_is_a_submodule():
    class Policy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.normalizer = DictNormalizer({"a": Normalizer().fit(torch.randn(10, 2))})

    keys = Policy().state_dict().keys()
    assert "normalizer.a.scale" in keys and "normalizer.a.offset" in keys
