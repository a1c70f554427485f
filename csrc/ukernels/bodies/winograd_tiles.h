/* Both tile sizes of the Winograd transforms for the dtype FC_T / FC_DT (winograd_all.h). */
#define FC_WM 2
#include "ukernels/bodies/winograd_body.h"
#undef FC_WM
#define FC_WM 4
#include "ukernels/bodies/winograd_body.h"
#undef FC_WM
