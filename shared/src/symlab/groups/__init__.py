"""Matrix groups, rotation conversions and group actions on points and images.

Groups are represented by their defining ``n x n`` matrices (emlp style): elements are tensors of
shape ``(..., n, n)`` with arbitrary leading batch dimensions, and every group exposes
``identity``, ``sample``, ``compose``, ``inverse``, ``exp``, ``log``, ``lie_algebra``,
``discrete_generators``, ``contains`` and ``act_on_points`` (see :class:`MatrixGroup`).

Examples
--------
>>> import torch
>>> from symlab.groups import SO3
>>> G = SO3()
>>> g = G.sample((8,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
>>> bool(torch.allclose(G.exp(G.log(g)), g))
True
"""

from ._base import MatrixGroup, OrthogonalMatrixGroup
from ._images import (
    act_on_image_cn,
    act_on_image_dn,
    flip_image,
    rotate_image_90,
    rotate_image_grid_sample,
)
from ._linear import (
    GL,
    GLPlus,
    polar_decomposition,
    polar_path,
    principal_logm,
    so_log,
    spd_log,
)
from ._planar import CN, DN, O2, SO2
from ._rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rotation_6d,
    quaternion_conjugate,
    quaternion_multiply,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rotation_6d_to_matrix,
    skew,
    standardize_quaternion,
    vee,
)
from ._spatial import SE3, SO3

__all__ = [
    "CN",
    "DN",
    "GL",
    "O2",
    "SE3",
    "SO2",
    "SO3",
    "GLPlus",
    "MatrixGroup",
    "OrthogonalMatrixGroup",
    "act_on_image_cn",
    "act_on_image_dn",
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "flip_image",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "matrix_to_rotation_6d",
    "polar_decomposition",
    "polar_path",
    "principal_logm",
    "quaternion_conjugate",
    "quaternion_multiply",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
    "rotate_image_90",
    "rotate_image_grid_sample",
    "rotation_6d_to_matrix",
    "skew",
    "so_log",
    "spd_log",
    "standardize_quaternion",
    "vee",
]
