/* Portable GEMM micro-kernels (contract: fastconv_ukernel.h).  Plain loops over a local
 * MR x NR accumulator tile, written so that the compiler keeps the tile in vector
 * registers of the baseline ISA (SSE2 on x86-64). */
#include "fastconv_ukernel.h"

/* The tile of every kernel here: t += A[i][p] * b[p*NR + j] with A[i][p] the expression
 * A_IP (in i and p), then C's m x n corner. */
#define FC_GENERIC_TILE_(T, MR, NR, A_IP)                                                    \
    T t[MR][NR];                                                                             \
    for (int i = 0; i < MR; i++)                                                             \
        for (int j = 0; j < NR; j++)                                                         \
            t[i][j] = 0;                                                                     \
    for (int64_t p = 0; p < k; p++) {                                                        \
        const T *bp = b + p * NR;                                                            \
        for (int i = 0; i < MR; i++) {                                                       \
            const T ai = (A_IP);                                                             \
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
    }

#define FC_GEMM_GENERIC(DT, T, MR, NR)                                                       \
void fc_##DT##_gemm_##MR##x##NR##__generic(int64_t k, const T *a, const T *b, T *c,          \
                                           int64_t ldc, int64_t m, int64_t n, int acc)       \
{                                                                                            \
    FC_GENERIC_TILE_(T, MR, NR, a[p * MR + i])                                               \
}

/* The gathered-A kernel (fastconv_ukernel.h: gemmx). */
#define FC_GEMMX_GENERIC(DT, T, MR, NR)                                                      \
void fc_##DT##_gemmx_##MR##x##NR##__generic(int64_t k, const int64_t *off, const T *x,       \
                                            const T *b, T *c, int64_t ldc, int64_t m,        \
                                            int64_t n, int acc)                              \
{                                                                                            \
    FC_GENERIC_TILE_(T, MR, NR, x[off[p] + i])                                               \
}

/* The rows-in-place kernel (fastconv_ukernel.h: gemmr). */
#define FC_GEMMR_GENERIC(DT, T, MR, NR)                                                      \
void fc_##DT##_gemmr_##MR##x##NR##__generic(int64_t k, const T *const *rows, const T *b,     \
                                            T *c, int64_t ldc, int64_t m, int64_t n,         \
                                            int acc)                                         \
{                                                                                            \
    FC_GENERIC_TILE_(T, MR, NR, rows[i][p])                                                  \
}

FC_GEMM_GENERIC(f32, float, 4, 16)
FC_GEMM_GENERIC(f64, double, 4, 8)
FC_GEMMX_GENERIC(f32, float, 4, 16)
FC_GEMMX_GENERIC(f64, double, 4, 8)
FC_GEMMR_GENERIC(f32, float, 4, 16)
FC_GEMMR_GENERIC(f64, double, 4, 8)
