/* Portable GEMM micro-kernels (contract: fastconv_ukernel.h).  Plain loops over a local
 * MR x NR accumulator tile, written so that the compiler keeps the tile in vector
 * registers of the baseline ISA (SSE2 on x86-64). */
#include "fastconv_ukernel.h"

#define FC_GEMM_GENERIC(DT, T, MR, NR)                                                       \
void fc_##DT##_gemm_##MR##x##NR##__generic(int64_t k, const T *a, const T *b, T *c,          \
                                           int64_t ldc, int64_t m, int64_t n, int acc)       \
{                                                                                            \
    T t[MR][NR];                                                                             \
    for (int i = 0; i < MR; i++)                                                             \
        for (int j = 0; j < NR; j++)                                                         \
            t[i][j] = 0;                                                                     \
    for (int64_t p = 0; p < k; p++) {                                                        \
        const T *ap = a + p * MR, *bp = b + p * NR;                                          \
        for (int i = 0; i < MR; i++) {                                                       \
            const T ai = ap[i];                                                              \
            for (int j = 0; j < NR; j++)                                                     \
                t[i][j] += ai * bp[j];                                                       \
        }                                                                                    \
    }                                                                                        \
    for (int64_t i = 0; i < m; i++) {                                                        \
        T *ci = c + i * ldc;                                                                 \
        if (acc)                                                                             \
            for (int64_t j = 0; j < n; j++)                                                  \
                ci[j] += t[i][j];                                                            \
        else                                                                                 \
            for (int64_t j = 0; j < n; j++)                                                  \
                ci[j] = t[i][j];                                                             \
    }                                                                                        \
}

FC_GEMM_GENERIC(f32, float, 4, 16)
FC_GEMM_GENERIC(f64, double, 4, 8)

/* The gathered-A kernel (fastconv_ukernel.h: gemmx) in plain loops. */
#define FC_GEMMX_GENERIC(DT, T, MR, NR)                                                      \
void fc_##DT##_gemmx_##MR##x##NR##__generic(int64_t k, const int64_t *off, const T *x,       \
                                            const T *b, T *c, int64_t ldc, int64_t m,        \
                                            int64_t n, int acc)                              \
{                                                                                            \
    T t[MR][NR];                                                                             \
    for (int i = 0; i < MR; i++)                                                             \
        for (int j = 0; j < NR; j++)                                                         \
            t[i][j] = 0;                                                                     \
    for (int64_t p = 0; p < k; p++) {                                                        \
        const T *xp = x + off[p], *bp = b + p * NR;                                          \
        for (int i = 0; i < MR; i++) {                                                       \
            const T ai = xp[i];                                                              \
            for (int j = 0; j < NR; j++)                                                     \
                t[i][j] += ai * bp[j];                                                       \
        }                                                                                    \
    }                                                                                        \
    for (int64_t i = 0; i < m; i++) {                                                        \
        T *ci = c + i * ldc;                                                                 \
        for (int64_t j = 0; j < n; j++)                                                      \
            ci[j] = acc ? ci[j] + t[i][j] : t[i][j];                                         \
    }                                                                                        \
}

FC_GEMMX_GENERIC(f32, float, 4, 16)
FC_GEMMX_GENERIC(f64, double, 4, 8)

/* The rows-in-place kernel (fastconv_ukernel.h: gemmr) in plain loops. */
#define FC_GEMMR_GENERIC(DT, T, MR, NR)                                                      \
void fc_##DT##_gemmr_##MR##x##NR##__generic(int64_t k, const T *const *rows, const T *b,     \
                                            T *c, int64_t ldc, int64_t m, int64_t n,         \
                                            int acc)                                         \
{                                                                                            \
    T t[MR][NR];                                                                             \
    for (int i = 0; i < MR; i++)                                                             \
        for (int j = 0; j < NR; j++)                                                         \
            t[i][j] = 0;                                                                     \
    for (int64_t p = 0; p < k; p++) {                                                        \
        const T *bp = b + p * NR;                                                            \
        for (int i = 0; i < MR; i++) {                                                       \
            const T ai = rows[i][p];                                                         \
            for (int j = 0; j < NR; j++)                                                     \
                t[i][j] += ai * bp[j];                                                       \
        }                                                                                    \
    }                                                                                        \
    for (int64_t i = 0; i < m; i++) {                                                        \
        T *ci = c + i * ldc;                                                                 \
        for (int64_t j = 0; j < n; j++)                                                      \
            ci[j] = acc ? ci[j] + t[i][j] : t[i][j];                                         \
    }                                                                                        \
}

FC_GEMMR_GENERIC(f32, float, 4, 16)
FC_GEMMR_GENERIC(f64, double, 4, 8)
