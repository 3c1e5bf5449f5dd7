"""The results format: criteria, round trip through JSON, Markdown tables and clear errors."""

import math

import pytest

from symlab.results import (
    Metric,
    Results,
    ResultsError,
    ResultsRecorder,
    load_results,
)


def test_metric_criteria():
    assert Metric("a", 0.91, paper=0.93, tolerance=0.05).passed is True
    assert Metric("a", 0.80, paper=0.93, tolerance=0.05).passed is False
    assert Metric("b", 3.0, lower=2.0, upper=4.0).passed is True
    assert Metric("b", 5.0, lower=2.0, upper=4.0).passed is False
    assert Metric("c", 1.0).passed is None
    assert Metric("d", math.nan, upper=1.0).passed is False
    with pytest.raises(ValueError, match="needs the paper's value"):
        Metric("e", 1.0, tolerance=0.1)


def test_results_round_trip_and_markdown(tmp_path):
    rec = ResultsRecorder("demo", "A paper", "smoke", out_root=tmp_path)
    rec.results.add("success", 0.9, paper=0.95, tolerance=0.1, table="Table 1", unit="%")
    rec.results.add("drop", 0.02, upper=0.05, table="Table 2")
    rec.results.add("nan metric", math.nan, lower=0)
    rec.results.add("blow-up", math.inf, note="simulation diverged")
    fig = rec.figure_path("curve.png")
    fig.write_bytes(b"png")
    path = rec.write()
    loaded = load_results(path)
    assert loaded.project == "demo" and loaded.scale == "smoke"
    assert [m.passed for m in loaded.metrics] == [True, True, False, None]
    assert math.isinf(loaded.metrics[3].value) and math.isnan(loaded.metrics[2].value)
    assert loaded.n_passed == 2 and loaded.n_checked == 3
    assert loaded.figures == ["curve.png"] and loaded.runtime_s >= 0
    md = (tmp_path / "smoke" / "results.md").read_text()
    assert "### Table 1" in md and "| success (%) | 0.95 | 0.9 |" in md
    assert "2/3 criteria met" in md
    assert "| inf |" in md


def test_results_errors(tmp_path):
    with pytest.raises(ResultsError, match="not found"):
        load_results(tmp_path / "results.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ResultsError, match="not valid JSON"):
        load_results(bad)
    bad.write_text('{"project": "x"}')
    with pytest.raises(ResultsError, match="not in the SymLab format"):
        load_results(bad)
    with pytest.raises(ValueError, match="unknown scale"):
        Results("x", "p", "huge")


def test_results_dir(tmp_path, monkeypatch):
    from symlab.results import results_dir

    proj = tmp_path / "projects" / "demo"
    (proj / "src" / "demo").mkdir(parents=True)
    (proj / "pyproject.toml").write_text("")
    module = proj / "src" / "demo" / "reproduce.py"
    monkeypatch.delenv("SYMLAB_RESULTS", raising=False)
    assert results_dir(module, "demo") == proj / "results"
    monkeypatch.chdir(tmp_path)
    assert results_dir(tmp_path / "site" / "demo" / "x" / "reproduce.py", "demo") == (
        tmp_path / "results" / "demo"
    )
    monkeypatch.setenv("SYMLAB_RESULTS", str(tmp_path / "out"))
    assert results_dir(module, "demo") == tmp_path / "out" / "demo"


def test_pipes_in_names_do_not_break_the_table():
    res = Results("demo", "p", "cpu")
    res.add("|cos(L, J)|", 0.99, lower=0.95)
    row = [line for line in res.to_markdown().splitlines() if "cos" in line][0]
    assert row.startswith("| \\|cos(L, J)\\| | ")
    assert row.count(" | ") == 4  # five cells


def test_keep_rows_of_an_earlier_run(tmp_path):
    old = Results("demo", "A paper", "cpu", created="2026-01-01T00:00:00", git_revision="abc" * 14)
    old.add("success, lift", 88.0, lower=80.0, table="Closed loop", note="44/50")
    old.add("success, stack", 0.0, table="Closed loop")
    old.add("symmetry error", 1e-3, upper=1e-5, table="Symmetry")
    old.add("gone", 1.0, table="Old table")
    old.notes.append("measured for lift, stack")
    old.figures += ["curve.png", "deleted.png"]
    (tmp_path / "curve.png").write_bytes(b"png")
    new = Results("demo", "A paper", "cpu")
    new.add("symmetry error", 1e-7, upper=1e-5, table="Symmetry")  # remeasured: replaces
    new.add("success, stack", 10.0, table="Closed loop")
    new.add("probe", 5.0, table="Probe")
    carried = new.keep_rows_of(old, figure_dir=tmp_path)
    assert [m.name for m in carried] == ["success, lift", "gone"]
    assert [(m.table, m.name) for m in new.metrics] == [
        ("Closed loop", "success, stack"),
        ("Closed loop", "success, lift"),
        ("Symmetry", "symmetry error"),
        ("Old table", "gone"),
        ("Probe", "probe"),
    ]
    lift = new.metrics[1]
    assert lift.value == 88.0 and lift.passed is True and lift.note.startswith("44/50; kept from")
    assert "2026-01-01T00:00:00 (revision abcabcabcabc)" in lift.note
    assert new.metrics[2].value == 1e-7 and new.n_passed == 2
    assert new.notes == [
        "Kept from the results of 2026-01-01T00:00:00 (revision abcabcabcabc): "
        "measured for lift, stack"
    ]
    assert new.figures == ["curve.png"]
    with pytest.raises(ResultsError, match="cannot keep rows of demo/cpu in other/cpu"):
        Results("other", "A paper", "cpu").keep_rows_of(old)
