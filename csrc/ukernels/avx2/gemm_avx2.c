/* The avx2 tier's GEMM micro-kernels: the shared body (bodies/gemm_body.h) at 256-bit width.
 * 6 x 2 vectors: 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers; per
 * step 2 loads, 6 broadcasts, 12 FMAs, which keeps both FMA pipes of Zen 3 / Haswell busy. */
#include "ukernels/bodies/vec_avx2.h"
#include "ukernels/bodies/gemm_body.h"

FC_GEMM_BODY(float, f32, 6, 2, 16, avx2)
FC_GEMM_BODY(double, f64, 6, 2, 8, avx2)
FC_GEMMX_BODY(float, f32, 6, 2, 16, avx2)
FC_GEMMX_BODY(double, f64, 6, 2, 8, avx2)
FC_GEMMR_BODY(float, f32, 6, 2, 16, avx2)
FC_GEMMR_BODY(double, f64, 6, 2, 8, avx2)
