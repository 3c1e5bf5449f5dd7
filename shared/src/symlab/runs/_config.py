"""Configs are data: dataclasses filled from YAML or dicts, validated on load.

A wrong key fails at load time with the key's dotted path and the valid keys, instead of being
silently ignored and surfacing hours later as a wrong result.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override does not match its schema."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert where it is lossless."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{path}: {value!r} matches none of {_type_name(tp)}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{path}: {value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping for {tp.__name__}, got {value!r}")
        return _from_dict(tp, value, path)
    if origin in (list, tuple, typing.Sequence) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{path}: expected {len(args)} items, got {len(value)}")
            items = [_coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        else:
            inner = args[0] if args else Any
            items = [_coerce(v, inner, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, vt, f"{path}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, str):
            # YAML 1.1 reads "1e6" (no dot) as a string; a numeric string is still a number.
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{path}: expected {tp.__name__}, got {value!r}")
    return value


def _from_dict(cls: type[T], data: dict, path: str) -> T:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        where = f"{path}.{key}" if path else str(key)
        raise ConfigError(
            f"unknown config key {where!r}{hint}; valid keys of {cls.__name__}: {sorted(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{path}.{name}" if path else name)
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{cls.__name__}: missing required config keys {missing} at {path!r}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{cls.__name__} at {path or '<root>'}: {exc}") from exc


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build the dataclass ``cls`` from a (nested) dict, rejecting unknown keys and bad types."""
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
    return _from_dict(cls, data, "")


def load_config(cls: type[T], path: str | Path, overrides: list[str] | None = None) -> T:
    """Load a YAML config file into the dataclass ``cls``.

    Parameters
    ----------
    cls : dataclass type
        The schema.
    path : path
        YAML file; a missing or unparsable file raises :class:`ConfigError` naming it.
    overrides : list of str, optional
        ``dotted.key=value`` strings (values parsed as YAML), applied before validation.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    data = apply_overrides(data, overrides or [])
    try:
        return config_from_dict(cls, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


SCALES = ("smoke", "cpu", "paper")


def scale_config_path(package: str | types.ModuleType, name_or_path: str | Path) -> Path:
    """The YAML file of a shipped scale (``smoke``, ``cpu``, ``paper``) or a user's path.

    Shipped configs live in ``<package>/configs/<scale>.yaml`` inside the installed package, so
    they resolve the same from a source checkout and from a wheel.

    Raises
    ------
    ConfigError
        When ``name_or_path`` is neither a shipped scale nor an existing file.
    """
    from importlib import resources

    if str(name_or_path) in SCALES:
        path = Path(str(resources.files(package) / "configs" / f"{name_or_path}.yaml"))
        if not path.is_file():
            name = getattr(package, "__name__", package)
            raise ConfigError(f"package {name!r} ships no {name_or_path!r} config at {path}")
        return path
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"config {str(name_or_path)!r} is neither a scale {SCALES} nor an existing YAML file"
        )
    return path


def load_scale_config(
    cls: type[T],
    package: str | types.ModuleType,
    name_or_path: str | Path,
    overrides: list[str] | None = None,
) -> T:
    """Load a project's scale config (``smoke``/``cpu``/``paper`` or a path) into ``cls``.

    The one loader behind every project's ``train``/``eval``/``reproduce --scale``; see
    :func:`scale_config_path` and :func:`load_config`.
    """
    return load_config(cls, scale_config_path(package, name_or_path), overrides)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` overrides to a nested dict (copying it); values are parsed as YAML."""
    import copy

    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a mapping")
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain-data form of a dataclass config (tuples become lists), for YAML/JSON and checkpoints."""

    def plain(x: Any) -> Any:
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if isinstance(x, Path):
            return str(x)
        return x

    return plain(config)
