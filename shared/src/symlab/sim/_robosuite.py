"""Lazy, quiet import of robosuite and the scene mixin that adds the benchmark cameras."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import sys
import xml.etree.ElementTree as ET

import numpy as np

from ._gl import configure_gl_backend
from .geometry import look_at

# Fixed external cameras, as (eye, target, fovy) offsets from the task's workspace centre.
# RLBench-like layout around a robot at x = -0.56 facing +x; agentview comes from robosuite.
EXTERNAL_CAMERAS: dict[str, tuple[tuple[float, ...], tuple[float, ...], float]] = {
    "front": ((0.8, 0.0, 0.5), (0.0, 0.0, 0.05), 50.0),
    "left_shoulder": ((-0.3, 0.55, 0.6), (0.1, 0.0, 0.0), 55.0),
    "right_shoulder": ((-0.3, -0.55, 0.6), (0.1, 0.0, 0.0), 55.0),
    "overhead": ((0.05, 0.0, 0.8), (0.0, 0.0, 0.0), 60.0),
}
# ISP (BoceHu/ISP, dataset_states_to_obs.py) patches the eye-in-hand camera from
# pos="0.05 0 0" fovy="75" to these attributes; we add it as a second camera.
WIDE_EYE_IN_HAND = "robot0_eye_in_hand_wide"
WIDE_EYE_IN_HAND_ATTRS = {"pos": "0.09 0 0.03", "quat": "0 0.707108 0.707108 0", "fovy": "130"}
# Benchmark camera name -> MuJoCo camera name.
MUJOCO_CAMERA = {"wrist": "robot0_eye_in_hand"}


def import_robosuite():
    """Import robosuite with the GL backend configured and its console warnings silenced."""
    configure_gl_backend()
    if "robosuite" in sys.modules:
        return sys.modules["robosuite"]
    # robosuite warns at import about optional extras (private macro file, robosuite_models,
    # mink) through a console handler it creates then; send those to nowhere, then point the
    # handler back at stderr at ERROR level so real errors still show.
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            import robosuite
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "symlab.sim needs robosuite and mujoco: pip install 'symlab[sim]' "
            f"(robosuite==1.5.2, mujoco>=3.3,<3.4); import failed with: {e}"
        ) from e
    for name in ("robosuite_logs", "robosuite"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR)
        for h in logger.handlers:
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                h.setStream(sys.stderr)
    return robosuite


def camera_world_poses(center) -> dict[str, tuple[np.ndarray, float]]:
    """OpenCV camera-to-world pose and fovy of every added external camera."""
    c = np.asarray(center, dtype=float)
    return {
        name: (look_at(c + np.array(eye), c + np.array(target)), fovy)
        for name, (eye, target, fovy) in EXTERNAL_CAMERAS.items()
    }


def _camera_element(name: str, cam_to_world_cv: np.ndarray, fovy: float) -> ET.Element:
    # MuJoCo cameras look along -z with y up: flip the OpenCV y and z axes.
    R = cam_to_world_cv[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    fmt = lambda v: " ".join(f"{x:.6f}" for x in v)
    return ET.Element(
        "camera",
        {
            "name": name,
            "mode": "fixed",
            "pos": fmt(cam_to_world_cv[:3, 3]),
            "xyaxes": fmt(np.concatenate([R[:, 0], R[:, 1]])),
            "fovy": f"{fovy:.4f}",
        },
    )


@functools.cache
def scene_class(base: type, center: tuple[float, float, float]) -> type:
    """``base`` (a robosuite env class) with the benchmark's external cameras added."""

    class _SymlabScene(base):
        def _load_model(self):
            super()._load_model()
            existing = {c.get("name") for c in self.model.worldbody.iter("camera")}
            for name, (pose, fovy) in camera_world_poses(center).items():
                if name not in existing:
                    self.model.worldbody.append(_camera_element(name, pose, fovy))
            # ISP's wide-FOV ("fisheye") eye-in-hand camera, next to robosuite's own.
            for body in self.model.worldbody.iter("body"):
                for cam in body.findall("camera"):
                    if cam.get("name") == "robot0_eye_in_hand":
                        attrs = {
                            "name": WIDE_EYE_IN_HAND,
                            "mode": "fixed",
                            **WIDE_EYE_IN_HAND_ATTRS,
                        }
                        body.append(ET.Element("camera", attrs))

    _SymlabScene.__name__ = _SymlabScene.__qualname__ = f"Symlab{base.__name__}"
    return _SymlabScene
