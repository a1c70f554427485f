/* float32 pooling kernels: see pool_impl.h. */
#define T float
#define SFX f32
#include "pool_impl.h"
