/* Portable row micro-kernels (contracts in csrc/pool/pool_internal.h), written once for one element
 * type; included by csrc/ukernels/generic/pool_generic.c with T and SFX defined.  Simple
 * loops that the compiler vectorises where the layout allows (contiguous taps). */
#include <math.h>
#include <string.h>
#include "pool/pool_internal.h"

#define FC_GCAT_(a, b, c) a##_##b##_##c
#define FC_GCAT(a, b, c) FC_GCAT_(a, b, c)
#define GN(name) FC_GCAT(fc, SFX, name##__generic)

void GN(pool_vmax)(T *out, const T *a, const T *b, int64_t n)
{
    for (int64_t c = 0; c < n; ++c) {
        T x = a[c], y = b[c];
        out[c] = (y > x || isnan(y)) ? y : x;
    }
}

void GN(pool_vsum)(T *out, const T *a, const T *b, int64_t n)
{
    for (int64_t c = 0; c < n; ++c)
        out[c] = a[c] + b[c];
}

void GN(pool_hmax)(T *out, const T *in, int64_t n_out, int64_t k, int64_t s, int64_t d)
{
    for (int64_t o = 0; o < n_out; ++o) {
        const T *w = in + o * s;
        T m = w[0];
        for (int64_t j = 1; j < k; ++j) {
            T v = w[j * d];
            if (v > m || isnan(v))
                m = v;
        }
        out[o] = m;
    }
}

void GN(pool_hsum)(T *out, const T *in, int64_t n_out, int64_t k, int64_t s)
{
    if (s == 1 && k <= 4) {
        /* the common small windows, unrolled so the compiler vectorises across o */
        for (int64_t o = 0; o < n_out; ++o) {
            T acc = in[o];
            if (k > 1) acc += in[o + 1];
            if (k > 2) acc += in[o + 2];
            if (k > 3) acc += in[o + 3];
            out[o] = acc;
        }
        return;
    }
    for (int64_t o = 0; o < n_out; ++o) {
        const T *w = in + o * s;
        T acc = w[0];
        for (int64_t j = 1; j < k; ++j)
            acc += w[j];
        out[o] = acc;
    }
}

void GN(pool_hargmax)(T *m, int32_t *tap, const T *const *rows, int64_t nr, int64_t n_out,
                      int64_t k, int64_t s, int64_t d)
{
    for (int64_t o = 0; o < n_out; ++o) {
        T mv = rows[0][o * s];
        int32_t t = 0;
        for (int64_t i = 0; i < nr; ++i) {
            const T *w = rows[i] + o * s;
            for (int64_t j = 0; j < k; ++j) {
                /* selects, not branches: which tap wins is data, a branch mispredicts */
                const T v = w[j * d];
                const int gt = v > mv || isnan(v);
                mv = gt ? v : mv;
                t = gt ? (int32_t)(i * k + j) : t;
            }
        }
        m[o] = mv;
        tap[o] = t;
    }
}

void GN(pool_bwd2x2)(T *r0, T *r1, const int32_t *tap, const T *g, int64_t n)
{
    for (int64_t o = 0; o < n; ++o) {
        const int32_t t = tap[o];
        const T v = g[o];
        r0[2 * o] = t == 0 ? v : 0;
        r0[2 * o + 1] = t == 1 ? v : 0;
        r1[2 * o] = t == 2 ? v : 0;
        r1[2 * o + 1] = t == 3 ? v : 0;
    }
}

int GN(pool_bwd2x2i)(T *r0, T *r1, const int64_t *idx, int64_t base, int64_t W,
                    const T *g, int64_t n)
{
    int bad = 0;
    for (int64_t o = 0; o < n; ++o) {
        /* unsigned: a negative offset wraps to a huge one and fails both tests */
        const uint64_t a = (uint64_t)(idx[o] - (base + 2 * o));
        const uint64_t b = a - (uint64_t)W;
        const T v = g[o];
        bad |= a > 1 && b > 1;
        r0[2 * o] = a == 0 ? v : 0;
        r0[2 * o + 1] = a == 1 ? v : 0;
        r1[2 * o] = b == 0 ? v : 0;
        r1[2 * o + 1] = b == 1 ? v : 0;
    }
    return !bad;
}

int GN(pool_scatter)(T *pl, const int64_t *idx, const T *g, int64_t n, int64_t limit)
{
    uint64_t out = 0;
    for (int64_t k = 0; k < n; ++k) {
        /* a bad index is redirected to element 0 and reported: no branch in the loop */
        const uint64_t i = (uint64_t)idx[k];
        const uint64_t o = i >= (uint64_t)limit;
        out |= o;
        pl[o ? 0 : i] += g[k];
    }
    return !out;
}

void GN(pool_vdiv)(T *out, const T *a, T r, const T *b, int64_t n)
{
    for (int64_t c = 0; c < n; ++c)
        out[c] = a[c] / (r * b[c]);
}

void GN(pool_copyz)(T *dst, T *src, int64_t n, int stream)
{
    (void)stream;
    memcpy(dst, src, (size_t)n * sizeof(T));
    memset(src, 0, (size_t)n * sizeof(T));
}

T GN(pool_rmax)(const T *x, int64_t n)
{
    T m = x[0];
    for (int64_t i = 1; i < n; ++i)
        if (x[i] > m || isnan(x[i]))
            m = x[i];
    return m;
}

T GN(pool_rsum)(const T *x, int64_t n)
{
    T acc = 0;
    for (int64_t i = 0; i < n; ++i)
        acc += x[i];
    return acc;
}

void GN(pool_rsums)(T *y, const T *x, int64_t np, int64_t n, T dv)
{
    for (int64_t p = 0; p < np; ++p)
        y[p] = GN(pool_rsum)(x + p * n, n) / dv;
}
