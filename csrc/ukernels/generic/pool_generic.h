/* The generic tier's pooling row kernels (contracts: csrc/pool/pool_internal.h), which the
 * vector tiers also call for their tails. */
#ifndef FC_POOL_GENERIC_H
#define FC_POOL_GENERIC_H
#include "pool/pool_internal.h"

FC_POOL_UKERNELS(f32, float, generic)
FC_POOL_UKERNELS(f64, double, generic)
void fc_pool_fence__generic(void);

#endif
