/* Entry points of the two conv2d algorithms; csrc/conv/conv.c dispatches between them.
 * Same contracts as the fc_conv2d_* functions of fastconv.h (arguments already valid). */
#ifndef FC_CONV_INTERNAL_H
#define FC_CONV_INTERNAL_H
#include "fastconv.h"
#include "parallel.h"

#define FC_CONV_DECLARE(ALGO, SFX, T)                                                       \
    fc_status fc_conv2d_fwd_##ALGO##_##SFX(const fc_conv_geom *g, const T *x, const T *w,  \
                                           const T *bias, T *y);                            \
    fc_status fc_conv2d_bwd_data_##ALGO##_##SFX(const fc_conv_geom *g, const T *gy,        \
                                                const T *w, T *gx);                         \
    fc_status fc_conv2d_bwd_weight_##ALGO##_##SFX(const fc_conv_geom *g, const T *gy,      \
                                                  const T *x, T *gw, T *gb);

FC_CONV_DECLARE(direct, f32, float)
/* The direct forward on strided x and y (fastconv.h's fc_conv2d_forward_strided_*),
 * finite weights only. */
fc_status fc_conv2d_fwd_direct_strided_f32(const fc_conv_geom *g, const float *x,
                                           const int64_t *xs, const float *w, const float *bias,
                                           float *y, const int64_t *ys);
fc_status fc_conv2d_fwd_direct_strided_f64(const fc_conv_geom *g, const double *x,
                                           const int64_t *xs, const double *w,
                                           const double *bias, double *y, const int64_t *ys);
FC_CONV_DECLARE(direct, f64, double)
FC_CONV_DECLARE(im2col, f32, float)
FC_CONV_DECLARE(im2col, f64, double)

/* Winograd F(tile x tile, 3x3), tile 2 or 4 (conv_winograd.c); FC_ERR_ARG unless the
 * geometry is 3x3 at stride 1 and dilation 1.  Finite data only (conv.c checks). */
#define FC_WINO_DECLARE(SFX, T)                                                             \
    fc_status fc_conv2d_fwd_winograd_##SFX(const fc_conv_geom *g, int tile, const T *x,     \
                                           const T *w, const T *bias, T *y);                \
    fc_status fc_conv2d_bwd_data_winograd_##SFX(const fc_conv_geom *g, int tile,           \
                                                const T *gy, const T *w, T *gx);             \
    fc_status fc_conv2d_bwd_weight_winograd_##SFX(const fc_conv_geom *g, int tile,         \
                                                  const T *gy, const T *x, T *gw);
FC_WINO_DECLARE(f32, float)
FC_WINO_DECLARE(f64, double)
/* The fc_conv2d_* dispatchers (fastconv.h) for a caller that has already found every value the
 * algorithm needs finite when `scanned` is 1 (conv3d.c: its chunks' unfolded copies would
 * be scanned kD times over): the weights and x (forward), gy (backward-data), gy and x
 * (backward-weight) for Winograd; the weights (forward, backward-data), gy (backward-weight)
 * for im2col.  0: they scan as the public ones. */
#define FC_SCANNED_DECLARE(SFX, T)                                                          \
    fc_status fc_conv2d_forward_scanned_##SFX(const fc_conv_geom *g, fc_conv_algo algo,    \
                                              const T *x, const T *w, const T *bias, T *y, \
                                              int scanned);                                 \
    fc_status fc_conv2d_backward_data_scanned_##SFX(const fc_conv_geom *g, fc_conv_algo algo, \
                                                    const T *gy, const T *w, T *gx,        \
                                                    int scanned);                           \
    fc_status fc_conv2d_backward_weight_scanned_##SFX(const fc_conv_geom *g,               \
                                                      fc_conv_algo algo, const T *gy,      \
                                                      const T *x, T *gw, T *gb, int scanned);
FC_SCANNED_DECLARE(f32, float)
FC_SCANNED_DECLARE(f64, double)
/* 1 when Winograd serves the geometry. */
int fc_wino_serves(const fc_conv_geom *g);

/* Dilated convolution by phases (conv_phases.c): 1 when g (stride 1, some dilation > 1)
 * splits into the undilated convolution of its phase images, whose geometry goes to *ph
 * (if not NULL).  The passes run algo on that geometry through the dispatchers. */
int fc_conv2d_phases_geom(const fc_conv_geom *g, fc_conv_geom *ph);
#define FC_PHASES_DECLARE(SFX, T)                                                           \
    fc_status fc_conv2d_fwd_phases_##SFX(const fc_conv_geom *g, fc_conv_algo algo,         \
                                         const T *x, const T *w, const T *bias, T *y);      \
    fc_status fc_conv2d_bwd_data_phases_##SFX(const fc_conv_geom *g, fc_conv_algo algo,    \
                                              const T *gy, const T *w, T *gx);              \
    fc_status fc_conv2d_bwd_weight_phases_##SFX(const fc_conv_geom *g, fc_conv_algo algo,  \
                                                const T *gy, const T *x, T *gw, T *gb);
FC_PHASES_DECLARE(f32, float)
FC_PHASES_DECLARE(f64, double)

/* grad_bias alone: per channel, the sum of gy over the images and pixels (conv_direct.c). */
fc_status fc_conv2d_grad_bias_f32(const fc_conv_geom *g, const float *gy, float *gb);
fc_status fc_conv2d_grad_bias_f64(const fc_conv_geom *g, const double *gy, double *gb);

/* 'auto' measured for 16-register tiers (the table in conv.c): the generic tier's rule,
 * inherited by every tier that has not measured its own. */
fc_conv_algo fc_conv2d_choose_algo_16reg(const fc_conv_geom *g, int pass, int itemsize,
                                         int allow_wino);
/* The rule measured for 32-register, 16-lane tiers (conv.c). */
/* Whether the direct forward / weight gradient run vectorised along output channels
 * (conv_direct.c). */
int fc_direct_chanvec_pays(const fc_conv_geom *g);
int fc_direct_chanvec_weight_pays(const fc_conv_geom *g);
fc_conv_algo fc_conv2d_choose_algo_32reg(const fc_conv_geom *g, int pass, int itemsize,
                                         int allow_wino);
/* 'auto' without Winograd: the 3-D convolutions (conv3d.c), whose shapes the error table
 * does not cover. */
fc_conv_algo fc_conv2d_choose_algo_nowino(const fc_conv_geom *g, int pass, int itemsize);

#endif
