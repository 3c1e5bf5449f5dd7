import math

import numpy as np
import pytest
import torch
from atlasd.downstream import GaugeCNN, GaugeConv, default_layers
from atlasd.lorentz import (
    TopTaggingFormatError,
    boost_matrix,
    invariant_mass,
    load_top_tagging,
    make_lorentz_events,
    random_rotation,
    write_top_tagging_like,
)
from atlasd.pde import (
    ATLAS2,
    BOUNDARY_VALUE,
    GLOBAL_ATLAS,
    heat_steps,
    make_pde_data,
    obstacle_mask,
    simulator_equivariance_loss,
)
from atlasd.sphere_digits import (
    DigitChartNet,
    digit_columns,
    load_mnist_idx,
    make_sphere_digits,
    project_cylinder,
    sphere_charts,
)

from symlab.testing import assert_equivariant, assert_invariant


def test_pde_data_is_repeatable_finite_and_clamped():
    X, Y = make_pde_data(3, seed=4, grid=64)
    X2, Y2 = make_pde_data(3, seed=4, grid=64)
    assert torch.equal(X, X2) and torch.equal(Y, Y2)
    m = obstacle_mask(64)
    assert torch.isfinite(Y).all()
    assert torch.allclose(Y[:, 0, m], torch.full_like(Y[:, 0, m], BOUNDARY_VALUE))
    assert torch.allclose(X[:, 0, m], torch.full_like(X[:, 0, m], BOUNDARY_VALUE))


def test_heat_step_keeps_the_boundary_constant_and_smooths():
    m = obstacle_mask(32)
    const = torch.full((1, 32, 32), BOUNDARY_VALUE)
    assert torch.allclose(heat_steps(const, m, steps=5), const, atol=1e-6)
    x = torch.randn(1, 32, 32, generator=torch.Generator().manual_seed(0))
    y = heat_steps(x, m, steps=10)
    assert y[:, 12:20, 20:28].std() < x[:, 12:20, 20:28].std()


def _lorentz(n, gen):
    rap = torch.rand(n, generator=gen, dtype=torch.float64)
    d = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    return boost_matrix(d / d.norm(dim=-1, keepdim=True), rap) @ random_rotation(n, gen)


def test_labels_are_lorentz_invariant(generator):
    X, y = make_lorentz_events(64, seed=0)
    assert torch.equal(y, (invariant_mass(X) > 1.0).long())
    gen = torch.Generator().manual_seed(1)

    def act(g, x):
        return torch.einsum("ij,nj->ni", g.double(), x.double())

    assert_invariant(
        lambda x: invariant_mass(x[None]), X[0], lambda n: _lorentz(n, gen), act,
        tolerance=1e-6,
    )  # fmt: skip
    assert torch.equal(make_lorentz_events(16, 3)[0], make_lorentz_events(16, 3)[0])


def test_top_tagging_loader_roundtrip_and_errors(tmp_path):
    X, y = make_lorentz_events(10, seed=2, n_max=30)
    path = tmp_path / "train.h5"
    write_top_tagging_like(path, X, y)
    Xl, yl = load_top_tagging(path)
    assert torch.allclose(Xl, X) and torch.equal(yl, y)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_top_tagging(tmp_path / "nope.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(TopTaggingFormatError, match="not a readable HDF5"):
        load_top_tagging(bad)
    with pytest.raises(TopTaggingFormatError, match="missing columns"):
        load_top_tagging(path, n_const=31)


def test_sphere_digits_are_seeded_and_charts_undo_the_projection():
    a, sa = make_sphere_digits(4, seed=7, max_degrees=0)
    b, sb = make_sphere_digits(4, seed=7, max_degrees=0)
    assert torch.equal(a, b) and torch.equal(sa, sb)
    assert not torch.equal(a, make_sphere_digits(4, seed=8)[0])
    assert a.shape == (4, 1, 30, 60) and sa.shape == (4, 30, 60)
    charts = sphere_charts(a, 7)
    assert charts.shape == (4, 3, 1, 15, 15)
    # undistorted digits in the charts: ink is spread over the chart like the 14x14 digit
    assert (charts.sum(dim=(-1, -2)) > 1).all()
    with pytest.raises(ValueError, match="radius"):
        sphere_charts(a, 12)


def test_sphere_charts_undo_the_projection_exactly():
    # a cylinder whose every pixel is distinct: each chart must be exactly the cylinder window
    # rows cyl_h/2 - R .. cyl_h/2 + R around the digit column (no skipped or doubled rows)
    W, cyl_h, R = 60, 28, 7
    cyl = torch.arange(cyl_h * W, dtype=torch.float32).reshape(1, 1, cyl_h, W)
    charts = sphere_charts(project_cylinder(cyl, -1.0), R)
    for j, col in enumerate(digit_columns(W)):
        expect = cyl[0, 0, cyl_h // 2 - R : cyl_h // 2 + R + 1, col - R : col + R + 1]
        assert torch.equal(charts[0, j, 0], expect)


def test_digit_chart_net_shapes():
    net = DigitChartNet(4, 15).eval()
    assert net(torch.zeros(2, 1, 15, 15)).shape == (2, 11, 15, 15)
    with pytest.raises(ValueError, match="15x15"):
        net(torch.zeros(2, 1, 13, 13))


def test_heat_data_is_rotation_equivariant_locally_but_not_globally():
    # the exact simulator, not a learned model: rotate the initial field about a point, evolve,
    # and compare with the rotated evolution. Away from the obstacle and the boundary the error
    # is a few percent; about the field centre the fixed obstacle breaks the symmetry.
    X, _ = make_pde_data(8, seed=5)
    J = torch.tensor([[[0.0, -1.0], [1.0, 0.0]]]) / math.sqrt(2)
    loc = simulator_equivariance_loss(
        X, J, [ATLAS2[1]], 20, gen=torch.Generator().manual_seed(0), batch=8
    )
    glob = simulator_equivariance_loss(
        X, J, GLOBAL_ATLAS[0], GLOBAL_ATLAS[2], gen=torch.Generator().manual_seed(0), batch=8
    )
    assert loc < 0.05
    assert glob > 4 * loc
    # a shear is no symmetry of the heat equation, even locally
    S = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]])
    shear = simulator_equivariance_loss(
        X, S, [ATLAS2[1]], 20, gen=torch.Generator().manual_seed(0), batch=8
    )
    assert shear > 4 * loc


def test_mnist_idx_reader(tmp_path):
    img = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    (tmp_path / "i").write_bytes(
        (2051).to_bytes(4, "big") + b"".join(v.to_bytes(4, "big") for v in (2, 28, 28))
        + img.tobytes()
    )  # fmt: skip
    (tmp_path / "l").write_bytes((2049).to_bytes(4, "big") + (2).to_bytes(4, "big") + b"\x03\x07")
    X, y = load_mnist_idx(tmp_path / "i", tmp_path / "l")
    assert X.shape == (2, 1, 28, 28) and y.tolist() == [3, 7]
    assert math.isclose(float(X[0, 0, 0, 5]), 5 / 255, rel_tol=1e-6)
    with pytest.raises(ValueError, match="magic"):
        load_mnist_idx(tmp_path / "l", tmp_path / "l")


def _rot(k, x):
    return torch.rot90(x, int(k), dims=(-2, -1))


def test_so2_layer_and_network_are_exactly_c4_equivariant(generator):
    x = torch.randn(2, 3, 13, 13, generator=generator)
    layer = GaugeConv(3, 4, "so2")
    assert_equivariant(layer, x, lambda n: torch.arange(n) % 4, _rot, _rot, n_samples=4,
                       tolerance=1e-5)  # fmt: skip
    net = GaugeCNN(default_layers(4, 11, 4), "so2").eval()
    assert_equivariant(net, x[:, :1], lambda n: torch.arange(n) % 4, _rot, _rot, n_samples=4,
                       tolerance=1e-5)  # fmt: skip
    assert layer.effective_params() < GaugeConv(3, 4, "trivial").effective_params() / 3


def test_plain_layer_is_not_c4_equivariant(generator):
    x = torch.randn(2, 3, 13, 13, generator=generator)
    layer = GaugeConv(3, 4, "trivial")
    with pytest.raises(AssertionError):
        assert_equivariant(layer, x, lambda n: torch.arange(1, n + 1) % 4 + 0, _rot, _rot,
                           n_samples=3, tolerance=1e-5)  # fmt: skip
