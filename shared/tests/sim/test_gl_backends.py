"""Headless rendering through both OpenGL backends: OSMesa (CPU machines) and EGL (GPU machines).

``MUJOCO_GL`` is read when MuJoCo creates its first context, so each backend renders in its own
process. Without an NVIDIA device, Mesa's EGL runs the same llvmpipe rasterizer as OSMesa, so the
two must agree bit for bit; on a GPU machine the EGL path is the one ``configure_gl_backend``
picks.
"""

import ctypes.util
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("robosuite", reason="robosuite not installed (pip install symlab[sim])")

pytestmark = pytest.mark.sim

RENDER = """
import sys, numpy as np
from symlab.sim import CameraConfig, ObservationConfig, SimEnv
cams = (CameraConfig("agentview", 48, 48, rgb=True, depth=True, segmentation=True),
        CameraConfig("robot0_eye_in_hand", 48, 48, rgb=True))
env = SimEnv("lift", obs=ObservationConfig(cameras=cams))
obs = env.reset(seed=3)
np.savez(sys.argv[1], **{k: np.asarray(v) for k, v in obs.items()
                         if k.endswith(("_image", "_depth", "_segmentation"))})
"""


def _render(backend: str, path) -> dict[str, np.ndarray]:
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
    proc = subprocess.run(
        [sys.executable, "-c", RENDER, str(path)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{backend} rendering failed:\n{proc.stderr[-2000:]}"
    with np.load(path) as f:
        return dict(f)


@pytest.mark.skipif(
    ctypes.util.find_library("EGL") is None,
    reason="libEGL not installed (apt install libegl1 libegl-mesa0)",
)
def test_egl_and_osmesa_render_identical_observations(tmp_path):
    osmesa = _render("osmesa", tmp_path / "osmesa.npz")
    egl = _render("egl", tmp_path / "egl.npz")
    assert set(osmesa) == set(egl) and len(osmesa) == 4
    for key in osmesa:
        assert osmesa[key].shape == egl[key].shape, key
        np.testing.assert_array_equal(osmesa[key], egl[key], err_msg=key)
    assert osmesa["agentview_image"].std() > 5  # a real image, not a blank buffer
