"""EquAct: equivariant point-cloud U-Net (EPTU), iFiLM conditioning, keyframe action fields.

:class:`KeyframePolicy` holds what EquAct and the baseline share: the instruction encoder, the
coarse-to-fine translation search over ghost points, the SO(3) rotation grid evaluated from
SO(3) Fourier coefficients, the losses and prediction. :class:`EquAct` supplies the equivariant
encoder and fields:

* translation score ``Q_trans(q)``: one equivariant attention layer from scene points to the ghost
  point ``q`` (relative vectors only), whose invariant (l = 0) output is the score;
* rotation / gripper at the chosen position: an equivariant attention layer + iFiLM feed-forward
  gives ``C`` spherical signals ``f_c`` (degrees <= ``rot_lmax``) and an invariant gripper logit;
  an S2 convolution with learned filters ``psi_c`` gives the SO(3) Fourier coefficients
  ``F_l = sum_c f_c^l psi_c^l^T``, which transform as ``F_l -> D^l(g) F_l``; the score of grid
  rotation ``R_k`` is ``sum_l <F_l, D^l(R_k)>``, so scores move as ``Q'(R) = Q(g^-1 R)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ActionConfig, ModelConfig
from .data import KeyframeBatch
from .geometry import (
    farthest_point_sampling,
    gather,
    inverse_distance_weights,
    knn,
    sample_in_ball,
)
from .language import InstructionEncoder
from .layers import (
    EquivariantBlock,
    EquivariantLinear,
    EquivariantPointAttention,
    Features,
    FeedForward,
    RMSNormSH,
    coefficient_max_pool,
    interpolate_features,
)
from .so3 import geodesic_angle, make_rotation_grid, wigner_basis


class EquivariantUNet(nn.Module):
    """EPTU: embed -> [FPS + kNN + CoefficientMaxPool -> block] per level -> 3-NN inverse-distance
    upsampling + skip -> block per level -> linear + RMS norm. Each level's graph is kNN-``k``.

    Inputs per point: 4 invariant scalars and 3 vectors (l = 1); see :meth:`EquAct.points`.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        ch, lmax = cfg.channels, cfg.lmax
        self.cfg = cfg
        self.embed_scalars = nn.Linear(4, ch[0])
        self.embed_vectors = nn.Linear(3, ch[0], bias=False)

        def block(i):
            return EquivariantBlock(
                ch[i],
                lmax,
                cfg.heads,
                cfg.n_rbf,
                cfg.cutoffs[i],
                cfg.cond_dim,
                cfg.film,
                cfg.ffn_ratio,
            )

        self.down_blocks = nn.ModuleList(block(i) for i in range(len(ch)))
        self.down_linear = nn.ModuleList(
            EquivariantLinear(ch[i - 1], ch[i], lmax) for i in range(1, len(ch))
        )
        self.up_linear = nn.ModuleList(
            EquivariantLinear(ch[i + 1], ch[i], lmax) for i in range(len(ch) - 1)
        )
        self.up_blocks = nn.ModuleList(block(i) for i in range(len(ch) - 1))
        self.out = EquivariantLinear(ch[0], cfg.out_channels, lmax)
        self.norm = RMSNormSH(cfg.out_channels, lmax)

    def embed(self, scalars: torch.Tensor, vectors: torch.Tensor) -> Features:
        b, n, _ = scalars.shape
        feats = [self.embed_scalars(scalars).unsqueeze(-1)]
        # vectors (B, N, 3 channels, 3): e3nn's l = 1 basis is (x, y, z), so D^1(R) = R.
        feats.append(torch.einsum("cv,bnvi->bnci", self.embed_vectors.weight, vectors))
        feats += [
            scalars.new_zeros(b, n, self.cfg.channels[0], 2 * deg + 1)
            for deg in range(2, self.cfg.lmax + 1)
        ]
        return feats

    def forward(self, pos, scalars, vectors, cond) -> tuple[torch.Tensor, Features]:
        k = self.cfg.knn
        x = self.embed(scalars, vectors)
        positions, graphs, skips = [pos], [knn(pos, pos, k)], []
        x = self.down_blocks[0](x, pos, graphs[0], cond)
        for i in range(1, len(self.cfg.channels)):
            skips.append(x)
            prev = positions[-1]
            m = max(1, int(round(prev.shape[1] * self.cfg.pool_ratio)))
            centres = gather(prev, farthest_point_sampling(prev, m))
            x = self.down_linear[i - 1](coefficient_max_pool(x, knn(centres, prev, k)))
            positions.append(centres)
            graphs.append(knn(centres, centres, k))
            x = self.down_blocks[i](x, centres, graphs[-1], cond)
        for i in reversed(range(len(self.cfg.channels) - 1)):
            index, weight = inverse_distance_weights(positions[i], positions[i + 1], 3)
            up = self.up_linear[i](interpolate_features(x, index, weight))
            x = [a + b for a, b in zip(up, skips[i])]
            x = self.up_blocks[i](x, positions[i], graphs[i], cond)
        return pos, self.norm(self.out(x))


class KeyframePolicy(nn.Module):
    """Shared keyframe machinery (language, coarse-to-fine search, rotation grid, losses).

    Subclasses implement :meth:`encode`, :meth:`translation_scores` and
    :meth:`rotation_outputs`."""

    def __init__(self, model: ModelConfig, action: ActionConfig, vocab_size: int):
        super().__init__()
        self.model_cfg, self.action_cfg = model, action
        self.language = InstructionEncoder(
            vocab_size,
            model.cond_dim,
            model.lang_layers,
            model.lang_heads,
            model.lang_mlp,
            max_tokens=max(model.max_tokens, 1),
        )
        self._grids: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.rot_dim = sum((2 * deg + 1) ** 2 for deg in range(model.rot_lmax + 1))

    # -- pieces implemented by subclasses ------------------------------------------------------
    def encode(self, batch: KeyframeBatch, cond: torch.Tensor):
        raise NotImplementedError

    def translation_scores(self, scene, ghost: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def rotation_outputs(self, scene, position: torch.Tensor, cond: torch.Tensor):
        """SO(3) Fourier coefficients (B, sum_l (2l+1)^2) and the gripper-open logit (B,)."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    def condition(self, batch: KeyframeBatch) -> torch.Tensor:
        if batch.clip_features is not None:
            return self.language(clip_features=batch.clip_features, mask=batch.clip_mask)
        if batch.tokens is None:
            raise ValueError("the batch has neither instruction tokens nor clip_features")
        return self.language(tokens=batch.tokens)

    def rotation_grid(self, split: str, device=None, dtype=torch.float32):
        """(grid (K, 3, 3), Wigner basis (K, sum (2l+1)^2)) for ``split`` in {train, eval}."""
        a = self.action_cfg
        level = a.rot_level_train if split == "train" else a.rot_level_eval
        key = f"{a.rot_grid}-{level}-{device}-{dtype}"
        if key not in self._grids:
            grid = make_rotation_grid(a.rot_grid, level, torch.float64)
            basis = wigner_basis(grid, self.model_cfg.rot_lmax)
            self._grids[key] = (grid.to(device, dtype), basis.to(device, dtype))
        return self._grids[key]

    def set_rotation_grid(self, grid: torch.Tensor, split: str = "eval") -> None:
        """Use an explicit rotation grid (e.g. the 24 octahedral rotations in tests)."""
        a = self.action_cfg
        level = a.rot_level_train if split == "train" else a.rot_level_eval
        g = grid.double()
        basis = wigner_basis(g, self.model_cfg.rot_lmax)
        key = f"{a.rot_grid}-{level}-{grid.device}-{grid.dtype}"
        self._grids[key] = (grid, basis.to(grid.dtype))

    def rotation_scores(self, coeffs: torch.Tensor, split: str) -> torch.Tensor:
        grid, basis = self.rotation_grid(split, coeffs.device, coeffs.dtype)
        return coeffs @ basis.T

    def ghost_points(
        self, batch: KeyframeBatch, level: int, anchors: torch.Tensor | None, n: int, generator
    ) -> torch.Tensor:
        """Level 0: uniform in the oriented bounds box. Level l >= 1: uniform in balls of diameter
        ``ball_diameter / 4**(l-1)`` around each anchor (``n // n_anchors`` points each). Offsets
        are drawn in the box frame and rotated with it, so ghost points move with the scene."""
        dtype, device = batch.xyz.dtype, batch.xyz.device
        b = len(batch)
        if level == 0:
            u = torch.rand(b, n, 3, generator=generator, dtype=dtype).to(device) * 2 - 1
            local = u * batch.bounds_half[:, None]
            return batch.bounds_center[:, None] + torch.einsum(
                "bij,bnj->bni", batch.bounds_rot, local
            )
        a = anchors.shape[1]
        radius = self.action_cfg.ball_diameter / 4 ** (level - 1) / 2
        ball = sample_in_ball((b, a, max(n // a, 1)), generator, dtype, "cpu").to(device) * radius
        offsets = torch.einsum("bij,bakj->baki", batch.bounds_rot, ball)
        return (anchors[:, :, None] + offsets).flatten(1, 2)

    def coarse_to_fine(self, batch, scene, cond, generator, train: bool):
        """Run the translation search; returns per-level (ghost points, scores) and the final
        position (argmax of the last level). In training the ground truth is inserted as the last
        anchor of every level and as the first ghost point of the last level (teacher forcing)."""
        a = self.action_cfg
        n = a.ghost_train if train else a.ghost_eval
        topk = a.topk_train if train else a.topk_eval
        levels, anchors = [], None
        for level in range(a.c2f_levels):
            ghost = self.ghost_points(batch, level, anchors, n, generator)
            if train and level == a.c2f_levels - 1:
                ghost = torch.cat([batch.target_pos[:, None], ghost[:, 1:]], dim=1)
            scores = self.translation_scores(scene, ghost, cond)
            levels.append((ghost, scores))
            top = scores.detach().topk(min(topk, scores.shape[1]), dim=1).indices
            anchors = gather(ghost, top)
            if train:
                anchors = torch.cat([anchors[:, :-1], batch.target_pos[:, None]], dim=1)
        ghost, scores = levels[-1]
        position = gather(ghost, scores.argmax(1, keepdim=True)).squeeze(1)
        return levels, position

    def losses(self, batch: KeyframeBatch, generator=None) -> dict[str, torch.Tensor]:
        """Cross-entropy per C2F level (target: nearest ghost point), soft cross-entropy of the
        rotation against ``softmax(-geodesic_deg / T)`` on the training grid, gripper BCE."""
        cond = self.condition(batch)
        scene = self.encode(batch, cond)
        levels, _ = self.coarse_to_fine(batch, scene, cond, generator, train=True)
        out = {}
        for i, (ghost, scores) in enumerate(levels):
            target = (ghost - batch.target_pos[:, None]).norm(dim=-1).argmin(1)
            out[f"trans_{i}"] = F.cross_entropy(scores, target)
        coeffs, open_logit = self.rotation_outputs(scene, batch.target_pos, cond)
        grid, _ = self.rotation_grid("train", coeffs.device, coeffs.dtype)
        angle = torch.rad2deg(geodesic_angle(grid[None], batch.target_rot[:, None]))
        label = torch.softmax(-angle / self.action_cfg.rot_temperature_deg, dim=-1)
        out["rot"] = F.cross_entropy(self.rotation_scores(coeffs, "train"), label)
        out["open"] = F.binary_cross_entropy_with_logits(open_logit, batch.target_open)
        out["total"] = sum(out.values())
        return out

    @torch.no_grad()
    def predict(self, batch: KeyframeBatch, generator=None) -> dict[str, torch.Tensor]:
        """Keyframe action: position (B, 3), rotation (B, 3, 3), open probability (B,)."""
        cond = self.condition(batch)
        scene = self.encode(batch, cond)
        _, position = self.coarse_to_fine(batch, scene, cond, generator, train=False)
        coeffs, open_logit = self.rotation_outputs(scene, position, cond)
        grid, _ = self.rotation_grid("eval", coeffs.device, coeffs.dtype)
        rot_scores = self.rotation_scores(coeffs, "eval")
        return {
            "position": position,
            "rotation": grid[rot_scores.argmax(1)],
            "open": torch.sigmoid(open_logit),
            "rotation_index": rot_scores.argmax(1),
        }


class EquAct(KeyframePolicy):
    """The SE(3)-equivariant policy: EPTU features, equivariant translation and rotation fields,
    iFiLM language conditioning (``model.film``: ``ifilm``; ``film`` is the ablation)."""

    def __init__(self, model: ModelConfig, action: ActionConfig, vocab_size: int):
        super().__init__(model, action, vocab_size)
        self.unet = EquivariantUNet(model)
        c, lmax = model.out_channels, model.lmax
        gen = torch.Generator().manual_seed(0)
        offsets = torch.randn(model.n_proprio, 3, generator=gen)
        self.register_buffer("proprio_offsets", 1e-3 * offsets / offsets.norm(dim=-1, keepdim=True))
        self.trans_field = EquivariantPointAttention(
            c,
            lmax,
            model.trans_channels,
            0,
            model.trans_lmax,
            model.heads,
            model.n_rbf,
            model.trans_cutoff,
        )
        self.trans_head = nn.Sequential(
            nn.Linear(model.trans_channels, model.trans_channels),
            nn.SiLU(),
            nn.Linear(model.trans_channels, 1),
        )
        rc, rl = model.rot_channels + 1, model.rot_lmax  # + the gripper channel
        self.rot_field = EquivariantPointAttention(
            c, lmax, rc, rl, rl, model.heads, model.n_rbf, model.rot_cutoff
        )
        self.rot_norm = RMSNormSH(rc, rl)
        self.rot_ffn = FeedForward(rc, rl, 2 * rc, model.cond_dim, model.film)
        # S2 convolution filters (one per signal channel and degree): harmonic coefficients.
        self.s2_filter = nn.ParameterList(
            nn.Parameter(
                torch.randn(model.rot_channels, 2 * deg + 1) / math.sqrt(model.rot_channels)
            )
            for deg in range(rl + 1)
        )

    def points(self, batch: KeyframeBatch):
        """Scene points plus ``n_proprio`` gripper points at ``p + R delta_k`` (tiny fixed offsets
        in the gripper frame, so they rotate with it). Scalars: rgb - 0.5 and a proprio flag for
        scene points; (open - 0.5) x 10 and the flag for gripper points. Vectors (l = 1): the
        gripper rotation's columns x 10 on gripper points, zero elsewhere."""
        b, n, _ = batch.xyz.shape
        p = self.proprio_offsets.shape[0]
        grip = batch.gripper_pos[:, None] + torch.einsum(
            "bij,pj->bpi", batch.gripper_rot, self.proprio_offsets.to(batch.xyz.dtype)
        )
        pos = torch.cat([batch.xyz, grip], dim=1)
        scene_s = torch.cat([batch.rgb - 0.5, batch.rgb.new_zeros(b, n, 1)], -1)
        open_s = ((batch.gripper_open - 0.5) * 10)[:, None, None].expand(b, p, 3)
        grip_s = torch.cat([open_s, batch.rgb.new_ones(b, p, 1)], -1)
        scalars = torch.cat([scene_s, grip_s], dim=1)
        vectors = torch.cat(
            [
                batch.xyz.new_zeros(b, n, 3, 3),
                (10 * batch.gripper_rot.transpose(1, 2))[:, None].expand(b, p, 3, 3),
            ],
            dim=1,
        )
        return pos, scalars, vectors

    def encode(self, batch, cond):
        pos, scalars, vectors = self.points(batch)
        return self.unet(pos, scalars, vectors, cond)

    def translation_scores(self, scene, ghost, cond):
        pos, feats = scene
        index = knn(ghost, pos, self.model_cfg.trans_knn)
        out = self.trans_field(feats, pos, ghost, index)[0][..., 0]  # invariant (B, Q, C)
        return self.trans_head(out).squeeze(-1)

    def rotation_field(self, scene, position, cond) -> Features:
        pos, feats = scene
        query = position[:, None]
        index = knn(query, pos, self.model_cfg.rot_knn)
        x = self.rot_field(feats, pos, query, index)
        h = self.rot_ffn(self.rot_norm(x), cond)
        return [a + b for a, b in zip(x, h)]  # (B, 1, C, 2l+1)

    def fourier_coefficients(self, signals: Features) -> torch.Tensor:
        """``F_l[m, n] = sum_c f_c^l[m] psi_c^l[n]``, flattened over (l, m, n): (B, rot_dim)."""
        c = self.model_cfg.rot_channels
        return torch.cat(
            [
                torch.einsum("bcm,cn->bmn", f[:, 0, :c], psi).flatten(1)
                for f, psi in zip(signals, self.s2_filter)
            ],
            dim=1,
        )

    def rotation_outputs(self, scene, position, cond):
        x = self.rotation_field(scene, position, cond)
        open_logit = x[0][:, 0, self.model_cfg.rot_channels, 0]
        return self.fourier_coefficients(x), open_logit


def build_policy(model: ModelConfig, action: ActionConfig, vocab_size: int) -> KeyframePolicy:
    """EquAct or the baseline, by ``model.kind``."""
    if model.kind == "equact":
        return EquAct(model, action, vocab_size)
    if model.kind == "baseline":
        from .baseline import PointTransformerBaseline

        return PointTransformerBaseline(model, action, vocab_size)
    raise ValueError(f"unknown model kind {model.kind!r}; use equact or baseline")
