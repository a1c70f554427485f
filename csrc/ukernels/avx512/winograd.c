/* The avx512 tier's Winograd tile transforms, built at this folder's flags. */
#define FC_WISA avx512
#include "ukernels/bodies/winograd_all.h"
