/* The avx512emu test tier (csrc/tiers.h): the avx512 tier's conv_direct.c on emulated 16-lane
 * vectors (bodies/vec_avx512emu.h), built at AVX2 width. */
#define FC_512 avx512emu
#define FC_512_EMULATED 1
#include "ukernels/bodies/vec_avx512emu.h"
#include "ukernels/avx512/conv_direct.c"
