/*
 * Direct conv2d drivers, written once for both dtypes: conv_direct.c includes this file with
 * T (float / double), SFX (f32 / f64) and the matching micro-kernel names defined.
 *
 * Layout trick shared by the three passes: the input is copied into zero-padded planes of
 * row width Wq, split by stride phase, so that output grid point p = i*Wq + j reads plane
 * element off[tap] + p: every tap of a tile of NR consecutive grid points is one contiguous
 * vector load, with no border tests.  Grid columns j >= cols_out are computed and dropped.
 */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(name, SFX)

/* Element stride between the planes of a band buffer holding `used` elements each: whole
 * cache lines, and a line count not within one of a multiple of 64 (4 KiB in lines), so
 * that the planes of consecutive channels -- which a tile reads one after another at the same
 * offset -- start on different L1 sets.  A 1-D row of 2052 floats (tcn_64) was both
 * unaligned and nearly 4 KiB-aliased: its forward 3.5 -> 3.2 ms on a Xeon.  repack zeroes
 * the gap. */
static int64_t F(plane_stride)(int64_t used)
{
    const int64_t line = 64 / (int64_t)sizeof(T);
    int64_t lines = (used + line - 1) / line;
    const int64_t r = lines % 64;
    if (r <= 1 || r == 63)
        lines += (66 - r) % 64;
    return lines * line;
}

/* Copy rows [r_lo, r_hi) of one source channel's nph_h*nph_w phase planes into a band buffer
 * (row r at dst + (r - r_lo)*Wq of each plane, planes P->plane apart):
 * plane (rh, rw) element (r, s) = src[r*sH + rh - offH][s*sW + rw - offW], zero outside. */
static void F(repack)(const T *src, T *dst, const planes_t *P, int64_t r_lo, int64_t r_hi)
{
    for (int64_t rh = 0; rh < P->nph_h; rh++) {
        for (int64_t rw = 0; rw < P->nph_w; rw++) {
            T *d = dst + (rh * P->nph_w + rw) * P->plane;
            const int64_t c0 = rw - P->offW;   /* source column of s = 0 */
            int64_t s_lo = c0 >= 0 ? 0 : (-c0 + P->sW - 1) / P->sW;
            int64_t s_hi = P->Ws - 1 - c0 < 0 ? 0 : (P->Ws - 1 - c0) / P->sW + 1;
            if (s_lo > P->Wq) s_lo = P->Wq;
            if (s_hi > P->Wq) s_hi = P->Wq;
            if (s_hi < s_lo) s_hi = s_lo;
            for (int64_t r = r_lo; r < r_hi; r++) {
                T *dr = d + (r - r_lo) * P->Wq;
                const int64_t sr = r * P->sH + rh - P->offH;
                if (sr < 0 || sr >= P->Hs) {
                    memset(dr, 0, (size_t)P->Wq * sizeof(T));
                    continue;
                }
                const T *srow = src + sr * P->ld + c0;
                if (s_lo > 0) memset(dr, 0, (size_t)s_lo * sizeof(T));
                if (P->sW == 1) {
                    memcpy(dr + s_lo, srow + s_lo, (size_t)(s_hi - s_lo) * sizeof(T));
                } else {
                    for (int64_t s = s_lo; s < s_hi; s++) dr[s] = srow[s * P->sW];
                }
                if (s_hi < P->Wq) memset(dr + s_hi, 0, (size_t)(P->Wq - s_hi) * sizeof(T));
            }
            const int64_t used = (r_hi - r_lo) * P->Wq;
            if (P->plane > used) memset(d + used, 0, (size_t)(P->plane - used) * sizeof(T));
        }
    }
}

/* The micro-kernels of one grid: MR channels, main tiles of NR points (fn), and in row
 * mode one tile of tail_nr points (tail) finishing each row. */
typedef struct {
    int MR, NR, flat;
    int64_t tail_nr;
    F(fc_dconv_fn) fn, tail;
} F(kern_t);

/* Tiles run along one grid row at a time (full tiles, then one narrower tile for the rest of
 * the row), or (flat) through the grid flattened across rows, crossing into the dropped
 * columns >= cols.  Among every available NV and both modes, the least estimated time:
 * computed points / tile_eff, with tiles that do not end inside their row counted 15% more
 * (they are copied out through a buffer). */
static void F(pick_grid_kernel)(int MR, int64_t rows, int64_t cols, int64_t Wq, F(kern_t) *K)
{
    const F(fc_dconv_desc) *D = &fc_tier_current()->F(dconv);
    const int64_t L = D->lanes;
    const F(fc_dconv_fn) (*tab)[FC_DCONV_MAX_NV + 1] = D->tap;
    double best = -1;
    K->MR = MR;
    for (int nv = 2; nv <= FC_DCONV_MAX_NV; nv++) {
        if (!tab[MR][nv]) continue;
        const int64_t NR = nv * L, full = cols / NR, rv = (cols - full * NR + L - 1) / L;
        int tnv = 0;
        if (rv > 0)
            for (tnv = (int)rv; !tab[MR][tnv]; tnv++) {}
        const double main_t = (double)(full * NR) / tile_eff(MR, nv);
        const double tail_t = rv > 0 ? (double)(tnv * L) / tile_eff(MR, tnv) *
                                           (tnv * L > cols - full * NR ? 1.15 : 1.0) : 0.0;
        const double row_t = (double)rows * (main_t + tail_t);
        const double flat_t = 1.15 * (double)(((rows - 1) * Wq + cols + NR - 1) / NR * NR) /
                              tile_eff(MR, nv);
        const int flat = flat_t < row_t;
        const double t = flat ? flat_t : row_t;
        /* ties to the wider tile: the model rates every tile of 8 accumulators or more
         * alike, but more of them do more FMAs per load (Xeon, 1-D 64 -> 64 k3 over 2048
         * points: 4 x 2 vectors 4.6 ms, 4 x 4 4.0) */
        if (best < 0 || t <= best * (1 + 1e-9)) {
            best = t;
            K->NR = (int)NR;
            K->fn = tab[MR][nv];
            K->flat = flat;
            K->tail_nr = tnv * L;
            K->tail = tnv ? tab[MR][tnv] : NULL;
        }
    }
}

/* One grid of output points fed by a list of taps: a forward conv, or one stride phase of a
 * backward-data conv.  Grid point (i, j) is destination element dst0 + i*dr + j*dc. */
typedef struct {
    int64_t ntaps;
    const int64_t *off;      /* [ntaps], relative to the band buffer's grid row 0 */
    const T *wpk;            /* [groups][nblk][ntaps][MR] */
    int64_t rows_out, cols_out;
    int64_t dst0, dr, dc;
    F(kern_t) K;
} F(grid_t);

/* Tile t of a band (rows [i0, i0 + nr) of grid G, band buffer xb) for channel block b. */
static void F(tile_block)(const F(grid_t) *G, const T *xb, T *dst, int64_t ldc, int64_t cg,
                          const T *wg, const T *bg, int64_t b, int64_t t, int64_t i0,
                          int64_t nr, int64_t Wq)
{
    T tmp[FC_DCONV_MAX_MR * FC_DCONV_MAX_NV * (FC_VEC_MAX_BYTES / sizeof(T))];   /* MR*NR */
    const F(kern_t) *K = &G->K;
    const int MR = K->MR;
    int64_t li, j, width = K->NR;
    F(fc_dconv_fn) fn = K->fn;
    if (K->flat) {
        li = t * K->NR / Wq;
        j = t * K->NR % Wq;
    } else {
        const int64_t full = G->cols_out / K->NR, tpr = full + (K->tail != NULL);
        const int64_t k = t % tpr;
        li = t / tpr;
        j = k * K->NR;
        if (k == full) {
            width = K->tail_nr;
            fn = K->tail;
        }
    }
    const int64_t p0 = li * Wq + j;
    const int64_t c0 = b * MR;
    const int64_t mr = cg - c0 < MR ? cg - c0 : MR;
    const T *w = wg + b * G->ntaps * MR;
    const T *bias = bg ? bg + b * MR : NULL;
    T *d = dst + c0 * ldc + G->dst0;
    if (G->dc == 1 && j + width <= G->cols_out) {
        fn(G->ntaps, G->off, xb + p0, w, bias, d + (i0 + li) * G->dr + j, ldc, mr);
        return;
    }
    fn(G->ntaps, G->off, xb + p0, w, bias, tmp, width, mr);
    /* Copy out the grid points of this tile that are real outputs, one grid row segment at a
     * time. */
    for (int64_t p = 0, ii = li, jj = j; p < width && ii < nr; ii++, jj = 0) {
        const int64_t seg = Wq - jj < width - p ? Wq - jj : width - p;
        const int64_t valid = G->cols_out - jj < seg ? G->cols_out - jj : seg;
        for (int64_t m = 0; m < mr; m++) {
            const T *src = tmp + m * width + p;
            T *dp = d + m * ldc + (i0 + ii) * G->dr + jj * G->dc;
            if (G->dc == 1)
                for (int64_t q = 0; q < valid; q++) dp[q] = src[q];
            else
                for (int64_t q = 0; q < valid; q++) dp[q * G->dc] = src[q];
        }
        p += seg;
    }
}

/* Grid rows [i0, i1) of one grid for channel blocks [b0, b1), from a band buffer xb whose
 * row 0 is grid row i0.  dst: the group's first destination plane, ldc: plane size.
 * Few weights: every block of a tile while its inputs are in L1.  Many: every tile of a block
 * while its weights are in L1 (the band stays in L2). */
static void F(run_band)(const F(grid_t) *G, const T *xb, T *dst, int64_t ldc, int64_t cg,
                        const T *wg, const T *bg, int64_t b0, int64_t b1, int64_t i0,
                        int64_t i1, int64_t Wq)
{
    if (i1 > G->rows_out) i1 = G->rows_out;
    const int64_t nr = i1 - i0, NR = G->K.NR;
    if (nr <= 0 || G->cols_out <= 0) return;
    const int64_t tpr = G->cols_out / NR + (G->K.tail != NULL);
    const int64_t ntiles = G->K.flat ? ((nr - 1) * Wq + G->cols_out + NR - 1) / NR : nr * tpr;
    if ((b1 - b0) * G->ntaps * G->K.MR * (int64_t)sizeof(T) <=
        fc_tier_current()->direct_l1_weights) {
        for (int64_t t = 0; t < ntiles; t++)
            for (int64_t b = b0; b < b1; b++)
                F(tile_block)(G, xb, dst, ldc, cg, wg, bg, b, t, i0, nr, Wq);
    } else {
        for (int64_t b = b0; b < b1; b++)
            for (int64_t t = 0; t < ntiles; t++)
                F(tile_block)(G, xb, dst, ldc, cg, wg, bg, b, t, i0, nr, Wq);
    }
}

/* Band height (grid rows per work item) and channel blocks per work item.  A band's input
 * copy (nplanes planes of rows + halo rows of Wq) should stay in L2 next to its outputs, and
 * one block chunk of packed weights in L1; bands are cut thinner while there are too few
 * work items to keep the threads busy. */
static void F(plan_items)(int64_t rows, int64_t halo, int64_t nplanes, int64_t Wq,
                          int64_t nimg_groups, int64_t nblk, int nt, int64_t *R, int64_t *bpc)
{
    const int64_t row_bytes = nplanes * Wq * (int64_t)sizeof(T);
    int64_t r = fc_tier_current()->direct_band_bytes / (row_bytes > 0 ? row_bytes : 1) - halo;
    if (r > rows) r = rows;
    if (r < 1) r = 1;
    /* A band's copy serves every channel block; blocks are split over items only when
     * images x groups x bands cannot keep the threads busy. */
    const int64_t want = 4 * (int64_t)nt;
    int64_t nbc = 1;
    while (r > 1 && nimg_groups * ((rows + r - 1) / r) < want && 2 * r > halo) r = (r + 1) / 2;
    while (nbc < nblk && nimg_groups * ((rows + r - 1) / r) * nbc < want) nbc++;
    *bpc = (nblk + nbc - 1) / nbc;
    *R = r;
}

static void F(pack_bias)(const T *bias, int64_t groups, int64_t cg, int MR, int64_t nblk,
                         T *bpk)
{
    for (int64_t gi = 0; gi < groups; gi++)
        for (int64_t b = 0; b < nblk; b++)
            for (int m = 0; m < MR; m++) {
                const int64_t c = b * MR + m;
                bpk[(gi * nblk + b) * MR + m] = c < cg ? bias[gi * cg + c] : (T)0;
            }
}

/* Per-thread band buffers: nt buffers of n elements, each followed by NR + 64 zeroed slack
 * elements that tiles running past the last plane may read.  From the cached workspace, as
 * every buffer here: a fresh mapping page-faults its way in on every call. */
static T *F(alloc_bands)(int nt, int64_t n, int64_t slack)
{
    T *buf = (T *)fc_malloc((size_t)(nt * (n + slack)) * sizeof(T));
    if (buf)
        for (int i = 0; i < nt; i++) memset(buf + i * (n + slack) + n, 0, (size_t)slack * sizeof(T));
    return buf;
}

/* Work item k of a forward or backward-data pass, ordered (image, group, channel-block
 * chunk, row band) with the band fastest: its image n, group gi, first row i0 and channel
 * blocks [b0, b1). */
static inline void F(decode_item)(int64_t k, int64_t nband, int64_t nbc, int64_t G, int64_t R,
                                  int64_t bpc, int64_t nblk, int64_t *n, int64_t *gi,
                                  int64_t *i0, int64_t *b0, int64_t *b1)
{
    const int64_t band = k % nband, bc = (k / nband) % nbc;
    *gi = (k / (nband * nbc)) % G;
    *n = k / (nband * nbc * G);
    *i0 = band * R;
    *b0 = bc * bpc;
    *b1 = *b0 + bpc < nblk ? *b0 + bpc : nblk;
}

static T *F(my_band)(T *buf, int64_t n, int64_t slack)
{
    return buf + fc_thread_id() * (n + slack);
}

/* ------------------------------------------------------------------ forward -- */

/* The forward pass vectorised along output channels, for outputs too narrow, strided or
 * dilated for the grid kernels' point vectors: per band of output rows, the same
 * stride-phase band copy, then the tier's gemmx tile (MR consecutive grid points x NR output
 * channels) over the flattened grid (the columns >= W_out of each row of Wq are computed
 * and dropped), weights packed once as NR-channel panels of KC taps, products through a
 * per-thread points x channels buffer into y.  A sum runs over the taps in w's order in
 * fixed KC blocks, so no result depends on the banding or the thread count. */
static fc_status F(fwd_chanvec)(const fc_conv_geom *g, const T *x, const int64_t *xs,
                                const T *w, const T *bias, T *y, const int64_t *ys)
{
    const CAT(fc_gemm_desc, SFX) *d = CAT(fc_gemm_select, SFX)();
    const int64_t G = g->groups, Cig = g->C_in / G, Cog = g->C_out / G;
    const int64_t ntaps = Cig * g->kH * g->kW, MR = d->mr, NR = d->nr;
    const int64_t KC = fc_balanced_block(ntaps, d->kc), nkb = fc_ceil_div(ntaps, KC);
    const int nt = threads_for(g);
    planes_t P;
    fwd_planes(g, &P);
    P.ld = xs[2];
    const int64_t nplanes = Cig * P.nph_h * P.nph_w, Wq = P.Wq, Ho = g->H_out;
    /* bands: the copy within 4x the tier's band budget (Xeon, strided and dilated layers:
     * 1x 4.34 / 7.20 ms, 2x 3.89 / 7.05, 4x 3.89 / 7.03, 8x 3.90 / 6.90), 4 items per thread */
    const int64_t row_bytes = nplanes * Wq * (int64_t)sizeof(T);
    int64_t nband = 1, R = Ho;
    for (int64_t want = 2; R > 1 && ((R + P.halo) * row_bytes > 4 * fc_tier_current()->direct_band_bytes ||
                                     g->N * G * nband < 4 * nt); want++) {
        R = fc_ceil_div(Ho, want);   /* balanced bands: nband ceil(Ho / R) <= want */
        nband = fc_ceil_div(Ho, R);
    }
    P.plane = F(plane_stride)((R + P.halo) * Wq);
    const int64_t Q = R * Wq, Qp = fc_round_up(Q, MR), Cogp = fc_round_up(Cog, NR);
    const int64_t band_n = nplanes * P.plane;
    const int64_t slack = MR + (g->kW - 1) * g->dW + 64;   /* tiles past the last plane */

    /* the cached workspace (workspace.c): no page faults on calls after the first */
    int64_t *off = (int64_t *)fc_malloc((size_t)ntaps * sizeof(int64_t));
    T *wpk = (T *)fc_malloc((size_t)(G * ntaps * Cogp + KC) * sizeof(T));
    T *bands = (T *)fc_malloc((size_t)(nt * (band_n + slack)) * sizeof(T));
    T *cbufs = (T *)fc_malloc((size_t)(nt * Qp * Cogp) * sizeof(T));
    if (!off || !wpk || !bands || !cbufs) {
        fc_free(off); fc_free(wpk); fc_free(bands); fc_free(cbufs);
        return FC_ERR_NOMEM;
    }
    T *zrow = wpk + G * ntaps * Cogp;
    memset(zrow, 0, (size_t)KC * sizeof(T));
    for (int i = 0; i < nt; i++)
        memset(bands + i * (band_n + slack) + band_n, 0, (size_t)slack * sizeof(T));
    fwd_offsets(g, &P, off);
    const int64_t npan = Cogp / NR, items = g->N * G * nband;
    int64_t k;
FC_OMP_PARALLEL(nt)
    {
        const T *rows[FC_GEMM_NR_MAX];
FC_OMP_LOOP
        for (k = 0; k < G * nkb * npan; k++) {   /* panel (gi, KC block, NR channels) */
            const int64_t gi = k / (nkb * npan), pc = (k / npan) % nkb * KC;
            const int64_t jp = k % npan, kc = fc_min64(KC, ntaps - pc);
            for (int64_t j = 0; j < NR; j++) {
                const int64_t co = jp * NR + j;
                rows[j] = co < Cog ? w + (gi * Cog + co) * ntaps + pc : zrow;
            }
            d->packt(kc, rows, wpk + gi * ntaps * Cogp + pc * Cogp + jp * NR * kc);
        }
FC_OMP_LOOP_DYNAMIC
        for (k = 0; k < items; k++) {
            const int64_t band = k % nband, gi = (k / nband) % G, n = k / (nband * G);
            const int64_t i0 = band * R, rv = fc_min64(R, Ho - i0);
            T *xb = F(my_band)(bands, band_n, slack);
            T *cb = cbufs + (int64_t)fc_thread_id() * Qp * Cogp;
            for (int64_t icg = 0; icg < Cig; icg++)
                F(repack)(x + n * xs[0] + (gi * Cig + icg) * xs[1],
                          xb + icg * P.nph_h * P.nph_w * P.plane, &P, i0, i0 + R + P.halo);
            const int64_t qn = (rv - 1) * Wq + g->W_out;   /* the last point kept */
            for (int64_t pc = 0; pc < ntaps; pc += KC) {
                const int64_t kc = fc_min64(KC, ntaps - pc);
                for (int64_t jp = 0; jp < npan; jp++) {
                    const T *bp = wpk + gi * ntaps * Cogp + pc * Cogp + jp * NR * kc;
                    const int64_t nv = fc_min64(NR, Cog - jp * NR);
                    for (int64_t q = 0; q < qn; q += MR)
                        d->gemmx(kc, off + pc, xb + q, bp, cb + q * Cogp + jp * NR, Cogp,
                                 fc_min64(MR, qn - q), nv, pc > 0);
                }
            }
            for (int64_t co = 0; co < Cog; co++) {
                const T b = bias ? bias[gi * Cog + co] : (T)0;
                for (int64_t r = 0; r < rv; r++) {
                    T *yr = y + n * ys[0] + (gi * Cog + co) * ys[1] + (i0 + r) * ys[2];
                    const T *src = cb + r * Wq * Cogp + co;
                    for (int64_t j = 0; j < g->W_out; j++)
                        yr[j] = src[j * Cogp] + b;
                }
            }
        }
    }
    fc_free(off); fc_free(wpk); fc_free(bands); fc_free(cbufs);
    return FC_OK;
}

fc_status F(fc_conv2d_fwd_direct)(const fc_conv_geom *g, const T *x, const T *w, const T *bias,
                                  T *y)
{
    if (g->N == 0) return FC_OK;
    if (!F(fc_direct_all_finite)(w, g->C_out * (g->C_in / g->groups) * g->kH * g->kW))
        return F(fc_direct_exact_fwd)(g, x, w, bias, y);
    const int64_t xs[3] = {g->C_in * g->H * g->W, g->H * g->W, g->W};
    const int64_t ys[3] = {g->C_out * g->H_out * g->W_out, g->H_out * g->W_out, g->W_out};
    return F(fc_conv2d_fwd_direct_strided)(g, x, xs, w, bias, y, ys);
}

/* The forward pass reading x and writing y in place with strides xs, ys (image, channel,
 * row; the last axis contiguous): the band copy reads source rows ld apart anyway, and the
 * micro-kernels store through a row and a plane stride, so a block of a larger array costs
 * no gather or copy-out.  Finite weights only (the caller checks). */
fc_status F(fc_conv2d_fwd_direct_strided)(const fc_conv_geom *g, const T *x, const int64_t *xs,
                                          const T *w, const T *bias, T *y, const int64_t *ys)
{
    if (g->N == 0) return FC_OK;
    if (fc_direct_chanvec_pays(g))
        return F(fwd_chanvec)(g, x, xs, w, bias, y, ys);
    const int64_t G = g->groups, Cig = g->C_in / G, Cog = g->C_out / G;
    const int64_t ntaps = Cig * g->kH * g->kW;
    const int nt = threads_for(g);
    planes_t P;
    fwd_planes(g, &P);
    P.ld = xs[2];
    const int MR = fc_direct_pick_mr(Cog), NR = FC_DCONV_MAX_NV * fc_tier_current()->F(dconv).lanes;
    const int64_t nblk = (Cog + MR - 1) / MR;
    const int64_t nplanes = Cig * P.nph_h * P.nph_w;
    int64_t R, bpc;
    F(plan_items)(g->H_out, P.halo, nplanes, P.Wq, g->N * G, nblk, nt, &R, &bpc);
    P.plane = F(plane_stride)((R + P.halo) * P.Wq);

    F(grid_t) Gd;
    Gd.ntaps = ntaps;
    Gd.rows_out = g->H_out;
    Gd.cols_out = g->W_out;
    Gd.dst0 = 0;
    Gd.dr = ys[2];
    Gd.dc = 1;
    F(pick_grid_kernel)(MR, g->H_out, g->W_out, P.Wq, &Gd.K);

    const int64_t band_n = nplanes * P.plane, slack = NR + 64;
    int64_t *off = (int64_t *)fc_malloc((size_t)(ntaps > 0 ? ntaps : 1) * sizeof(int64_t));
    T *wpk = (T *)fc_malloc((size_t)(G * nblk * ntaps * MR) * sizeof(T));
    T *bpk = bias ? (T *)fc_malloc((size_t)(G * nblk * MR) * sizeof(T)) : NULL;
    T *bands = F(alloc_bands)(nt, band_n, slack);
    if (!off || !wpk || (bias && !bpk) || !bands) {
        fc_free(off); fc_free(wpk); fc_free(bpk); fc_free(bands);
        return FC_ERR_NOMEM;
    }
    fwd_offsets(g, &P, off);
    for (int64_t gi = 0; gi < G; gi++)
        for (int64_t b = 0; b < nblk; b++)
            for (int64_t t = 0; t < ntaps; t++)
                for (int m = 0; m < MR; m++) {
                    /* tap t = (icg*kH + kh)*kW + kw is also w's inner index */
                    const int64_t oc = b * MR + m;
                    wpk[((gi * nblk + b) * ntaps + t) * MR + m] =
                        oc < Cog ? w[(gi * Cog + oc) * ntaps + t] : (T)0;
                }
    if (bias) F(pack_bias)(bias, G, Cog, MR, nblk, bpk);
    Gd.off = off;
    Gd.wpk = wpk;

    const int64_t nbc = (nblk + bpc - 1) / bpc, nband = (g->H_out + R - 1) / R;
    const int64_t items = g->N * G * nbc * nband;
    int64_t k;
FC_OMP_FOR_DYNAMIC(nt)
    for (k = 0; k < items; k++) {
        int64_t n, gi, i0, b0, b1;
        F(decode_item)(k, nband, nbc, G, R, bpc, nblk, &n, &gi, &i0, &b0, &b1);
        T *xb = F(my_band)(bands, band_n, slack);
        for (int64_t icg = 0; icg < Cig; icg++)
            F(repack)(x + n * xs[0] + (gi * Cig + icg) * xs[1],
                      xb + icg * P.nph_h * P.nph_w * P.plane, &P, i0, i0 + R + P.halo);
        F(run_band)(&Gd, xb, y + n * ys[0] + gi * Cog * ys[1], ys[1], Cog,
                    wpk + gi * nblk * ntaps * MR, bpk ? bpk + gi * nblk * MR : NULL, b0, b1,
                    i0, i0 + R, P.Wq);
    }
    fc_free(off); fc_free(wpk); fc_free(bpk); fc_free(bands);
    return FC_OK;
}

/* ------------------------------------------------------------ backward data -- */

/* The gradient for input row ih = a + sH*i (a the stride phase) gathers, for every kh with
 * a + pH - kh*dH divisible by sH, grad_output row oh = i + c_h, c_h = (a + pH - kh*dH)/sH:
 * for each phase a stride-1 correlation of grad_output with a subset of the (flipped) taps.
 * Grid row i of every phase reads the same grad_output rows, so one band copy serves all
 * phases. */
fc_status F(fc_conv2d_bwd_data_direct)(const fc_conv_geom *g, const T *gy, const T *w, T *gx)
{
    if (g->N == 0) return FC_OK;
    if (!F(fc_direct_all_finite)(w, g->C_out * (g->C_in / g->groups) * g->kH * g->kW))
        return F(fc_direct_exact_bwd_data)(g, gy, w, gx);
    const int64_t G = g->groups, Cig = g->C_in / G, Cog = g->C_out / G;
    const int64_t KK = g->kH * g->kW, sH = g->sH, sW = g->sW;
    /* phases a >= H hold no input row: skipped */
    const int64_t nph_h = sH < g->H ? sH : g->H, nph_w = sW < g->W ? sW : g->W;
    const int64_t nphase = nph_h * nph_w;
    const int nt = threads_for(g);
    bwd_data_shape S;
    bwd_data_planes(g, &S);
    planes_t *P = &S.P;
    const int MR = fc_direct_pick_mr(Cig), NR = FC_DCONV_MAX_NV * fc_tier_current()->F(dconv).lanes;
    const int64_t nblk = (Cig + MR - 1) / MR;
    const int64_t taps_all = Cog * KK;   /* over all phases, every (oc, kh, kw) at most once */
    const int64_t rows = (g->H + sH - 1) / sH;   /* grid rows of phase 0, the most */
    int64_t R, bpc;
    F(plan_items)(rows, P->halo, Cog, P->Wq, g->N * G, nblk, nt, &R, &bpc);
    P->plane = F(plane_stride)((R + P->halo) * P->Wq);

    const int64_t band_n = Cog * P->plane, slack = NR + 64;
    F(grid_t) *grids = (F(grid_t) *)fc_malloc((size_t)nphase * sizeof(F(grid_t)));
    int64_t *off = (int64_t *)fc_malloc((size_t)(taps_all > 0 ? taps_all : 1) * sizeof(int64_t));
    T *wpk = (T *)fc_malloc((size_t)(G * nblk * taps_all * MR + 1) * sizeof(T));
    int64_t *khs = (int64_t *)fc_malloc((size_t)(2 * g->kH) * sizeof(int64_t));
    int64_t *kws = (int64_t *)fc_malloc((size_t)(2 * g->kW) * sizeof(int64_t));
    T *bands = F(alloc_bands)(nt, band_n, slack);
    if (!grids || !off || !wpk || !khs || !kws || !bands) {
        fc_free(grids); fc_free(off); fc_free(wpk); fc_free(khs); fc_free(kws); fc_free(bands);
        return FC_ERR_NOMEM;
    }

    int64_t used = 0;
    for (int64_t a = 0; a < nph_h; a++) {
        for (int64_t b = 0; b < nph_w; b++) {
            F(grid_t) *Gd = &grids[a * nph_w + b];
            const int64_t nkh = phase_taps(a, g->pH, g->kH, g->dH, sH, S.PH, khs);
            const int64_t nkw = phase_taps(b, g->pW, g->kW, g->dW, sW, S.PW, kws);
            T *wph = wpk + G * nblk * used * MR;
            Gd->ntaps = Cog * nkh * nkw;
            Gd->off = off + used;
            Gd->wpk = wph;
            Gd->rows_out = (g->H - a + sH - 1) / sH;
            Gd->cols_out = (g->W - b + sW - 1) / sW;
            Gd->dst0 = a * g->W + b;
            Gd->dr = sH * g->W;
            Gd->dc = sW;
            F(pick_grid_kernel)(MR, Gd->rows_out, Gd->cols_out, P->Wq, &Gd->K);
            int64_t t = 0;
            for (int64_t ocg = 0; ocg < Cog; ocg++)
                for (int64_t u = 0; u < nkh; u++)
                    for (int64_t v = 0; v < nkw; v++, t++) {
                        const int64_t kh = khs[2 * u], kw = kws[2 * v];
                        off[used + t] = ocg * P->plane + khs[2 * u + 1] * P->Wq + kws[2 * v + 1];
                        for (int64_t gi = 0; gi < G; gi++)
                            for (int64_t bl = 0; bl < nblk; bl++)
                                for (int m = 0; m < MR; m++) {
                                    const int64_t icg = bl * MR + m;
                                    wph[((gi * nblk + bl) * Gd->ntaps + t) * MR + m] =
                                        icg < Cig ? w[((gi * Cog + ocg) * Cig + icg) * KK +
                                                      kh * g->kW + kw] : (T)0;
                                }
                    }
            used += Gd->ntaps;
        }
    }

    const int64_t nbc = (nblk + bpc - 1) / bpc, nband = (rows + R - 1) / R;
    const int64_t HW = g->H * g->W, HWo = g->H_out * g->W_out;
    const int64_t items = g->N * G * nbc * nband;
    int64_t k;
FC_OMP_FOR_DYNAMIC(nt)
    for (k = 0; k < items; k++) {
        int64_t n, gi, i0, b0, b1;
        F(decode_item)(k, nband, nbc, G, R, bpc, nblk, &n, &gi, &i0, &b0, &b1);
        T *xb = F(my_band)(bands, band_n, slack);
        for (int64_t ocg = 0; ocg < Cog; ocg++)
            F(repack)(gy + (n * g->C_out + gi * Cog + ocg) * HWo, xb + ocg * P->plane, P, i0,
                      i0 + R + P->halo);
        for (int64_t ph = 0; ph < nphase; ph++) {
            const F(grid_t) *Gd = &grids[ph];
            F(run_band)(Gd, xb, gx + (n * g->C_in + gi * Cig) * HW, HW, Cig,
                        Gd->wpk + gi * nblk * Gd->ntaps * MR, NULL, b0, b1, i0, i0 + R, P->Wq);
        }
    }
    fc_free(grids); fc_free(off); fc_free(wpk); fc_free(khs); fc_free(kws); fc_free(bands);
    return FC_OK;
}

/* ---------------------------------------------------------- backward weight -- */

static T F(sum_run)(const T *p, int64_t n)
{
    T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) s[l] += p[i + l];
    for (; i < n; i++) s[i % 8] += p[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* Channel k's bias gradient: the images' runs of gy summed in order. */
static T F(bias_sum)(const fc_conv_geom *g, const T *gy, int64_t k)
{
    const int64_t HWo = g->H_out * g->W_out;
    T s = 0;
    for (int64_t n = 0; n < g->N; n++)
        s += F(sum_run)(gy + (n * g->C_out + k) * HWo, HWo);
    return s;
}

/* grad_bias on its own, for the passes whose weight gradient is another algorithm's
 * (Winograd): the channels on the threads, the same sums as the direct weight gradient's
 * row-major path.  (The im2col GEMM of one column that served before cost 0.3-2 ms a call:
 * each image's pixels through the packing.) */
fc_status F(fc_conv2d_grad_bias)(const fc_conv_geom *g, const T *gy, T *gb)
{
    const int nt = fc_threads_for((double)g->N * (double)g->C_out *
                                  (double)(g->H_out * g->W_out), 1 << 18);
    int64_t k;
FC_OMP_FOR(nt, nt > 1)
    for (k = 0; k < g->C_out; k++)
        gb[k] = F(bias_sum)(g, gy, k);
    return FC_OK;
}

/* The weight gradient vectorised along output channels (the 32-register tiers' wide
 * layers, as fwd_chanvec): gW_g^T (taps x channels) = sum over the batch's bands of the
 * band copy's tap rows (gemmr reads tap t's run of its phase plane in place) times gY^T
 * packed as NR-channel panels over the band's flattened grid, zero in the dropped columns.
 * The bands (N * nband, fixed by the geometry) are cut into at most 16 fixed chunks, each
 * summed into its own partial, the partials added in chunk order; work items split a
 * chunk's taps further only for parallelism.  Finite x only: a dropped column's zero times
 * an Inf would be NaN (the caller checks). */
static fc_status F(bwd_weight_chanvec)(const fc_conv_geom *g, const T *gy, const T *x, T *gw,
                                       T *gb)
{
    const CAT(fc_gemm_desc, SFX) *d = CAT(fc_gemm_select, SFX)();
    const int64_t G = g->groups, Cig = g->C_in / G, Cog = g->C_out / G;
    const int64_t ntaps = Cig * g->kH * g->kW, MR = d->mr, NR = d->nr;
    const int64_t HWo = g->H_out * g->W_out, Ho = g->H_out, Wo = g->W_out;
    const int nt = threads_for(g);
    planes_t P;
    fwd_planes(g, &P);
    const int64_t nplanes = Cig * P.nph_h * P.nph_w, Wq = P.Wq;
    /* bands from the geometry alone (they fix the order of the sums) */
    const int64_t row_bytes = nplanes * Wq * (int64_t)sizeof(T);
    int64_t R = Ho;
    for (int64_t want = 2; R > 1 && (R + P.halo) * row_bytes > 4 * fc_tier_current()->direct_band_bytes; want++)
        R = fc_ceil_div(Ho, want);
    const int64_t nband = fc_ceil_div(Ho, R), NB = g->N * nband;
    P.plane = F(plane_stride)((R + P.halo) * Wq);
    const int64_t Q = R * Wq, KC = fc_balanced_block(Q, d->kc);
    const int64_t Cogp = fc_round_up(Cog, NR), npan = Cogp / NR, ntp = fc_ceil_div(ntaps, MR);
    const int64_t nchunk = fc_min64(16, NB), part_n = ntaps * Cogp;
    /* tap-panel blocks per item: only for parallelism, no effect on any sum */
    int64_t tpb = ntp;
    while (tpb > 1 && nchunk * G * fc_ceil_div(ntp, tpb) < 4 * nt)
        tpb = fc_ceil_div(tpb, 2);
    const int64_t ntb = fc_ceil_div(ntp, tpb), items = nchunk * G * ntb;
    const int64_t band_n = nplanes * P.plane, slack = (g->kW - 1) * g->dW + 64;
    const int64_t per_thread = band_n + slack + Q * Cogp + fc_max64(Wo, 1);

    int64_t *off = (int64_t *)fc_malloc((size_t)ntaps * sizeof(int64_t));
    T *part = (T *)fc_malloc((size_t)(nchunk * G * part_n) * sizeof(T));
    T *tb = (T *)fc_malloc((size_t)(nt * per_thread) * sizeof(T));
    if (!off || !part || !tb) {
        fc_free(off); fc_free(part); fc_free(tb);
        return FC_ERR_NOMEM;
    }
    fwd_offsets(g, &P, off);
    int64_t k;
FC_OMP_PARALLEL(nt)
    {
        T *xb = tb + (int64_t)fc_thread_id() * per_thread;
        T *bpk = xb + band_n + slack, *zrow = bpk + Q * Cogp;
        const T *rows[FC_GEMM_NR_MAX > FC_GEMM_MR_MAX ? FC_GEMM_NR_MAX : FC_GEMM_MR_MAX];
        memset(xb + band_n, 0, (size_t)slack * sizeof(T));
        memset(zrow, 0, (size_t)fc_max64(Wo, 1) * sizeof(T));
FC_OMP_LOOP_DYNAMIC
        for (k = 0; k < items; k++) {
            const int64_t tbk = k % ntb, gi = (k / ntb) % G, c = k / (ntb * G);
            const int64_t t0 = tbk * tpb, t1 = fc_min64(ntp, t0 + tpb);
            T *pc_out = part + (c * G + gi) * part_n;
            for (int64_t bi = c * NB / nchunk; bi < (c + 1) * NB / nchunk; bi++) {
                const int64_t n = bi / nband, i0 = bi % nband * R, rv = fc_min64(R, Ho - i0);
                const int first = bi == c * NB / nchunk;
                for (int64_t icg = 0; icg < Cig; icg++)
                    F(repack)(x + (n * g->C_in + gi * Cig + icg) * g->H * g->W,
                              xb + icg * P.nph_h * P.nph_w * P.plane, &P, i0, i0 + R + P.halo);
                /* gY^T over the band's grid: panel jp holds Q rows of NR channels */
                for (int64_t jp = 0; jp < npan; jp++) {
                    T *dst = bpk + jp * Q * NR;
                    for (int64_t r = 0; r < R; r++) {
                        if (r < rv) {
                            for (int64_t j = 0; j < NR; j++) {
                                const int64_t co = jp * NR + j;
                                rows[j] = co < Cog ? gy + (n * g->C_out + gi * Cog + co) * HWo +
                                                         (i0 + r) * Wo
                                                   : zrow;
                            }
                            d->packt(Wo, rows, dst + r * Wq * NR);
                            memset(dst + (r * Wq + Wo) * NR, 0, (size_t)((Wq - Wo) * NR) * sizeof(T));
                        } else {
                            memset(dst + r * Wq * NR, 0, (size_t)(Wq * NR) * sizeof(T));
                        }
                    }
                }
                for (int64_t pc = 0; pc < Q; pc += KC) {
                    const int64_t kc = fc_min64(KC, Q - pc);
                    for (int64_t tp = t0; tp < t1; tp++) {
                        const int64_t ta = tp * MR, mv = fc_min64(MR, ntaps - ta);
                        for (int64_t i = 0; i < MR; i++)
                            rows[i] = xb + off[ta + (i < mv ? i : 0)] + pc;
                        for (int64_t jp = 0; jp < npan; jp++)
                            d->gemmr(kc, rows, bpk + jp * Q * NR + pc * NR,
                                     pc_out + ta * Cogp + jp * NR, Cogp, mv,
                                     fc_min64(NR, Cog - jp * NR), !(first && pc == 0));
                    }
                }
            }
        }
        T *acc = bpk;   /* Cog sums of one tap */
FC_OMP_LOOP
        for (k = 0; k < G * ntaps; k++) {   /* the partials in chunk order, a tap's row at once */
            const int64_t gi = k / ntaps, t = k % ntaps;
            const T *p0 = part + gi * part_n + t * Cogp;
            for (int64_t co = 0; co < Cog; co++)
                acc[co] = p0[co];
            for (int64_t c = 1; c < nchunk; c++) {
                const T *pc_ = part + (c * G + gi) * part_n + t * Cogp;
                for (int64_t co = 0; co < Cog; co++)
                    acc[co] += pc_[co];
            }
            for (int64_t co = 0; co < Cog; co++)
                gw[(gi * Cog + co) * ntaps + t] = acc[co];
        }
FC_OMP_LOOP
        for (k = 0; k < g->C_out; k++)   /* the bias gradient */
            if (gb)
                gb[k] = F(bias_sum)(g, gy, k);
    }
    fc_free(off); fc_free(part); fc_free(tb);
    return FC_OK;
}

/* gw[oc][t] = sum over (n, oh, ow) of gy[n][oc][oh][ow] * x[n][ic(t)][tap t of (oh, ow)].
 * The rows of the batch, N*H_out, are cut into nchunk fixed ranges (independent of the
 * thread count); each range accumulates into its own partial gw/gb, and the partials are
 * summed in range order: deterministic, whatever the number of threads. */
fc_status F(fc_conv2d_bwd_weight_direct)(const fc_conv_geom *g, const T *gy, const T *x,
                                         T *gw, T *gb)
{
    const int64_t G = g->groups, Cig = g->C_in / G, Cog = g->C_out / G;
    const int64_t KK = g->kH * g->kW, ntaps = Cig * KK;
    const int64_t gw_n = g->C_out * ntaps, part_n = gw_n + g->C_out;
    if (!gw && !gb) return FC_OK;
    if (g->N == 0) {
        if (gw) memset(gw, 0, (size_t)gw_n * sizeof(T));
        if (gb) memset(gb, 0, (size_t)g->C_out * sizeof(T));
        return FC_OK;
    }
    if (!F(fc_direct_all_finite)(gy, g->N * g->C_out * g->H_out * g->W_out))
        return F(fc_direct_exact_bwd_weight)(g, gy, x, gw, gb);
    if (gw && fc_direct_chanvec_weight_pays(g) &&
        F(fc_direct_all_finite)(x, g->N * g->C_in * g->H * g->W))
        return F(bwd_weight_chanvec)(g, gy, x, gw, gb);
    planes_t P;
    fwd_planes(g, &P);
    const F(fc_dconv_desc) *D = &fc_tier_current()->F(dconv);
    const int MR = Cog == 1 ? 1 : 4, TB = Cog == 1 ? 9 : 3;
    F(fc_dconvgw_fn) fn = Cog == 1 ? D->gw1x9 : D->gw4x3;
    const int64_t nblk = (Cog + MR - 1) / MR;
    const int64_t HWo = g->H_out * g->W_out, HW = g->H * g->W;
    const int64_t rows = g->N * g->H_out;
    int64_t nchunk = rows < 16 ? rows : 16;
    while (nchunk > 1 && (double)nchunk * (double)part_n * sizeof(T) > FC_DIRECT_PARTIAL_BYTES)
        nchunk--;
    /* rows per micro-kernel call: long enough to amortise its horizontal sums, short enough
     * that the grad_output rows it reads stay in L1 */
    int64_t rb = 1024 / g->W_out;
    if (rb < 1) rb = 1;
    P.plane = F(plane_stride)((rb + P.halo) * P.Wq);

    const int nt = threads_for(g);
    int64_t nbc = (4 * (int64_t)nt + nchunk * G - 1) / (nchunk * G);
    if (nbc > nblk) nbc = nblk;
    if (nbc < 1) nbc = 1;
    const int64_t bpc = (nblk + nbc - 1) / nbc;
    nbc = (nblk + bpc - 1) / bpc;

    const int64_t band_n = Cig * P.nph_h * P.nph_w * P.plane;
    int64_t *off = (int64_t *)fc_malloc((size_t)(ntaps > 0 ? ntaps : 1) * sizeof(int64_t));
    T *part = (T *)fc_malloc((size_t)(nchunk * part_n) * sizeof(T));
    T *tbuf = gw ? F(alloc_bands)(nt, band_n, 0) : NULL;
    if (!off || !part || (gw && !tbuf)) {
        fc_free(off); fc_free(part); fc_free(tbuf);
        return FC_ERR_NOMEM;
    }
    fwd_offsets(g, &P, off);

FC_OMP_PARALLEL(nt)
    {
        T *mybuf = tbuf ? F(my_band)(tbuf, band_n, 0) : NULL;
        int64_t k;
FC_OMP_LOOP_DYNAMIC
        for (k = 0; k < nchunk * G * nbc; k++) {
            const int64_t bc = k % nbc, gi = (k / nbc) % G, c = k / (nbc * G);
            const int64_t b0 = bc * bpc, b1 = b0 + bpc < nblk ? b0 + bpc : nblk;
            const int64_t oc_lo = gi * Cog + b0 * MR;
            const int64_t oc_hi = gi * Cog + (b1 * MR < Cog ? b1 * MR : Cog);
            T *pw = part + c * part_n, *pb = pw + gw_n;
            memset(pw + oc_lo * ntaps, 0, (size_t)((oc_hi - oc_lo) * ntaps) * sizeof(T));
            memset(pb + oc_lo, 0, (size_t)(oc_hi - oc_lo) * sizeof(T));
            const int64_t R0 = c * rows / nchunk, R1 = (c + 1) * rows / nchunk;
            for (int64_t n = R0 / g->H_out; n * g->H_out < R1; n++) {
                const int64_t r0 = R0 > n * g->H_out ? R0 - n * g->H_out : 0;
                const int64_t r1 = R1 - n * g->H_out < g->H_out ? R1 - n * g->H_out : g->H_out;
                const T *gyn = gy + n * g->C_out * HWo;
                if (gw) {
                    for (int64_t r = r0; r < r1; r += rb) {
                        const int64_t nr = r1 - r < rb ? r1 - r : rb;
                        for (int64_t icg = 0; icg < Cig; icg++)
                            F(repack)(x + (n * g->C_in + gi * Cig + icg) * HW,
                                      mybuf + icg * P.nph_h * P.nph_w * P.plane, &P, r,
                                      r + nr + P.halo);
                        for (int64_t b = b0; b < b1; b++) {
                            const int64_t oc = gi * Cog + b * MR;
                            const int64_t mr = Cog - b * MR < MR ? Cog - b * MR : MR;
                            for (int64_t t = 0; t < ntaps; t += TB)
                                fn(nr, g->W_out, gyn + (oc * g->H_out + r) * g->W_out, HWo,
                                   g->W_out, mybuf, P.Wq, off + t, pw + oc * ntaps + t, ntaps,
                                   mr, ntaps - t < TB ? ntaps - t : TB);
                        }
                    }
                }
                if (gb)
                    for (int64_t oc = oc_lo; oc < oc_hi; oc++)
                        pb[oc] += F(sum_run)(gyn + oc * HWo + r0 * g->W_out,
                                             (r1 - r0) * g->W_out);
            }
        }
        if (gw) {
FC_OMP_LOOP
            for (k = 0; k < gw_n; k++) {
                T s = part[k];
                for (int64_t c = 1; c < nchunk; c++) s += part[c * part_n + k];
                gw[k] = s;
            }
        }
        if (gb) {
FC_OMP_LOOP
            for (k = 0; k < g->C_out; k++) {
                T s = part[gw_n + k];
                for (int64_t c = 1; c < nchunk; c++) s += part[c * part_n + gw_n + k];
                gb[k] = s;
            }
        }
    }
    fc_free(off); fc_free(part); fc_free(tbuf);
    return FC_OK;
}

#undef F
#undef CAT
#undef CAT_
