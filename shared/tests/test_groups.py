"""Tests for the matrix groups and image actions in ``symlab.groups``."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch

from symlab.groups import (
    CN,
    DN,
    GL,
    O2,
    SE3,
    SO2,
    SO3,
    GLPlus,
    MatrixGroup,
    act_on_image_cn,
    act_on_image_dn,
    axis_angle_to_matrix,
    flip_image,
    polar_decomposition,
    polar_path,
    rotate_image_90,
    rotate_image_grid_sample,
    skew,
    so_log,
)

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def _tol(dtype, f32: float = 1.0, f64: float = 1.0) -> float:
    """Absolute tolerance: 1e-5 (float32) or 1e-10 (float64), times a per-test factor."""
    return TOL[dtype] * (f32 if dtype == torch.float32 else f64)


GROUPS = [SO2(), O2(), CN(5), DN(4), SO3(), SE3(), GL(3), GLPlus(3)]


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _close(actual, expected, tol, rtol=0.0):
    torch.testing.assert_close(actual, expected, atol=tol, rtol=rtol)


def _eye(n, dtype, batch=()):
    return torch.eye(n, dtype=dtype).expand(*batch, n, n)


# =========================================================================== group axioms
@pytest.mark.parametrize("G", GROUPS, ids=repr)
def test_sample_shape_dtype_and_reproducibility(G: MatrixGroup, dtype):
    g = G.sample((2, 3), generator=_gen(1), dtype=dtype)
    assert g.shape == (2, 3, G.n, G.n) and g.dtype == dtype
    torch.testing.assert_close(g, G.sample((2, 3), generator=_gen(1), dtype=dtype), atol=0, rtol=0)
    assert G.sample(generator=_gen(1), dtype=dtype).shape == (G.n, G.n)
    assert G.sample(4, generator=_gen(1), dtype=dtype).shape == (4, G.n, G.n)
    e = G.identity((5,), dtype=dtype)
    assert e.shape == (5, G.n, G.n) and e.dtype == dtype
    assert bool(G.contains(e).all())


@pytest.mark.parametrize("G", GROUPS, ids=repr)
def test_compose_associative_and_inverse(G: MatrixGroup, dtype):
    a, b, c = G.sample((3, 64), generator=_gen(2), dtype=dtype)
    # Gaussian GL samples have entries of order 1 and products of order n, hence the rtol.
    tol, rtol = _tol(dtype), (_tol(dtype) if isinstance(G, GL) else 0.0)
    _close(G.compose(G.compose(a, b), c), G.compose(a, G.compose(b, c)), tol, rtol)
    e = _eye(G.n, dtype, (64,))
    _close(G.compose(a, e), a, tol)
    for prod in (G.compose(a, G.inverse(a)), G.compose(G.inverse(a), a)):
        err = (prod - e).abs().amax(dim=(-2, -1))
        # Inverting a generic matrix loses accuracy in proportion to its condition number.
        bound = tol * torch.linalg.cond(a) if isinstance(G, GL) else torch.full_like(err, tol)
        assert bool((err <= bound).all()), float((err / bound).max())
    assert bool(G.contains(G.compose(a, G.inverse(b))).all())


@pytest.mark.parametrize("G", GROUPS, ids=repr)
def test_contains(G: MatrixGroup, dtype):
    g = G.sample((100,), generator=_gen(3), dtype=dtype)
    member = G.contains(g)
    assert member.shape == (100,) and member.dtype == torch.bool and bool(member.all())
    if isinstance(G, GLPlus):
        outsider = torch.diag(torch.tensor([-1.0, 2.0, 0.5], dtype=dtype))  # det < 0
    elif isinstance(G, GL):
        outsider = torch.tensor([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=dtype)  # singular
    else:
        outsider = torch.randn(G.n, G.n, generator=_gen(4), dtype=dtype)
    assert not bool(G.contains(outsider))
    assert not bool(G.contains(torch.full((G.n, G.n), float("nan"), dtype=dtype)))


def test_contains_finite_groups_reject_other_rotations(dtype):
    g = SO2.from_angle(torch.tensor([0.3, 1.0], dtype=dtype))
    assert not bool(CN(4).contains(g).any())
    assert not bool(DN(4).contains(g).any())
    assert bool(CN(4).contains(DN(4).elements(dtype)[:4]).all())
    assert not bool(CN(4).contains(DN(4).elements(dtype)[4:]).any())


@pytest.mark.parametrize("G", GROUPS, ids=repr)
def test_act_on_points_is_an_action(G: MatrixGroup, dtype):
    g, h = G.sample((2, 8), generator=_gen(5), dtype=dtype)
    dim = 3 if isinstance(G, SE3) else G.n
    x = torch.randn(8, 10, dim, generator=_gen(6), dtype=dtype)
    lhs = G.act_on_points(g, G.act_on_points(h, x))
    rhs = G.act_on_points(G.compose(g, h), x)
    _close(lhs, rhs, _tol(dtype), _tol(dtype) if isinstance(G, GL) else 0.0)
    _close(G.act_on_points(G.identity((8,), dtype=dtype), x), x, _tol(dtype))
    # One element broadcasts over a batch of point clouds.
    assert G.act_on_points(g[0], x).shape == x.shape


@pytest.mark.parametrize("G", GROUPS, ids=repr)
def test_lie_algebra_and_generators(G: MatrixGroup, dtype):
    A = G.lie_algebra.to(dtype)
    assert A.dim() == 3 and A.shape[1:] == (G.n, G.n)
    D = G.discrete_generators.to(dtype)
    assert D.dim() == 3 and D.shape[1:] == (G.n, G.n)
    assert bool(G.contains(D).all())
    if A.shape[0]:
        # exp of small algebra elements lies in the group; hat/vee are inverse.
        assert bool(G.contains(G.exp(0.3 * A)).all())
        xi = torch.randn(7, A.shape[0], generator=_gen(7), dtype=dtype)
        _close(G.vee(G.hat(xi)), xi, _tol(dtype))


def test_lie_algebra_dimensions():
    dims = {SO2(): 1, O2(): 1, CN(5): 0, DN(4): 0, SO3(): 3, SE3(): 6, GL(3): 9, GLPlus(3): 9}
    gens = {SO2(): 0, O2(): 1, CN(5): 1, DN(4): 2, SO3(): 0, SE3(): 0, GL(3): 1, GLPlus(3): 0}
    for G, d in dims.items():
        assert G.lie_algebra_dim == d, G
        assert G.discrete_generators.shape[0] == gens[G], G


# =========================================================================== exp / log


def test_so2_exp_log(dtype):
    G = SO2()
    theta = torch.linspace(-math.pi + 1e-3, math.pi - 1e-3, 101, dtype=dtype)
    X = theta[:, None, None] * G.lie_algebra.to(dtype)
    _close(G.log(G.exp(X)), X, _tol(dtype))
    g = G.sample((200,), generator=_gen(8), dtype=dtype)
    _close(G.exp(G.log(g)), g, _tol(dtype))
    _close(G.to_angle(G.from_angle(theta)), theta, _tol(dtype))
    # The angle lies in (-pi, pi]: a rotation by pi gets +pi.
    pi_rot = torch.tensor([[-1.0, -0.0], [0.0, -1.0]], dtype=dtype)
    assert float(G.to_angle(pi_rot)) == pytest.approx(math.pi)
    assert float(G.to_angle(torch.tensor([[-1.0, 0.0], [-0.0, -1.0]], dtype=dtype))) > 0


def test_o2_exp_log_identity_component_and_reflections(dtype):
    G = O2()
    g = G.sample((400,), generator=_gen(9), dtype=dtype)
    det = torch.linalg.det(g)
    rot = g[det > 0]
    _close(G.exp(G.log(rot)), rot, _tol(dtype))
    with pytest.raises(ValueError, match=r"reflections.*identity component"):
        G.log(g)
    F = G.from_angle(torch.tensor(0.7, dtype=dtype), True)
    _close(
        F, SO2.from_angle(torch.tensor(0.7, dtype=dtype)) @ torch.diag(F.new_tensor([1.0, -1])), 0
    )


_SO3_ANGLES = [0.0, 1e-12, 1e-6, 1e-2, 1.0, 3.0, math.pi - 1e-5, math.pi - 1e-9]


def test_so3_exp_log(dtype):
    G = SO3()
    g = G.sample((500,), generator=_gen(10), dtype=dtype)
    _close(G.exp(G.log(g)), g, _tol(dtype))
    axis = torch.nn.functional.normalize(
        torch.randn(16, 3, generator=_gen(11), dtype=torch.float64)
    )
    for angle in _SO3_ANGLES:
        if dtype == torch.float32 and angle > math.pi - 1e-6:
            continue  # not representable below pi in float32; covered by the pi test below
        X = skew(angle * axis).to(dtype)
        R = G.exp(X)
        assert bool(G.contains(R).all())
        # Near pi the log is ill conditioned in float32 (the matrix has ~1e-7 precision).
        tol = _tol(dtype, 3)
        _close(G.log(R), X, tol)
        _close(G.exp(G.log(R)), R, tol)


def test_so3_log_exactly_pi(dtype):
    G = SO3()
    axes = torch.nn.functional.normalize(
        torch.tensor(
            [[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, -2, 0.5]], dtype=torch.float64
        )
    )
    R = (2 * axes[:, :, None] * axes[:, None, :] - torch.eye(3, dtype=torch.float64)).to(dtype)
    L = G.log(R)
    _close(L, -L.mT, 0)
    angles = torch.linalg.vector_norm(torch.stack([L[:, 2, 1], L[:, 0, 2], L[:, 1, 0]], -1), dim=-1)
    _close(angles, torch.full_like(angles, math.pi), _tol(dtype))
    _close(G.exp(L), R, _tol(dtype))


def test_se3_exp_log(dtype):
    G = SE3()
    g = G.sample((300,), translation_scale=2.0, generator=_gen(12), dtype=dtype)
    _close(G.exp(G.log(g)), g, _tol(dtype))
    xi = torch.randn(300, 6, generator=_gen(13), dtype=torch.float64)
    # Rotation angles in [0, pi) (log returns the principal branch), including tiny ones.
    omega = (
        torch.nn.functional.normalize(xi[:, :3])
        * torch.linspace(0, 3.1, 300, dtype=xi.dtype)[:, None]
    )
    omega[:20] *= 1e-8
    X = G.hat(torch.cat([omega, xi[:, 3:]], dim=-1)).to(dtype)
    _close(G.log(G.exp(X)), X, _tol(dtype))
    _close(G.exp(X), torch.linalg.matrix_exp(X), _tol(dtype))
    assert bool(G.contains(G.exp(X)).all())


def test_cn_exp_log(dtype):
    for N in (1, 2, 4, 5, 6):
        G = CN(N)
        g = G.elements(dtype)
        L = G.log(g)
        angles = L[:, 1, 0]
        assert bool((angles > -math.pi).all() and (angles <= math.pi + 1e-12).all())
        _close(G.exp(L), g, _tol(dtype))
        if N % 2 == 0:
            assert float(angles[N // 2]) == pytest.approx(math.pi)  # +pi, never -pi
        # Angles are exact multiples of 2 pi / N.
        k = torch.arange(N, dtype=dtype)
        k = torch.where(2 * k > N, k - N, k)
        _close(angles, k * (2 * math.pi / N), _tol(dtype))


def test_dn_log_rotations_and_reflections(dtype):
    G = DN(6)
    g = G.elements(dtype)
    _close(G.exp(G.log(g[:6])), g[:6], _tol(dtype))
    with pytest.raises(ValueError, match="reflections"):
        G.log(g)


def _positive_spectrum_matrices(n, batch, dtype, seed):
    """V diag(lambda) V^{-1} with real positive eigenvalues and a generic eigenbasis."""
    gen = _gen(seed)
    V = torch.randn(batch, n, n, generator=gen, dtype=torch.float64) + 2 * torch.eye(n)
    lam = torch.exp(torch.randn(batch, n, generator=gen, dtype=torch.float64))
    return (V * lam[:, None, :] @ torch.linalg.inv(V)).to(dtype)


@pytest.mark.parametrize("G", [GL(3), GLPlus(3), GL(2), GLPlus(4)], ids=repr)
def test_gl_exp_log(G: GL, dtype):
    n = G.n
    gen = _gen(14)
    near_identity = torch.eye(n) + 0.1 * torch.randn(64, n, n, generator=gen, dtype=torch.float64)
    generic = _positive_spectrum_matrices(n, 64, torch.float64, seed=15)
    algebra = 0.5 * torch.randn(64, n, n, generator=gen, dtype=torch.float64)
    shear = torch.eye(n, dtype=torch.float64) + torch.diag(torch.ones(n - 1), 1).double()
    rot = (
        torch.linalg.matrix_exp(skew(torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64)))[:n, :n]
        if n == 3
        else torch.eye(n, dtype=torch.float64)
    )
    cases = torch.cat(
        [near_identity, generic, torch.linalg.matrix_exp(algebra), shear[None], rot[None]]
    )
    g = cases.to(dtype)
    L = G.log(g)
    assert L.dtype == dtype and L.shape == g.shape
    # float32: the matrices themselves carry ~1e-7 relative error, amplified by cond(g).
    tol = _tol(dtype) * (1 if dtype == torch.float64 else 10)
    _close(G.exp(L), g, tol, tol)
    # log(exp(X)) = X when the spectrum of X has imaginary parts in (-pi, pi).
    _close(G.log(G.exp(algebra.to(dtype))), algebra.to(dtype), tol, tol)
    # The identity and a defective (shear) matrix, unbatched.
    _close(G.log(_eye(n, dtype)), torch.zeros(n, n, dtype=dtype), 0)
    expected_shear = torch.diag(torch.ones(n - 1), 1).to(dtype)
    if n == 2:
        _close(G.log(shear.to(dtype)), expected_shear, tol)


def test_gl_log_raises_without_principal_log(dtype):
    G = GL(3)
    det_negative = torch.diag(torch.tensor([-1.0, 2.0, 1.0], dtype=dtype))
    negative_eigs = torch.diag(torch.tensor([-1.0, -2.0, 1.0], dtype=dtype))  # det > 0
    ok = torch.eye(3, dtype=dtype)
    with pytest.raises(ValueError, match=r"det <= 0.*polar_decomposition.*polar_path"):
        G.log(torch.stack([ok, det_negative]))
    with pytest.raises(ValueError, match=r"negative real eigenvalue.*polar_decomposition"):
        G.log(torch.stack([ok, negative_eigs]))
    with pytest.raises(ValueError, match="negative real eigenvalue"):
        GLPlus(3).log(negative_eigs)
    # Complex eigenvalues with negative real part are fine (e.g. a rotation by 3 rad).
    R = axis_angle_to_matrix(torch.tensor([0.0, 0.0, 3.0], dtype=dtype))
    _close(G.exp(G.log(R)), R, _tol(dtype))


# =========================================================================== polar
@pytest.mark.parametrize("G", [GL(3), GLPlus(3), GLPlus(2)], ids=repr)
def test_polar_decomposition(G: GL, dtype):
    g = G.sample((128,), generator=_gen(16), dtype=dtype)
    R, P = polar_decomposition(g)
    tol = _tol(dtype, 10)
    _close(R @ P, g, tol, tol)
    _close(R @ R.mT, _eye(G.n, dtype, (128,)), tol)
    _close(torch.linalg.det(R), torch.sign(torch.linalg.det(g)), tol)
    if isinstance(G, GLPlus):
        _close(torch.linalg.det(R), torch.ones(128, dtype=dtype), tol)
    _close(P, P.mT, 0)
    assert bool((torch.linalg.eigvalsh(P) > 0).all())
    R2, _ = G.polar_decomposition(g)
    _close(R2, R, 0)


def test_polar_path(dtype):
    G = GLPlus(3)
    g = torch.cat(
        [
            G.sample((32,), generator=_gen(17), dtype=dtype),
            # No principal log: negative real eigenvalues, and -I in a 2-plane.
            torch.diag(torch.tensor([-1.0, -2.0, 1.0], dtype=dtype))[None],
            torch.diag(torch.tensor([-1.0, -1.0, 3.0], dtype=dtype))[None],
        ]
    )
    t = torch.linspace(0, 1, 101, dtype=dtype)
    path = polar_path(g, t)
    assert path.shape == (101, 34, 3, 3) and path.dtype == dtype
    tol = _tol(dtype, 10)
    _close(path[0], _eye(3, dtype, (34,)), tol)
    _close(path[-1], g, tol, tol)
    assert bool((torch.linalg.det(path) > 0).all())
    # Scalar t gives no extra dim; the path is continuous (small steps between samples).
    _close(polar_path(g, 1.0), g, tol, tol)
    step = (path[1:] - path[:-1]).abs().amax(dim=(-2, -1))
    assert float(step.max()) < 0.5
    with pytest.raises(ValueError, match="det <= 0"):
        polar_path(torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=dtype)), t)


def test_so_log_pi_rotation_schur_fallback(dtype):
    R4 = torch.diag(torch.tensor([-1.0, -1.0, 1.0, 1.0], dtype=dtype))
    R3 = axis_angle_to_matrix(torch.tensor([0.0, math.pi, 0.0], dtype=torch.float64)).to(dtype)
    generic = SO3().sample((4,), generator=_gen(18), dtype=dtype)
    for R in (R4, R4.expand(3, 4, 4), torch.cat([generic, R3[None]])):
        L = so_log(R)
        _close(L, -L.mT, 0)
        _close(torch.linalg.matrix_exp(L), R, _tol(dtype))
    # The rotation by pi in the (0, 1) plane: log = +-pi times that plane's generator.
    L = so_log(R4)
    assert abs(float(L[0, 1].abs()) - math.pi) < _tol(dtype)
    _close(L[2:, :], torch.zeros(2, 4, dtype=dtype), _tol(dtype))
    # -I in SO(4): two planes rotated by pi.
    minus_eye = -torch.eye(4, dtype=dtype)
    _close(torch.linalg.matrix_exp(so_log(minus_eye)), minus_eye, _tol(dtype))
    # Generic rotations agree with the SO(3) log.
    _close(so_log(generic), SO3().log(generic), _tol(dtype))
    with pytest.raises(ValueError, match="det"):
        so_log(torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=dtype)))


# =========================================================================== Haar sampling
def _so3_angle(R: torch.Tensor) -> torch.Tensor:
    cos = ((R.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    return torch.arccos(cos.double())


def test_so3_haar_angle_distribution_and_mean(dtype):
    n = 20000
    R = SO3().sample((n,), generator=_gen(19), dtype=dtype)
    theta = _so3_angle(R).numpy()
    # Haar density of the rotation angle on [0, pi]: (1 - cos t) / pi, CDF (t - sin t) / pi.
    p = scipy.stats.kstest(
        theta, lambda t: (t - torch.sin(torch.as_tensor(t)).numpy()) / math.pi
    ).pvalue
    assert p > 0.01, p
    Rd = R.double().reshape(n, 9)
    stderr = Rd.std(dim=0) / math.sqrt(n)
    assert bool((Rd.mean(dim=0).abs() < 4 * stderr).all())


def test_so2_haar_uniform_angle(dtype):
    g = SO2().sample((20000,), generator=_gen(20), dtype=dtype)
    theta = SO2.to_angle(g).double().numpy()
    assert scipy.stats.kstest(theta, scipy.stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > 0.01


def test_o2_haar_angle_and_det_sign(dtype):
    n = 20000
    g = O2().sample((n,), generator=_gen(21), dtype=dtype)
    theta = O2.to_angle(g).double().numpy()
    assert scipy.stats.kstest(theta, scipy.stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > 0.01
    det = torch.linalg.det(g)
    _close(det.abs(), torch.ones_like(det), _tol(dtype))
    n_neg = int((det < 0).sum())
    assert scipy.stats.binomtest(n_neg, n, 0.5).pvalue > 0.01
    # The angle is independent of the reflection: both halves are uniform.
    reflections = theta[(det < 0).numpy()]
    assert (
        scipy.stats.kstest(reflections, scipy.stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue
        > 0.01
    )


@pytest.mark.parametrize("G", [CN(5), CN(4), DN(3), DN(4)], ids=repr)
def test_finite_group_uniform_sampling(G, dtype):
    g = G.sample((12000,), generator=_gen(22), dtype=dtype)
    counts = torch.bincount(G.index_of(g), minlength=G.order).numpy()
    assert scipy.stats.chisquare(counts).pvalue > 0.01
    assert bool(G.contains(g).all())


# =========================================================================== finite groups
@pytest.mark.parametrize("G", [CN(1), CN(3), CN(4), DN(1), DN(3), DN(4), DN(6)], ids=repr)
def test_finite_group_structure(G, dtype):
    elems = G.elements(dtype)
    assert elems.shape == (G.order, 2, 2) and elems.dtype == dtype
    _close(elems[0], torch.eye(2, dtype=dtype), 0)
    idx = torch.arange(G.order)
    assert torch.equal(G.index_of(elems), idx)
    # Closure: the Cayley table stays in the group and is a Latin square.
    prod = elems[:, None] @ elems[None, :]
    assert bool(G.contains(prod).all())
    table = G.index_of(prod)
    for row in (table, table.T):
        assert torch.equal(row.sort(dim=-1).values, idx.expand(G.order, G.order))
    N = G.N
    rot = SO2.from_angle(torch.arange(N, dtype=torch.float64) * 2 * math.pi / N).to(dtype)
    _close(elems[:N], rot, _tol(dtype))
    if isinstance(G, DN):
        F = torch.diag(torch.tensor([1.0, -1.0], dtype=dtype))
        _close(elems[N:], rot @ F, _tol(dtype))
        assert bool((torch.linalg.det(elems[N:]) < 0).all())


def test_c4_elements_exact():
    elems = CN(4).elements(torch.float64)
    assert bool((elems == elems.round()).all())
    assert torch.equal(elems[1], torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64))


# =========================================================================== SE(3)
def test_se3_actions(dtype):
    G = SE3()
    g, h = G.sample((2, 6), generator=_gen(23), dtype=dtype)
    x = torch.randn(6, 11, 3, generator=_gen(24), dtype=dtype)
    R, t = G.to_rotation_translation(g)
    _close(G.from_rotation_translation(R, t), g, 0)
    # Homogeneous coordinates agree with the rigid motion.
    xh = torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)
    _close(G.act_on_points(g, x), (xh @ g.mT)[..., :3], _tol(dtype))
    _close(G.act_on_vectors(g, x), x @ R.mT, _tol(dtype))
    # Vectors are differences of points: translation cancels.
    p = G.act_on_points(g, x)
    _close(p[:, 1:] - p[:, :1], G.act_on_vectors(g, x[:, 1:] - x[:, :1]), _tol(dtype))
    # Poses compose on the left; a pose's origin moves like a point.
    T = G.sample((6,), generator=_gen(25), dtype=dtype)
    gT = G.act_on_poses(g, T)
    _close(gT, g @ T, 0)
    _close(G.act_on_poses(g, G.act_on_poses(h, T)), G.act_on_poses(G.compose(g, h), T), _tol(dtype))
    _close(gT[..., :3, 3], G.act_on_points(g, T[..., None, :3, 3])[..., 0, :], _tol(dtype))
    _close(G.inverse(g), torch.linalg.inv(g), _tol(dtype))


def test_se3_sample_translation_scale(dtype):
    g = SE3().sample((4000,), translation_scale=0.1, generator=_gen(26), dtype=dtype)
    std = float(g[..., :3, 3].double().std())
    assert 0.09 < std < 0.11


# =========================================================================== images
def _one_hot_images(size: int, dtype) -> torch.Tensor:
    """All single-bright-pixel images, shape (size * size, size, size)."""
    return torch.eye(size * size, dtype=dtype).reshape(size * size, size, size)


def _pixel_coords(size: int, dtype) -> torch.Tensor:
    """Centred (x right, y up) coordinates of pixel p = i * size + j, shape (size * size, 2)."""
    i, j = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    c = (size - 1) / 2
    return torch.stack([j - c, c - i], dim=-1).reshape(-1, 2).to(dtype)


def _bright_pixel_coords(imgs: torch.Tensor) -> torch.Tensor:
    size = imgs.shape[-1]
    return _pixel_coords(size, imgs.dtype)[imgs.flatten(-2).argmax(dim=-1)]


@pytest.mark.parametrize("size", [5, 6])
def test_rotate_image_90_matches_cn_matrices(size, dtype):
    imgs = _one_hot_images(size, dtype)
    coords = _pixel_coords(size, dtype)
    elems = CN(4).elements(dtype)
    for k in range(-1, 5):
        moved = _bright_pixel_coords(rotate_image_90(imgs, k))
        _close(moved, coords @ elems[k % 4].mT, 0)
        moved = _bright_pixel_coords(act_on_image_cn(k % 4, imgs, 4))
        _close(moved, coords @ elems[k % 4].mT, 0)


@pytest.mark.parametrize("size", [5, 6])
def test_flip_and_dn_actions_match_matrices(size, dtype):
    imgs = _one_hot_images(size, dtype)
    coords = _pixel_coords(size, dtype)
    F = DN(4).elements(dtype)[4]
    _close(_bright_pixel_coords(flip_image(imgs)), coords @ F.mT, 0)
    for N in (1, 2, 4):
        elems = DN(N).elements(dtype)
        for idx in range(2 * N):
            moved = _bright_pixel_coords(act_on_image_dn(idx, imgs, N))
            _close(moved, coords @ elems[idx].mT, 0)


def test_image_actions_per_sample_indices(dtype):
    imgs = torch.rand(8, 3, 7, 7, generator=_gen(27), dtype=dtype)
    k = torch.arange(8) % 4
    expected = torch.stack([rotate_image_90(imgs[b], int(k[b])) for b in range(8)])
    _close(rotate_image_90(imgs, k), expected, 0)
    _close(act_on_image_cn(k, imgs, 4), expected, 0)
    idx = torch.arange(8)
    expected = torch.stack([act_on_image_dn(int(idx[b]), imgs[b], 4) for b in range(8)])
    _close(act_on_image_dn(idx, imgs, 4), expected, 0)
    with pytest.raises(ValueError, match="square"):
        rotate_image_90(torch.zeros(2, 4, 5, dtype=dtype), torch.tensor([0, 1]))


def test_image_actions_are_homomorphisms(dtype):
    img = torch.rand(2, 6, 6, generator=_gen(28), dtype=dtype)
    G = DN(4)
    table = G.index_of(G.elements(torch.float64)[:, None] @ G.elements(torch.float64)[None])
    for a in range(8):
        for b in range(8):
            lhs = act_on_image_dn(a, act_on_image_dn(b, img, 4), 4)
            _close(lhs, act_on_image_dn(int(table[a, b]), img, 4), 0)


def test_grid_sample_quarter_turn_matches_rot90(dtype):
    img = torch.rand(4, 2, 9, 9, generator=_gen(29), dtype=dtype)
    exact = rotate_image_90(img, 1)
    approx = rotate_image_grid_sample(img, math.pi / 2)
    _close(approx[..., 1:-1, 1:-1], exact[..., 1:-1, 1:-1], 1e-5)
    # Per-sample angles, a multiple of pi/2 each.
    k = torch.tensor([0, 1, 2, 3])
    approx = rotate_image_grid_sample(img, k.to(dtype) * (math.pi / 2))
    _close(approx[..., 1:-1, 1:-1], rotate_image_90(img, k)[..., 1:-1, 1:-1], 1e-5)
    # C_8 element 2 is a quarter turn, done by grid_sample.
    _close(act_on_image_cn(2, img, 8)[..., 1:-1, 1:-1], exact[..., 1:-1, 1:-1], 1e-5)


def test_grid_sample_rotation_properties(dtype):
    img = torch.rand(3, 11, 11, generator=_gen(30), dtype=dtype)
    _close(rotate_image_grid_sample(img, 0.0), img, _tol(dtype))
    # The centre pixel of an odd image is fixed by every rotation.
    out = rotate_image_grid_sample(img, torch.tensor([0.3, 1.1, -2.0], dtype=dtype))
    _close(out[:, 5, 5], img[:, 5, 5], _tol(dtype))
    assert out.shape == img.shape and out.dtype == dtype
    # Zeros enter from outside: the corners are cut off by a 45 degree turn.
    corner = rotate_image_grid_sample(torch.ones(11, 11, dtype=dtype), math.pi / 4)[0, 0]
    assert float(corner) == 0.0
    # Bright pixel at centred (3, 0) rotated by 2 pi / 8 lands (bilinearly) around R (3, 0).
    one = torch.zeros(11, 11, dtype=dtype)
    one[5, 8] = 1.0
    out = act_on_image_cn(1, one, 8)
    coords = _pixel_coords(11, dtype)
    centroid = (out.reshape(-1, 1) * coords).sum(0) / out.sum()
    expected = SO2.from_angle(torch.tensor(math.pi / 4, dtype=dtype)) @ coords.new_tensor([3.0, 0])
    _close(centroid, expected, 0.3)
