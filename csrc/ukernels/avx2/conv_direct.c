/* The avx2 tier's direct-conv micro-kernels: the shared bodies (bodies/dconv_body.h) at
 * 256-bit width. */
#include "ukernels/bodies/vec_avx2.h"
#include "ukernels/bodies/dconv_body.h"

#define FC_TAPS(MR, NV) FC_DCONV_TAP_BODY(float, f32, MR, NV, avx2) \
                        FC_DCONV_TAP_BODY(double, f64, MR, NV, avx2)
FC_DCONV_SHAPES(FC_TAPS)

FC_DCONV_GW_BODY(float, f32, 4, 3, avx2)
FC_DCONV_GW_BODY(float, f32, 1, 9, avx2)
FC_DCONV_GW_BODY(double, f64, 4, 3, avx2)
FC_DCONV_GW_BODY(double, f64, 1, 9, avx2)
