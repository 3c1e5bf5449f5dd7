"""train resumes from its checkpoint; eval reads it; reproduce writes the results table."""

import json

from invariant_eqdisc import eval as ev
from invariant_eqdisc.config import load
from invariant_eqdisc.reproduce import reproduce
from invariant_eqdisc.train import train


def test_train_resume_and_eval(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYMLAB_CACHE", str(tmp_path / "cache"))
    cfg = load("smoke", ["stages=[boussinesq]", "run_name=r1"])
    run, res = train(cfg, root=tmp_path, progress=False)
    ckpt = run.checkpoint_dir / "last.pt"
    assert ckpt.exists()
    run2, res2 = train(cfg, root=tmp_path, progress=False)  # resumes: nothing recomputed
    assert res2 == res
    ev.main(["--checkpoint", str(ckpt)])
    assert "boussinesq/SI/SP" in capsys.readouterr().out


def test_reproduce_smoke_writes_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMLAB_CACHE", str(tmp_path / "cache"))
    rec = reproduce("smoke", out_root=tmp_path / "results", progress=False)
    data = json.loads((rec.out_dir / "results.json").read_text())
    tables = {m["table"] for m in data["metrics"]}
    assert any(t.startswith("Table 1") for t in tables)
    assert any(t.startswith("Table 3") for t in tables)
    assert (rec.out_dir / "weak_noise.png").exists()
    assert (rec.out_dir / "symmetry_breaking.png").exists()
    assert (rec.out_dir / "gp_success.png").exists()
    names = {m["name"] for m in data["metrics"]}
    for system in ("Boussinesq", "Darcy", "Reaction-diffusion"):
        for row in ("SI (GP) C", "SI (GP) SP", "SI (GP) PE", "raw-variable GP SP"):
            assert f"{system} {row}" in names
