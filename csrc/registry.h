/* The micro-kernel registry (registry.c). */
#ifndef FC_REGISTRY_H
#define FC_REGISTRY_H

enum { FC_UK_GEMM = 0, FC_UK_PACKT = 1, FC_UK_DCONV = 2, FC_UK_DCONVGW = 3, FC_UK_PROBE = 4 };

typedef struct {
    const char *name;      /* fc_<name>: <dtype>_<op>_<tile>__<tier> */
    int kind;              /* FC_UK_* */
    int itemsize;          /* 4 (float32) or 8 (float64) */
    int tier;              /* the tier that has it (the first, when children inherit it) */
    int mr, nr;            /* tile: rows x columns (dconv: channels x grid points; gw: taps) */
    int lanes;             /* vector lanes its tiles count in (dconv) */
    double flops_per_iter; /* probe: flops of one iteration */
    const void *fn;
} fc_ukernel_info;

int fc_ukernel_count(void);
const fc_ukernel_info *fc_ukernel_get(int i);

#endif
