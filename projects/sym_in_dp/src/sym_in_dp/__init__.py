"""sym_in_dp: symmetry in diffusion policy (Wang, Hu, Song, Walters, Platt; NeurIPS 2025).

The diffusion-policy core lives in :mod:`symlab.policy`; this package holds the paper's design
space (encoders, action parameterisations, proprioception), the synthetic demonstrations used
until the benchmark's closed-loop tasks exist, and the train / eval / reproduce entry points.
"""

__version__ = "0.1.0"
