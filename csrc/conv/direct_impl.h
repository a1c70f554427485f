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

/* Copy one source channel (Hs x Ws) into its nph_h*nph_w phase planes, rows [r_lo, r_hi) of each:
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
                T *dr = d + r * P->Wq;
                const int64_t sr = r * P->sH + rh - P->offH;
                if (sr < 0 || sr >= P->Hs) {
                    memset(dr, 0, (size_t)P->Wq * sizeof(T));
                    continue;
                }
                const T *srow = src + sr * P->Ws + c0;
                if (s_lo > 0) memset(dr, 0, (size_t)s_lo * sizeof(T));
                if (P->sW == 1) {
                    memcpy(dr + s_lo, srow + s_lo, (size_t)(s_hi - s_lo) * sizeof(T));
                } else {
                    for (int64_t s = s_lo; s < s_hi; s++) dr[s] = srow[s * P->sW];
                }
                if (s_hi < P->Wq) memset(dr + s_hi, 0, (size_t)(P->Wq - s_hi) * sizeof(T));
            }
        }
    }
}

static void F(pick_tap_kernel)(int64_t cg, int *MR, int *NR, F(dconv_fn_t) *fn)
{
    const int mr = fc_direct_pick_mr(cg);
    const int avx2 = F(have_avx2)();
    *MR = mr;
    switch (mr) {
    case 4: *NR = 3 * F(LANES); *fn = avx2 ? F(K4_AVX2) : F(K4_GEN); break;
    case 3: *NR = 4 * F(LANES); *fn = avx2 ? F(K3_AVX2) : F(K3_GEN); break;
    case 2: *NR = 6 * F(LANES); *fn = avx2 ? F(K2_AVX2) : F(K2_GEN); break;
    default: *NR = 8 * F(LANES); *fn = avx2 ? F(K1_AVX2) : F(K1_GEN); break;
    }
}

/* One grid of output points fed by a list of taps: a forward conv, or one stride phase of a
 * backward-data conv. */
typedef struct {
    int64_t ntaps;
    const int64_t *off;      /* [ntaps], relative to the group's first input plane */
    const T *wpk;            /* [groups][nblk][ntaps][MR] */
    const T *bpk;            /* [groups][nblk][MR] or NULL */
    int64_t rows_out, cols_out;
    int64_t dst0;            /* offset of grid point (0, 0) inside a destination plane */
    int64_t dr, dc;          /* destination strides of grid rows / columns */
    tiling_t tl;
} F(grid_t);

/* Output channel blocks [b0, b1) x tiles [t0, t1) of one grid, one image and group.
 * x: the group's first input plane.  dst: the group's first destination plane; ldc: plane
 * size.  cg: channels per group on the destination side. */
static void F(run_tiles)(const F(grid_t) *G, const T *x, T *dst, int64_t ldc, int64_t cg,
                         int64_t gi, int64_t nblk, int64_t b0, int64_t b1, int64_t t0,
                         int64_t t1, int MR, int NR, F(dconv_fn_t) fn)
{
    T tmp[8 * 64];   /* MR*NR <= 4*24, 3*32, 2*48, 1*64 */
    const int64_t wblk = G->ntaps * MR;
    for (int64_t t = t0; t < t1; t++) {
        int64_t i, j;
        tile_origin(&G->tl, t, &i, &j);
        const int64_t p0 = i * G->tl.Wq + j;
        const int direct = G->dc == 1 && j + NR <= G->cols_out;
        for (int64_t b = b0; b < b1; b++) {
            const int64_t c0 = b * MR;
            const int64_t mr = cg - c0 < MR ? cg - c0 : MR;
            const T *w = G->wpk + (gi * nblk + b) * wblk;
            const T *bias = G->bpk ? G->bpk + (gi * nblk + b) * MR : NULL;
            T *d = dst + c0 * ldc + G->dst0;
            if (direct) {
                fn(G->ntaps, G->off, x + p0, w, bias, d + i * G->dr + j, ldc, mr);
                continue;
            }
            fn(G->ntaps, G->off, x + p0, w, bias, tmp, NR, mr);
            /* Scatter the grid points of this tile that are real outputs. */
            int64_t ii = i, jj = j;
            for (int p = 0; p < NR; p++) {
                if (ii >= G->rows_out) break;
                if (jj < G->cols_out) {
                    T *dp = d + ii * G->dr + jj * G->dc;
                    for (int64_t m = 0; m < mr; m++) dp[m * ldc] = tmp[m * NR + p];
                }
                if (++jj == G->tl.Wq) { jj = 0; ii++; }
            }
        }
    }
}

/* bpk[g][blk][m] = bias of channel blk*MR + m of group g (zero past the group's end). */
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

/* Work split of one image chunk over the threads: items (image, group, [phase,]
 * block chunk, tile chunk). */
static void F(split)(int64_t nimg, int64_t groups, int64_t nphase, int64_t nblk,
                     int64_t ntiles, int64_t wblk_bytes, int nt, int64_t *bpc, int64_t *tpc)
{
    /* Keep one chunk of packed weights in L1 while a tile's inputs stay hot in L1/L2. */
    int64_t b = (int64_t)(24 * 1024) / (wblk_bytes > 0 ? wblk_bytes : 1);
    if (b < 1) b = 1;
    if (b > nblk) b = nblk;
    *bpc = b;
    const int64_t coarse = nimg * groups * nphase * ((nblk + b - 1) / b);
    const int64_t want = 8 * (int64_t)nt;
    int64_t tchunks = coarse >= want ? 1 : (want + coarse - 1) / coarse;
    if (tchunks > ntiles) tchunks = ntiles;
    if (tchunks < 1) tchunks = 1;
    *tpc = (ntiles + tchunks - 1) / tchunks;
}

/* ------------------------------------------------------------------ forward -- */

fc_status F(fc_conv2d_fwd_direct)(const fc_conv_geom *g, const T *x, const T *w, const T *bias,
                                  T *y)
{
    if (g->N == 0) return FC_OK;
    const int64_t G = g->groups, Cig = g->C_in / G, Cog = g->C_out / G;
    const int64_t KK = g->kH * g->kW, ntaps = Cig * KK;
    planes_t P;
    fwd_planes(g, &P);
    int MR, NR;
    F(dconv_fn_t) fn;
    F(pick_tap_kernel)(Cog, &MR, &NR, &fn);
    const int64_t nblk = (Cog + MR - 1) / MR;

    F(grid_t) Gd;
    Gd.ntaps = ntaps;
    Gd.rows_out = g->H_out;
    Gd.cols_out = g->W_out;
    Gd.dst0 = 0;
    Gd.dr = g->W_out;
    Gd.dc = 1;
    choose_tiling(&Gd.tl, g->H_out, g->W_out, P.Wq, NR);

    const int64_t planes_img = g->C_in * P.nph_h * P.nph_w;
    const int64_t img_elems = planes_img * P.plane;
    int64_t cn = (int64_t)(FC_DIRECT_CHUNK_BYTES / sizeof(T)) / (img_elems > 0 ? img_elems : 1);
    if (cn < 1) cn = 1;
    if (cn > g->N) cn = g->N;
    const int64_t xbuf_n = cn * img_elems + NR + 64;

    int64_t *off = (int64_t *)malloc((size_t)(ntaps > 0 ? ntaps : 1) * sizeof(int64_t));
    T *wpk = (T *)malloc((size_t)(G * nblk * ntaps * MR) * sizeof(T));
    T *bpk = bias ? (T *)malloc((size_t)(G * nblk * MR) * sizeof(T)) : NULL;
    T *xbuf = (T *)malloc((size_t)xbuf_n * sizeof(T));
    if (!off || !wpk || (bias && !bpk) || !xbuf) {
        free(off); free(wpk); free(bpk); free(xbuf);
        return FC_ERR_NOMEM;
    }
    fwd_offsets(g, &P, off);
    for (int64_t gi = 0; gi < G; gi++)
        for (int64_t b = 0; b < nblk; b++)
            for (int64_t t = 0; t < ntaps; t++)
                for (int m = 0; m < MR; m++) {
                    const int64_t oc = b * MR + m;
                    /* tap t = icg*KK + kh*kW + kw is also w's inner index */
                    wpk[((gi * nblk + b) * ntaps + t) * MR + m] =
                        oc < Cog ? w[(gi * Cog + oc) * ntaps + t] : (T)0;
                }
    if (bias) F(pack_bias)(bias, G, Cog, MR, nblk, bpk);
    Gd.off = off;
    Gd.wpk = wpk;
    Gd.bpk = bpk;
    memset(xbuf + cn * img_elems, 0, (size_t)(xbuf_n - cn * img_elems) * sizeof(T));

    const int nt = threads_for(g);
    int64_t bpc, tpc;
    F(split)(cn, G, 1, nblk, Gd.tl.ntiles, ntaps * MR * (int64_t)sizeof(T), nt, &bpc, &tpc);
    const int64_t nbc = (nblk + bpc - 1) / bpc, ntc = (Gd.tl.ntiles + tpc - 1) / tpc;
    const int64_t HW = g->H * g->W, HWo = g->H_out * g->W_out;

#ifdef FC_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        for (int64_t n0 = 0; n0 < g->N; n0 += cn) {
            const int64_t nn = g->N - n0 < cn ? g->N - n0 : cn;
            int64_t k;
#ifdef FC_HAVE_OPENMP
#pragma omp for schedule(static)
#endif
            for (k = 0; k < nn * g->C_in; k++)
                F(repack)(x + (n0 * g->C_in + k) * HW, xbuf + k * P.nph_h * P.nph_w * P.plane, &P, 0,
                          P.Hq);
#ifdef FC_HAVE_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (k = 0; k < nn * G * nbc * ntc; k++) {
                const int64_t tc = k % ntc, bc = (k / ntc) % nbc, gi = (k / (ntc * nbc)) % G;
                const int64_t n = k / (ntc * nbc * G);
                const int64_t b0 = bc * bpc, b1 = b0 + bpc < nblk ? b0 + bpc : nblk;
                const int64_t t0 = tc * tpc, t1 = t0 + tpc < Gd.tl.ntiles ? t0 + tpc : Gd.tl.ntiles;
                const T *xg = xbuf + (n * planes_img + gi * Cig * P.nph_h * P.nph_w) * P.plane;
                T *yg = y + ((n0 + n) * g->C_out + gi * Cog) * HWo;
                F(run_tiles)(&Gd, xg, yg, HWo, Cog, gi, nblk, b0, b1, t0, t1, MR, NR, fn);
            }
        }
    }
    free(off); free(wpk); free(bpk); free(xbuf);
    return FC_OK;
}

/* ------------------------------------------------------------ backward data -- */

/* The gradient for input row ih = a + sH*i (a the stride phase) gathers, for every kh with
 * a + pH - kh*dH divisible by sH, grad_output row oh = i + c_h, c_h = (a + pH - kh*dH)/sH:
 * for each phase a stride-1 correlation of grad_output with a subset of the (flipped) taps.
 * One padded copy of grad_output serves every phase. */
fc_status F(fc_conv2d_bwd_data_direct)(const fc_conv_geom *g, const T *gy, const T *w, T *gx)
{
    if (g->N == 0) return FC_OK;
    const int64_t G = g->groups, Cig = g->C_in / G, Cog = g->C_out / G;
    const int64_t KK = g->kH * g->kW, sH = g->sH, sW = g->sW;
    /* phases a >= H hold no input row: skipped */
    const int64_t nph_h = sH < g->H ? sH : g->H, nph_w = sW < g->W ? sW : g->W;
    const int64_t nphase = nph_h * nph_w;
    bwd_data_shape S;
    bwd_data_planes(g, &S);
    const planes_t *P = &S.P;
    int MR, NR;
    F(dconv_fn_t) fn;
    F(pick_tap_kernel)(Cig, &MR, &NR, &fn);
    const int64_t nblk = (Cig + MR - 1) / MR;
    const int64_t taps_all = Cog * KK;   /* summed over phases, every (oc, kh, kw) once */

    F(grid_t) *grids = (F(grid_t) *)malloc((size_t)nphase * sizeof(F(grid_t)));
    int64_t *off = (int64_t *)malloc((size_t)(taps_all > 0 ? taps_all : 1) * sizeof(int64_t));
    T *wpk = (T *)malloc((size_t)(G * nblk * taps_all * MR) * sizeof(T));
    const int64_t img_elems = g->C_out * P->plane;
    int64_t cn = (int64_t)(FC_DIRECT_CHUNK_BYTES / sizeof(T)) / (img_elems > 0 ? img_elems : 1);
    if (cn < 1) cn = 1;
    if (cn > g->N) cn = g->N;
    const int64_t xbuf_n = cn * img_elems + NR + 64;
    T *xbuf = (T *)malloc((size_t)xbuf_n * sizeof(T));
    int64_t *khs = (int64_t *)malloc((size_t)(2 * g->kH) * sizeof(int64_t));
    int64_t *kws = (int64_t *)malloc((size_t)(2 * g->kW) * sizeof(int64_t));
    if (!grids || !off || !wpk || !xbuf || !khs || !kws) {
        free(grids); free(off); free(wpk); free(xbuf); free(khs); free(kws);
        return FC_ERR_NOMEM;
    }
    memset(xbuf + cn * img_elems, 0, (size_t)(xbuf_n - cn * img_elems) * sizeof(T));

    int64_t used = 0, max_tiles = 0;
    for (int64_t a = 0; a < nph_h; a++) {
        for (int64_t b = 0; b < nph_w; b++) {
            F(grid_t) *Gd = &grids[a * nph_w + b];
            int64_t nkh, nkw;
            nkh = phase_taps(a, g->pH, g->kH, g->dH, sH, S.PH, khs);
            nkw = phase_taps(b, g->pW, g->kW, g->dW, sW, S.PW, kws);
            Gd->ntaps = Cog * nkh * nkw;
            Gd->off = off + used;
            Gd->wpk = wpk + G * nblk * used * MR;
            Gd->bpk = NULL;
            Gd->rows_out = (g->H - a + sH - 1) / sH;
            Gd->cols_out = (g->W - b + sW - 1) / sW;
            Gd->dst0 = a * g->W + b;
            Gd->dr = sH * g->W;
            Gd->dc = sW;
            choose_tiling(&Gd->tl, Gd->rows_out, Gd->cols_out, P->Wq, NR);
            if (Gd->tl.ntiles > max_tiles) max_tiles = Gd->tl.ntiles;
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
                                    T *dst = (T *)Gd->wpk + ((gi * nblk + bl) * Gd->ntaps + t) * MR + m;
                                    *dst = icg < Cig ? w[((gi * Cog + ocg) * Cig + icg) * KK +
                                                         kh * g->kW + kw] : (T)0;
                                }
                    }
            used += Gd->ntaps;
        }
    }

    const int nt = threads_for(g);
    int64_t bpc, tpc;
    F(split)(cn, G, nphase, nblk, max_tiles, (Cog * KK / nphase + 1) * MR * (int64_t)sizeof(T),
             nt, &bpc, &tpc);
    const int64_t nbc = (nblk + bpc - 1) / bpc, ntc = max_tiles > 0 ? (max_tiles + tpc - 1) / tpc : 0;
    const int64_t HW = g->H * g->W, HWo = g->H_out * g->W_out;

#ifdef FC_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        for (int64_t n0 = 0; n0 < g->N; n0 += cn) {
            const int64_t nn = g->N - n0 < cn ? g->N - n0 : cn;
            int64_t k;
#ifdef FC_HAVE_OPENMP
#pragma omp for schedule(static)
#endif
            for (k = 0; k < nn * g->C_out; k++)
                F(repack)(gy + (n0 * g->C_out + k) * HWo, xbuf + k * P->plane, P, 0, P->Hq);
#ifdef FC_HAVE_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (k = 0; k < nn * G * nphase * nbc * ntc; k++) {
                const int64_t tc = k % ntc, bc = (k / ntc) % nbc, ph = (k / (ntc * nbc)) % nphase;
                const int64_t gi = (k / (ntc * nbc * nphase)) % G;
                const int64_t n = k / (ntc * nbc * nphase * G);
                const F(grid_t) *Gd = &grids[ph];
                const int64_t t0 = tc * tpc;
                if (t0 >= Gd->tl.ntiles) continue;
                const int64_t t1 = t0 + tpc < Gd->tl.ntiles ? t0 + tpc : Gd->tl.ntiles;
                const int64_t b0 = bc * bpc, b1 = b0 + bpc < nblk ? b0 + bpc : nblk;
                const T *xg = xbuf + (n * g->C_out + gi * Cog) * P->plane;
                T *dg = gx + ((n0 + n) * g->C_in + gi * Cig) * HW;
                F(run_tiles)(Gd, xg, dg, HW, Cig, gi, nblk, b0, b1, t0, t1, MR, NR, fn);
            }
        }
    }
    free(grids); free(off); free(wpk); free(xbuf); free(khs); free(kws);
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
    planes_t P;
    fwd_planes(g, &P);
    const int avx2 = F(have_avx2)();
    const int MR = Cog == 1 ? 1 : 4, TB = Cog == 1 ? 9 : 3;
    F(dconvgw_fn_t) fn = Cog == 1 ? (avx2 ? F(GW1_AVX2) : F(GW1_GEN))
                                  : (avx2 ? F(GW4_AVX2) : F(GW4_GEN));
    const int64_t nblk = (Cog + MR - 1) / MR;
    const int64_t HWo = g->H_out * g->W_out, HW = g->H * g->W;
    const int64_t rows = g->N * g->H_out;
    int64_t nchunk = rows < 16 ? rows : 16;
    while (nchunk > 1 && (double)nchunk * (double)part_n * sizeof(T) > FC_DIRECT_PARTIAL_BYTES)
        nchunk--;
    int64_t rb = 1024 / g->W_out;
    if (rb < 1) rb = 1;

    const int nt = threads_for(g);
    int64_t nbc = (4 * (int64_t)nt + nchunk * G - 1) / (nchunk * G);
    if (nbc > nblk) nbc = nblk;
    if (nbc < 1) nbc = 1;
    const int64_t bpc = (nblk + nbc - 1) / nbc;
    nbc = (nblk + bpc - 1) / bpc;

    const int64_t tbuf_n = Cig * P.nph_h * P.nph_w * P.plane;
    int64_t *off = (int64_t *)malloc((size_t)(ntaps > 0 ? ntaps : 1) * sizeof(int64_t));
    T *part = (T *)malloc((size_t)(nchunk * part_n) * sizeof(T));
    T *tbuf = gw ? (T *)malloc((size_t)(nt * tbuf_n) * sizeof(T)) : NULL;
    if (!off || !part || (gw && !tbuf)) {
        free(off); free(part); free(tbuf);
        return FC_ERR_NOMEM;
    }
    fwd_offsets(g, &P, off);

#ifdef FC_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
#ifdef FC_HAVE_OPENMP
        T *mybuf = tbuf ? tbuf + omp_get_thread_num() * tbuf_n : NULL;
#else
        T *mybuf = tbuf;
#endif
        int64_t k;
#ifdef FC_HAVE_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
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
                    const int64_t q1 = r1 + P.Hq - g->H_out;
                    for (int64_t icg = 0; icg < Cig; icg++)
                        F(repack)(x + (n * g->C_in + gi * Cig + icg) * HW,
                                  mybuf + icg * P.nph_h * P.nph_w * P.plane, &P, r0, q1);
                    for (int64_t r = r0; r < r1; r += rb) {
                        const int64_t nr = r1 - r < rb ? r1 - r : rb;
                        for (int64_t b = b0; b < b1; b++) {
                            const int64_t oc = gi * Cog + b * MR;
                            const int64_t mr = Cog - b * MR < MR ? Cog - b * MR : MR;
                            for (int64_t t = 0; t < ntaps; t += TB)
                                fn(nr, g->W_out, gyn + (oc * g->H_out + r) * g->W_out, HWo,
                                   g->W_out, mybuf + r * P.Wq, P.Wq, off + t,
                                   pw + oc * ntaps + t, ntaps, mr,
                                   ntaps - t < TB ? ntaps - t : TB);
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
#ifdef FC_HAVE_OPENMP
#pragma omp for schedule(static)
#endif
            for (k = 0; k < gw_n; k++) {
                T s = part[k];
                for (int64_t c = 1; c < nchunk; c++) s += part[c * part_n + k];
                gw[k] = s;
            }
        }
        if (gb) {
#ifdef FC_HAVE_OPENMP
#pragma omp for schedule(static)
#endif
            for (k = 0; k < g->C_out; k++) {
                T s = part[gw_n + k];
                for (int64_t c = 1; c < nchunk; c++) s += part[c * part_n + gw_n + k];
                gb[k] = s;
            }
        }
    }
    free(off); free(part); free(tbuf);
    return FC_OK;
}

#undef F
#undef CAT
#undef CAT_
