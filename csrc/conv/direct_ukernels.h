/*
 * Micro-kernels of the direct conv2d (csrc/conv/conv_direct.c).  Portable versions in
 * csrc/ukernels/generic/conv_direct.c, AVX2+FMA versions in csrc/ukernels/avx2/conv_direct.c;
 * both compute exactly the contract below (only the summation order inside a vector differs).
 *
 * The driver lays the input out as zero-padded, stride-phase-split planes of row width Wq, so
 * that every tap of an output tile reads a *contiguous* run of the plane buffer: output grid
 * point p (flattened i*Wq + j) reads x[off[t] + p] for tap t.  Neither kernel ever checks
 * bounds; the driver guarantees (with slack after the buffers) that every read is inside
 * memory it owns and initialised.
 *
 * tap kernel  fc_<dt>_dconv_<MR>x<NV>v__<isa>(ntaps, off, x, w, bias, y, ldy, mr), NR = NV
 * vectors of grid points:
 *     for m < mr, p < NR:
 *         y[m*ldy + p] = (bias ? bias[m] : 0) + sum_{t < ntaps} w[t*MR + m] * x[off[t] + p]
 *     w is packed [ntaps][MR] (rows m >= mr may hold anything finite); bias, when not NULL,
 *     holds MR values.  ntaps may be 0.
 *
 * weight-gradient kernel  fc_<dt>_dconvgw_<MR>x<TB>__<isa>(nrows, len, gy, ldm, ldr, x, ldx,
 *                                                          off, gw, ldgw, mr, tb):
 *     for m < mr, t < tb:
 *         gw[m*ldgw + t] += sum_{r < nrows} sum_{p < len}
 *                               gy[m*ldm + r*ldr + p] * x[off[t] + r*ldx + p]
 *     Only the addresses in that formula are read (vector tails are masked), so values
 *     outside the valid region never reach the sums.
 */
#ifndef FC_DIRECT_UKERNELS_H
#define FC_DIRECT_UKERNELS_H
#include <stdint.h>

typedef void (*fc_f32_dconv_fn)(int64_t ntaps, const int64_t *off, const float *x,
                                const float *w, const float *bias, float *y, int64_t ldy,
                                int64_t mr);
typedef void (*fc_f64_dconv_fn)(int64_t ntaps, const int64_t *off, const double *x,
                                const double *w, const double *bias, double *y, int64_t ldy,
                                int64_t mr);
typedef void (*fc_f32_dconvgw_fn)(int64_t nrows, int64_t len, const float *gy, int64_t ldm,
                                  int64_t ldr, const float *x, int64_t ldx, const int64_t *off,
                                  float *gw, int64_t ldgw, int64_t mr, int64_t tb);
typedef void (*fc_f64_dconvgw_fn)(int64_t nrows, int64_t len, const double *gy, int64_t ldm,
                                  int64_t ldr, const double *x, int64_t ldx, const int64_t *off,
                                  double *gw, int64_t ldgw, int64_t mr, int64_t tb);

/* Tap-kernel tile shapes (MR channels x NV vectors; NR = NV * 8 for f32, NV * 4 for f64).
 * The driver picks per output width the NV that wastes least; MR*NV >= 8 accumulators hide
 * the FMA latency, NV = 1 finishes output rows.  Names: fc_<dt>_dconv_<MR>x<NV>v__<isa>. */
#define FC_DCONV_SHAPES(X)                                                                   \
    X(4, 1) X(4, 2) X(4, 3)                                                                  \
    X(3, 1) X(3, 2) X(3, 3) X(3, 4)                                                          \
    X(2, 1) X(2, 3) X(2, 4) X(2, 5) X(2, 6)                                                  \
    X(1, 1) X(1, 4) X(1, 5) X(1, 6) X(1, 7) X(1, 8)
#define FC_DCONV_MAX_NV 8

#define FC_DCONV_TAP(DT, T, MR, NV, ISA)                                                    \
    void fc_##DT##_dconv_##MR##x##NV##v__##ISA(int64_t, const int64_t *, const T *,         \
                                               const T *, const T *, T *, int64_t, int64_t);
#define FC_DCONV_TAP_GENERIC(MR, NV)                                                         \
    FC_DCONV_TAP(f32, float, MR, NV, generic) FC_DCONV_TAP(f64, double, MR, NV, generic)
#define FC_DCONV_TAP_AVX2(MR, NV)                                                            \
    FC_DCONV_TAP(f32, float, MR, NV, avx2) FC_DCONV_TAP(f64, double, MR, NV, avx2)
FC_DCONV_SHAPES(FC_DCONV_TAP_GENERIC)

#define FC_DCONV_DECLARE(ISA)                                                                \
    void fc_f32_dconvgw_4x3__##ISA(int64_t, int64_t, const float *, int64_t, int64_t,       \
                                   const float *, int64_t, const int64_t *, float *, int64_t,\
                                   int64_t, int64_t);                                        \
    void fc_f32_dconvgw_1x9__##ISA(int64_t, int64_t, const float *, int64_t, int64_t,       \
                                   const float *, int64_t, const int64_t *, float *, int64_t,\
                                   int64_t, int64_t);                                        \
    void fc_f64_dconvgw_4x3__##ISA(int64_t, int64_t, const double *, int64_t, int64_t,      \
                                   const double *, int64_t, const int64_t *, double *,       \
                                   int64_t, int64_t, int64_t);                               \
    void fc_f64_dconvgw_1x9__##ISA(int64_t, int64_t, const double *, int64_t, int64_t,      \
                                   const double *, int64_t, const int64_t *, double *,       \
                                   int64_t, int64_t, int64_t);

FC_DCONV_DECLARE(generic)
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#define FC_DCONV_HAVE_AVX2 1
FC_DCONV_DECLARE(avx2)
FC_DCONV_SHAPES(FC_DCONV_TAP_AVX2)
#endif

#endif
