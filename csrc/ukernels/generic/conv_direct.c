/* Portable direct-conv micro-kernels (contracts in csrc/conv/direct_ukernels.h).  Written
 * lane-wise so that a compiler without special flags can still vectorise them. */
#include "conv/direct_ukernels.h"

#define GEN_DCONV(T, DT, MR, NV, L)                                                           \
void fc_##DT##_dconv_##MR##x##NV##v__generic(int64_t ntaps, const int64_t *off, const T *x,   \
                                             const T *w, const T *bias, T *y, int64_t ldy,    \
                                             int64_t mr)                                      \
{                                                                                             \
    enum { NR = NV * L };                                                                     \
    T acc[MR][NR];                                                                            \
    for (int m = 0; m < MR; m++) {                                                            \
        const T b = bias ? bias[m] : (T)0;                                                    \
        for (int p = 0; p < NR; p++) acc[m][p] = b;                                           \
    }                                                                                         \
    for (int64_t t = 0; t < ntaps; t++) {                                                     \
        const T *xt = x + off[t];                                                             \
        const T *wt = w + t * MR;                                                             \
        for (int m = 0; m < MR; m++) {                                                        \
            const T wv = wt[m];                                                               \
            for (int p = 0; p < NR; p++) acc[m][p] += wv * xt[p];                             \
        }                                                                                     \
    }                                                                                         \
    for (int64_t m = 0; m < mr; m++)                                                          \
        for (int p = 0; p < NR; p++) y[m * ldy + p] = acc[m][p];                              \
}

/* Rows m >= mr and taps t >= tb alias row 0 / tap 0: computed, never stored. */
#define GEN_DCONVGW(T, DT, MR, TB, L)                                                         \
void fc_##DT##_dconvgw_##MR##x##TB##__generic(int64_t nrows, int64_t len, const T *gy,        \
                                              int64_t ldm, int64_t ldr, const T *x,           \
                                              int64_t ldx, const int64_t *off, T *gw,         \
                                              int64_t ldgw, int64_t mr, int64_t tb)           \
{                                                                                             \
    T acc[MR][TB][L];                                                                         \
    const T *gm[MR];                                                                          \
    int64_t ot[TB];                                                                           \
    for (int m = 0; m < MR; m++) gm[m] = gy + (m < mr ? m : 0) * ldm;                         \
    for (int t = 0; t < TB; t++) ot[t] = off[t < tb ? t : 0];                                 \
    for (int m = 0; m < MR; m++)                                                              \
        for (int t = 0; t < TB; t++)                                                          \
            for (int l = 0; l < L; l++) acc[m][t][l] = (T)0;                                  \
    const int64_t lv = len - len % L;                                                         \
    for (int64_t r = 0; r < nrows; r++) {                                                     \
        const T *xr = x + r * ldx;                                                            \
        for (int m = 0; m < MR; m++) {                                                        \
            const T *g = gm[m] + r * ldr;                                                     \
            for (int t = 0; t < TB; t++) {                                                    \
                const T *xt = xr + ot[t];                                                     \
                int64_t p = 0;                                                                \
                for (; p < lv; p += L)                                                        \
                    for (int l = 0; l < L; l++) acc[m][t][l] += g[p + l] * xt[p + l];         \
                for (; p < len; p++) acc[m][t][p - lv] += g[p] * xt[p];                       \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    for (int64_t m = 0; m < mr; m++)                                                          \
        for (int64_t t = 0; t < tb; t++) {                                                    \
            T s = (T)0;                                                                       \
            for (int l = 0; l < L; l++) s += acc[m][t][l];                                    \
            gw[m * ldgw + t] += s;                                                            \
        }                                                                                     \
}

#define GEN_DCONV_BOTH(MR, NV) GEN_DCONV(float, f32, MR, NV, 8) GEN_DCONV(double, f64, MR, NV, 4)
FC_DCONV_SHAPES(GEN_DCONV_BOTH)
GEN_DCONVGW(float, f32, 4, 3, 8)
GEN_DCONVGW(float, f32, 1, 9, 8)
GEN_DCONVGW(double, f64, 4, 3, 4)
GEN_DCONVGW(double, f64, 1, 9, 4)
