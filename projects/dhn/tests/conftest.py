"""One intra-op thread for the tests: the models are tiny, and on the shared 2-core machine
PyTorch's default of one thread per core oversubscribes the cores (steps get 10-60x slower)."""

from dhn.experiment import limit_cpu_threads

limit_cpu_threads()
