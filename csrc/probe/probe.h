/*
 * Measured machine limits for the benchmarks: FMA peak (GFLOP/s) and memory bandwidth.
 * The percent-of-peak figures quoted by `python -m fastconv bench` divide by these, so the
 * peak is measured on this machine, not taken from a datasheet.
 */
#ifndef FC_PROBE_H
#define FC_PROBE_H
#include <stdint.h>
#include "fastconv.h"

/* Every thread of one parallel region runs `iters` iterations of independent FMA chains
 * (the probe of the tier in use).  Outputs: the floating-point operations done
 * (a multiply-add counts 2) and the wall time of the region.  itemsize 4 or 8. */
fc_status fc_probe_fma(int itemsize, int threads, int64_t iters, double *flops,
                       double *seconds);

/* STREAM-style "scale" b[i] = s * a[i] over two arrays of `nbytes` each, `reps` times;
 * outputs the bytes counted per rep (read + write, 2 * nbytes) and the best wall time. */
fc_status fc_probe_scale(int64_t nbytes, int threads, int reps, double *bytes,
                         double *seconds);

/* Micro-kernels (one per tier and dtype, in its descriptor, tier.h): fc_<dt>_fma_probe_<n>__<tier>
 * iterate `iters` times over independent FMA chains and return a checksum of the accumulators
 * (so the work cannot be optimised away). */

#endif
