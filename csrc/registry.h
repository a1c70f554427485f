/* The micro-kernel registry (registry.c). */
#ifndef FC_REGISTRY_H
#define FC_REGISTRY_H
#include <stdint.h>

enum { FC_UK_GEMM = 0, FC_UK_PACKT = 1, FC_UK_DCONV = 2, FC_UK_DCONVGW = 3, FC_UK_PROBE = 4,
       FC_UK_POOL = 5, FC_UK_GEMMX = 6, FC_UK_GEMMR = 7 };

/* The pooling row kernels (contracts in csrc/pool/pool_internal.h), in the order of
 * FC_POOL_OP_NAMES. */
enum { FC_POOL_OP_VMAX, FC_POOL_OP_VSUM, FC_POOL_OP_HMAX, FC_POOL_OP_HSUM, FC_POOL_OP_HARGMAX,
       FC_POOL_OP_BWD2X2, FC_POOL_OP_BWD2X2I, FC_POOL_OP_VDIV, FC_POOL_OP_COPYZ,
       FC_POOL_OP_FENCE, FC_POOL_OP_SCATTER, FC_POOL_OP_RMAX, FC_POOL_OP_RSUM,
       FC_POOL_OP_RSUMS, FC_POOL_NOPS };
#define FC_POOL_OP_NAMES {"vmax", "vsum", "hmax", "hsum", "hargmax", "bwd2x2", "bwd2x2i", \
                          "vdiv", "copyz", "fence", "scatter", "rmax", "rsum", "rsums"}

typedef struct {
    const char *name;      /* fc_<name>: <dtype>_<op>_<tile>__<tier> */
    int kind;              /* FC_UK_* */
    int itemsize;          /* 4 (float32) or 8 (float64) */
    int tier;              /* the tier that has it (the first, when children inherit it) */
    int mr, nr;            /* tile: rows x columns (dconv: channels x grid points; gw: taps) */
    int lanes;             /* vector lanes its tiles count in (dconv) */
    double flops_per_iter; /* probe: flops of one iteration */
    int op;                /* pool: which row kernel (FC_POOL_OP_*) */
    const void *fn;
} fc_ukernel_info;

int fc_ukernel_count(void);
const fc_ukernel_info *fc_ukernel_get(int i);
/* Calls pooling row kernel i (see registry.c); 0 when i is not one. */
int fc_ukernel_pool_call(int i, void *const *p, const int64_t *n, double scalar, double *ret);

#endif
