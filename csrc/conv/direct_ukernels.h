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
 * tap kernel  fc_<dt>_dconv_<MR>x<NR>__<isa>(ntaps, off, x, w, bias, y, ldy, mr):
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

/* Tile shapes: MR output channels x NR grid points; the NR per MR keeps 12 (MR=1: 8) vector
 * accumulators in registers.  f32 vectors hold 8, f64 4. */
#define FC_DCONV_DECLARE(ISA)                                                                \
    void fc_f32_dconv_4x24__##ISA(int64_t, const int64_t *, const float *, const float *,   \
                                  const float *, float *, int64_t, int64_t);                \
    void fc_f32_dconv_3x32__##ISA(int64_t, const int64_t *, const float *, const float *,   \
                                  const float *, float *, int64_t, int64_t);                \
    void fc_f32_dconv_2x48__##ISA(int64_t, const int64_t *, const float *, const float *,   \
                                  const float *, float *, int64_t, int64_t);                \
    void fc_f32_dconv_1x64__##ISA(int64_t, const int64_t *, const float *, const float *,   \
                                  const float *, float *, int64_t, int64_t);                \
    void fc_f64_dconv_4x12__##ISA(int64_t, const int64_t *, const double *, const double *, \
                                  const double *, double *, int64_t, int64_t);              \
    void fc_f64_dconv_3x16__##ISA(int64_t, const int64_t *, const double *, const double *, \
                                  const double *, double *, int64_t, int64_t);              \
    void fc_f64_dconv_2x24__##ISA(int64_t, const int64_t *, const double *, const double *, \
                                  const double *, double *, int64_t, int64_t);              \
    void fc_f64_dconv_1x32__##ISA(int64_t, const int64_t *, const double *, const double *, \
                                  const double *, double *, int64_t, int64_t);              \
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
#endif

#endif
