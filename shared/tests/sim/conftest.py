"""``symlab.sim`` is imported first so that the headless GL backend is configured before
anything imports mujoco (simulator test modules ``importorskip`` robosuite themselves)."""

import symlab.sim  # noqa: F401  (sets MUJOCO_GL / PYOPENGL_PLATFORM defaults)
