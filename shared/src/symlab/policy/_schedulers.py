"""Noise schedulers from ``diffusers`` (optional extra ``symlab[policy]``).

Diffusion policy trains with DDPM (100 steps, ``squaredcos_cap_v2`` betas, epsilon prediction,
``clip_sample``) and samples with DDPM or, with fewer steps, DDIM on the same schedule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SAMPLERS = ("ddpm", "ddim")


@dataclass
class NoiseSchedulerConfig:
    """Settings shared by the training (DDPM) and the sampling scheduler.

    Parameters
    ----------
    num_train_timesteps : int
        Diffusion steps of the forward process.
    beta_schedule : str
        diffusers beta schedule (``squaredcos_cap_v2`` is the cosine schedule).
    beta_start, beta_end : float
        Used by the linear schedules only.
    clip_sample : bool
        Clip the predicted clean sample to ``[-1, 1]`` at every denoising step.
    prediction_type : {'epsilon', 'sample'}
        What the network predicts.
    sampler : {'ddpm', 'ddim'}
        Scheduler used by ``predict_action``.
    num_inference_steps : int, optional
        Denoising steps at inference; default ``num_train_timesteps``.
    """

    num_train_timesteps: int = 100
    beta_schedule: str = "squaredcos_cap_v2"
    beta_start: float = 0.0001
    beta_end: float = 0.02
    clip_sample: bool = True
    prediction_type: str = "epsilon"
    sampler: str = "ddpm"
    num_inference_steps: int | None = None

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; expected one of {SAMPLERS}")
        if self.prediction_type not in ("epsilon", "sample"):
            raise ValueError(
                f"prediction_type must be 'epsilon' or 'sample', found {self.prediction_type!r}"
            )
        steps = self.num_inference_steps
        if steps is not None and not 1 <= steps <= self.num_train_timesteps:
            raise ValueError(
                f"num_inference_steps must be in [1, {self.num_train_timesteps}], found {steps}"
            )


def _diffusers():
    try:
        from diffusers.schedulers.scheduling_ddim import DDIMScheduler
        from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "symlab.policy needs diffusers for its noise schedulers: "
            "pip install -c requirements/constraints.txt -e 'shared[policy]'"
        ) from exc
    return DDPMScheduler, DDIMScheduler


def make_noise_scheduler(config: NoiseSchedulerConfig, kind: str = "ddpm") -> Any:
    """A fresh diffusers ``DDPMScheduler`` or ``DDIMScheduler`` for ``config``.

    Parameters
    ----------
    config : NoiseSchedulerConfig
        The schedule.
    kind : {'ddpm', 'ddim'}
        Which scheduler; training always uses DDPM's ``add_noise`` (identical in both).
    """
    DDPMScheduler, DDIMScheduler = _diffusers()
    common = {
        "num_train_timesteps": config.num_train_timesteps,
        "beta_schedule": config.beta_schedule,
        "beta_start": config.beta_start,
        "beta_end": config.beta_end,
        "clip_sample": config.clip_sample,
        "prediction_type": config.prediction_type,
    }
    if kind == "ddpm":
        return DDPMScheduler(variance_type="fixed_small", **common)
    if kind == "ddim":
        return DDIMScheduler(set_alpha_to_one=True, steps_offset=0, **common)
    raise ValueError(f"unknown scheduler kind {kind!r}; expected one of {SAMPLERS}")


def scheduler_config_dict(config: NoiseSchedulerConfig) -> dict[str, Any]:
    """Plain-data form of ``config`` (for checkpoints)."""
    return asdict(config)
