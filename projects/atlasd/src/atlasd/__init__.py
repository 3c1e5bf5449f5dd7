"""AtlasD: automatic local symmetry discovery (Bhat et al., ICML 2025), reproduced on SymLab.

Modules: :mod:`atlasd.atlas` (charts and warps), :mod:`atlasd.lie` (generators, regulariser,
cosets, identity-component test, analysis), :mod:`atlasd.discovery` (training loops),
:mod:`atlasd.pde`, :mod:`atlasd.probes`, :mod:`atlasd.lorentz`, :mod:`atlasd.sphere_digits`
(tasks), :mod:`atlasd.downstream` (gauge CNN), :mod:`atlasd.pipeline` (experiments).
"""

__version__ = "0.1.0"
