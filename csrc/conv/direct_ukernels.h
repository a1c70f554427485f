/*
 * Micro-kernels of the direct conv2d (csrc/conv/conv_direct.c).  Portable versions in
 * csrc/ukernels/generic/conv_direct.c, vector versions in csrc/ukernels/<tier>/conv_direct.c;
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

/* The same types named <type>_<dtype>, for the drivers written once for both dtypes. */
typedef fc_f32_dconv_fn fc_dconv_fn_f32;
typedef fc_f64_dconv_fn fc_dconv_fn_f64;
typedef fc_f32_dconvgw_fn fc_dconvgw_fn_f32;
typedef fc_f64_dconvgw_fn fc_dconvgw_fn_f64;

/* Tap-kernel tile shapes (MR channels x NV vectors; NR = NV * lanes of the tier).  Each tier
 * lists the shapes it builds (FC_DCONV_SHAPES is the list for 16 vector registers); the driver picks per output width the NV that wastes least among those present;
 * MR*NV >= 8 accumulators hide the FMA latency, NV = 1 finishes output rows.
 * Names: fc_<dt>_dconv_<MR>x<NV>v__<tier>. */
#define FC_DCONV_SHAPES(X)                                                                   \
    X(4, 1) X(4, 2) X(4, 3)                                                                  \
    X(3, 1) X(3, 2) X(3, 3) X(3, 4)                                                          \
    X(2, 1) X(2, 3) X(2, 4) X(2, 5) X(2, 6)                                                  \
    X(1, 1) X(1, 4) X(1, 5) X(1, 6) X(1, 7) X(1, 8)
/* Bounds over every tier's shapes (they size the tables and the drivers' stack buffers). */
#define FC_DCONV_MAX_MR 8
#define FC_DCONV_MAX_NV 8

#define FC_DCONV_TAP(DT, T, MR, NV, ISA)                                                    \
    void fc_##DT##_dconv_##MR##x##NV##v__##ISA(int64_t, const int64_t *, const T *,         \
                                               const T *, const T *, T *, int64_t, int64_t);

#define FC_DCONV_GW(DT, T, MR, TB, ISA)                                                     \
    void fc_##DT##_dconvgw_##MR##x##TB##__##ISA(int64_t, int64_t, const T *, int64_t,       \
                                                int64_t, const T *, int64_t,                \
                                                const int64_t *, T *, int64_t, int64_t,     \
                                                int64_t);
/* The weight-gradient kernels every tier has: 4 channels x 3 taps and 1 channel x 9 taps. */
#define FC_DCONV_DECLARE(ISA)                                                                \
    FC_DCONV_GW(f32, float, 4, 3, ISA) FC_DCONV_GW(f32, float, 1, 9, ISA)                    \
    FC_DCONV_GW(f64, double, 4, 3, ISA) FC_DCONV_GW(f64, double, 1, 9, ISA)

/* One tier's direct-conv kernels for one dtype (a field of the tier descriptor, tier.h):
 * tap[MR][NV] (NULL where the tier has no such tile), the weight-gradient kernels, and the
 * vector lanes NR counts in. */
#define FC_DCONV_TABLE(DT)                                                                   \
    typedef struct {                                                                         \
        int lanes;                                                                           \
        fc_##DT##_dconv_fn tap[FC_DCONV_MAX_MR + 1][FC_DCONV_MAX_NV + 1];                    \
        fc_##DT##_dconvgw_fn gw4x3, gw1x9;                                                   \
    } fc_dconv_desc_##DT;
FC_DCONV_TABLE(f32)
FC_DCONV_TABLE(f64)

/* For the tiers' setup: declare / fill the tap kernels of a shape list (an X-macro such as
 * FC_DCONV_SHAPES) for both dtypes, and the weight-gradient kernels of one dtype.  Each needs
 * FC_DCONV_ISA defined as the tier's name. */
#define FC_DCONV_TAP_X(DT, T, MR, NV, ISA) FC_DCONV_TAP(DT, T, MR, NV, ISA)
#define FC_DCONV_TAP_DECL_BOTH(MR, NV)                                                       \
    FC_DCONV_TAP_X(f32, float, MR, NV, FC_DCONV_ISA)                                         \
    FC_DCONV_TAP_X(f64, double, MR, NV, FC_DCONV_ISA)
#define FC_DCONV_FILL_TAP_(d, DT, MR, NV, ISA) (d).tap[MR][NV] = fc_##DT##_dconv_##MR##x##NV##v__##ISA;
#define FC_DCONV_FILL_TAP(d, DT, MR, NV, ISA) FC_DCONV_FILL_TAP_(d, DT, MR, NV, ISA)
#define FC_DCONV_FILL_TAP_BOTH(MR, NV)                                                       \
    FC_DCONV_FILL_TAP(fc_setup_tier->dconv_f32, f32, MR, NV, FC_DCONV_ISA)                   \
    FC_DCONV_FILL_TAP(fc_setup_tier->dconv_f64, f64, MR, NV, FC_DCONV_ISA)
#define FC_DCONV_FILL_GW_(d, DT, ISA)                                                        \
    ((d).gw4x3 = fc_##DT##_dconvgw_4x3__##ISA, (d).gw1x9 = fc_##DT##_dconvgw_1x9__##ISA)
#define FC_DCONV_FILL_GW(d, DT, ISA) FC_DCONV_FILL_GW_(d, DT, ISA)

#endif
