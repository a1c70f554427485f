/* Direct conv2d.  Placeholder until the direct kernels land. */
#include "conv_internal.h"

#define FC_STUB(SFX, T)                                                                         \
fc_status fc_conv2d_fwd_direct_##SFX(const fc_conv_geom *g, const T *x, const T *w,           \
                                     const T *bias, T *y)                                     \
{ (void)g; (void)x; (void)w; (void)bias; (void)y; return FC_ERR_NOTIMPL; }                    \
fc_status fc_conv2d_bwd_data_direct_##SFX(const fc_conv_geom *g, const T *gy, const T *w,     \
                                          T *gx)                                              \
{ (void)g; (void)gy; (void)w; (void)gx; return FC_ERR_NOTIMPL; }                              \
fc_status fc_conv2d_bwd_weight_direct_##SFX(const fc_conv_geom *g, const T *gy, const T *x,   \
                                            T *gw, T *gb)                                     \
{ (void)g; (void)gy; (void)x; (void)gw; (void)gb; return FC_ERR_NOTIMPL; }
FC_STUB(f32, float)
FC_STUB(f64, double)
