"""Headless OpenGL backend selection for MuJoCo rendering.

MuJoCo reads ``MUJOCO_GL`` when it first creates a context, and PyOpenGL reads
``PYOPENGL_PLATFORM`` at import, so both must be set before ``mujoco``/``robosuite`` render
anything. We only fill them in when the user has not: ``egl`` when an NVIDIA device node is
visible (GPU machines), else ``osmesa`` (software rendering, Debian ``libosmesa6``).
"""

from __future__ import annotations

import os
from pathlib import Path


def default_gl_backend() -> str:
    """``'egl'`` when an NVIDIA GPU device node exists, else ``'osmesa'``."""
    return "egl" if Path("/dev/nvidia0").exists() else "osmesa"


def configure_gl_backend() -> str:
    """Set ``MUJOCO_GL`` and ``PYOPENGL_PLATFORM`` if unset; return the backend in use."""
    backend = os.environ.get("MUJOCO_GL") or default_gl_backend()
    os.environ.setdefault("MUJOCO_GL", backend)
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa" if backend == "osmesa" else backend)
    return os.environ["MUJOCO_GL"]
