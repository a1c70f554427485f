/* The generic tier's Winograd tile transforms, built at this folder's flags. */
#define FC_WISA generic
#include "ukernels/bodies/winograd_all.h"
