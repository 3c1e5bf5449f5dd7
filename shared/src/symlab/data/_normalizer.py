"""Affine feature normalizers that live in a model's state dict.

A normalizer is fitted once on the training data and must then travel with the model checkpoint:
the statistics are registered as buffers (so ``state_dict``/``load_state_dict`` and ``.to()``
handle them) and the configuration is kept in the module's extra state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

_MODES = ("limits", "gaussian", "identity")
_STAT_BUFFERS = ("input_min", "input_max", "input_mean", "input_std")


class Normalizer(nn.Module):
    """Per-feature affine normalization ``y = x * scale + offset``.

    Parameters
    ----------
    mode : {'limits', 'gaussian', 'identity'}, default 'limits'
        ``'limits'`` maps the per-feature minimum and maximum of the fit data to
        ``output_min`` and ``output_max`` (``[-1, 1]`` by default, as in diffusion policy).
        ``'gaussian'`` subtracts the mean and divides by the standard deviation.
        ``'identity'`` leaves the data unchanged and needs no fitting; use it for fields that
        must stay raw but should still go through a :class:`DictNormalizer`.
    feature_ndim : int, default 1
        Number of trailing dimensions that index features. Statistics are computed per feature
        over all leading dimensions, e.g. over batch and time for ``(B, T, D)`` data.
        ``0`` gives a single scalar statistic.
    range_eps : float, default 1e-4
        Floor on the fitted range (``'limits'``) or standard deviation (``'gaussian'``). A
        feature below the floor is (nearly) constant; dividing by its range would blow up
        noise, so it gets scale 1 and is only shifted (to the centre of the output range for
        ``'limits'``, to zero for ``'gaussian'``).
    output_min, output_max : float, default -1.0, 1.0
        Target range for ``'limits'``.

    Attributes
    ----------
    scale, offset : torch.Tensor
        Buffers of shape ``feature_shape`` (scalars for identity).
    input_min, input_max, input_mean, input_std : torch.Tensor
        Buffers with the fitted statistics, kept for inspection.

    Notes
    -----
    ``normalize`` and ``unnormalize`` are exact algebraic inverses; round-trip error is
    floating-point rounding only. A fresh ``Normalizer()`` can load the state dict of a fitted
    one: buffers are resized to the stored shapes and the mode is restored from extra state.

    Examples
    --------
    >>> x = torch.randn(100, 10, 3)
    >>> norm = Normalizer("limits").fit(x)
    >>> y = norm.normalize(x)
    >>> bool(y.abs().max() <= 1 + 1e-6)  # [-1, 1] up to float32 rounding
    True
    >>> torch.allclose(norm.unnormalize(y), x, atol=1e-5)
    True
    """

    scale: torch.Tensor
    offset: torch.Tensor

    def __init__(
        self,
        mode: str = "limits",
        *,
        feature_ndim: int = 1,
        range_eps: float = 1e-4,
        output_min: float = -1.0,
        output_max: float = 1.0,
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"unknown normalizer mode {mode!r}; expected one of {_MODES}")
        if isinstance(feature_ndim, bool) or not isinstance(feature_ndim, int) or feature_ndim < 0:
            raise ValueError(f"feature_ndim must be a non-negative int, found {feature_ndim!r}")
        if not output_max > output_min:
            raise ValueError(
                f"output_max must exceed output_min, found [{output_min}, {output_max}]"
            )
        if not range_eps > 0:
            raise ValueError(f"range_eps must be positive, found {range_eps}")
        self.mode = mode
        self.feature_ndim = feature_ndim
        self.range_eps = float(range_eps)
        self.output_min = float(output_min)
        self.output_max = float(output_max)
        self.fitted = mode == "identity"
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("offset", torch.zeros(()))
        for name in _STAT_BUFFERS:
            self.register_buffer(name, torch.zeros(0))

    @classmethod
    def identity(cls) -> Normalizer:
        """Return a normalizer that passes data through unchanged."""
        return cls("identity")

    # ------------------------------------------------------------------ fitting
    @torch.no_grad()
    def fit(self, x: torch.Tensor | np.ndarray) -> Normalizer:
        """Fit the statistics to ``x`` (reduced over all but the trailing features) in place.

        Parameters
        ----------
        x : torch.Tensor or numpy.ndarray
            Data of shape ``(..., *feature_shape)`` with at least one sample.

        Returns
        -------
        Normalizer
            ``self``, for chaining.
        """
        if self.mode == "identity":
            return self
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        if x.ndim < self.feature_ndim:
            raise ValueError(
                f"fit data has shape {tuple(x.shape)} but feature_ndim={self.feature_ndim}"
            )
        feature_shape = tuple(x.shape[x.ndim - self.feature_ndim :])
        # Statistics in float64 so large datasets do not lose precision in the sums.
        flat = x.detach().reshape(-1, *feature_shape).to(torch.float64)
        if flat.shape[0] == 0:
            raise ValueError(f"cannot fit a normalizer on empty data of shape {tuple(x.shape)}")
        n_bad = int((~torch.isfinite(flat)).sum())
        if n_bad:
            raise ValueError(f"fit data contains {n_bad} non-finite values (NaN or inf)")
        x_min = flat.amin(0)
        x_max = flat.amax(0)
        mean = flat.mean(0)
        std = flat.std(0, correction=0)

        if self.mode == "limits":
            out_range = self.output_max - self.output_min
            in_range = x_max - x_min
            flat_dim = in_range < self.range_eps
            scale = torch.where(flat_dim, torch.ones_like(in_range), out_range / in_range)
            offset = torch.where(
                flat_dim,
                (self.output_max + self.output_min) / 2 - x_min,
                self.output_min - scale * x_min,
            )
        else:  # gaussian
            flat_dim = std < self.range_eps
            scale = torch.where(flat_dim, torch.ones_like(std), 1.0 / std)
            offset = -mean * scale

        dtype, device = self.scale.dtype, self.scale.device
        stats = {
            "scale": scale,
            "offset": offset,
            "input_min": x_min,
            "input_max": x_max,
            "input_mean": mean,
            "input_std": std,
        }
        for name, value in stats.items():
            self._buffers[name] = value.to(dtype=dtype, device=device)
        self.fitted = True
        return self

    # ------------------------------------------------------------------ transforms
    def _affine(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not self.fitted:
            raise RuntimeError(
                f"{type(self).__name__}(mode={self.mode!r}) is not fitted; call fit() first "
                "or load a fitted state dict"
            )
        x = torch.as_tensor(x)
        if self.mode != "identity":
            feature_shape = tuple(self.scale.shape)
            nd = len(feature_shape)
            if x.ndim < nd or tuple(x.shape[x.ndim - nd :]) != feature_shape:
                raise ValueError(
                    f"expected data with trailing feature shape {feature_shape}, "
                    f"found shape {tuple(x.shape)}"
                )
        if x.is_floating_point():
            # Keep the caller's precision (e.g. bf16 activations stay bf16).
            dtype = x.dtype
        else:
            dtype = self.scale.dtype
            x = x.to(dtype)
        return x, self.scale.to(dtype), self.offset.to(dtype)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map raw data to normalized space: ``x * scale + offset``."""
        x, scale, offset = self._affine(x)
        return x * scale + offset

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map normalized data back to raw space: ``(x - offset) / scale``."""
        x, scale, offset = self._affine(x)
        return (x - offset) / scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`normalize`."""
        return self.normalize(x)

    # ------------------------------------------------------------------ state
    def get_extra_state(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "feature_ndim": self.feature_ndim,
            "range_eps": self.range_eps,
            "output_min": self.output_min,
            "output_max": self.output_max,
            "fitted": self.fitted,
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.mode = state["mode"]
        self.feature_ndim = state["feature_ndim"]
        self.range_eps = state["range_eps"]
        self.output_min = state["output_min"]
        self.output_max = state["output_max"]
        self.fitted = state["fitted"]

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
    ) -> None:
        # Buffer shapes depend on the fitted data, so resize them to the stored shapes before
        # the default copy; otherwise an unfitted module could never load a fitted one.
        for name, buf in list(self._buffers.items()):
            value = state_dict.get(prefix + name)
            if isinstance(value, torch.Tensor) and value.shape != buf.shape:
                self._buffers[name] = torch.empty(value.shape, dtype=buf.dtype, device=buf.device)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def extra_repr(self) -> str:
        shape = tuple(self.scale.shape) if self.fitted and self.mode != "identity" else None
        return f"mode={self.mode!r}, fitted={self.fitted}, feature_shape={shape}"


class DictNormalizer(nn.ModuleDict):
    """A :class:`Normalizer` per field of a dict of tensors.

    Parameters
    ----------
    normalizers : Mapping[str, Normalizer], optional
        Initial normalizers keyed by field name.

    Notes
    -----
    ``normalize`` and ``unnormalize`` require every key of the input to have a normalizer and
    raise :class:`KeyError` naming the key otherwise, so a field is never silently left
    unnormalized; give raw fields :meth:`Normalizer.identity`. A fresh ``DictNormalizer()``
    can load the state dict of a fitted one: the per-key normalizers are created on load.

    Examples
    --------
    >>> data = {"obs": torch.randn(50, 4), "action": torch.randn(50, 2), "t": torch.arange(50.)}
    >>> norm = DictNormalizer().fit(data, modes={"t": "identity"})
    >>> out = norm.normalize(data)
    >>> torch.equal(out["t"], data["t"])
    True
    """

    def __init__(self, normalizers: Mapping[str, Normalizer] | None = None) -> None:
        super().__init__(normalizers)

    def fit(
        self,
        data: Mapping[str, torch.Tensor | np.ndarray],
        mode: str = "limits",
        modes: Mapping[str, str] | None = None,
        **normalizer_kwargs: Any,
    ) -> DictNormalizer:
        """Create and fit one normalizer per key of ``data``.

        Parameters
        ----------
        data : Mapping[str, array-like]
            Fit data per field.
        mode : str, default 'limits'
            Mode for fields not listed in ``modes``.
        modes : Mapping[str, str], optional
            Per-field mode overrides, e.g. ``{"gripper": "identity"}``.
        **normalizer_kwargs
            Passed to every :class:`Normalizer` (``feature_ndim``, ``range_eps``, ...).

        Returns
        -------
        DictNormalizer
            ``self``, for chaining.
        """
        modes = dict(modes or {})
        for key in modes:
            if key not in data:
                raise KeyError(
                    f"modes has an entry for {key!r} which is not in the data; "
                    f"data keys: {sorted(data)}"
                )
        for key, value in data.items():
            self[key] = Normalizer(modes.get(key, mode), **normalizer_kwargs).fit(value)
        return self

    def _get(self, key: str) -> Normalizer:
        if key not in self:
            raise KeyError(f"no normalizer for key {key!r}; known keys: {sorted(self.keys())}")
        return self[key]

    def normalize(self, data: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Normalize every field of ``data`` with its own normalizer."""
        return {k: self._get(k).normalize(v) for k, v in data.items()}

    def unnormalize(self, data: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Invert :meth:`normalize` field by field."""
        return {k: self._get(k).unnormalize(v) for k, v in data.items()}

    def forward(self, data: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Alias of :meth:`normalize`."""
        return self.normalize(data)

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
    ) -> None:
        # Module.load_state_dict recurses into children only after this call, so creating the
        # missing per-key normalizers here lets them load their own buffers and mode.
        for key in state_dict:
            if key.startswith(prefix):
                rest = key[len(prefix) :]
                if "." in rest:
                    name = rest.split(".", 1)[0]
                    if name not in self._modules:
                        self[name] = Normalizer()
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
