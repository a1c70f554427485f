/* AVX2 transposing B- and A-panel packers (contract: fastconv_ukernel.h): register transposes of
 * 8x8 float / 4x4 double blocks instead of one scalar store per element. */
#include "fastconv_ukernel.h"
#include "ukernels/bodies/transpose256.h"

FC_PACKT_BODY(fc_f32_gemm_packt_16__avx2, float, 16, 8, transpose8_ps)
FC_PACKT_BODY(fc_f64_gemm_packt_8__avx2, double, 8, 4, transpose4_pd)
FC_PACKA_BODY(fc_f32_gemm_packa_6__avx2, float, 6, 8, transpose8_ps)
FC_PACKA_BODY(fc_f64_gemm_packa_6__avx2, double, 6, 4, transpose4_pd)
