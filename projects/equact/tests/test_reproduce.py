"""The smoke reproduce runs end to end and writes the results (symmetry rows must pass)."""

from equact.reproduce import PER_TASK, SYM, TIMING, reproduce

from symlab.results import load_results


def test_smoke_reproduce_writes_results(tmp_path):
    path = reproduce(
        "smoke", out_root=tmp_path / "results", runs_root=tmp_path / "runs", progress=False
    )
    res = load_results(path)
    tables = {m.table for m in res.metrics}
    assert {SYM, TIMING, PER_TASK} <= tables
    symmetry = [m for m in res.metrics if m.table == SYM]
    assert len(symmetry) >= 9 and all(m.passed for m in symmetry)
    assert (path.parent / "success_per_task.png").is_file()
    assert (path.parent / "results.md").is_file()
