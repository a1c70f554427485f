/* Dilated convolution by phases (conv_phases.c) for one dtype: FC_T, FC_DT defined. */
#define FC_PCAT_(a, b) a##_##b
#define FC_PCAT(a, b) FC_PCAT_(a, b)
#define FCP(name) FC_PCAT(name, FC_DT)

/* Between a (N, C, H, W) array a and its phase images p ((n, r, s), C, H/dH, W/dW):
 * p[((n*dH + r)*dW + s)][c][i][j] = a[n][c][i*dH + r][j*dW + s]; to_phases picks the way. */
static void FCP(phase_copy)(int64_t N, int64_t C, int64_t H, int64_t W, int64_t dH,
                            int64_t dW, FC_T *a, FC_T *p, int to_phases)
{
    const int64_t Hp = H / dH, Wp = W / dW, planes = N * C;
    const int nt = fc_threads_for((double)planes * (double)(H * W), 1 << 18);
    int64_t q;
    FC_OMP_FOR(nt, nt > 1)
    for (q = 0; q < planes; q++) {
        const int64_t n = q / C, c = q % C;
        /* a's rows in order, each to (from) its dW phase rows */
        for (int64_t h = 0; h < H; h++) {
            FC_T *row = a + (q * H + h) * W;
            FC_T *p0 = p + (((n * dH + h % dH) * dW) * C + c) * Hp * Wp + (h / dH) * Wp;
            const int64_t ps = C * Hp * Wp;   /* from phase s to s + 1 */
            if (dW == 2) {
                FC_T *p1 = p0 + ps;
                if (to_phases)
                    for (int64_t j = 0; j < Wp; j++) {
                        p0[j] = row[2 * j];
                        p1[j] = row[2 * j + 1];
                    }
                else
                    for (int64_t j = 0; j < Wp; j++) {
                        row[2 * j] = p0[j];
                        row[2 * j + 1] = p1[j];
                    }
                continue;
            }
            for (int64_t s = 0; s < dW; s++) {
                FC_T *ph = p0 + s * ps;
                if (to_phases)
                    for (int64_t j = 0; j < Wp; j++)
                        ph[j] = row[j * dW + s];
                else
                    for (int64_t j = 0; j < Wp; j++)
                        row[j * dW + s] = ph[j];
            }
        }
    }
}

/* One pass on the phase images: the inputs gathered, the pass run on the phase geometry,
 * its image result (y, gx) scattered back; the weight gradient is the phase batch's. */
static fc_status FCP(phases_pass)(const fc_conv_geom *g, int pass, fc_conv_algo algo,
                                  const FC_T *x, const FC_T *w, const FC_T *bias,
                                  const FC_T *gy, FC_T *y, FC_T *gx, FC_T *gw, FC_T *gb)
{
    fc_conv_geom ph;
    if (!fc_conv2d_phases_geom(g, &ph))
        return FC_ERR_ARG;
    const int64_t nx = g->N * g->C_in * g->H * g->W, ny = g->N * g->C_out * g->H_out * g->W_out;
    FC_T *xp = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)nx);
    FC_T *yp = (FC_T *)fc_malloc(sizeof(FC_T) * (size_t)ny);
    fc_status st = FC_ERR_NOMEM;
    if (xp && yp) {
        if (pass != 1)
            FCP(phase_copy)(g->N, g->C_in, g->H, g->W, g->dH, g->dW, (FC_T *)x, xp, 1);
        if (pass != 0)
            FCP(phase_copy)(g->N, g->C_out, g->H_out, g->W_out, g->dH, g->dW, (FC_T *)gy, yp,
                            1);
        if (pass == 0)
            st = FCP(fc_conv2d_forward)(&ph, algo, xp, w, bias, yp);
        else if (pass == 1)
            st = FCP(fc_conv2d_backward_data)(&ph, algo, yp, w, xp);
        else
            st = FCP(fc_conv2d_backward_weight)(&ph, algo, yp, xp, gw, gb);
        if (st == FC_OK && pass == 0)
            FCP(phase_copy)(g->N, g->C_out, g->H_out, g->W_out, g->dH, g->dW, y, yp, 0);
        if (st == FC_OK && pass == 1)
            FCP(phase_copy)(g->N, g->C_in, g->H, g->W, g->dH, g->dW, gx, xp, 0);
    }
    fc_free(xp);
    fc_free(yp);
    return st;
}

fc_status FCP(fc_conv2d_fwd_phases)(const fc_conv_geom *g, fc_conv_algo algo, const FC_T *x,
                                    const FC_T *w, const FC_T *bias, FC_T *y)
{
    return FCP(phases_pass)(g, 0, algo, x, w, bias, NULL, y, NULL, NULL, NULL);
}

fc_status FCP(fc_conv2d_bwd_data_phases)(const fc_conv_geom *g, fc_conv_algo algo,
                                         const FC_T *gy, const FC_T *w, FC_T *gx)
{
    return FCP(phases_pass)(g, 1, algo, NULL, w, NULL, gy, NULL, gx, NULL, NULL);
}

fc_status FCP(fc_conv2d_bwd_weight_phases)(const fc_conv_geom *g, fc_conv_algo algo,
                                           const FC_T *gy, const FC_T *x, FC_T *gw, FC_T *gb)
{
    return FCP(phases_pass)(g, 2, algo, x, NULL, NULL, gy, NULL, NULL, gw, gb);
}

#undef FCP
#undef FC_PCAT
#undef FC_PCAT_
