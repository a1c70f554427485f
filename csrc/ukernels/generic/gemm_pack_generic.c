/* Portable transposing B-panel packers (contract: fastconv_ukernel.h). */
#include "fastconv_ukernel.h"

#define FC_GEMM_PACKT_GENERIC(DT, T, NR)                                                     \
void fc_##DT##_gemm_packt_##NR##__generic(int64_t kc, const T *const *rows, T *dst)          \
{                                                                                            \
    for (int64_t p = 0; p < kc; p++)                                                         \
        for (int j = 0; j < NR; j++)                                                         \
            dst[p * NR + j] = rows[j][p];                                                    \
}

FC_GEMM_PACKT_GENERIC(f32, float, 16)
FC_GEMM_PACKT_GENERIC(f64, double, 8)
