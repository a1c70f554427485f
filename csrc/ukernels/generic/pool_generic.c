/* Portable pooling row micro-kernels, float32 and float64 (see pool/pool_generic_impl.h). */
#define T float
#define SFX f32
#include "pool/pool_generic_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#include "pool/pool_generic_impl.h"

int fc_pool_irange__generic(const int64_t *idx, int64_t n, int64_t limit)
{
    int bad = 0;
    for (int64_t i = 0; i < n; ++i)
        /* one unsigned compare also rejects negatives */
        bad |= (uint64_t)idx[i] >= (uint64_t)limit;
    return !bad;
}

void fc_pool_fence__generic(void)
{
    /* the portable copyz uses ordinary stores: nothing to order */
}
