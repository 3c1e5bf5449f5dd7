"""EquAct: SE(3)-equivariant multi-task keyframe policy (Zhu et al., ICLR 2026)."""
