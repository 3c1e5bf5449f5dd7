"""Actions of C_N and D_N on images.

Convention
----------
Images have shape ``(..., H, W)``: row index ``i`` grows downwards, column index ``j`` to the
right. Pixel ``(i, j)`` has the centred coordinate

    x = j - (W - 1) / 2,    y = (H - 1) / 2 - i        (x right, y up),

and acting with a 2x2 matrix ``g`` moves the content at ``p = (x, y)`` to ``g p``, i.e. the new
image is ``img'(p) = img(g^{-1} p)``. With the :mod:`symlab.groups` planar convention
(``R(theta)`` counter-clockwise, ``F = diag(1, -1)``) this means

* ``rotate_image_90(img, k)`` is the action of ``R(k pi / 2)``, a counter-clockwise rotation as
  the image is displayed (``torch.rot90`` over the last two dims);
* ``flip_image(img)`` is the action of ``F`` (``y -> -y``), an up-down flip;
* D_N element ``N + k``, i.e. ``R(2 pi k / N) @ F``, acts by flipping first and rotating second.

Per-sample parameters (``k``, ``angle``, ``g_index``) index the *leading* image dimensions: a
parameter of shape ``(B,)`` applies to images ``(B, C, H, W)`` sample by sample, shared over
channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _align_leading(param: Tensor, img: Tensor) -> Tensor:
    """Reshape ``param`` so that its dims line up with the leading dims of ``img[..., H, W]``."""
    extra = img.dim() - 2 - param.dim()
    if extra < 0:
        raise ValueError(
            f"per-sample parameter of shape {tuple(param.shape)} has more dims than the batch "
            f"dims of the image {tuple(img.shape)}"
        )
    return param.reshape((*param.shape, *([1] * extra)))


def _check_image(img: Tensor, name: str) -> None:
    if img.dim() < 2:
        raise ValueError(f"{name}: expected an image of shape (..., H, W), got {tuple(img.shape)}")


def _rot90_source_index(size: int, device: torch.device) -> Tensor:
    """Flat source index, shape ``(4, size * size)``, of each output pixel for ``R(k pi / 2)``.

    Works in doubled centred coordinates (``2x``, ``2y``), which are integers for both odd and
    even sizes, so the rotation is an exact permutation of pixels.
    """
    r = torch.arange(size, device=device)
    X = (2 * r - (size - 1))[None, :].expand(size, size)  # doubled x, indexed [i, j]
    Y = ((size - 1) - 2 * r)[:, None].expand(size, size)  # doubled y
    # Output pixel q takes the source R(k pi/2)^{-1} q = R(-k pi/2) q; rows: [cos, sin; -sin, cos].
    cos = torch.tensor([1, 0, -1, 0], device=device)[:, None, None]
    sin = torch.tensor([0, 1, 0, -1], device=device)[:, None, None]
    sx = cos * X + sin * Y
    sy = -sin * X + cos * Y
    i = ((size - 1) - sy) // 2
    j = (sx + (size - 1)) // 2
    return (i * size + j).reshape(4, size * size)


def rotate_image_90(img: Tensor, k: int | Tensor) -> Tensor:
    """Rotate images counter-clockwise by ``k * 90`` degrees (the action of ``R(k pi / 2)``).

    Exact (a permutation of pixels). See the module docstring for the coordinate convention.

    Parameters
    ----------
    img : Tensor
        Images ``(..., H, W)``.
    k : int or Tensor
        Number of quarter turns (any integer, taken mod 4). An integer tensor of shape ``B``
        gives one ``k`` per leading index of ``img`` (``img.shape[:len(B)]`` broadcasts with
        ``B``); per-sample ``k`` requires square images.

    Returns
    -------
    Tensor
        Rotated images; for integer ``k`` and non-square images ``H`` and ``W`` swap when ``k``
        is odd.
    """
    _check_image(img, "rotate_image_90")
    if isinstance(k, int) or (isinstance(k, Tensor) and k.dim() == 0):
        return torch.rot90(img, int(k) % 4, dims=(-2, -1))
    k = torch.as_tensor(k, device=img.device)
    H, W = img.shape[-2:]
    if H != W:
        raise ValueError(f"rotate_image_90: per-sample k needs square images, got {H}x{W}")
    k = _align_leading(k, img)
    batch = torch.broadcast_shapes(k.shape, img.shape[:-2])
    src = _rot90_source_index(H, img.device)[k.long() % 4]  # (*k.shape, H*W)
    flat = img.flatten(-2).expand(*batch, H * W)
    out = torch.gather(flat, -1, src.expand(*batch, H * W))
    return out.unflatten(-1, (H, W))


def flip_image(img: Tensor) -> Tensor:
    """Action of the reflection ``F = diag(1, -1)`` (``y -> -y``): an up-down flip of ``img``.

    Parameters
    ----------
    img : Tensor
        Images ``(..., H, W)``.
    """
    _check_image(img, "flip_image")
    return torch.flip(img, dims=(-2,))


def rotate_image_grid_sample(
    img: Tensor, angle: float | Tensor, *, mode: str = "bilinear"
) -> Tensor:
    """Rotate images counter-clockwise by ``angle`` (radians) about their centre.

    Resamples with ``torch.nn.functional.grid_sample`` (``align_corners=True``, zeros outside
    the image): output pixel ``p`` reads the input at ``R(-angle) p`` in centred pixel
    coordinates, so rotations by multiples of ``pi / 2`` reproduce :func:`rotate_image_90`
    up to rounding of ``cos``/``sin``.

    Parameters
    ----------
    img : Tensor
        Floating point images ``(..., H, W)``.
    angle : float or Tensor
        Rotation angle(s). A tensor of shape ``B`` gives one angle per leading index of ``img``.
    mode : str
        Interpolation mode passed to ``grid_sample`` (``"bilinear"`` or ``"nearest"``).

    Returns
    -------
    Tensor
        Rotated images with the (broadcast) shape of ``img``.
    """
    _check_image(img, "rotate_image_grid_sample")
    if not img.is_floating_point():
        raise TypeError(f"rotate_image_grid_sample: expected a floating image, got {img.dtype}")
    angle = torch.as_tensor(angle, dtype=img.dtype, device=img.device)
    n_ang = angle.dim()
    shape = torch.broadcast_shapes(_align_leading(angle, img).shape, img.shape[:-2])
    H, W = img.shape[-2:]
    # One grid per angle: the angle dims become grid_sample's batch axis and all remaining dims
    # its channel axis, so channels sharing an angle share one grid.
    b_shape, c_shape = shape[:n_ang], shape[n_ang:]
    x = img.expand(*shape, H, W).reshape(math.prod(b_shape), math.prod(c_shape), H, W)
    theta = angle.expand(b_shape).reshape(-1)

    ys = (H - 1) / 2 - torch.arange(H, dtype=img.dtype, device=img.device)
    xs = torch.arange(W, dtype=img.dtype, device=img.device) - (W - 1) / 2
    c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    src_x = c * xs[None, None, :] + s * ys[None, :, None]
    src_y = -s * xs[None, None, :] + c * ys[None, :, None]
    # Pixel units -> grid_sample's [-1, 1] (align_corners=True: -1/+1 are corner pixel centres;
    # grid y points down).
    grid = torch.stack([src_x / max((W - 1) / 2, 1.0), -src_y / max((H - 1) / 2, 1.0)], dim=-1)
    out = F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=True)
    return out.reshape(*shape, H, W)


def act_on_image_cn(g_index: int | Tensor, img: Tensor, N: int) -> Tensor:
    """Action of C_N element ``g_index`` (the rotation ``R(2 pi g_index / N)``) on images.

    Exact via :func:`rotate_image_90` when ``N`` divides 4 (N = 1, 2, 4); otherwise bilinear
    :func:`rotate_image_grid_sample`, which only approximates a group action (interpolation,
    corners cut off).

    Parameters
    ----------
    g_index : int or Tensor
        Element index in ``range(N)`` (as in ``CN(N).elements()``), or a tensor of per-sample
        indices for the leading dims of ``img``.
    img : Tensor
        Images ``(..., H, W)``.
    N : int
        Group order.
    """
    if 4 % N == 0:
        return rotate_image_90(img, g_index * (4 // N))
    angle = torch.as_tensor(g_index, device=img.device).to(img.dtype) * (2.0 * math.pi / N)
    return rotate_image_grid_sample(img, angle)


def act_on_image_dn(g_index: int | Tensor, img: Tensor, N: int) -> Tensor:
    """Action of D_N element ``g_index`` on images (index order as ``DN(N).elements()``).

    Indices ``k < N`` rotate as :func:`act_on_image_cn`; ``N + k`` (``R(2 pi k / N) @ F``)
    flips with :func:`flip_image` and then rotates by ``k``.
    """
    if isinstance(g_index, int):
        flipped = flip_image(img) if g_index % (2 * N) >= N else img
        return act_on_image_cn(g_index % N, flipped, N)
    g_index = torch.as_tensor(g_index, device=img.device).long() % (2 * N)
    reflect = _align_leading(g_index >= N, img)[..., None, None]
    # Both branches are computed, which keeps the batch vectorised (one extra flip, no gather).
    flipped = torch.where(reflect, flip_image(img), img)
    return act_on_image_cn(g_index % N, flipped, N)
