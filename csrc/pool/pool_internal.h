/* Shared machinery of the pooling kernels (csrc/pool/): per-output window tables, the
 * work split and the micro-kernel contracts implemented in csrc/ukernels/<isa>/pool_*.c. */
#ifndef FC_POOL_INTERNAL_H
#define FC_POOL_INTERNAL_H
#include "fastconv.h"

#include "parallel.h"

/*
 * One output index along one axis: in-bounds taps lo, lo+step, ... < hi (empty when
 * lo >= hi) and the divisor factor of average pooling along this axis.
 */
typedef struct {
    int64_t lo, hi, div;
} fc_pool_win;

/* Inverse of a table of contiguous windows: input index i is covered by the outputs
 * [first, last). */
typedef struct {
    int64_t first, last;
} fc_pool_inv;

/* Window table of a max/avg pooling axis: n_out outputs over an input of size n padded by
 * p before and q after.  count_include_pad picks the divisor factor (window clipped to the
 * padded input vs in-bounds taps). */
void fc_pool_win_table(int64_t n, int64_t n_out, int64_t k, int64_t s, int64_t p, int64_t q,
                       int64_t d, int count_include_pad, fc_pool_win *t);
/* Window table of an adaptive axis. */
void fc_pool_adaptive_table(int64_t n, int64_t n_out, fc_pool_win *t);
/* Row tables (H_out) then column tables (W_out) of g in one malloc'ed block (free() it),
 * NULL when out of memory.  Fixed windows use g's dilation unless avg (no dilation). */
fc_pool_win *fc_pool_tables(const fc_pool_geom *g, int adaptive, int avg,
                            int count_include_pad);
/* Inverse table (n entries) of a table of contiguous windows with non-decreasing lo and hi. */
void fc_pool_inverse_table(int64_t n, int64_t n_out, const fc_pool_win *t, fc_pool_inv *inv);

/*
 * Work split of P planes of `rows` rows each into items of consecutive rows of one plane:
 * whole planes when there are enough of them to feed every thread, else row chunks.
 */
typedef struct {
    int64_t rows, per, chunks, items;
    int nt;     /* threads to start (1 when the work is too small to share) */
} fc_pool_split;

/* work: elements touched (decides whether threads pay off); max_per bounds the rows of an
 * item (scratch sized per item), 0 for no bound. */
void fc_pool_split_init(fc_pool_split *sp, int64_t P, int64_t rows, int64_t work,
                        int64_t max_per);

static inline void fc_pool_split_item(const fc_pool_split *sp, int64_t i, int64_t *p,
                                      int64_t *r0, int64_t *r1)
{
    int64_t c = i % sp->chunks;
    *p = i / sp->chunks;
    *r0 = c * sp->per;
    *r1 = (c + 1) * sp->per < sp->rows ? (c + 1) * sp->per : sp->rows;
}

/*
 * Row micro-kernels (generic C in csrc/ukernels/generic/pool_generic.c, vector tiers in
 * csrc/ukernels/<tier>/pool_*.c, declared there with FC_POOL_UKERNELS).  "nanmax(a, b)" is PyTorch's scan rule with b the later
 * tap: b if (b > a or b is NaN) else a.
 *   vmax: out[c] = nanmax(a[c], b[c])          c < n   (out may alias a)
 *   vsum: out[c] = a[c] + b[c]                  c < n   (out may alias a)
 *   hmax: out[o] = nanmax over j < k, in order, of in[o*s + j*d]    o < n_out
 *   hsum: out[o] = sum over j < k of in[o*s + j]                    o < n_out
 * h*: `in` must be readable up to index (n_out - 1) * s + (k - 1) * d + FC_POOL_SLACK
 * (vector loads may read a few elements past the last tap and discard them).
 *   hargmax: PyTorch's sequential scan of each window, taps t = i*k + j in scan order
 *            (i < nr, j < k) over rows[i][o*s + j*d]: the running max is replaced by a tap
 *            that is greater or NaN.  m[o] = the max, tap[o] = its tap (so ties keep the
 *            first, NaN the last NaN).  Reads no element past the last tap of output
 *            n_out - 1 (rows are real input rows); nr * k <= 64.
 *   rmax / rsum: NaN-propagating max / sum of x[0..n), n >= 1 (global pooling).
 *   rsums:   y[p] = (sum of x[p*n .. p*n + n)) / dv for p < np, n >= 1 (global average
 *            pooling of np consecutive planes).
 *   bwd2x2: the gradient rows of n windows 2x2 / stride 2 (no padding), written once:
 *            r0[2o + j] = (tap[o] == j) ? g[o] : 0, r1[2o + j] = (tap[o] == 2 + j) ? g[o] : 0.
 *   bwd2x2i: bwd2x2 with the taps read from flat plane indices: r0 starts at plane offset
 *            base, r1 = r0 + W (W >= 2), and idx[o] must be base + 2o + {0, 1, W, W + 1}.
 *            Returns 0 (r0, r1 partly written) when some idx[o] is not in its window.
 *   vdiv:    out[c] = a[c] / (r * b[c])  c < n  (out may alias a; r * b[c] is computed
 *            first, as the average's exact integer divisor)
 *   scatter: pl[idx[k]] += g[k] in order k < n, when every idx[k] lies in [0, limit);
 *            returns 0 (pl then holds partial sums in [0, limit)) when one does not.
 *   copyz:   dst[0..n) = src[0..n), then src[0..n) = 0 (a private scratch plane handed
 *            back clean).  stream: dst is not read back soon, use non-temporal stores
 *            where the ISA has them; they are ordered only by a later fence().
 *   fence:   orders the streaming stores of this thread before what follows.
 */
#define FC_POOL_SLACK 16

#define FC_POOL_UKERNELS(SFX, T, ISA)                                                       \
    void fc_##SFX##_pool_vmax__##ISA(T *out, const T *a, const T *b, int64_t n);            \
    void fc_##SFX##_pool_vsum__##ISA(T *out, const T *a, const T *b, int64_t n);            \
    void fc_##SFX##_pool_hmax__##ISA(T *out, const T *in, int64_t n_out, int64_t k,         \
                                     int64_t s, int64_t d);                                 \
    void fc_##SFX##_pool_hsum__##ISA(T *out, const T *in, int64_t n_out, int64_t k,         \
                                     int64_t s);                                            \
    void fc_##SFX##_pool_hargmax__##ISA(T *m, int32_t *tap, const T *const *rows,          \
                                        int64_t nr, int64_t n_out, int64_t k, int64_t s,    \
                                        int64_t d);                                         \
    void fc_##SFX##_pool_bwd2x2__##ISA(T *r0, T *r1, const int32_t *tap, const T *g,        \
                                       int64_t n);                                          \
    int fc_##SFX##_pool_bwd2x2i__##ISA(T *r0, T *r1, const int64_t *idx, int64_t base,      \
                                       int64_t W, const T *g, int64_t n);                   \
    int fc_##SFX##_pool_scatter__##ISA(T *pl, const int64_t *idx, const T *g, int64_t n,     \
                                       int64_t limit);                                      \
    void fc_##SFX##_pool_vdiv__##ISA(T *out, const T *a, T r, const T *b, int64_t n);       \
    void fc_##SFX##_pool_copyz__##ISA(T *dst, T *src, int64_t n, int stream);               \
    T fc_##SFX##_pool_rmax__##ISA(const T *x, int64_t n);                                   \
    T fc_##SFX##_pool_rsum__##ISA(const T *x, int64_t n);                                   \
    void fc_##SFX##_pool_rsums__##ISA(T *y, const T *x, int64_t np, int64_t n, T dv);

/* One tier's row micro-kernels for one dtype (a field of the tier descriptor, csrc/tier.h). */
#define FC_POOL_UK_TABLE(SFX, T)                                                            \
    typedef struct {                                                                        \
        void (*vmax)(T *, const T *, const T *, int64_t);                                   \
        void (*vsum)(T *, const T *, const T *, int64_t);                                   \
        void (*hmax)(T *, const T *, int64_t, int64_t, int64_t, int64_t);                   \
        void (*hsum)(T *, const T *, int64_t, int64_t, int64_t);                            \
        void (*hargmax)(T *, int32_t *, const T *const *, int64_t, int64_t, int64_t,        \
                        int64_t, int64_t);                                                  \
        void (*bwd2x2)(T *, T *, const int32_t *, const T *, int64_t);                      \
        int (*bwd2x2i)(T *, T *, const int64_t *, int64_t, int64_t, const T *, int64_t);    \
        void (*vdiv)(T *, const T *, T, const T *, int64_t);                                \
        void (*copyz)(T *, T *, int64_t, int);                                              \
        void (*fence)(void);                                                                \
        int (*scatter)(T *, const int64_t *, const T *, int64_t, int64_t);                  \
        T (*rmax)(const T *, int64_t);                                                      \
        T (*rsum)(const T *, int64_t);                                                      \
        void (*rsums)(T *, const T *, int64_t, int64_t, T);                                 \
    } fc_pool_uk_##SFX;
FC_POOL_UK_TABLE(f32, float)
FC_POOL_UK_TABLE(f64, double)

/* Fills a fc_pool_uk_<SFX> with the kernels of one tier (used by the tiers' setup). */
#define FC_POOL_FILL(u, SFX, ISA)                                                           \
    do {                                                                                    \
        (u).vmax = fc_##SFX##_pool_vmax__##ISA;                                             \
        (u).vsum = fc_##SFX##_pool_vsum__##ISA;                                             \
        (u).hmax = fc_##SFX##_pool_hmax__##ISA;                                             \
        (u).hsum = fc_##SFX##_pool_hsum__##ISA;                                             \
        (u).hargmax = fc_##SFX##_pool_hargmax__##ISA;                                       \
        (u).bwd2x2 = fc_##SFX##_pool_bwd2x2__##ISA;                                         \
        (u).bwd2x2i = fc_##SFX##_pool_bwd2x2i__##ISA;                                       \
        (u).vdiv = fc_##SFX##_pool_vdiv__##ISA;                                             \
        (u).copyz = fc_##SFX##_pool_copyz__##ISA;                                           \
        (u).fence = fc_pool_fence__##ISA;                                                   \
        (u).scatter = fc_##SFX##_pool_scatter__##ISA;                                       \
        (u).rmax = fc_##SFX##_pool_rmax__##ISA;                                             \
        (u).rsum = fc_##SFX##_pool_rsum__##ISA;                                             \
        (u).rsums = fc_##SFX##_pool_rsums__##ISA;                                           \
    } while (0)


#endif
