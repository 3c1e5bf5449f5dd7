"""Reproduction of "Understanding Mode Connectivity via Parameter Space Symmetry" (ICML 2025).

Entry points: ``python -m mode_connectivity.train``, ``.eval`` and ``.reproduce``; see the
project README. Library modules: :mod:`.linear` (deep linear networks and their GL symmetry),
:mod:`.components`, :mod:`.curves`, :mod:`.skip`, :mod:`.permutations`, :mod:`.lmc`,
:mod:`.approx_action`, :mod:`.trained`, :mod:`.orbits`.
"""

__version__ = "0.1.0"
