"""C_N-equivariant layers and the EquiDiff denoiser (Wang et al., CoRL 2024).

Representations of the cyclic group C_N (element ``k`` is the rotation by ``2 pi k / N`` about the
world z axis), with the conventions of escnn (``gspaces.rot2dOnR2(N)``):

* ``"trivial"``: 1-d, invariant;
* ``"irrep1"``: 2-d, ``R(2 pi k / N)`` acting counter-clockwise on ``(x, y)``;
* ``"regular"``: N-d, functions on the group, ``(rho(k) f)[h] = f[h - k]``, i.e.
  ``torch.roll(f, k, dim=-1)``. Tensors of ``C`` regular fields are laid out ``(C, N)``
  flattened, field-major (escnn's and EquiDiff's ``(c f)``).

Equivariant linear maps are parameterised completely and without redundancy (Frobenius
reciprocity): a map into ``C`` regular fields is ``f(v)[c, h] = w_c . rho_in(h)^-1 v``, one free
vector ``w_c`` per output field; a map out of regular fields is
``f(phi) = sum_h rho_out(h) U phi[:, h]``, one free matrix ``U``. The full weight is assembled by
one ``einsum`` per call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ._unet import ConditionalUnet1D

FIELD_KINDS = ("trivial", "irrep1", "regular")


def field_representation(fields: Sequence[str], N: int, dtype=torch.float64) -> Tensor:
    """Block-diagonal matrices ``(N, d, d)`` of a direct sum of C_N fields.

    Parameters
    ----------
    fields : sequence of {'trivial', 'irrep1', 'regular'}
        The fields, in the order their coordinates appear in the vector.
    N : int
        Group order.
    """
    blocks = []
    k = torch.arange(N, dtype=dtype)
    for name in fields:
        if name == "trivial":
            blocks.append(torch.ones(N, 1, 1, dtype=dtype))
        elif name == "irrep1":
            a = 2 * math.pi * k / N
            c, s = torch.cos(a), torch.sin(a)
            blocks.append(torch.stack([c, -s, s, c], dim=-1).reshape(N, 2, 2))
        elif name == "regular":
            # rho(k) e_h = e_{h + k}: column h has its one in row (h + k) mod N.
            rows = (torch.arange(N)[None, :] + torch.arange(N)[:, None]) % N
            P = torch.zeros(N, N, N, dtype=dtype)
            P.scatter_(1, rows[:, None, :], 1.0)
            blocks.append(P)
        else:
            raise ValueError(f"unknown field kind {name!r}; expected one of {FIELD_KINDS}")
    return torch.stack([torch.block_diag(*[b[i] for b in blocks]) for i in range(N)])


def roll_regular(x: Tensor, k: int | Tensor, N: int) -> Tensor:
    """Act with C_N element ``k`` on regular fields stored as ``(..., C * N)``."""
    return torch.roll(x.unflatten(-1, (-1, N)), int(k), dims=-1).flatten(-2)


class LinearToRegular(nn.Module):
    """Equivariant linear map from any C_N representation to ``out_fields`` regular fields.

    Parameters
    ----------
    in_rep : Tensor
        ``(N, d_in, d_in)`` orthogonal representation matrices of the input (see
        :func:`field_representation`).
    out_fields : int
        Number of regular output fields; the output has ``out_fields * N`` entries, ``(c f)``.
    bias : bool
        A per-field bias (constant over the group axis, the only equivariant bias).
    """

    def __init__(self, in_rep: Tensor, out_fields: int, bias: bool = True) -> None:
        super().__init__()
        N, d_in, _ = in_rep.shape
        self.N, self.d_in, self.out_fields = N, d_in, out_fields
        # rho(h)^-1 = rho(h)^T for orthogonal representations.
        self.register_buffer("rho_inv", in_rep.transpose(1, 2).to(torch.float64).contiguous())
        bound = 1.0 / math.sqrt(d_in)
        self.weight = nn.Parameter(torch.empty(out_fields, d_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_fields).uniform_(-bound, bound)) if bias else None

    def full_weight(self) -> Tensor:
        """The assembled ``(out_fields * N, d_in)`` weight matrix."""
        W = torch.einsum("ci,hij->chj", self.weight, self.rho_inv.to(self.weight))
        return W.reshape(self.out_fields * self.N, self.d_in)

    def forward(self, x: Tensor) -> Tensor:
        b = None if self.bias is None else self.bias.repeat_interleave(self.N)
        return nn.functional.linear(x, self.full_weight(), b)


class LinearFromRegular(nn.Module):
    """Equivariant linear map from ``in_fields`` regular fields to any C_N representation.

    Parameters
    ----------
    in_fields : int
        Number of regular input fields (input size ``in_fields * N``, ``(c f)`` layout).
    out_rep : Tensor
        ``(N, d_out, d_out)`` representation matrices of the output.
    bias : bool
        A bias restricted to the invariant subspace of the output (its trivial fields).
    """

    def __init__(self, in_fields: int, out_rep: Tensor, bias: bool = True) -> None:
        super().__init__()
        N, d_out, _ = out_rep.shape
        self.N, self.d_out, self.in_fields = N, d_out, in_fields
        self.register_buffer("rho", out_rep.to(torch.float64).contiguous())
        # Projector onto the invariant subspace: the average of the representation.
        self.register_buffer("invariant", out_rep.mean(0).to(torch.float64))
        bound = 1.0 / math.sqrt(in_fields * N)
        self.weight = nn.Parameter(torch.empty(d_out, in_fields).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(d_out).uniform_(-bound, bound)) if bias else None

    def full_weight(self) -> Tensor:
        """The assembled ``(d_out, in_fields * N)`` weight matrix."""
        W = torch.einsum("hoj,jc->och", self.rho.to(self.weight), self.weight)
        return W.reshape(self.d_out, self.in_fields * self.N)

    def forward(self, x: Tensor) -> Tensor:
        b = None if self.bias is None else self.invariant.to(self.bias) @ self.bias
        return nn.functional.linear(x, self.full_weight(), b)


# Pose actions [x, y, z, rot6d rows (r00 r01 r02 r10 r11 r12), gripper] as C_N fields: (x, y) and
# the column pairs (r0j, r1j) rotate about z as irrep1, z and the gripper are invariant.
POSE10_ROWS_ORDER = (0, 1, 3, 6, 4, 7, 5, 8, 2, 9)
POSE10_ROWS_FIELDS = ("irrep1",) * 4 + ("trivial",) * 2


class CyclicUnet1D(nn.Module):
    """EquiDiff's C_N-equivariant noise-prediction network.

    The noisy action of every horizon step is lifted by an equivariant linear layer (+ ReLU) to
    ``act_emb_dim`` regular fields. The group axis is then folded into the batch: one
    :class:`ConditionalUnet1D` with shared weights runs for every group element ``h`` on the
    ``h``-th component of the action embedding and of the (regular) observation features. A
    rotation of the input permutes these N copies cyclically, so the stacked outputs permute the
    same way; an equivariant linear head maps them back to the action representation.

    Parameters
    ----------
    N : int
        Group order (8 in EquiDiff).
    global_cond_fields : int
        Regular fields of the observation features: ``global_cond`` has shape
        ``(B, global_cond_fields * N)`` in ``(c f)`` layout (e.g. ``n_obs_steps`` steps of
        ``n_hidden`` fields each).
    act_emb_dim : int
        Regular fields of the action embedding (the per-element U-Net's input width).
    action_order, action_fields :
        How the action vector is read as fields: ``action[..., action_order]`` has the layout
        ``action_fields``. The default is the 10-d pose action with rows-6D rotation.
    **unet_kwargs
        ``diffusion_step_embed_dim``, ``down_dims``, ``kernel_size``, ``n_groups``,
        ``cond_predict_scale`` of the shared :class:`ConditionalUnet1D`.

    Notes
    -----
    ``forward(sample (B, T, Da), timestep, global_cond (B, C * N)) -> (B, T, Da)``; equivariant
    under ``sample -> rho_a(k) sample`` and ``global_cond -> roll(global_cond, k)``.
    """

    def __init__(
        self,
        N: int = 8,
        global_cond_fields: int = 0,
        act_emb_dim: int = 64,
        action_order: Sequence[int] = POSE10_ROWS_ORDER,
        action_fields: Sequence[str] = POSE10_ROWS_FIELDS,
        **unet_kwargs,
    ) -> None:
        super().__init__()
        order = torch.as_tensor(list(action_order), dtype=torch.long)
        if sorted(order.tolist()) != list(range(len(order))):
            raise ValueError(f"action_order must be a permutation, found {order.tolist()}")
        rep = field_representation(action_fields, N)
        if rep.shape[-1] != len(order):
            raise ValueError(
                f"action_fields {list(action_fields)} have dimension {rep.shape[-1]} but "
                f"action_order has {len(order)} entries"
            )
        self.N = N
        self.action_dim = len(order)
        self.global_cond_fields = global_cond_fields
        self.register_buffer("order", order)
        self.register_buffer("inverse_order", torch.argsort(order))
        self.enc_a = LinearToRegular(rep, act_emb_dim)
        self.unet = ConditionalUnet1D(
            input_dim=act_emb_dim, global_cond_dim=global_cond_fields, **unet_kwargs
        )
        self.out_layer = LinearFromRegular(act_emb_dim, rep)

    def forward(
        self, sample: Tensor, timestep: Tensor | int, global_cond: Tensor | None = None
    ) -> Tensor:
        B, T, _ = sample.shape
        N = self.N
        emb = torch.relu(self.enc_a(sample[..., self.order]))  # (B, T, C * N)
        # (B, T, C, N) -> (B, N, T, C) -> (B * N, T, C): one U-Net input per group element.
        emb = emb.unflatten(-1, (-1, N)).permute(0, 3, 1, 2).reshape(B * N, T, -1)
        t = torch.as_tensor(timestep, device=sample.device)
        t = t.reshape(-1).expand(B) if t.numel() == 1 else t
        t = t.repeat_interleave(N)
        cond = None
        if global_cond is not None:
            cond = global_cond.unflatten(-1, (-1, N)).transpose(1, 2).reshape(B * N, -1)
        out = self.unet(emb, t, cond)  # (B * N, T, C)
        out = out.reshape(B, N, T, -1).permute(0, 2, 3, 1).flatten(-2)  # (B, T, C * N)
        return self.out_layer(out)[..., self.inverse_order]
