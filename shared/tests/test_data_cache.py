"""Tests for symlab.data.cached_dataset and cache_key."""

import dataclasses
import json
import logging
import os

import numpy as np
import pytest

from symlab.data import cache_key, cached_dataset, default_cache_dir


@dataclasses.dataclass
class Inner:
    sizes: tuple = (2, 3)


@dataclasses.dataclass
class Config:
    n: int = 10
    noise: float = 0.1
    inner: Inner = dataclasses.field(default_factory=Inner)


class CountingBuilder:
    def __init__(self):
        self.calls = 0

    def __call__(self, config):
        self.calls += 1
        n = config["n"] if isinstance(config, dict) else config.n
        rng = np.random.default_rng(n)
        return {"x": rng.standard_normal((n, 3)), "y": np.arange(n), "file": np.ones(2)}


def _files(d):
    return sorted(os.listdir(d))


def test_builds_once_then_loads(tmp_path, caplog):
    build = CountingBuilder()
    with caplog.at_level(logging.INFO, logger="symlab.data"):
        first = cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
        second = cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
    assert build.calls == 1
    assert set(second) == {"x", "y", "file"}
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
    h = cache_key("toy", {"n": 10})[:16]
    assert _files(tmp_path) == [f"toy-{h}.json", f"toy-{h}.npz"]
    meta = json.loads((tmp_path / f"toy-{h}.json").read_text())
    assert meta["config"] == {"n": 10} and meta["arrays"] == ["x", "y", "file"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("building dataset 'toy'" in m for m in messages)
    assert any("loaded cached dataset 'toy'" in m for m in messages)


def test_rebuilds_on_config_or_version_change(tmp_path):
    build = CountingBuilder()
    cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
    out = cached_dataset("toy", {"n": 12}, build, cache_dir=tmp_path)
    assert build.calls == 2 and out["x"].shape == (12, 3)
    cached_dataset("toy", {"n": 12}, build, cache_dir=tmp_path, version=2)
    assert build.calls == 3
    cached_dataset("toy", {"n": 12}, build, cache_dir=tmp_path)
    assert build.calls == 3


def test_dataclass_config(tmp_path):
    build = CountingBuilder()
    cfg = Config()
    assert cache_key("d", cfg) == cache_key("d", dataclasses.asdict(cfg))
    cached_dataset("d", cfg, build, cache_dir=tmp_path)
    cached_dataset("d", Config(), build, cache_dir=tmp_path)
    assert build.calls == 1
    cached_dataset("d", Config(inner=Inner(sizes=(2, 4))), build, cache_dir=tmp_path)
    assert build.calls == 2


def test_cache_key_canonical_and_rejects_non_json():
    a = cache_key("d", {"a": 1, "b": [1.5, None, "s"]})
    assert a == cache_key("d", {"b": [1.5, None, "s"], "a": 1})
    assert len(a) == 64
    assert a != cache_key("e", {"a": 1, "b": [1.5, None, "s"]})
    assert a != cache_key("d", {"a": 1, "b": [1.5, None, "s"]}, version=2)
    assert cache_key("d", {"a": np.int64(3)}) == cache_key("d", {"a": 3})
    with pytest.raises(TypeError, match=r"config\['arr'\] has type ndarray"):
        cache_key("d", {"arr": np.zeros(3)})
    with pytest.raises(TypeError, match=r"config\['f'\]\[1\] has type function"):
        cache_key("d", {"f": [1, lambda: 0]})
    with pytest.raises(TypeError, match="non-string key 1"):
        cache_key("d", {1: "x"})
    with pytest.raises(TypeError, match="nan"):
        cache_key("d", {"x": float("nan")})


def test_corrupt_file_warns_and_rebuilds(tmp_path):
    build = CountingBuilder()
    cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
    npz = tmp_path / f"toy-{cache_key('toy', {'n': 10})[:16]}.npz"
    raw = npz.read_bytes()
    npz.write_bytes(raw[: len(raw) // 2])
    with pytest.warns(UserWarning, match="corrupt"):
        out = cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
    assert build.calls == 2 and out["x"].shape == (10, 3)
    cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
    assert build.calls == 2  # the regenerated file is good


def test_missing_array_warns_and_rebuilds(tmp_path):
    build = CountingBuilder()
    cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
    npz = tmp_path / f"toy-{cache_key('toy', {'n': 10})[:16]}.npz"
    np.savez(npz, x=np.zeros((10, 3)))  # valid archive, but "y" and "file" are gone
    with pytest.warns(UserWarning, match=r"arrays \['y', 'file'\] missing"):
        cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
    assert build.calls == 2


def test_missing_sidecar_rebuilds(tmp_path):
    build = CountingBuilder()
    cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
    (tmp_path / f"toy-{cache_key('toy', {'n': 10})[:16]}.json").unlink()
    with pytest.warns(UserWarning):
        cached_dataset("toy", {"n": 10}, build, cache_dir=tmp_path)
    assert build.calls == 2 and len(_files(tmp_path)) == 2


def test_interrupted_build_leaves_no_file(tmp_path):
    def failing(config):
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of generation

    with pytest.raises(KeyboardInterrupt):
        cached_dataset("toy", {"n": 10}, failing, cache_dir=tmp_path)
    assert not tmp_path.exists() or _files(tmp_path) == []


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    def partial_write(fileobj, arrays):
        fileobj.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr("symlab.data._cache._write_npz", partial_write)
    with pytest.raises(OSError, match="disk full"):
        cached_dataset("toy", {"n": 10}, CountingBuilder(), cache_dir=tmp_path)
    assert _files(tmp_path) == []


def test_default_cache_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMLAB_CACHE", str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    cached_dataset("toy", {"n": 4}, CountingBuilder())
    assert len(_files(tmp_path / "env-cache")) == 2
    monkeypatch.delenv("SYMLAB_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "symlab")


def test_bad_name_and_bad_build_output(tmp_path):
    with pytest.raises(ValueError, match="not a safe file name"):
        cached_dataset("../escape", {}, CountingBuilder(), cache_dir=tmp_path)
    with pytest.raises(TypeError, match="must return a dict"):
        cached_dataset("toy", {}, lambda c: [1, 2], cache_dir=tmp_path)
    with pytest.raises(TypeError, match="object array for key 'o'"):
        cached_dataset("toy", {}, lambda c: {"o": np.array([{}, 1])}, cache_dir=tmp_path)
