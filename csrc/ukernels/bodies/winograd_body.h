/*
 * Winograd F(MxM, 3x3) tile transforms (contracts in fastconv_ukernel.h), one dtype and one
 * tile size per inclusion: define FC_T, FC_DT, FC_WM (2 or 4) and FC_WISA (the tier's name)
 * first.  Plain C on arrays indexed by tile, innermost loops over up to FC_WINO_NT_MAX tiles
 * of unit stride, so that the tier's compile flags vectorise them across tiles.  The matrices
 * are Lavin & Gray's (arXiv:1509.09308): points 0, +-1 (F(2,3)) and 0, +-1, +-2 (F(4,3)),
 * written out term by term so that their zeros and unit entries cost nothing.
 */
#include <stdint.h>
#include <string.h>
#include "fastconv_ukernel.h"

#define FC_WA (FC_WM + 2)
/* GCC turns the short copy loops below back into memcpy calls, which cost more than the
 * copies (a fifth of a small-image layer's time) */
#if defined(__GNUC__) && !defined(__clang__)
#define FC_W_INLINE_COPIES __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define FC_W_INLINE_COPIES
#endif
#define FC_WP3_(a, b, c, d, e) a##_##b##_##c##_##d##__##e
#define FC_WP3(a, b, c, d, e) FC_WP3_(a, b, c, d, e)
#define FC_WNAME(op) FC_WP3(fc, FC_DT, op, FC_WM, FC_WISA)

#if FC_WM == 2
/* o[k] = sum_r BT[k][r] * d[r] for the 4x4 B^T of F(2,3) */
#define FC_W_BT(o, d)                                                                       \
    do {                                                                                    \
        o(0) = d(0) - d(2);                                                                 \
        o(1) = d(1) + d(2);                                                                 \
        o(2) = d(2) - d(1);                                                                 \
        o(3) = d(1) - d(3);                                                                 \
    } while (0)
/* o[i] = sum_k AT[i][k] * m[k] for the 2x4 A^T */
#define FC_W_AT(o, m)                                                                       \
    do {                                                                                    \
        o(0) = m(0) + m(1) + m(2);                                                          \
        o(1) = m(1) - m(2) - m(3);                                                          \
    } while (0)
/* o[a] = sum_i AT[i][a] * g[i]: A^T's transpose, for grad_output tiles (backward-weight) */
#define FC_W_ATT(o, g)                                                                      \
    do {                                                                                    \
        o(0) = g(0);                                                                        \
        o(1) = g(0) + g(1);                                                                 \
        o(2) = g(0) - g(1);                                                                 \
        o(3) = -g(1);                                                                       \
    } while (0)
#else
#define FC_W_BT(o, d)                                                                       \
    do {                                                                                    \
        o(0) = 4 * d(0) - 5 * d(2) + d(4);                                                  \
        o(1) = d(3) + d(4) - 4 * (d(1) + d(2));                                             \
        o(2) = d(4) - d(3) + 4 * (d(1) - d(2));                                             \
        o(3) = d(4) - d(2) + 2 * (d(3) - d(1));                                             \
        o(4) = d(4) - d(2) + 2 * (d(1) - d(3));                                             \
        o(5) = 4 * d(1) - 5 * d(3) + d(5);                                                  \
    } while (0)
#define FC_W_AT(o, m)                                                                       \
    do {                                                                                    \
        o(0) = m(0) + m(1) + m(2) + m(3) + m(4);                                            \
        o(1) = (m(1) - m(2)) + 2 * (m(3) - m(4));                                           \
        o(2) = (m(1) + m(2)) + 4 * (m(3) + m(4));                                           \
        o(3) = (m(1) - m(2)) + 8 * (m(3) - m(4)) + m(5);                                    \
    } while (0)
#define FC_W_ATT(o, g)                                                                      \
    do {                                                                                    \
        o(0) = g(0);                                                                        \
        o(1) = (g(0) + g(2)) + (g(1) + g(3));                                               \
        o(2) = (g(0) + g(2)) - (g(1) + g(3));                                               \
        o(3) = g(0) + 2 * g(1) + 4 * g(2) + 8 * g(3);                                       \
        o(4) = g(0) - 2 * g(1) + 4 * g(2) - 8 * g(3);                                       \
        o(5) = g(3);                                                                        \
    } while (0)
#endif

/* The transforms at a constant width NW >= nt tiles, so that every loop has a trip count
 * the compiler knows; columns of tiles past nt are computed from zeros (or, in wino_out, from
 * whatever m holds there) and not stored, except into v's slack (the contract). */
static inline __attribute__((always_inline)) void FC_WNAME(wino_in_w)(
    const FC_T *const *rows, int64_t col0, int64_t W, int64_t nt, FC_T *v, int64_t vs,
    const int NW)
{
    enum { M = FC_WM, A = FC_WA };
    /* ph[r][c][j]: row r of tile j's patch, column j*M + c (c < M); columns M..A-1 of tile j
     * are columns 0..A-M-1 of tile j + 1, so one deinterleave serves both. */
    FC_T ph[A][M][FC_WINO_NT_MAX + 1];
    FC_T t[A][A][FC_WINO_NT_MAX];
    FC_T buf[(FC_WINO_NT_MAX + 1) * M];
    const int64_t span = (nt + 1) * M;   /* the columns the nt patches read */
    /* of [col0, col0 + span), those inside [0, W) */
    int64_t lo = col0 < 0 ? -col0 : 0, hi = W - col0;
    if (lo > span) lo = span;
    if (hi > span) hi = span;
    if (hi < lo) hi = lo;
    for (int r = 0; r < A; r++) {
        const FC_T *row = rows[r];
        /* whole vectors, each lane tested against [lo, hi): masked loads.  (Zeroing buf,
         * then filling [lo, hi) one element at a time and reading it back as vectors
         * stalled on store forwarding: a third of this kernel's time.) */
        if (row)
            for (int64_t x = 0; x < (NW + 1) * M; x++)
                buf[x] = x >= lo && x < hi ? row[col0 + x] : 0;
        else
            for (int64_t x = 0; x < (NW + 1) * M; x++)
                buf[x] = 0;
        for (int j = 0; j < NW + 1; j++)
            for (int c = 0; c < M; c++)
                ph[r][c][j] = buf[j * M + c];
    }
    /* down the columns: t[k][c][j] = sum_r BT[k][r] * patch[r][c] */
    for (int c = 0; c < A; c++) {
        const int q = c / M, p = c % M;
        for (int j = 0; j < NW; j++) {
#define FC_W_D(r) ph[r][p][j + q]
#define FC_W_O(k) t[k][c][j]
            FC_W_BT(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
        }
    }
    /* along the rows: v[(k*A + l)*vs + j] = sum_c t[k][c] * BT[l][c], through r: with the
     * A output rows written in one loop the compiler cannot rule out their overlap (vs is
     * a variable) and stores them one lane at a time */
    for (int k = 0; k < A; k++) {
        FC_T r[A][FC_WINO_NT_MAX];
        for (int j = 0; j < NW; j++) {
#define FC_W_D(c) t[k][c][j]
#define FC_W_O(l) r[l][j]
            FC_W_BT(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
        }
        for (int l = 0; l < A; l++) {
            FC_T *o = v + (int64_t)(k * A + l) * vs;
            for (int j = 0; j < NW; j++)
                o[j] = r[l][j];
        }
    }
}

FC_W_INLINE_COPIES void FC_WNAME(wino_in)(const FC_T *const *rows, int64_t col0, int64_t W, int64_t nt, FC_T *v,
                       int64_t vs)
{
    if (nt <= 8)
        FC_WNAME(wino_in_w)(rows, col0, W, nt, v, vs, 8);
    else if (nt <= 16)
        FC_WNAME(wino_in_w)(rows, col0, W, nt, v, vs, 16);
    else
        FC_WNAME(wino_in_w)(rows, col0, W, nt, v, vs, 32);
}

static inline __attribute__((always_inline)) void FC_WNAME(wino_out_w)(
    const FC_T *m, int64_t ms, int64_t nt, FC_T bias, FC_T *const *rows, int64_t col0,
    int64_t W, const int NW)
{
    enum { M = FC_WM, A = FC_WA };
    FC_T s[M][A][FC_WINO_NT_MAX];
    FC_T y[M][M][FC_WINO_NT_MAX];
    FC_T out[FC_WINO_NT_MAX * M];
    /* down the columns: s[i][l][j] = sum_k AT[i][k] * m[k][l] */
    for (int l = 0; l < A; l++) {
        for (int j = 0; j < NW; j++) {
#define FC_W_D(k) m[((k) * A + l) * ms + j]
#define FC_W_O(i) s[i][l][j]
            FC_W_AT(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
        }
    }
    /* along the rows, plus the bias */
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < NW; j++) {
#define FC_W_D(l) s[i][l][j]
#define FC_W_O(k) y[i][k][j]
            FC_W_AT(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
            for (int k = 0; k < M; k++)
                y[i][k][j] += bias;
        }
    }
    int64_t n = nt * M;
    if (n > W - col0)
        n = W - col0;
    for (int i = 0; i < M; i++) {
        if (!rows[i])
            continue;
        for (int j = 0; j < NW; j++)
            for (int k = 0; k < M; k++)
                out[j * M + k] = y[i][k][j];
        /* whole vectors with masked stores (a loop to n ended in one lane at a time) */
        FC_T *dst = rows[i] + col0;
        for (int64_t x = 0; x < NW * M; x++)
            if (x < n)
                dst[x] = out[x];
    }
}

FC_W_INLINE_COPIES void FC_WNAME(wino_out)(const FC_T *m, int64_t ms, int64_t nt, FC_T bias, FC_T *const *rows,
                        int64_t col0, int64_t W)
{
    if (nt <= 8)
        FC_WNAME(wino_out_w)(m, ms, nt, bias, rows, col0, W, 8);
    else if (nt <= 16)
        FC_WNAME(wino_out_w)(m, ms, nt, bias, rows, col0, W, 16);
    else
        FC_WNAME(wino_out_w)(m, ms, nt, bias, rows, col0, W, 32);
}

/* Backward-weight's grad_output tiles: Gy = A gy A^T (A x A) of M x M tiles. */
static inline __attribute__((always_inline)) void FC_WNAME(wino_gy_w)(
    const FC_T *const *rows, int64_t col0, int64_t W, int64_t nt, FC_T *v, int64_t vs,
    const int NW)
{
    enum { M = FC_WM, A = FC_WA };
    FC_T ph[M][M][FC_WINO_NT_MAX];
    FC_T t[A][M][FC_WINO_NT_MAX];
    FC_T buf[FC_WINO_NT_MAX * M];
    int64_t n = nt * M;
    if (n > W - col0)
        n = W - col0;
    for (int i = 0; i < M; i++) {
        /* whole vectors with masked loads, as in wino_in */
        if (rows[i])
            for (int64_t x = 0; x < NW * M; x++)
                buf[x] = x < n ? rows[i][col0 + x] : 0;
        else
            for (int64_t x = 0; x < NW * M; x++)
                buf[x] = 0;
        for (int j = 0; j < NW; j++)
            for (int c = 0; c < M; c++)
                ph[i][c][j] = buf[j * M + c];
    }
    /* down the columns: t[a][c][j] = sum_i AT[i][a] * gy[i][c] */
    for (int c = 0; c < M; c++)
        for (int j = 0; j < NW; j++) {
#define FC_W_D(i) ph[i][c][j]
#define FC_W_O(a) t[a][c][j]
            FC_W_ATT(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
        }
    /* along the rows (through r, as in wino_in) */
    for (int a = 0; a < A; a++) {
        FC_T r[A][FC_WINO_NT_MAX];
        for (int j = 0; j < NW; j++) {
#define FC_W_D(c) t[a][c][j]
#define FC_W_O(b) r[b][j]
            FC_W_ATT(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
        }
        for (int b = 0; b < A; b++) {
            FC_T *o = v + (int64_t)(a * A + b) * vs;
            for (int j = 0; j < NW; j++)
                o[j] = r[b][j];
        }
    }
}

FC_W_INLINE_COPIES void FC_WNAME(wino_gy)(const FC_T *const *rows, int64_t col0, int64_t W, int64_t nt, FC_T *v,
                       int64_t vs)
{
    if (nt <= 8)
        FC_WNAME(wino_gy_w)(rows, col0, W, nt, v, vs, 8);
    else if (nt <= 16)
        FC_WNAME(wino_gy_w)(rows, col0, W, nt, v, vs, 16);
    else
        FC_WNAME(wino_gy_w)(rows, col0, W, nt, v, vs, 32);
}

/* o[a] = sum_k G[a][k] * g[k] (fc_wino_g), term by term: the zero and unit entries cost
 * nothing, and F(2,3)'s halves are exact, so this equals the plain matrix product bit for
 * bit there. */
#if FC_WM == 2
#define FC_W_G(o, g)                                                                        \
    do {                                                                                    \
        o(0) = g(0);                                                                        \
        o(1) = 0.5 * g(0) + 0.5 * g(1) + 0.5 * g(2);                                        \
        o(2) = 0.5 * g(0) - 0.5 * g(1) + 0.5 * g(2);                                        \
        o(3) = g(2);                                                                        \
    } while (0)
#else
#define FC_W_G(o, g)                                                                        \
    do {                                                                                    \
        o(0) = (1.0 / 4) * g(0);                                                            \
        o(1) = (-1.0 / 6) * g(0) + (-1.0 / 6) * g(1) + (-1.0 / 6) * g(2);                   \
        o(2) = (-1.0 / 6) * g(0) + (1.0 / 6) * g(1) + (-1.0 / 6) * g(2);                    \
        o(3) = (1.0 / 24) * g(0) + (1.0 / 12) * g(1) + (1.0 / 6) * g(2);                    \
        o(4) = (1.0 / 24) * g(0) + (-1.0 / 12) * g(1) + (1.0 / 6) * g(2);                   \
        o(5) = g(2);                                                                        \
    } while (0)
#endif

/* Filter transform U = G f G^T of up to FC_WINO_WT_NT filters, in float64, across filters,
 * eight at a time.  Each tap's eight values are assembled in a register from the eight
 * filters' rows (GCC vector extensions: the tier's flags choose the instructions); writing
 * them into an array one scalar at a time and reading it back as vectors stalled on store
 * forwarding, and the compiler kept that version's passes scalar (350 ns per 12 filters of
 * F(4x4) at 512 input channels on a Xeon against 120 here; a 512-channel 7x7 layer spent
 * half its time in it).  (GNU C, as the rest of the kernels: __builtin_prefetch, _Pragma.) */
#ifndef FC_W_VEC8_DEFINED
#define FC_W_VEC8_DEFINED
typedef double fc_w_vd8 __attribute__((vector_size(8 * sizeof(double))));
typedef float fc_w_vf8 __attribute__((vector_size(8 * sizeof(float))));
#endif
void FC_WNAME(wino_wt)(const FC_T *w, int64_t sf, int64_t n, int flip, FC_T *u, int64_t us)
{
    enum { A = FC_WA, NW = FC_WINO_WT_NT };
    for (int h = 0; h < NW / 8; h++) {
        if (h * 8 >= n) {
            for (int e = 0; e < A * A; e++)
                memset(u + (int64_t)e * us + h * 8, 0, 8 * sizeof(FC_T));
            continue;
        }
        /* lanes past n read filter 0 and are zeroed */
        const FC_T *p[8];
        fc_w_vd8 keep;
        for (int i = 0; i < 8; i++) {
            p[i] = w + (h * 8 + i < n ? h * 8 + i : 0) * sf;
            keep[i] = h * 8 + i < n ? 1.0 : 0.0;
        }
        fc_w_vd8 f[9], t[A][3];
        for (int k = 0; k < 9; k++) {
            const int kk = flip ? 8 - k : k;
            const fc_w_vd8 v = {p[0][kk], p[1][kk], p[2][kk], p[3][kk],
                                p[4][kk], p[5][kk], p[6][kk], p[7][kk]};
            f[k] = v * keep;
        }
        for (int kw = 0; kw < 3; kw++) {
#define FC_W_D(r) f[3 * (r) + kw]
#define FC_W_O(a) t[a][kw]
            FC_W_G(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
        }
        for (int a = 0; a < A; a++) {
            FC_T *o = u + (int64_t)a * A * us + h * 8;
            fc_w_vd8 r[A];
#define FC_W_D(kw) t[a][kw]
#define FC_W_O(b) r[b]
            FC_W_G(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
            for (int b = 0; b < A; b++) {
                if (sizeof(FC_T) == sizeof(float)) {
                    const fc_w_vf8 rf = __builtin_convertvector(r[b], fc_w_vf8);
                    memcpy(o + (int64_t)b * us, &rf, sizeof rf);
                } else {
                    memcpy(o + (int64_t)b * us, &r[b], sizeof r[b]);
                }
            }
        }
    }
}

/* o[k] = sum_a G[a][k] * s[a]: G's transpose, for the weight gradient, term by term */
#if FC_WM == 2
#define FC_W_GT(o, s)                                                                       \
    do {                                                                                    \
        o(0) = s(0) + 0.5 * s(1) + 0.5 * s(2);                                              \
        o(1) = 0.5 * s(1) - 0.5 * s(2);                                                     \
        o(2) = 0.5 * s(1) + 0.5 * s(2) + s(3);                                              \
    } while (0)
#else
#define FC_W_GT(o, s)                                                                       \
    do {                                                                                    \
        o(0) = (1.0 / 4) * s(0) + (-1.0 / 6) * s(1) + (-1.0 / 6) * s(2) +                   \
               (1.0 / 24) * s(3) + (1.0 / 24) * s(4);                                       \
        o(1) = (-1.0 / 6) * s(1) + (1.0 / 6) * s(2) + (1.0 / 12) * s(3) +                   \
               (-1.0 / 12) * s(4);                                                          \
        o(2) = (-1.0 / 6) * s(1) + (-1.0 / 6) * s(2) + (1.0 / 6) * s(3) +                   \
               (1.0 / 6) * s(4) + s(5);                                                     \
    } while (0)
#endif

/* Weight-gradient transform gw = G^T S G of FC_WINO_WT_NT filters, in float64, across
 * filters (the adjoint of wino_wt): whole vectors of lanes, the ones past n unused. */
void FC_WNAME(wino_gw)(const FC_T *s, int64_t es, int64_t n, FC_T *gw)
{
    enum { A = FC_WA, NW = FC_WINO_WT_NT };
    double t[A][3][NW], r[9][NW];
    for (int a = 0; a < A; a++)
        for (int i = 0; i < NW; i++) {
#define FC_W_D(b) (double)s[(int64_t)(a * A + (b)) * es + i]
#define FC_W_O(kw) t[a][kw][i]
            FC_W_GT(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
        }
    for (int kw = 0; kw < 3; kw++)
        for (int i = 0; i < NW; i++) {
#define FC_W_D(a) t[a][kw][i]
#define FC_W_O(kh) r[(kh) * 3 + kw][i]
            FC_W_GT(FC_W_O, FC_W_D);
#undef FC_W_D
#undef FC_W_O
        }
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 9; k++)
            gw[i * 9 + k] = (FC_T)r[k][i];
}

#undef FC_W_GT
#undef FC_W_G
#undef FC_W_BT
#undef FC_W_AT
#undef FC_W_ATT
#undef FC_WA
#undef FC_W_INLINE_COPIES
#undef FC_WP3_
#undef FC_WP3
#undef FC_WNAME
