/* Instruction-set selection: detected once from cpuid, overridable (FASTCONV_ISA, tests). */
#include "fastconv.h"

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#define FC_X86 1
#endif

static int g_isa = -1;   /* -1: not yet detected */

fc_isa fc_detect_isa(void)
{
#if defined(FC_X86) && (defined(__GNUC__) || defined(__clang__))
    /* __builtin_cpu_supports also checks that the OS saves YMM state (XCR0). */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FC_ISA_AVX2;
#endif
    return FC_ISA_GENERIC;
}

fc_isa fc_get_isa(void)
{
    if (g_isa < 0)
        g_isa = (int)fc_detect_isa();
    return (fc_isa)g_isa;
}

fc_status fc_set_isa(fc_isa isa)
{
    if (isa == FC_ISA_GENERIC) {
        g_isa = FC_ISA_GENERIC;
        return FC_OK;
    }
    if (isa == FC_ISA_AVX2 && fc_detect_isa() == FC_ISA_AVX2) {
        g_isa = FC_ISA_AVX2;
        return FC_OK;
    }
    return FC_ERR_ARG;
}

const char *fc_isa_name(fc_isa isa)
{
    switch (isa) {
    case FC_ISA_AVX2: return "avx2";
    case FC_ISA_GENERIC: return "generic";
    }
    return "unknown";
}
