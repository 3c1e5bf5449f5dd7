"""Beyond the paper: orbit dimensions and the eval CLI on checkpoints written here."""

import json

import pytest
import torch
from mode_connectivity import eval as eval_cli
from mode_connectivity.config import NetworkTrainConfig
from mode_connectivity.linear import act, lie_action
from mode_connectivity.networks import MLP, make_data, save_network
from mode_connectivity.orbits import (
    fit_group_element,
    orbit_dimension,
    rescaling_act,
)
from mode_connectivity.permutations import odd_permutation, permute_hidden_layer
from mode_connectivity.trained import train_network

F64 = torch.float64


def random_mlp(widths, activation, gen):
    model = MLP(widths, activation)
    model.reset_parameters(gen)
    return model


def with_weights(model, weights):
    copy = MLP(model.widths, model.activation, model.negative_slope)
    with torch.no_grad():
        for p, w in zip(copy.weights, weights):
            p.copy_(w)
    return copy


def test_gl_orbit_dimension_is_sum_of_squares(gen):
    weights = random_mlp([3, 3, 3, 3], "linear", gen).weight_list()
    dim = orbit_dimension("gl", weights)
    assert dim.numerical_rank == dim.analytic_orbit_dimension == dim.group_dimension == 18
    # The Jacobian of the action is the Lie algebra action d rho(xi).
    xi = [torch.randn(3, 3, generator=gen, dtype=F64) for _ in range(2)]
    from mode_connectivity.orbits import action_map

    f, n = action_map("gl", weights)
    jac = torch.autograd.functional.jacobian(f, torch.zeros(n, dtype=F64))
    expected = torch.cat([w.reshape(-1) for w in lie_action(xi, weights)])
    torch.testing.assert_close(jac @ torch.cat([x.reshape(-1) for x in xi]), expected)


def test_orbit_dimension_with_a_stabilizer(gen):
    # Two-layer 16 -> 32 -> 4: stabilizer (32 - 16)(32 - 4) = 448, orbit 1024 - 448 = 576.
    weights = random_mlp([16, 32, 4], "linear", gen).weight_list()
    dim = orbit_dimension("gl", weights)
    assert dim.analytic_orbit_dimension == dim.numerical_rank == 576
    assert dim.stabilizer_dimension == 448
    leaky = orbit_dimension("rescaling", weights)
    assert leaky.numerical_rank == leaky.analytic_orbit_dimension == 32


def test_fit_group_element_recovers_g(gen):
    weights = random_mlp([3, 3, 3, 3], "linear", gen).weight_list()
    gs = [torch.randn(3, 3, generator=gen, dtype=F64) for _ in range(2)]
    fit = fit_group_element("gl", weights, act(gs, weights))
    assert fit.relative_residual < 1e-10
    for a, b in zip(fit.group_elements, gs):
        torch.testing.assert_close(a, b)
    scales = [torch.rand(3, generator=gen, dtype=F64) + 0.5 for _ in range(2)]
    fit = fit_group_element("rescaling", weights, rescaling_act(scales, weights))
    assert fit.relative_residual < 1e-10 and fit.connected
    other = random_mlp([3, 3, 3, 3], "linear", gen).weight_list()
    assert fit_group_element("rescaling", weights, other).relative_residual > 1e-3


def write(path, model, X, Y):
    save_network(path, model, X, Y)
    return str(path)


def test_eval_linear_pair_same_component(tmp_path, gen, capsys):
    cfg = NetworkTrainConfig(
        widths=[3, 3, 3, 3],
        activation="linear",
        batch=3,
        data="gaussian_square",
        steps=400,
        lr=0.02,
        optimizer="sgd",
    )
    net = train_network(cfg, 0)
    a = write(tmp_path / "a.pt", net.model, net.X, net.Y)
    gs = []
    while len(gs) < 2:  # det > 0: B in A's component
        g = torch.randn(3, 3, generator=gen, dtype=F64)
        gs.append(g if torch.linalg.det(g) > 0 else -g)
    b = write(tmp_path / "b.pt", with_weights(net.model, act(gs, net.weights)), net.X, net.Y)
    json_path = tmp_path / "report.json"
    assert eval_cli.main(["--checkpoint", a, "--checkpoint-b", b, "--json", str(json_path)]) == 0
    out = capsys.readouterr().out
    assert "[gl] orbit dimension, numerical" in out and "polar curve" in out
    report = json.loads(json_path.read_text())
    (dim,) = report["orbit_dimensions"]
    assert dim["numerical_orbit_dimension"] == dim["analytic_orbit_dimension"] == 18
    assert report["curve_max_loss"] == pytest.approx(report["loss_a"], rel=1e-6, abs=1e-12)
    assert report["curve_max_loss"] < report["linear_max_loss"]


def test_eval_linear_pair_other_component_uses_a_permutation(tmp_path, gen):
    X, Y = make_data([2, 2, 2], "linear", 2, "gaussian_square", 0)
    model = random_mlp([2, 2, 2], "linear", gen)
    g = torch.randn(2, 2, generator=gen, dtype=F64)
    g = g if torch.linalg.det(g) < 0 else -g  # det < 0: the other component
    other = with_weights(model, act([g], model.weight_list()))
    a, b = write(tmp_path / "a.pt", model, X, Y), write(tmp_path / "b.pt", other, X, Y)
    report = eval_cli.evaluate_pair(a, b)
    assert "another component" in report["connection"]
    losses = torch.tensor(report["curve_losses"])
    torch.testing.assert_close(losses, torch.full_like(losses, report["loss_a"]))
    # One hidden unit: no permutation can help, the report says why.
    model1 = random_mlp([2, 1, 2], "linear", gen)
    other1 = with_weights(model1, act([-torch.ones(1, 1, dtype=F64)], model1.weight_list()))
    a1, b1 = write(tmp_path / "a1.pt", model1, X, Y), write(tmp_path / "b1.pt", other1, X, Y)
    report1 = eval_cli.evaluate_pair(a1, b1)
    assert report1["curve_max_loss"] is None
    assert "Cor. 4.2" in report1["reasons_no_curve"][0]


def test_eval_leaky_relu_rescaling_and_unrelated(tmp_path, gen):
    widths = [4, 6, 6, 3]
    X, Y = make_data(widths, "leaky_relu", 10, "teacher", 0)
    model = random_mlp(widths, "leaky_relu", gen)
    scales = [torch.rand(6, generator=gen, dtype=F64) + 0.2 for _ in range(2)]
    scaled = with_weights(model, rescaling_act(scales, model.weight_list()))
    a, b = write(tmp_path / "a.pt", model, X, Y), write(tmp_path / "b.pt", scaled, X, Y)
    report = eval_cli.evaluate_pair(a, b)
    assert report["orbit_dimensions"][0]["numerical_orbit_dimension"] == 12
    assert report["connection"].startswith("rescaling curve")
    assert report["curve_max_loss"] == pytest.approx(report["loss_a"], rel=1e-9)
    unrelated = write(tmp_path / "c.pt", random_mlp(widths, "leaky_relu", gen), X, Y)
    report = eval_cli.evaluate_pair(a, unrelated)
    assert report["curve_max_loss"] is None
    assert "not in the rescaling orbit" in report["reasons_no_curve"][0]
    assert report["linear_max_loss"] > 0


def test_eval_two_layer_wide_networks_are_connected(tmp_path):
    cfg = NetworkTrainConfig(steps=60)  # two-layer 16 -> 32 -> 4, batch 8
    net_a, net_b = train_network(cfg, 0), train_network(cfg, 1)
    a = write(tmp_path / "a.pt", net_a.model, net_a.X, net_a.Y)
    b = write(tmp_path / "b.pt", net_b.model, net_b.X, net_b.Y)
    report = eval_cli.evaluate_pair(a, b)
    data_gl = [d for d in report["orbit_dimensions"] if d["family"] == "data_gl"][0]
    assert data_gl["numerical_orbit_dimension"] == data_gl["analytic_orbit_dimension"] == 512
    assert "Prop. 6.1" in report["connection"]
    assert report["curve_max_loss"] <= max(report["loss_a"], report["loss_b"]) * (1 + 1e-9)
    assert report["curve_max_loss"] < report["linear_max_loss"]


def test_eval_rejects_mismatched_checkpoints(tmp_path, gen, capsys):
    X, Y = make_data([2, 2, 2], "linear", 2, "gaussian_square", 0)
    a = write(tmp_path / "a.pt", random_mlp([2, 2, 2], "linear", gen), X, Y)
    b = write(tmp_path / "b.pt", random_mlp([2, 3, 2], "linear", gen), X, Y)
    assert eval_cli.main(["--checkpoint", a, "--checkpoint-b", b]) == 2
    assert "different architectures" in capsys.readouterr().err
    assert eval_cli.main(["--checkpoint", a, "--checkpoint-b", str(tmp_path / "no.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_permuted_network_is_the_same_function(gen):
    model = random_mlp([3, 4, 2], "leaky_relu", gen)
    X = torch.randn(3, 5, generator=gen, dtype=F64)
    permuted = permute_hidden_layer(model.weight_list(), 1, odd_permutation(4))
    torch.testing.assert_close(with_weights(model, permuted)(X), model(X))
