"""Configs, the training entry points (determinism, resume, NaN guard) and the task pipeline at
smoke scale."""

import dataclasses

import pytest
import torch
from dhn.experiment import Data, evaluate_forward, load, train, variant

from symlab.runs import ConfigError, NonFiniteError


@pytest.mark.parametrize("scale", ["smoke", "cpu", "paper"])
def test_shipped_configs_load(scale):
    cfg = load(scale)
    assert cfg.net.block >= cfg.net.stride >= 1


def test_bad_config_keys_are_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown config key 'net.hiden'"):
        load("smoke", ["net.hiden=3"])
    with pytest.raises(ConfigError, match="task"):
        load("smoke", ["task=classification"])
    with pytest.raises(ConfigError, match="forward_block_sweep"):
        load("smoke", ["forward_block_sweep=[[1, 2]]"])
    with pytest.raises(ConfigError, match="nope.yaml"):
        load(str(tmp_path / "nope.yaml"))


def test_learning_rate_schedules():
    from dhn.experiment import TrainConfig, learning_rate

    cos = TrainConfig(lr=1e-3, schedule="cosine")
    assert learning_rate(cos, 0, 100) == pytest.approx(1e-3)
    assert learning_rate(cos, 50, 100) == pytest.approx(5e-4)
    assert learning_rate(cos, 100, 100) == pytest.approx(0.0, abs=1e-12)
    const = TrainConfig(lr=1e-3, schedule="constant")
    assert {learning_rate(const, k, 100) for k in (0, 50, 99)} == {1e-3}
    with pytest.raises(ValueError, match="train.schedule"):
        load("smoke", ["train.schedule=linear"])


@pytest.fixture(scope="module")
def smoke_cache(tmp_path_factory):
    """One dataset cache for the module: the trajectories are simulated once, and every test
    still gets fresh tensors loaded from it (the NaN test edits its copy in place)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def smoke(tmp_path, smoke_cache):
    cfg = variant(
        load("smoke"),
        runs_root=str(tmp_path / "runs"),
        data={"n_train": 8, "n_test": 4, "n_coarse": 21},
    )
    return cfg, Data(cfg, cache_dir=smoke_cache)


def test_training_is_deterministic_and_resumes(smoke, monkeypatch):
    cfg, data = smoke
    m1, _, _ = train(cfg, data, run_name="a", progress=False)
    m2, _, _ = train(cfg, data, run_name="b", progress=False)
    for (k, v), v2 in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(v, v2), k
    # rerunning a finished run resumes from its checkpoint without changing the weights
    m3, _, _ = train(cfg, data, run_name="a", progress=False)
    assert all(
        torch.equal(v, w) for v, w in zip(m1.state_dict().values(), m3.state_dict().values())
    )
    # one more epoch from the checkpoint continues where the run stopped
    longer = dataclasses.replace(cfg.train, epochs=cfg.train.epochs + 1)
    m4, _, _ = train(dataclasses.replace(cfg, train=longer), data, run_name="c", progress=False)
    assert not torch.equal(m4.codes.weight, m1.codes.weight)
    # a run interrupted after 2 epochs and resumed ends with the same weights as "c"
    import symlab.runs

    real = symlab.runs.check_finite

    def interrupt(value, what="loss", step=None):
        if step == cfg.train.epochs:
            raise KeyboardInterrupt
        return real(value, what=what, step=step)

    monkeypatch.setattr(symlab.runs, "check_finite", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(dataclasses.replace(cfg, train=longer), data, run_name="d", progress=False)
    monkeypatch.setattr(symlab.runs, "check_finite", real)
    m5, _, _ = train(dataclasses.replace(cfg, train=longer), data, run_name="d", progress=False)
    assert all(
        torch.equal(v, w) for v, w in zip(m4.state_dict().values(), m5.state_dict().values())
    )


def test_nan_loss_gives_a_clear_error(smoke):
    cfg, data = smoke
    data.split["train"]["q"][0] = float("nan")
    bad = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, batch=16))
    with pytest.raises(NonFiniteError, match="training loss of dhn"):
        train(bad, data, run_name="nan", progress=False)


def test_forward_pipeline_smoke(smoke):
    cfg, data = smoke
    model, _, _ = train(cfg, data, run_name="fwd", progress=False)
    res = evaluate_forward(cfg, model, data)
    assert {("fit", "K=2"), ("fit", "K=1"), ("completion", "K=2")} <= set(res)
    for m in res.values():
        assert all(map(lambda v: v == v, (m["q_mse"], m["energy_drift"])))
        assert m["energy_drift_gt"] < 1e-2  # the simulator's own floor


def test_code_fitting_ignores_the_global_rng(smoke):
    """Test-time codes are re-initialised from the seeded fitting generator: the same network
    and observations give the same codes whatever consumed the global RNG before."""
    from dhn.experiment import build_model, fit_codes

    cfg, data = smoke
    cfg = variant(cfg, model="vanilla")
    model = build_model(cfg, 8)
    q, p = data.split["test"]["q"][:, :16], data.split["test"]["p"][:, :16]
    torch.manual_seed(1)
    a = fit_codes(cfg, model, q, p)
    torch.manual_seed(2)
    torch.randn(100)
    b = fit_codes(cfg, model, q, p)
    assert torch.equal(a, b)
    assert all(prm.requires_grad for prm in model.parameters())  # networks unfrozen again


def test_reproduce_smoke_writes_tables_and_figures(tmp_path):
    import json

    from dhn.reproduce import reproduce

    reproduce(
        "smoke",
        out_root=tmp_path / "out",
        runs_root=tmp_path / "runs",
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    res = json.loads((tmp_path / "out" / "smoke" / "results.json").read_text())
    tables = {m["table"] for m in res["metrics"]}
    # the smoke config trains the forward-simulation models under two seeds, one run each
    seeds = load("smoke").forward_seeds
    assert len(seeds) == 2
    for seed in seeds:
        assert (tmp_path / "runs" / "dhn" / f"smoke-forward-double_pendulum-dhn-s{seed}").is_dir()
    fit = {m["name"]: m for m in res["metrics"] if m["table"].startswith("Forward simulation, fit")}
    ratio = fit["DHN K=2 / vanilla TF q MSE"]
    means = [
        m["value"]
        for name in ("DHN K=2 q MSE", "vanilla TF (per-trajectory attention) q MSE")
        for m in res["metrics"]
        if m["name"] == name and m["unit"] == "normalised" and m["table"] == ratio["table"]
    ]
    assert ratio["value"] == pytest.approx(means[0] / means[1], rel=1e-12)
    assert "mean over 2 training seeds" in ratio["note"] and "/2 seeds" in ratio["note"]
    # the block-size / stride sweep: the criteria's 4/2 reuses the seed-0 run, 2/1 is trained
    sweep = {m["name"] for m in res["metrics"] if "block size / stride sweep" in m["table"]}
    for bs in ("4/2", "2/1"):
        for k in ("K=2", "K=1"):
            assert f"DHN b/s {bs} {k} q MSE, completion" in sweep
    assert (tmp_path / "runs" / "dhn" / "smoke-forward-double_pendulum-dhn-b2s1-s0").is_dir()
    assert not (tmp_path / "runs" / "dhn" / "smoke-forward-double_pendulum-dhn-b4s2-s0").exists()
    assert any(t.startswith("Forward simulation, fitting") for t in tables)
    assert any(t.startswith("Forward simulation, completion") for t in tables)
    assert any(t.startswith("Representation") for t in tables)
    assert any(t.startswith("Super-resolution") for t in tables)
    for fig in res["figures"]:
        assert (tmp_path / "out" / "smoke" / fig).is_file()


def test_forward_metrics_are_averaged_over_seeds():
    from dhn.reproduce import _mean_over_seeds

    def ev(q, e):
        return {("dhn", "fit", "K=10"): {"q_mse": q, "q_mse_phys": 2 * q, "energy_drift": e}}

    mean = _mean_over_seeds([ev(1.0, 0.5), ev(3.0, 0.1), ev(8.0, 0.3)])
    assert mean[("dhn", "fit", "K=10")] == pytest.approx(
        {"q_mse": 4.0, "q_mse_phys": 8.0, "energy_drift": 0.3}
    )
