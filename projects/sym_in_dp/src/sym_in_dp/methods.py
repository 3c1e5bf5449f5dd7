"""The paper's design space as named methods, and the builder of their policies.

============  ==========  ==========  =============  ===========================
method        encoder     actions     proprio        cameras
============  ==========  ==========  =============  ===========================
cnn_abs       CNN         absolute    absolute       eye-in-hand
cnn_delta     CNN         delta       gripper frame  eye-in-hand
cnn_rel       CNN         relative    gripper frame  eye-in-hand
equienc_rel   Equi Enc    relative    gripper frame  eye-in-hand
fa_rel        FA(CNN)     relative    gripper frame  eye-in-hand
equidiff_abs  EquiDiff    absolute    pose (C_N)     agentview + eye-in-hand
============  ==========  ==========  =============  ===========================

``cnn_rel_absproprio`` is the relative-action policy with the released (absolute)
proprioception, which breaks the exact SE(3) invariance. The "Pretrain" rows of the paper need
ImageNet weights, which cannot be obtained here: ``fa_rel`` is FA on a randomly initialised
ResNet-18 ("FA-scratch").
"""

from __future__ import annotations

from dataclasses import dataclass

from symlab.policy import (
    ActionConversion,
    ConditionalUnet1D,
    CyclicUnet1D,
    DiffusionPolicy,
    NoiseSchedulerConfig,
    ObsPreprocessor,
)

from .config import AGENTVIEW, EYE_IN_HAND, DataConfig, ModelConfig
from .encoders import (
    EquiDiffObsEncoder,
    EquivariantResEncoder,
    FrameAveragedEncoder,
    ImageObsEncoder,
    ResNet18Encoder,
)


@dataclass(frozen=True)
class MethodSpec:
    encoder: str  # cnn | equi | fa | equidiff
    action: str  # absolute | delta | relative
    proprio: str  # absolute | gripper_frame | pose_steps | none
    cameras: tuple[str, ...] = (EYE_IN_HAND,)
    label: str = ""


METHODS: dict[str, MethodSpec] = {
    "cnn_abs": MethodSpec("cnn", "absolute", "absolute", label="CNN-abs"),
    "cnn_delta": MethodSpec("cnn", "delta", "gripper_frame", label="CNN-delta"),
    "cnn_rel": MethodSpec("cnn", "relative", "gripper_frame", label="CNN-rel"),
    "cnn_rel_absproprio": MethodSpec(
        "cnn", "relative", "absolute", label="CNN-rel (absolute proprio, as released)"
    ),
    "equienc_rel": MethodSpec("equi", "relative", "gripper_frame", label="EquiEnc-rel"),
    "fa_rel": MethodSpec("fa", "relative", "gripper_frame", label="FA-rel (scratch)"),
    "equidiff_abs": MethodSpec(
        "equidiff", "absolute", "pose_steps", (AGENTVIEW, EYE_IN_HAND), label="EquiDiff(Im)-abs"
    ),
}

LOW_DIM_KEYS = ["robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos"]


def proprio_dim(proprio: str, n_obs_steps: int) -> int:
    return {
        "absolute": 9 * n_obs_steps,
        "gripper_frame": 9 * (n_obs_steps - 1) + 2 * n_obs_steps,
        "pose_steps": 11 * n_obs_steps,
        "none": 0,
    }[proprio]


def obs_keys(method: str) -> list[str]:
    """Raw observation keys a method reads."""
    return list(METHODS[method].cameras) + LOW_DIM_KEYS


def _cnn(model: ModelConfig, feature_dim: int | None = None) -> ResNet18Encoder:
    return ResNet18Encoder(model.cnn_width, model.num_kp, feature_dim or model.feature_dim)


def image_encoder(kind: str, model: ModelConfig):
    """The per-camera image encoder ``(N, 3, 76, 76) -> (N, feature_dim)`` of an encoder kind."""
    if kind == "cnn":
        return _cnn(model)
    if kind == "equi":
        return EquivariantResEncoder(3, model.equi_widths, model.equi_out, model.N)
    if kind == "fa":
        return FrameAveragedEncoder(_cnn(model, model.fa_blocks * model.N), model.N)
    raise ValueError(f"unknown encoder kind {kind!r}; expected cnn, equi or fa")


def build_policy(method: str, model: ModelConfig, data: DataConfig) -> DiffusionPolicy:
    """The :class:`~symlab.policy.DiffusionPolicy` of ``method`` (see :data:`METHODS`)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {sorted(METHODS)}")
    spec = METHODS[method]
    To = model.n_obs_steps
    pre = ObsPreprocessor(
        image_keys=spec.cameras, proprio=spec.proprio, workspace_center=model.workspace_center
    )
    conversion = ActionConversion(spec.action, workspace_center=model.workspace_center)
    sched = NoiseSchedulerConfig(
        num_train_timesteps=model.num_train_timesteps,
        sampler=model.sampler,
        num_inference_steps=model.num_inference_steps,
    )
    unet_kw = {
        "diffusion_step_embed_dim": model.diffusion_step_embed_dim,
        "kernel_size": model.kernel_size,
        "n_groups": model.n_groups,
    }
    if spec.encoder == "equidiff":
        av = EquivariantResEncoder(3, model.equi_widths, model.equi_out, model.N)
        encoder = EquiDiffObsEncoder(av, _cnn(model), model.equidiff_n_hidden, data.crop)
        denoiser = CyclicUnet1D(
            model.N,
            global_cond_fields=To * model.equidiff_n_hidden,
            act_emb_dim=model.equidiff_act_emb,
            down_dims=model.equidiff_down_dims,
            **unet_kw,
        )
    else:
        down_dims = model.fa_down_dims if spec.encoder == "fa" else model.down_dims
        # One encoder per camera (diffusion policy's share_rgb_model=False).
        cameras = {cam: image_encoder(spec.encoder, model) for cam in spec.cameras}
        encoder = ImageObsEncoder(cameras, data.crop, spec.proprio != "none")
        feature_dim = sum(enc.feature_dim for enc in cameras.values())
        cond_dim = To * feature_dim + proprio_dim(spec.proprio, To)
        denoiser = ConditionalUnet1D(10, cond_dim, down_dims=down_dims, **unet_kw)
    return DiffusionPolicy(
        encoder,
        denoiser,
        pre,
        conversion,
        horizon=model.horizon,
        n_action_steps=model.n_action_steps,
        n_obs_steps=To,
        scheduler=sched,
    )
