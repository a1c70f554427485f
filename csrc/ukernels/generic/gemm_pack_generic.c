/* Portable transposing panel packers (contract: fastconv_ukernel.h): B's packt (NR rows) and
 * A's packa (MR rows) are the same transpose, dst[p*N + j] = rows[j][p]. */
#include "fastconv_ukernel.h"

#define FC_GEMM_TRANSPOSE_GENERIC(DT, T, KIND, N)                                            \
void fc_##DT##_gemm_##KIND##_##N##__generic(int64_t kc, const T *const *rows, T *dst)        \
{                                                                                            \
    for (int64_t p = 0; p < kc; p++)                                                         \
        for (int j = 0; j < N; j++)                                                          \
            dst[p * N + j] = rows[j][p];                                                     \
}

FC_GEMM_TRANSPOSE_GENERIC(f32, float, packt, 16)
FC_GEMM_TRANSPOSE_GENERIC(f64, double, packt, 8)
FC_GEMM_TRANSPOSE_GENERIC(f32, float, packa, 4)
FC_GEMM_TRANSPOSE_GENERIC(f64, double, packa, 4)
