/* The avx512 tier's GEMM micro-kernels: the shared body (bodies/gemm_body.h) at 512-bit
 * width.  12 x 2 vectors: 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm
 * registers; per step 2 loads, 12 broadcasts, 24 FMAs. */
#include "ukernels/bodies/vec_avx512.h"
#include "ukernels/bodies/gemm_body.h"

FC_GEMM_BODY(float, f32, 12, 2, 32, avx512)
FC_GEMM_BODY(double, f64, 12, 2, 16, avx512)
