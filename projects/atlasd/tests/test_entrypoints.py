import json

import pytest
import torch
from atlasd import eval as atlas_eval
from atlasd import reproduce, train
from atlasd.discovery import Action, train_basis
from atlasd.lie import LieBasis

from symlab.runs import NonFiniteError


def test_smoke_train_resume_eval_and_reproduce(tmp_path, capsys):
    args = ["--config", "smoke", "--runs-root", str(tmp_path), "run_name=t"]
    out = train.main(args)
    assert set(out) == {"pde", "probes", "lorentz", "digits"}
    ckpt = tmp_path / "atlasd" / "t" / "checkpoints"
    mtimes = {p.name: p.stat().st_mtime for p in ckpt.glob("*.pt")}
    again = train.main(args)  # resumes: nothing retrained, same numbers
    assert {p.name: p.stat().st_mtime for p in ckpt.glob("*.pt")} == mtimes
    assert torch.equal(again["pde"]["atlas2"]["L"], out["pde"]["atlas2"]["L"])
    res = atlas_eval.main(["--checkpoint", str(ckpt / "pde.pt")])
    assert res["task"] == "pde" and 0 <= res["atlas2"]["cos_rotation"] <= 1
    results = reproduce.reproduce(
        "smoke", out_root=tmp_path / "res", overrides=["tasks=[pde, probes]"]
    )
    data = json.loads((tmp_path / "res" / "smoke" / "results.json").read_text())
    assert data["scale"] == "smoke" and len(results.metrics) >= 10
    assert (tmp_path / "res" / "smoke" / "cosets.png").is_file()


def test_same_seed_same_discovery(tmp_path):
    a = train.main(["--config", "smoke", "--runs-root", str(tmp_path), "run_name=a",
                    "tasks=[lorentz]"])  # fmt: skip
    b = train.main(["--config", "smoke", "--runs-root", str(tmp_path), "run_name=b",
                    "tasks=[lorentz]"])  # fmt: skip
    assert torch.equal(a["lorentz"]["L"], b["lorentz"]["L"])
    assert torch.equal(a["lorentz"]["candidates"], b["lorentz"]["candidates"])


def test_nan_is_reported(generator):
    class Bad(torch.nn.Module):
        def forward(self, x):
            return x.sum(dim=1) * float("nan")

    x = torch.randn(8, 3, 2, generator=generator)
    with pytest.raises(NonFiniteError):
        train_basis(LieBasis(1, 2), Bad(), x, Action("global", "l1"), epochs=1, batch=8,
                    gen=generator)  # fmt: skip


def test_corrupt_checkpoint_is_named(tmp_path):
    bad = tmp_path / "pde.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(Exception, match="pde.pt"):
        atlas_eval.main(["--checkpoint", str(bad)])
