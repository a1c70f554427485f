/* Window tables and index validation shared by every pooling kernel. */
#include <stdlib.h>
#include "pool_internal.h"
#include "tier.h"

void fc_pool_win_table(int64_t n, int64_t n_out, int64_t k, int64_t s, int64_t p, int64_t q,
                       int64_t d, int count_include_pad, fc_pool_win *t)
{
    for (int64_t o = 0; o < n_out; ++o) {
        int64_t start = o * s - p;
        int64_t lo = start;
        if (lo < 0)   /* first tap of the dilated lattice that lands in the input */
            lo = start + ((-start + d - 1) / d) * d;
        int64_t end = start + (k - 1) * d + 1;
        int64_t hi = end < n ? end : n;
        t[o].lo = lo;
        t[o].hi = hi;
        if (count_include_pad) {
            /* PyTorch clips to the padded input: the ceil-mode overhang is not counted. */
            int64_t pend = end < n + q ? end : n + q;
            t[o].div = pend - start;
        } else {
            t[o].div = hi > lo ? (hi - lo - 1) / d + 1 : 0;
        }
    }
}

void fc_pool_adaptive_table(int64_t n, int64_t n_out, fc_pool_win *t)
{
    for (int64_t o = 0; o < n_out; ++o) {
        int64_t lo = (o * n) / n_out;
        int64_t hi = ((o + 1) * n + n_out - 1) / n_out;
        t[o].lo = lo;
        t[o].hi = hi;
        t[o].div = hi - lo;
    }
}

fc_pool_win *fc_pool_tables(const fc_pool_geom *g, int adaptive, int avg, int count_include_pad)
{
    fc_pool_win *t = (fc_pool_win *)malloc((size_t)(g->H_out + g->W_out + 1) *
                                           sizeof(fc_pool_win));
    if (!t)
        return NULL;
    if (adaptive) {
        fc_pool_adaptive_table(g->H, g->H_out, t);
        fc_pool_adaptive_table(g->W, g->W_out, t + g->H_out);
    } else {
        /* average pooling has no dilation */
        fc_pool_win_table(g->H, g->H_out, g->kH, g->sH, g->pH, g->qH, avg ? 1 : g->dH,
                          count_include_pad, t);
        fc_pool_win_table(g->W, g->W_out, g->kW, g->sW, g->pW, g->qW, avg ? 1 : g->dW,
                          count_include_pad, t + g->H_out);
    }
    return t;
}

void fc_pool_inverse_table(int64_t n, int64_t n_out, const fc_pool_win *t, fc_pool_inv *inv)
{
    int64_t a = 0, b = 0;
    for (int64_t i = 0; i < n; ++i) {
        while (a < n_out && t[a].hi <= i)
            ++a;
        while (b < n_out && t[b].lo <= i)
            ++b;
        inv[i].first = a;
        inv[i].last = b;
    }
}

void fc_pool_split_init(fc_pool_split *sp, int64_t P, int64_t rows, int64_t work,
                        int64_t max_per)
{
    int nt = fc_threads_for((double)work, fc_tier_current()->par_min_pool_elems);
    if (nt < 1)
        nt = 1;
    /* a few items per thread even out the tails */
    int64_t want = 4 * (int64_t)nt;
    int64_t chunks = 1;
    if (P < want && rows > 1) {
        chunks = (want + P - 1) / P;
        if (chunks > rows)
            chunks = rows;
    }
    sp->rows = rows;
    sp->per = rows > 0 ? (rows + chunks - 1) / chunks : 1;
    if (max_per > 0 && sp->per > max_per)
        sp->per = max_per;
    sp->chunks = rows > 0 ? (rows + sp->per - 1) / sp->per : 1;
    sp->items = P * sp->chunks;
    if (sp->items < nt)
        nt = sp->items > 0 ? (int)sp->items : 1;
    sp->nt = nt;
}
