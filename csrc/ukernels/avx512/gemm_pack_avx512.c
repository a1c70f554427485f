/* The avx512 tier's transposing B-panel packers for its NR (32 floats, 16 doubles) and A-panel
 * packers for its MR (12), from the 256-bit register transposes. */
#include "fastconv_ukernel.h"
#include "ukernels/avx512/tier_name.h"
#include "ukernels/bodies/transpose256.h"

FC_PACKT_BODY(FC_512_NAME(fc_f32_gemm_packt_32__), float, 32, 8, transpose8_ps)
FC_PACKT_BODY(FC_512_NAME(fc_f64_gemm_packt_16__), double, 16, 4, transpose4_pd)
FC_PACKA_BODY(FC_512_NAME(fc_f32_gemm_packa_12__), float, 12, 8, transpose8_ps)
FC_PACKA_BODY(FC_512_NAME(fc_f64_gemm_packa_12__), double, 12, 4, transpose4_pd)
