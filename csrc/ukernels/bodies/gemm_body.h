/* ISA-neutral body of the GEMM micro-kernel (contract in fastconv_ukernel.h): an MR x (NV
 * vectors) tile, instantiated per (dtype, tile, tier) after the tier's vector vocabulary.
 * Per step p: NV loads of B, MR broadcasts of A, MR*NV FMAs.  Edge tiles (m < MR or n < NR)
 * are computed whole (a short last row panel: its rows only) and copied out through a buffer,
 * so that a given element's arithmetic is the same wherever its tile sits. */
#ifndef FC_GEMM_BODY_H
/* R x NV zeroed accumulators t, and C's m rows fetched under the k loop (they come from L2
 * or further). */
#define FC_GEMM_OPEN_(DT, R, NV)                                                             \
        V_##DT t[R][NV];                                                                     \
        _Pragma("GCC unroll 16") for (int i = 0; i < R; i++)                                 \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) t[i][v] = ZERO_##DT();     \
        for (int64_t i = 0; i < m; i++) {                                                    \
            __builtin_prefetch(c + i * ldc, 1);                                              \
            __builtin_prefetch(c + i * ldc + NR - 1, 1);                                     \
        }

/* The step of every kernel here: NV loads of B at bp, one broadcast per row i from the
 * address A_I (an expression in i), MR*NV FMAs. */
#define FC_GEMM_STEP_(DT, R, NV, A_I)                                                        \
        {                                                                                    \
            V_##DT bv[NV];                                                                   \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                            \
                bv[v] = LOAD_##DT(bp + v * L_##DT);                                          \
            _Pragma("GCC unroll 16") for (int i = 0; i < R; i++) {                           \
                const V_##DT ai = BCAST_##DT(A_I);                                           \
                _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                        \
                    t[i][v] = FMA_##DT(ai, bv[v], t[i][v]);                                  \
            }                                                                                \
        }

/* One tile of R rows (R <= MR) of the MR-row packed A panel; returns from the kernel. */
#define FC_GEMM_ROWS_(T, DT, R, NV)                                                          \
    {                                                                                        \
        FC_GEMM_OPEN_(DT, R, NV)                                                             \
        const T *ap = a, *bp = b;                                                            \
        for (int64_t p = 0; p < k; p++) {                                                    \
            /* A panels stream from L2/L3 (a B panel is reused across them): fetch 32 steps   \
             * ahead, into the next panel at the end (measured 32 > 16 > 8 on a Xeon) */       \
            __builtin_prefetch(ap + 32 * PMR);                                               \
            FC_GEMM_STEP_(DT, R, NV, ap + i)                                                 \
            ap += PMR;                                                                       \
            bp += NR;                                                                        \
        }                                                                                    \
        FC_GEMM_STORE_(T, DT, R, NV)                                                         \
    }

/* C's m x n corner from the R x NV accumulators t (a full tile straight, an edge tile
 * through a buffer); returns from the kernel. */
#define FC_GEMM_STORE_(T, DT, R, NV)                                                         \
        if (m == R && n == NR) {                                                             \
            _Pragma("GCC unroll 16") for (int i = 0; i < R; i++)                             \
                _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) {                      \
                    T *ci = c + i * ldc + v * L_##DT;                                        \
                    STORE_##DT(ci, acc ? ADD_##DT(LOAD_##DT(ci), t[i][v]) : t[i][v]);        \
                }                                                                            \
            return;                                                                          \
        }                                                                                    \
        T tile[R * NR];                                                                      \
        _Pragma("GCC unroll 16") for (int i = 0; i < R; i++)                                 \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                            \
                STORE_##DT(tile + i * NR + v * L_##DT, t[i][v]);                             \
        for (int64_t i = 0; i < m; i++)                                                      \
            for (int64_t j = 0; j < n; j++)                                                  \
                c[i * ldc + j] = acc ? c[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j]; \
        return;

/* A last row panel of at most 4 (or 8) rows -- 64 channels are 5 x 12 + 4 -- computes only
 * those rows; each element still gets the same FMAs in the same order. */
#define FC_GEMM_BODY(T, DT, MR, NV, NRNAME, ISA)                                             \
void fc_##DT##_gemm_##MR##x##NRNAME##__##ISA(int64_t k, const T *a, const T *b, T *c,        \
                                             int64_t ldc, int64_t m, int64_t n, int acc)     \
{                                                                                            \
    enum { NR = NV * L_##DT, PMR = MR };   /* PMR: the A panel's row stride */         \
    if (MR > 4 && m <= 4)                                                                    \
        FC_GEMM_ROWS_(T, DT, (MR > 4 ? 4 : MR), NV)                                          \
    if (MR > 8 && m <= 8)                                                                    \
        FC_GEMM_ROWS_(T, DT, (MR > 8 ? 8 : MR), NV)                                          \
    FC_GEMM_ROWS_(T, DT, MR, NV)                                                             \
}

/* The gathered-A kernel (contract in fastconv_ukernel.h): per step NV loads of B, MR
 * broadcasts of consecutive points at x + off[p], MR*NV FMAs; the whole tile always. */
#define FC_GEMMX_BODY(T, DT, MR, NV, NRNAME, ISA)                                            \
void fc_##DT##_gemmx_##MR##x##NRNAME##__##ISA(int64_t k, const int64_t *off, const T *x,     \
                                              const T *b, T *c, int64_t ldc, int64_t m,      \
                                              int64_t n, int acc)                            \
{                                                                                            \
    enum { NR = NV * L_##DT };                                                               \
    FC_GEMM_OPEN_(DT, MR, NV)                                                                \
    const T *bp = b;                                                                         \
    for (int64_t p = 0; p < k; p++) {                                                        \
        const T *xp = x + off[p];                                                            \
        FC_GEMM_STEP_(DT, MR, NV, xp + i)                                                    \
        bp += NR;                                                                            \
    }                                                                                        \
    FC_GEMM_STORE_(T, DT, MR, NV)                                                            \
}

/* The rows-in-place kernel (contract in fastconv_ukernel.h): per step NV loads of B, MR
 * broadcasts, one from each row, MR*NV FMAs. */
#define FC_GEMMR_BODY(T, DT, MR, NV, NRNAME, ISA)                                            \
void fc_##DT##_gemmr_##MR##x##NRNAME##__##ISA(int64_t k, const T *const *rows, const T *b,   \
                                              T *c, int64_t ldc, int64_t m, int64_t n,       \
                                              int acc)                                       \
{                                                                                            \
    enum { NR = NV * L_##DT };                                                               \
    FC_GEMM_OPEN_(DT, MR, NV)                                                                \
    const T *ar[MR];                                                                         \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) ar[i] = rows[i];                   \
    const T *bp = b;                                                                         \
    for (int64_t p = 0; p < k; p++) {                                                        \
        FC_GEMM_STEP_(DT, MR, NV, ar[i] + p)                                                 \
        bp += NR;                                                                            \
    }                                                                                        \
    FC_GEMM_STORE_(T, DT, MR, NV)                                                            \
}

#endif
