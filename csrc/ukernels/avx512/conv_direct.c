/* The avx512 tier's direct-conv micro-kernels: the shared bodies (bodies/dconv_body.h) at
 * 512-bit width, over the 32-register tile list of tier.c. */
#include "ukernels/avx512/tier_name.h"
#include "ukernels/bodies/dconv_body.h"
#include "ukernels/avx512/shapes.h"

#define FC_TAP_X(T, DT, MR, NV, ISA) FC_DCONV_TAP_BODY(T, DT, MR, NV, ISA)
#define FC_GW_X(T, DT, MR, TB, ISA) FC_DCONV_GW_BODY(T, DT, MR, TB, ISA)
#define FC_TAPS(MR, NV) FC_TAP_X(float, f32, MR, NV, FC_512) \
                        FC_TAP_X(double, f64, MR, NV, FC_512)
FC_DCONV_SHAPES_32(FC_TAPS)

FC_GW_X(double, f64, 4, 3, FC_512)
FC_GW_X(double, f64, 1, 9, FC_512)
