/* conv2d dispatch: picks the algorithm, then calls it. */
#include "conv_internal.h"
#include "direct_exact.h"

fc_conv_algo fc_conv2d_choose_algo(const fc_conv_geom *g, int pass, int itemsize)
{
    (void)g; (void)pass; (void)itemsize;
    return FC_ALGO_DIRECT;
}

/* A NaN or Inf weight (forward, backward-data) or grad_output value (backward-weight) must
 * reach exactly the outputs whose real taps meet it.  im2col multiplies it by the zeros of its
 * padded columns (0 * Inf = NaN), so such calls go to the direct algorithm, whose border-exact
 * path handles them (an O(weights) / O(grad_output) scan, negligible next to the conv). */
#define FC_CONV_DISPATCH(SFX, T)                                                              \
static int finite_weights_##SFX(const fc_conv_geom *g, const T *w)                            \
{                                                                                             \
    return fc_direct_all_finite_##SFX(w, g->C_out * (g->C_in / g->groups) * g->kH * g->kW);  \
}                                                                                             \
fc_status fc_conv2d_forward_##SFX(const fc_conv_geom *g, fc_conv_algo algo, const T *x,       \
                                  const T *w, const T *bias, T *y)                            \
{                                                                                             \
    if (algo == FC_ALGO_AUTO) algo = fc_conv2d_choose_algo(g, 0, (int)sizeof(T));             \
    if (algo == FC_ALGO_IM2COL && !finite_weights_##SFX(g, w)) algo = FC_ALGO_DIRECT;        \
    return algo == FC_ALGO_IM2COL ? fc_conv2d_fwd_im2col_##SFX(g, x, w, bias, y)              \
                                  : fc_conv2d_fwd_direct_##SFX(g, x, w, bias, y);             \
}                                                                                             \
fc_status fc_conv2d_backward_data_##SFX(const fc_conv_geom *g, fc_conv_algo algo,             \
                                        const T *gy, const T *w, T *gx)                       \
{                                                                                             \
    if (algo == FC_ALGO_AUTO) algo = fc_conv2d_choose_algo(g, 1, (int)sizeof(T));             \
    if (algo == FC_ALGO_IM2COL && !finite_weights_##SFX(g, w)) algo = FC_ALGO_DIRECT;        \
    return algo == FC_ALGO_IM2COL ? fc_conv2d_bwd_data_im2col_##SFX(g, gy, w, gx)             \
                                  : fc_conv2d_bwd_data_direct_##SFX(g, gy, w, gx);            \
}                                                                                             \
fc_status fc_conv2d_backward_weight_##SFX(const fc_conv_geom *g, fc_conv_algo algo,           \
                                          const T *gy, const T *x, T *gw, T *gb)              \
{                                                                                             \
    if (algo == FC_ALGO_AUTO) algo = fc_conv2d_choose_algo(g, 2, (int)sizeof(T));             \
    if (algo == FC_ALGO_IM2COL &&                                                             \
        !fc_direct_all_finite_##SFX(gy, g->N * g->C_out * g->H_out * g->W_out))               \
        algo = FC_ALGO_DIRECT;                                                                \
    return algo == FC_ALGO_IM2COL ? fc_conv2d_bwd_weight_im2col_##SFX(g, gy, x, gw, gb)       \
                                  : fc_conv2d_bwd_weight_direct_##SFX(g, gy, x, gw, gb);      \
}

FC_CONV_DISPATCH(f32, float)
FC_CONV_DISPATCH(f64, double)
