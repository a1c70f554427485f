/*
 * Micro-kernel contracts (BLIS-style): each kernel here has an exact contract, a portable
 * C version in csrc/ukernels/generic/ and tier versions in csrc/ukernels/<tier>/ (the only
 * files compiled with ISA flags).  Names: fc_<dtype>_<op>_<tile>__<isa>.
 */
#ifndef FASTCONV_UKERNEL_H
#define FASTCONV_UKERNEL_H
#include <stdint.h>
#include "fastconv.h"

/* ------------------------------------------------------------------- GEMM ---- */
/*
 * fc_<dtype>_gemm_<MR>x<NR>__<isa>(k, a, b, c, ldc, m, n, acc)
 *
 *   C[i][j] = (acc ? C[i][j] : 0) + sum_{p=0}^{k-1} a[p*MR + i] * b[p*NR + j]
 *   for 0 <= i < m, 0 <= j < n, where C[i][j] is c[i*ldc + j].
 *
 * a: a packed MR x k panel of A, column after column (MR values per step p).
 * b: a packed k x NR panel of B, row after row (NR values per step p).
 * Both panels are always full (MR resp. NR values per p, zero-padded by the packer), so the
 * kernel may compute a whole MR x NR tile; it reads and writes only the m x n corner of C.
 * 1 <= m <= MR, 1 <= n <= NR, k >= 0 (k == 0 stores zeros, or leaves C as is when acc),
 * ldc >= n.  With acc == 0, C is never read (it may hold NaN or garbage).
 * No alignment is required of a, b or c.  The sum over p is evaluated in order p = 0..k-1
 * for every element (one fused multiply-add per step on ISAs that have FMA), so a given
 * element's result does not depend on m, n or on where its tile sits.
 */
typedef void (*fc_f32_gemm_ukernel)(int64_t k, const float *a, const float *b, float *c,
                                    int64_t ldc, int64_t m, int64_t n, int acc);
typedef void (*fc_f64_gemm_ukernel)(int64_t k, const double *a, const double *b, double *c,
                                    int64_t ldc, int64_t m, int64_t n, int acc);

#define FC_GEMM_UKERNEL_DECL(DT, T, TILE, ISA)                                               \
    void fc_##DT##_gemm_##TILE##__##ISA(int64_t k, const T *a, const T *b, T *c,             \
                                        int64_t ldc, int64_t m, int64_t n, int acc);

/*
 * fc_<dtype>_gemmx_<MR>x<NR>__<isa>(k, off, x, b, c, ldc, m, n, acc)
 *
 *   C[i][j] = (acc ? C[i][j] : 0) + sum_{p=0}^{k-1} x[off[p] + i] * b[p*NR + j]
 *   for 0 <= i < m, 0 <= j < n, where C[i][j] is c[i*ldc + j].
 *
 * The GEMM kernel with A gathered, not packed: row i of A is MR consecutive points of an
 * input plane and column p a tap at offset off[p] (the direct convolution vectorised along
 * output channels: C is points x channels).  x[off[p] + i] must be readable for every
 * p < k and i < MR (the kernel may compute the whole tile); b, the sizes, ldc, acc, the
 * order of the sum and what is written are as for gemm.
 */
typedef void (*fc_f32_gemmx_ukernel)(int64_t k, const int64_t *off, const float *x,
                                     const float *b, float *c, int64_t ldc, int64_t m,
                                     int64_t n, int acc);
typedef void (*fc_f64_gemmx_ukernel)(int64_t k, const int64_t *off, const double *x,
                                     const double *b, double *c, int64_t ldc, int64_t m,
                                     int64_t n, int acc);

#define FC_GEMMX_UKERNEL_DECL(DT, T, TILE, ISA)                                              \
    void fc_##DT##_gemmx_##TILE##__##ISA(int64_t k, const int64_t *off, const T *x,          \
                                         const T *b, T *c, int64_t ldc, int64_t m,           \
                                         int64_t n, int acc);

/*
 * fc_<dtype>_gemmr_<MR>x<NR>__<isa>(k, rows, b, c, ldc, m, n, acc)
 *
 *   C[i][j] = (acc ? C[i][j] : 0) + sum_{p=0}^{k-1} rows[i][p] * b[p*NR + j]
 *
 * The GEMM kernel with A's MR rows read in place through pointers (each to k values), not
 * packed: the direct weight gradient's input rows (a tap's run of a stride-phase plane)
 * against packed grad_output columns.  rows[i] must point to k readable values for every
 * i < MR (rows past m may repeat a valid one); the rest as for gemm.
 */
typedef void (*fc_f32_gemmr_ukernel)(int64_t k, const float *const *rows, const float *b,
                                     float *c, int64_t ldc, int64_t m, int64_t n, int acc);
typedef void (*fc_f64_gemmr_ukernel)(int64_t k, const double *const *rows, const double *b,
                                     double *c, int64_t ldc, int64_t m, int64_t n, int acc);

#define FC_GEMMR_UKERNEL_DECL(DT, T, TILE, ISA)                                              \
    void fc_##DT##_gemmr_##TILE##__##ISA(int64_t k, const T *const *rows, const T *b, T *c,  \
                                         int64_t ldc, int64_t m, int64_t n, int acc);

/*
 * fc_<dtype>_gemm_packt_<NR>__<isa>(kc, rows, dst)
 *
 *   dst[p*NR + j] = rows[j][p]   for 0 <= p < kc, 0 <= j < NR.
 *
 * Packs one k x NR panel of B when B is stored transposed (its columns contiguous, e.g.
 * the im2col matrix in conv backward-weight): a transpose of NR rows of kc values.
 * rows: NR pointers, each to kc readable values; no alignment required; kc >= 0.
 */
typedef void (*fc_f32_gemm_packt)(int64_t kc, const float *const *rows, float *dst);
typedef void (*fc_f64_gemm_packt)(int64_t kc, const double *const *rows, double *dst);

#define FC_GEMM_PACKT_DECL(DT, T, NR, ISA)                                                   \
    void fc_##DT##_gemm_packt_##NR##__##ISA(int64_t kc, const T *const *rows, T *dst);

/*
 * fc_<dtype>_gemm_packa_<MR>__<isa>(kc, rows, dst)
 *
 *   dst[p*MR + i] = rows[i][p]   for 0 <= p < kc, 0 <= i < MR.
 *
 * The same transpose for one MR x k panel of A whose rows are contiguous (grad_output rows
 * in the backward-weight GEMMs, transformed tiles in Winograd's), with the packt type and
 * the same requirements on rows.
 */
#define FC_GEMM_PACKA_DECL(DT, T, MR, ISA)                                                   \
    void fc_##DT##_gemm_packa_##MR##__##ISA(int64_t kc, const T *const *rows, T *dst);

/* --------------------------------------------------------------- Winograd ---- */
/*
 * F(MxM, 3x3) tile transforms, M = 2 (tiles of A = 4) or 4 (A = 6), Lavin & Gray's matrices
 * B^T (A x A) and A^T (M x A).  At most FC_WINO_NT_MAX tiles per call.
 *
 * fc_<dtype>_wino_in_<M>__<isa>(rows, col0, W, nt, v, vs)
 *   For tiles j < nt, the patch d[r][c] = rows[r][col0 + j*M + c] (r, c < A), reading zero
 *   where rows[r] is NULL or the column lies outside [0, W); writes V = B^T d B as
 *   v[(k*A + l)*vs + j] = V[k][l].  rows: A pointers (rows of W readable values or NULL);
 *   col0 may be negative; 1 <= nt <= FC_WINO_NT_MAX.  The kernel computes a whole number of
 *   vectors: it may also write v[(k*A + l)*vs + j] for nt <= j < fc_wino_span(nt) (values
 *   unspecified), so the caller leaves that room (and vs >= fc_wino_span(nt)).
 *
 * fc_<dtype>_wino_out_<M>__<isa>(m, ms, nt, bias, rows, col0, W)
 *   For tiles j < nt, with Mt[k][l] = m[(k*A + l)*ms + j], Y = A^T Mt A + bias (M x M), and
 *   rows[i][col0 + j*M + c] = Y[i][c] for the columns below W; rows[i] NULL skips row i.
 *   col0 >= 0; 1 <= nt <= FC_WINO_NT_MAX; m is read (values unused) up to
 *   j < fc_wino_span(nt), so those must be readable.
 *
 * fc_<dtype>_wino_gy_<M>__<isa>(rows, col0, W, nt, v, vs)
 *   Backward-weight's grad_output tiles: for tiles j < nt, g[i][c] = rows[i][col0 + j*M + c]
 *   (i, c < M; zero where rows[i] is NULL or the column is >= W), Gy = A g A^T (A x A, A the
 *   transpose of A^T) as v[(k*A + l)*vs + j].  col0 >= 0; 1 <= nt <= FC_WINO_NT_MAX; may
 *   write up to j < fc_wino_span(nt), as wino_in.
 *
 * fc_<dtype>_wino_wt_<M>__<isa>(w, sf, n, flip, u, us)
 *   For filters i < n (n <= FC_WINO_WT_NT), f = the 3x3 at w + i*sf (row-major; turned by
 *   180 degrees when flip), U = G f G^T computed in float64 and rounded once:
 *   u[e*us + i] = U[e / A][e % A].  Writes u[e*us + i] for every i < FC_WINO_WT_NT (zeros
 *   past n): the caller leaves that room.
 *
 * fc_<dtype>_wino_gw_<M>__<isa>(s, es, n, gw)
 *   Backward-weight's last step, wino_wt's adjoint: for filters i < n (n <= FC_WINO_WT_NT),
 *   with S[e / A][e % A] = s[e*es + i], gw[i*9 + kh*3 + kw] = (G^T S G)[kh][kw] computed in
 *   float64 and rounded once.  Reads s[e*es + i] for every i < FC_WINO_WT_NT (values past n
 *   unused): the caller leaves that room.
 */
#define FC_WINO_NT_MAX 32
/* G (A x 3) of F(2x2,3x3) (M = 2) and F(4x4,3x3) (M = 4): G[a][k]. */
static inline double fc_wino_g(int M, int a, int k)
{
    static const double g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    static const double g4[6][3] = {{1.0 / 4, 0, 0},
                                    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                    {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                    {0, 0, 1}};
    return M == 2 ? g2[a][k] : g4[a][k];
}
#define FC_WINO_WT_NT 16
static inline int64_t fc_wino_span(int64_t nt) { return nt <= 8 ? 8 : nt <= 16 ? 16 : 32; }
typedef void (*fc_f32_wino_in)(const float *const *rows, int64_t col0, int64_t W, int64_t nt,
                               float *v, int64_t vs);
typedef void (*fc_f64_wino_in)(const double *const *rows, int64_t col0, int64_t W, int64_t nt,
                               double *v, int64_t vs);
typedef fc_f32_wino_in fc_f32_wino_gy;
typedef fc_f64_wino_in fc_f64_wino_gy;
typedef void (*fc_f32_wino_wt)(const float *w, int64_t sf, int64_t n, int flip, float *u,
                               int64_t us);
typedef void (*fc_f64_wino_wt)(const double *w, int64_t sf, int64_t n, int flip, double *u,
                               int64_t us);
typedef void (*fc_f32_wino_gw)(const float *s, int64_t es, int64_t n, float *gw);
typedef void (*fc_f64_wino_gw)(const double *s, int64_t es, int64_t n, double *gw);
typedef void (*fc_f32_wino_out)(const float *m, int64_t ms, int64_t nt, float bias,
                                float *const *rows, int64_t col0, int64_t W);
typedef void (*fc_f64_wino_out)(const double *m, int64_t ms, int64_t nt, double bias,
                                double *const *rows, int64_t col0, int64_t W);

#define FC_WINO_DECL(DT, T, M, ISA)                                                          \
    void fc_##DT##_wino_in_##M##__##ISA(const T *const *rows, int64_t col0, int64_t W,       \
                                        int64_t nt, T *v, int64_t vs);                       \
    void fc_##DT##_wino_out_##M##__##ISA(const T *m, int64_t ms, int64_t nt, T bias,         \
                                         T *const *rows, int64_t col0, int64_t W);     \
    void fc_##DT##_wino_wt_##M##__##ISA(const T *w, int64_t sf, int64_t n, int flip, T *u,   \
                                        int64_t us);                                         \
    void fc_##DT##_wino_gy_##M##__##ISA(const T *const *rows, int64_t col0, int64_t W,       \
                                        int64_t nt, T *v, int64_t vs);                       \
    void fc_##DT##_wino_gw_##M##__##ISA(const T *s, int64_t es, int64_t n, T *gw);
/* Every tier's four dtype x tile instances, and its descriptor fields' filling. */
#define FC_WINO_DECL_ALL(ISA)                                                                \
    FC_WINO_DECL(f32, float, 2, ISA) FC_WINO_DECL(f32, float, 4, ISA)                        \
    FC_WINO_DECL(f64, double, 2, ISA) FC_WINO_DECL(f64, double, 4, ISA)

/* Each tier declares its instances in its csrc/ukernels/<tier>/tier.c. */

#endif
