/* Packers and the plain GEMM driver, for one dtype.  Included by gemm.c once per dtype
 * with FC_T (element type) and FC_DT (f32 / f64) defined. */
#define FC_CAT_(a, b) a##_##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FCN(name) FC_CAT(name, FC_DT)

void FCN(fc_gemm_pack_a)(const FCN(fc_gemm_desc) *d, int64_t m, int64_t kc, const FC_T *a,
                         int64_t rs, int64_t cs, FC_T *dst)
{
    const int64_t MR = d->mr;
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
        const int64_t mv = fc_min64(MR, m - i0);
        if (cs == 1 && rs != 1 && MR <= FC_GEMM_MR_MAX) {
            /* rows of A are contiguous: the tier's register transposes (a last, partial
             * panel transposes row 0 again in place of its missing rows, then zeros them) */
            const FC_T *rows[FC_GEMM_MR_MAX];
            for (int64_t i = 0; i < MR; i++)
                rows[i] = a + (i0 + (i < mv ? i : 0)) * rs;
            d->packa(kc, rows, dst);
            for (int64_t p = 0; mv < MR && p < kc; p++)
                for (int64_t i = mv; i < MR; i++)
                    dst[p * MR + i] = 0;
        } else if (rs == 1) {   /* columns of A are contiguous (W^T): MR-value copies */
            for (int64_t p = 0; p < kc; p++) {
                memcpy(dst + p * MR, a + i0 + p * cs, sizeof(FC_T) * (size_t)mv);
                for (int64_t i = mv; i < MR; i++)
                    dst[p * MR + i] = 0;
            }
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const FC_T *src = a + i0 * rs + p * cs;
                FC_T *o = dst + p * MR;
                int64_t i = 0;
                for (; i < mv; i++)
                    o[i] = src[i * rs];
                for (; i < MR; i++)
                    o[i] = 0;
            }
        }
        dst += MR * kc;
    }
}

void FCN(fc_gemm_pack_b)(const FCN(fc_gemm_desc) *d, int64_t kc, int64_t n, const FC_T *b,
                         int64_t rs, int64_t cs, FC_T *dst)
{
    const int64_t NR = d->nr;
    for (int64_t j0 = 0; j0 < n; j0 += NR) {
        const int64_t nv = fc_min64(NR, n - j0);
        for (int64_t p = 0; p < kc; p++) {
            const FC_T *src = b + p * rs + j0 * cs;
            FC_T *o = dst + p * NR;
            int64_t j = 0;
            if (cs == 1)
                for (; j < nv; j++)
                    o[j] = src[j];
            else
                for (; j < nv; j++)
                    o[j] = src[j * cs];
            for (; j < NR; j++)
                o[j] = 0;
        }
        dst += NR * kc;
    }
}

/* pack_b for a B whose columns are contiguous (column j at b + j*cs): the tier's
 * transposing packer per NR panel, not fc_gemm_pack_b's one element at a time (Winograd's
 * weight gradient multiplies by its transformed tiles this way).  A last, partial panel is
 * copied one element at a time, zeros past n. */
static void FCN(pack_b_by_columns)(const FCN(fc_gemm_desc) *d, int64_t kc, int64_t n,
                                   const FC_T *b, int64_t cs, FC_T *dst)
{
    const int64_t NR = d->nr;
    const FC_T *rows[FC_GEMM_NR_MAX];
    for (int64_t j0 = 0; j0 < n; j0 += NR, dst += NR * kc) {
        const int64_t nv = fc_min64(NR, n - j0);
        for (int64_t j = 0; j < NR; j++)
            rows[j] = j < nv ? b + (j0 + j) * cs : NULL;
        if (nv == NR) {
            d->packt(kc, rows, dst);
            continue;
        }
        for (int64_t j = 0; j < nv; j++)
            for (int64_t p = 0; p < kc; p++)
                dst[p * NR + j] = rows[j][p];
        for (int64_t p = 0; p < kc; p++)
            for (int64_t j = nv; j < NR; j++)
                dst[p * NR + j] = 0;
    }
}

fc_status FCN(fc_gemm)(int64_t m, int64_t n, int64_t k, const FC_T *a, int64_t rs_a,
                       int64_t cs_a, const FC_T *b, int64_t rs_b, int64_t cs_b, FC_T *c,
                       int64_t ldc, int acc)
{
    const FCN(fc_gemm_desc) *d = FCN(fc_gemm_select)();
    const int64_t MR = d->mr, NR = d->nr, MC = d->mc, KC = d->kc, NC = d->nc;
    if (m <= 0 || n <= 0)
        return FC_OK;
    if (k <= 0) {
        if (!acc)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                    c[i * ldc + j] = 0;
        return FC_OK;
    }
    const int64_t mc_max = fc_min64(MC, fc_round_up(m, MR));
    const int64_t kc_max = fc_min64(KC, k);
    const int64_t nc_max = fc_min64(NC, fc_round_up(n, NR));
    FC_T *ap = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(mc_max * kc_max));
    FC_T *bp = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)(kc_max * nc_max));
    if (!ap || !bp) {
        fc_free(ap);
        fc_free(bp);
        return FC_ERR_NOMEM;
    }
    for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = fc_min64(NC, n - jc);
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = fc_min64(KC, k - pc);
            if (rs_b == 1 && cs_b != 1)
                FCN(pack_b_by_columns)(d, kc, nc, b + pc + jc * cs_b, cs_b, bp);
            else
                FCN(fc_gemm_pack_b)(d, kc, nc, b + pc * rs_b + jc * cs_b, rs_b, cs_b, bp);
            const int acc_blk = acc || pc > 0;
            for (int64_t ic = 0; ic < m; ic += MC) {
                const int64_t mc = fc_min64(MC, m - ic);
                FCN(fc_gemm_pack_a)(d, mc, kc, a + ic * rs_a + pc * cs_a, rs_a, cs_a, ap);
                for (int64_t jr = 0; jr < nc; jr += NR)
                    for (int64_t ir = 0; ir < mc; ir += MR)
                        d->ukr(kc, ap + ir * kc, bp + jr * kc, c + (ic + ir) * ldc + jc + jr,
                               ldc, fc_min64(MR, mc - ir), fc_min64(NR, nc - jr), acc_blk);
            }
        }
    }
    fc_free(ap);
    fc_free(bp);
    return FC_OK;
}

#undef FCN
#undef FC_CAT
#undef FC_CAT_
