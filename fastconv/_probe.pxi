# Machine-limit probes for the benchmarks: measured FMA peak and memory bandwidth.

cdef extern from "probe/probe.h":
    fc_status fc_probe_fma(int itemsize, int threads, int64_t iters, double *flops,
                           double *seconds) nogil
    fc_status fc_probe_scale(int64_t nbytes, int threads, int reps, double *bytes,
                             double *seconds) nogil


def _probe_threads(threads):
    n = fc_get_num_threads() if threads is None else int(threads)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    return n


def fma_peak_gflops(dtype="float32", threads=None, double min_time=0.05, int repeats=5):
    """Measured multiply-add peak of the current ISA path, in GFLOP/s, over `threads`
    threads (default: fastconv's thread count).  The best of `repeats` runs of at least
    `min_time` seconds each: on a shared machine the best run is the least disturbed."""
    itemsize = np.dtype(dtype).itemsize
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
    cdef int nt = _probe_threads(threads)
    cdef int isz = itemsize
    # Start near min_time already: every probe kernel iteration is ~6 cycles at peak, so this
    # is about min_time at 1.5 GHz.
    cdef int64_t iters = max(1 << 14, <int64_t>(min_time * 2.5e8))
    cdef double flops = 0.0, seconds = 0.0
    cdef fc_status st
    best = 0.0
    # Grow the iteration count until a run lasts min_time, then until one would last
    # min_time at the best rate seen so far: short runs are dominated by thread wake-up
    # (milliseconds on a loaded machine), and one stalled run must not end the calibration.
    for _ in range(64):
        with nogil:
            fc_call_enter()
            st = fc_probe_fma(isz, nt, iters, &flops, &seconds)
            fc_call_leave()
        check_status(st)
        best = max(best, flops / max(seconds, 1e-9))
        need = int(min_time * best / (flops / iters)) + 1
        if seconds >= min_time and iters >= need:
            break
        iters = max(iters * 2, min(need, iters * 16))
    for _ in range(max(0, repeats - 1)):
        with nogil:
            fc_call_enter()
            st = fc_probe_fma(isz, nt, iters, &flops, &seconds)
            fc_call_leave()
        check_status(st)
        best = max(best, flops / max(seconds, 1e-9))
    return best / 1e9


def memory_bandwidth_gbs(threads=None, nbytes=64 << 20, int repeats=5):
    """Measured memory bandwidth in GB/s (STREAM "scale": read + write bytes counted) on
    two arrays of `nbytes` each (default 64 MiB, beyond the last-level cache), best of
    `repeats` passes."""
    cdef int nt = _probe_threads(threads)
    cdef int64_t nb = int(nbytes)
    if nb < 8:
        raise ValueError(f"nbytes must be >= 8, got {nb}")
    cdef double moved = 0.0, seconds = 0.0
    cdef int reps = max(1, repeats)
    cdef fc_status st
    with nogil:
        fc_call_enter()
        st = fc_probe_scale(nb, nt, reps, &moved, &seconds)
        fc_call_leave()
    check_status(st)
    return moved / seconds / 1e9
