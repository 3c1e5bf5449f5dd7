"""The project contract of STYLE.md, checked mechanically.

Every ``projects/<name>/`` is installable alone (its own ``pyproject.toml`` depending on
``symlab``), has the entry points ``<name>.train``, ``<name>.eval``, ``<name>.reproduce``, the three
scale configs, a README and tests, and imports no other project.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from .projects import PROJECTS

ENTRY_POINTS = ("train", "eval", "reproduce")
SCALE_CONFIGS = ("smoke", "cpu", "paper")


def project_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "projects").glob("*/pyproject.toml"))


def _imports_of(names: set[str]) -> re.Pattern | None:
    if not names:
        return None
    return re.compile(r"^\s*(?:from|import)\s+(" + "|".join(sorted(names)) + r")\b", re.M)


def check_project(project: Path, known: set[str] | None = None) -> list[str]:
    """Problems with one project folder (empty when it follows the contract)."""
    known = {p.folder for p in PROJECTS} if known is None else known
    name = project.name
    problems = []
    if name not in known:
        problems.append(f"{name}: not listed in symlab_tools.projects.PROJECTS")
    pkg = project / "src" / name
    for entry in ENTRY_POINTS:
        if not (pkg / f"{entry}.py").is_file():
            problems.append(f"{name}: missing entry point {name}.{entry} ({pkg / entry}.py)")
    for scale in SCALE_CONFIGS:
        if not (pkg / "configs" / f"{scale}.yaml").is_file():
            problems.append(f"{name}: missing config {pkg}/configs/{scale}.yaml")
    if not (project / "README.md").is_file():
        problems.append(f"{name}: no README.md")
    if not (project / "tests").is_dir():
        problems.append(f"{name}: no tests/ folder")
    try:
        meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
        if not any(d.startswith("symlab") for d in meta.get("dependencies", [])):
            problems.append(f"{name}: pyproject.toml does not depend on symlab")
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"{name}: unreadable pyproject.toml ({exc!r})")
    for f in project.rglob("test_*.py"):
        if "tests" not in f.relative_to(project).parts:
            problems.append(f"{name}: {f} is named test_*.py outside tests/")
    pattern = _imports_of(known - {name})
    for py in project.rglob("*.py") if pattern else []:
        match = pattern.search(py.read_text())
        if match:
            problems.append(f"{name}: {py} imports the project {match.group(1)}")
    return problems


def check_shared(root: Path, known: set[str] | None = None) -> list[str]:
    """The shared package must not import any project."""
    known = {p.folder for p in PROJECTS} if known is None else known
    pattern = _imports_of(known)
    return [
        f"{py} imports the project {m.group(1)}"
        for py in (root / "shared").rglob("*.py")
        if (m := pattern.search(py.read_text()))
    ]
