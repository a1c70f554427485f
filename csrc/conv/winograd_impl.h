/* Winograd F(MxM, 3x3) convolution for one dtype; included by conv_winograd.c with FC_T and
 * FC_DT defined.  See conv_winograd.c for the scheme. */
#define FC_CAT_(a, b) a##_##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FCN(name) FC_CAT(name, FC_DT)
#define FC_WT3_(a, b, c) a##_##b##_##c
#define FC_WT3(a, b, c) FC_WT3_(a, b, c)
#define FC_WIN_T FC_WT3(fc, FC_DT, wino_in)
#define FC_WOUT_T FC_WT3(fc, FC_DT, wino_out)
#define FC_WWT_T FC_WT3(fc, FC_DT, wino_wt)
#define FC_WGW_T FC_WT3(fc, FC_DT, wino_gw)

/* y (N, G*Cog, Ho, Wo) = conv3x3(x (N, G*Cig, Hi, Wi), U) + bias at stride 1 with top/left
 * padding pt, pl (negative: the window starts inside the image). */
static fc_status FCN(wino_run)(const wino_plan *p, const FC_T *x, const FC_T *w,
                               int64_t s_g, int64_t s_co, int64_t s_ci, int flip,
                               const FC_T *bias, FC_T *y)
{
    const fc_tier *tier = fc_tier_current();
    const FCN(fc_gemm_desc) *d = &tier->FCN(gemm);
    const int M = p->M, A = p->A, vi = M == 2 ? 0 : 1;
    const FC_WIN_T win = tier->FCN(wino).in[vi];
    const FC_WOUT_T wout = tier->FCN(wino).out[vi];
    const FC_WWT_T wwt = tier->FCN(wino).wt[vi];
    const int64_t A2 = (int64_t)A * A, MR = d->mr, NR = d->nr, KC = d->kc;
    const int64_t Cig = p->Cig, Cog = p->Cog, Tb = p->Tb, tw = p->tw, tpi = p->th * p->tw;
    const int64_t nblk = fc_ceil_div(p->T, Tb), items = p->G * nblk;
    const int64_t PS = NR * Cig + FC_WINO_NT_MAX, VS = (Tb / NR) * PS;   /* panel, plane */
    const int64_t v_len = A2 * VS, m_len = A2 * Cog * Tb + FC_WINO_NT_MAX;
    /* U[g][e]: the transformed filters in the GEMM's packed-A layout, Cog_pad / MR panels of
     * Cig x MR, each followed by slack for the filter kernel's whole-vector writes */
    const int64_t npan = p->Cog_pad / MR, PA = MR * Cig + FC_WINO_WT_NT, UP = npan * PA;
    const int nt = (int)fc_min64(p->threads, fc_max64(items, p->G * npan));
    if (MR > FC_WINO_WT_NT)
        return FC_ERR_NOTIMPL;
    FC_T *U = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(p->G * A2 * UP));
    FC_T *ws = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(nt * (v_len + m_len)));
    if (!U || !ws) {
        fc_free(U);
        fc_free(ws);
        return FC_ERR_NOMEM;
    }
FC_OMP_PARALLEL(nt)
    {
        FC_T *V = ws + (int64_t)fc_thread_id() * (v_len + m_len);
        FC_T *Mb = V + v_len;
        /* the last B panel's columns past tn are read (not used) by the GEMM, and wino_out
         * reads whole vectors of products: keep both finite (each thread its own slice) */
        memset(V, 0, sizeof(FC_T) * (size_t)(v_len + m_len));
        const FC_T *rows_in[6];
        FC_T *rows_out[4];
FC_OMP_LOOP
        for (int64_t gp = 0; gp < p->G * npan; gp++) {
            const int64_t g = gp / npan, co0 = (gp % npan) * MR;
            const FC_T *wg = w + g * s_g + co0 * s_co;
            FC_T *Up = U + g * A2 * UP + (gp % npan) * PA;
            for (int64_t ci = 0; ci < Cig; ci++)
                wwt(wg + ci * s_ci, s_co, fc_min64(MR, Cog - co0), flip, Up + ci * MR, UP);
        }
FC_OMP_LOOP_DYNAMIC
        for (int64_t it = 0; it < items; it++) {
            const int64_t g = it / nblk, t0 = (it % nblk) * Tb;
            const int64_t tn = fc_min64(Tb, p->T - t0);
            /* input transform, straight into the packed-B layout: V[e] is ceil(tn/NR)
             * panels of Cig x NR (each followed by FC_WINO_NT_MAX of slack for the kernel's
             * whole-vector writes), so a run of tiles inside one panel and one tile row is
             * one call per channel.  Channels outside, runs inside: a run's spill past its
             * end lands on tiles or channels written after it. */
            for (int64_t ci = 0; ci < Cig; ci++) {
                for (int64_t s = 0; s < tn;) {
                    const int64_t t = t0 + s, n = t / tpi, tr = (t % tpi) / tw, tc = t % tw;
                    const int64_t len = fc_min64(fc_min64(tw - tc, NR - s % NR), tn - s);
                    const FC_T *plane = x + ((n * p->G + g) * Cig + ci) * p->Hi * p->Wi;
                    for (int r = 0; r < A; r++) {
                        const int64_t ih = tr * M - p->pt + r;
                        rows_in[r] = ih >= 0 && ih < p->Hi ? plane + ih * p->Wi : NULL;
                    }
                    win(rows_in, tc * M - p->pl, p->Wi, len,
                        V + (s / NR) * PS + ci * NR + s % NR, VS);
                    s += len;
                }
            }
            /* the A*A products U[e] (Cog x Cig) V[e] (Cig x tn) into Mb[e] (Cog x Tb) */
            const FC_T *Ug = U + g * A2 * UP;
            for (int64_t e = 0; e < A2; e++) {
                const FC_T *Ue = Ug + e * UP, *Ve = V + e * VS;
                FC_T *Me = Mb + e * Cog * Tb;
                for (int64_t pc = 0; pc < Cig; pc += KC) {
                    const int64_t kc = fc_min64(KC, Cig - pc);
                    for (int64_t jr = 0; jr < tn; jr += NR)
                        for (int64_t ir = 0; ir < Cog; ir += MR)
                            d->ukr(kc, Ue + (ir / MR) * PA + pc * MR, Ve + (jr / NR) * PS + pc * NR,
                                   Me + ir * Tb + jr, Tb, fc_min64(MR, Cog - ir),
                                   fc_min64(NR, tn - jr), pc > 0);
                }
            }
            /* output transform and bias, into y */
            for (int64_t s = 0; s < tn;) {
                const int64_t t = t0 + s, n = t / tpi, tr = (t % tpi) / tw, tc = t % tw;
                const int64_t len = fc_min64(fc_min64(tw - tc, FC_WINO_NT_MAX), tn - s);
                for (int64_t co = 0; co < Cog; co++) {
                    FC_T *plane = y + ((n * p->G + g) * Cog + co) * p->Ho * p->Wo;
                    for (int i = 0; i < M; i++) {
                        const int64_t oh = tr * M + i;
                        rows_out[i] = oh < p->Ho ? plane + oh * p->Wo : NULL;
                    }
                    wout(Mb + co * Tb + s, Cog * Tb, len, bias ? bias[g * Cog + co] : (FC_T)0,
                         rows_out, tc * M, p->Wo);
                }
                s += len;
            }
        }
    }
    fc_free(ws);
    fc_free(U);
    return FC_OK;
}

/*
 * The same products for deep layers with few tiles (wino_plan.deep; conv_winograd.c says
 * when).  U[g] is larger than L2 there, and the tile schedule above streams all of it once
 * per block of Tb tiles.  Here the input transform of all tiles comes first, shared (V[g],
 * all T tiles as NR-column panels), and a work item is (group, block of Tb tiles, range of
 * output-channel panels): it streams only its rows of U, once per tile block, and V once.
 * Every output element gets the same operations in the same order as in the tile schedule
 * (the same runs of channels per micro-kernel call, the same transforms), so the two agree
 * bit for bit.
 */
static fc_status FCN(wino_run_deep)(const wino_plan *p, const FC_T *x, const FC_T *w,
                                    int64_t s_g, int64_t s_co, int64_t s_ci, int flip,
                                    const FC_T *bias, FC_T *y)
{
    const fc_tier *tier = fc_tier_current();
    const FCN(fc_gemm_desc) *d = &tier->FCN(gemm);
    const int M = p->M, A = p->A, vi = M == 2 ? 0 : 1;
    const FC_WIN_T win = tier->FCN(wino).in[vi];
    const FC_WOUT_T wout = tier->FCN(wino).out[vi];
    const FC_WWT_T wwt = tier->FCN(wino).wt[vi];
    const int64_t A2 = (int64_t)A * A, MR = d->mr, NR = d->nr, KC = d->kc;
    const int64_t G = p->G, Cig = p->Cig, Cog = p->Cog, T = p->T, tw = p->tw, tpi = p->th * p->tw;
    const int64_t Tb = p->Tb, Tp = fc_round_up(T, NR), nblk = fc_ceil_div(T, Tb);
    const int64_t PS = NR * Cig + FC_WINO_NT_MAX, VS = (Tp / NR) * PS;   /* panel, plane */
    const int64_t npan = p->Cog_pad / MR, PA = MR * Cig + FC_WINO_WT_NT, UP = npan * PA;
    const int64_t pr = p->co_panels, nco = fc_ceil_div(npan, pr), items = G * nblk * nco;
    /* With one block of tiles each filter panel serves one item: the item transforms it
     * itself, a panel at a time into its own A*A x PA buffer, which stays in L2, instead of
     * all filters going through a shared U first (at 512 channels U is 16 MiB, written and
     * read back from beyond L2: a fifth of the layer's time) */
    const int own_u = nblk == 1;
    const int64_t QB = fc_max64(1, fc_min64(pr, p->u_panels));
    const int64_t u_len = own_u ? QB * A2 * PA : 0;
    const int64_t m_len = A2 * pr * MR * Tb + FC_WINO_NT_MAX, sc_len = A2 * FC_WINO_NT_MAX;
    const int nt = (int)fc_min64(p->threads, fc_max64(items, G * npan));
    if (MR > FC_WINO_WT_NT)
        return FC_ERR_NOTIMPL;
    FC_T *U = own_u ? NULL : (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(G * A2 * UP));
    FC_T *V = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(G * A2 * VS));
    FC_T *ws = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(nt * (m_len + sc_len + u_len)));
    if ((!U && !own_u) || !V || !ws) {
        fc_free(U);
        fc_free(V);
        fc_free(ws);
        return FC_ERR_NOMEM;
    }
FC_OMP_PARALLEL(nt)
    {
        FC_T *Mb = ws + (int64_t)fc_thread_id() * (m_len + sc_len + u_len), *sc = Mb + m_len;
        FC_T *Ul = sc + sc_len;
        memset(Mb, 0, sizeof(FC_T) * (size_t)(m_len + sc_len));
        const FC_T *rows_in[6];
        FC_T *rows_out[4];
FC_OMP_LOOP_NOWAIT
        for (int64_t gp = 0; gp < (own_u ? 0 : G * npan); gp++) {
            const int64_t g = gp / npan, co0 = (gp % npan) * MR;
            const FC_T *wg = w + g * s_g + co0 * s_co;
            FC_T *Up = U + g * A2 * UP + (gp % npan) * PA;
            for (int64_t ci = 0; ci < Cig; ci++)
                wwt(wg + ci * s_ci, s_co, fc_min64(MR, Cog - co0), flip, Up + ci * MR, UP);
        }
        /* V[g][e]: channel rows of every tile panel, one channel per iteration.  A run whose
         * whole-vector spill would cross its panel row (into the next channel's, which
         * another thread may own) goes through sc; the last panel's columns past T are
         * zeroed after the runs (the GEMM reads them). */
FC_OMP_LOOP
        for (int64_t gc = 0; gc < G * Cig; gc++) {
            const int64_t g = gc / Cig, ci = gc % Cig;
            FC_T *Vc = V + g * A2 * VS + ci * NR;
            for (int64_t s = 0; s < T;) {
                const int64_t n = s / tpi, tr = (s % tpi) / tw, tc = s % tw;
                const int64_t len = fc_min64(fc_min64(tw - tc, NR - s % NR), T - s);
                const FC_T *plane = x + ((n * G + g) * Cig + ci) * p->Hi * p->Wi;
                for (int r = 0; r < A; r++) {
                    const int64_t ih = tr * M - p->pt + r;
                    rows_in[r] = ih >= 0 && ih < p->Hi ? plane + ih * p->Wi : NULL;
                }
                FC_T *dst = Vc + (s / NR) * PS + s % NR;
                if (s % NR + fc_wino_span(len) <= NR) {
                    win(rows_in, tc * M - p->pl, p->Wi, len, dst, VS);
                } else {
                    win(rows_in, tc * M - p->pl, p->Wi, len, sc, FC_WINO_NT_MAX);
                    for (int64_t e = 0; e < A2; e++)
                        memcpy(dst + e * VS, sc + e * FC_WINO_NT_MAX, sizeof(FC_T) * (size_t)len);
                }
                s += len;
            }
            if (T < Tp)
                for (int64_t e = 0; e < A2; e++)
                    memset(Vc + e * VS + (Tp / NR - 1) * PS + T % NR, 0,
                           sizeof(FC_T) * (size_t)(Tp - T));
        }
        /* (the loop's barrier: U and V are complete) */
FC_OMP_LOOP_DYNAMIC
        for (int64_t it = 0; it < items; it++) {
            const int64_t g = it / (nblk * nco), t0 = (it / nco) % nblk * Tb;
            const int64_t q0 = it % nco * pr, q1 = fc_min64(npan, q0 + pr);
            const int64_t tn = fc_min64(Tb, T - t0), c0 = q0 * MR, c1 = fc_min64(Cog, q1 * MR);
            const int64_t cr = (q1 - q0) * MR;   /* rows of Mb per e */
            const FC_T *Vg = V + g * A2 * VS + (t0 / NR) * PS;
            /* each output's products in the same order either way: per (e, panel, column
             * block) the runs of channels pc in turn */
            if (own_u) {
                /* QB panels' filters at a time, so that each V panel fetched into L1 serves
                 * QB of them (V is read from L3 once per group of panels) */
                for (int64_t qb = q0; qb < q1; qb += QB) {
                    const int64_t qe = fc_min64(q1, qb + QB);
                    for (int64_t q = qb; q < qe; q++) {
                        const FC_T *wg = w + g * s_g + q * MR * s_co;
                        FC_T *Uq = Ul + (q - qb) * A2 * PA;
                        for (int64_t ci = 0; ci < Cig; ci++)
                            wwt(wg + ci * s_ci, s_co, fc_min64(MR, Cog - q * MR), flip,
                                Uq + ci * MR, PA);
                    }
                    for (int64_t e = 0; e < A2; e++) {
                        const FC_T *Ve = Vg + e * VS;
                        FC_T *Me = Mb + e * cr * Tb;
                        for (int64_t pc = 0; pc < Cig; pc += KC) {
                            const int64_t kc = fc_min64(KC, Cig - pc);
                            for (int64_t jr = 0; jr < tn; jr += NR)
                                for (int64_t q = qb; q < qe; q++)
                                    d->ukr(kc, Ul + (q - qb) * A2 * PA + e * PA + pc * MR,
                                           Ve + (jr / NR) * PS + pc * NR,
                                           Me + (q - q0) * MR * Tb + jr, Tb,
                                           fc_min64(MR, Cog - q * MR), fc_min64(NR, tn - jr),
                                           pc > 0);
                        }
                    }
                }
            }
            const FC_T *Ug = own_u ? NULL : U + g * A2 * UP;
            for (int64_t e = 0; e < (own_u ? 0 : A2); e++) {
                const FC_T *Ue = Ug + e * UP, *Ve = Vg + e * VS;
                FC_T *Me = Mb + e * cr * Tb;
                for (int64_t pc = 0; pc < Cig; pc += KC) {
                    const int64_t kc = fc_min64(KC, Cig - pc);
                    for (int64_t jr = 0; jr < tn; jr += NR)
                        for (int64_t q = q0; q < q1; q++)
                            d->ukr(kc, Ue + q * PA + pc * MR, Ve + (jr / NR) * PS + pc * NR,
                                   Me + (q - q0) * MR * Tb + jr, Tb,
                                   fc_min64(MR, Cog - q * MR), fc_min64(NR, tn - jr), pc > 0);
                }
            }
            for (int64_t s = 0; s < tn;) {
                const int64_t t = t0 + s, n = t / tpi, tr = (t % tpi) / tw, tc = t % tw;
                const int64_t len = fc_min64(fc_min64(tw - tc, FC_WINO_NT_MAX), tn - s);
                for (int64_t co = c0; co < c1; co++) {
                    FC_T *plane = y + ((n * G + g) * Cog + co) * p->Ho * p->Wo;
                    for (int i = 0; i < M; i++) {
                        const int64_t oh = tr * M + i;
                        rows_out[i] = oh < p->Ho ? plane + oh * p->Wo : NULL;
                    }
                    wout(Mb + (co - c0) * Tb + s, cr * Tb, len, bias ? bias[g * Cog + co] : (FC_T)0,
                         rows_out, tc * M, p->Wo);
                }
                s += len;
            }
        }
    }
    fc_free(ws);
    fc_free(V);
    fc_free(U);
    return FC_OK;
}

static fc_status FCN(wino_conv)(wino_plan *p, const FC_T *x, const FC_T *w, int64_t s_g,
                                int64_t s_co, int64_t s_ci, int flip, const FC_T *bias, FC_T *y)
{
    const fc_tier *tier = fc_tier_current();
    wino_plan_finish(p, tier->FCN(gemm).mr, tier->FCN(gemm).nr, (int64_t)sizeof(FC_T),
                     tier->l2_bytes);
    if (p->T == 0 || p->Cog == 0)
        return FC_OK;
    if (p->deep)
        return FCN(wino_run_deep)(p, x, w, s_g, s_co, s_ci, flip, bias, y);
    return FCN(wino_run)(p, x, w, s_g, s_co, s_ci, flip, bias, y);
}

fc_status FCN(fc_conv2d_fwd_winograd)(const fc_conv_geom *g, int tile, const FC_T *x,
                                      const FC_T *w, const FC_T *bias, FC_T *y)
{
    wino_plan p;
    if (wino_plan_init(&p, g, tile, 0))
        return FC_ERR_ARG;
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;
    return FCN(wino_conv)(&p, x, w, Cog * Cig * 9, Cig * 9, 9, 0, bias, y);
}

/* gx = the full correlation of gy with the flipped filters: input channel ci of group g
 * gathers from output channel co through w[g*Cog + co][ci] turned by 180 degrees, with
 * padding 2 - p (a window that starts inside gy where p > 2). */
fc_status FCN(fc_conv2d_bwd_data_winograd)(const fc_conv_geom *g, int tile, const FC_T *gy,
                                           const FC_T *w, FC_T *gx)
{
    wino_plan p;
    if (wino_plan_init(&p, g, tile, 1))
        return FC_ERR_ARG;
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;
    return FCN(wino_conv)(&p, gy, w, Cog * Cig * 9, 9, Cig * 9, 1, NULL, gx);
}

/* One channel's tiles t0 .. t0+tn of a chunk through the input (gy = 0) or grad_output
 * (gy = 1) transform: dst[e * es + s] for tile t0 + s. */
static void FCN(wino_chunk_channel)(const wino_plan *p, FC_WIN_T tf, int gy,
                                    const FC_T *plane, int64_t t0, int64_t tn, FC_T *dst,
                                    int64_t es)
{
    const int64_t tw = p->tw, tpi = p->th * p->tw;
    const FC_T *rows[6];
    for (int64_t s = 0; s < tn;) {
        const int64_t t = t0 + s, n = t / tpi, tr = (t % tpi) / tw, tc = t % tw;
        const int64_t len = fc_min64(fc_min64(tw - tc, FC_WINO_NT_MAX), tn - s);
        if (gy) {
            const FC_T *pl = plane + n * p->G * p->Cog * p->Ho * p->Wo;
            for (int i = 0; i < p->M; i++) {
                const int64_t oh = tr * p->M + i;
                rows[i] = oh < p->Ho ? pl + oh * p->Wo : NULL;
            }
            tf(rows, tc * p->M, p->Wo, len, dst + s, es);
        } else {
            const FC_T *pl = plane + n * p->G * p->Cig * p->Hi * p->Wi;
            for (int r = 0; r < p->A; r++) {
                const int64_t ih = tr * p->M - p->pt + r;
                rows[r] = ih >= 0 && ih < p->Hi ? pl + ih * p->Wi : NULL;
            }
            tf(rows, tc * p->M - p->pl, p->Wi, len, dst + s, es);
        }
        s += len;
    }
}

/*
 * Backward-weight (gw only; the dispatcher takes grad_bias elsewhere).  With Y = A^T (U . V) A
 * the forward tile, <gy, Y> = <Gy . V, U> for Gy = A gy A^T, so
 *     gw = G^T (sum over tiles of Gy . V) G,
 * V the forward's input transform of the same patches.  The sum over tiles is A*A GEMMs
 * (Cog x tiles) (tiles x Cig) per chunk of Tc tiles; Tc does not depend on the thread count
 * and the chunks' partial sums are added in chunk order, so neither does the result.
 */
fc_status FCN(fc_conv2d_bwd_weight_winograd)(const fc_conv_geom *g, int tile, const FC_T *gy,
                                             const FC_T *x, FC_T *gw)
{
    wino_plan pl;
    if (wino_plan_init(&pl, g, tile, 0))
        return FC_ERR_ARG;
    const wino_plan *p = &pl;
    const fc_tier *tier = fc_tier_current();
    const int M = p->M, A = p->A, vi = M == 2 ? 0 : 1;
    const FC_WIN_T win = tier->FCN(wino).in[vi];
    const FC_WIN_T wgy = tier->FCN(wino).gy[vi];
    const FC_WGW_T wgw = tier->FCN(wino).gw[vi];
    const int64_t A2 = (int64_t)A * A, G = p->G, Cig = p->Cig, Cog = p->Cog, T = p->T;
    /* a chunk's partial sums P[co][e][ci], so that the final transform of an output channel
     * reads one run of memory; rows (and below, transform planes) are offset by 64 bytes past
     * their size: at 512 channels they would be a power of two apart, and the passes that
     * touch all A*A of them at once would miss on one cache set */
    const int64_t PE = Cig + 16, LD = A2 * PE, per = Cog * LD;
    if (T == 0) {
        memset(gw, 0, sizeof(FC_T) * (size_t)(G * Cog * Cig * 9));
        return FC_OK;
    }
    /* chunks of at least 256 tiles, fewer when their partial sums would pass 64 MiB */
    int64_t Tc = 256;
    while (Tc < T && fc_ceil_div(T, Tc) * G * per * (int64_t)sizeof(FC_T) > ((int64_t)64 << 20))
        Tc *= 2;
    Tc = fc_min64(Tc, T);
    const int64_t nch = fc_ceil_div(T, Tc), nck = G * nch;
    const int64_t RS = Tc + FC_WINO_NT_MAX;   /* a row of tiles and the kernels' spill */
    const int64_t VE = Cig * RS + 16, GE = Cog * RS + 16;
    const int64_t CS = A2 * (VE + GE);        /* one chunk's transforms: V, then Gy */
    const double flops = 2.0 * 9 * (double)G * Cig * Cog * p->N * p->Ho * p->Wo;
    int nt = fc_threads_for(flops, tier->par_min_im2col_flops);
    /* With fewer chunks than two per thread (deep layers: 8x512x7x7 is one chunk) every
     * chunk is transformed first, channel by channel, into one shared buffer, and the work
     * items are then (chunk, range of the A*A products).  Each product is still computed
     * whole by one item, so the bits do not depend on the split. */
    const int64_t ne = nck >= 2 * nt ? 1 : fc_min64(A2, fc_ceil_div(2 * nt, nck));
    const int shared = ne > 1;
    const int64_t items = nck * ne;
    nt = (int)fc_max64(1, fc_min64(nt, shared ? fc_max64(items, nck * (Cig + Cog)) : items));
    FC_T *P = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(nck * per));
    FC_T *ws = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)((shared ? nck : nt) * CS));
    if (!P || !ws) {
        fc_free(P);
        fc_free(ws);
        return FC_ERR_NOMEM;
    }
    int failed = 0;
FC_OMP_PARALLEL(nt)
    {
        if (shared) {
FC_OMP_LOOP_DYNAMIC
            for (int64_t r = 0; r < nck * (Cig + Cog); r++) {
                const int64_t it = r / (Cig + Cog), ch = r % (Cig + Cog), gr = it / nch;
                const int64_t t0 = (it % nch) * Tc, tn = fc_min64(Tc, T - t0);
                FC_T *V = ws + it * CS;
                if (ch < Cig)
                    FCN(wino_chunk_channel)(p, win, 0, x + (gr * Cig + ch) * p->Hi * p->Wi,
                                            t0, tn, V + ch * RS, VE);
                else
                    FCN(wino_chunk_channel)(p, wgy, 1,
                                            gy + (gr * Cog + ch - Cig) * p->Ho * p->Wo, t0, tn,
                                            V + A2 * VE + (ch - Cig) * RS, GE);
            }
        }
FC_OMP_LOOP_DYNAMIC
        for (int64_t item = 0; item < items; item++) {
            const int64_t it = item / ne, er = item % ne;
            const int64_t e0 = er * A2 / ne, e1 = (er + 1) * A2 / ne;
            const int64_t gr = it / nch, t0 = (it % nch) * Tc, tn = fc_min64(Tc, T - t0);
            FC_T *V = shared ? ws + it * CS : ws + (int64_t)fc_thread_id() * CS;
            FC_T *Gy = V + A2 * VE;
            if (!shared) {
                for (int64_t ci = 0; ci < Cig; ci++)
                    FCN(wino_chunk_channel)(p, win, 0, x + (gr * Cig + ci) * p->Hi * p->Wi,
                                            t0, tn, V + ci * RS, VE);
                for (int64_t co = 0; co < Cog; co++)
                    FCN(wino_chunk_channel)(p, wgy, 1, gy + (gr * Cog + co) * p->Ho * p->Wo,
                                            t0, tn, Gy + co * RS, GE);
            }
            for (int64_t e = e0; e < e1; e++)
                if (FCN(fc_gemm)(Cog, Cig, tn, Gy + e * GE, RS, 1, V + e * VE, 1, RS,
                                 P + it * per + e * PE, LD, 0) != FC_OK)
FC_OMP_ATOMIC_WRITE
                    failed = 1;
        }
        /* (the loop's barrier) the chunks' partial sums into the first, in chunk order */
        if (nch > 1) {
            const int64_t nrb = fc_ceil_div(per, 1024);
FC_OMP_LOOP
            for (int64_t gr_r = 0; gr_r < G * nrb; gr_r++) {
                const int64_t gr = gr_r / nrb, r0 = gr_r % nrb * 1024;
                const int64_t r1 = fc_min64(per, r0 + 1024);
                FC_T *dst = P + gr * nch * per;
                for (int64_t c = 1; c < nch; c++) {
                    const FC_T *src = dst + c * per;
                    for (int64_t r = r0; r < r1; r++)
                        dst[r] += src[r];
                }
            }
        }
        /* gw = G^T S G, FC_WINO_WT_NT input channels of one output channel per call */
        const int64_t NW = FC_WINO_WT_NT, ncb = fc_ceil_div(Cig, NW);
FC_OMP_LOOP
        for (int64_t b = 0; b < G * Cog * ncb; b++) {
            const int64_t gc = b / ncb, gr = gc / Cog, co = gc % Cog, ci0 = b % ncb * NW;
            const FC_T *S = P + gr * nch * per + co * LD + ci0;
#ifdef __GNUC__
            /* a later block's line of each of the A*A planes: the loop is bound by their
             * latency otherwise (P is larger than L2 on deep layers) */
            for (int64_t e = 0; e < A2; e++)
                __builtin_prefetch(S + e * PE + 4 * NW);
#endif
            wgw(S, PE, fc_min64(NW, Cig - ci0), gw + (gc * Cig + ci0) * 9);
        }
    }
    fc_free(ws);
    fc_free(P);
    return failed ? FC_ERR_NOMEM : FC_OK;
}

#undef FCN
#undef FC_WT3_
#undef FC_WT3
#undef FC_WIN_T
#undef FC_WOUT_T
#undef FC_WWT_T
#undef FC_WGW_T
#undef FC_CAT
#undef FC_CAT_
