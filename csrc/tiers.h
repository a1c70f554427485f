/*
 * The instruction-set tiers, parent before child, one line each:
 *     X(name, parent, required capabilities (FC_CAP_* of tier.h), test-only)
 * A test-only tier is never the default and is not listed by available_isas(); the tests
 * (and FASTCONV_ISA) select it.  avx512emu builds the avx512 tier's kernel bodies on
 * emulated 16-lane vectors at AVX2 width, so that they are tested on CPUs without AVX-512.
 * A tier's kernels live in csrc/ukernels/<name>/ (built with the flags in that folder's FLAGS
 * file), its setup in csrc/ukernels/<name>/tier.c.  Adding a tier is adding its folder and
 * its line here.
 */
#define FC_TIERS(X)                                                                           \
    X(generic, generic, 0, 0)                                                                 \
    X(avx2, generic, FC_CAP_AVX2 | FC_CAP_FMA, 0)                                             \
    X(avx512emu, avx2, FC_CAP_AVX2 | FC_CAP_FMA, 1)                                           \
    X(avx512, avx2, FC_CAP_AVX2 | FC_CAP_FMA | FC_CAP_AVX512F | FC_CAP_AVX512BW |              \
                    FC_CAP_AVX512DQ | FC_CAP_AVX512VL, 0)
