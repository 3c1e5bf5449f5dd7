"""`make report` builds REPRODUCTIONS.md and the README status table from results files."""

import pytest

from symlab.results import Results, write_results
from symlab_tools.projects import PROJECTS
from symlab_tools.report import STATUS_BEGIN, STATUS_END, main


@pytest.fixture
def repo(tmp_path):
    """A repository with one fixture project that has smoke and cpu results, and one without."""
    (tmp_path / "README.md").write_text(f"# Title\n\n{STATUS_BEGIN}\nold\n{STATUS_END}\n\nrest\n")
    proj = tmp_path / "projects" / "mode_connectivity"
    (proj / "results").mkdir(parents=True)
    (proj / "pyproject.toml").write_text("[project]\nname='x'\n")
    for scale, value in [("smoke", 0.5), ("cpu", 0.97)]:
        res = Results("mode_connectivity", "Mode connectivity", scale, runtime_s=1.0)
        res.add("components found", value, paper=1.0, tolerance=0.05, table="Table 1")
        res.add("max curvature", 2.0, table="Figure 3")
        res.figures.append("curve.png")
        write_results(res, proj / "results" / scale)
    (tmp_path / "projects" / "dhn").mkdir()  # implemented, no results yet
    return tmp_path


def test_report_from_results(repo):
    assert main(["--root", str(repo)]) == 0
    report = (repo / "REPRODUCTIONS.md").read_text()
    # The most thorough scale is shown, the others linked.
    assert "`cpu` scale: 1/1 criteria met" in report
    assert "| components found | 1 | 0.97 |" in report
    assert (
        "0.5"
        not in report.split("## mode_connectivity")[1]
        .split("## equact")[0]
        .split("Other scales")[0]
    )
    assert "[smoke](projects/mode_connectivity/results/smoke/results.md)" in report
    assert "[curve.png](projects/mode_connectivity/results/cpu/curve.png)" in report
    assert "No results yet: run `make reproduce P=dhn SCALE=cpu`" in report
    assert report.count("Not started yet.") == len(PROJECTS) - 2
    readme = (repo / "README.md").read_text()
    assert "old" not in readme and readme.endswith("\n\nrest\n")
    assert "| [mode_connectivity](projects/mode_connectivity) |" in readme
    assert "| dhn | Denoising Hamiltonian Network | implemented, no results yet |" not in readme
    assert "| [dhn](projects/dhn) | Denoising Hamiltonian Network | implemented" in readme
    # Regenerating is stable.
    main(["--root", str(repo)])
    assert (repo / "REPRODUCTIONS.md").read_text() == report


def test_report_flags_corrupt_results(repo):
    bad = repo / "projects" / "dhn" / "results" / "cpu"
    bad.mkdir(parents=True)
    (bad / "results.json").write_text("{not json")
    main(["--root", str(repo)])
    assert "unreadable results" in (repo / "REPRODUCTIONS.md").read_text()
