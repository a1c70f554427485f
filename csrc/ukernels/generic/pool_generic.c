/* Portable pooling row micro-kernels, float32 and float64 (see pool/pool_generic_impl.h). */
#define T float
#define SFX f32
#include "pool/pool_generic_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#include "pool/pool_generic_impl.h"

void fc_pool_fence__generic(void)
{
    /* the portable copyz uses ordinary stores: nothing to order */
}
