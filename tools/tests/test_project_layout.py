"""The project contract (same layout and entry points everywhere, projects import only the shared
package) holds for every project, and the checker itself catches violations."""

from pathlib import Path

import pytest

from symlab_tools.layout import check_project, check_shared, project_dirs

ROOT = Path(__file__).resolve().parents[2]


def make_project(root: Path, name: str) -> Path:
    proj = root / "projects" / name
    pkg = proj / "src" / name
    (pkg / "configs").mkdir(parents=True)
    (proj / "tests").mkdir()
    (proj / "README.md").write_text("# demo\n")
    (proj / "pyproject.toml").write_text(f'[project]\nname = "{name}"\ndependencies = ["symlab"]\n')
    for entry in ("train", "eval", "reproduce", "__init__"):
        (pkg / f"{entry}.py").write_text("")
    for scale in ("smoke", "cpu", "paper"):
        (pkg / "configs" / f"{scale}.yaml").write_text("{}\n")
    return proj


def test_checker_accepts_a_conforming_project(tmp_path):
    proj = make_project(tmp_path, "dhn")
    assert check_project(proj) == []


def test_checker_reports_each_violation(tmp_path):
    proj = make_project(tmp_path, "dhn")
    (proj / "src" / "dhn" / "eval.py").unlink()
    (proj / "src" / "dhn" / "configs" / "paper.yaml").unlink()
    (proj / "src" / "dhn" / "model.py").write_text("from atlasd.model import Net\n")
    (proj / "src" / "dhn" / "test_rollout.py").write_text("")
    problems = "\n".join(check_project(proj))
    assert "missing entry point dhn.eval" in problems
    assert "missing config" in problems and "paper.yaml" in problems
    assert "imports the project atlasd" in problems
    assert "test_rollout.py is named test_*.py outside tests/" in problems
    assert check_project(make_project(tmp_path, "not_a_project")) == [
        "not_a_project: not listed in symlab_tools.projects.PROJECTS"
    ]


@pytest.mark.parametrize(
    "project", [*project_dirs(ROOT), None], ids=lambda p: getattr(p, "name", "shared")
)
def test_repository_follows_the_contract(project):
    problems = check_shared(ROOT) if project is None else check_project(project)
    assert problems == []
