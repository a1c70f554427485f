/* Vector vocabulary of the 512-bit tier (AVX-512 F/BW/DQ/VL, 32 zmm registers) for the
 * ISA-neutral kernel bodies in this folder; the same names as vec_avx2.h. */
#ifndef FC_VEC_AVX512_H
#define FC_VEC_AVX512_H
#include <immintrin.h>
#include <stdint.h>

#define FC_NREGS 32

#define V_f32 __m512
#define L_f32 16
#define LOAD_f32 _mm512_loadu_ps
#define BCAST_f32(p) _mm512_set1_ps(*(p))
#define FMA_f32 _mm512_fmadd_ps
#define ADD_f32 _mm512_add_ps
#define STORE_f32 _mm512_storeu_ps
#define ZERO_f32 _mm512_setzero_ps
#define MASK_f32 __mmask16
#define MAKE_MASK_f32(n) ((__mmask16)((1u << (n)) - 1u))
#define MLOAD_f32(p, m) _mm512_maskz_loadu_ps((m), (p))
#define HSUM_f32 _mm512_reduce_add_ps

#define V_f64 __m512d
#define L_f64 8
#define LOAD_f64 _mm512_loadu_pd
#define BCAST_f64(p) _mm512_set1_pd(*(p))
#define FMA_f64 _mm512_fmadd_pd
#define ADD_f64 _mm512_add_pd
#define STORE_f64 _mm512_storeu_pd
#define ZERO_f64 _mm512_setzero_pd
#define MASK_f64 __mmask8
#define MAKE_MASK_f64(n) ((__mmask8)((1u << (n)) - 1u))
#define MLOAD_f64(p, m) _mm512_maskz_loadu_pd((m), (p))
#define HSUM_f64 _mm512_reduce_add_pd

#endif
