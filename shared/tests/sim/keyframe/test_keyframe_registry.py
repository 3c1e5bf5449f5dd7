"""Keyframe suite without the simulator: registry, variations, language, scene sampling and the
expert-table summary."""

import json

import numpy as np
import pytest

from symlab.sim import TaskError, list_tasks, make_task
from symlab.sim.keyframe import keyframe_tasks, make_keyframe_env
from symlab.sim.keyframe.expert_table import markdown, summarize, update_readme
from symlab.sim.keyframe.language import PAD, UNK, detokenize, tokenize, vocabulary, words

EXPECTED = {
    "close_jar",
    "insert_onto_square_peg",
    "open_drawer",
    "peg_in_tilted_hole",
    "pick_and_lift",
    "place_block_in_bowl",
    "push_buttons",
    "put_item_in_drawer",
    "slide_block_to_color_target",
    "stack_blocks",
}
TASKS = sorted(list_tasks("keyframe"))


def test_suite_is_registered():
    assert EXPECTED <= set(TASKS)
    assert len(TASKS) >= 8
    # the closed-loop suite is separate
    assert not set(TASKS) & set(list_tasks("closed_loop"))
    info = keyframe_tasks()
    assert set(info) == set(TASKS)
    assert all(v["variations"] >= 3 for v in info.values())


def test_make_keyframe_env_rejects_other_suites():
    with pytest.raises(TaskError, match="not a keyframe task"):
        make_keyframe_env("lift")
    with pytest.raises(TaskError, match="not a keyframe task"):
        make_keyframe_env("open_drawr")


@pytest.mark.parametrize("name", TASKS)
def test_variations_have_distinct_instructions(name):
    task = make_task(name)
    canon = []
    for v in range(task.n_variations):
        ins = task.instructions(v)
        assert len(ins) >= 2 and all(isinstance(s, str) and s for s in ins)
        canon.append(ins[0])
    # the instruction identifies the variation
    assert len(set(canon)) == task.n_variations


def test_vocabulary_covers_every_instruction():
    vocab = vocabulary()
    assert vocab[:2] == [PAD, UNK] and len(set(vocab)) == len(vocab)
    for name in TASKS:
        task = make_task(name)
        for v in range(task.n_variations):
            for s in task.instructions(v):
                ids = tokenize(s)
                assert ids.shape == (53,) and ids.dtype == np.int64
                assert vocab.index(UNK) not in ids, s
                assert detokenize(ids) == " ".join(words(s))


def test_tokenize_unknown_and_too_long():
    ids = tokenize("push the zebra button", length=6)
    assert list(ids[4:]) == [0, 0]
    assert ids[2] == vocabulary().index(UNK)
    with pytest.raises(ValueError, match="more than length"):
        tokenize("push the red button " * 20)


@pytest.mark.parametrize("name", TASKS)
def test_scene_sampling(name):
    task = make_task(name)
    for v in (0, task.n_variations - 1):
        s1 = task.sample_scene(np.random.default_rng([7, v]), v)
        s2 = task.sample_scene(np.random.default_rng([7, v]), v)
        other = task.sample_scene(np.random.default_rng([8, v]), v)
        poses = {**s1.object_poses, **s1.fixture_poses}
        assert poses, "a scene places at least one body"
        for k, T in poses.items():
            np.testing.assert_array_equal(T, {**s2.object_poses, **s2.fixture_poses}[k])
            R = T[:3, :3]
            np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
            assert np.linalg.det(R) > 0
            # on the table (top at z = 0.8, 0.8 m x 0.8 m) or above it
            assert np.all(np.abs(T[:2, 3]) < 0.4) and T[2, 3] >= 0.8 - 1e-9, (k, T[:3, 3])
        assert s1.geom_rgba == s2.geom_rgba
        json.dumps(s1.info)  # stored with every demonstration
        moved = [
            k
            for k in poses
            if not np.allclose(poses[k], {**other.object_poses, **other.fixture_poses}[k])
        ]
        assert moved, "the scene depends on the seed"
        # free objects do not start inside each other
        xy = np.array([T[:2, 3] for T in s1.object_poses.values()])
        if len(xy) > 1:
            d = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy))
            assert d.min() > 0.05


def test_expert_table_summary_flags_failures(tmp_path):
    def rec(kind, seed):
        kf = [[0.1, 0.0, 0.9, 3.0, 0.0, 0.0], [0.1, 0.0, 0.85, 3.0, 0.0, 0.0]]
        if kind == "se2" and seed == 3:
            kf[1][0] += 0.02  # a keyframe 2 cm off: not g-consistent
        return {
            "task": "a", "kind": kind, "seed": seed, "success": seed != 0 or kind != "se3",
            "steps": 10, "keyframes": 2, "extracted": 4, "extraction_ok": True,
            "keyframes_ws": kf, "gripper_open": [True, False],
        }  # fmt: skip

    recs = [rec(k, s) for k in ("none", "se2", "se3") for s in range(10)]
    summ = summarize(recs, ["a"], ["none", "se2", "se3"], 10)
    assert summ["a/none"]["successes"] == 10 and summ["a/se3"]["successes"] == 9
    assert summ["a/se3"]["failed_seeds"] == [0]
    lo, hi = summ["a/se3"]["ci95"]
    assert lo < 0.9 < hi
    assert summ["a/se2"]["keyframe_consistency"]["consistent"] == 9
    assert summ["a/se3"]["keyframe_consistency"]["consistent"] == 10
    table = markdown(summ, ["a"], ["none", "se2", "se3"])
    row = "| a | 10/10 | 10/10 | 9/10 **(below 95%)** | 2.0 (4.0) | 10 | 30/30 | 19/20 (max 2.00 cm"
    assert row in table
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- expert-success:start -->\nold\n<!-- expert-success:end -->\ny\n")
    assert update_readme(table, "note", readme)
    text = readme.read_text()
    assert "old" not in text and table in text and text.startswith("x\n") and text.endswith("y\n")
