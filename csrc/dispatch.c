/* Instruction-set tiers: CPU capabilities, the descriptor table built once, the tier in use
 * (detected as the widest supported, overridable by FASTCONV_ISA and the tests). */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tier.h"
#include "tiers.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define FC_X86_CPUID 1
#endif

/* A tier whose folder the build dropped (compiler without its flags) has no setup function:
 * the weak reference is then NULL and the tier is listed but never supported. */
#define FC_DECLARE_SETUP(name, parent, req, test) \
    extern void fc_tier_setup__##name(fc_tier *t) __attribute__((weak));
FC_TIERS(FC_DECLARE_SETUP)

typedef struct {
    const char *name, *parent;
    uint64_t requires;
    int test;
    void (*setup)(fc_tier *);
} fc_tier_line;

#define FC_TIER_LINE(name, parent, req, test) \
    {#name, #parent, (uint64_t)(req), test, fc_tier_setup__##name},
static const fc_tier_line k_lines[] = {FC_TIERS(FC_TIER_LINE)};
enum { FC_NTIERS = sizeof(k_lines) / sizeof(k_lines[0]) };

static fc_tier g_tiers[FC_NTIERS];
static int g_supported[FC_NTIERS];
static int g_ready = 0, g_current = 0, g_best = 0;
static uint64_t g_caps = 0;

static uint64_t detect_caps(void)
{
    uint64_t caps = 0;
#ifdef FC_X86_CPUID
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx)
        return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    (void)xhi;
    const int ymm = (xlo & 0x6) == 0x6;      /* SSE and AVX state */
    const int zmm = (xlo & 0xe6) == 0xe6;    /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    if (ymm && ((b >> 5) & 1)) caps |= FC_CAP_AVX2;
    if (ymm && fma) caps |= FC_CAP_FMA;
    if (zmm && ((b >> 16) & 1)) caps |= FC_CAP_AVX512F;
    if (zmm && ((b >> 17) & 1)) caps |= FC_CAP_AVX512DQ;
    if (zmm && ((b >> 30) & 1)) caps |= FC_CAP_AVX512BW;
    if (zmm && ((b >> 31) & 1)) caps |= FC_CAP_AVX512VL;
#endif
    return caps;
}

static int64_t cache_bytes(int name, int64_t fallback)
{
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
    const long v = sysconf(name);
    if (v >= 4096 && v <= (1L << 30))
        return (int64_t)v;
#else
    (void)name;
#endif
    return fallback;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A probe's float32 FMA rate on this thread: the best of seven ~0.1 ms runs (the first ones
 * also wake the core's vector units). */
static double probe_rate(const fc_probe_desc *p)
{
    enum { ITERS = 1 << 14 };
    double best = 0;
    volatile double sink = 0;   /* the runs' results are kept */
    for (int r = 0; r < 7; r++) {
        const double t0 = now_seconds();
        sink += p->fn(ITERS);
        const double dt = now_seconds() - t0;
        if (dt > 0 && p->flops_per_iter * ITERS / dt > best)
            best = p->flops_per_iter * ITERS / dt;
    }
    return best;
}

static int find_line(const char *name)
{
    for (int i = 0; i < FC_NTIERS; i++)
        if (strcmp(k_lines[i].name, name) == 0)
            return i;
    return -1;
}

static void init_tiers(void)
{
    if (g_ready)
        return;
    g_caps = detect_caps();
    for (int i = 0; i < FC_NTIERS; i++) {
        const int p = find_line(k_lines[i].parent);
        const int root = p == i;
        /* parent before child (tiers.h): the parent's support is already known */
        g_supported[i] = k_lines[i].setup != NULL && (root || (p >= 0 && p < i && g_supported[p]))
                         && (g_caps & k_lines[i].requires) == k_lines[i].requires;
        if (!g_supported[i])
            continue;
        if (!root)
            g_tiers[i] = g_tiers[p];
        else
            memset(&g_tiers[i], 0, sizeof(fc_tier));
        g_tiers[i].name = k_lines[i].name;
        g_tiers[i].index = i;
        g_tiers[i].parent = p;
        g_tiers[i].requires = k_lines[i].requires;
        if (root) {
            g_tiers[i].l1d_bytes = cache_bytes(
#ifdef _SC_LEVEL1_DCACHE_SIZE
                _SC_LEVEL1_DCACHE_SIZE,
#else
                0,
#endif
                32 << 10);
            g_tiers[i].l2_bytes = cache_bytes(
#ifdef _SC_LEVEL2_CACHE_SIZE
                _SC_LEVEL2_CACHE_SIZE,
#else
                0,
#endif
                512 << 10);
        }
        k_lines[i].setup(&g_tiers[i]);
        g_tiers[i].fma_full_rate = 0;
        if (!root && g_tiers[i].vec_bytes > g_tiers[p].vec_bytes &&
            g_tiers[i].probe_f32.fn != g_tiers[p].probe_f32.fn)
            g_tiers[i].fma_full_rate =
                probe_rate(&g_tiers[i].probe_f32) >= 1.5 * probe_rate(&g_tiers[p].probe_f32);
        if (!k_lines[i].test)
            g_best = i;
    }
    g_current = g_best;
    g_ready = 1;
}

const fc_tier *fc_tier_current(void)
{
    if (!g_ready)
        init_tiers();
    return &g_tiers[g_current];
}

const fc_tier *fc_tier_get_desc(int i)
{
    init_tiers();
    return i >= 0 && i < FC_NTIERS && g_supported[i] ? &g_tiers[i] : NULL;
}

uint64_t fc_cpu_caps(void)
{
    init_tiers();
    return g_caps;
}

int fc_tier_count(void) { return FC_NTIERS; }

const char *fc_tier_name(int tier)
{
    return tier >= 0 && tier < FC_NTIERS ? k_lines[tier].name : "unknown";
}

int fc_tier_supported(int tier)
{
    init_tiers();
    return tier >= 0 && tier < FC_NTIERS && g_supported[tier];
}

int fc_tier_is_test(int tier)
{
    return tier >= 0 && tier < FC_NTIERS && k_lines[tier].test;
}

int fc_tier_fma_full_rate(int tier)
{
    return fc_tier_supported(tier) ? g_tiers[tier].fma_full_rate : 0;
}

int fc_tier_best(void)
{
    init_tiers();
    return g_best;
}

int fc_tier_in_use(void)
{
    init_tiers();
    return g_current;
}

fc_status fc_tier_select(int tier)
{
    if (!fc_tier_supported(tier))
        return FC_ERR_ARG;
    g_current = tier;
    return FC_OK;
}

int64_t fc_tier_vector_bytes(int tier)
{
    const fc_tier *t = fc_tier_get_desc(tier);
    return t ? t->vec_bytes : 0;
}
