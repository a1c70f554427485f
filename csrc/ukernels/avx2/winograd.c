/* The avx2 tier's Winograd tile transforms, built at this folder's flags. */
#define FC_WISA avx2
#include "ukernels/bodies/winograd_all.h"
