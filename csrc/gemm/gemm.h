/*
 * Internal GEMM layer: micro-kernel selection, cache blocking, packing, and a plain
 * strided GEMM driver.  The conv im2col algorithm reuses the kernels, blocking and
 * packers with its own operand packers (csrc/gemm/im2col_impl.h).
 *
 * Packed layouts (what the micro-kernels read, see fastconv_ukernel.h):
 *   A block (m x kc):  ceil(m/MR) panels, panel q at q*MR*kc, element (i, p) of the panel
 *                      at p*MR + i; rows beyond m are zero.
 *   B block (kc x n):  ceil(n/NR) panels, panel q at q*NR*kc, element (p, j) at p*NR + j;
 *                      columns beyond n are zero.
 */
#ifndef FC_GEMM_H
#define FC_GEMM_H
#include <stdint.h>
#include "parallel.h"
#include <stddef.h>
#include "fastconv_ukernel.h"

/* Upper bound on NR over all kernels (sizes small on-stack arrays). */
#define FC_GEMM_NR_MAX 32
/* Upper bound on MR over all kernels. */
#define FC_GEMM_MR_MAX 16

/* A micro-kernel and the blocking that goes with it (all sizes in elements):
 * MC rows of A (a multiple of MR) x KC steps stay in L2, a KC x NR panel of B in L1,
 * NC columns of B (a multiple of NR) per packed B block. */
#define FC_GEMM_DESC(DT, T)                                                                 \
    typedef struct {                                                                        \
        const char *name;                                                                   \
        int64_t mr, nr, mc, kc, nc;                                                         \
        fc_##DT##_gemm_ukernel ukr;                                                         \
        fc_##DT##_gemm_packt packt;   /* transposing B packer for this NR */                \
        fc_##DT##_gemm_packt packa;   /* transposing A packer for this MR (packt's type) */ \
        fc_##DT##_gemmx_ukernel gemmx;   /* the kernel with A gathered by offsets */       \
        fc_##DT##_gemmr_ukernel gemmr;   /* the kernel with A's rows read in place */      \
    } fc_gemm_desc_##DT;                                                                    \
    /* Kernel + blocking of the tier in use (tier.h). */                                     \
    const fc_gemm_desc_##DT *fc_gemm_select_##DT(void);                                       \
    void fc_gemm_pack_a_##DT(const fc_gemm_desc_##DT *d, int64_t m, int64_t kc,             \
                             const T *a, int64_t rs, int64_t cs, T *dst);                   \
    void fc_gemm_pack_b_##DT(const fc_gemm_desc_##DT *d, int64_t kc, int64_t n,             \
                             const T *b, int64_t rs, int64_t cs, T *dst);                   \
    /* C (m x n, row stride ldc) = (acc ? C : 0) + A (m x k) * B (k x n); A and B any       \
     * element strides (negative too).  Serial.  FC_ERR_NOMEM when packing buffers cannot   \
     * be allocated. */                                                                     \
    fc_status fc_gemm_##DT(int64_t m, int64_t n, int64_t k, const T *a, int64_t rs_a,       \
                           int64_t cs_a, const T *b, int64_t rs_b, int64_t cs_b, T *c,      \
                           int64_t ldc, int acc);

FC_GEMM_DESC(f32, float)
FC_GEMM_DESC(f64, double)


static inline int64_t fc_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t fc_max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t fc_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t fc_round_up(int64_t a, int64_t b) { return fc_ceil_div(a, b) * b; }
/* Block size <= bmax splitting n into equal-ish blocks (no thin last block). */
static inline int64_t fc_balanced_block(int64_t n, int64_t bmax)
{
    return n <= bmax ? fc_max64(n, 1) : fc_ceil_div(n, fc_ceil_div(n, bmax));
}

#endif
