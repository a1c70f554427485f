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
 * (the micro-kernel of the current ISA).  Outputs: the floating-point operations done
 * (a multiply-add counts 2) and the wall time of the region.  itemsize 4 or 8. */
fc_status fc_probe_fma(int itemsize, int threads, int64_t iters, double *flops,
                       double *seconds);

/* STREAM-style "scale" b[i] = s * a[i] over two arrays of `nbytes` each, `reps` times;
 * outputs the bytes counted per rep (read + write, 2 * nbytes) and the best wall time. */
fc_status fc_probe_scale(int64_t nbytes, int threads, int reps, double *bytes,
                         double *seconds);

/* Micro-kernels: iterate `iters` times over the chains, return a checksum of the
 * accumulators (so the work cannot be optimised away).  Flops per iteration below. */
double fc_f32_fma_probe_12x8__avx2(int64_t iters);   /* 12 * 8 * 2 flops / iteration */
double fc_f64_fma_probe_12x4__avx2(int64_t iters);   /* 12 * 4 * 2 flops / iteration */
double fc_f32_fma_probe_48__generic(int64_t iters);  /* 48 * 2 flops / iteration */
double fc_f64_fma_probe_24__generic(int64_t iters);  /* 24 * 2 flops / iteration */

#endif
