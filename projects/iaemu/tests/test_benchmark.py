"""C7 at the paper's catalog size: the larger catalog keeps the recipe, the timing is consistent."""

import dataclasses

import numpy as np
from iaemu.benchmark import PAPER_LBOX, paper_size_halos, paper_size_speed
from iaemu.config import load
from iaemu.halos import build_halo_arrays
from iaemu.training import build_emulator


def test_paper_size_catalog_keeps_halo_density_and_cell_size(tiny_halos):
    big_cfg = paper_size_halos(tiny_halos, 2 * tiny_halos.lbox)
    assert big_cfg.lbox == 2 * tiny_halos.lbox and big_cfg.grid == 2 * tiny_halos.grid
    assert big_cfg.log_mass_min == tiny_halos.log_mass_min and big_cfg.seed == tiny_halos.seed
    assert paper_size_halos(tiny_halos).lbox == PAPER_LBOX == 250.0
    small, big = build_halo_arrays(tiny_halos), build_halo_arrays(big_cfg)
    assert big.pos.max() < big_cfg.lbox and big.pos.max() > tiny_halos.lbox
    # Same mass function: 8x the volume holds 8x the halos (Poisson, 5 sigma).
    assert abs(big.n - 8 * small.n) < 5 * np.sqrt(8 * small.n + 64 * small.n)
    assert np.isclose(np.median(np.log10(big.mass)), np.median(np.log10(small.mass)), atol=0.05)


def test_paper_size_speed_times_mocks_of_the_larger_catalog(tiny_halos):
    cfg = load("smoke")
    cfg = dataclasses.replace(cfg, halos=tiny_halos)
    emu = build_emulator(cfg).eval()
    thetas = np.array([[0.5, 0.2, 11.6, 0.3, 11.5, 12.9, 1.0]] * 2)
    out, gen = paper_size_speed(cfg, emu, thetas, lbox=1.5 * tiny_halos.lbox)
    assert out["lbox"] == 1.5 * tiny_halos.lbox == gen.halo_cfg.lbox
    assert out["n_halos"] == len(gen.halocat.halo_table) and out["n_gal"] > 100
    assert np.isclose(out["speedup_batched"], out["mock"] / out["batched_per_set"])
    assert np.isclose(out["speedup_single"], out["mock"] / out["single"])
    assert 0 < out["setup_s"] <= out["wall_s"] and out["cpu_s"] > 0
