"""Repository tooling: ``report`` (REPRODUCTIONS.md and the README status) and ``changed``."""

from .projects import PROJECTS, ProjectInfo

__all__ = ["PROJECTS", "ProjectInfo"]
