/*
 * im2col + GEMM conv2d for one dtype; included by csrc/conv/conv_im2col.c with FC_T and
 * FC_DT defined.
 *
 * The column matrix col[K x HWo] of one image and group (row k = (c, kh, kw), column =
 * output pixel) is never materialised: the packers read it straight from the input, one
 * (k, run of pixels) row at a time, into the GEMM's packed panels.  A row index k == K
 * stands for a row of ones: appended to col (and the bias appended to the weights as one
 * more column) it fuses the bias into the forward GEMM, and appended to col^T it makes the
 * backward-weight GEMM produce grad_bias as one extra column of grad_weight.
 *
 *   forward:     Y_g[Cgo x HWo]   = [W_g | b] [K+1 x ...] * [col; 1]
 *   bwd data:    gcol[K x HWo]    = W_g^T * gY_g, then col2im (scatter-add) into gX
 *   bwd weight:  [gW_g | gb][Cgo x K+1] = sum_n gY_g * [col; 1]^T
 */
#define FC_CAT_(a, b) a##_##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FCN(name) FC_CAT(name, FC_DT)
#define DESC FCN(fc_gemm_desc)

/* dst[i*ds] = col[k][p0 + i] for 0 <= i < len (pixels may span several output rows). */
static void FCN(im2col_row)(const im2col_ctx *cx, const FC_T *xg, int64_t k, int64_t p0,
                            int64_t len, FC_T *dst, int64_t ds)
{
    const fc_conv_geom *g = cx->g;
    if (k >= cx->K) {
        for (int64_t i = 0; i < len; i++)
            dst[i * ds] = 1;
        return;
    }
    const int64_t c = k / cx->KK, r = k - c * cx->KK, kh = r / g->kW, kw = r - kh * g->kW;
    const FC_T *xc = xg + c * cx->HW;
    const int64_t Wo = g->W_out, sW = g->sW;
    const int64_t olo = cx->ow_lo[kw], ohi = cx->ow_hi[kw];
    const int64_t hlo = cx->oh_lo[kh], hhi = cx->oh_hi[kh];
    const int64_t iw_off = kw * g->dW - g->pW, ih_off = kh * g->dH - g->pH;
    int64_t oh = p0 / Wo, ow = p0 - oh * Wo;
    for (int64_t i = 0; i < len; oh++, ow = 0) {
        const int64_t seg = fc_min64(len - i, Wo - ow);
        FC_T *o = dst + i * ds;
        i += seg;
        int64_t s = 0;
        if (oh >= hlo && oh < hhi) {
            /* xc[base + o*sW] is the tap of output column o on this row */
            const int64_t base = (oh * g->sH + ih_off) * g->W + iw_off;
            const int64_t lo = fc_min64(fc_max64(olo, ow), ow + seg) - ow;
            const int64_t hi = fc_min64(fc_max64(ohi, ow + lo), ow + seg) - ow;
            for (; s < lo; s++)
                o[s * ds] = 0;
            const FC_T *src = xc + base + ow * sW;
            if (ds == 1 && sW == 1)
                for (; s < hi; s++)
                    o[s] = src[s];
            else if (ds == 1 && sW == 2)   /* a constant stride vectorises (deinterleave) */
                for (; s < hi; s++)
                    o[s] = src[2 * s];
            else
                for (; s < hi; s++)
                    o[s * ds] = src[s * sW];
        }
        for (; s < seg; s++)
            o[s * ds] = 0;
    }
}

/* The adjoint of im2col_row (ds == 1): gxg[tap of (k, p0 + i)] += src[i], skipping taps
 * outside the image. */
static void FCN(col2im_row)(const im2col_ctx *cx, FC_T *gxg, int64_t k, int64_t p0,
                            int64_t len, const FC_T *src)
{
    const fc_conv_geom *g = cx->g;
    const int64_t c = k / cx->KK, r = k - c * cx->KK, kh = r / g->kW, kw = r - kh * g->kW;
    FC_T *gc = gxg + c * cx->HW;
    const int64_t Wo = g->W_out, sW = g->sW;
    const int64_t olo = cx->ow_lo[kw], ohi = cx->ow_hi[kw];
    const int64_t hlo = cx->oh_lo[kh], hhi = cx->oh_hi[kh];
    const int64_t iw_off = kw * g->dW - g->pW, ih_off = kh * g->dH - g->pH;
    int64_t oh = p0 / Wo, ow = p0 - oh * Wo;
    for (int64_t i = 0; i < len; oh++, ow = 0) {
        const int64_t seg = fc_min64(len - i, Wo - ow);
        const FC_T *in = src + i;
        i += seg;
        if (oh < hlo || oh >= hhi)
            continue;
        const int64_t base = (oh * g->sH + ih_off) * g->W + iw_off;
        const int64_t lo = fc_min64(fc_max64(olo, ow), ow + seg) - ow;
        const int64_t hi = fc_min64(fc_max64(ohi, ow + lo), ow + seg) - ow;
        FC_T *out = gc + base + ow * sW;
        if (sW == 1)
            for (int64_t s = lo; s < hi; s++)
                out[s] += in[s];
        else
            for (int64_t s = lo; s < hi; s++)
                out[s * sW] += in[s];
    }
}

/* ------------------------------------------------------------------ forward ---- */

/* Packs [W_g | bias_g] (Cgo x Kb, Kb = K or K+1) as GEMM A blocks: K-block pc of group g
 * at g*Mp*Kb + Mp*pc, its row panel ir at + ir*kc. */
static void FCN(pack_w_fwd)(const DESC *d, const im2col_ctx *cx, const FC_T *w,
                            const FC_T *bias, int64_t gi, int64_t pc, int64_t kc, FC_T *dst)
{
    const int64_t MR = d->mr, M = cx->Cgo, K = cx->K, kw = fc_min64(kc, K - pc);
    const FC_T *wg = w + gi * M * K + pc;
    if (kw == kc) {   /* the rows of W are contiguous: the tier's transposing packer */
        FCN(fc_gemm_pack_a)(d, M, kc, wg, K, 1, dst);
        return;
    }
    for (int64_t i0 = 0; i0 < M; i0 += MR, dst += MR * kc) {   /* the block with the bias */
        const int64_t mv = fc_min64(MR, M - i0);
        FCN(fc_gemm_pack_a)(d, mv, kw, wg + i0 * K, K, 1, dst);
        for (int64_t i = 0; i < MR; i++)
            dst[kw * MR + i] = i < mv ? bias[gi * M + i0 + i] : 0;
    }
}

/* When col row k over pixels [p0, p0 + len) is a run of consecutive input elements apart
 * from zeros at its two ends (stride 1 along W, and the block either within one output row
 * or a kernel pointwise in W over whole rows: 1x1 at stride 1, 1-D, (k, 1) and temporal
 * kernels): sets
 * [*lo, *hi) to the pixels (relative to p0) whose tap is inside the image and returns the
 * tap of pixel p0 + *lo (NULL when *lo == *hi); otherwise returns NULL with *lo > *hi. */
static const FC_T *FCN(col_span)(const im2col_ctx *cx, const FC_T *xg, int64_t k, int64_t p0,
                                 int64_t len, int64_t *lo, int64_t *hi)
{
    const fc_conv_geom *g = cx->g;
    *lo = 1;
    *hi = 0;
    if (k >= cx->K || g->sW != 1 || len <= 0)
        return NULL;
    const int64_t c = k / cx->KK, r = k - c * cx->KK, kh = r / g->kW, kw = r - kh * g->kW;
    const int64_t Wo = g->W_out, olo = cx->ow_lo[kw], ohi = cx->ow_hi[kw];
    const int64_t hlo = cx->oh_lo[kh], hhi = cx->oh_hi[kh];
    const int64_t iw_off = kw * g->dW - g->pW, ih_off = kh * g->dH - g->pH;
    const int64_t oh = p0 / Wo, ow = p0 - oh * Wo;
    const FC_T *xc = xg + c * cx->HW;
    if (ow + len <= Wo) {   /* one output row */
        int64_t a = 0, b = 0;
        if (oh >= hlo && oh < hhi) {
            a = fc_min64(fc_max64(olo - ow, 0), len);
            b = fc_max64(fc_min64(ohi - ow, len), a);
        }
        *lo = a;
        *hi = b;
        return a < b ? xc + (oh * g->sH + ih_off) * g->W + iw_off + ow + a : NULL;
    }
    /* whole rows: pixel p's tap is x[p + ih_off * W] for rows oh in [hlo, hhi) */
    if (g->sH != 1 || g->W != Wo || olo != 0 || ohi != Wo)
        return NULL;
    const int64_t a = fc_min64(fc_max64(hlo * Wo - p0, 0), len);
    const int64_t b = fc_max64(fc_min64(hhi * Wo - p0, len), a);
    *lo = a;
    *hi = b;
    return a < b ? xc + p0 + a + ih_off * g->W : NULL;
}

/* Cuts one B row of nc pixels into the NR-column panels at o (panel stride kc*NR): pixel j
 * is src[j - lo] for j in [lo, hi), zero elsewhere (and beyond nc). */
static void FCN(put_row)(int64_t NR, int64_t kc, const FC_T *src, int64_t lo, int64_t hi,
                         int64_t nc, FC_T *o)
{
    for (int64_t j0 = 0; j0 < nc; j0 += NR, o += kc * NR) {
        if (j0 >= lo && j0 + NR <= hi) {
            const FC_T *s = src + (j0 - lo);
            /* fixed-size copies the compiler turns into vector moves */
            if (NR == 32)
                for (int j = 0; j < 32; j++)
                    o[j] = s[j];
            else if (NR == 16)
                for (int j = 0; j < 16; j++)
                    o[j] = s[j];
            else if (NR == 8)
                for (int j = 0; j < 8; j++)
                    o[j] = s[j];
            else
                memcpy(o, s, sizeof(FC_T) * (size_t)NR);
        } else {
            for (int64_t j = 0; j < NR; j++) {
                const int64_t jj = j0 + j;
                o[j] = jj >= lo && jj < hi ? src[jj - lo] : 0;
            }
        }
    }
}

/* B block for forward: col rows [pc, pc+kc) x pixels [jc, jc+nc) as NR-column panels.
 * A row that is a run of x (col_span) is cut into the panels straight from x; any other row is
 * gathered once for all nc pixels into tmp (nc values) first. */
/* Rows [r0, r1) of that block only (the panels keep the block's stride kc*NR). */
static void FCN(pack_col_rows)(const DESC *d, const im2col_ctx *cx, const FC_T *xg, int64_t pc,
                               int64_t kc, int64_t r0, int64_t r1, int64_t jc, int64_t nc,
                               FC_T *dst, FC_T *tmp)
{
    const int64_t NR = d->nr;
    for (int64_t p = r0; p < r1; p++) {
        const int64_t k = pc + p;
        int64_t lo, hi;
        const FC_T *src = FCN(col_span)(cx, xg, k, jc, nc, &lo, &hi);
        if (lo > hi) {
            FCN(im2col_row)(cx, xg, k, jc, nc, tmp, 1);
            src = tmp;
            lo = 0;
            hi = nc;
        }
        FCN(put_row)(NR, kc, src, lo, hi, nc, dst + p * NR);
    }
}

static void FCN(pack_col)(const DESC *d, const im2col_ctx *cx, const FC_T *xg, int64_t pc,
                          int64_t kc, int64_t jc, int64_t nc, FC_T *dst, FC_T *tmp)
{
    FCN(pack_col_rows)(d, cx, xg, pc, kc, 0, kc, jc, nc, dst, tmp);
}

/* pack_col over a run [q0, q0 + nc) of the flat pixel index q = n*HWo + p of all images
 * (columns crossing from one image into the next): each row is gathered into tmp per image
 * segment, then cut into the panels. */
static void FCN(pack_col_flat)(const DESC *d, const im2col_ctx *cx, const FC_T *xg0,
                               int64_t xs, int64_t pc, int64_t kc, int64_t r0, int64_t r1,
                               int64_t q0, int64_t nc, FC_T *dst, FC_T *tmp)
{
    const int64_t HWo = cx->HWo;
    for (int64_t p = r0; p < r1; p++) {
        for (int64_t q = q0; q < q0 + nc;) {
            const int64_t n = q / HWo, pa = q - n * HWo, len = fc_min64(HWo - pa, q0 + nc - q);
            FCN(im2col_row)(cx, xg0 + n * xs, pc + p, pa, len, tmp + (q - q0), 1);
            q += len;
        }
        FCN(put_row)(d->nr, kc, tmp, 0, nc, nc, dst + p * d->nr);
    }
}

/* B panel for backward-weight: col^T, pixels [pc, pc+kc) x col rows [k0, k0+nv), i.e.
 * nv col rows (zero rows beyond nv) transposed by the ISA's packt kernel.  tmp holds
 * NR + 1 rows of kc values (the last one zeros), rows NR pointers. */
static void FCN(pack_colT)(const DESC *d, const im2col_ctx *cx, const FC_T *xg, int64_t k0,
                           int64_t nv, int64_t pc, int64_t kc, FC_T *dst, FC_T *tmp,
                           const FC_T **rows)
{
    const int64_t NR = d->nr;
    FC_T *zero = tmp + NR * kc;
    const FC_T *src;
    int64_t lo, hi;
    for (int64_t j = 0; j < NR; j++) {
        const int64_t k = k0 + j;
        if (j >= nv) {
            for (int64_t p = 0; p < kc; p++)
                zero[p] = 0;
            rows[j] = zero;
        } else if ((src = FCN(col_span)(cx, xg, k, pc, kc, &lo, &hi)) && lo == 0 && hi == kc) {
            rows[j] = src;
        } else {
            FCN(im2col_row)(cx, xg, k, pc, kc, tmp + j * kc, 1);
            rows[j] = tmp + j * kc;
        }
    }
    d->packt(kc, rows, dst);
}

/* Output channel co's products over the flat pixels [q0, q0 + n) (q = image*HWo + pixel)
 * into the images of y. */
static void FCN(put_flat_row)(const fc_conv_geom *g, int64_t HWo, int64_t co, int64_t q0,
                              int64_t n, const FC_T *src, FC_T *y)
{
    for (int64_t q = q0; q < q0 + n;) {
        const int64_t ni = q / HWo, pa = q - ni * HWo, len = fc_min64(HWo - pa, q0 + n - q);
        memcpy(y + (ni * g->C_out + co) * HWo + pa, src + (q - q0), sizeof(FC_T) * (size_t)len);
        q += len;
    }
}

/* Forward for few, large GEMMs (deep layers on small images, strided layers): blocks of
 * pixels per thread would leave each block only a few NR panels to reuse every A panel on,
 * so all of A would stream from L3 once per block.  Here the threads pack one B (all K+1
 * rows x up to ncs pixels) together, then split the GEMM over row blocks of MC output
 * channels and runs of panels, so A is read once per super-block.  The same products and
 * sums, in the same order, as the per-thread path. */
static fc_status FCN(fwd_im2col_shared)(const fc_conv_geom *g, const FC_T *x, const FC_T *w,
                                        const FC_T *bias, FC_T *y, int nt, int flat)
{
    const DESC *d = FCN(fc_gemm_select)();
    const int64_t MR = d->mr, NR = d->nr, MC = d->mc;
    im2col_ctx cx;
    if (ctx_init(&cx, g))
        return FC_ERR_NOMEM;
    const int64_t G = g->groups, M = cx.Cgo, K = cx.K, HWo = cx.HWo, N = g->N;
    const int64_t Kb = K + (bias != NULL), Mp = fc_round_up(M, MR);
    const int64_t KC = fc_balanced_block(Kb, d->kc), nkb = fc_ceil_div(Kb, KC);
    const int64_t P = flat ? N * HWo : HWo, NI = flat ? 1 : N;
    /* super-blocks of pixels: the shared B at most 2M values (8 MiB in float32) */
    const int64_t npan_all = fc_ceil_div(P, NR);
    const int64_t spb = fc_balanced_block(npan_all, fc_max64(1, ((int64_t)2 << 20) / Kb / NR));
    const int64_t ncs = spb * NR, nsup = fc_ceil_div(P, ncs);
    /* GEMM tasks: MC-row blocks x panel runs, at least 2 per thread */
    const int64_t nmb = fc_ceil_div(Mp, MC);
    const int64_t mb = fc_round_up(fc_ceil_div(Mp, nmb), MR);
    const int64_t runs_want = fc_min64(spb, fc_ceil_div(2 * nt, nmb));
    const int64_t rpan = fc_balanced_block(spb, fc_ceil_div(spb, runs_want));
    const int64_t nrun = fc_ceil_div(spb, rpan);
    /* packing tasks: kc blocks x row chunks, at least 4 per thread */
    const int64_t rch = fc_max64(1, fc_ceil_div(4 * nt, nkb));

    FC_T *ap = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(G * Mp * Kb));
    FC_T *bs = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(Kb * ncs + (flat ? Mp * ncs : 0)));
    FC_T *tb = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(nt * ncs));
    if (!ap || !bs || !tb) {
        fc_free(ap);
        fc_free(bs);
        fc_free(tb);
        ctx_free(&cx);
        return FC_ERR_NOMEM;
    }
    FC_T *cbuf = bs + Kb * ncs;   /* flat: the super-block's M x ncs products */

FC_OMP_PARALLEL(nt)
    {
        FC_T *tmp = tb + (int64_t)fc_thread_id() * ncs;
FC_OMP_LOOP
        for (int64_t t = 0; t < G * nkb; t++) {
            const int64_t gi = t / nkb, pc = (t - gi * nkb) * KC;
            FCN(pack_w_fwd)(d, &cx, w, bias, gi, pc, fc_min64(KC, Kb - pc), ap + gi * Mp * Kb + Mp * pc);
        }
        for (int64_t sb = 0; sb < NI * G * nsup; sb++) {
            const int64_t n = sb / (G * nsup), gi = (sb / nsup) % G, jc = (sb % nsup) * ncs;
            const int64_t ncur = fc_min64(ncs, P - jc);
            const FC_T *xg = x + (n * g->C_in + gi * cx.Cgi) * cx.HW;
FC_OMP_LOOP
            for (int64_t t = 0; t < nkb * rch; t++) {
                const int64_t pc = (t / rch) * KC, kc = fc_min64(KC, Kb - pc);
                const int64_t r0 = kc * (t % rch) / rch, r1 = kc * (t % rch + 1) / rch;
                if (flat)
                    FCN(pack_col_flat)(d, &cx, x + gi * cx.Cgi * cx.HW, g->C_in * cx.HW, pc,
                                       kc, r0, r1, jc, ncur, bs + pc * ncs, tmp);
                else
                    FCN(pack_col_rows)(d, &cx, xg, pc, kc, r0, r1, jc, ncur, bs + pc * ncs, tmp);
            }
            FC_T *yg = flat ? cbuf : y + (n * g->C_out + gi * M) * HWo + jc;
            const int64_t ldy = flat ? ncs : HWo;
FC_OMP_LOOP_DYNAMIC
            for (int64_t t = 0; t < nmb * nrun; t++) {
                const int64_t m0 = (t / nrun) * mb, m1 = fc_min64(M, m0 + mb);
                const int64_t j0 = (t % nrun) * rpan * NR, j1 = fc_min64(ncur, j0 + rpan * NR);
                for (int64_t pc = 0; pc < Kb; pc += KC) {
                    const int64_t kc = fc_min64(KC, Kb - pc);
                    const FC_T *ablk = ap + gi * Mp * Kb + Mp * pc, *bblk = bs + pc * ncs;
                    for (int64_t jr = j0; jr < j1; jr += NR)
                        for (int64_t ir = m0; ir < m1; ir += MR)
                            d->ukr(kc, ablk + ir * kc, bblk + jr * kc, yg + ir * ldy + jr, ldy,
                                   fc_min64(MR, M - ir), fc_min64(NR, ncur - jr), pc > 0);
                }
            }
            if (flat) {
FC_OMP_LOOP
                for (int64_t co = 0; co < M; co++)
                    FCN(put_flat_row)(g, HWo, gi * M + co, jc, ncur, cbuf + co * ncs, y);
            }
        }
    }
    fc_free(ap);
    fc_free(bs);
    fc_free(tb);
    ctx_free(&cx);
    return FC_OK;
}

/* Forward for kernels pointwise along W over whole rows -- (k, 1) kernels at stride 1 along W
 * with no W padding and full-width outputs, above all the temporal (kD, 1, 1) 3-D convolution,
 * whose rows are depth planes (csrc/conv/conv3d.c): col row (c, kh) over output row oh is
 * input row ih = oh*sH - pH + kh*dH of channel c unchanged, so the kH taps of consecutive
 * output rows read the same input rows, and im2col's packers copy each input row kH times.
 * Here a work item (image, group, block of columns, run of output rows) packs each input row
 * its outputs read once, all of the group's channels, into a row buffer laid out as the GEMM's
 * B panels with the depth ordered (input row, c): the taps of one output, rows in order, are
 * then consecutive panel rows, and with dH = 1 one contiguous run that a single micro-kernel
 * call (per KC steps) walks; the weights are repacked to the matching (kh, c) order.  Taps on
 * padding rows are left out of the run (im2col only runs on finite weights, whose products
 * with the padding are zeros).  The bias is a first k = 1 step against a row of ones.  Per
 * element the order of the sum (bias, taps in order, KC chunks) depends on the geometry and
 * the tier only, not on the blocking or the threads. */
static int64_t FCN(rows_in)(const fc_conv_geom *g, int64_t rows_out)
{
    return (rows_out - 1) * g->sH + (g->kH - 1) * g->dH + 1;
}

static int64_t FCN(rows_budget)(void)
{
    const int64_t l2 = fc_tier_current()->l2_bytes > 0 ? fc_tier_current()->l2_bytes : 1 << 20;
    return l2 / 2 / (int64_t)sizeof(FC_T);
}

static int FCN(rows_serves)(const DESC *d, const im2col_ctx *cx)
{
    const fc_conv_geom *g = cx->g;
    const int64_t NR = d->nr;
    if (g->kW != 1 || g->sW != 1 || g->pW != 0 || g->W_out != g->W || g->kH < 2)
        return 0;
    /* short channel runs would pay C's round trip per few steps; short rows a mostly empty
     * last panel per row; and one output row's input rows must fit the buffer 4 panels wide */
    if (cx->Cgi < 32 || (fc_round_up(g->W, NR) - g->W) * 16 > fc_round_up(g->W, NR))
        return 0;
    return FCN(rows_in)(g, 1) * cx->Cgi * 4 * NR <= FCN(rows_budget)();
}

static fc_status FCN(fwd_im2col_rows)(const DESC *d, const im2col_ctx *cx, const FC_T *x,
                                      const FC_T *w, const FC_T *bias, FC_T *y, int nt)
{
    const fc_conv_geom *g = cx->g;
    const int64_t MR = d->mr, NR = d->nr, G = g->groups, M = cx->Cgo, Cg = cx->Cgi;
    const int64_t kH = g->kH, K = cx->K, W = g->W, H = g->H, Ho = g->H_out, HWo = cx->HWo;
    const int64_t Mp = fc_round_up(M, MR), KC = d->kc, budget = FCN(rows_budget)();
    /* runs of output rows: enough items for the threads, and short enough that their input
     * rows fit the buffer at least 4 panels wide; then the widest column block that fits */
    int64_t nch = fc_min64(Ho, fc_max64(1, fc_ceil_div(4 * nt, g->N * G)));
    int64_t rows_per = fc_ceil_div(Ho, nch);
    while (rows_per > 1 && FCN(rows_in)(g, rows_per) * Cg * 4 * NR > budget)
        rows_per = fc_ceil_div(rows_per, 2);
    nch = fc_ceil_div(Ho, rows_per);
    const int64_t rin = FCN(rows_in)(g, rows_per);
    int64_t nc = fc_max64(NR, budget / (rin * Cg) / NR * NR);
    nc = fc_round_up(fc_balanced_block(W, fc_min64(nc, fc_round_up(W, NR))), NR);
    const int64_t nblk = fc_ceil_div(W, nc), items = g->N * G * nblk * nch;
    const int64_t apan = kH * Cg * MR;   /* one MR-row panel of the (kh, c)-ordered weights */

    FC_T *ap = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(G * Mp * (kH * Cg + 1) + NR));
    FC_T *rb = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(nt * rin * Cg * nc));
    if (!ap || !rb) {
        fc_free(ap);
        fc_free(rb);
        return FC_ERR_NOMEM;
    }
    FC_T *bp = ap + G * Mp * kH * Cg, *ones = bp + G * Mp;   /* bias panels, a row of ones */

FC_OMP_PARALLEL(nt)
    {
        FC_T *buf = rb + (int64_t)fc_thread_id() * rin * Cg * nc;
FC_OMP_LOOP
        for (int64_t t = 0; t < G * kH; t++) {
            const int64_t gi = t / kH, kh = t - gi * kH;
            for (int64_t q = 0; q < Mp / MR; q++)
                FCN(fc_gemm_pack_a)(d, fc_min64(MR, M - q * MR), Cg,
                                    w + (gi * M + q * MR) * K + kh, K, kH,
                                    ap + gi * Mp * kH * Cg + q * apan + kh * Cg * MR);
            if (kh == 0)
                for (int64_t i = 0; i < Mp; i++)
                    bp[gi * Mp + i] = bias && i < M ? bias[gi * M + i] : 0;
            if (t == 0)
                for (int64_t j = 0; j < NR; j++)
                    ones[j] = 1;
        }
FC_OMP_LOOP_DYNAMIC
        for (int64_t it = 0; it < items; it++) {
            const int64_t n = it / (G * nblk * nch), gi = (it / (nblk * nch)) % G;
            const int64_t jc = ((it / nch) % nblk) * nc, o0 = (it % nch) * rows_per;
            const int64_t o1 = fc_min64(Ho, o0 + rows_per), ncur = fc_min64(nc, W - jc);
            const int64_t r0 = o0 * g->sH - g->pH;   /* buffer row 0's input row */
            const int64_t nrows = FCN(rows_in)(g, o1 - o0), pstride = nrows * Cg * NR;
            const FC_T *xg = x + (n * g->C_in + gi * Cg) * H * W + jc;
            const FC_T *ag = ap + gi * Mp * kH * Cg;
            for (int64_t r = fc_max64(r0, 0); r < fc_min64(r0 + nrows, H); r++)
                for (int64_t c = 0; c < Cg; c++)
                    FCN(put_row)(NR, nrows * Cg, xg + (c * H + r) * W, 0, ncur, ncur,
                                 buf + ((r - r0) * Cg + c) * NR);
            for (int64_t oh = o0; oh < o1; oh++) {
                /* taps [k0, k1) read input rows inside the image */
                const int64_t ih0 = oh * g->sH - g->pH;
                int64_t k0 = 0, k1 = kH;
                while (k0 < kH && ih0 + k0 * g->dH < 0)
                    k0++;
                while (k1 > k0 && ih0 + (k1 - 1) * g->dH >= H)
                    k1--;
                const int64_t run = g->dH == 1 ? k1 - k0 : 1;   /* taps per contiguous run */
                FC_T *yrow = y + (n * g->C_out + gi * M) * HWo + oh * W + jc;
                for (int64_t jr = 0; jr < ncur; jr += NR) {
                    const int64_t nv = fc_min64(NR, ncur - jr);
                    const FC_T *bj = buf + (jr / NR) * pstride;
                    for (int64_t ir = 0; ir < M; ir += MR) {
                        const int64_t mv = fc_min64(MR, M - ir);
                        FC_T *c = yrow + ir * HWo + jr;
                        const FC_T *ai = ag + (ir / MR) * apan;
                        int acc = 0;
                        if (bias) {
                            d->ukr(1, bp + gi * Mp + ir, ones, c, HWo, mv, nv, 0);
                            acc = 1;
                        }
                        for (int64_t kh = k0; kh < k1; kh += run) {
                            const int64_t len = run * Cg, kcl = fc_balanced_block(len, KC);
                            const FC_T *bk = bj + (ih0 + kh * g->dH - r0) * Cg * NR;
                            const FC_T *ak = ai + kh * Cg * MR;
                            for (int64_t p0 = 0; p0 < len; p0 += kcl) {
                                d->ukr(fc_min64(kcl, len - p0), ak + p0 * MR, bk + p0 * NR, c,
                                       HWo, mv, nv, acc);
                                acc = 1;
                            }
                        }
                        if (!acc)
                            d->ukr(0, ag, ones, c, HWo, mv, nv, 0);   /* all taps padding */
                    }
                }
            }
        }
    }
    fc_free(ap);
    fc_free(rb);
    return FC_OK;
}

/* Backward-data at stride 1 along H of a kernel fwd_im2col_rows serves is itself such a forward:
 * gx is the correlation of gy with the weights transposed (input and output channels
 * swapped within each group) and flipped along H, padded by (kH-1)*dH - pH.  Returns 0 when
 * the geometry is not one of those (*st untouched). */
static int FCN(bwd_data_rows)(const DESC *d, const fc_conv_geom *g, const FC_T *gy,
                              const FC_T *w, FC_T *gx, int nt, fc_status *st)
{
    const int64_t pt = (g->kH - 1) * g->dH - g->pH;
    if (g->sH != 1 || pt < 0 || g->H_out != g->H + 2 * g->pH - (g->kH - 1) * g->dH)
        return 0;
    fc_conv_geom t = *g;
    t.C_in = g->C_out;
    t.C_out = g->C_in;
    t.H = g->H_out;
    t.H_out = g->H;
    t.pH = pt;
    im2col_ctx cx;
    if (ctx_init(&cx, &t)) {
        *st = FC_ERR_NOMEM;
        return 1;
    }
    if (!FCN(rows_serves)(d, &cx)) {
        ctx_free(&cx);
        return 0;
    }
    const int64_t Cgo = g->C_out / g->groups, Cgi = g->C_in / g->groups, kH = g->kH;
    FC_T *wt = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(g->C_out * Cgi * kH));
    if (!wt) {
        ctx_free(&cx);
        *st = FC_ERR_NOMEM;
        return 1;
    }
    for (int64_t gi = 0; gi < g->groups; gi++)
        for (int64_t ci = 0; ci < Cgi; ci++)
            for (int64_t co = 0; co < Cgo; co++)
                for (int64_t kh = 0; kh < kH; kh++)
                    wt[((gi * Cgi + ci) * Cgo + co) * kH + kh] =
                        w[((gi * Cgo + co) * Cgi + ci) * kH + kH - 1 - kh];
    *st = FCN(fwd_im2col_rows)(d, &cx, gy, wt, NULL, gx, nt);
    fc_free(wt);
    ctx_free(&cx);
    return 1;
}

fc_status FCN(fc_conv2d_fwd_im2col)(const fc_conv_geom *g, const FC_T *x, const FC_T *w,
                                    const FC_T *bias, FC_T *y)
{
    const DESC *d = FCN(fc_gemm_select)();
    const int64_t MR = d->mr, NR = d->nr, MC = d->mc;
    im2col_ctx cx;
    if (g->N == 0 || g->H_out == 0 || g->W_out == 0 || g->C_out == 0)
        return FC_OK;
    if (ctx_init(&cx, g))
        return FC_ERR_NOMEM;
    const int64_t G = g->groups, M = cx.Cgo, K = cx.K, HWo = cx.HWo, N = g->N;
    const int64_t Kb = K + (bias != NULL), Mp = fc_round_up(M, MR);
    const int64_t KC = fc_balanced_block(Kb, d->kc);
    const int64_t nkb = fc_ceil_div(Kb, KC), kc_max = fc_min64(KC, Kb);
    const int nt = threads_for(2.0 * (double)N * (double)g->C_out * (double)K * (double)HWo);
    if (FCN(rows_serves)(d, &cx)) {
        const fc_status st = FCN(fwd_im2col_rows)(d, &cx, x, w, bias, y, nt);
        ctx_free(&cx);
        return st;
    }

    /* Flat columns: when an image's pixels leave a last panel mostly empty (7x7 = 49 of 64
     * columns, strided 14x14 = 196 of 224), the columns run over the pixels of all images
     * (q = n*HWo + p), and each block's products go through a buffer into the images.  The
     * same sums in the same order either way. */
    const int flat = N > 1 && (fc_round_up(HWo, NR) - HWo) * 16 >= fc_round_up(HWo, NR);
    const int64_t P = flat ? N * HWo : HWo, NI = flat ? 1 : N;
    /* Pixel block per work item: B block (kc x nc) about half of L2; smaller when needed to
     * give every thread several items (batch 1, small images).  Only the blocking over
     * pixels changes with the thread count, never the order of any sum. */
    int64_t nc = fc_min64(fc_round_up(P, NR),
                          fc_max64(NR, (int64_t)(256 * 1024 / sizeof(FC_T)) / kc_max / NR * NR));
    if (NI * G * fc_ceil_div(P, nc) < 4 * nt && M >= 64 && nt > 1) {
        ctx_free(&cx);
        return FCN(fwd_im2col_shared)(g, x, w, bias, y, nt, flat);
    }
    while (nc > NR && NI * G * fc_ceil_div(P, nc) < 4 * nt)
        nc = fc_round_up(nc / 2, NR);
    const int64_t nblk = fc_ceil_div(P, nc), items = NI * G * nblk;
    const int64_t per_thread = (kc_max + 1) * nc + (flat ? M * nc : 0);

    FC_T *ap = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(G * Mp * Kb));
    FC_T *bp = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(nt * per_thread));
    if (!ap || !bp) {
        fc_free(ap);
        fc_free(bp);
        ctx_free(&cx);
        return FC_ERR_NOMEM;
    }

FC_OMP_PARALLEL(nt)
    {
        FC_T *bbuf = bp + (int64_t)fc_thread_id() * per_thread, *tmp = bbuf + kc_max * nc;
        FC_T *cbuf = tmp + nc;   /* flat: the block's M x nc products */
FC_OMP_LOOP
        for (int64_t t = 0; t < G * nkb; t++) {
            const int64_t gi = t / nkb, pc = (t - gi * nkb) * KC;
            FCN(pack_w_fwd)(d, &cx, w, bias, gi, pc, fc_min64(KC, Kb - pc), ap + gi * Mp * Kb + Mp * pc);
        }
FC_OMP_LOOP_DYNAMIC
        for (int64_t it = 0; it < items; it++) {
            const int64_t n = it / (G * nblk), gi = (it / nblk) % G, jc = (it % nblk) * nc;
            const int64_t ncur = fc_min64(nc, P - jc);
            const FC_T *xg = x + (n * g->C_in + gi * cx.Cgi) * cx.HW;
            FC_T *yg = flat ? cbuf : y + (n * g->C_out + gi * M) * HWo + jc;
            const int64_t ldy = flat ? nc : HWo;
            for (int64_t pc = 0; pc < Kb; pc += KC) {
                const int64_t kc = fc_min64(KC, Kb - pc);
                const FC_T *ablk = ap + gi * Mp * Kb + Mp * pc;
                if (flat)
                    FCN(pack_col_flat)(d, &cx, x + gi * cx.Cgi * cx.HW, g->C_in * cx.HW, pc, kc,
                                       0, kc, jc, ncur, bbuf, tmp);
                else
                    FCN(pack_col)(d, &cx, xg, pc, kc, jc, ncur, bbuf, tmp);
                for (int64_t ic = 0; ic < M; ic += MC) {
                    const int64_t iend = fc_min64(M, ic + MC);
                    for (int64_t jr = 0; jr < ncur; jr += NR)
                        for (int64_t ir = ic; ir < iend; ir += MR)
                            d->ukr(kc, ablk + ir * kc, bbuf + jr * kc, yg + ir * ldy + jr, ldy,
                                   fc_min64(MR, M - ir), fc_min64(NR, ncur - jr), pc > 0);
                }
            }
            for (int64_t co = 0; flat && co < M; co++)   /* the products into the images */
                FCN(put_flat_row)(g, HWo, gi * M + co, jc, ncur, cbuf + co * nc, y);
        }
    }
    fc_free(ap);
    fc_free(bp);
    ctx_free(&cx);
    return FC_OK;
}

/* ------------------------------------------------------------- backward data ---- */

fc_status FCN(fc_conv2d_bwd_data_im2col)(const fc_conv_geom *g, const FC_T *gy,
                                         const FC_T *w, FC_T *gx)
{
    const DESC *d = FCN(fc_gemm_select)();
    const int64_t MR = d->mr, NR = d->nr, MC = d->mc;
    im2col_ctx cx;
    if (g->N == 0)
        return FC_OK;
    if (ctx_init(&cx, g))
        return FC_ERR_NOMEM;
    const int64_t G = g->groups, M = cx.Cgo, K = cx.K, KK = cx.KK, HWo = cx.HWo, N = g->N;
    const int64_t KC = fc_balanced_block(M, d->kc);
    const int64_t Cgi = cx.Cgi, Kp = fc_round_up(K, MR);
    const int64_t nkb = fc_ceil_div(M, KC), kc_max = fc_min64(KC, fc_max64(M, 1));
    const int nt = threads_for(2.0 * (double)N * (double)g->C_out * (double)K * (double)HWo);
    fc_status rst;
    if (FCN(bwd_data_rows)(d, g, gy, w, gx, nt, &rst)) {
        ctx_free(&cx);
        return rst;
    }

    /* Work item = (image, group, block of input channels): items write disjoint planes of
     * gx.  Channel blocks start on a GEMM row that is a multiple of MR so they can share
     * the weight panels packed once for all. */
    const int64_t cq = MR / gcd64(MR, KK);
    int64_t cbs = Cgi;
    if (N * G < 4 * nt) {
        const int64_t want = fc_ceil_div(4 * nt, N * G);
        cbs = fc_min64(Cgi, fc_round_up(fc_ceil_div(Cgi, want), cq));
    }
    const int64_t ncb = fc_ceil_div(Cgi, cbs), items = N * G * ncb;
    const int64_t rows_max = cbs * KK;
    /* Pixel block: the per-thread column buffer (rows_max x nc) about half of L2, but at
     * least 64 pixels (up to 2 MiB of buffer, in L3): every pixel block streams all of
     * W_g^T through the cache once, so deep layers (large K) on small images need wide
     * blocks.  Blocks are balanced so that the last one is not a sliver. */
    const int64_t HWr = fc_round_up(fc_max64(HWo, 1), NR);
    int64_t nc = (int64_t)(256 * 1024 / sizeof(FC_T)) / rows_max / NR * NR;
    if (nc < 64)
        nc = fc_min64(64, (int64_t)(2048 * 1024 / sizeof(FC_T)) / rows_max / NR * NR);
    nc = fc_min64(HWr, fc_max64(NR, nc));
    nc = fc_max64(NR, fc_round_up(fc_ceil_div(HWo, fc_ceil_div(fc_max64(HWo, 1), nc)), NR));
    const int64_t per_thread = kc_max * nc + rows_max * nc;

    FC_T *ap = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(G * Kp * M));
    FC_T *tb = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(nt * per_thread));
    if (!ap || !tb) {
        fc_free(ap);
        fc_free(tb);
        ctx_free(&cx);
        return FC_ERR_NOMEM;
    }

FC_OMP_PARALLEL(nt)
    {
        FC_T *bbuf = tb + (int64_t)fc_thread_id() * per_thread, *col = bbuf + kc_max * nc;
        /* A = W_g^T (K x M): element (k, o) is w[(g*M + o)*K + k]. */
FC_OMP_LOOP
        for (int64_t t = 0; t < G * nkb; t++) {
            const int64_t gi = t / nkb, pc = (t - gi * nkb) * KC;
            FCN(fc_gemm_pack_a)(d, K, fc_min64(KC, M - pc), w + (gi * M + pc) * K, 1, K,
                             ap + gi * Kp * M + Kp * pc);
        }
FC_OMP_LOOP_DYNAMIC
        for (int64_t it = 0; it < items; it++) {
            const int64_t n = it / (G * ncb), gi = (it / ncb) % G, cb = it % ncb;
            const int64_t c0 = cb * cbs, c1 = fc_min64(Cgi, c0 + cbs);
            const int64_t r0 = c0 * KK, r1 = c1 * KK;
            FC_T *gxg = gx + (n * g->C_in + gi * Cgi) * cx.HW;
            const FC_T *gyg = gy + (n * g->C_out + gi * M) * HWo;
            /* 1x1 stride 1: col is gx itself (plane c, first HWo pixels), so the GEMM writes
             * there directly; otherwise into the column buffer, scattered below. */
            const int ident = cx.identity;
            for (int64_t c = c0; c < c1; c++)
                for (int64_t i = ident ? HWo : 0; i < cx.HW; i++)
                    gxg[c * cx.HW + i] = 0;
            for (int64_t jc = 0; jc < HWo; jc += nc) {
                const int64_t ncur = fc_min64(nc, HWo - jc);
                FC_T *cbase = ident ? gxg + r0 * cx.HW + jc : col;   /* row r0 */
                const int64_t ldc = ident ? cx.HW : ncur;
                for (int64_t pc = 0; pc < M; pc += KC) {
                    const int64_t kc = fc_min64(KC, M - pc);
                    const FC_T *ablk = ap + gi * Kp * M + Kp * pc;
                    FCN(fc_gemm_pack_b)(d, kc, ncur, gyg + pc * HWo + jc, HWo, 1, bbuf);
                    for (int64_t ic = r0; ic < r1; ic += MC) {
                        const int64_t iend = fc_min64(r1, ic + MC);
                        for (int64_t jr = 0; jr < ncur; jr += NR)
                            for (int64_t ir = ic; ir < iend; ir += MR)
                                d->ukr(kc, ablk + ir * kc, bbuf + jr * kc, cbase + (ir - r0) * ldc + jr,
                                       ldc, fc_min64(MR, r1 - ir), fc_min64(NR, ncur - jr),
                                       pc > 0);
                    }
                }
                if (ident)
                    continue;
                for (int64_t r = r0; r < r1; r++)
                    FCN(col2im_row)(&cx, gxg, r, jc, ncur, col + (r - r0) * ncur);
            }
        }
    }
    fc_free(ap);
    fc_free(tb);
    ctx_free(&cx);
    return FC_OK;
}

/* ----------------------------------------------------------- backward weight ---- */

fc_status FCN(fc_conv2d_bwd_weight_im2col)(const fc_conv_geom *g, const FC_T *gy,
                                           const FC_T *x, FC_T *gw, FC_T *gb)
{
    const DESC *d = FCN(fc_gemm_select)();
    const int64_t MR = d->mr, NR = d->nr, KC = fc_balanced_block(g->H_out * g->W_out, d->kc);
    im2col_ctx cx;
    if (!gw && !gb)
        return FC_OK;
    if (ctx_init(&cx, g))
        return FC_ERR_NOMEM;
    const int64_t G = g->groups, M = cx.Cgo, K = cx.K, HWo = cx.HWo, N = g->N, P = N * HWo;
    /* Columns [jlo, jhi) of [gW_g | gb] are wanted.  grad_bias alone still goes through the
     * same GEMM (one column), so every gradient is bitwise the same whichever others are
     * requested. */
    const int64_t jlo = gw ? 0 : K, jhi = gb ? K + 1 : K, Nw = jhi - jlo;
    const int nt = threads_for(2.0 * (double)N * (double)g->C_out * (double)Nw * (double)HWo);
    int64_t mcb = fc_min64(d->mc, fc_round_up(M, MR));
    int64_t ncb = fc_min64(d->nc, fc_round_up(Nw, NR));
    const int64_t kc_max = fc_max64(1, fc_min64(KC, HWo));
    /* Few output blocks (small layers with long reductions, e.g. a stem): also split the
     * reduction over pixels into R chunks, summed afterwards in a fixed order.  R depends on
     * the geometry only (not on the thread count or on which gradients are wanted). */
    const int64_t full_items = G * fc_ceil_div(M, mcb) * fc_ceil_div(K + 1, ncb);
    int64_t R = 1;
    if (full_items < 8)
        R = fc_max64(1, fc_min64(fc_ceil_div(8, full_items), P / 4096));
    /* Every row block gathers its own copy of the col^T columns, the costly part at a
     * stride (Xeon, 8x128x28x28 -> 256 s2: a third of the time).  Up to 2 MC rows: one
     * block of all of them, the columns cut into at least two blocks per thread instead.
     * Only the blocking changes, not any element's sum. */
    if (M > mcb && M <= 2 * d->mc) {
        mcb = fc_round_up(M, MR);
        ncb = fc_min64(ncb, fc_max64(NR, fc_round_up(fc_ceil_div(Nw, 2 * (int64_t)nt), NR)));
    }
    const int64_t nib = fc_ceil_div(M, mcb), njb = fc_ceil_div(Nw, ncb);
    const int64_t out_items = G * nib * njb;
    const int direct_out = (R == 1 && !gb);   /* accumulate straight into gw */
    const int64_t ldo = direct_out ? K : Nw;
    /* A block, B block, NR gathered col rows + a zero row */
    const int64_t per_thread = mcb * kc_max + kc_max * ncb + (NR + 1) * kc_max;
    const int64_t items = R * out_items;

    FC_T *ws = direct_out ? NULL : (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(R * g->C_out * Nw));
    FC_T *tb = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(nt * per_thread));
    if ((!direct_out && !ws) || !tb) {
        fc_free(ws);
        fc_free(tb);
        ctx_free(&cx);
        return FC_ERR_NOMEM;
    }
    FC_T *out = direct_out ? gw : ws;

FC_OMP_PARALLEL(nt)
    {
        FC_T *abuf = tb + (int64_t)fc_thread_id() * per_thread, *bbuf = abuf + mcb * kc_max;
        FC_T *tmp = bbuf + kc_max * ncb;
        const FC_T *rows[FC_GEMM_NR_MAX];
FC_OMP_LOOP_DYNAMIC
        for (int64_t it = 0; it < items; it++) {
            const int64_t r = it / out_items, rest = it % out_items;
            const int64_t gi = rest / (nib * njb), i0 = (rest / njb) % nib * mcb,
                          j0 = rest % njb * ncb;
            const int64_t mcur = fc_min64(mcb, M - i0), ncur = fc_min64(ncb, Nw - j0);
            FC_T *cblk = out + r * g->C_out * Nw + (gi * M + i0) * ldo + j0;
            int first = 1;
            for (int64_t q = r * P / R, q1 = (r + 1) * P / R; q < q1;) {
                const int64_t n = q / HWo, pa = q - n * HWo, pb = fc_min64(HWo, pa + q1 - q);
                const FC_T *xg = x + (n * g->C_in + gi * cx.Cgi) * cx.HW;
                const FC_T *gyb = gy + (n * g->C_out + gi * M + i0) * HWo;
                for (int64_t pc = pa; pc < pb; pc += KC) {
                    const int64_t kc = fc_min64(KC, pb - pc);
                    FCN(fc_gemm_pack_a)(d, mcur, kc, gyb + pc, HWo, 1, abuf);
                    for (int64_t jr = 0; jr < ncur; jr += NR)
                        FCN(pack_colT)(d, &cx, xg, jlo + j0 + jr, fc_min64(NR, ncur - jr), pc,
                                       kc, bbuf + jr * kc, tmp, rows);
                    for (int64_t jr = 0; jr < ncur; jr += NR)
                        for (int64_t ir = 0; ir < mcur; ir += MR)
                            d->ukr(kc, abuf + ir * kc, bbuf + jr * kc, cblk + ir * ldo + jr, ldo,
                                   fc_min64(MR, mcur - ir), fc_min64(NR, ncur - jr), !first);
                    first = 0;
                }
                q += pb - pa;
            }
            if (first)
                for (int64_t i = 0; i < mcur; i++)
                    for (int64_t j = 0; j < ncur; j++)
                        cblk[i * ldo + j] = 0;
        }
        if (!direct_out) {
FC_OMP_LOOP
            for (int64_t o = 0; o < g->C_out; o++)
                for (int64_t j = 0; j < Nw; j++) {
                    FC_T s = ws[o * Nw + j];
                    for (int64_t r = 1; r < R; r++)
                        s += ws[(r * g->C_out + o) * Nw + j];
                    if (jlo + j < K)
                        gw[o * K + j] = s;
                    else
                        gb[o] = s;
                }
        }
    }
    fc_free(ws);
    fc_free(tb);
    ctx_free(&cx);
    return FC_OK;
}

/* ------------------------------------------------------------- unfold / fold ---- */

/* cols[n][k][p] = col row k of image n (fastconv.h: fc_unfold_*), rows on the threads. */
fc_status FCN(fc_unfold)(const fc_conv_geom *g, const FC_T *x, FC_T *cols)
{
    im2col_ctx cx;
    if (g->N == 0)
        return FC_OK;
    if (ctx_init(&cx, g))
        return FC_ERR_NOMEM;
    const int64_t K = cx.K, HWo = cx.HWo, rows = g->N * K;
    const int nt = threads_for((double)rows * (double)HWo);
FC_OMP_FOR(nt, nt > 1)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t n = r / K;
        FCN(im2col_row)(&cx, x + n * g->C_in * cx.HW, r - n * K, 0, HWo, cols + r * HWo, 1);
    }
    ctx_free(&cx);
    return FC_OK;
}

/* x = col2im(cols), the adjoint: planes (n, c) on the threads, each adding its KK rows in
 * row order into its own plane. */
fc_status FCN(fc_fold)(const fc_conv_geom *g, const FC_T *cols, FC_T *x)
{
    im2col_ctx cx;
    if (g->N == 0)
        return FC_OK;
    if (ctx_init(&cx, g))
        return FC_ERR_NOMEM;
    const int64_t K = cx.K, KK = cx.KK, HWo = cx.HWo, planes = g->N * g->C_in;
    const int nt = threads_for((double)planes * (double)KK * (double)HWo);
FC_OMP_FOR(nt, nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const int64_t n = pl / g->C_in, c = pl - n * g->C_in;
        FC_T *xn = x + n * g->C_in * cx.HW;
        memset(xn + c * cx.HW, 0, sizeof(FC_T) * (size_t)cx.HW);
        for (int64_t k = c * KK; k < (c + 1) * KK; k++)
            FCN(col2im_row)(&cx, xn, k, 0, HWo, cols + (n * K + k) * HWo);
    }
    ctx_free(&cx);
    return FC_OK;
}

#undef DESC
#undef FCN
#undef FC_CAT
#undef FC_CAT_
