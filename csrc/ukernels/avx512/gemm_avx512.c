/* The avx512 tier's GEMM micro-kernels: the shared body (bodies/gemm_body.h) at 512-bit
 * width.  12 x 2 vectors: 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm
 * registers; per step 2 loads, 12 broadcasts, 24 FMAs. */
#include "ukernels/avx512/tier_name.h"
#include "ukernels/bodies/gemm_body.h"

#define FC_GEMM_X(T, DT, MR, NV, NRNAME, ISA) FC_GEMM_BODY(T, DT, MR, NV, NRNAME, ISA)
FC_GEMM_X(float, f32, 12, 2, 32, FC_512)
FC_GEMM_X(double, f64, 12, 2, 16, FC_512)
#define FC_GEMMX_X(T, DT, MR, NV, NRNAME, ISA) FC_GEMMX_BODY(T, DT, MR, NV, NRNAME, ISA)
FC_GEMMX_X(float, f32, 12, 2, 32, FC_512)
FC_GEMMX_X(double, f64, 12, 2, 16, FC_512)
#define FC_GEMMR_X(T, DT, MR, NV, NRNAME, ISA) FC_GEMMR_BODY(T, DT, MR, NV, NRNAME, ISA)
FC_GEMMR_X(float, f32, 12, 2, 32, FC_512)
FC_GEMMR_X(double, f64, 12, 2, 16, FC_512)
