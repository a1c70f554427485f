/* Shared machinery of the pooling kernels (csrc/pool/): per-output window tables, the
 * OpenMP helpers and the micro-kernel contracts implemented in csrc/ukernels/<isa>/pool_*.c. */
#ifndef FC_POOL_INTERNAL_H
#define FC_POOL_INTERNAL_H
#include "fastconv.h"

#ifdef FC_HAVE_OPENMP
#define FC_PRAGMA(x) _Pragma(#x)
/* Static schedule: contiguous chunks keep each thread on its own rows/planes (cache, no
 * false sharing except at chunk edges). */
#define FC_OMP_FOR(nt, cond) FC_PRAGMA(omp parallel for schedule(static) num_threads(nt) if(cond))
#else
#define FC_OMP_FOR(nt, cond)
#endif

/* Below this many touched elements a parallel region costs more than it saves. */
#define FC_POOL_PAR_MIN 32768

/*
 * One output index along one axis: in-bounds taps lo, lo+step, ... < hi (empty when
 * lo >= hi) and the divisor factor of average pooling along this axis.
 */
typedef struct {
    int64_t lo, hi, div;
} fc_pool_win;

/* Inverse of a table of contiguous windows: input index i is covered by the outputs
 * [first, last). */
typedef struct {
    int64_t first, last;
} fc_pool_inv;

/* Window table of a max/avg pooling axis: n_out outputs over an input of size n.
 * count_include_pad picks the divisor factor (window clipped to the padded input vs
 * in-bounds taps). */
void fc_pool_win_table(int64_t n, int64_t n_out, int64_t k, int64_t s, int64_t p, int64_t d,
                       int count_include_pad, fc_pool_win *t);
/* Window table of an adaptive axis. */
void fc_pool_adaptive_table(int64_t n, int64_t n_out, fc_pool_win *t);
/* Inverse table (n entries) of a table of contiguous windows with non-decreasing lo and hi. */
void fc_pool_inverse_table(int64_t n, int64_t n_out, const fc_pool_win *t, fc_pool_inv *inv);

/* True when no two windows of an axis share an input index. */
int fc_pool_axis_disjoint(int64_t k, int64_t s, int64_t d);

#endif
