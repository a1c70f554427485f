/* The micro-kernel registry: every kernel of every supported tier, listed once (a kernel a
 * tier inherits from its parent is listed under the parent), with its kind, dtype, tile and
 * name.  The tests call each one against its generic twin and a float64 oracle, the bench
 * times each one (fastconv/_ukernels.pxi). */
#include <stdio.h>
#include <string.h>
#include "tier.h"
#include "registry.h"

#define FC_REG_MAX 512
static fc_ukernel_info g_reg[FC_REG_MAX];
static char g_names[FC_REG_MAX][48];
static int g_count = -1;

static int seen(const void *fn)
{
    for (int i = 0; i < g_count; i++)
        if (g_reg[i].fn == fn)
            return 1;
    return 0;
}

static int add(const void *fn, int kind, int itemsize, int tier, int mr, int nr, int lanes,
               const char *what)
{
    if (!fn || g_count >= FC_REG_MAX || seen(fn))
        return 0;
    fc_ukernel_info *u = &g_reg[g_count];
    u->fn = fn;
    u->kind = kind;
    u->itemsize = itemsize;
    u->tier = tier;
    u->mr = mr;
    u->nr = nr;
    u->lanes = lanes;
    snprintf(g_names[g_count], sizeof(g_names[0]), "%s_%s__%s", itemsize == 4 ? "f32" : "f64",
             what, fc_tier_name(tier));
    u->name = g_names[g_count];
    u->op = -1;
    g_count++;
    return 1;
}

static const char *const pool_ops[FC_POOL_NOPS] = FC_POOL_OP_NAMES;

static void build(void)
{
    char what[32];
    g_count = 0;
    for (int i = 0; i < fc_tier_count(); i++) {
        const fc_tier *t = fc_tier_get_desc(i);
        if (!t)
            continue;
#define FC_REG_GEMM(D, SZ)                                                                   \
        snprintf(what, sizeof what, "gemm_%dx%d", (int)D.mr, (int)D.nr);                     \
        add((const void *)D.ukr, FC_UK_GEMM, SZ, i, (int)D.mr, (int)D.nr, 0, what);          \
        snprintf(what, sizeof what, "gemm_packt_%d", (int)D.nr);                             \
        add((const void *)D.packt, FC_UK_PACKT, SZ, i, 0, (int)D.nr, 0, what);              \
        /* an A packer is a packt of MR rows: listed as one, nr = its row count */           \
        snprintf(what, sizeof what, "gemm_packa_%d", (int)D.mr);                             \
        add((const void *)D.packa, FC_UK_PACKT, SZ, i, 0, (int)D.mr, 0, what);              \
        snprintf(what, sizeof what, "gemmx_%dx%d", (int)D.mr, (int)D.nr);                    \
        add((const void *)D.gemmx, FC_UK_GEMMX, SZ, i, (int)D.mr, (int)D.nr, 0, what);      \
        snprintf(what, sizeof what, "gemmr_%dx%d", (int)D.mr, (int)D.nr);                    \
        add((const void *)D.gemmr, FC_UK_GEMMR, SZ, i, (int)D.mr, (int)D.nr, 0, what);
        FC_REG_GEMM(t->gemm_f32, 4)
        FC_REG_GEMM(t->gemm_f64, 8)
#define FC_REG_DCONV(D, SZ)                                                                  \
        for (int mr = 1; mr <= FC_DCONV_MAX_MR; mr++)                                        \
            for (int nv = 1; nv <= FC_DCONV_MAX_NV; nv++) {                                  \
                snprintf(what, sizeof what, "dconv_%dx%d", mr, nv * (int)D.lanes);           \
                add((const void *)D.tap[mr][nv], FC_UK_DCONV, SZ, i, mr, nv * D.lanes,       \
                    D.lanes, what);                                                          \
            }                                                                                \
        add((const void *)D.gw4x3, FC_UK_DCONVGW, SZ, i, 4, 3, D.lanes, "dconvgw_4x3");      \
        add((const void *)D.gw1x9, FC_UK_DCONVGW, SZ, i, 1, 9, D.lanes, "dconvgw_1x9");
        FC_REG_DCONV(t->dconv_f32, 4)
        FC_REG_DCONV(t->dconv_f64, 8)
        /* The table's fields are the FC_POOL_OP_* order; the fence is shared by the dtypes
         * and listed with float32. */
#define FC_REG_POOL(D, SZ)                                                                   \
        {                                                                                    \
            const void *const fns[FC_POOL_NOPS] = {                                          \
                (const void *)D.vmax, (const void *)D.vsum, (const void *)D.hmax,            \
                (const void *)D.hsum, (const void *)D.hargmax, (const void *)D.bwd2x2,       \
                (const void *)D.bwd2x2i, (const void *)D.vdiv, (const void *)D.copyz,        \
                (const void *)D.fence, (const void *)D.scatter, (const void *)D.rmax,        \
                (const void *)D.rsum, (const void *)D.rsums};                                \
            for (int op = 0; op < FC_POOL_NOPS; op++) {                                      \
                snprintf(what, sizeof what, "pool_%s", pool_ops[op]);                        \
                if (add(fns[op], FC_UK_POOL, SZ, i, 0, 0, 0, what))                          \
                    g_reg[g_count - 1].op = op;                                              \
            }                                                                                \
        }
        FC_REG_POOL(t->pool_f32, 4)
        FC_REG_POOL(t->pool_f64, 8)
        const fc_probe_desc *pr[2] = {&t->probe_f32, &t->probe_f64};
        for (int d = 0; d < 2; d++) {
            const int before = g_count;
            add((const void *)pr[d]->fn, FC_UK_PROBE, 4 << d, i, 0, 0, 0, "fma_probe");
            if (g_count > before)
                g_reg[before].flops_per_iter = pr[d]->flops_per_iter;
        }
    }
}

int fc_ukernel_count(void)
{
    if (g_count < 0)
        build();
    return g_count;
}

const fc_ukernel_info *fc_ukernel_get(int i)
{
    return i >= 0 && i < fc_ukernel_count() ? &g_reg[i] : NULL;
}

/* Calls pooling row kernel i with buffers p and sizes n in the order its contract lists
 * them (csrc/pool/pool_internal.h); scalar is vdiv's r or rsums' dv.  *ret gets what the
 * kernel returns (bwd2x2i and scatter: 0/1; rmax and rsum: the value).  Checking that the
 * buffers are large enough is the caller's (fastconv/_ukernels.pxi). */
#define FC_POOL_CALL(T)                                                                       \
    switch (u->op) {                                                                          \
    case FC_POOL_OP_VMAX:                                                                     \
    case FC_POOL_OP_VSUM:                                                                     \
        ((void (*)(T *, const T *, const T *, int64_t))u->fn)(p[0], p[1], p[2], n[0]);        \
        break;                                                                                \
    case FC_POOL_OP_HMAX:                                                                     \
        ((void (*)(T *, const T *, int64_t, int64_t, int64_t, int64_t))u->fn)(                \
            p[0], p[1], n[0], n[1], n[2], n[3]);                                              \
        break;                                                                                \
    case FC_POOL_OP_HSUM:                                                                     \
        ((void (*)(T *, const T *, int64_t, int64_t, int64_t))u->fn)(p[0], p[1], n[0], n[1], \
                                                                     n[2]);                   \
        break;                                                                                \
    case FC_POOL_OP_HARGMAX:                                                                  \
        ((void (*)(T *, int32_t *, const T *const *, int64_t, int64_t, int64_t, int64_t,      \
                   int64_t))u->fn)(p[0], p[1], (const T *const *)p[2], n[0], n[1], n[2],      \
                                   n[3], n[4]);                                               \
        break;                                                                                \
    case FC_POOL_OP_BWD2X2:                                                                   \
        ((void (*)(T *, T *, const int32_t *, const T *, int64_t))u->fn)(p[0], p[1], p[2],   \
                                                                         p[3], n[0]);         \
        break;                                                                                \
    case FC_POOL_OP_BWD2X2I:                                                                  \
        *ret = ((int (*)(T *, T *, const int64_t *, int64_t, int64_t, const T *, int64_t))   \
                    u->fn)(p[0], p[1], p[2], n[0], n[1], p[3], n[2]);                         \
        break;                                                                                \
    case FC_POOL_OP_VDIV:                                                                     \
        ((void (*)(T *, const T *, T, const T *, int64_t))u->fn)(p[0], p[1], (T)scalar,      \
                                                                 p[2], n[0]);                 \
        break;                                                                                \
    case FC_POOL_OP_COPYZ:                                                                    \
        ((void (*)(T *, T *, int64_t, int))u->fn)(p[0], p[1], n[0], (int)n[1]);              \
        break;                                                                                \
    case FC_POOL_OP_FENCE:                                                                    \
        ((void (*)(void))u->fn)();                                                            \
        break;                                                                                \
    case FC_POOL_OP_SCATTER:                                                                  \
        *ret = ((int (*)(T *, const int64_t *, const T *, int64_t, int64_t))u->fn)(           \
            p[0], p[1], p[2], n[0], n[1]);                                                    \
        break;                                                                                \
    case FC_POOL_OP_RMAX:                                                                     \
    case FC_POOL_OP_RSUM:                                                                     \
        *ret = (double)((T (*)(const T *, int64_t))u->fn)(p[0], n[0]);                       \
        break;                                                                                \
    case FC_POOL_OP_RSUMS:                                                                    \
        ((void (*)(T *, const T *, int64_t, int64_t, T))u->fn)(p[0], p[1], n[0], n[1],       \
                                                               (T)scalar);                    \
        break;                                                                                \
    default:                                                                                  \
        return 0;                                                                             \
    }

int fc_ukernel_pool_call(int i, void *const *p, const int64_t *n, double scalar, double *ret)
{
    const fc_ukernel_info *u = fc_ukernel_get(i);
    if (!u || u->kind != FC_UK_POOL)
        return 0;
    *ret = 0;
    if (u->itemsize == 4) {
        FC_POOL_CALL(float)
    } else {
        FC_POOL_CALL(double)
    }
    return 1;
}
