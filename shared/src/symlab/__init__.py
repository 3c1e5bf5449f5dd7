"""SymLab shared package.

Subpackages
-----------
groups
    Matrix groups (SO(2), SO(3), SE(3), O(2), C_N, D_N, GL(n), GL+(n)), rotation conversions and
    actions on points, poses, vectors and images.
testing
    ``assert_equivariant`` and the approximate-equivariance measurement, plus the pytest plugin
    (seed and device fixtures, markers).
data
    Device-resident batch loading, robomimic-layout replay buffers, normalizers and the cached
    builder for generated datasets.
runs
    Run directories, seeding, configs validated on load, checkpoints (state dicts only), wandb and
    Lightning helpers.
results
    The common results format written by every project's ``reproduce`` entry point.
"""

__version__ = "0.1.0"
