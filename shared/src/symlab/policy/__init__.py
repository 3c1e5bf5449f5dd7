"""The diffusion-policy core shared by the manipulation projects.

* :class:`ConditionalUnet1D`: diffusion policy's FiLM-conditioned temporal U-Net;
* :class:`CyclicUnet1D`: EquiDiff's C_N-equivariant denoiser (one shared-weight U-Net per group
  element, equivariant lift and head), with the equivariant layers :class:`LinearToRegular` and
  :class:`LinearFromRegular`;
* noise schedulers from diffusers (:class:`NoiseSchedulerConfig`, :func:`make_noise_scheduler`),
  :class:`EMAModel`;
* SE(3) / 6D rotation utilities and the absolute / relative / delta action parameterisations
  (:class:`ActionConversion`), gripper-frame proprioception;
* :class:`DiffusionPolicy` (``predict_action``, ``reset``, ``set_normalizer``,
  ``compute_loss``), :class:`ObsPreprocessor` and the action/proprio normalizers;
* observation history and action chunking for closed-loop execution
  (:class:`ActionChunkController`) and the :class:`EnvRunner` interface;
* :class:`PolicyDataset` windows over a :class:`symlab.data.ReplayBuffer` and
  :func:`train_policy` with periodic rollout evaluation.

Needs the optional extra ``symlab[policy]`` (diffusers) for the schedulers.
"""

from ._cyclic import (
    FIELD_KINDS,
    POSE10_ROWS_FIELDS,
    POSE10_ROWS_ORDER,
    CyclicUnet1D,
    LinearFromRegular,
    LinearToRegular,
    field_representation,
    roll_regular,
)
from ._dataset import PolicyDataset
from ._ema import EMAModel
from ._obs import (
    PROPRIO_MODES,
    ObsPreprocessor,
    fit_structured_normalizer,
    pose_action_normalizer,
)
from ._policy import DiffusionPolicy
from ._rollout import ActionChunkController, EnvRunner, ObservationHistory
from ._schedulers import NoiseSchedulerConfig, make_noise_scheduler
from ._se3 import (
    ACTION_KINDS,
    POSE_ACTION_DIM,
    ROT6D_CONVENTIONS,
    ActionConversion,
    absolute_to_delta,
    absolute_to_relative,
    axis_angle_action_to_pose,
    delta_to_absolute,
    eef_pose,
    gripper_frame_proprio,
    invert_pose,
    join_pose_action,
    make_pose,
    matrix_to_rot6d,
    pose_to_axis_angle_action,
    pose_to_vector,
    quat_xyzw_to_matrix,
    relative_to_absolute,
    rot6d_to_matrix,
    split_pose_action,
    vector_to_pose,
)
from ._training import TrainConfig, TrainResult, lr_lambda, train_policy
from ._unet import ConditionalResidualBlock1D, ConditionalUnet1D, SinusoidalPosEmb

__all__ = [
    "ACTION_KINDS",
    "FIELD_KINDS",
    "POSE10_ROWS_FIELDS",
    "POSE10_ROWS_ORDER",
    "POSE_ACTION_DIM",
    "PROPRIO_MODES",
    "ROT6D_CONVENTIONS",
    "ActionChunkController",
    "ActionConversion",
    "ConditionalResidualBlock1D",
    "ConditionalUnet1D",
    "CyclicUnet1D",
    "DiffusionPolicy",
    "EMAModel",
    "EnvRunner",
    "LinearFromRegular",
    "LinearToRegular",
    "NoiseSchedulerConfig",
    "ObsPreprocessor",
    "ObservationHistory",
    "PolicyDataset",
    "SinusoidalPosEmb",
    "TrainConfig",
    "TrainResult",
    "absolute_to_delta",
    "absolute_to_relative",
    "axis_angle_action_to_pose",
    "delta_to_absolute",
    "eef_pose",
    "field_representation",
    "fit_structured_normalizer",
    "gripper_frame_proprio",
    "invert_pose",
    "join_pose_action",
    "lr_lambda",
    "make_noise_scheduler",
    "make_pose",
    "matrix_to_rot6d",
    "pose_action_normalizer",
    "pose_to_axis_angle_action",
    "pose_to_vector",
    "quat_xyzw_to_matrix",
    "relative_to_absolute",
    "roll_regular",
    "rot6d_to_matrix",
    "split_pose_action",
    "train_policy",
    "vector_to_pose",
]
