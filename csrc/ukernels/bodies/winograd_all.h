/* Every dtype x tile instance of the Winograd transforms for the tier FC_WISA names (each
 * tier's winograd.c defines it and includes this at its own flags). */
#define FC_T float
#define FC_DT f32
#include "ukernels/bodies/winograd_tiles.h"
#undef FC_T
#undef FC_DT
#define FC_T double
#define FC_DT f64
#include "ukernels/bodies/winograd_tiles.h"
#undef FC_T
#undef FC_DT
