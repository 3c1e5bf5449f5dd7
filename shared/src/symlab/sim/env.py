"""The benchmark environment: a robosuite Panda scene with perturbations, configurable
observations, absolute/delta pose actions and keyframe execution.

Typical use::

    from symlab.sim import SimEnv, ObservationConfig, PerturbationConfig
    pert = PerturbationConfig("se2")
    env = SimEnv("stack_d1", obs=ObservationConfig.mimicgen(), perturbation=pert)
    obs = env.reset(seed=100000)
    obs, reward, done, info = env.step(action)          # action: 7-d, see `action_mode`
    reached = env.execute_keyframe(pose_4x4, gripper_open=False)

Control is robosuite's OSC_POSE controller at 20 Hz (25 physics substeps of 2 ms), with absolute
targets in the **world** frame. ``delta_pose`` actions are converted to absolute targets by the
wrapper exactly as robosuite interprets its default delta input (scaled by 0.05 m and 0.5 rad,
relative to the achieved pose), but in the world frame.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from ._controller import FastOSC
from ._gl import configure_gl_backend
from ._robosuite import MUJOCO_CAMERA, import_robosuite, scene_class
from .config import ACTION_MODES, CameraConfig, EnvConfig, ObservationConfig
from .geometry import (
    farthest_point_sample,
    fuse_point_clouds,
    intrinsics_from_fovy,
    invert_pose,
    make_pose,
    pose_error,
    voxelize,
)
from .perturbation import PerturbationConfig, episode_rngs, sample_perturbation
from .tasks.base import Scene, Task, Waypoint, make_task

__all__ = ["DELTA_SCALE", "SimEnv"]

#: robosuite's default OSC output range: a delta action of 1 moves 5 cm / rotates 0.5 rad.
DELTA_SCALE = (0.05, 0.5)
_GRIPPER_OPEN, _GRIPPER_CLOSED = -1.0, 1.0


def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    q = Rotation.from_matrix(R).as_quat()  # xyzw
    return np.array([q[3], q[0], q[1], q[2]])


def _rot_from_wxyz(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    return Rotation.from_quat(np.concatenate([q[..., 1:], q[..., :1]], axis=-1)).as_matrix()


def _gl_context_class():
    # Pick the context from MUJOCO_GL now rather than trusting mujoco's import-time choice: if
    # something imported mujoco before the backend was configured, it would have chosen GLFW,
    # which needs a display.
    import mujoco

    backend = configure_gl_backend().lower()
    if backend == "osmesa":
        from mujoco.osmesa import GLContext
    elif backend == "egl":
        from mujoco.egl import GLContext
    else:
        GLContext = mujoco.GLContext
    return GLContext


class _Renderer:
    """Offscreen MuJoCo renderer reading RGB and depth from one pass per camera."""

    def __init__(self, model, width: int, height: int, reflections: bool = False):
        import mujoco

        self._mj = mujoco
        self.model = model
        # No multisampling: a multisampled depth buffer resolves to one sub-pixel sample (3/8
        # pixel off-centre), which breaks the pinhole model of the intrinsics.
        model.vis.quality.offsamples = 0
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), width)
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), height)
        self.gl = _gl_context_class()(model.vis.global_.offwidth, model.vis.global_.offheight)
        self.gl.make_current()
        self.ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self.ctx)
        self.ctx.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        self.scene = mujoco.MjvScene(model, maxgeom=10000)
        self.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = bool(reflections)
        self.opt = mujoco.MjvOption()
        # As robosuite renders: visual geoms (group 1) only, collision geoms (group 0) hidden.
        self.opt.geomgroup[0] = 0
        self.cam = mujoco.MjvCamera()
        self.cam.type = mujoco.mjtCamera.mjCAMERA_FIXED

    def render(self, data, cam_id: int, width: int, height: int, rgb, depth, seg):
        mj = self._mj
        self.gl.make_current()
        self.cam.fixedcamid = cam_id
        mj.mjv_updateScene(
            self.model, data, self.opt, None, self.cam, mj.mjtCatBit.mjCAT_ALL, self.scene
        )
        rect = mj.MjrRect(0, 0, width, height)
        out = {}
        if rgb or depth:
            mj.mjr_render(rect, self.scene, self.ctx)
            rgb_buf = np.empty((height, width, 3), np.uint8) if rgb else None
            depth_buf = np.empty((height, width), np.float32) if depth else None
            mj.mjr_readPixels(rgb_buf, depth_buf, rect, self.ctx)
            if rgb:
                out["rgb"] = rgb_buf[::-1].copy()  # OpenGL rows are bottom-up
            if depth:
                out["depth"] = self._metric_depth(depth_buf)[::-1].copy()
        if seg:
            flags = self.scene.flags
            flags[mj.mjtRndFlag.mjRND_SEGMENT] = True
            flags[mj.mjtRndFlag.mjRND_IDCOLOR] = True
            try:
                mj.mjr_render(rect, self.scene, self.ctx)
                buf = np.empty((height, width, 3), np.uint8)
                mj.mjr_readPixels(buf, None, rect, self.ctx)
            finally:
                flags[mj.mjtRndFlag.mjRND_SEGMENT] = False
                flags[mj.mjtRndFlag.mjRND_IDCOLOR] = False
            segid = buf[::-1].astype(np.int64)
            segid = segid[..., 0] + (segid[..., 1] << 8) + (segid[..., 2] << 16)
            n = self.scene.ngeom
            lut = np.full(n + 1, -1, dtype=np.int32)
            geoms = self.scene.geoms[:n]
            # Only geom objects map to bodies; decor (sites, tendons) stays background.
            for g in geoms:  # per scene geom (~100), not per pixel
                if g.segid >= 0 and g.objtype == mj.mjtObj.mjOBJ_GEOM:
                    lut[g.segid + 1] = self.model.geom_bodyid[g.objid]
            out["seg"] = lut[np.clip(segid, 0, n)]
        return out

    def _metric_depth(self, buf: np.ndarray) -> np.ndarray:
        # Reversed-Z perspective inverse, as in mujoco.Renderer (MuJoCo >= 3.2).
        extent = self.model.stat.extent
        znear = np.float32(self.model.vis.map.znear * extent)
        zfar = np.float32(self.model.vis.map.zfar * extent)
        c = -(zfar + znear) / (zfar - znear)
        d = -(np.float32(2) * zfar * znear) / (zfar - znear)
        c = np.float32(-0.5) * c - np.float32(0.5)
        d = np.float32(-0.5) * d
        return (d / (buf.astype(np.float64) + c)).astype(np.float32)

    def close(self):
        if self.ctx is not None:
            self.ctx.free()
            self.ctx = None
        if self.gl is not None:
            self.gl.free()
            self.gl = None


class SimEnv:
    """One task instance on robosuite/MuJoCo.

    Parameters
    ----------
    task : str or Task
        Registered task name (see :func:`symlab.sim.list_tasks`) or an instance.
    obs : ObservationConfig, optional
        What :meth:`get_observation` returns; only listed cameras are rendered. Default:
        proprioception only.
    perturbation : PerturbationConfig, optional
        Distribution of the workspace transform ``g`` (drawn from each reset's seed).
    action_mode : {'abs_pose', 'delta_pose'}
        ``abs_pose``: ``(x, y, z, rx, ry, rz, gripper)``, world-frame target position and
        axis-angle orientation of the gripper frame. ``delta_pose``: robomimic-style
        ``(dx, dy, dz, drx, dry, drz, gripper)`` in ``[-1, 1]``, scaled by ``DELTA_SCALE`` and
        applied to the achieved pose in the world frame (rotation pre-multiplied). Gripper:
        ``-1`` open, ``+1`` closed (robosuite convention).
    control_freq : int
        Policy steps per simulated second.
    max_steps : int, optional
        Episode horizon; default the task's ``max_steps``.
    terminate_on_success : bool
        ``step`` returns ``done=True`` as soon as the task succeeds.
    joint_noise : float
        Std (rad) of Gaussian noise on the initial arm joints, from the episode's robot stream
        (robosuite's default initialization noise is 0.02).
    max_speed, max_rot_speed : float
        Default translation (m/s) and rotation (rad/s) speed of interpolated keyframe motion.
    controller : {'fast', 'robosuite'}
        ``fast``: the same OSC_POSE and gripper control law as robosuite, computed by
        :class:`symlab.sim._controller.FastOSC` (several times faster; equal torques);
        ``robosuite``: robosuite's own controller objects.
    **task_options
        Passed to :func:`make_task` when ``task`` is a name.
    """

    def __init__(
        self,
        task: str | Task,
        obs: ObservationConfig | None = None,
        perturbation: PerturbationConfig | None = None,
        action_mode: str = "abs_pose",
        control_freq: int = 20,
        max_steps: int | None = None,
        terminate_on_success: bool = True,
        joint_noise: float = 0.02,
        max_speed: float = 0.3,
        max_rot_speed: float = 1.5,
        controller: str = "fast",
        **task_options,
    ):
        if action_mode not in ACTION_MODES:
            raise ValueError(f"unknown action_mode {action_mode!r}; expected one of {ACTION_MODES}")
        self.task = make_task(task, **task_options) if isinstance(task, str) else task
        self.obs_config = obs or ObservationConfig()
        self.perturbation = perturbation or PerturbationConfig()
        self.action_mode = action_mode
        self.control_freq = int(control_freq)
        self.max_steps = int(max_steps or self.task.max_steps)
        self.terminate_on_success = terminate_on_success
        self.joint_noise = float(joint_noise)
        self.max_speed = float(max_speed)
        self.max_rot_speed = float(max_rot_speed)
        #: Joint speed (rad/s) below which the arm counts as at rest at a keyframe.
        self.rest_velocity = 0.1

        import_robosuite()
        import mujoco
        from robosuite.controllers import load_composite_controller_config

        self._mj = mujoco

        ctrl = load_composite_controller_config(robot="Panda")
        arm = ctrl["body_parts"]["right"]
        arm["input_type"] = "absolute"
        arm["input_ref_frame"] = "world"
        cls = scene_class(self.task.robosuite_env_class(), tuple(self.task.workspace_center))
        kwargs = dict(
            robots="Panda",
            controller_configs=ctrl,
            has_renderer=False,
            has_offscreen_renderer=False,
            use_camera_obs=False,
            control_freq=self.control_freq,
            horizon=10**7,
            ignore_done=True,
            hard_reset=False,
            initialization_noise=None,
            lite_physics=True,
        )
        kwargs.update(self.task.robosuite_env_kwargs())
        self._rs = cls(**kwargs)
        self._rs.reset()
        self.sim = self._rs.sim
        self.model = self.sim.model._model
        self.data = self.sim.data._data
        self._n_substeps = int(round(self._rs.control_timestep / self._rs.model_timestep))
        robot = self._rs.robots[0]
        self._robot = robot
        self._eef_site = robot.eef_site_id["right"]
        self._arm_qpos = np.asarray(robot._ref_joint_pos_indexes)
        self._arm_qvel = np.asarray(robot._ref_joint_vel_indexes)
        self._grip_qpos = np.asarray(robot._ref_gripper_joint_pos_indexes["right"])
        self._cache_model()
        if controller not in ("fast", "robosuite"):
            raise ValueError(f"controller must be 'fast' or 'robosuite', found {controller!r}")
        self._fast = FastOSC(self) if controller == "fast" else None
        self.gripper_geoms = np.flatnonzero(
            [self.model.body(b).name.startswith("gripper0_") for b in self.model.geom_bodyid]
        )
        self._renderer: _Renderer | None = None
        self._cam_ids = {
            c.name: self._camera_id(MUJOCO_CAMERA.get(c.name, c.name))
            for c in self.obs_config.cameras
        }
        self.g = np.eye(4)
        self.g_inv = np.eye(4)
        self.scene = Scene()
        self.seed: int | None = None
        self.variation = 0
        self.t = 0
        self._gripper_cmd = _GRIPPER_OPEN
        self._expert_rng = np.random.default_rng(0)
        self.last_reached = True
        self.task.setup(self)

    # ------------------------------------------------------------------ model bookkeeping
    def _camera_id(self, name: str) -> int:
        import mujoco

        cid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, name)
        if cid < 0:
            names = [self.model.camera(i).name for i in range(self.model.ncam)]
            raise ValueError(f"camera {name!r} not in the model; cameras: {names}")
        return cid

    def _cache_model(self) -> None:
        m = self.model
        free = np.flatnonzero(m.jnt_type == 0)
        self._free_joints = {m.joint(j).name: int(j) for j in free}
        free_bodies = set(m.jnt_bodyid[free].tolist())
        top = [
            b
            for b in range(1, m.nbody)
            if m.body_parentid[b] == 0 and b not in free_bodies and m.body_mocapid[b] < 0
        ]
        self._top_bodies = np.asarray(top, dtype=np.int64)
        self._world_geoms = np.flatnonzero(m.geom_bodyid == 0)
        self._world_sites = np.flatnonzero(m.site_bodyid == 0)
        self._world_lights = np.flatnonzero(m.light_bodyid == 0)
        self._orig = {
            "body_pos": m.body_pos.copy(),
            "body_quat": m.body_quat.copy(),
            "geom_pos": m.geom_pos.copy(),
            "geom_quat": m.geom_quat.copy(),
            "site_pos": m.site_pos.copy(),
            "site_quat": m.site_quat.copy(),
            "light_pos": m.light_pos.copy(),
            "light_dir": m.light_dir.copy(),
            "gravity": m.opt.gravity.copy(),
            "geom_rgba": m.geom_rgba.copy(),
        }
        # World poses of every body in the unperturbed rest configuration, used to express
        # nested fixture poses in their parent frame.
        self._body_world0 = np.tile(np.eye(4), (m.nbody, 1, 1))
        self._body_world0[:, :3, :3] = self.data.xmat.reshape(-1, 3, 3)
        self._body_world0[:, :3, 3] = self.data.xpos

    def _id(self, kind: str, name: str) -> int:
        import mujoco

        obj = {
            "body": mujoco.mjtObj.mjOBJ_BODY,
            "geom": mujoco.mjtObj.mjOBJ_GEOM,
            "joint": mujoco.mjtObj.mjOBJ_JOINT,
            "site": mujoco.mjtObj.mjOBJ_SITE,
        }[kind]
        i = mujoco.mj_name2id(self.model, obj, name)
        if i < 0:
            raise KeyError(f"no {kind} named {name!r} in task {self.task.name!r}")
        return i

    # ------------------------------------------------------------------ episode
    def reset(self, seed: int, variation: int | None = None) -> dict[str, np.ndarray]:
        """Start the episode of ``seed``: perturbation, scene, robot noise and expert noise all
        derive from it. ``variation`` defaults to one drawn from the seed."""
        import mujoco

        rngs = episode_rngs(seed)
        if variation is None:
            variation = int(rngs["variation"].integers(self.task.n_variations))
        if not 0 <= variation < self.task.n_variations:
            raise ValueError(
                f"variation {variation} out of range for task {self.task.name!r} "
                f"({self.task.n_variations} variations)"
            )
        self.seed, self.variation = int(seed), int(variation)
        g = sample_perturbation(self.perturbation, rngs["perturbation"], self.task.workspace_center)
        self._rs.reset()
        scene = self.task.sample_scene(rngs["scene"], variation)
        self._apply_scene(scene, g)
        if self.joint_noise > 0:
            noise = rngs["robot"].normal(0.0, self.joint_noise, size=len(self._arm_qpos))
            self.data.qpos[self._arm_qpos] += noise
        mujoco.mj_forward(self.model, self.data)
        cc = self._robot.composite_controller
        cc.update_state()
        for part in cc.part_controllers.values():
            part.update(force=True)
        cc.reset()
        if self._fast is not None:
            self._fast.reset(self._robot)
        self.t = 0
        self._gripper_cmd = _GRIPPER_OPEN
        self._expert_rng = rngs["expert"]
        self.last_reached = True
        self.task.on_reset(self)
        return self.get_observation()

    def _apply_scene(self, scene: Scene, g: np.ndarray) -> None:
        m, d, o = self.model, self.data, self._orig
        self.g, self.g_inv = np.asarray(g, dtype=float), invert_pose(g)
        self.scene = scene
        R, t = self.g[:3, :3], self.g[:3, 3]
        qg = _quat_wxyz(R)

        def qmul(q1, q2):  # wxyz, q2 batched
            w1, v1 = q1[0], q1[1:]
            w2, v2 = q2[..., :1], q2[..., 1:]
            return np.concatenate(
                [w1 * w2 - v2 @ v1[:, None], w1 * v2 + w2 * v1 + np.cross(v1, v2)], axis=-1
            )

        body_pos, body_quat = o["body_pos"].copy(), o["body_quat"].copy()
        for name, pose in scene.fixture_poses.items():
            b = self._id("body", name)
            parent = m.body_parentid[b]
            local = pose if parent == 0 else invert_pose(self._body_world0[parent]) @ pose
            body_pos[b], body_quat[b] = local[:3, 3], _quat_wxyz(local[:3, :3])
        m.body_pos[:], m.body_quat[:] = body_pos, body_quat
        top = self._top_bodies
        m.body_pos[top] = body_pos[top] @ R.T + t
        m.body_quat[top] = qmul(qg, body_quat[top])
        wg, ws = self._world_geoms, self._world_sites
        m.geom_pos[wg] = o["geom_pos"][wg] @ R.T + t
        m.geom_quat[wg] = qmul(qg, o["geom_quat"][wg])
        m.site_pos[ws] = o["site_pos"][ws] @ R.T + t
        m.site_quat[ws] = qmul(qg, o["site_quat"][ws])
        wl = self._world_lights
        if self.perturbation.fixed_lights:
            m.light_pos[wl], m.light_dir[wl] = o["light_pos"][wl], o["light_dir"][wl]
        else:
            m.light_pos[wl] = o["light_pos"][wl] @ R.T + t
            m.light_dir[wl] = o["light_dir"][wl] @ R.T
        m.opt.gravity[:] = R @ o["gravity"]
        m.geom_rgba[:] = o["geom_rgba"]
        for name, rgba in scene.geom_rgba.items():
            m.geom_rgba[self._id("geom", name)] = rgba

        # Free objects: task poses (workspace frame) mapped through g; any object the task does
        # not place keeps robosuite's placement, mapped through g as well.
        for name, j in self._free_joints.items():
            adr = m.jnt_qposadr[j]
            if name in scene.object_poses:
                pose = self.g @ scene.object_poses[name]
            else:
                cur = make_pose(d.qpos[adr : adr + 3], _rot_from_wxyz(d.qpos[adr + 3 : adr + 7]))
                pose = self.g @ cur
            d.qpos[adr : adr + 3] = pose[:3, 3]
            d.qpos[adr + 3 : adr + 7] = _quat_wxyz(pose[:3, :3])
        for name, value in scene.joint_qpos.items():
            d.qpos[m.jnt_qposadr[self._id("joint", name)]] = value
        d.qvel[:] = 0.0
        d.qacc_warmstart[:] = 0.0

    # ------------------------------------------------------------------ frames and state
    def to_workspace(self, T: np.ndarray) -> np.ndarray:
        """World pose(s) -> workspace (unperturbed) frame: ``g^-1 T``."""
        return self.g_inv @ T

    def from_workspace(self, T: np.ndarray) -> np.ndarray:
        """Workspace-frame pose(s) -> world frame: ``g T``."""
        return self.g @ T

    def body_pose(self, name: str) -> np.ndarray:
        """World pose of a body."""
        b = self._id("body", name)
        return make_pose(self.data.xpos[b], self.data.xmat[b].reshape(3, 3))

    def site_pose(self, name: str) -> np.ndarray:
        """World pose of a site."""
        s = self._id("site", name)
        return make_pose(self.data.site_xpos[s], self.data.site_xmat[s].reshape(3, 3))

    def geom_pose(self, name: str) -> np.ndarray:
        """World pose of a geom."""
        i = self._id("geom", name)
        return make_pose(self.data.geom_xpos[i], self.data.geom_xmat[i].reshape(3, 3))

    def joint_qpos(self, name: str) -> float:
        """Position of a hinge or slide joint."""
        return float(self.data.qpos[self.model.jnt_qposadr[self._id("joint", name)]])

    def in_contact(self, geoms_a, geoms_b) -> bool:
        """Whether any geom of ``geoms_a`` touches any of ``geoms_b`` (names or ids)."""
        ids = lambda gs: np.asarray([self._id("geom", g) if isinstance(g, str) else g for g in gs])
        a, b = ids(geoms_a), ids(geoms_b)
        n = self.data.ncon
        g1, g2 = self.data.contact.geom1[:n], self.data.contact.geom2[:n]
        hit = (np.isin(g1, a) & np.isin(g2, b)) | (np.isin(g1, b) & np.isin(g2, a))
        return bool(hit.any())

    def body_geoms(self, body: str) -> np.ndarray:
        """Ids of the geoms attached to a body."""
        return np.flatnonzero(self.model.geom_bodyid == self._id("body", body))

    @property
    def eef_pose(self) -> np.ndarray:
        """World pose of the gripper frame (robosuite ``grip_site``)."""
        s = self._eef_site
        return make_pose(self.data.site_xpos[s], self.data.site_xmat[s].reshape(3, 3))

    @property
    def gripper_open(self) -> bool:
        """The last gripper command (True = open)."""
        return self._gripper_cmd < 0

    @property
    def gripper_width(self) -> float:
        """Finger separation (m)."""
        q = self.data.qpos[self._grip_qpos]
        return float(q[0] - q[1])

    def get_state(self) -> np.ndarray:
        """Flattened MuJoCo state ``[time, qpos, qvel]`` (robosuite/robomimic ``states``)."""
        return np.asarray(self.sim.get_state().flatten(), dtype=np.float64)

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_state` (same task, seed and perturbation)."""
        import mujoco

        self.sim.set_state_from_flattened(np.asarray(state, dtype=np.float64))
        mujoco.mj_forward(self.model, self.data)
        cc = self._robot.composite_controller
        cc.update_state()
        for part in cc.part_controllers.values():
            part.update(force=True)

    # ------------------------------------------------------------------ stepping
    def _to_absolute(self, action: np.ndarray) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (7,):
            raise ValueError(f"action must have 7 entries, found shape {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action contains NaN or inf: {a}")
        if self.action_mode == "abs_pose":
            return a
        d = np.clip(a[:6], -1.0, 1.0)
        cur = self.eef_pose
        pos = cur[:3, 3] + DELTA_SCALE[0] * d[:3]
        rot = Rotation.from_rotvec(DELTA_SCALE[1] * d[3:6]).as_matrix() @ cur[:3, :3]
        return np.concatenate([pos, Rotation.from_matrix(rot).as_rotvec(), a[6:]])

    def absolute_to_action(self, abs_action: np.ndarray) -> np.ndarray:
        """Express an absolute target in the env's ``action_mode`` (from the current state)."""
        a = np.asarray(abs_action, dtype=np.float64)
        if self.action_mode == "abs_pose":
            return a.copy()
        cur = self.eef_pose
        dpos = (a[:3] - cur[:3, 3]) / DELTA_SCALE[0]
        drot = Rotation.from_matrix(
            Rotation.from_rotvec(a[3:6]).as_matrix() @ cur[:3, :3].T
        ).as_rotvec()
        return np.concatenate([dpos, drot / DELTA_SCALE[1], a[6:]])

    def _step_physics(self, abs_action: np.ndarray) -> None:
        grip = _GRIPPER_OPEN if abs_action[6] < 0 else _GRIPPER_CLOSED
        m, d, mj = self.model, self.data, self._mj
        if self._fast is not None:
            R = Rotation.from_rotvec(abs_action[3:6]).as_matrix()
            self._fast.set_goal(abs_action[:3], R, grip)
            for _ in range(self._n_substeps):
                mj.mj_step1(m, d)
                self._fast.apply()
                mj.mj_step2(m, d)
        else:
            rs_action = np.concatenate([abs_action[:6], [grip]])
            policy_step = True
            for _ in range(self._n_substeps):
                self.sim.step1()
                self._rs._pre_action(rs_action, policy_step)
                self.sim.step2()
                policy_step = False
        # mj_step2 integrates without recomputing kinematics: refresh positions, contacts and
        # cameras so observations and success checks see the state that get_state() returns.
        self._mj.mj_forward(self.model, self.data)
        self._gripper_cmd = grip
        self.t += 1

    def step(self, action) -> tuple[dict[str, np.ndarray], float, bool, dict[str, Any]]:
        """Apply one action (``action_mode``) for one control period.

        Returns ``obs, reward, done, info``: reward is 1.0 on success else 0.0; ``done`` when the
        horizon is reached or (``terminate_on_success``) the task succeeded; ``info`` has
        ``success`` and ``timestep``.
        """
        self._step_physics(self._to_absolute(action))
        if not np.all(np.isfinite(self.data.qpos)):
            raise FloatingPointError(
                f"simulation state became non-finite at step {self.t} of task {self.task.name!r}"
            )
        success = bool(self.task.check_success(self))
        done = self.t >= self.max_steps or (self.terminate_on_success and success)
        info = {"success": success, "timestep": self.t}
        return self.get_observation(), float(success), done, info

    def is_success(self) -> bool:
        """Whether the task is solved in the current state."""
        return bool(self.task.check_success(self))

    # ------------------------------------------------------------------ keyframes
    def waypoint_actions(self, wp: Waypoint) -> Iterator[np.ndarray]:
        """Absolute actions that move to ``wp`` and then apply its gripper command.

        A generator: each action is computed from the state reached by the previous one, so the
        caller must step the environment (``step`` with :meth:`absolute_to_action`, or
        ``_step_physics``) between iterations. Linear position / slerp orientation interpolation
        at constant speed ``wp.max_speed`` (default ``max_speed``), then holding the target
        until within
        ``wp.tolerance`` or ``wp.max_steps``. Sets :attr:`last_reached`.
        """
        start = self.eef_pose
        target = np.asarray(wp.pose, dtype=float)
        dpos, drot = pose_error(start, target)
        dt = 1.0 / self.control_freq
        v = wp.max_speed or self.max_speed
        n = max(1, math.ceil(max(dpos / (v * dt), drot / (self.max_rot_speed * dt))))
        n = min(n, wp.max_steps)
        slerp = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([start[:3, :3], target[:3, :3]])))
        grip = self._gripper_cmd
        s = np.arange(1, n + 1) / n
        pos = start[:3, 3] + s[:, None] * (target[:3, 3] - start[:3, 3])
        rotvec = slerp(s).as_rotvec()
        for k in range(n):
            yield np.concatenate([pos[k], rotvec[k], [grip]])
        goal = np.concatenate([target[:3, 3], Rotation.from_matrix(target[:3, :3]).as_rotvec()])
        pos_tol, rot_tol = wp.tolerance[0], np.deg2rad(wp.tolerance[1])
        steps = n
        while True:
            e_pos, e_rot = pose_error(self.eef_pose, target)
            reached = bool(e_pos <= pos_tol and e_rot <= rot_tol)
            # Keyframes end at rest (as a motion planner's path does), so that keyframe
            # extraction from joint velocities finds them; the pose is judged once at rest.
            at_rest = np.max(np.abs(self.data.qvel[self._arm_qvel])) < self.rest_velocity
            if (reached and (at_rest or not wp.keyframe)) or steps >= wp.max_steps:
                break
            yield np.concatenate([goal, [grip]])
            steps += 1
        self.last_reached = reached
        new_grip = _GRIPPER_OPEN if wp.gripper_open else _GRIPPER_CLOSED
        settle = wp.settle_steps + (10 if new_grip != grip else 0)
        for _ in range(settle):
            yield np.concatenate([goal, [new_grip]])
        if settle == 0:
            self._gripper_cmd = new_grip

    def execute_keyframe(
        self,
        pose: np.ndarray,
        gripper_open: bool,
        *,
        tolerance: tuple[float, float] = (0.01, 5.0),
        max_steps: int = 100,
        max_speed: float | None = None,
    ) -> bool:
        """Move to a gripper pose (world ``4 x 4``, or 7-vector ``pos + xyzw``) with interpolated
        OSC, then apply the gripper command; True if the pose was reached within ``tolerance``
        (metres, degrees) before ``max_steps`` control steps. No collision checking."""
        pose = np.asarray(pose, dtype=float)
        if pose.shape == (7,):
            pose = make_pose(pose[:3], Rotation.from_quat(pose[3:]).as_matrix())
        if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
            raise ValueError(f"keyframe pose must be a finite 4x4 matrix or 7-vector, got {pose}")
        wp = Waypoint(pose, bool(gripper_open), True, max_speed, tolerance, 0, max_steps)
        for a in self.waypoint_actions(wp):
            self._step_physics(a)
        return self.last_reached

    # ------------------------------------------------------------------ observations
    def camera_intrinsics(self, name: str, width: int, height: int) -> np.ndarray:
        """``3 x 3`` pinhole intrinsics of a camera at a resolution."""
        cid = self._camera_id(MUJOCO_CAMERA.get(name, name))
        return intrinsics_from_fovy(float(self.model.cam_fovy[cid]), width, height)

    def camera_extrinsics(self, name: str) -> np.ndarray:
        """OpenCV camera-to-world pose of a camera in the current state."""
        cid = self._camera_id(MUJOCO_CAMERA.get(name, name))
        R = self.data.cam_xmat[cid].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
        return make_pose(self.data.cam_xpos[cid], R)

    def render(self, camera: CameraConfig) -> dict[str, np.ndarray]:
        """Render one camera: keys ``rgb``, ``depth``, ``seg`` as requested."""
        if self._renderer is None:
            w = max([c.width for c in self.obs_config.cameras] + [camera.width])
            h = max([c.height for c in self.obs_config.cameras] + [camera.height])
            self._renderer = _Renderer(self.model, w, h, self.obs_config.reflections)
        cid = self._cam_ids.get(camera.name)
        if cid is None:
            cid = self._camera_id(MUJOCO_CAMERA.get(camera.name, camera.name))
        off = self.model.vis.global_
        if camera.width > off.offwidth or camera.height > off.offheight:
            self._renderer.close()
            self._renderer = _Renderer(
                self.model, camera.width, camera.height, self.obs_config.reflections
            )
        return self._renderer.render(
            self.data,
            cid,
            camera.width,
            camera.height,
            camera.rgb,
            camera.depth,
            camera.segmentation,
        )

    def get_observation(self) -> dict[str, np.ndarray]:
        """The observation dict selected by the :class:`ObservationConfig`."""
        cfg = self.obs_config
        obs: dict[str, np.ndarray] = {}
        if cfg.proprio:
            T = self.eef_pose
            q = Rotation.from_matrix(T[:3, :3]).as_quat()
            obs["robot0_eef_pos"] = T[:3, 3].copy()
            obs["robot0_eef_quat"] = q * np.sign(q[3] if q[3] != 0 else 1.0)
            obs["robot0_eef_pose"] = T
            obs["robot0_gripper_qpos"] = self.data.qpos[self._grip_qpos].copy()
            obs["robot0_gripper_width"] = np.array([self.gripper_width])
            obs["robot0_gripper_open"] = np.array([float(self.gripper_open)])
            obs["robot0_joint_pos"] = self.data.qpos[self._arm_qpos].copy()
            obs["robot0_joint_vel"] = self.data.qvel[self._arm_qvel].copy()
        if cfg.object_state:
            poses = [self.body_pose(b) for b in self.task.object_bodies]
            obs["object_poses"] = np.stack(poses) if poses else np.zeros((0, 4, 4))
        depths, Ks, Es, colors = [], [], [], []
        for cam in cfg.cameras:
            out = self.render(cam)
            if cam.rgb:
                obs[f"{cam.name}_image"] = out["rgb"]
            if cam.depth:
                obs[f"{cam.name}_depth"] = out["depth"]
            if cam.segmentation:
                obs[f"{cam.name}_segmentation"] = out["seg"]
            K = self.camera_intrinsics(cam.name, cam.width, cam.height)
            E = self.camera_extrinsics(cam.name)
            if cfg.camera_params:
                obs[f"{cam.name}_intrinsics"] = K
                obs[f"{cam.name}_extrinsics"] = E
            if cam.depth:
                depths.append(out["depth"])
                Ks.append(K)
                Es.append(E)
                colors.append(out.get("rgb"))
        if cfg.point_cloud or cfg.voxel_resolution:
            bounds = cfg.point_cloud_bounds or self.task.workspace_bounds
            with_rgb = all(c is not None for c in colors)
            fused = fuse_point_clouds(
                depths, Ks, Es, colors=colors if with_rgb else None, bounds=bounds
            )
            pts, rgb = fused if with_rgb else (fused, None)
            if cfg.voxel_resolution:
                feats = rgb.astype(np.float32) / 255.0 if rgb is not None else None
                obs["voxels"] = voxelize(pts, bounds, cfg.voxel_resolution, feats)
            if cfg.point_cloud:
                if cfg.point_cloud_points:
                    idx = farthest_point_sample(pts, cfg.point_cloud_points)
                    pts = pts[idx]
                    rgb = rgb[idx] if rgb is not None else None
                obs["point_cloud"] = pts
                if rgb is not None:
                    obs["point_cloud_rgb"] = rgb
        return obs

    # ------------------------------------------------------------------ metadata
    def episode_info(self) -> dict[str, Any]:
        """JSON-serialisable description of the current episode (stored with demos)."""
        return {
            "task": self.task.name,
            "seed": self.seed,
            "variation": self.variation,
            "instruction": self.task.instructions(self.variation)[0],
            "perturbation_g": self.g.tolist(),
            "scene_info": self.scene.info,
        }

    def env_args(self) -> dict[str, Any]:
        """robomimic-style ``env_args``: enough to rebuild this environment."""
        return {
            "env_name": self.task.name,
            "type": "symlab.sim",
            "env_kwargs": {
                "task_options": self.task.config,
                "obs": json.loads(json.dumps(asdict(self.obs_config))),
                "perturbation": asdict(self.perturbation),
                "action_mode": self.action_mode,
                "control_freq": self.control_freq,
                "max_steps": self.max_steps,
                "joint_noise": self.joint_noise,
            },
        }

    @classmethod
    def from_env_args(cls, env_args: dict[str, Any], **overrides) -> SimEnv:
        """Rebuild an environment from :meth:`env_args` (e.g. a dataset's ``env_args``)."""
        if env_args.get("type") != "symlab.sim":
            raise ValueError(
                f"env_args of type {env_args.get('type')!r} were not written by symlab.sim; "
                "robomimic/MimicGen files need their own simulator"
            )
        kw = dict(env_args["env_kwargs"])
        obs = kw.pop("obs")
        kw["obs"] = ObservationConfig(
            **{**obs, "cameras": tuple(CameraConfig(**c) for c in obs["cameras"])}
        )
        pert = kw.pop("perturbation")
        kw["perturbation"] = PerturbationConfig(
            **{**pert, "center": tuple(pert["center"]) if pert.get("center") else None}
        )
        opts = kw.pop("task_options")
        kw.update(overrides)
        return cls(env_args["env_name"], **kw, **opts)

    @classmethod
    def from_config(cls, task: str | Task, config: EnvConfig, **task_options) -> SimEnv:
        """Build from an :class:`EnvConfig`."""
        return cls(
            task,
            obs=config.obs,
            perturbation=config.perturbation,
            action_mode=config.action_mode,
            control_freq=config.control_freq,
            max_steps=config.max_steps,
            **task_options,
        )

    def close(self) -> None:
        """Free the renderer and the simulation."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._rs.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
