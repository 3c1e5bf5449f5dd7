"""The smoke reproduction writes every acceptance metric, all passing, and the figures."""

import json

import pytest
from mode_connectivity.reproduce import README_BEGIN, README_END, reproduce, update_readme

EXPECTED_TABLES = [
    "Cor. 4.2",
    "Prop. 4.3",
    "Prop. 5.2",
    "Prop. 5.3",
    "Prop. 6.1",
    "Thm. 6.2",
    "Fig. 3b-c",
    "Run",
]
FIGURES = [
    "components.png",
    "skip_connection.png",
    "lmc_barrier.png",
    "trained_curves.png",
    "curvature_bound.png",
    "approx_action.png",
]


def test_smoke_reproduce(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMLAB_RESULTS", str(tmp_path))
    path = reproduce("smoke", progress=False)
    assert path == tmp_path / "mode_connectivity" / "smoke" / "results.json"
    data = json.loads(path.read_text())
    metrics = data["metrics"]
    failing = [m["name"] for m in metrics if m["passed"] is False]
    assert failing == []
    assert data["n_passed"] == data["n_checked"] >= 30
    for table in EXPECTED_TABLES:
        assert any(m["table"].startswith(table) for m in metrics), table
    components = [m for m in metrics if m["name"].startswith("components, l=")]
    assert len(components) == 4 and all(m["tolerance"] == 0 for m in components)
    names = " ".join(m["name"] for m in metrics)
    for needle in ("eps = 0.5", "m = 4", "h >= k", "d_max", "linear barrier", "run time"):
        assert needle in names
    assert sorted(data["figures"]) == sorted(FIGURES)
    for figure in FIGURES:
        assert (path.parent / figure).stat().st_size > 1000
    assert "criteria met" in (path.parent / "results.md").read_text()


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_BEGIN}\nold\n{README_END}\nrest\n")
    table = tmp_path / "results.md"
    table.write_text("## t\n\n| a |\n\nFigures: [x.png](x.png)\n")
    assert update_readme(readme, table)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("rest\n") and "old" not in text
    assert "[x.png](results/cpu/x.png)" in text and "\n### t\n" in text
    assert not update_readme(tmp_path / "missing.md", table)


@pytest.mark.slow
def test_cpu_reproduce_meets_every_criterion(tmp_path, monkeypatch):
    """The full cpu-scale reproduction (about 25 s): every criterion met, within its budget."""
    monkeypatch.setenv("SYMLAB_RESULTS", str(tmp_path))
    data = json.loads(reproduce("cpu", progress=False).read_text())
    assert [m["name"] for m in data["metrics"] if m["passed"] is False] == []
    assert data["n_passed"] == data["n_checked"]
