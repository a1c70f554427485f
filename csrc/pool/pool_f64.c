/* float64 pooling kernels: see pool_impl.h. */
#define T double
#define SFX f64
#include "pool_impl.h"
