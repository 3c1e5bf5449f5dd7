"""The ten projects of the repository and their papers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectInfo:
    folder: str
    paper: str


PROJECTS: tuple[ProjectInfo, ...] = (
    ProjectInfo("mode_connectivity", "Mode connectivity via parameter-space symmetry"),
    ProjectInfo("equact", "EquAct: SE(3)-equivariant multi-task keyframe transformer"),
    ProjectInfo("isp", "Image-to-sphere SO(3)-equivariant diffusion policy (eye-in-hand RGB)"),
    ProjectInfo("sym_in_dp", "Practical symmetry in diffusion policy"),
    ProjectInfo("invariant_eqdisc", "Symbolic PDE discovery with symmetry invariants"),
    ProjectInfo("atlasd", "Local symmetry discovery with atlas equivariance (AtlasD)"),
    ProjectInfo("iaemu", "IAEmu: emulator of galaxy intrinsic-alignment correlations"),
    ProjectInfo("dhn", "Denoising Hamiltonian Network"),
    ProjectInfo("hep", "Hierarchical equivariant policy with frame transfer"),
    ProjectInfo("keyframe_transporter", "Bi-equivariant coarse-to-fine 3D keyframe transporter"),
)
