"""The common results format written by every project's ``reproduce`` entry point.

``reproduce --scale S`` writes ``projects/<name>/results/<S>/results.json`` (machine readable) and
``results.md`` (the "paper vs reproduced" table), plus figures in the same folder. ``make report``
collects the newest results of every project into ``REPRODUCTIONS.md``.

A :class:`Metric` passes when every criterion it states holds: ``|value - paper| <= tolerance``
when both are given, ``value >= lower`` and ``value <= upper`` when given. A metric with no
criterion is reported without a verdict.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCALES = ("smoke", "cpu", "paper")
RESULTS_FILE = "results.json"
FORMAT_VERSION = 1


class ResultsError(ValueError):
    """A results file is missing, corrupt or not in the expected format."""


@dataclass
class Metric:
    """One reproduced number.

    Parameters
    ----------
    name : str
        Row label, e.g. ``"success rate, Stack D1"``.
    value : float
        The reproduced value.
    paper : float, optional
        The paper's value, when the paper reports one at a comparable setting.
    tolerance : float, optional
        Allowed absolute deviation from ``paper``.
    lower, upper : float, optional
        Acceptance bounds on ``value`` (for example from the issue's acceptance criteria).
    table : str
        Which table of the paper the row belongs to (rows are grouped by it).
    unit : str
        Unit or kind of the number (``"%"``, ``"MSE"``...).
    note : str
        Short remark (deviation, setting).
    """

    name: str
    value: float
    paper: float | None = None
    tolerance: float | None = None
    lower: float | None = None
    upper: float | None = None
    table: str = "main"
    unit: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        self.value = float(self.value)
        if self.tolerance is not None and self.paper is None:
            raise ValueError(f"metric {self.name!r}: a tolerance needs the paper's value")

    @property
    def criterion(self) -> str:
        parts = []
        if self.paper is not None and self.tolerance is not None:
            parts.append(f"|x - {self.paper:g}| <= {self.tolerance:g}")
        if self.lower is not None:
            parts.append(f">= {self.lower:g}")
        if self.upper is not None:
            parts.append(f"<= {self.upper:g}")
        return ", ".join(parts)

    @property
    def passed(self) -> bool | None:
        if not self.criterion:
            return None
        if not math.isfinite(self.value):
            return False
        ok = True
        if self.paper is not None and self.tolerance is not None:
            ok &= abs(self.value - self.paper) <= self.tolerance
        if self.lower is not None:
            ok &= self.value >= self.lower
        if self.upper is not None:
            ok &= self.value <= self.upper
        return bool(ok)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        # JSON has no inf/nan: store them as the strings "inf", "-inf", "nan".
        d["value"] = self.value if math.isfinite(self.value) else str(self.value)
        d["passed"] = self.passed
        d["criterion"] = self.criterion
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metric:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        value = kwargs.get("value")
        kwargs["value"] = math.nan if value is None else float(value)
        return cls(**kwargs)


@dataclass
class Results:
    """All reproduced numbers of one ``reproduce`` run."""

    project: str
    paper: str
    scale: str
    metrics: list[Metric] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    runtime_s: float = 0.0
    created: str = ""
    git_revision: str | None = None
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; expected one of {SCALES}")

    def add(self, *args: Any, **kwargs: Any) -> Metric:
        """Append a :class:`Metric` (same arguments) and return it."""
        metric = Metric(*args, **kwargs)
        self.metrics.append(metric)
        return metric

    @property
    def n_passed(self) -> int:
        return sum(m.passed is True for m in self.metrics)

    @property
    def n_checked(self) -> int:
        return sum(m.passed is not None for m in self.metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "project": self.project,
            "paper": self.paper,
            "scale": self.scale,
            "created": self.created,
            "runtime_s": round(self.runtime_s, 2),
            "git_revision": self.git_revision,
            "device": self.device,
            "n_passed": self.n_passed,
            "n_checked": self.n_checked,
            "metrics": [m.to_dict() for m in self.metrics],
            "figures": list(self.figures),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Results:
        try:
            return cls(
                project=d["project"],
                paper=d["paper"],
                scale=d["scale"],
                metrics=[Metric.from_dict(m) for m in d["metrics"]],
                figures=list(d.get("figures", [])),
                runtime_s=float(d.get("runtime_s", 0.0)),
                created=d.get("created", ""),
                git_revision=d.get("git_revision"),
                device=d.get("device", "cpu"),
                notes=list(d.get("notes", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"results data is not in the SymLab format: {exc!r}") from exc

    def keep_rows_of(self, previous: Results, figure_dir: str | Path | None = None) -> list[Metric]:
        """Carry over the rows of ``previous`` (an earlier run of the same project and scale)
        that this run did not measure, each marked as such; returns the rows carried.

        For tables assembled over several invocations whose runs do not all exist on one
        machine. A row is identified by its table and name; a row this run measured replaces
        the earlier one. Carried rows keep their values and criteria and their note names the
        earlier run. Tables keep the earlier run's order, followed by the tables new in this
        run; within a table this run's rows come first. The earlier run's notes are kept with
        the same mark, and, with ``figure_dir`` (where both runs write), its figures that are
        still there.
        """
        if (previous.project, previous.scale) != (self.project, self.scale):
            raise ResultsError(
                f"cannot keep rows of {previous.project}/{previous.scale} in "
                f"{self.project}/{self.scale}"
            )
        mark = f"from the results of {previous.created or 'an earlier run'}"
        if previous.git_revision:
            mark += f" (revision {previous.git_revision[:12]})"
        seen = {(m.table, m.name) for m in self.metrics}
        carried = [
            dataclasses.replace(
                old, note=(old.note + "; " if old.note else "") + f"kept {mark}, not rerun here"
            )
            for old in previous.metrics
            if (old.table, old.name) not in seen
        ]
        # Tables in the earlier run's order, then the tables new in this run; within a table,
        # this run's rows first.
        order = list(dict.fromkeys([m.table for m in previous.metrics + self.metrics]))
        self.metrics = sorted(self.metrics + carried, key=lambda m: order.index(m.table))
        self.notes += [f"Kept {mark}: {n}" for n in previous.notes if n not in self.notes]
        if figure_dir is not None:
            self.figures += [
                f
                for f in previous.figures
                if f not in self.figures and (Path(figure_dir) / f).is_file()
            ]
        return carried

    def to_markdown(self, heading_level: int = 2, figure_prefix: str = "") -> str:
        """The "paper vs reproduced" tables, one per ``Metric.table``."""
        h = "#" * heading_level
        lines = [
            f"{h} {self.project}: {self.paper}",
            "",
            f"Scale `{self.scale}`, {self.n_passed}/{self.n_checked} criteria met, "
            f"run time {self.runtime_s:.1f} s on {self.device}"
            + (f", revision `{self.git_revision[:12]}`" if self.git_revision else "")
            + (f", {self.created}" if self.created else "")
            + ".",
            "",
        ]
        for table, rows in _group_by_table(self.metrics):
            if table != "main" or len({m.table for m in self.metrics}) > 1:
                lines += [f"{h}# {table}", ""]
            lines += [
                "| metric | paper | reproduced | criterion | pass |",
                "|---|---|---|---|---|",
            ]
            for m in rows:
                paper = "" if m.paper is None else _fmt(m.paper)
                verdict = {True: "yes", False: "**no**", None: ""}[m.passed]
                name = m.name + (f" ({m.unit})" if m.unit else "")
                if m.note:
                    name += f" <br><sub>{m.note}</sub>"
                # A "|" in a name (|cos(a, b)|, |x - y|) would split the table cell.
                name = name.replace("|", "\\|")
                crit = m.criterion.replace("|", "\\|")
                lines.append(f"| {name} | {paper} | {_fmt(m.value)} | {crit} | {verdict} |")
            lines.append("")
        if self.notes:
            lines += ["Notes:", ""] + [f"- {n}" for n in self.notes] + [""]
        if self.figures:
            lines += [
                "Figures: "
                + ", ".join(f"[{Path(f).name}]({figure_prefix}{f})" for f in self.figures),
                "",
            ]
        return "\n".join(lines)


def _fmt(x: float) -> str:
    if x is None:
        return "nan"
    if not math.isfinite(x):
        return str(x)  # "inf", "-inf" or "nan"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.3e}"
    return f"{x:.4g}"


def _group_by_table(metrics: Iterable[Metric]) -> list[tuple[str, list[Metric]]]:
    groups: dict[str, list[Metric]] = {}
    for m in metrics:
        groups.setdefault(m.table, []).append(m)
    return list(groups.items())


def results_dir(package_file: str | Path, project: str) -> Path:
    """Where a project's ``reproduce`` writes: ``$SYMLAB_RESULTS/<project>`` when set, else the
    project's ``results/`` folder when the package runs from a checkout (``src`` layout), else
    ``./results/<project>``.

    Parameters
    ----------
    package_file : path
        ``__file__`` of a module directly inside the project package (``src/<project>/x.py``).
    project : str
        The project folder name.
    """
    import os

    if os.environ.get("SYMLAB_RESULTS"):
        return Path(os.environ["SYMLAB_RESULTS"]) / project
    project_root = Path(package_file).resolve().parents[2]
    if (project_root / "pyproject.toml").is_file() and project_root.name == project:
        return project_root / "results"
    return Path.cwd() / "results" / project


class ResultsRecorder:
    """Times a ``reproduce`` run and writes its :class:`Results`.

    Examples
    --------
    >>> rec = ResultsRecorder("demo", "A paper", "smoke", out_root=tmp)  # doctest: +SKIP
    >>> rec.results.add("accuracy", 0.91, paper=0.93, tolerance=0.05)      # doctest: +SKIP
    >>> rec.write()                                                        # doctest: +SKIP
    """

    def __init__(self, project: str, paper: str, scale: str, out_root: str | Path) -> None:
        self.results = Results(project=project, paper=paper, scale=scale)
        self.out_dir = Path(out_root) / scale
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._start = time.perf_counter()

    def figure_path(self, name: str) -> Path:
        """Where to save figure ``name``; it is listed in the results."""
        rel = name
        if rel not in self.results.figures:
            self.results.figures.append(rel)
        return self.out_dir / name

    def write(self) -> Path:
        """Write ``results.json`` and ``results.md``; returns the JSON path."""
        import torch

        from .runs import git_revision

        self.results.runtime_s = time.perf_counter() - self._start
        self.results.created = datetime.now(UTC).isoformat(timespec="seconds")
        self.results.git_revision = git_revision()
        self.results.device = "cuda" if torch.cuda.is_available() else "cpu"
        return write_results(self.results, self.out_dir)


def write_results(results: Results, out_dir: str | Path) -> Path:
    """Write ``results.json`` and ``results.md`` into ``out_dir`` (atomically)."""
    from .runs import write_json_atomic

    out_dir = Path(out_dir)
    path = out_dir / RESULTS_FILE
    write_json_atomic(path, results.to_dict())
    (out_dir / "results.md").write_text(results.to_markdown() + "\n")
    return path


def load_results(path: str | Path) -> Results:
    """Read a ``results.json``; a missing or corrupt file raises :class:`ResultsError`."""
    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"results file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"results file {path} is not valid JSON: {exc}") from exc
    try:
        return Results.from_dict(data)
    except ResultsError as exc:
        raise ResultsError(f"{path}: {exc}") from None
