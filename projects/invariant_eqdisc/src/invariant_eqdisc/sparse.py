"""Sparse regression: STLSQ, monomial libraries and the symmetry-constrained fits.

The estimators follow pysindy's scikit-learn conventions: hyper-parameters in ``__init__``,
``fit(...)`` returns ``self``, fitted attributes end in ``_``, and models are composed
(``InvariantSINDy(library=..., optimizer=STLSQ(...))``).

* :class:`STLSQ` reproduces pysindy 1.7.5's sequentially thresholded ridge regression (same
  iteration and stopping rule) and adds per-coefficient ridge weights, which SI-relaxed needs.
* :func:`equivariant_subspace` builds the constraint matrix ``M`` of Prop. 3.4 from sampled group
  actions and returns a (sparsified) basis ``Q`` of its null space, ``vec(W) = Q beta``.
* :class:`ConstrainedSINDy` fits ``W = Q beta`` (SI-aligned, ``relax=None``) or
  ``W = Q beta + P gamma`` with a stronger ridge penalty on ``gamma`` (SI-relaxed).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "STLSQ",
    "MonomialLibrary",
    "equivariant_subspace",
    "sparse_basis",
    "orthogonal_complement",
    "ConstrainedSINDy",
    "term_set",
]


class STLSQ:
    """Sequentially thresholded least squares with ridge penalty (as pysindy 1.7.5 ``STLSQ``).

    Parameters
    ----------
    threshold : float
        Coefficients with ``|c| < threshold`` are set to zero after each ridge fit.
    alpha : float
        Ridge penalty ``alpha ||c||^2`` (sum of squares, not averaged, like sklearn).
    max_iter : int
        Maximal number of threshold / refit rounds.
    penalty_weights : array_like, optional
        Per-feature multipliers of ``alpha`` (default all ones).
    normalize_columns : bool
        Fit on columns scaled to unit norm, report coefficients in original units.

    Attributes
    ----------
    coef_ : ndarray, shape (n_targets, n_features)
    ind_ : ndarray of bool, the support.
    """

    def __init__(
        self,
        threshold: float = 0.1,
        alpha: float = 0.05,
        max_iter: int = 20,
        penalty_weights: Sequence[float] | None = None,
        normalize_columns: bool = False,
    ) -> None:
        self.threshold = threshold
        self.alpha = alpha
        self.max_iter = max_iter
        self.penalty_weights = penalty_weights
        self.normalize_columns = normalize_columns

    def _ridge(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        gram = x.T @ x + self.alpha * np.diag(w)
        try:
            return np.linalg.solve(gram, x.T @ y)
        except np.linalg.LinAlgError:
            return np.linalg.lstsq(gram, x.T @ y, rcond=None)[0]

    def fit(self, x: np.ndarray, y: np.ndarray) -> STLSQ:
        """Fit ``y ~ x @ coef_.T``; ``y`` of shape ``(n,)`` or ``(n, n_targets)``."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        if x.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ValueError(f"x {x.shape} and y {y.shape} do not have matching samples")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("STLSQ got non-finite values (NaN or inf) in the library or target")
        n_features = x.shape[1]
        w = (
            np.ones(n_features)
            if self.penalty_weights is None
            else np.asarray(self.penalty_weights)
        )
        if w.shape != (n_features,):
            raise ValueError(f"penalty_weights needs {n_features} entries, got {w.shape}")
        reg = 1 / np.linalg.norm(x, axis=0) if self.normalize_columns else np.ones(n_features)
        xn = x * reg
        coef = np.linalg.lstsq(xn, y, rcond=None)[0].T
        ind = np.ones_like(coef, dtype=bool)
        n_selected = ind.sum()
        history = [coef]
        for _ in range(self.max_iter):
            if not ind.any():
                coef = np.zeros_like(coef)
                break
            coef = np.zeros_like(coef)
            for i in range(y.shape[1]):
                if not ind[i].any():
                    continue
                c = self._ridge(xn[:, ind[i]], y[:, i], w[ind[i]])
                full = np.zeros(n_features)
                full[ind[i]] = c
                big = np.abs(full) >= self.threshold
                full[~big] = 0
                coef[i] = full
                ind[i] = big
            history.append(coef)
            same = np.array_equal(history[-1] != 0, history[-2] != 0)
            if ind.sum() == n_selected or same:
                break
        self.coef_ = coef * reg
        self.ind_ = np.abs(self.coef_) > 1e-14
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x) @ self.coef_.T


class MonomialLibrary:
    """All monomials of the input columns up to ``degree`` (pysindy ``PolynomialLibrary`` order).

    Parameters
    ----------
    degree : int
    include_bias : bool
    powers : list of tuple, optional
        Explicit exponent tuples to use instead of all monomials up to ``degree``.
    """

    def __init__(self, degree: int = 2, include_bias: bool = True, powers=None) -> None:
        self.degree = degree
        self.include_bias = include_bias
        self.powers = powers

    def fit(self, names: Sequence[str]) -> MonomialLibrary:
        """Fix the input variable ``names``; sets ``powers_`` and ``feature_names_``."""
        self.input_names_ = list(names)
        p = len(names)
        if self.powers is not None:
            powers = [tuple(e) for e in self.powers]
        else:
            powers = [(0,) * p] if self.include_bias else []
            for d in range(1, self.degree + 1):
                for combo in itertools.combinations_with_replacement(range(p), d):
                    e = [0] * p
                    for c in combo:
                        e[c] += 1
                    powers.append(tuple(e))
        self.powers_ = np.array(powers, dtype=int).reshape(-1, p)
        self.feature_names_ = [self._name(e) for e in self.powers_]
        return self

    def _name(self, e) -> str:
        parts = [n if k == 1 else f"{n}^{k}" for n, k in zip(self.input_names_, e) if k]
        return " ".join(parts) if parts else "1"

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``x`` of shape ``(..., p)`` -> features ``(..., n_features)``."""
        x = np.asarray(x, dtype=float)
        out = np.ones(x.shape[:-1] + (len(self.powers_),))
        for j, e in enumerate(self.powers_):
            for i in np.nonzero(e)[0]:
                out[..., j] *= x[..., i] ** e[i]
        return out


def term_set(coef: np.ndarray, tol: float = 1e-8) -> frozenset:
    """The set of ``(target, feature)`` indices with a non-zero coefficient."""
    return frozenset(zip(*np.nonzero(np.abs(np.asarray(coef)) > tol)))


# ----------------------------------------------------------------------------- Prop. 3.4


def _rref_basis(q: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Reduced row echelon basis of the column span of ``q`` (columns of the result)."""
    a = q.T.copy()
    r, n = a.shape
    row = 0
    for col in range(n):
        if row >= r:
            break
        piv = row + np.argmax(np.abs(a[row:, col]))
        if abs(a[piv, col]) < tol:
            continue
        a[[row, piv]] = a[[piv, row]]
        a[row] /= a[row, col]
        others = np.arange(r) != row
        a[others] -= np.outer(a[others, col], a[row])
        row += 1
    a[np.abs(a) < tol] = 0.0
    return a[:row].T


def sparse_basis(q: np.ndarray, method: str = "sparsepca", seed: int = 0) -> np.ndarray:
    """Sparse basis of ``span(q)``.

    ``"sparsepca"`` follows the paper (``sklearn.decomposition.SparsePCA(n_components=r)`` on the
    rows of ``Q^T``); the components are projected back onto ``span(q)`` and the result is used
    only when it still spans the subspace and is sparse, otherwise the exact reduced row echelon
    basis (``"rref"``) is returned. Both give exact zeros, so term sets are well defined.
    """
    r = q.shape[1]
    exact = _rref_basis(q)
    if method == "rref":
        return exact
    if method != "sparsepca":
        raise ValueError(f"unknown sparsification {method!r}; use 'sparsepca' or 'rref'")
    from sklearn.decomposition import SparsePCA

    comp = (
        SparsePCA(n_components=r, random_state=seed, alpha=0.1, max_iter=100).fit(q.T).components_.T
    )
    proj = q @ np.linalg.lstsq(q, comp, rcond=None)[0]
    proj[np.abs(proj) < 1e-9 * max(np.abs(proj).max(), 1e-300)] = 0.0
    spans = np.linalg.matrix_rank(proj, tol=1e-8) == r
    if spans and np.count_nonzero(proj) <= np.count_nonzero(exact):
        return proj / np.abs(proj).max(axis=0)
    return exact


def equivariant_subspace(
    features: Callable[[np.ndarray], np.ndarray],
    act: Callable[[np.ndarray, np.ndarray], np.ndarray],
    rep_out: Callable[[np.ndarray], np.ndarray],
    sample_points: np.ndarray,
    sample_group: np.ndarray,
    tol: float = 1e-6,
    sparsify: str | None = "sparsepca",
) -> tuple[np.ndarray, np.ndarray]:
    """Basis ``Q`` of ``{W : W theta(g z) = rho(g) W theta(z)}`` (Prop. 3.4).

    Parameters
    ----------
    features : callable
        ``theta(z)``: points ``(n, d)`` -> library ``(n, F)``.
    act : callable
        ``act(z, g)``: the group element ``g`` applied to the jet points ``z``.
    rep_out : callable
        ``rho(g)``: ``(m, m)`` action on the equation outputs.
    sample_points : ndarray (n, d)
        Jet points at which the constraint is imposed (random points suffice).
    sample_group : ndarray
        Group elements (any array whose first axis indexes elements).
    tol : float
        Right singular vectors with singular value below ``tol * s_max`` span the null space.
    sparsify : {"sparsepca", "rref", None}

    Returns
    -------
    Q : ndarray (m * F, r)
        Basis of admissible ``vec(W)`` (row-major ``W.ravel()``).
    M : ndarray
        The constraint matrix.
    """
    theta = features(sample_points)
    blocks = []
    for g in sample_group:
        theta_g = features(act(sample_points, g))
        rho = rep_out(g)
        m = rho.shape[0]
        # (W theta_g)_a - (rho W theta)_a, linear in vec(W) = W.ravel().
        lhs = np.einsum("ab,nf->nabf", np.eye(m), theta_g)
        rhs = np.einsum("ab,nf->nabf", rho, theta)
        blocks.append((lhs - rhs).reshape(len(theta) * m, m * theta.shape[1]))
    M = np.concatenate(blocks)
    _, s, vt = np.linalg.svd(M, full_matrices=True)
    s_full = np.zeros(vt.shape[0])
    s_full[: len(s)] = s
    q = vt[s_full < tol * s.max()].T
    if sparsify is not None:
        q = sparse_basis(q, sparsify)
    return q, M


def orthogonal_complement(q: np.ndarray, sparsify: str | None = "rref") -> np.ndarray:
    """Basis of the orthogonal complement of ``span(q)`` (sparse when ``sparsify='rref'``)."""
    u, s, _ = np.linalg.svd(q, full_matrices=True)
    p = u[:, int(np.sum(s > 1e-10 * s.max())) :]
    return _rref_basis(p) if sparsify == "rref" else p


class ConstrainedSINDy:
    """SINDy with coefficients restricted to (or softly pulled towards) a symmetry subspace.

    Parameters
    ----------
    basis : ndarray (m * F, r)
        ``Q`` from :func:`equivariant_subspace`.
    optimizer : STLSQ
        Its ``alpha`` is the penalty on ``beta``.
    relax : float or None
        ``None``: SI-aligned, ``W = Q beta``. A number ``rho``: SI-relaxed,
        ``W = Q beta + P gamma`` with ridge penalty ``rho * alpha`` on ``gamma`` (paper: not given;
        default 10 in the configs).
    complement : ndarray, optional
        ``P``; default :func:`orthogonal_complement` of ``Q``.

    Attributes
    ----------
    coef_ : ndarray (m, F)
        The fitted ``W`` in the original library.
    beta_, gamma_ : ndarray
    n_params_ : int
        Number of free coefficients (the paper's C).
    """

    def __init__(self, basis, optimizer: STLSQ | None = None, relax=None, complement=None):
        self.basis = basis
        self.optimizer = optimizer
        self.relax = relax
        self.complement = complement

    def fit(self, theta: np.ndarray, y: np.ndarray) -> ConstrainedSINDy:
        """``theta`` ``(n, F)`` library, ``y`` ``(n, m)`` targets."""
        y = np.asarray(y, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        n, m = y.shape
        F = theta.shape[1]
        q = np.asarray(self.basis)
        if q.shape[0] != m * F:
            raise ValueError(f"basis has {q.shape[0]} rows, expected m * F = {m * F}")
        bases = [q]
        if self.relax is not None:
            p = orthogonal_complement(q) if self.complement is None else self.complement
            bases.append(p)
        full = np.concatenate(bases, axis=1)
        # Column j of the design: (Theta W_j^T) stacked over equations, W_j = full[:, j] as (m, F).
        design = np.einsum("nf,afj->naj", theta, full.reshape(m, F, -1)).reshape(n * m, -1)
        opt = self.optimizer or STLSQ()
        weights = np.ones(full.shape[1])
        if self.relax is not None:
            weights[q.shape[1] :] = self.relax
        opt = STLSQ(opt.threshold, opt.alpha, opt.max_iter, weights, opt.normalize_columns)
        opt.fit(design, y.reshape(n * m))
        c = opt.coef_[0]
        self.beta_ = c[: q.shape[1]]
        self.gamma_ = c[q.shape[1] :]
        w = full @ c
        w[np.abs(w) < 1e-10] = 0.0
        self.coef_ = w.reshape(m, F)
        self.n_params_ = full.shape[1]
        return self

    def predict(self, theta: np.ndarray) -> np.ndarray:
        return theta @ self.coef_.T
