"""Which projects a change touches, for CI's test matrix.

A change under ``shared/``, ``tools/``, the lock file, the Makefile or CI selects every project;
otherwise each project whose folder changed. Prints a JSON list (for a GitHub Actions matrix).

Usage: ``python -m symlab_tools.changed --base origin/main [--root REPO]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

GLOBAL_PATHS = (
    "shared/",
    "tools/",
    "requirements/",
    "Makefile",
    "pyproject.toml",
    "environment.yml",
    ".ci/",
    ".github/",
)


def all_projects(root: Path) -> list[str]:
    return sorted(d.name for d in (root / "projects").glob("*") if (d / "pyproject.toml").is_file())


def select(changed_files: list[str], projects: list[str]) -> list[str]:
    """The projects to test for a list of changed paths (relative to the repository root)."""
    if any(f.startswith(GLOBAL_PATHS) or f in GLOBAL_PATHS for f in changed_files):
        return list(projects)
    hit = {
        f.split("/")[1] for f in changed_files if f.startswith("projects/") and f.count("/") >= 2
    }
    return [p for p in projects if p in hit]


def changed_files(root: Path, base: str) -> list[str]:
    out = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:  # unknown base (first push, shallow clone): test everything
        return ["shared/"]
    return [line for line in out.stdout.splitlines() if line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="origin/main")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    projects = all_projects(args.root)
    print(json.dumps(select(changed_files(args.root, args.base), projects)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
