/* Border-exact direct conv2d (see direct_exact.c): same contracts as conv_internal.h. */
#ifndef FC_DIRECT_EXACT_H
#define FC_DIRECT_EXACT_H
#include "fastconv.h"

#define FC_DIRECT_EXACT_DECLARE(SFX, T)                                                      \
    fc_status fc_direct_exact_fwd_##SFX(const fc_conv_geom *g, const T *x, const T *w,     \
                                        const T *bias, T *y);                                \
    fc_status fc_direct_exact_bwd_data_##SFX(const fc_conv_geom *g, const T *gy,           \
                                             const T *w, T *gx);                             \
    fc_status fc_direct_exact_bwd_weight_##SFX(const fc_conv_geom *g, const T *gy,         \
                                               const T *x, T *gw, T *gb);              \
    /* 1 when every p[i] is finite (no NaN, no Inf) */                                       \
    int fc_direct_all_finite_##SFX(const T *p, int64_t n);

FC_DIRECT_EXACT_DECLARE(f32, float)
FC_DIRECT_EXACT_DECLARE(f64, double)

#endif
