"""A vectorized re-implementation of robosuite 1.5's OSC_POSE arm controller and Panda gripper
controller, as configured by :class:`symlab.sim.SimEnv` (fixed impedance kp=150, critical damping,
uncoupled position/orientation, absolute world-frame goals, no interpolator, nullspace posture
gain 10, gravity/Coriolis compensation by ``qfrc_bias``).

robosuite runs its controller stack in Python 25 times per control step; profiling showed that
stack at ~85% of the step time. This class computes the same torques with a handful of numpy
calls (``tests/sim/test_env.py`` checks them against robosuite's to 1e-8), which makes stepping
several times faster. ``SimEnv(controller="robosuite")`` keeps robosuite's own path.
"""

from __future__ import annotations

import mujoco
import numpy as np


class FastOSC:
    """OSC_POSE + Panda GRIP controller state for one robot.

    Parameters
    ----------
    env : SimEnv
        Provides the model, data and robosuite robot (for indices, gains and limits).
    """

    def __init__(self, env):
        self.m, self.d = env.model, env.data
        robot = env._robot
        arm = robot.part_controllers["right"]
        self.site = env._eef_site
        self.dof = np.asarray(arm.qvel_index)
        self.qpos = np.asarray(arm.qpos_index)
        self.kp = np.asarray(arm.kp, dtype=np.float64)
        self.kd = np.asarray(arm.kd, dtype=np.float64)
        if not arm.uncoupling or arm.impedance_mode != "fixed" or arm.interpolator_pos is not None:
            raise ValueError(
                "FastOSC reproduces only fixed-impedance, uncoupled, uninterpolated OSC"
            )
        self.arm_act = np.asarray(robot._ref_arm_joint_actuator_indexes)
        self.grip_act = np.asarray(robot._ref_joint_gripper_actuator_indexes["right"])
        rng = self.m.actuator_ctrlrange
        self.arm_lo, self.arm_hi = rng[self.arm_act, 0], rng[self.arm_act, 1]
        self.grip_lo, self.grip_hi = rng[self.grip_act, 0], rng[self.grip_act, 1]
        self.gripper_model = robot.gripper["right"]
        self.gripper_speed = float(self.gripper_model.speed)
        nv = self.m.nv
        self._jacp = np.zeros((3, nv))
        self._jacr = np.zeros((3, nv))
        self._M = np.zeros((nv, nv))
        self._ix = np.ix_(self.dof, self.dof)
        self._eye = np.eye(len(self.dof))
        self.initial_joint = np.asarray(arm.initial_joint, dtype=np.float64).copy()
        self.goal_pos = np.array(self.d.site_xpos[self.site])
        self.goal_R = np.array(self.d.site_xmat[self.site].reshape(3, 3))
        self.grip_action = np.zeros(2)
        self._update_grip_ctrl()

    def reset(self, robot) -> None:
        """After a robosuite reset: take its posture target and gripper state."""
        self.initial_joint = np.asarray(robot.part_controllers["right"].initial_joint).copy()
        self.grip_action = np.asarray(self.gripper_model.current_action, dtype=float).copy()
        self._update_grip_ctrl()
        self.goal_pos = np.array(self.d.site_xpos[self.site])
        self.goal_R = np.array(self.d.site_xmat[self.site].reshape(3, 3))

    def set_goal(self, pos, R, grip: float) -> None:
        """A policy step: absolute world goal and the gripper command (-1 open, +1 closed)."""
        self.goal_pos = np.asarray(pos, dtype=np.float64)
        self.goal_R = np.asarray(R, dtype=np.float64)
        # PandaGripper.format_action: move the finger command by `speed` towards the sign.
        self.grip_action = np.clip(
            self.grip_action + np.array([-1.0, 1.0]) * self.gripper_speed * np.sign(grip), -1, 1
        )
        self.gripper_model.current_action = self.grip_action.copy()
        self._update_grip_ctrl()

    def _update_grip_ctrl(self) -> None:
        bias = 0.5 * (self.grip_hi + self.grip_lo)
        weight = 0.5 * (self.grip_hi - self.grip_lo)
        self._grip_ctrl = np.clip(bias + weight * self.grip_action, self.grip_lo, self.grip_hi)

    def apply(self) -> None:
        """Write arm torques and gripper targets to ``data.ctrl`` (call between mj_step1/2).

        Same law as robosuite's ``OperationalSpaceController.run_controller`` with
        ``opspace_matrices`` and ``nullspace_torques``, rearranged to avoid explicit inverses:
        ``X = M^-1 J^T``, ``Lambda = (J X)^-1``, and the nullspace projection of the posture
        torque ``p`` is ``p - J^T Lambda X^T p``.
        """
        m, d, s = self.m, self.d, self.site
        mujoco.mj_jacSite(m, d, self._jacp, self._jacr, s)
        J = np.concatenate([self._jacp[:, self.dof], self._jacr[:, self.dof]])
        vel = np.concatenate([self._jacp @ d.qvel, self._jacr @ d.qvel])
        mujoco.mj_fullM(m, self._M, d.qM)
        M = self._M[self._ix]
        L = M.copy()
        n = len(self.dof)
        q, qd = d.qpos[self.qpos], d.qvel[self.dof]
        posture = M @ (10.0 * (self.initial_joint - q) - 2.0 * np.sqrt(10.0) * qd)
        if mujoco.mju_cholFactor(L, 1e-12 * M[0, 0]) == n:
            X = np.empty((6, n))  # rows: (M^-1 J^T)^T
            for i in range(6):
                mujoco.mju_cholSolve(X[i], L, J[i])
            JMJ = J @ X.T
            C = JMJ.copy()
            if mujoco.mju_cholFactor(C, 1e-12 * max(JMJ[0, 0], 1e-300)) == 6:
                y = np.empty(6)
                mujoco.mju_cholSolve(y, C, X @ posture)
                null_posture = posture - J.T @ y
                lam_pos, lam_ori = _inv3(JMJ[:3, :3]), _inv3(JMJ[3:, 3:])
            else:
                null_posture, lam_pos, lam_ori = self._pinv_terms(M, J, posture)
        else:
            null_posture, lam_pos, lam_ori = self._pinv_terms(M, J, posture)
        R = d.site_xmat[s].reshape(3, 3)
        pos_err = self.goal_pos - d.site_xpos[s]
        # robosuite's orientation_error: 0.5 * sum_i current[:, i] x desired[:, i]
        G = self.goal_R
        ori_err = 0.5 * np.array(
            [
                R[1] @ G[2] - R[2] @ G[1],
                R[2] @ G[0] - R[0] @ G[2],
                R[0] @ G[1] - R[1] @ G[0],
            ]
        )
        force = self.kp[:3] * pos_err - self.kd[:3] * vel[:3]
        torque = self.kp[3:] * ori_err - self.kd[3:] * vel[3:]
        wrench = np.concatenate([lam_pos @ force, lam_ori @ torque])
        tau = J.T @ wrench + d.qfrc_bias[self.dof] + null_posture
        d.ctrl[self.arm_act] = np.minimum(np.maximum(tau, self.arm_lo), self.arm_hi)
        d.ctrl[self.grip_act] = self._grip_ctrl

    def _pinv_terms(self, M, J, posture):
        # Singular configuration: robosuite's pseudo-inverse formulas verbatim.
        Minv = np.linalg.inv(M)
        lam_full = np.linalg.pinv(J @ Minv @ J.T)
        null = self._eye - Minv @ J.T @ lam_full @ J
        lam_pos = np.linalg.pinv(J[:3] @ Minv @ J[:3].T)
        lam_ori = np.linalg.pinv(J[3:] @ Minv @ J[3:].T)
        return null.T @ posture, lam_pos, lam_ori


_EYE3 = np.eye(3)


def _inv3(A: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite 3 x 3 block by MuJoCo's dense Cholesky
    (numpy's LAPACK calls cost milliseconds on the loaded machines); pseudo-inverse if singular.
    """
    L = np.array(A, dtype=np.float64)
    if mujoco.mju_cholFactor(L, 1e-12 * max(A[0, 0], 1e-300)) < 3:
        return np.linalg.pinv(A)
    out = np.empty((3, 3))
    for i in range(3):
        mujoco.mju_cholSolve(out[i], L, _EYE3[i])
    return out
