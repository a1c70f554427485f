/* The avx512 tier's direct-conv micro-kernels: the shared bodies (bodies/dconv_body.h) at
 * 512-bit width, over the 32-register tile list of tier.c. */
#include "ukernels/bodies/vec_avx512.h"
#include "ukernels/bodies/dconv_body.h"
#include "ukernels/avx512/shapes.h"

#define FC_TAPS(MR, NV) FC_DCONV_TAP_BODY(float, f32, MR, NV, avx512) \
                        FC_DCONV_TAP_BODY(double, f64, MR, NV, avx512)
FC_DCONV_SHAPES_32(FC_TAPS)

FC_DCONV_GW_BODY(double, f64, 4, 3, avx512)
FC_DCONV_GW_BODY(double, f64, 1, 9, avx512)
