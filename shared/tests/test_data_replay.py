"""Tests for symlab.data.ReplayBuffer, SequenceSampler and split_episodes."""

import json
import os

import h5py
import numpy as np
import pytest
import torch

from symlab.data import DatasetError, DeviceLoader, ReplayBuffer, SequenceSampler, split_episodes

ENV_ARGS = {"env_name": "Lift", "type": 1, "env_kwargs": {"control_freq": 20}}


def make_episodes(lengths=(5, 8, 3), action_dim=4, seed=0):
    rng = np.random.default_rng(seed)
    episodes = []
    for t in lengths:
        episodes.append(
            {
                "actions": rng.standard_normal((t, action_dim)).astype(np.float32),
                "obs": {
                    "pos": rng.standard_normal((t, 3)),
                    "img": rng.integers(0, 256, (t, 2, 2), dtype=np.uint8),
                },
                "rewards": rng.random(t),
                "dones": (np.arange(t) == t - 1).astype(np.int64),
            }
        )
    return episodes


def write_robomimic(path, episodes, env_args=ENV_ARGS, names=None):
    """Write the robomimic layout with h5py directly, independent of ReplayBuffer's writer."""
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = sum(len(ep["dones"]) for ep in episodes)
        if env_args is not None:
            data.attrs["env_args"] = json.dumps(env_args)
        for i, ep in enumerate(episodes):
            g = data.create_group(names[i] if names else f"demo_{i}")
            g.attrs["num_samples"] = len(ep["dones"])
            for key, value in ep.items():
                if key == "obs":
                    for obs_key, arr in value.items():
                        g.create_dataset(f"obs/{obs_key}", data=arr)
                else:
                    g.create_dataset(key, data=value)
    return path


def assert_episode_equal(got, ep):
    np.testing.assert_array_equal(got["actions"], ep["actions"])
    for key, arr in ep["obs"].items():
        np.testing.assert_array_equal(got[f"obs/{key}"], arr)
    for key in ("rewards", "dones"):
        np.testing.assert_array_equal(got[key], ep[key])


# ---------------------------------------------------------------------- reading / writing
def test_load_robomimic_file(tmp_path):
    episodes = make_episodes()
    buf = ReplayBuffer.from_robomimic_hdf5(write_robomimic(tmp_path / "d.hdf5", episodes))
    assert buf.n_episodes == 3 and buf.n_steps == 16 and len(buf) == 16
    np.testing.assert_array_equal(buf.episode_ends, [5, 13, 16])
    np.testing.assert_array_equal(buf.episode_starts, [0, 5, 13])
    np.testing.assert_array_equal(buf.episode_lengths, [5, 8, 3])
    assert sorted(buf.keys()) == ["actions", "dones", "obs/img", "obs/pos", "rewards"]
    assert sorted(buf.obs_keys) == ["img", "pos"]
    assert buf["obs/img"].dtype == np.uint8 and buf["actions"].dtype == np.float32
    assert buf.env_args == ENV_ARGS
    for i, ep in enumerate(episodes):
        assert_episode_equal(buf.get_episode(i), ep)
    assert buf.episode_slice(-1) == slice(13, 16)
    with pytest.raises(IndexError, match="episode index 3 out of range"):
        buf.episode_slice(3)
    with pytest.raises(KeyError, match="no field 'obs/nope'"):
        buf["obs/nope"]


def test_load_subset_of_obs_keys(tmp_path):
    path = write_robomimic(tmp_path / "d.hdf5", make_episodes())
    buf = ReplayBuffer.from_robomimic_hdf5(path, obs_keys=["pos"])
    assert buf.obs_keys == ["pos"] and "obs/img" not in buf


def test_demos_sorted_by_integer_suffix(tmp_path):
    episodes = make_episodes(lengths=(2, 3, 4))
    path = write_robomimic(tmp_path / "d.hdf5", episodes, names=["demo_0", "demo_2", "demo_10"])
    buf = ReplayBuffer.from_robomimic_hdf5(path)
    np.testing.assert_array_equal(buf.episode_lengths, [2, 3, 4])


def test_write_round_trip_and_layout(tmp_path):
    episodes = make_episodes()
    buf = ReplayBuffer.from_robomimic_hdf5(write_robomimic(tmp_path / "in.hdf5", episodes))
    out = tmp_path / "sub" / "out.hdf5"
    buf.write_robomimic_hdf5(out, compression="gzip")
    assert sorted(os.listdir(out.parent)) == ["out.hdf5"]  # no temp file left behind
    with h5py.File(out, "r") as f:
        assert f["data"].attrs["total"] == 16
        assert json.loads(f["data"].attrs["env_args"]) == ENV_ARGS
        assert list(f["data"]) == ["demo_0", "demo_1", "demo_2"]
        assert f["data/demo_1"].attrs["num_samples"] == 8
        assert f["data/demo_1/obs/pos"].shape == (8, 3)
        np.testing.assert_array_equal(f["data/demo_2/actions"][()], episodes[2]["actions"])
    again = ReplayBuffer.from_robomimic_hdf5(out)
    for i, ep in enumerate(episodes):
        assert_episode_equal(again.get_episode(i), ep)


def test_write_is_atomic_on_failure(tmp_path, monkeypatch):
    buf = ReplayBuffer()
    for ep in make_episodes():
        buf.add_episode(ep)
    out = tmp_path / "out.hdf5"
    out.write_bytes(b"previous contents")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("symlab.data._replay.os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        buf.write_robomimic_hdf5(out)
    assert out.read_bytes() == b"previous contents"
    assert os.listdir(tmp_path) == ["out.hdf5"]


def test_env_args_override_and_missing(tmp_path):
    path = write_robomimic(tmp_path / "d.hdf5", make_episodes(), env_args=None)
    buf = ReplayBuffer.from_robomimic_hdf5(path)
    assert buf.env_args is None
    buf.write_robomimic_hdf5(tmp_path / "o.hdf5", env_args={"env_name": "Can"})
    assert ReplayBuffer.from_robomimic_hdf5(tmp_path / "o.hdf5").env_args == {"env_name": "Can"}


def test_num_samples_mismatch_warns(tmp_path):
    path = write_robomimic(tmp_path / "d.hdf5", make_episodes())
    with h5py.File(path, "a") as f:
        f["data/demo_1"].attrs["num_samples"] = 99
    with pytest.warns(UserWarning, match="demo 'demo_1' attribute num_samples=99"):
        ReplayBuffer.from_robomimic_hdf5(path)


# ---------------------------------------------------------------------- validation errors
def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="dataset file not found: .*missing.hdf5"):
        ReplayBuffer.from_robomimic_hdf5(tmp_path / "missing.hdf5")


def test_not_hdf5(tmp_path):
    path = tmp_path / "notes.hdf5"
    path.write_text("this is not hdf5\n" * 100)
    with pytest.raises(DatasetError, match="cannot open .*notes.hdf5 as HDF5"):
        ReplayBuffer.from_robomimic_hdf5(path)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_file(tmp_path, keep):
    path = write_robomimic(tmp_path / "d.hdf5", make_episodes(lengths=(50, 60, 70)))
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(DatasetError, match="d.hdf5"):
        ReplayBuffer.from_robomimic_hdf5(path)


def test_datasetError_is_value_error():
    assert issubclass(DatasetError, ValueError)


def test_no_data_group(tmp_path):
    path = tmp_path / "d.hdf5"
    with h5py.File(path, "w") as f:
        f.create_group("mask")
    with pytest.raises(DatasetError, match=r"no 'data' group; top-level keys: \['mask'\]"):
        ReplayBuffer.from_robomimic_hdf5(path)


def test_no_demos(tmp_path):
    path = tmp_path / "d.hdf5"
    with h5py.File(path, "w") as f:
        f.create_group("data")
    with pytest.raises(DatasetError, match="contains no demos"):
        ReplayBuffer.from_robomimic_hdf5(path)


def test_demo_missing_actions(tmp_path):
    episodes = make_episodes()
    del episodes[1]["actions"]
    path = write_robomimic(tmp_path / "d.hdf5", episodes)
    with pytest.raises(DatasetError, match="demo 'demo_1' has no 'actions' dataset"):
        ReplayBuffer.from_robomimic_hdf5(path)


def test_obs_length_mismatch(tmp_path):
    episodes = make_episodes()
    episodes[1]["obs"]["pos"] = episodes[1]["obs"]["pos"][:7]
    path = write_robomimic(tmp_path / "d.hdf5", episodes)
    with pytest.raises(
        DatasetError, match="demo 'demo_1' key 'obs/pos' has length 7 but 'actions' has length 8"
    ):
        ReplayBuffer.from_robomimic_hdf5(path)


def test_wrong_action_dimension(tmp_path):
    episodes = make_episodes() + make_episodes(lengths=(6,), action_dim=5)
    path = write_robomimic(tmp_path / "d.hdf5", episodes)
    with pytest.raises(
        DatasetError,
        match=r"demo 'demo_3' has action dimension 5 \(shape \(6, 5\)\) "
        r"but demo 'demo_0' has action dimension 4",
    ):
        ReplayBuffer.from_robomimic_hdf5(path)


def test_obs_shape_mismatch(tmp_path):
    episodes = make_episodes()
    episodes[2]["obs"]["pos"] = np.zeros((3, 4))
    path = write_robomimic(tmp_path / "d.hdf5", episodes)
    with pytest.raises(DatasetError, match=r"'obs/pos' has per-step shape \(4,\), expected \(3,\)"):
        ReplayBuffer.from_robomimic_hdf5(path)


def test_requested_obs_key_absent(tmp_path):
    path = write_robomimic(tmp_path / "d.hdf5", make_episodes())
    with pytest.raises(
        DatasetError,
        match=r"obs key 'depth' not found in demo 'demo_0'; available obs keys: \['img', 'pos'\]",
    ):
        ReplayBuffer.from_robomimic_hdf5(path, obs_keys=["pos", "depth"])


def test_optional_field_missing_in_later_demo(tmp_path):
    episodes = make_episodes()
    del episodes[2]["rewards"]
    path = write_robomimic(tmp_path / "d.hdf5", episodes)
    with pytest.raises(DatasetError, match="demo 'demo_2' has no 'rewards' dataset"):
        ReplayBuffer.from_robomimic_hdf5(path)


# ---------------------------------------------------------------------- add_episode
def test_add_episode_grows_and_validates():
    episodes = make_episodes(lengths=[3 + i % 5 for i in range(40)])
    buf = ReplayBuffer()
    for ep in episodes:
        buf.add_episode(ep)
    assert buf.n_episodes == 40
    assert buf.n_steps == sum(len(ep["actions"]) for ep in episodes)
    for i in (0, 17, 39):
        assert_episode_equal(buf.get_episode(i), episodes[i])
    assert buf["actions"].shape == (buf.n_steps, 4)

    bad = make_episodes(lengths=(4,))[0]
    bad["obs"]["pos"] = bad["obs"]["pos"][:3]
    with pytest.raises(DatasetError, match="'obs/pos' has length 3 but 'actions' has length 4"):
        buf.add_episode(bad)
    bad = make_episodes(lengths=(4,))[0]
    del bad["rewards"]
    with pytest.raises(DatasetError, match=r"missing \['rewards'\]"):
        buf.add_episode(bad)
    bad = make_episodes(lengths=(4,), action_dim=2)[0]
    with pytest.raises(DatasetError, match=r"'actions' has per-step shape \(2,\), expected \(4,\)"):
        buf.add_episode(bad)
    with pytest.raises(DatasetError, match="length 0"):
        ReplayBuffer().add_episode({"actions": np.zeros((0, 2))})
    assert buf.n_episodes == 40  # failed appends leave the buffer unchanged


def test_construct_from_concatenated_arrays():
    buf = ReplayBuffer({"actions": np.arange(10.0)[:, None]}, episode_ends=[4, 10])
    np.testing.assert_array_equal(buf.get_episode(1)["actions"][:, 0], np.arange(4.0, 10.0))
    with pytest.raises(DatasetError, match="episode_ends must be strictly increasing"):
        ReplayBuffer({"actions": np.zeros((10, 1))}, episode_ends=[4, 9])


# ---------------------------------------------------------------------- SequenceSampler
def naive_windows(lengths, horizon, pad_before, pad_after):
    """Diffusion policy's create_indices + sample_sequence, written with plain loops."""
    pad_before = min(pad_before, horizon - 1)
    pad_after = min(pad_after, horizon - 1)
    windows = []
    ep_start = 0
    for length in lengths:
        for idx in range(-pad_before, length - horizon + pad_after + 1):
            buf_start = max(idx, 0) + ep_start
            buf_end = min(idx + horizon, length) + ep_start
            sample_start = buf_start - (idx + ep_start)
            sample_end = horizon - ((idx + horizon + ep_start) - buf_end)
            windows.append((buf_start, buf_end, sample_start, sample_end))
        ep_start += length
    return windows


def naive_sample(arr, window, horizon):
    buf_start, buf_end, sample_start, sample_end = window
    sample = arr[buf_start:buf_end]
    out = np.zeros((horizon, *arr.shape[1:]), dtype=arr.dtype)
    out[sample_start:sample_end] = sample
    out[:sample_start] = sample[0]
    out[sample_end:] = sample[-1]
    return out


@pytest.fixture(scope="module")
def buffer():
    buf = ReplayBuffer()
    for ep in make_episodes(lengths=(5, 1, 8, 3, 12), seed=3):
        buf.add_episode(ep)
    return buf


@pytest.mark.parametrize("horizon", [1, 4, 7])
@pytest.mark.parametrize("pad_before", [0, 1, 3, 10])
@pytest.mark.parametrize("pad_after", [0, 2, 10])
def test_sampler_matches_naive_reference(buffer, horizon, pad_before, pad_after):
    sampler = SequenceSampler(buffer, horizon, pad_before=pad_before, pad_after=pad_after)
    windows = naive_windows(buffer.episode_lengths, horizon, pad_before, pad_after)
    assert len(sampler) == len(windows)
    for i, window in enumerate(windows):
        got = sampler.sample_sequence(i)
        assert set(got) == set(buffer.keys())
        for key in buffer.keys():
            np.testing.assert_array_equal(got[key], naive_sample(buffer[key], window, horizon))


def test_sampler_obs_steps_and_as_tensors(buffer):
    sampler = SequenceSampler(buffer, horizon=6, n_obs_steps=2, pad_before=1, pad_after=5)
    windows = naive_windows(buffer.episode_lengths, 6, 1, 5)
    s = sampler.sample_sequence(3)
    assert s["actions"].shape == (6, 4) and s["rewards"].shape == (6,)
    assert s["obs/pos"].shape == (2, 3) and s["obs/img"].shape == (2, 2, 2)
    np.testing.assert_array_equal(s["obs/pos"], naive_sample(buffer["obs/pos"], windows[3], 6)[:2])

    tensors = sampler.as_tensors()
    assert tensors["actions"].shape == (len(sampler), 6, 4)
    assert tensors["obs/img"].dtype == torch.uint8
    for key in sampler.keys:
        stacked = np.stack([sampler.sample_sequence(i)[key] for i in range(len(sampler))])
        np.testing.assert_array_equal(tensors[key].numpy(), stacked)

    loader = DeviceLoader(tensors, batch_size=8, generator=0)
    batch = next(iter(loader))
    assert batch["obs/pos"].shape == (8, 2, 3)


def test_sampler_episode_mask_and_errors(buffer):
    train, val = split_episodes(buffer.n_episodes, 0.4, seed=0)
    s_train = SequenceSampler(buffer, 3, episode_mask=train)
    s_val = SequenceSampler(buffer, 3, episode_mask=val)
    assert set(s_train.indices[:, 0]) == set(np.flatnonzero(train)) - {1}  # episode 1 too short
    assert set(s_val.indices[:, 0]) <= set(np.flatnonzero(val))
    assert len(s_train) + len(s_val) == len(SequenceSampler(buffer, 3))
    sub = SequenceSampler(buffer, 3, keys=["actions", "obs/pos"])
    assert set(sub.sample_sequence(-1)) == {"actions", "obs/pos"}

    with pytest.raises(KeyError, match="key 'obs/depth' not in the replay buffer"):
        SequenceSampler(buffer, 3, keys=["obs/depth"])
    with pytest.raises(ValueError, match=r"episode_mask has shape \(2,\), expected \(5,\)"):
        SequenceSampler(buffer, 3, episode_mask=[True, False])
    with pytest.raises(ValueError, match="n_obs_steps"):
        SequenceSampler(buffer, 3, n_obs_steps=4)
    with pytest.raises(IndexError, match="out of range"):
        sub.sample_sequence(len(sub))


def test_split_episodes():
    train, val = split_episodes(20, 0.2, seed=0)
    assert train.dtype == bool and val.sum() == 4 and np.all(train ^ val)
    train2, val2 = split_episodes(20, 0.2, seed=0)
    np.testing.assert_array_equal(val, val2)
    assert not np.array_equal(val, split_episodes(20, 0.2, seed=1)[1])
    assert split_episodes(5, 0.0)[1].sum() == 0
    assert split_episodes(3, 0.01)[1].sum() == 1  # at least one validation episode
    assert split_episodes(2, 0.9)[0].sum() == 1  # at least one training episode
    with pytest.raises(ValueError, match="val_fraction"):
        split_episodes(10, 1.0)
