/*
 * fastconv public C API.
 *
 * Plain C99, no Python.  Every array is C-contiguous (NCHW for activations, OIHW for
 * weights) and every size is int64_t.  The Python layer validates arguments and checks
 * that every size product fits in int64 *before* calling in here: these functions trust
 * their geometry and only report allocation failure.
 *
 * Naming: fc_<op>_<pass>_<algo>_<dtype>; dtype suffix f32 = float, f64 = double.
 */
#ifndef FASTCONV_H
#define FASTCONV_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FC_OK = 0,
    FC_ERR_NOMEM = 1,     /* a workspace allocation failed: Python raises MemoryError */
    FC_ERR_NOTIMPL = 2,   /* not built / not implemented: Python raises NotImplementedError */
    FC_ERR_ARG = 3,       /* inconsistent geometry (a bug in the caller): Python raises ValueError */
    FC_ERR_INDEX = 4      /* a pooling index outside its plane: Python raises ValueError */
} fc_status;

/* ---------------------------------------------------------------- runtime ---- */

/* Instruction-set tiers (csrc/tiers.h), numbered from 0 (generic, portable C) upwards, each
 * the child of an earlier one.  A tier is supported when it was built and the CPU and OS have
 * every feature it requires. */
int fc_tier_count(void);
const char *fc_tier_name(int tier);          /* "generic", "avx2", "avx512", ... */
int fc_tier_supported(int tier);
int fc_tier_best(void);
int fc_tier_is_test(int tier);              /* test-only: never the default (csrc/tiers.h) */                      /* the widest supported tier: the default */
int fc_tier_in_use(void);                    /* the tier every dispatcher uses now */
/* Use another supported tier; FC_ERR_ARG when it is not supported.  Not thread-safe with
 * kernels running concurrently: called at import (FASTCONV_ISA) and by tests. */
fc_status fc_tier_select(int tier);
int64_t fc_tier_vector_bytes(int tier);      /* its widest vector (0 when unsupported) */
/* 1 when the tier's FMAs measured at least 1.5x its parent's on this CPU (full-width
 * 512-bit units); 'auto' weighs the GEMM by it.  0 when unsupported or not wider. */
int fc_tier_fma_full_rate(int tier);

/* Records the OpenMP default thread count; called once at import. */
void fc_runtime_init(void);
/* Threads used by every parallel region: the value set here for every Python thread (else
 * the OpenMP default, which honours OMP_NUM_THREADS), lowered by a limit the calling thread
 * put on itself (threadpoolctl), at most 4x the processors. */
void fc_set_num_threads(int n);
int fc_get_num_threads(void);
/* 1 when built with OpenMP. */
int fc_have_openmp(void);
/* Sets the calling thread's own OpenMP limit (as omp_set_num_threads: a limit below the
 * default lowers fc_get_num_threads() in this thread only) and returns the previous one. */
int fc_thread_limit(int n);
/* Threads a parallel region gets now (runs an empty region of fc_get_num_threads()). */
int fc_team_size(void);
/* Fork safety: every entry point that may start threads is bracketed by these, so that a
 * fork() waits for calls in flight; the OpenMP pool is released before each fork and
 * rebuilt on first use afterwards.  fc_fork_safe() is 1 when this build does that;
 * fc_forks_seen() counts the forks this process (or its ancestors) went through. */
void fc_call_enter(void);
void fc_call_leave(void);
int fc_fork_safe(void);
int64_t fc_forks_seen(void);
/* Large kernel workspaces are kept for the next call (csrc/workspace.c): the bytes held now,
 * the most it will hold (FASTCONV_WORKSPACE_MB), and a call that gives them all back. */
int64_t fc_workspace_cached(void);
int64_t fc_workspace_limit(void);
void fc_workspace_release(void);

/* -------------------------------------------------------------- convolution -- */

/* Winograd (3x3, stride 1, dilation 1 only; FC_ERR_ARG elsewhere), all three passes:
 * WINOGRAD is F(2x2,3x3), WINOGRAD_2 / WINOGRAD_4 name F(2x2,3x3) / F(4x4,3x3).  Its
 * backward-weight computes grad_weight; grad_bias comes from the im2col path. */
typedef enum {
    FC_ALGO_AUTO = 0,
    FC_ALGO_DIRECT = 1,
    FC_ALGO_IM2COL = 2,
    FC_ALGO_WINOGRAD = 3,
    FC_ALGO_WINOGRAD_2 = 4,
    FC_ALGO_WINOGRAD_4 = 5,
    /* what 'auto' may resolve to, never an argument: a dilated layer at stride 1 run as the
     * undilated Winograd F(2x2) convolution of its phase images (conv_phases.c) */
    FC_ALGO_WINOGRAD_PHASES = 6
} fc_conv_algo;
/* Winograd's work schedule for forward and backward-data: 0 = chosen per shape (the
 * default), 1 = blocks of tiles, 2 = the deep-layer one (shared input transform, output
 * channels split among items).  Both give the same bits; tests and benchmarks force each.
 * Returns the previous setting; other values leave it unchanged.  Not thread-safe with
 * kernels running concurrently. */
int fc_wino_set_schedule(int schedule);

/*
 * Geometry of a conv2d (cross-correlation) with zero padding.  Non-zero padding modes
 * are handled by the caller by padding the input explicitly.
 *   x: (N, C_in, H, W)   w: (C_out, C_in/groups, kH, kW)   y: (N, C_out, H_out, W_out)
 * pH, pW are the top/left padding; the bottom/right padding is whatever H_out/W_out imply
 * (it may differ from top/left, e.g. padding="same" with an even kernel).  Input taps
 * outside [0, H) x [0, W) read as zero.
 */
typedef struct {
    int64_t N, C_in, H, W;
    int64_t C_out, kH, kW;
    int64_t H_out, W_out;
    int64_t sH, sW;     /* stride   >= 1 */
    int64_t pH, pW;     /* padding  >= 0 (top, left) */
    int64_t dH, dW;     /* dilation >= 1 */
    int64_t groups;     /* divides C_in and C_out */
} fc_conv_geom;

/* Dispatchers: algo FC_ALGO_AUTO picks per shape. */
/* y = conv(x, w) + bias (bias may be NULL).  Overwrites y. */
fc_status fc_conv2d_forward_f32(const fc_conv_geom *g, fc_conv_algo algo, const float *x,
                                const float *w, const float *bias, float *y);
fc_status fc_conv2d_forward_f64(const fc_conv_geom *g, fc_conv_algo algo, const double *x,
                                const double *w, const double *bias, double *y);
/* The forward pass on strided arrays: element (n, c, h, w) of x is x[n*xs[0] + c*xs[1] +
 * h*xs[2] + w], of y likewise with ys (the last axis contiguous; y's elements distinct and
 * not overlapping x), so that a block of a larger array is read or written in place, as
 * fastconv.dask does.  The direct algorithm works in place; the others (and non-finite
 * weights) run on contiguous copies.  Same results as fc_conv2d_forward_*. */
fc_status fc_conv2d_forward_strided_f32(const fc_conv_geom *g, fc_conv_algo algo,
                                        const float *x, const int64_t xs[3], const float *w,
                                        const float *bias, float *y, const int64_t ys[3]);
fc_status fc_conv2d_forward_strided_f64(const fc_conv_geom *g, fc_conv_algo algo,
                                        const double *x, const int64_t xs[3], const double *w,
                                        const double *bias, double *y, const int64_t ys[3]);
/* gx = d(loss)/dx given gy.  Overwrites gx.  (Also conv_transpose2d's forward.) */
fc_status fc_conv2d_backward_data_f32(const fc_conv_geom *g, fc_conv_algo algo,
                                      const float *gy, const float *w, float *gx);
fc_status fc_conv2d_backward_data_f64(const fc_conv_geom *g, fc_conv_algo algo,
                                      const double *gy, const double *w, double *gx);
/* gw = d(loss)/dw and gb = sum of gy over N, H_out, W_out.  Either may be NULL (not
 * computed).  Overwrites what it computes. */
fc_status fc_conv2d_backward_weight_f32(const fc_conv_geom *g, fc_conv_algo algo,
                                        const float *gy, const float *x, float *gw, float *gb);
fc_status fc_conv2d_backward_weight_f64(const fc_conv_geom *g, fc_conv_algo algo,
                                        const double *gy, const double *x, double *gw,
                                        double *gb);

/* The algorithm FC_ALGO_AUTO resolves to for this geometry and pass
 * (0 forward, 1 backward-data, 2 backward-weight); itemsize 4 or 8. */
fc_conv_algo fc_conv2d_choose_algo(const fc_conv_geom *g, int pass, int itemsize);

/*
 * conv3d: the same three passes on (N, C, D, H, W) arrays and (C_out, C_in/groups, kD, kH,
 * kW) weights, zero padding (front/top/left given; back/bottom/right implied by the output
 * size).  The depth taps are unfolded into channels and the 2-D algorithm of that name
 * runs on the result (csrc/conv/conv3d.c): Winograd where the spatial kernel is 3x3 at
 * spatial stride and dilation 1 (FC_ERR_ARG elsewhere).  Same ownership rules as conv2d.
 */
typedef struct {
    int64_t N, C_in, D, H, W;
    int64_t C_out, kD, kH, kW;
    int64_t D_out, H_out, W_out;
    int64_t sD, sH, sW;     /* stride   >= 1 */
    int64_t pD, pH, pW;     /* padding  >= 0 (front, top, left) */
    int64_t dD, dH, dW;     /* dilation >= 1 */
    int64_t groups;
} fc_conv3d_geom;

fc_status fc_conv3d_forward_f32(const fc_conv3d_geom *g, fc_conv_algo algo, const float *x,
                                const float *w, const float *bias, float *y);
fc_status fc_conv3d_forward_f64(const fc_conv3d_geom *g, fc_conv_algo algo, const double *x,
                                const double *w, const double *bias, double *y);
fc_status fc_conv3d_backward_data_f32(const fc_conv3d_geom *g, fc_conv_algo algo,
                                      const float *gy, const float *w, float *gx);
fc_status fc_conv3d_backward_data_f64(const fc_conv3d_geom *g, fc_conv_algo algo,
                                      const double *gy, const double *w, double *gx);
fc_status fc_conv3d_backward_weight_f32(const fc_conv3d_geom *g, fc_conv_algo algo,
                                        const float *gy, const float *x, float *gw, float *gb);
fc_status fc_conv3d_backward_weight_f64(const fc_conv3d_geom *g, fc_conv_algo algo,
                                        const double *gy, const double *x, double *gw,
                                        double *gb);
/* What AUTO runs for this 3-D geometry and pass. */
fc_conv_algo fc_conv3d_choose_algo(const fc_conv3d_geom *g, int pass, int itemsize);

/* unfold (im2col) and fold (col2im) of conv geometry g (groups 1, C_out ignored):
 * cols (N, C_in*kH*kW, H_out*W_out), row (c*kH + i)*kW + j, column oh*W_out + ow, taps
 * outside the image zero.  fold overwrites x with the sum of every column's taps. */
fc_status fc_unfold_f32(const fc_conv_geom *g, const float *x, float *cols);
fc_status fc_unfold_f64(const fc_conv_geom *g, const double *x, double *cols);
fc_status fc_fold_f32(const fc_conv_geom *g, const float *cols, float *x);
fc_status fc_fold_f64(const fc_conv_geom *g, const double *cols, double *x);

/* ------------------------------------------------------------------ pooling -- */

/*
 * Geometry of a 2-D pooling over P = N*C independent planes.
 *   x: (P, H, W)   y, indices: (P, H_out, W_out)
 * Window (oh, ow) of max/avg pooling covers input rows oh*sH - pH + i*dH (i < kH) and
 * columns ow*sW - pW + j*dW (j < kW); taps outside [0, H) x [0, W) are padding (-inf for
 * max, zero for avg).  H_out/W_out are given (ceil_mode is the caller's business).
 * Adaptive pooling uses only P, H, W, H_out, W_out: window i covers
 * [floor(i*H/H_out), ceil((i+1)*H/H_out)).
 */
typedef struct {
    int64_t P;              /* planes = N * C */
    int64_t H, W;
    int64_t H_out, W_out;
    int64_t kH, kW;         /* kernel   >= 1 */
    int64_t sH, sW;         /* stride   >= 1 */
    int64_t pH, pW;         /* padding  >= 0 (top, left) */
    int64_t dH, dW;         /* dilation >= 1 (max pooling; 1 for avg) */
    int64_t qH, qW;         /* padding  >= 0 (bottom, right): the padded extent that
                             * count_include_pad counts (per-side padding; = pH, pW when
                             * symmetric) */
} fc_pool_geom;

/* Max pooling.  indices (flat h*W + w in the plane, int64) may be NULL: not computed.
 * Ties go to the first tap in scan order; a NaN tap wins (the last NaN, as PyTorch).
 * A window without any in-bounds tap gives -inf and index -1. */
fc_status fc_max_pool2d_forward_f32(const fc_pool_geom *g, const float *x, float *y,
                                    int64_t *indices);
fc_status fc_max_pool2d_forward_f64(const fc_pool_geom *g, const double *x, double *y,
                                    int64_t *indices);
/* gx = scatter-add of gy at indices, or (indices NULL) at the argmax recomputed from x.
 * Overwrites gx.  Every index is checked against [0, H*W) before anything is written
 * through it: FC_ERR_INDEX when one is outside (gx is then partly written). */
fc_status fc_max_pool2d_backward_f32(const fc_pool_geom *g, const float *gy,
                                     const int64_t *indices, const float *x, float *gx);
fc_status fc_max_pool2d_backward_f64(const fc_pool_geom *g, const double *gy,
                                     const int64_t *indices, const double *x, double *gx);

/* Average pooling.  divisor_override != 0 replaces the divisor; else count_include_pad
 * counts the window clipped to [-pH, H + qH) x [-pW, W + qW), or (0) only in-bounds taps. */
fc_status fc_avg_pool2d_forward_f32(const fc_pool_geom *g, int count_include_pad,
                                    int64_t divisor_override, const float *x, float *y);
fc_status fc_avg_pool2d_forward_f64(const fc_pool_geom *g, int count_include_pad,
                                    int64_t divisor_override, const double *x, double *y);
fc_status fc_avg_pool2d_backward_f32(const fc_pool_geom *g, int count_include_pad,
                                     int64_t divisor_override, const float *gy, float *gx);
fc_status fc_avg_pool2d_backward_f64(const fc_pool_geom *g, int count_include_pad,
                                     int64_t divisor_override, const double *gy, double *gx);

/* Adaptive pooling (H, W >= 1; H_out, W_out >= 0). */
fc_status fc_adaptive_avg_pool2d_forward_f32(const fc_pool_geom *g, const float *x, float *y);
fc_status fc_adaptive_avg_pool2d_forward_f64(const fc_pool_geom *g, const double *x,
                                             double *y);
fc_status fc_adaptive_avg_pool2d_backward_f32(const fc_pool_geom *g, const float *gy,
                                              float *gx);
fc_status fc_adaptive_avg_pool2d_backward_f64(const fc_pool_geom *g, const double *gy,
                                              double *gx);
fc_status fc_adaptive_max_pool2d_forward_f32(const fc_pool_geom *g, const float *x, float *y,
                                             int64_t *indices);
fc_status fc_adaptive_max_pool2d_forward_f64(const fc_pool_geom *g, const double *x,
                                             double *y, int64_t *indices);
fc_status fc_adaptive_max_pool2d_backward_f32(const fc_pool_geom *g, const float *gy,
                                              const int64_t *indices, const float *x,
                                              float *gx);
fc_status fc_adaptive_max_pool2d_backward_f64(const fc_pool_geom *g, const double *gy,
                                              const int64_t *indices, const double *x,
                                              double *gx);

/*
 * 3-D pooling over P = N*C volumes: x (P, D, H, W), y and indices (P, D_out, H_out, W_out),
 * indices flat (d*H + h)*W + w in the volume.  Every rule as the 2-D functions above, with a
 * depth axis (front padding pD, back qD) in front of the rows.
 */
typedef struct {
    int64_t P;
    int64_t D, H, W;
    int64_t D_out, H_out, W_out;
    int64_t kD, kH, kW;
    int64_t sD, sH, sW;
    int64_t pD, pH, pW;     /* front, top, left */
    int64_t dD, dH, dW;
    int64_t qD, qH, qW;     /* back, bottom, right */
} fc_pool3d_geom;

#define FC_POOL3D_DECLARE(SFX, T)                                                            \
    fc_status fc_max_pool3d_forward_##SFX(const fc_pool3d_geom *g, const T *x, T *y,        \
                                          int64_t *indices);                                \
    fc_status fc_max_pool3d_backward_##SFX(const fc_pool3d_geom *g, const T *gy,            \
                                           const int64_t *indices, const T *x, T *gx);      \
    fc_status fc_avg_pool3d_forward_##SFX(const fc_pool3d_geom *g, int count_include_pad,   \
                                          int64_t divisor_override, const T *x, T *y);      \
    fc_status fc_avg_pool3d_backward_##SFX(const fc_pool3d_geom *g, int count_include_pad,  \
                                           int64_t divisor_override, const T *gy, T *gx);   \
    fc_status fc_adaptive_avg_pool3d_forward_##SFX(const fc_pool3d_geom *g, const T *x,     \
                                                   T *y);                                   \
    fc_status fc_adaptive_avg_pool3d_backward_##SFX(const fc_pool3d_geom *g, const T *gy,   \
                                                    T *gx);                                 \
    fc_status fc_adaptive_max_pool3d_forward_##SFX(const fc_pool3d_geom *g, const T *x,     \
                                                   T *y, int64_t *indices);                 \
    fc_status fc_adaptive_max_pool3d_backward_##SFX(const fc_pool3d_geom *g, const T *gy,   \
                                                    const int64_t *indices, const T *x,     \
                                                    T *gx);
FC_POOL3D_DECLARE(f32, float)
FC_POOL3D_DECLARE(f64, double)

#ifdef __cplusplus
}
#endif
#endif /* FASTCONV_H */
