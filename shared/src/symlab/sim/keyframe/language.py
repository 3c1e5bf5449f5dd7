"""Language instructions of the keyframe suite: a fixed word vocabulary and a tokeniser.

The vocabulary is every word of every instruction template of the registered keyframe tasks
(sorted, after the special tokens), so it is a deterministic function of the suite; policies store
it with their checkpoints (:func:`vocabulary` returns a plain list). Instructions are tokenised to
a fixed length (53 by default, the CLIP context length EquAct's precomputed features use), padded
with ``<pad>``; out-of-vocabulary words map to ``<unk>``.
"""

from __future__ import annotations

import functools
import re

import numpy as np

__all__ = ["PAD", "UNK", "all_instructions", "detokenize", "tokenize", "vocabulary"]

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case word split (punctuation dropped)."""
    return _WORD.findall(text.lower())


def all_instructions() -> dict[str, list[list[str]]]:
    """``{task: [instructions of variation 0, of variation 1, ...]}`` for every keyframe task."""
    from ..tasks.base import list_tasks, make_task

    out = {}
    for name in list_tasks("keyframe"):
        task = make_task(name)
        out[name] = [task.instructions(v) for v in range(task.n_variations)]
    return out


@functools.cache
def _vocab() -> tuple[str, ...]:
    ws = {
        w
        for per_task in all_instructions().values()
        for var in per_task
        for s in var
        for w in words(s)
    }
    return (PAD, UNK, *sorted(ws))


def vocabulary() -> list[str]:
    """Token strings; the index of a word is its token id (``<pad>`` = 0, ``<unk>`` = 1)."""
    return list(_vocab())


def tokenize(text: str, length: int = 53, vocab: list[str] | None = None) -> np.ndarray:
    """Token ids (``int64``, shape ``(length,)``) of an instruction, padded with ``<pad>``.

    Raises ``ValueError`` if the instruction has more than ``length`` words.
    """
    vocab = vocab if vocab is not None else vocabulary()
    index = {w: i for i, w in enumerate(vocab)}
    ids = [index.get(w, index[UNK]) for w in words(text)]
    if len(ids) > length:
        raise ValueError(f"instruction has {len(ids)} words, more than length={length}: {text!r}")
    out = np.full(length, index[PAD], dtype=np.int64)
    out[: len(ids)] = ids
    return out


def detokenize(ids, vocab: list[str] | None = None) -> str:
    """Inverse of :func:`tokenize` (padding dropped)."""
    vocab = vocab if vocab is not None else vocabulary()
    return " ".join(vocab[i] for i in np.asarray(ids).reshape(-1) if vocab[i] != PAD)
