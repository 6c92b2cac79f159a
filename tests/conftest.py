"""Test-wide settings: single-threaded BLAS, because the test matrices are small and threads
only contend on a shared machine."""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
