"""Observation and environment configuration (plain dataclasses, validated on construction)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .perturbation import PerturbationConfig

__all__ = [
    "ACTION_MODES",
    "CAMERA_NAMES",
    "CameraConfig",
    "EnvConfig",
    "ObservationConfig",
]

# Cameras every task scene provides. RLBench-like: front, left_shoulder, right_shoulder, overhead,
# wrist (the gripper camera). MimicGen/robomimic: agentview and robot0_eye_in_hand (``wrist`` is
# the same MuJoCo camera as ``robot0_eye_in_hand``). ISP: robot0_eye_in_hand_wide (130 deg fovy).
CAMERA_NAMES = (
    "front",
    "left_shoulder",
    "right_shoulder",
    "overhead",
    "wrist",
    "agentview",
    "robot0_eye_in_hand",
    "robot0_eye_in_hand_wide",
)

ACTION_MODES = ("abs_pose", "delta_pose")


@dataclass(frozen=True)
class CameraConfig:
    """One rendered camera: which modalities at which resolution.

    Observation keys: ``<name>_image`` (H, W, 3) uint8, ``<name>_depth`` (H, W) float32 metres,
    ``<name>_segmentation`` (H, W) int32 MuJoCo body id (-1 = background), and with
    ``ObservationConfig.camera_params`` ``<name>_intrinsics`` (3, 3) and ``<name>_extrinsics``
    (4, 4) OpenCV camera-to-world.
    """

    name: str
    width: int = 128
    height: int = 128
    rgb: bool = True
    depth: bool = False
    segmentation: bool = False

    def __post_init__(self):
        if self.name not in CAMERA_NAMES:
            raise ValueError(f"unknown camera {self.name!r}; available cameras: {CAMERA_NAMES}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"camera {self.name!r}: width and height must be positive")
        if not (self.rgb or self.depth or self.segmentation):
            raise ValueError(f"camera {self.name!r} renders nothing (rgb, depth, segmentation off)")


@dataclass(frozen=True)
class ObservationConfig:
    """What the environment returns each step. Only the listed cameras are rendered.

    Parameters
    ----------
    cameras : tuple of CameraConfig
        Rendered cameras (empty: no rendering at all).
    proprio : bool
        ``robot0_eef_pos`` (3), ``robot0_eef_quat`` (4, xyzw), ``robot0_eef_pose`` (4, 4),
        ``robot0_gripper_qpos`` (2), ``robot0_gripper_width`` (1), ``robot0_gripper_open`` (1),
        ``robot0_joint_pos`` (7), ``robot0_joint_vel`` (7).
    object_state : bool
        ``object_poses`` (n_objects, 4, 4) world poses of the task's objects (privileged state).
    camera_params : bool
        Add ``<cam>_intrinsics`` and ``<cam>_extrinsics`` for every rendered camera.
    point_cloud : bool
        ``point_cloud`` (N, 3) float32 world-frame points fused from every camera with depth, with
        ``point_cloud_rgb`` (N, 3) uint8 when those cameras also render RGB. Cropped to
        ``point_cloud_bounds`` (world frame; ``None`` uses the task's workspace bounds).
    point_cloud_points : int or None
        Fixed size by farthest-point sampling (``None`` keeps every cropped point).
    voxel_resolution : int or None
        Also return ``voxels`` (C, R, R, R): mean RGB in [0, 1] and occupancy over the bounds.
    reflections : bool
        Render the floor/table reflections as robosuite does. Off by default: the mirrored pass
        more than doubles the software-rendering (osmesa) time per camera.
    """

    cameras: tuple[CameraConfig, ...] = ()
    proprio: bool = True
    object_state: bool = False
    camera_params: bool = False
    point_cloud: bool = False
    point_cloud_bounds: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    point_cloud_points: int | None = None
    voxel_resolution: int | None = None
    reflections: bool = False

    def __post_init__(self):
        object.__setattr__(self, "cameras", tuple(self.cameras))
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate camera in ObservationConfig: {names}")
        if (self.point_cloud or self.voxel_resolution) and not any(c.depth for c in self.cameras):
            raise ValueError(
                "point_cloud/voxel_resolution need at least one camera with depth=True"
            )

    @classmethod
    def mimicgen(cls, size: int = 84, **kw) -> ObservationConfig:
        """Eye-in-hand + agentview RGB at ``size`` with proprioception (robomimic keys)."""
        cams = tuple(CameraConfig(n, size, size) for n in ("agentview", "robot0_eye_in_hand"))
        return cls(cameras=cams, **kw)

    @classmethod
    def rlbench(cls, size: int = 128, point_cloud: bool = True, **kw) -> ObservationConfig:
        """Front, shoulders and wrist RGB-D (as PerAct/EquAct) with a fused point cloud."""
        cams = tuple(
            CameraConfig(n, size, size, depth=True)
            for n in ("front", "left_shoulder", "right_shoulder", "wrist")
        )
        return cls(cameras=cams, camera_params=True, point_cloud=point_cloud, **kw)

    @classmethod
    def low_dim(cls) -> ObservationConfig:
        """Proprioception and privileged object poses, no rendering."""
        return cls(object_state=True)


@dataclass(frozen=True)
class EnvConfig:
    """Everything but the task that defines an environment instance."""

    obs: ObservationConfig = field(default_factory=ObservationConfig)
    perturbation: PerturbationConfig = field(default_factory=PerturbationConfig)
    action_mode: str = "abs_pose"
    control_freq: int = 20
    max_steps: int | None = None  # None: the task's default horizon

    def __post_init__(self):
        if self.action_mode not in ACTION_MODES:
            raise ValueError(
                f"unknown action_mode {self.action_mode!r}; expected one of {ACTION_MODES}"
            )
