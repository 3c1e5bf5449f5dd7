"""The one environment: constraints, environment.yml and the packages' declarations agree."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "constraints.txt"


def _name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"{LOCK}: {line!r} is not an exact pin"
            pins[_name(line)] = line
    return pins


def conda_env() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_environment_yml_has_the_same_pins():
    pip_section = next(d["pip"] for d in conda_env()["dependencies"] if isinstance(d, dict))
    conda_pins = {_name(r): r for r in pip_section if not r.startswith("-e")}
    assert conda_pins == lock_pins()


def test_environment_yml_installs_every_package_folder():
    pip_section = next(d["pip"] for d in conda_env()["dependencies"] if isinstance(d, dict))
    editable = {
        r.split()[1].split("[")[0].removeprefix("./") for r in pip_section if r.startswith("-e")
    }
    folders = {"shared", "tools"} | {
        str(p.parent.relative_to(ROOT)) for p in ROOT.glob("projects/*/pyproject.toml")
    }
    assert editable == folders


def test_conda_env_brings_the_system_packages():
    deps = [d for d in conda_env()["dependencies"] if isinstance(d, str)]
    assert any(d.startswith("python=3.11") for d in deps)
    assert "fortran-compiler" in deps and "mesalib" in deps


def test_every_declared_dependency_is_pinned():
    pins = lock_pins()
    for pyproject in [ROOT / "shared" / "pyproject.toml", *ROOT.glob("projects/*/pyproject.toml")]:
        project = tomllib.loads(pyproject.read_text())["project"]
        reqs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            reqs += extra
        for req in reqs:
            name = _name(req)
            if name in {"symlab"}:
                continue
            assert name in pins, f"{pyproject}: {name} is not pinned in {LOCK}"
