"""The diffusion policy: observation encoder + denoiser + noise scheduler + action conversion.

Interface (real-stanford/diffusion_policy's ``BaseImagePolicy``):

* ``predict_action(obs) -> {"action": (B, Ta, Da), "action_pred": (B, H, Da)}`` from a raw
  observation window ``obs[key]: (B, To, ...)``; the returned actions are absolute and
  unnormalized, ready for the environment;
* ``reset()`` clears any per-episode state;
* ``set_normalizer(DictNormalizer)`` installs the fitted normalizers (keys: the encoder's inputs
  and ``"action"``);
* ``compute_loss(batch)`` is the DDPM training loss (epsilon regression) on
  ``batch = {"obs": {...}, "action": (B, H, Da)}``.

Observation history and action chunking: the policy sees ``n_obs_steps`` observations
``t - To + 1 .. t`` and predicts a horizon of ``H`` actions starting at ``t - To + 1``; the
``n_action_steps`` actions starting at ``t`` are executed.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from symlab.data import DictNormalizer, Normalizer

from ._obs import ObsPreprocessor, pose_action_normalizer
from ._schedulers import NoiseSchedulerConfig, make_noise_scheduler
from ._se3 import POSE_ACTION_DIM, ActionConversion


def _draw_on(generator: torch.Generator | None, device: torch.device) -> torch.device:
    """Where to draw random numbers: the generator's own device (a CPU generator then gives a
    CUDA policy the same numbers as a CPU one), else ``device``."""
    return generator.device if generator is not None else device


class DiffusionPolicy(nn.Module):
    """Conditional DDPM over action chunks.

    Parameters
    ----------
    obs_encoder : nn.Module
        Maps the normalized, preprocessed observation dict to global features ``(B, C)``
        (or ``(B, To, F)``, flattened here).
    denoiser : nn.Module
        ``denoiser(noisy (B, H, Da), timesteps (B,), global_cond (B, C)) -> (B, H, Da)``, e.g.
        :class:`~symlab.policy.ConditionalUnet1D` or :class:`~symlab.policy.CyclicUnet1D`.
    preprocessor : ObsPreprocessor
        Raw observations -> encoder inputs (images to float, proprioception).
    action_conversion : ActionConversion, optional
        Parameterisation of pose actions (absolute / relative / delta). ``None`` predicts the
        dataset's actions as they are (any ``action_dim``).
    action_dim : int
        ``Da`` (10 for pose actions).
    horizon, n_action_steps, n_obs_steps : int
        Action chunking: 16, 8, 2 in diffusion policy.
    scheduler : NoiseSchedulerConfig
        Training schedule and sampler.
    """

    def __init__(
        self,
        obs_encoder: nn.Module,
        denoiser: nn.Module,
        preprocessor: ObsPreprocessor,
        action_conversion: ActionConversion | None = None,
        *,
        action_dim: int = POSE_ACTION_DIM,
        horizon: int = 16,
        n_action_steps: int = 8,
        n_obs_steps: int = 2,
        scheduler: NoiseSchedulerConfig | None = None,
    ) -> None:
        super().__init__()
        if not 1 <= n_obs_steps <= horizon or n_obs_steps - 1 + n_action_steps > horizon:
            raise ValueError(
                f"need n_obs_steps - 1 + n_action_steps <= horizon, found n_obs_steps="
                f"{n_obs_steps}, n_action_steps={n_action_steps}, horizon={horizon}"
            )
        if action_conversion is not None and action_dim != POSE_ACTION_DIM:
            raise ValueError(f"pose action conversions need action_dim 10, found {action_dim}")
        self.obs_encoder = obs_encoder
        self.denoiser = denoiser
        self.preprocessor = preprocessor
        self.action_conversion = action_conversion
        self.action_dim = action_dim
        self.horizon = horizon
        self.n_action_steps = n_action_steps
        self.n_obs_steps = n_obs_steps
        self.scheduler_config = scheduler or NoiseSchedulerConfig()
        self.noise_scheduler = make_noise_scheduler(self.scheduler_config, "ddpm")
        self.sampler = make_noise_scheduler(self.scheduler_config, self.scheduler_config.sampler)
        self.num_inference_steps = (
            self.scheduler_config.num_inference_steps or self.scheduler_config.num_train_timesteps
        )
        self.normalizer = DictNormalizer()

    # ------------------------------------------------------------------ normalization
    def set_normalizer(self, normalizer: DictNormalizer) -> None:
        """Install fitted normalizers (copied into this policy's state dict)."""
        needed = [*self.preprocessor.output_keys, "action"]
        missing = [k for k in needed if k not in normalizer]
        if missing:
            raise KeyError(f"normalizer lacks {missing}; the policy needs {needed}")
        self.normalizer = DictNormalizer()
        self.normalizer.load_state_dict(normalizer.state_dict())
        self.normalizer.to(next(iter(self.parameters()), torch.empty(0)).device)

    @torch.no_grad()
    def fit_normalizer(self, obs: Mapping[str, Tensor], actions: Tensor) -> DictNormalizer:
        """Fit normalizers on a dataset's windows (images get identity normalizers).

        Parameters
        ----------
        obs : mapping of raw low-dim observation windows ``(N, To, ...)``; image keys may be
            left out.
        actions : Tensor
            Absolute actions ``(N, H, Da)`` of the same windows.
        """
        norm = DictNormalizer()
        for key in self.preprocessor.image_keys:
            norm[key] = Normalizer.identity()
        if self.preprocessor.proprio != "none":
            pre = ObsPreprocessor(
                image_keys=(),
                proprio=self.preprocessor.proprio,
                pos_key=self.preprocessor.pos_key,
                quat_key=self.preprocessor.quat_key,
                gripper_key=self.preprocessor.gripper_key,
                workspace_center=self.preprocessor.center.tolist(),
            ).to(self.preprocessor.center.device)
            proprio = pre(obs)["proprio"]
            norm["proprio"] = self.preprocessor.proprio_normalizer(proprio)
        params = self.encode_actions(obs, actions.to(torch.float64))
        if self.action_conversion is not None:
            norm["action"] = pose_action_normalizer(params)
        else:
            norm["action"] = Normalizer("limits").fit(params)
        return norm.float()

    # ------------------------------------------------------------------ actions
    def encode_actions(self, obs: Mapping[str, Tensor], actions: Tensor) -> Tensor:
        """Absolute dataset actions -> the predicted parameterisation (unnormalized)."""
        if self.action_conversion is None:
            return actions
        current = self.preprocessor.current_pose(obs)
        return self.action_conversion.encode(actions.to(torch.float64), current).to(actions.dtype)

    def decode_actions(self, obs: Mapping[str, Tensor], params: Tensor) -> Tensor:
        """Predicted parameterisation (unnormalized) -> absolute actions."""
        if self.action_conversion is None:
            return params
        current = self.preprocessor.current_pose(obs)
        return self.action_conversion.decode(params.to(torch.float64), current).to(params.dtype)

    # ------------------------------------------------------------------ conditioning
    def _window(self, obs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        out = {}
        for key in self.preprocessor.raw_keys:
            if key not in obs:
                raise KeyError(f"observation is missing {key!r}; it has {sorted(obs)}")
            x = torch.as_tensor(obs[key])
            if x.shape[1] < self.n_obs_steps:
                raise ValueError(
                    f"observation {key!r} has {x.shape[1]} steps, the policy needs "
                    f"n_obs_steps={self.n_obs_steps}"
                )
            out[key] = x[:, x.shape[1] - self.n_obs_steps :]
        return out

    def global_cond(self, obs: Mapping[str, Tensor]) -> Tensor:
        """Normalized observation features ``(B, C)`` from a raw observation window."""
        nobs = self.normalizer.normalize(self.preprocessor(obs))
        cond = self.obs_encoder(nobs)
        return cond.flatten(1)

    # ------------------------------------------------------------------ training
    def compute_loss(self, batch: Mapping[str, object], generator=None) -> Tensor:
        """DDPM loss: MSE between the true and the predicted noise (or sample)."""
        obs = self._window(batch["obs"])
        actions = torch.as_tensor(batch["action"])
        if actions.shape[1:] != (self.horizon, self.action_dim):
            raise ValueError(
                f"batch actions must be (B, {self.horizon}, {self.action_dim}), "
                f"found {tuple(actions.shape)}"
            )
        target_actions = self.normalizer["action"].normalize(self.encode_actions(obs, actions))
        cond = self.global_cond(obs)
        B = target_actions.shape[0]
        dev = target_actions.device
        noise = torch.randn(
            target_actions.shape, generator=generator, device=_draw_on(generator, dev)
        )
        noise = noise.to(dev, target_actions.dtype)
        n_train = self.scheduler_config.num_train_timesteps
        t = torch.randint(0, n_train, (B,), generator=generator, device=_draw_on(generator, dev))
        t = t.to(dev)
        noisy = self.noise_scheduler.add_noise(target_actions, noise, t)
        pred = self.denoiser(noisy, t, cond)
        target = noise if self.scheduler_config.prediction_type == "epsilon" else target_actions
        return F.mse_loss(pred, target)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def conditional_sample(self, cond: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Run the reverse process from Gaussian noise; returns normalized ``(B, H, Da)``."""
        B = cond.shape[0]
        x = torch.randn(
            (B, self.horizon, self.action_dim),
            generator=generator,
            device=_draw_on(generator, cond.device),
            dtype=cond.dtype,
        ).to(cond.device)
        self.sampler.set_timesteps(self.num_inference_steps)
        for t in self.sampler.timesteps:
            t_dev = t.to(cond.device)
            model_out = self.denoiser(x, t_dev, cond)
            x = self.sampler.step(model_out, t, x, generator=generator).prev_sample
        return x

    @torch.no_grad()
    def predict_action(
        self, obs: Mapping[str, Tensor], generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Actions for a raw observation window ``obs[key]: (B, >= To, ...)``.

        Parameters
        ----------
        obs : mapping
            Raw observations; the last ``n_obs_steps`` steps are used.
        generator : torch.Generator, optional
            Source of the diffusion noise (fixed noise makes the policy a deterministic map).

        Returns
        -------
        dict
            ``"action"``: ``(B, n_action_steps, Da)`` absolute actions to execute;
            ``"action_pred"``: the whole predicted horizon ``(B, H, Da)``.
        """
        window = self._window(obs)
        cond = self.global_cond(window)
        naction = self.conditional_sample(cond, generator)
        params = self.normalizer["action"].unnormalize(naction)
        action_pred = self.decode_actions(window, params)
        start = self.n_obs_steps - 1
        return {
            "action": action_pred[:, start : start + self.n_action_steps],
            "action_pred": action_pred,
        }

    def reset(self) -> None:
        """Clear per-episode state (none: the observation history lives in the controller)."""
