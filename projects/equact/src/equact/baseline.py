"""Non-equivariant baseline: a PerAct / 3D-Diffuser-Actor-style point transformer.

Same inputs (fused cloud with RGB, gripper state, instruction), the same instruction encoder,
coarse-to-fine ghost-point search, rotation grid, losses and training budget as EquAct; only the
network differs. Scene tokens are farthest-point centres with PointNet features of their kNN
patch plus a Fourier embedding of the *absolute* xyz; a transformer encoder mixes them with a
gripper token and the language token; ghost points and the rotation query cross-attend to the
scene tokens. Each query (ghost point, rotation position) also carries a PointNet embedding of
its ``trans_knn`` nearest scene points (offsets in the world frame, Fourier-embedded at
millimetre to decimetre scales, and their colours), the local geometry that 3D Diffuser Actor's
relative position attention gives its queries: without it the finer C2F levels, whose ghost
points lie within a few centimetres, only see the coarse tokens and stayed at chance. The
rotation head regresses the SO(3) Fourier coefficients directly, so nothing transforms with the
scene: the model has to learn its behaviour under rotations from data (augmentation), which is
what the paper's comparison measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import ActionConfig, ModelConfig
from .geometry import farthest_point_sampling, gather, knn
from .model import KeyframePolicy

# Offsets of a query's neighbours are divided by this (m) before their Fourier embedding, whose
# periods then run from 2 * 0.1 m down to 2 * 0.1 m / 32 ~ 6 mm.
LOCAL_SCALE = 0.1


@dataclass
class Scene:
    """The encoded scene: transformer tokens and the points the queries look up locally."""

    tokens: torch.Tensor  # (B, T, width)
    xyz: torch.Tensor  # (B, N, 3)
    rgb: torch.Tensor  # (B, N, 3)


def fourier_xyz(x: torch.Tensor, n_freq: int = 6) -> torch.Tensor:
    """``[x, sin(2^k pi x), cos(2^k pi x)]`` for k < n_freq: (..., 3 + 6 n_freq)."""
    freq = (2.0 ** torch.arange(n_freq, dtype=x.dtype, device=x.device)) * math.pi
    angles = (x[..., None] * freq).flatten(-2)
    return torch.cat([x, angles.sin(), angles.cos()], dim=-1)


def _mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.GELU(), nn.Linear(h, o))


class PointTransformerBaseline(KeyframePolicy):
    def __init__(self, model: ModelConfig, action: ActionConfig, vocab_size: int):
        super().__init__(model, action, vocab_size)
        w = model.baseline_width
        pe = 3 + 6 * 6
        self.patch = _mlp(3 + 3, w, w)
        self.token_pos = _mlp(pe, w, w)
        self.gripper = _mlp(3 + 9 + 1, w, w)
        self.cond = nn.Linear(model.cond_dim, w)
        layer = nn.TransformerEncoderLayer(
            w, model.heads, 2 * w, 0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, model.baseline_layers, enable_nested_tensor=False
        )
        self.query_pos = _mlp(pe, w, w)
        self.local = _mlp(pe + 3, w, w)

        def decoder():
            layer = nn.TransformerDecoderLayer(
                w, model.heads, 2 * w, 0.0, batch_first=True, norm_first=True
            )
            return nn.TransformerDecoder(layer, 2)

        self.trans_decoder = decoder()
        self.trans_head = _mlp(w, w, 1)
        self.rot_decoder = decoder()
        self.rot_head = _mlp(w, w, self.rot_dim + 1)

    def encode(self, batch, cond):
        xyz, rgb = batch.xyz, batch.rgb
        m = max(1, int(round(xyz.shape[1] * self.model_cfg.baseline_token_ratio)))
        centres = gather(xyz, farthest_point_sampling(xyz, m))
        index = knn(centres, xyz, self.model_cfg.knn)
        patch = torch.cat([gather(xyz, index) - centres[:, :, None], gather(rgb, index) - 0.5], -1)
        tokens = self.patch(patch).max(dim=2).values + self.token_pos(fourier_xyz(centres))
        grip = torch.cat(
            [batch.gripper_pos, batch.gripper_rot.flatten(1), batch.gripper_open[:, None]], -1
        )
        extra = torch.stack([self.gripper(grip), self.cond(cond)], dim=1)
        return Scene(self.encoder(torch.cat([tokens, extra], dim=1)), xyz, rgb)

    def query(self, scene: Scene, points: torch.Tensor) -> torch.Tensor:
        """Query embeddings of ``points`` (B, Q, 3): absolute position plus local geometry."""
        index = knn(points, scene.xyz, self.model_cfg.trans_knn)
        offsets = (gather(scene.xyz, index) - points[:, :, None]) / LOCAL_SCALE
        patch = torch.cat([fourier_xyz(offsets), gather(scene.rgb, index) - 0.5], -1)
        return self.query_pos(fourier_xyz(points)) + self.local(patch).max(dim=2).values

    def translation_scores(self, scene, ghost, cond):
        q = self.query(scene, ghost)
        return self.trans_head(self.trans_decoder(q, scene.tokens)).squeeze(-1)

    def rotation_outputs(self, scene, position, cond):
        q = self.query(scene, position[:, None])
        out = self.rot_head(self.rot_decoder(q, scene.tokens))[:, 0]
        return out[:, : self.rot_dim], out[:, self.rot_dim]
