/* ISA-neutral bodies of the direct-conv micro-kernels (contracts in csrc/conv/direct_ukernels.h),
 * written once and instantiated per (dtype, tile, tier) by a tier's conv_direct.c after it has
 * included its vector vocabulary (vec_<tier>.h: V_, L_, LOAD_, BCAST_, FMA_, STORE_, ZERO_,
 * MASK_, MAKE_MASK_, MLOAD_, HSUM_ and FC_NREGS).
 * Bodies are macros so that every accumulator array has its exact compile-time size: GCC then
 * keeps the arrays in vector registers (with larger, partly unused arrays it spills them). */
#ifndef FC_DCONV_BODY_H
#define FC_DCONV_BODY_H
#include "conv/direct_ukernels.h"

#define FC_DCONV_TAP_BODY(T, DT, MR, NV, ISA)                                                 \
void fc_##DT##_dconv_##MR##x##NV##v__##ISA(int64_t ntaps, const int64_t *off, const T *x,     \
                                           const T *w, const T *bias, T *y, int64_t ldy,      \
                                           int64_t mr)                                        \
{                                                                                             \
    V_##DT acc[MR][NV];                                                                       \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) {                                   \
        const V_##DT b = bias ? BCAST_##DT(bias + m) : ZERO_##DT();                           \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) acc[m][v] = b;                  \
    }                                                                                         \
    for (int64_t t = 0; t < ntaps; t++) {                                                     \
        const T *xt = x + off[t];                                                             \
        const T *wt = w + t * MR;                                                             \
        if (MR * NV + NV + 1 <= FC_NREGS) {                                                   \
            /* x first: NV + 1 + MR*NV registers */                                           \
            V_##DT xv[NV];                                                                    \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                             \
                xv[v] = LOAD_##DT(xt + L_##DT * v);                                           \
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) {                           \
                const V_##DT wv = BCAST_##DT(wt + m);                                         \
                _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                         \
                    acc[m][v] = FMA_##DT(wv, xv[v], acc[m][v]);                               \
            }                                                                                 \
        } else {                                                                              \
            /* weights first: MR + 1 + MR*NV registers */                                     \
            V_##DT wv[MR];                                                                    \
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) wv[m] = BCAST_##DT(wt + m); \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) {                           \
                const V_##DT xv = LOAD_##DT(xt + L_##DT * v);                                 \
                _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                         \
                    acc[m][v] = FMA_##DT(wv[m], xv, acc[m][v]);                               \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                     \
        if (m < mr)                                                                           \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                             \
                STORE_##DT(y + m * ldy + L_##DT * v, acc[m][v]);                              \
}

/* Rows m >= mr and taps t >= tb alias row 0 / tap 0: computed, never stored. */
#define FC_DCONV_GW_BODY(T, DT, MR, TB, ISA)                                                  \
void fc_##DT##_dconvgw_##MR##x##TB##__##ISA(int64_t nrows, int64_t len, const T *gy,          \
                                            int64_t ldm, int64_t ldr, const T *x, int64_t ldx,\
                                            const int64_t *off, T *gw, int64_t ldgw,          \
                                            int64_t mr, int64_t tb)                           \
{                                                                                             \
    V_##DT acc[MR][TB];                                                                       \
    const T *gm[MR];                                                                          \
    int64_t ot[TB];                                                                           \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) gm[m] = gy + (m < mr ? m : 0) * ldm;\
    _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++) ot[t] = off[t < tb ? t : 0];        \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                     \
        _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++) acc[m][t] = ZERO_##DT();        \
    const int64_t rem = len % L_##DT, lv = len - rem;                                         \
    const MASK_##DT mask = MAKE_MASK_##DT(rem);                                               \
    for (int64_t r = 0; r < nrows; r++) {                                                     \
        const T *gr[MR], *xt[TB];                                                             \
        _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) gr[m] = gm[m] + r * ldr;        \
        _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++) xt[t] = x + r * ldx + ot[t];    \
        for (int64_t p = 0; p < lv; p += L_##DT) {                                            \
            /* x first: TB + 1 + MR*TB registers */                                           \
            V_##DT xv[TB];                                                                    \
            _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++) xv[t] = LOAD_##DT(xt[t] + p);\
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) {                           \
                const V_##DT g = LOAD_##DT(gr[m] + p);                                        \
                _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++)                         \
                    acc[m][t] = FMA_##DT(g, xv[t], acc[m][t]);                                \
            }                                                                                 \
        }                                                                                     \
        if (rem) {                                                                            \
            V_##DT xv[TB];                                                                    \
            _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++)                             \
                xv[t] = MLOAD_##DT(xt[t] + lv, mask);                                         \
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) {                           \
                const V_##DT g = MLOAD_##DT(gr[m] + lv, mask);                                \
                _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++)                         \
                    acc[m][t] = FMA_##DT(g, xv[t], acc[m][t]);                                \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                     \
        _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++)                                 \
            if (m < mr && t < tb) gw[m * ldgw + t] += HSUM_##DT(acc[m][t]);                   \
}

#endif
