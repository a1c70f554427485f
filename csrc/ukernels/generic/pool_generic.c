/* Portable pooling row micro-kernels, float32 and float64 (see pool_generic_impl.h). */
#include "ukernels/generic/pool_generic.h"
#define T float
#define SFX f32
#include "ukernels/generic/pool_generic_impl.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#include "ukernels/generic/pool_generic_impl.h"

void fc_pool_fence__generic(void)
{
    /* the portable copyz uses ordinary stores: nothing to order */
}
