"""IAEmu: a neural emulator of galaxy intrinsic-alignment correlation functions.

Reproduction of Pandya, Yang, Van Alfen, Blazek & Walters, "IAEmu: Learning Galaxy Intrinsic
Alignment Correlations" (OJAp 2025, arXiv 2504.05235). The package is light to import: torch,
halotools and pyro are loaded by the submodules that need them.

Submodules
----------
config      dataclass configs (``load_config``)
halos       synthetic halo catalogs (mass function, lognormal clustering, tidal halo axes)
alignment   Dimroth-Watson orientation sampling
statistics  xi / omega / eta with halotools and with a cKDTree re-implementation
mocks       HOD + alignment mocks with halotools, parallel cached generation
dataset     real-format loader, preprocessing and train/test splits
model       the residual encoder / 1D-conv decoder network and MC dropout
losses      beta-NLL, its schedule and the validation metric
training    training loop with checkpoints, resume and early stopping
evaluation  accuracy, calibration, epistemic and speed metrics
benchmark   emulator vs one mock on a catalog of the paper's size (250 Mpc/h), for C7
inference   NUTS over the alignment strengths through the emulator
"""

__version__ = "0.1.0"

PARAM_NAMES = ("mu_cen", "mu_sat", "logMmin", "sigma_logM", "logM0", "logM1", "alpha")
STAT_NAMES = ("xi", "omega", "eta")
