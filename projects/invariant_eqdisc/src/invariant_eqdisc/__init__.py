"""Discovering symbolic differential equations with symmetry invariants (Yang et al., 2025).

Public API (pysindy style: ``fit(...) -> self``, fitted attributes end in ``_``):

* :class:`~.symbolic.JetSpace`, :class:`~.symbolic.LiePointSymmetry`,
  :func:`~.symbolic.is_differential_invariant` - symbolic prolongation and invariance checks;
* :class:`~.invariants.InvariantLibrary`, :class:`~.invariants.InvariantSINDy` - SI;
* :func:`~.sparse.equivariant_subspace`, :class:`~.sparse.ConstrainedSINDy` - SI-aligned and
  SI-relaxed; :class:`~.sparse.STLSQ`;
* :class:`~.genetic_programming.GPRegressor`, :func:`~.genetic_programming.match_terms` -
  genetic programming (DEAP) on invariants and the paper's term-matching criterion;
* :mod:`~.systems` data generators, :mod:`~.weak` weak form, :mod:`~.experiments` and
  :mod:`~.gp_experiments` protocols.
"""

from .genetic_programming import GPConfig, GPRegressor, match_terms
from .invariants import InvariantLibrary, InvariantSINDy, NotInvariantError
from .sparse import STLSQ, ConstrainedSINDy, MonomialLibrary, equivariant_subspace
from .symbolic import JetSpace, LiePointSymmetry, is_differential_invariant, prolong

__all__ = [
    "STLSQ",
    "ConstrainedSINDy",
    "GPConfig",
    "GPRegressor",
    "InvariantLibrary",
    "InvariantSINDy",
    "JetSpace",
    "LiePointSymmetry",
    "MonomialLibrary",
    "NotInvariantError",
    "equivariant_subspace",
    "is_differential_invariant",
    "match_terms",
    "prolong",
]
