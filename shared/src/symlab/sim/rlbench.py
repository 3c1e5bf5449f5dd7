"""RLBench adapter: the benchmark's observation/keyframe interface over RLBench data and, when
``rlbench`` (CoppeliaSim + PyRep) is installed, over live RLBench tasks.

Conversion code works without RLBench: RLBench episode folders (``low_dim_obs.pkl``,
``variation_descriptions.pkl``, ``<camera>_{rgb,depth,mask}/<i>.png``) are read with a stub
unpickler, and 3D Diffuser Actor / EquAct ``.dat`` episodes (blosc-compressed pickles of
``[frame_ids, obs (n_cam, 2, 3, H, W), actions (1, 8), camera_dicts, grippers (1, 8), ...]``)
need only the ``blosc`` package.

Conventions produced: the same observation keys as :class:`symlab.sim.SimEnv` (``<cam>_image``,
``<cam>_depth`` in metres, ``<cam>_intrinsics`` / ``<cam>_extrinsics`` in the OpenCV convention,
``robot0_eef_pose`` etc.), quaternions ``xyzw`` as in RLBench's ``gripper_pose``.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .geometry import pose_from_pos_quat
from .keyframes import extract_keyframes

__all__ = [
    "RLBENCH_CAMERAS",
    "RLBenchEnv",
    "camera_params_to_opencv",
    "convert_observation",
    "decode_depth_png",
    "encode_depth_png",
    "load_dat_episode",
    "load_episode",
    "pointcloud_from_depth_and_camera_params",
    "rlbench_available",
]

RLBENCH_CAMERAS = ("front", "left_shoulder", "right_shoulder", "overhead", "wrist")
#: RLBench stores depth PNGs as 24-bit integers over the near..far range.
DEPTH_SCALE = 2**24 - 1


def rlbench_available() -> bool:
    """Whether ``rlbench`` can be imported (needs CoppeliaSim and PyRep)."""
    return importlib.util.find_spec("rlbench") is not None


# ---------------------------------------------------------------------- depth and cameras
def decode_depth_png(rgb: np.ndarray, near: float | None = None, far: float | None = None):
    """RLBench depth PNG (24-bit RGB code) -> normalised depth in [0, 1], or metres when
    ``near`` and ``far`` are given (``near + d * (far - near)``)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"depth PNG must be H x W x 3, found shape {rgb.shape}")
    code = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    d = code.astype(np.float64) / DEPTH_SCALE
    if near is None or far is None:
        return d
    return near + d * (far - near)


def encode_depth_png(depth_normalised: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decode_depth_png` for normalised depth (writes RLBench's format)."""
    code = np.round(np.clip(depth_normalised, 0.0, 1.0) * DEPTH_SCALE).astype(np.int64)
    return np.stack([(code >> 16) & 255, (code >> 8) & 255, code & 255], axis=-1).astype(np.uint8)


def pointcloud_from_depth_and_camera_params(depth, extrinsics, intrinsics) -> np.ndarray:
    """World points ``(H, W, 3)`` from metric depth, exactly as RLBench computes them: invert
    ``K [R^T | -R^T C]`` for any sign convention of ``K`` (CoppeliaSim's has negative focals)."""
    depth = np.asarray(depth, dtype=np.float64)
    h, w = depth.shape
    R, C = extrinsics[:3, :3], extrinsics[:3, 3:]
    world_to_cam = np.concatenate([R.T, -R.T @ C], axis=1)
    proj = np.concatenate([intrinsics @ world_to_cam, [[0, 0, 0, 1]]], axis=0)
    inv = np.linalg.inv(proj)[:3]
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    pix = np.stack([u * depth, v * depth, depth, np.ones_like(depth)], axis=-1)
    return pix @ inv.T


def camera_params_to_opencv(intrinsics, extrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Rewrite RLBench ``(K, camera-to-world)`` so that ``K`` has positive focal lengths and the
    pose is an OpenCV camera (x right, y down, z forward) producing the same pixels."""
    K = np.asarray(intrinsics, dtype=np.float64)
    E = np.asarray(extrinsics, dtype=np.float64)
    s = np.sign(np.diag(K)[:2])
    s[s == 0] = 1.0
    if s[0] * s[1] < 0:
        raise ValueError(
            f"intrinsics with one negative focal length cannot be expressed as a proper OpenCV "
            f"camera: {np.diag(K)}"
        )
    S = np.diag([s[0], s[1], 1.0])
    K2 = K @ S
    E2 = E.copy()
    E2[:3, :3] = E[:3, :3] @ S
    return K2, E2


# ---------------------------------------------------------------------- observations
def _get(obs: Any, name: str, default=None):
    if isinstance(obs, dict):
        return obs.get(name, default)
    return getattr(obs, name, default)


def convert_observation(obs: Any, cameras=RLBENCH_CAMERAS) -> dict[str, np.ndarray]:
    """An RLBench ``Observation`` (or a dict with its attribute names) -> benchmark keys.

    Depth is returned in metres: RLBench observations hold metric depth when the
    ObservationConfig asked for ``depth_in_meters``, otherwise normalised depth that is scaled
    with ``misc['<cam>_camera_near'/'_far']``.
    """
    misc = _get(obs, "misc", {}) or {}
    out: dict[str, np.ndarray] = {}
    for cam in cameras:
        rgb = _get(obs, f"{cam}_rgb")
        if rgb is not None:
            out[f"{cam}_image"] = np.asarray(rgb, dtype=np.uint8)
        K = misc.get(f"{cam}_camera_intrinsics")
        E = misc.get(f"{cam}_camera_extrinsics")
        if K is not None and E is not None:
            out[f"{cam}_intrinsics"], out[f"{cam}_extrinsics"] = camera_params_to_opencv(K, E)
        depth = _get(obs, f"{cam}_depth")
        if depth is not None:
            depth = np.asarray(depth, dtype=np.float64)
            near, far = misc.get(f"{cam}_camera_near"), misc.get(f"{cam}_camera_far")
            normalised = depth.max() <= 1.0 + 1e-9 and near is not None and far is not None
            if normalised and not misc.get("depth_in_meters", False):
                depth = near + depth * (far - near)
            out[f"{cam}_depth"] = depth.astype(np.float32)
        mask = _get(obs, f"{cam}_mask")
        if mask is not None:
            out[f"{cam}_segmentation"] = np.asarray(mask).astype(np.int32)
        pcd = _get(obs, f"{cam}_point_cloud")
        if pcd is not None:
            out[f"{cam}_point_cloud"] = np.asarray(pcd, dtype=np.float32)
    pose = _get(obs, "gripper_pose")
    if pose is not None:
        pose = np.asarray(pose, dtype=np.float64)
        T = pose_from_pos_quat(pose[:3], pose[3:7])
        out["robot0_eef_pos"] = pose[:3].copy()
        out["robot0_eef_quat"] = pose[3:7].copy()
        out["robot0_eef_pose"] = T
    g = _get(obs, "gripper_open")
    if g is not None:
        out["robot0_gripper_open"] = np.array([float(g)])
    for src, dst in (
        ("joint_positions", "robot0_joint_pos"),
        ("joint_velocities", "robot0_joint_vel"),
        ("gripper_joint_positions", "robot0_gripper_qpos"),
    ):
        v = _get(obs, src)
        if v is not None:
            out[dst] = np.asarray(v, dtype=np.float64)
    return out


# ---------------------------------------------------------------------- episode files
class _Stub:
    """Stand-in for RLBench/PyRep classes when unpickling without RLBench."""

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.__dict__.update(state or {})


class _StubUnpickler(pickle.Unpickler):
    _classes: dict[tuple[str, str], type] = {}

    def find_class(self, module, name):
        if module.split(".")[0] in ("rlbench", "pyrep"):
            key = (module, name)
            if key not in self._classes:
                self._classes[key] = type(name, (_Stub,), {"__module__": module})
            return self._classes[key]
        return super().find_class(module, name)


def _load_pickle(path: Path):
    data = path.read_bytes()
    if rlbench_available():
        return pickle.loads(data)
    return _StubUnpickler(io.BytesIO(data)).load()


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def load_episode(folder, cameras=RLBENCH_CAMERAS, images: bool = True) -> dict[str, Any]:
    """Read an RLBench episode folder.

    Returns ``observations`` (list of dicts with benchmark keys), ``descriptions`` (from
    ``variation_descriptions.pkl`` of the episode or its variation folder), ``keyframes`` (PerAct
    extraction) and ``variation``.
    """
    folder = Path(folder)
    low = folder / "low_dim_obs.pkl"
    if not low.exists():
        raise FileNotFoundError(f"not an RLBench episode folder (no low_dim_obs.pkl): {folder}")
    demo = _load_pickle(low)
    steps = getattr(demo, "_observations", demo)
    obs_list = []
    for i, ob in enumerate(steps):
        misc = dict(_get(ob, "misc", {}) or {})
        conv_in: dict[str, Any] = {
            k: _get(ob, k)
            for k in (
                "gripper_pose",
                "gripper_open",
                "joint_positions",
                "joint_velocities",
                "gripper_joint_positions",
            )
        }
        conv_in["misc"] = misc
        if images:
            for cam in cameras:
                rgb_p = folder / f"{cam}_rgb" / f"{i}.png"
                if rgb_p.exists():
                    conv_in[f"{cam}_rgb"] = _read_png(rgb_p)
                dep_p = folder / f"{cam}_depth" / f"{i}.png"
                if dep_p.exists():
                    conv_in[f"{cam}_depth"] = decode_depth_png(_read_png(dep_p))
                mask_p = folder / f"{cam}_mask" / f"{i}.png"
                if mask_p.exists():
                    m = _read_png(mask_p).astype(np.int64)
                    conv_in[f"{cam}_mask"] = (m[..., 0] << 16) | (m[..., 1] << 8) | m[..., 2]
        obs_list.append(convert_observation(conv_in, cameras))
    desc_path = folder / "variation_descriptions.pkl"
    if not desc_path.exists():
        desc_path = folder.parent.parent / "variation_descriptions.pkl"
    descriptions = _load_pickle(desc_path) if desc_path.exists() else []
    var_path = folder / "variation_number.pkl"
    variation = int(_load_pickle(var_path)) if var_path.exists() else None
    keyframes = []
    if obs_list and "robot0_joint_vel" in obs_list[0]:
        keyframes = extract_keyframes(
            np.array([o["robot0_gripper_open"][0] for o in obs_list]),
            np.stack([o["robot0_joint_vel"] for o in obs_list]),
        )
    return {
        "observations": obs_list,
        "descriptions": list(descriptions),
        "keyframes": keyframes,
        "variation": variation,
    }


def load_dat_episode(path) -> dict[str, Any]:
    """Read a 3D Diffuser Actor / EquAct ``.dat`` episode (needs ``pip install blosc``).

    Returns ``frame_ids``, ``rgb`` (T, n_cam, H, W, 3) uint8 (stored in [-1, 1]),
    ``points`` (T, n_cam, H, W, 3) world xyz, ``actions`` (T, 8: xyz, quat xyzw, open),
    ``gripper`` (T, 8), ``action_poses`` (T, 4, 4), ``cameras`` and ``trajectories`` if stored.
    """
    try:
        import blosc
    except ImportError as e:
        raise ImportError(
            f"reading .dat episodes needs the 'blosc' package (pip install blosc): {path}"
        ) from e
    raw = Path(path).read_bytes()
    try:
        ep = pickle.loads(blosc.decompress(raw))
    except Exception as e:
        raise ValueError(f"{path}: not a blosc-compressed pickle episode ({e})") from e
    if not isinstance(ep, (list, tuple)) or len(ep) < 5:
        raise ValueError(f"{path}: expected [frame_ids, obs, actions, cameras, gripper, ...]")

    def arr(x):
        return np.asarray(x.numpy() if hasattr(x, "numpy") else x)

    obs = np.stack([arr(o) for o in ep[1]])  # (T, n_cam, 2, 3, H, W)
    if obs.ndim != 6 or obs.shape[2] != 2 or obs.shape[3] != 3:
        raise ValueError(f"{path}: obs must be (T, n_cam, 2, 3, H, W), found {obs.shape}")
    rgb = np.clip((obs[:, :, 0] / 2 + 0.5) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    actions = np.concatenate([arr(a).reshape(-1, 8) for a in ep[2]])
    gripper = np.concatenate([arr(g).reshape(-1, 8) for g in ep[4]])
    poses = np.stack([pose_from_pos_quat(a[:3], a[3:7]) for a in actions])
    cams = list(ep[3][0].keys()) if ep[3] and isinstance(ep[3][0], dict) else []
    out = {
        "frame_ids": list(ep[0]),
        "rgb": np.moveaxis(rgb, 2, -1),
        "points": np.moveaxis(obs[:, :, 1], 2, -1).astype(np.float32),
        "actions": actions,
        "gripper": gripper,
        "action_poses": poses,
        "cameras": cams,
    }
    if len(ep) > 5:
        out["trajectories"] = [arr(t) for t in ep[5]]
    return out


# ---------------------------------------------------------------------- live environment
class RLBenchEnv:
    """The SimEnv keyframe interface over a live RLBench task (requires ``rlbench``).

    ``reset(seed, variation=None) -> obs``, ``execute_keyframe(pose, gripper_open) -> reached``
    (RLBench's motion planner; planning failures count as not reached), ``step(action8)``,
    ``is_success()``, ``get_observation()``. Observations use the benchmark's keys.
    """

    def __init__(
        self,
        task: str,
        cameras=("front", "left_shoulder", "right_shoulder", "wrist"),
        image_size: int = 128,
        headless: bool = True,
        collision_checking: bool = False,
    ):
        if not rlbench_available():
            raise ImportError(
                "RLBenchEnv needs rlbench (with CoppeliaSim and PyRep); it is not installed. "
                "Use symlab.sim.SimEnv with the keyframe suite instead."
            )
        from rlbench.action_modes.action_mode import MoveArmThenGripper
        from rlbench.action_modes.arm_action_modes import EndEffectorPoseViaPlanning
        from rlbench.action_modes.gripper_action_modes import Discrete
        from rlbench.environment import Environment
        from rlbench.observation_config import CameraConfig as RLCam
        from rlbench.observation_config import ObservationConfig as RLObs
        from rlbench.utils import name_to_task_class

        self.cameras = tuple(cameras)
        obs_cfg = RLObs()
        obs_cfg.set_all(False)
        for cam in RLBENCH_CAMERAS:
            cfg = RLCam(
                image_size=(image_size, image_size), depth_in_meters=True, masks_as_one_channel=True
            )
            cfg.set_all(cam in self.cameras)
            setattr(obs_cfg, f"{cam}_camera", cfg)
        obs_cfg.gripper_pose = obs_cfg.gripper_open = obs_cfg.joint_positions = True
        obs_cfg.joint_velocities = obs_cfg.gripper_joint_positions = True
        mode = MoveArmThenGripper(
            EndEffectorPoseViaPlanning(collision_checking=collision_checking), Discrete()
        )
        self._env = Environment(mode, obs_config=obs_cfg, headless=headless)
        self._env.launch()
        self._task = self._env.get_task(name_to_task_class(task))
        self._success = False
        self._last = None
        self.descriptions: list[str] = []

    def reset(self, seed: int, variation: int | None = None) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        n = self._task.variation_count()
        self._task.set_variation(int(rng.integers(n)) if variation is None else variation)
        np.random.seed(seed)  # noqa: NPY002 (RLBench samples scenes from numpy's global state)
        self.descriptions, obs = self._task.reset()
        self._success = False
        self._last = obs
        return convert_observation(obs, self.cameras)

    def get_observation(self) -> dict[str, np.ndarray]:
        return convert_observation(self._last, self.cameras)

    def step(self, action) -> tuple[dict[str, np.ndarray], float, bool, dict]:
        obs, reward, done = self._task.step(np.asarray(action, dtype=np.float64))
        self._last = obs
        self._success = reward > 0
        return (
            convert_observation(obs, self.cameras),
            float(reward),
            bool(done),
            {"success": self._success},
        )

    def execute_keyframe(self, pose, gripper_open: bool, **_) -> bool:
        from rlbench.backend.exceptions import InvalidActionError
        from scipy.spatial.transform import Rotation

        pose = np.asarray(pose, dtype=np.float64)
        if pose.shape == (4, 4):
            q = Rotation.from_matrix(pose[:3, :3]).as_quat()
            pose = np.concatenate([pose[:3, 3], q])
        try:
            self.step(np.concatenate([pose, [float(gripper_open)]]))
            return True
        except InvalidActionError:
            return False

    def is_success(self) -> bool:
        return self._success

    def close(self) -> None:
        self._env.shutdown()
