"""C7 at the paper's catalog size: one mock on a 250 Mpc/h halo catalog against the emulator.

The emulator's cost does not depend on the size of the catalog its training mocks were built on,
while a mock's cost grows with the number of halos and galaxies (population ~ N, pair counting
~ N n for a fixed number density n). The paper's mocks populate Bolshoi-Planck (250 Mpc/h); the
cpu scale trains on a 100 Mpc/h catalog, so the cpu-scale mock is ~16x cheaper than the paper's
and its speed-up is not the paper's comparison. :func:`paper_size_speed` builds the same
synthetic catalog (same mass function, hence the same halo number density, and the same cell
size of the density field) in a box of side ``PAPER_LBOX`` with ``UserSuppliedHaloCatalog``,
populates it with the project's HOD + alignment model and measures xi, omega and eta in the
paper's 20 bins, timed in alternation with the emulator (:func:`iaemu.evaluation.speed_comparison`)
in the same process. Nothing is trained on the large catalog; only the timing uses it.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .config import Config, HaloConfig
from .evaluation import speed_comparison
from .mocks import MockGenerator, time_mock
from .model import Emulator

PAPER_LBOX = 250.0  # Mpc/h, the Bolshoi-Planck box of the paper's mocks


def paper_size_halos(halos: HaloConfig, lbox: float = PAPER_LBOX) -> HaloConfig:
    """``halos`` in a box of side ``lbox``: the mass function (halo number density), mass range,
    seed and the field's cell size are kept, the grid grows with the box."""
    if lbox <= 0:
        raise ValueError(f"lbox must be positive, got {lbox}")
    grid = max(1, int(round(halos.grid * lbox / halos.lbox)))
    return dataclasses.replace(halos, lbox=float(lbox), grid=grid)


def paper_size_generator(cfg: Config, lbox: float = PAPER_LBOX, theta=None) -> MockGenerator:
    """A :class:`~iaemu.mocks.MockGenerator` on :func:`paper_size_halos` of ``cfg.halos``,
    populated once (the first population builds the mock and is not part of a timed mock)."""
    gen = MockGenerator(paper_size_halos(cfg.halos, lbox), cfg.mocks.backend)
    gen.populate(np.asarray(cfg.mocks.low) if theta is None else theta, seed=1)
    return gen


def catalog_speed(gen: MockGenerator, emu: Emulator, thetas: np.ndarray) -> dict[str, float]:
    """Per-set speed-up of ``emu`` over one mock + correlations on the catalog of ``gen``.

    Returns
    -------
    The dict of :func:`~iaemu.evaluation.speed_comparison` (``mock``, ``single``,
    ``batched_per_set``, ``speedup_single``, ``speedup_batched``) plus the catalog's ``lbox``
    and ``n_halos`` and ``n_gal``, the median number of galaxies of the timed mocks.
    """
    n_gal: list[int] = []

    def one_mock(theta: np.ndarray) -> float:
        seconds = time_mock(gen, theta)
        n_gal.append(len(gen.model.mock.galaxy_table))
        return seconds

    out = speed_comparison(emu, one_mock, thetas)
    out.update(
        lbox=float(gen.halo_cfg.lbox),
        n_halos=float(len(gen.halocat.halo_table)),
        n_gal=float(np.median(n_gal)),
    )
    return out


def paper_size_speed(
    cfg: Config, emu: Emulator, thetas: np.ndarray, lbox: float = PAPER_LBOX
) -> tuple[dict[str, float], MockGenerator]:
    """:func:`catalog_speed` on a freshly built catalog of side ``lbox``.

    Returns the speed dict, with ``setup_s`` (catalog, model and first population, not timed in
    the comparison), ``wall_s`` and ``cpu_s`` (the whole call: wall-clock and process CPU
    seconds) added, and the generator (for further timings on the same catalog).
    """
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    gen = paper_size_generator(cfg, lbox, thetas[0])
    setup = time.perf_counter() - t_wall
    out = catalog_speed(gen, emu, thetas)
    out.update(
        setup_s=setup,
        wall_s=time.perf_counter() - t_wall,
        cpu_s=time.process_time() - t_cpu,
    )
    return out, gen
