"""Observation encoders of the paper's design space.

* :class:`ResNet18Encoder` ("CNN Enc", DP-C): robomimic's ResNet-18 trunk with GroupNorm, a
  spatial-softmax keypoint head and a linear projection. Own implementation whose parameter
  names follow torchvision, so :func:`load_torchvision_resnet18` can initialise the trunk from a
  torchvision-format ResNet-18 state dict when a user has one (nothing is downloaded).
* :class:`EquivariantResEncoder` ("Equi Enc", ``EquivariantResEncoder76Cyclic``): escnn
  ``rot2dOnR2(N)`` residual encoder from a 76x76 image to ``n_out`` regular fields.
* :class:`FrameAveragedEncoder` ("FA"): Frame Averaging of any encoder over the N image
  rotations; the output is ``C_N``-equivariant (regular representation, cyclic block shifts).
* :class:`ImageObsEncoder`: crops (random in training, centred in evaluation), encodes every
  camera of every observation step and appends the proprioception.
* :class:`EquiDiffObsEncoder`: EquiDiff's observation encoder (agentview through the C_N
  encoder, eye-in-hand through the CNN as invariant features, the gripper pose as
  ``irrep1``/trivial fields, then an equivariant linear map to regular fields).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from symlab.groups import rotate_image_grid_sample
from symlab.policy import LinearToRegular, field_representation


# ---------------------------------------------------------------------------------------- CNN
def _gn(channels: int) -> nn.GroupNorm:
    # Diffusion policy replaces BatchNorm by GroupNorm with 16 channels per group.
    return nn.GroupNorm(max(1, channels // 16), channels)


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block with GroupNorm (names ``conv1, bn1, conv2, bn2``)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = _gn(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = _gn(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), _gn(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet18Trunk(nn.Module):
    """ResNet-18 without its pooling and classifier (stride 32), GroupNorm instead of BatchNorm.

    Parameters
    ----------
    in_channels : int
        Image channels.
    width : int
        Channels of the first stage (64 in ResNet-18; 16 is the cpu scale's 1/4 width).
    """

    def __init__(self, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        self.width = width
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = _gn(width)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = [width, 2 * width, 4 * width, 8 * width]
        cin = width
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            setattr(
                self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w))
            )
            cin = w
        self.out_channels = widths[-1]

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class SpatialSoftmax(nn.Module):
    """robomimic's spatial softmax: expected image coordinates of ``num_kp`` keypoint maps."""

    def __init__(self, in_channels: int, num_kp: int = 32) -> None:
        super().__init__()
        self.keypoints = nn.Conv2d(in_channels, num_kp, 1)
        self.num_kp = num_kp

    def forward(self, x: Tensor) -> Tensor:
        h = self.keypoints(x)
        B, K, H, W = h.shape
        attn = torch.softmax(h.flatten(2), dim=-1)  # (B, K, H*W)
        ys = torch.linspace(-1.0, 1.0, H, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, W, device=x.device, dtype=x.dtype)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(H * W, 2)
        return (attn @ grid).flatten(1)  # (B, 2K)


class ResNet18Encoder(nn.Module):
    """ResNet-18 + spatial softmax + linear: robomimic's ``VisualCore`` as used by DP-C.

    Parameters
    ----------
    width : int
        First-stage channels (64 = ResNet-18).
    num_kp : int
        Spatial-softmax keypoints (32).
    feature_dim : int
        Output features (64).
    """

    def __init__(self, width: int = 64, num_kp: int = 32, feature_dim: int = 64) -> None:
        super().__init__()
        self.backbone = ResNet18Trunk(3, width)
        self.pool = SpatialSoftmax(self.backbone.out_channels, num_kp)
        self.proj = nn.Linear(2 * num_kp, feature_dim)
        self.feature_dim = feature_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.pool(self.backbone(x)))


def load_torchvision_resnet18(trunk: ResNet18Trunk, state_dict: Mapping[str, Tensor]) -> list[str]:
    """Copy the convolution weights of a torchvision-format ResNet-18 state dict into ``trunk``.

    BatchNorm statistics and affine parameters and the classifier (``fc``) are not used: as in
    diffusion policy, BatchNorm is replaced by freshly initialised GroupNorm.

    Parameters
    ----------
    trunk : ResNet18Trunk
        Must have ``width == 64`` (the torchvision architecture).
    state_dict : mapping
        ``torchvision.models.resnet18().state_dict()`` layout (``conv1.weight``,
        ``layer1.0.conv1.weight``, ..., ``layer2.0.downsample.0.weight``, ``fc.weight``).

    Returns
    -------
    list of str
        The state-dict keys that were not loaded (norm layers and ``fc``).

    Raises
    ------
    ValueError
        When a convolution is missing or has the wrong shape (naming it).
    """
    if trunk.width != 64:
        raise ValueError(
            f"torchvision ResNet-18 weights need width 64, the trunk has width {trunk.width}"
        )
    conv_names = {n for n, m in trunk.named_modules() if isinstance(m, nn.Conv2d)}
    own = {k: v for k, v in trunk.state_dict().items() if k.rsplit(".", 1)[0] in conv_names}
    for key, param in own.items():
        if key not in state_dict:
            raise ValueError(f"ResNet-18 state dict has no {key!r} (not torchvision format?)")
        if tuple(state_dict[key].shape) != tuple(param.shape):
            raise ValueError(
                f"ResNet-18 state dict entry {key!r} has shape {tuple(state_dict[key].shape)}, "
                f"expected {tuple(param.shape)}"
            )
    trunk.load_state_dict({k: state_dict[k] for k in own}, strict=False)
    return sorted(k for k in state_dict if k not in own)


# --------------------------------------------------------------------------------- escnn C_N
def _escnn():
    try:
        from escnn import gspaces
        from escnn import nn as enn
    except ImportError as exc:  # pragma: no cover - escnn is a dependency of the project
        raise ImportError(
            "the equivariant encoders need escnn (pip install escnn==1.0.11)"
        ) from exc
    return gspaces, enn


class EquiResBlock(nn.Module):
    """Two 3x3 R2Convs on regular fields with a residual connection (EquiDiff)."""

    def __init__(self, gspace, cin: int, cout: int) -> None:
        super().__init__()
        _, enn = _escnn()
        t_in = enn.FieldType(gspace, cin * [gspace.regular_repr])
        t_out = enn.FieldType(gspace, cout * [gspace.regular_repr])
        self.layer1 = enn.SequentialModule(
            enn.R2Conv(t_in, t_out, 3, padding=1), enn.ReLU(t_out, inplace=True)
        )
        self.layer2 = enn.R2Conv(t_out, t_out, 3, padding=1)
        self.relu = enn.ReLU(t_out, inplace=True)
        self.upscale = enn.R2Conv(t_in, t_out, 1, bias=False) if cin != cout else None

    def forward(self, x):
        out = self.layer2(self.layer1(x))
        out = out + (self.upscale(x) if self.upscale is not None else x)
        return self.relu(out)


class EquivariantResEncoder(nn.Module):
    """``EquivariantResEncoder76Cyclic``: 76x76 image -> ``n_out`` regular C_N fields.

    76 -> R2Conv 5x5 -> 72 -> [2 blocks, max-pool 2] -> 36 -> 18 -> 9 -> [2 blocks, pool 3] -> 3
    -> R2Conv 3x3 -> 1x1. Exactly equivariant to 90-degree rotations (the pixel grid's
    symmetry); other C_N elements only approximately.

    Parameters
    ----------
    in_channels : int
        Image channels (trivial fields).
    widths : sequence of 4 ints
        Regular fields of the four stages (paper: 8, 16, 32, 64).
    n_out : int
        Output regular fields (paper: 128, i.e. 1024 features for N = 8).
    N : int
        Rotation group order.

    Notes
    -----
    ``forward(x (B, C, 76, 76)) -> (B, n_out * N)`` in ``(c f)`` layout: element ``k`` of C_N
    (rotation by ``2 pi k / N``) rolls each field by ``k``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        widths: Sequence[int] = (8, 16, 32, 64),
        n_out: int = 128,
        N: int = 8,
    ) -> None:
        super().__init__()
        gspaces, enn = _escnn()
        if len(widths) != 4:
            raise ValueError(f"widths needs 4 stages, found {list(widths)}")
        self.N, self.n_out = N, n_out
        self.gspace = gspaces.rot2dOnR2(N)
        reg = self.gspace.regular_repr
        self.in_type = enn.FieldType(self.gspace, in_channels * [self.gspace.trivial_repr])
        layers: list[nn.Module] = []
        t0 = enn.FieldType(self.gspace, widths[0] * [reg])
        layers += [enn.R2Conv(self.in_type, t0, 5, padding=0), enn.ReLU(t0, inplace=True)]
        cin = widths[0]
        for i, w in enumerate(widths):
            layers += [EquiResBlock(self.gspace, cin, w), EquiResBlock(self.gspace, w, w)]
            layers.append(
                enn.PointwiseMaxPool2D(enn.FieldType(self.gspace, w * [reg]), 3 if i == 3 else 2)
            )
            cin = w
        t_out = enn.FieldType(self.gspace, n_out * [reg])
        layers += [
            enn.R2Conv(enn.FieldType(self.gspace, cin * [reg]), t_out, 3, padding=0),
            enn.ReLU(t_out, inplace=True),
        ]
        # torch Sequential passes GeometricTensors through (as EquiDiff does).
        self.net = nn.Sequential(*layers)
        self.feature_dim = n_out * N
        # escnn's R2Conv keeps its expanded filter as buffers ("filter", "expanded_bias") that
        # exist only in eval mode, and also right after construction. They are a cache of the
        # parameters: keep them out of state dicts, so that a checkpoint loads into the encoder
        # in either mode (a freshly built model resuming a training checkpoint included).
        self._cached = [
            f"net.{name}.{buf}"
            for name, m in self.net.named_modules()
            if isinstance(m, enn.R2Conv)
            for buf in ("filter", "expanded_bias")
        ]
        self.train()  # drops the construction-time caches
        self.register_state_dict_post_hook(_drop_escnn_caches)
        self.register_load_state_dict_pre_hook(_fill_escnn_caches)
        self.register_load_state_dict_post_hook(_refresh_escnn_caches)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (76, 76):
            raise ValueError(f"EquivariantResEncoder expects 76x76 images, found {tuple(x.shape)}")
        _, enn = _escnn()
        out = self.net(enn.GeometricTensor(x, self.in_type)).tensor
        return out.flatten(1)


def _drop_escnn_caches(module, state_dict, prefix, local_metadata) -> None:
    for key in module._cached:
        state_dict.pop(prefix + key, None)


def _fill_escnn_caches(module, state_dict, prefix, *args) -> None:
    """Load-time stand-ins for the caches an eval-mode encoder holds (recomputed afterwards);
    caches saved by older checkpoints are dropped."""
    own = dict(module.named_buffers())
    for key in module._cached:
        state_dict.pop(prefix + key, None)
        if key in own:
            state_dict[prefix + key] = own[key]


def _refresh_escnn_caches(module, incompatible_keys) -> None:
    if not module.training:
        module.train()
        module.eval()  # re-expands the filters from the loaded parameters


# ----------------------------------------------------------------------------- Frame Averaging
class FrameAveragedEncoder(nn.Module):
    """Frame Averaging of an image encoder over the rotation group C_N.

    ``FA(x) = 1/N sum_k P^k E(R_{-k} x)``, with ``R_{-k}`` the image rotation by ``-2 pi k / N``
    (bilinear ``grid_sample``, zero padding) and ``P^k`` the cyclic shift by ``k`` of each block
    of ``N`` features (the regular representation). Then ``FA(R_m x) = P^m FA(x)``: exact for
    the rotations that map the pixel grid to itself (90 degrees on square images), approximate
    (interpolation) for the others. The N rotated copies run as one batch.

    Parameters
    ----------
    encoder : nn.Module
        ``(B, C, H, W) -> (B, D)`` with ``D`` divisible by ``N``.
    N : int
        Group order (8).
    """

    def __init__(self, encoder: nn.Module, N: int = 8) -> None:
        super().__init__()
        self.encoder = encoder
        self.N = N
        self.feature_dim = encoder.feature_dim
        if self.feature_dim % N:
            raise ValueError(f"feature_dim {self.feature_dim} must be divisible by N={N}")
        k = torch.arange(N)
        self.register_buffer("angles", -2 * math.pi * k.double() / N)
        # out_k[:, h] = f_k[:, (h - k) mod N]: the shift P^k.
        self.register_buffer("shift_index", (k[None, :] - k[:, None]) % N)

    def forward(self, x: Tensor) -> Tensor:
        B = x.shape[0]
        N = self.N
        rotated = rotate_image_grid_sample(x.expand(N, *x.shape), self.angles.to(x.dtype))
        feats = self.encoder(rotated.reshape(N * B, *x.shape[1:]))  # (N * B, D)
        feats = feats.reshape(N, B, -1, N)
        idx = self.shift_index[:, None, None, :].expand(N, B, feats.shape[2], N)
        return torch.gather(feats, -1, idx).mean(0).flatten(1)


# ----------------------------------------------------------------------- observation encoders
def crop_images(x: Tensor, size: int, random: bool, generator=None) -> Tensor:
    """Square crops of ``(B, C, H, W)`` images: per-image random offsets or the centre."""
    B, C, H, W = x.shape
    if size > min(H, W):
        raise ValueError(f"crop {size} is larger than the image {H}x{W}")
    if not random:
        top, left = (H - size) // 2, (W - size) // 2
        return x[:, :, top : top + size, left : left + size]
    top = torch.randint(0, H - size + 1, (B,), generator=generator).to(x.device)
    left = torch.randint(0, W - size + 1, (B,), generator=generator).to(x.device)
    ar = torch.arange(size, device=x.device)
    rows = (top[:, None] + ar)[:, None, :, None]  # (B, 1, s, 1)
    cols = (left[:, None] + ar)[:, None, None, :]  # (B, 1, 1, s)
    b = torch.arange(B, device=x.device)[:, None, None, None]
    c = torch.arange(C, device=x.device)[None, :, None, None]
    return x[b, c, rows, cols]


class ImageObsEncoder(nn.Module):
    """Per-step image features of every camera, flattened over the history, plus proprio.

    Parameters
    ----------
    encoders : mapping of camera key -> encoder ``(N, 3, s, s) -> (N, F)``
    crop : int
        Crop size ``s`` (random crop in training, centre crop in evaluation).
    use_proprio : bool
        Append the normalized ``"proprio"`` vector.
    """

    def __init__(self, encoders: Mapping[str, nn.Module], crop: int, use_proprio: bool = True):
        super().__init__()
        self.encoders = nn.ModuleDict(dict(encoders))
        self.crop = crop
        self.use_proprio = use_proprio

    def forward(self, nobs: Mapping[str, Tensor]) -> Tensor:
        feats = []
        for key, enc in self.encoders.items():
            img = nobs[key]
            B, To = img.shape[:2]
            flat = crop_images(img.flatten(0, 1), self.crop, random=self.training)
            feats.append(enc(flat).reshape(B, -1))
        if self.use_proprio:
            feats.append(nobs["proprio"].flatten(1))
        return torch.cat(feats, dim=-1)


# Gripper pose per step [x, y, z, rot6d rows, q1, q2] (the "pose_steps" proprioception) as C_N
# fields: (x, y) and the three column pairs (r0j, r1j) are irrep1; z and the fingers trivial.
POSE_STEPS_ORDER = (0, 1, 3, 6, 4, 7, 5, 8, 2, 9, 10)
POSE_STEPS_FIELDS = ("irrep1",) * 4 + ("trivial",) * 3


class EquiDiffObsEncoder(nn.Module):
    """EquiDiff's observation encoder (``EquivariantObsEnc``), one token per observation step.

    Parameters
    ----------
    agentview_encoder : EquivariantResEncoder
        C_N encoder of the external camera (regular fields).
    in_hand_encoder : nn.Module
        CNN features of the eye-in-hand camera (invariant: the camera turns with the gripper).
    n_hidden : int
        Output regular fields per step.
    crop : int
        Crop size (76).
    agentview_key, in_hand_key : str
        Camera names.

    Notes
    -----
    ``forward(nobs) -> (B, To * n_hidden * N)``, per-step blocks in ``(c f)`` layout, which
    :class:`symlab.policy.CyclicUnet1D` reads with ``global_cond_fields = To * n_hidden``.
    """

    def __init__(
        self,
        agentview_encoder: EquivariantResEncoder,
        in_hand_encoder: nn.Module,
        n_hidden: int,
        crop: int = 76,
        agentview_key: str = "agentview_image",
        in_hand_key: str = "robot0_eye_in_hand_image",
    ) -> None:
        super().__init__()
        self.N = agentview_encoder.N
        self.enc_obs = agentview_encoder
        self.enc_ih = in_hand_encoder
        self.crop = crop
        self.agentview_key, self.in_hand_key = agentview_key, in_hand_key
        fields = (
            ["regular"] * agentview_encoder.n_out
            + ["trivial"] * in_hand_encoder.feature_dim
            + list(POSE_STEPS_FIELDS)
        )
        self.enc_out = LinearToRegular(field_representation(fields, self.N), n_hidden)
        self.register_buffer("pose_order", torch.tensor(POSE_STEPS_ORDER))
        self.n_hidden = n_hidden

    def forward(self, nobs: Mapping[str, Tensor]) -> Tensor:
        av, ih = nobs[self.agentview_key], nobs[self.in_hand_key]
        B, To = av.shape[:2]
        av = crop_images(av.flatten(0, 1), self.crop, random=self.training)
        ih = crop_images(ih.flatten(0, 1), self.crop, random=self.training)
        pose = nobs["proprio"].flatten(0, 1)[:, self.pose_order]
        feats = torch.cat([self.enc_obs(av), self.enc_ih(ih), pose], dim=-1)
        return self.enc_out(feats).reshape(B, -1)
