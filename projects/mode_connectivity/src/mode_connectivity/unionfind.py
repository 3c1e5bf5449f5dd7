"""A small vectorised union-find (disjoint-set forest).

Unions are applied to whole arrays of edges at once: every round finds the roots of both ends of
every edge (pointer jumping with full path compression) and hooks the larger root onto the
smallest root proposed for it. Roots only ever point to smaller indices, so no cycle can form,
and the rounds stop when no edge joins two different roots. The loops run over rounds (a few
dozen on a 401 x 401 grid), never over nodes or edges.
"""

from __future__ import annotations

import numpy as np


class UnionFind:
    """Disjoint sets over the nodes ``0 .. n-1``.

    Parameters
    ----------
    n : int
        Number of nodes.

    Examples
    --------
    >>> uf = UnionFind(5)
    >>> uf.union([0, 3], [1, 4])
    >>> uf.n_components
    3
    """

    def __init__(self, n: int) -> None:
        self.parent = np.arange(int(n), dtype=np.int64)

    def _compress(self) -> np.ndarray:
        parent = self.parent
        while True:  # pointer jumping: depth halves every round
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
        self.parent = parent
        return parent

    def find(self, nodes: np.ndarray | list[int] | int) -> np.ndarray:
        """Roots of ``nodes`` (an array or a single index)."""
        return self._compress()[np.asarray(nodes, dtype=np.int64)]

    def union(self, a: np.ndarray | list[int], b: np.ndarray | list[int]) -> None:
        """Merge the sets of ``a[j]`` and ``b[j]`` for every ``j``."""
        a = np.asarray(a, dtype=np.int64).ravel()
        b = np.asarray(b, dtype=np.int64).ravel()
        if a.shape != b.shape:
            raise ValueError(f"union: {a.shape} and {b.shape} edge ends")
        while a.size:
            root_a, root_b = self.find(a), self.find(b)
            differ = root_a != root_b
            if not differ.any():
                break
            high = np.maximum(root_a[differ], root_b[differ])
            low = np.minimum(root_a[differ], root_b[differ])
            np.minimum.at(self.parent, high, low)
            # Edges already inside one set never matter again.
            a, b = a[differ], b[differ]

    def labels(self) -> np.ndarray:
        """Component label per node: ``0 .. n_components-1`` in order of the smallest node."""
        roots = self._compress()
        _, labels = np.unique(roots, return_inverse=True)
        return labels.astype(np.int64)

    @property
    def n_components(self) -> int:
        """Number of disjoint sets."""
        return int(np.unique(self._compress()).size)


def same_partition(labels_a: np.ndarray, labels_b: np.ndarray) -> bool:
    """Whether two labelings of the same nodes define the same partition (labels may differ)."""
    labels_a, labels_b = np.asarray(labels_a).ravel(), np.asarray(labels_b).ravel()
    if labels_a.shape != labels_b.shape:
        return False
    pairs = np.unique(np.stack([labels_a, labels_b]), axis=1)
    # A bijection between labels: each label of a pairs with exactly one of b and vice versa.
    return pairs.shape[1] == np.unique(labels_a).size and pairs.shape[1] == np.unique(labels_b).size
