# cython: language_level=3
"""Thin Cython layer over the C kernels.

Receives arguments already normalised and validated by ``fastconv._args`` (C-contiguous
arrays of the right dtype, int64 sizes) and calls the C functions without the GIL.
One module, split by topic into the included .pxi files.
"""
cimport numpy as cnp
import numpy as np
from libc.stdint cimport int64_t

cnp.import_array()

include "_config.pxi"
include "_conv.pxi"
include "_dim3.pxi"
include "_gemm.pxi"
include "_pool.pxi"
include "_probe.pxi"
include "_ukernels.pxi"
