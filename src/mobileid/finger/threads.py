"""numpy's BLAS on one thread in a process that matches fingerprints.

The matcher's cylinder products (~40×312 by 312×40, float32) are large enough for OpenBLAS to
split across its threads and far too small to gain from it: the threads spin for each one. On
the shared 2-core host, 1,000 comparisons of DB1_B probes took 5.3-5.5 ms of CPU each with
numpy's default of two threads and 1.8-2.1 ms on one (wall 25-27 → 12 ms at load ~11), with
the same scores bit for bit: the split is over output blocks, never over a sum.

Set once for the process and left so: OpenBLAS keeps one setting per process, and a limit
taken and undone around each search would race between the service's request threads (the
last to leave restores what it found, which may be another's limit). Only numpy's own copy is
limited: FAISS ships its own OpenBLAS for the large products of a face search, and keeps its
threads. Concurrent requests, not BLAS threads, are what use both cores of a busy service.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = ["numpy_blas_libraries", "one_numpy_blas_thread"]


def numpy_blas_libraries() -> list[str]:
    """Paths of the BLAS libraries loaded from numpy's own folders (a wheel's ``numpy.libs``)."""
    root = Path(np.__file__).resolve().parent
    homes = (str(root), str(root.parent / "numpy.libs"))
    return [
        lib.filepath
        for lib in ThreadpoolController().lib_controllers
        if lib.user_api == "blas" and str(lib.filepath).startswith(homes)
    ]


@functools.cache
def one_numpy_blas_thread() -> None:
    """Put numpy's BLAS on one thread for the rest of the process (once; later calls cost
    nothing). A numpy built against a system BLAS is left as it is."""
    wanted = set(numpy_blas_libraries())
    for lib in ThreadpoolController().lib_controllers:
        if lib.filepath in wanted:
            lib.set_num_threads(1)
