/* The name the avx512 tier's sources build under: "avx512" with the 512-bit vocabulary, or
 * whatever a tier that reuses them defines first (avx512emu: the same bodies on emulated
 * 16-lane vectors).  The *_X macros expand FC_512 before pasting it into a name. */
#ifndef FC_AVX512_TIER_NAME_H
#define FC_AVX512_TIER_NAME_H
#ifndef FC_512
#define FC_512 avx512
#include "ukernels/bodies/vec_avx512.h"
#endif
#define FC_512_PASTE_(a, b) a##b
#define FC_512_PASTE(a, b) FC_512_PASTE_(a, b)
#define FC_512_NAME(prefix) FC_512_PASTE(prefix, FC_512)
#define FC_512_STR_(x) #x
#define FC_512_STR(x) FC_512_STR_(x)
#endif
