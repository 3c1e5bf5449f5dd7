"""Equivariance checks in the style of ``e3nn.util.test.assert_equivariant``.

A function ``f`` is equivariant when ``f(rho_in(g) x) == rho_out(g) f(x)`` for every group element
``g``. The helpers here evaluate both sides for a batch of sampled group elements and report the
worst case, so a failing test says which element broke the symmetry and by how much.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

# Tolerances on the relative error, by dtype. float32 accumulates ~1e-7 per operation, so deep
# networks land around 1e-5..1e-4; float64 equivariant code should be exact to ~1e-12.
DEFAULT_TOLERANCES: dict[torch.dtype, float] = {
    torch.float16: 1e-2,
    torch.bfloat16: 5e-2,
    torch.float32: 1e-4,
    torch.float64: 1e-9,
}

Sampler = Callable[[int], Any]
Action = Callable[..., Any]


class EquivarianceError(AssertionError):
    """Raised by :func:`assert_equivariant` when the worst-case error exceeds the tolerance."""


@dataclass
class EquivarianceReport:
    """Outcome of an equivariance check.

    Attributes
    ----------
    errors : torch.Tensor
        Relative error per sampled group element, shape ``(n_samples,)`` (float64, CPU).
    abs_errors : torch.Tensor
        Absolute (max-norm) error per sampled group element.
    worst_index : int
        Index of the worst sampled element.
    worst_element : Any
        The worst group element itself (as returned by the sampler).
    tolerance : float
        The tolerance the relative errors were compared with.
    output_scale : float
        ``max |f(x)|``, the normaliser of the relative error.
    """

    errors: torch.Tensor
    abs_errors: torch.Tensor
    worst_index: int
    worst_element: Any
    tolerance: float
    output_scale: float

    @property
    def max_error(self) -> float:
        return float(self.errors.max())

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance

    def quantiles(self, qs: Sequence[float] = (0.5, 0.9, 0.99, 1.0)) -> dict[float, float]:
        """Quantiles of the relative error distribution."""
        q = torch.quantile(self.errors, torch.tensor(list(qs), dtype=self.errors.dtype))
        return {float(k): float(v) for k, v in zip(qs, q)}

    def __str__(self) -> str:
        qs = ", ".join(f"q{int(k * 100)}={v:.3e}" for k, v in self.quantiles().items())
        return (
            f"relative equivariance error over {len(self.errors)} group elements: {qs} "
            f"(tolerance {self.tolerance:.1e}, worst sample #{self.worst_index}, "
            f"max |f(x)| = {self.output_scale:.3e})"
        )


def _as_tuple(x: Any) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _flat_tensors(x: Any) -> list[torch.Tensor]:
    """All tensors in a (nested) tuple/list/dict output, in a deterministic order."""
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, dict):
        return [t for k in sorted(x) for t in _flat_tensors(x[k])]
    if isinstance(x, (tuple, list)):
        return [t for item in x for t in _flat_tensors(item)]
    if hasattr(x, "tensor") and isinstance(x.tensor, torch.Tensor):  # escnn GeometricTensor
        return [x.tensor]
    raise TypeError(f"cannot compare outputs of type {type(x).__name__}; return tensors")


def _index_element(elements: Any, i: int) -> Any:
    if isinstance(elements, (list, tuple)):
        return elements[i]
    return elements[i]


def equivariance_errors(
    fn: Callable[..., Any],
    inputs: Any,
    group_sampler: Sampler | Any,
    input_action: Action,
    output_action: Action | None = None,
    *,
    n_samples: int = 16,
) -> EquivarianceReport:
    """Measure ``|f(rho_in(g) x) - rho_out(g) f(x)|`` over sampled group elements.

    This is the approximate-equivariance measurement: it never raises, and returns the full
    error distribution (use it for components that are only approximately equivariant, such as
    grid-sampled activations, and document the measured bound).

    Parameters
    ----------
    fn : callable
        The function or module under test, called as ``fn(*inputs)``.
    inputs : tensor or tuple of tensors
        Inputs of ``fn``.
    group_sampler : callable or group
        ``group_sampler(n)`` returns ``n`` group elements indexable by ``[i]``; an object with a
        ``sample(n)`` method (a :class:`symlab.groups.MatrixGroup`) is accepted too.
    input_action : callable
        ``input_action(g, *inputs)`` returns the transformed inputs (a tensor or a tuple).
    output_action : callable, optional
        ``output_action(g, output)`` returns the transformed output. ``None`` tests invariance.
    n_samples : int
        Number of group elements.

    Returns
    -------
    EquivarianceReport
        Relative errors normalised by ``max |f(x)|`` (floored at the dtype's tiny value).
    """
    sampler = group_sampler.sample if hasattr(group_sampler, "sample") else group_sampler
    inputs = _as_tuple(inputs)
    elements = sampler(n_samples)
    with torch.no_grad():
        out = fn(*inputs)
        ref = _flat_tensors(out)
        scale = max(float(t.detach().abs().max()) if t.numel() else 0.0 for t in ref)
        abs_errors = []
        for i in range(n_samples):
            g = _index_element(elements, i)
            out_g = fn(*_as_tuple(input_action(g, *inputs)))
            expected = out if output_action is None else output_action(g, out)
            a, b = _flat_tensors(out_g), _flat_tensors(expected)
            if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
                raise ValueError(
                    "transformed output does not have the structure of the output: "
                    f"{[tuple(x.shape) for x in a]} vs {[tuple(y.shape) for y in b]}"
                )
            err = max(float((x - y).abs().max()) if x.numel() else 0.0 for x, y in zip(a, b))
            abs_errors.append(err)
    dtype = ref[0].dtype if ref[0].is_floating_point() else torch.float32
    floor = float(torch.finfo(dtype).tiny) if dtype.is_floating_point else 1e-30
    abs_t = torch.tensor(abs_errors, dtype=torch.float64)
    rel = abs_t / max(scale, floor)
    worst = int(rel.argmax())
    tol = DEFAULT_TOLERANCES.get(dtype, 1e-4)
    return EquivarianceReport(
        errors=rel,
        abs_errors=abs_t,
        worst_index=worst,
        worst_element=_index_element(elements, worst),
        tolerance=tol,
        output_scale=scale,
    )


def assert_equivariant(
    fn: Callable[..., Any],
    inputs: Any,
    group_sampler: Sampler | Any,
    input_action: Action,
    output_action: Action | None = None,
    *,
    n_samples: int = 16,
    tolerance: float | None = None,
) -> EquivarianceReport:
    """Assert that ``fn`` is equivariant, to a dtype-dependent tolerance.

    Same arguments as :func:`equivariance_errors`; ``tolerance`` overrides the default for the
    output dtype (float32: 1e-4, float64: 1e-9, relative to ``max |f(x)|``).

    Returns
    -------
    EquivarianceReport
        The report, so a test can log or further inspect the distribution.

    Raises
    ------
    EquivarianceError
        With the worst case: its index, error and group element.

    Examples
    --------
    >>> import torch
    >>> from symlab.groups import SO3
    >>> from symlab.testing import assert_equivariant
    >>> f = lambda x: x * x.norm(dim=-1, keepdim=True)
    >>> act = lambda g, x: x @ g.T
    >>> _ = assert_equivariant(f, torch.randn(10, 3), SO3(), act, act)
    """
    report = equivariance_errors(
        fn, inputs, group_sampler, input_action, output_action, n_samples=n_samples
    )
    if tolerance is not None:
        report.tolerance = tolerance
    if not report.passed:
        raise EquivarianceError(
            f"not equivariant: {report}\nworst group element:\n{report.worst_element}"
        )
    return report


def assert_invariant(
    fn: Callable[..., Any],
    inputs: Any,
    group_sampler: Sampler | Any,
    input_action: Action,
    *,
    n_samples: int = 16,
    tolerance: float | None = None,
) -> EquivarianceReport:
    """Assert ``fn(rho_in(g) x) == fn(x)``; shorthand for a trivial output action."""
    return assert_equivariant(
        fn, inputs, group_sampler, input_action, None, n_samples=n_samples, tolerance=tolerance
    )
