"""General linear groups GL(n), GL+(n) and the matrix functions they need.

The exponential map of GL(n) is not surjective, even onto the identity component GL+(n): a
matrix with a negative real eigenvalue of odd multiplicity (for instance ``diag(-1, -2)``, whose
determinant is positive) has no real logarithm, and one with a negative real eigenvalue has no
*principal* real logarithm. :meth:`GL.log` computes the principal logarithm where it exists and
raises otherwise; :func:`polar_path` gives a smooth path from ``I`` to any ``g`` in GL+(n)
through the polar decomposition ``g = R P`` instead, which always exists.

Eigen-decompositions are done in float64 (then cast back), because ``V diag(log lambda)
V^{-1}`` amplifies rounding by the condition number of ``V``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from ._base import MatrixGroup
from ._utils import BatchShape, as_batch_shape

# Eigenvector matrices with a larger condition number lose too much accuracy in V D V^{-1}
# (error ~ eps * cond(V) ~ 1e-12 in float64); the few such elements take a per-element path.
_COND_LIMIT = 1e4


def _square(g: Tensor, name: str) -> int:
    if g.dim() < 2 or g.shape[-1] != g.shape[-2]:
        raise ValueError(f"{name}: expected square matrices (..., n, n), got {tuple(g.shape)}")
    return g.shape[-1]


def _eig_float64(g: Tensor) -> tuple[Tensor, Tensor]:
    return torch.linalg.eig(g.to(torch.float64))


def _from_eig(V: Tensor, f_lam: Tensor) -> Tensor:
    # V diag(f(lambda)) V^{-1}, solving instead of inverting V explicitly.
    return torch.linalg.solve(V, V * f_lam[..., None, :], left=False).real


def _bad_cond(V: Tensor) -> Tensor:
    cond = torch.linalg.cond(V)
    return ~(cond < _COND_LIMIT)  # also catches NaN/inf


def _per_element(g64: Tensor, out: Tensor, mask: Tensor, fn) -> Tensor:
    """Overwrite ``out[mask]`` with ``fn`` applied to each matrix of ``g64[mask]`` on the CPU.

    Only used for the rare elements where the batched eigen-decomposition is unreliable.
    """
    if not bool(mask.any()):
        return out
    n = out.shape[-1]
    idx = mask.reshape(-1).nonzero()[:, 0]
    mats = g64.reshape(-1, n, n)[idx].detach().cpu().numpy()
    fixed = torch.from_numpy(np.stack([fn(m) for m in mats]))
    out = out.reshape(-1, n, n).clone()
    out[idx] = fixed.to(device=out.device, dtype=out.dtype)
    return out.reshape(*mask.shape, n, n)


def _logm_scipy(m: np.ndarray) -> np.ndarray:
    return np.real(scipy.linalg.logm(m))


def _so_log_schur(m: np.ndarray) -> np.ndarray:
    """Real logarithm of one rotation matrix via the real Schur form ``R = Z T Z^T``.

    For orthogonal ``R``, ``T`` is block diagonal with 2x2 rotation blocks and 1x1 blocks
    ``+1``/``-1``. Each 2x2 block gets its angle from ``atan2``; the ``-1`` entries (an even
    number of them, since ``det R = 1``) are paired up into rotations by ``pi``.
    """
    T, Z = scipy.linalg.schur(m, output="real")
    n = m.shape[0]
    L = np.zeros_like(T)
    minus_ones = []
    i = 0
    while i < n:  # walks the Schur blocks of one small matrix
        if i + 1 < n and T[i + 1, i] != 0.0:
            phi = math.atan2(0.5 * (T[i + 1, i] - T[i, i + 1]), 0.5 * (T[i, i] + T[i + 1, i + 1]))
            L[i, i + 1], L[i + 1, i] = -phi, phi
            i += 2
        else:
            if T[i, i] < 0:
                minus_ones.append(i)
            i += 1
    if len(minus_ones) % 2:
        raise ValueError("so_log: matrix has an odd number of -1 eigenvalues (det = -1)")
    for a, b in zip(minus_ones[::2], minus_ones[1::2], strict=True):
        L[a, b], L[b, a] = -math.pi, math.pi
    L = Z @ L @ Z.T
    return 0.5 * (L - L.T)


def polar_decomposition(g: Tensor) -> tuple[Tensor, Tensor]:
    """Polar decomposition ``g = R P`` of invertible matrices, batched via the SVD.

    With ``g = U S V^T``: ``R = U V^T`` is orthogonal and ``P = V S V^T`` is symmetric positive
    definite. ``det R = sign(det g)``, so ``R`` is in SO(n) exactly when ``g`` is in GL+(n).

    Parameters
    ----------
    g : Tensor
        Invertible matrices ``(..., n, n)``.

    Returns
    -------
    R, P : Tensor
        Both of shape ``(..., n, n)``.
    """
    _square(g, "polar_decomposition")
    U, S, Vh = torch.linalg.svd(g)
    R = U @ Vh
    P = Vh.mT @ (S[..., :, None] * Vh)
    return R, 0.5 * (P + P.mT)


def so_log(R: Tensor) -> Tensor:
    """Real logarithm of rotations ``R`` in SO(n): a skew-symmetric ``L`` with ``expm(L) = R``.

    Batched via the eigen-decomposition ``R = V diag(e^{i phi}) V^{-1}`` (``L = V diag(i phi)
    V^{-1}``, ``phi`` in ``(-pi, pi]``). That formula breaks down when ``R`` has eigenvalues at
    or near ``-1`` (the two eigenvalues of a rotation by ``pi`` need opposite logarithms ``+-i
    pi``) or an ill-conditioned eigenvector matrix; those rare elements fall back to the real
    Schur form (``scipy.linalg.schur``), where each rotation by ``pi`` in a 2-plane gets the
    log ``pi`` times that plane's generator.

    Parameters
    ----------
    R : Tensor
        Rotation matrices ``(..., n, n)`` (orthogonal, ``det = +1``; orthogonality is assumed).

    Returns
    -------
    Tensor
        Skew-symmetric matrices ``(..., n, n)``, in ``R``'s dtype.

    Raises
    ------
    ValueError
        If some ``det R <= 0`` (no real logarithm exists).
    """
    _square(R, "so_log")
    det = torch.linalg.det(R)
    if bool((det <= 0).any()):
        raise ValueError(
            f"so_log: {int((det <= 0).sum())} of {det.numel()} matrices have det <= 0; "
            "only rotations (det = +1) have a real skew-symmetric logarithm."
        )
    R64 = R.to(torch.float64)
    lam, V = _eig_float64(R64)
    L = _from_eig(V, 1j * torch.angle(lam))
    L = 0.5 * (L - L.mT)
    # Eigenvalues within ~1e-4 of -1: the eigenvector error (eps / gap) gets multiplied by the
    # 2 pi jump between the logs +-i pi, so switch to the Schur form well before that.
    near_minus_one = ((lam + 1).abs() < 1e-4).any(dim=-1)
    L = _per_element(R64, L, near_minus_one | _bad_cond(V), _so_log_schur)
    return L.to(R.dtype)


def spd_log(P: Tensor) -> Tensor:
    """Logarithm of symmetric positive definite matrices via ``eigh``: ``Q diag(log w) Q^T``."""
    _square(P, "spd_log")
    w, Q = torch.linalg.eigh(P)
    return (Q * torch.log(w)[..., None, :]) @ Q.mT


def polar_path(g: Tensor, t: Tensor | float) -> Tensor:
    """Smooth path in GL+(n) from ``I`` to ``g`` through the polar decomposition ``g = R P``.

    ``gamma(t) = expm(t so_log(R)) @ expm(t logm(P))``, with ``logm(P)`` from ``eigh`` (so the
    second factor is ``Q diag(w^t) Q^T``). ``gamma(0) = I`` and ``gamma(1) = g``; since the
    first factor is a rotation and the second is SPD, ``det gamma(t) = det(P)^t > 0`` for every
    ``t``. Unlike ``expm(t log(g))`` this exists for every ``g`` in GL+(n), including those with
    negative real eigenvalues.

    Parameters
    ----------
    g : Tensor
        Matrices ``(..., n, n)`` with ``det g > 0``.
    t : Tensor or float
        Times. A tensor of shape ``T`` gives an output of shape ``(*T, ..., n, n)`` (e.g. a 1D
        tensor of times adds one leading dimension).

    Returns
    -------
    Tensor
        ``gamma(t)`` in ``g``'s dtype and device.

    Raises
    ------
    ValueError
        If some ``det g <= 0``: such ``g`` is not connected to ``I`` within GL(n).
    """
    _square(g, "polar_path")
    det = torch.linalg.det(g)
    if bool((det <= 0).any()):
        raise ValueError(
            f"polar_path: {int((det <= 0).sum())} of {det.numel()} matrices have det <= 0; "
            "they lie outside GL+(n), the component of the identity, so no path from I exists."
        )
    R, P = polar_decomposition(g)
    A = so_log(R)
    w, Q = torch.linalg.eigh(P)
    t = torch.as_tensor(t, dtype=g.dtype, device=g.device)
    tt = t.reshape(*t.shape, *([1] * (g.dim() - 1)))  # broadcasts against (..., n)
    rot = torch.linalg.matrix_exp(tt[..., None] * A)
    stretch = (Q * w.pow(tt)[..., None, :]) @ Q.mT
    return rot @ stretch


def principal_logm(g: Tensor, name: str = "logm") -> Tensor:
    """Principal real matrix logarithm, batched via ``torch.linalg.eig``.

    ``log(g) = V diag(log lambda) V^{-1}`` (real part), computed in float64. Elements whose
    eigenvector matrix is ill conditioned (near-defective ``g``, e.g. shears) are recomputed
    one by one with ``scipy.linalg.logm``.

    Raises
    ------
    ValueError
        If some element has ``det <= 0`` or a (numerically) negative real eigenvalue, where the
        principal real logarithm does not exist.
    """
    _square(g, name)
    det = torch.linalg.det(g)
    hint = (
        "the principal real logarithm does not exist. To connect g to the identity use "
        "polar_decomposition(g) (g = R P, R orthogonal, P SPD) or polar_path(g, t), a path "
        "from I to g that stays in GL+(n)."
    )
    if bool((det <= 0).any()):
        raise ValueError(
            f"{name}: {int((det <= 0).sum())} of {det.numel()} matrices have det <= 0, so {hint}"
        )
    g64 = g.to(torch.float64)
    lam, V = _eig_float64(g64)
    tol = math.sqrt(torch.finfo(g.dtype).eps)
    negative_real = (lam.real < 0) & (lam.imag.abs() <= tol * lam.abs())
    bad = negative_real.any(dim=-1)
    if bool(bad.any()):
        raise ValueError(
            f"{name}: {int(bad.sum())} of {bad.numel()} matrices have a negative real "
            f"eigenvalue, so {hint}"
        )
    L = _from_eig(V, torch.log(lam))
    L = _per_element(g64, L, _bad_cond(V), _logm_scipy)
    return L.to(g.dtype)


class GL(MatrixGroup):
    """The general linear group GL(n) of invertible real ``n x n`` matrices.

    GL(n) is not compact and has no normalisable Haar measure: :meth:`sample` draws matrices
    with i.i.d. standard normal entries (invertible with probability one), which is *not* a
    Haar sample. ``exp`` is ``torch.linalg.matrix_exp``; ``log`` is the principal real logarithm
    and raises where it does not exist (see :func:`polar_path` for an alternative).

    Parameters
    ----------
    n : int
        Matrix size.
    """

    _positive: bool = False

    @property
    def lie_algebra(self) -> Tensor:
        """The matrix units ``E_ij`` (all of gl(n)), shape ``(n^2, n, n)``."""
        return torch.eye(self.n * self.n, dtype=torch.float64).reshape(
            self.n * self.n, self.n, self.n
        )

    @property
    def discrete_generators(self) -> Tensor:
        """``diag(-1, 1, ..., 1)``, which connects GL+(n) to the ``det < 0`` component."""
        gen = torch.eye(self.n, dtype=torch.float64)
        gen[0, 0] = -1.0
        return gen[None]

    def sample(
        self,
        batch_shape: BatchShape = (),
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Gaussian matrices (entries i.i.d. N(0, 1)), shape ``(*batch_shape, n, n)``."""
        shape = as_batch_shape(batch_shape)
        size = (*shape, self.n, self.n)
        return torch.randn(size, generator=generator, dtype=dtype, device=device)

    def log(self, g: Tensor) -> Tensor:
        """Principal real logarithm (see :func:`principal_logm`).

        Raises
        ------
        ValueError
            If some element has ``det <= 0`` or a negative real eigenvalue; the message points
            to :func:`polar_decomposition` and :func:`polar_path`.
        """
        self._check(g, "log")
        return principal_logm(g, name=f"{self!r}.log")

    def contains(self, g: Tensor, atol: float | None = None) -> Tensor:
        """True where ``|det g| > atol`` (``det g > atol`` for GL+) and all entries are finite.

        The determinant threshold is scale dependent; it only separates numerically singular
        matrices from invertible ones of moderate scale.
        """
        self._check(g, "contains")
        det = torch.linalg.det(g)
        det = det if self._positive else det.abs()
        return (det > self._atol(g, atol)) & torch.isfinite(g).all(dim=(-2, -1))

    @staticmethod
    def polar_decomposition(g: Tensor) -> tuple[Tensor, Tensor]:
        """See :func:`polar_decomposition`."""
        return polar_decomposition(g)

    @staticmethod
    def polar_path(g: Tensor, t: Tensor | float) -> Tensor:
        """See :func:`polar_path`."""
        return polar_path(g, t)

    @staticmethod
    def so_log(R: Tensor) -> Tensor:
        """See :func:`so_log`."""
        return so_log(R)


class GLPlus(GL):
    """GL+(n): invertible ``n x n`` matrices with positive determinant (identity component).

    :meth:`sample` draws Gaussian matrices and negates the first row of those with ``det < 0``
    (a measure-preserving bijection of the Gaussian onto each half), which is not a Haar sample
    since GL+(n) is not compact.
    """

    _positive = True

    @property
    def discrete_generators(self) -> Tensor:
        """Empty ``(0, n, n)``: GL+(n) is connected."""
        return torch.zeros(0, self.n, self.n, dtype=torch.float64)

    def sample(
        self,
        batch_shape: BatchShape = (),
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Gaussian matrices conditioned on ``det > 0``, shape ``(*batch_shape, n, n)``."""
        g = super().sample(batch_shape, generator=generator, dtype=dtype, device=device)
        sign = torch.where(torch.linalg.det(g) < 0, -1.0, 1.0).to(g.dtype)
        return torch.cat([g[..., :1, :] * sign[..., None, None], g[..., 1:, :]], dim=-2)
