/*
 * Kernel workspaces (fc_malloc / fc_free).
 *
 * Small blocks come from malloc.  Large ones (FC_WS_MIN and up) are mappings of their own,
 * advised to use transparent huge pages, and a freed one is kept in a small cache for the
 * next call instead of going back to the system.  Why: on a virtual machine the first touch
 * of a fresh 4 KiB page is expensive (measured on a KVM guest, Zen 4: writing 16 MiB of fresh
 * pages took 12 ms, rewriting them 1.1 ms; with huge pages the first touch took 1.6 ms), and
 * glibc hands large blocks back to the system on free, so a layer whose workspace is some
 * tens of MiB paid that on every call: Winograd's weight gradient of a 512-channel 7x7
 * layer spent more time in page faults than in its GEMMs.
 *
 * The cache holds at most FC_WS_SLOTS blocks and FASTCONV_WORKSPACE_MB MiB (default 256; 0
 * turns it off), oldest evicted first; fc_workspace_release() empties it.  Sanitizer builds
 * bypass it so that every block stays visible to AddressSanitizer.  FASTCONV_WORKSPACE_POISON=1
 * fills every large block with all-ones bytes (a NaN in float32 and float64) when it is
 * handed out, so a kernel that reads workspace it did not write shows up in the tests.
 */
#define _DEFAULT_SOURCE 1   /* MAP_ANONYMOUS and madvise under -std=c99 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "parallel.h"
#include "tier.h"

#if defined(__SANITIZE_ADDRESS__)
#define FC_WS_NO_CACHE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FC_WS_NO_CACHE 1
#endif
#endif
#if !defined(FC_WS_NO_CACHE) && defined(__linux__)
#define FC_WS_MAP 1
#include <pthread.h>
#include <sys/mman.h>
#endif

/* Each block keeps two words just below the pointer it hands out: p[-1] the start of what
 * was allocated, p[-2] 0 for a malloc block or the mapping's length. */
enum { HDR = FC_VEC_MAX_BYTES };

static void *small_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - HDR - 2 * sizeof(void *))
        return NULL;
    unsigned char *raw = (unsigned char *)malloc(bytes + HDR + 2 * sizeof(void *));
    if (!raw)
        return NULL;
    uintptr_t p = ((uintptr_t)(raw + 2 * sizeof(void *)) + (HDR - 1)) & ~(uintptr_t)(HDR - 1);
    ((void **)p)[-1] = raw;
    ((size_t *)p)[-2] = 0;
    return (void *)p;
}

#ifdef FC_WS_MAP
#define FC_WS_MIN ((size_t)1 << 20)
#define FC_WS_HUGE ((size_t)2 << 20)
#define FC_WS_SLOTS 8

typedef struct { unsigned char *base; size_t len; } ws_block;

static pthread_mutex_t g_ws_mu = PTHREAD_MUTEX_INITIALIZER;
static ws_block g_cache[FC_WS_SLOTS];   /* oldest first */
static int g_ncached = 0;
static size_t g_cached_bytes = 0;
static long long g_cap = -1;            /* bytes; -1: not read from the environment yet */
static int g_poison = 0;

static size_t ws_cap(void)
{
    if (g_cap < 0) {
        const char *s = getenv("FASTCONV_WORKSPACE_MB");
        long long mb = 256;
        if (s && *s) {
            char *end;
            long long v = strtoll(s, &end, 10);
            if (*end == '\0' && v >= 0 && v <= ((long long)1 << 30))
                mb = v;
        }
        const char *q = getenv("FASTCONV_WORKSPACE_POISON");
        g_poison = q && *q && strcmp(q, "0") != 0;
        g_cap = mb << 20;
    }
    return (size_t)g_cap;
}

/* A mapping of len bytes (a multiple of FC_WS_HUGE) that starts on a huge-page boundary. */
static unsigned char *map_aligned(size_t len)
{
    if (len > SIZE_MAX - FC_WS_HUGE)
        return NULL;
    size_t over = len + FC_WS_HUGE;
    unsigned char *m = (unsigned char *)mmap(NULL, over, PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)m + FC_WS_HUGE - 1) & ~(uintptr_t)(FC_WS_HUGE - 1);
    unsigned char *b = (unsigned char *)a;
    if (b > m)
        munmap(m, (size_t)(b - m));
    if (b + len < m + over)
        munmap(b + len, (size_t)(m + over - (b + len)));
#ifdef MADV_HUGEPAGE
    madvise(b, len, MADV_HUGEPAGE);
#endif
    return b;
}

/* Cache entry i, taken out of the cache (the caller holds g_ws_mu). */
static ws_block take(int i)
{
    ws_block b = g_cache[i];
    g_cached_bytes -= b.len;
    memmove(g_cache + i, g_cache + i + 1, sizeof(ws_block) * (size_t)(g_ncached - i - 1));
    g_ncached--;
    return b;
}
#endif

void *fc_malloc(size_t bytes)
{
#ifdef FC_WS_MAP
    if (bytes >= FC_WS_MIN && bytes <= SIZE_MAX / 2) {
        const size_t need = (bytes + HDR + FC_WS_HUGE - 1) & ~(FC_WS_HUGE - 1);
        unsigned char *base = NULL;
        size_t len = 0;
        pthread_mutex_lock(&g_ws_mu);
        (void)ws_cap();   /* reads the environment once, g_poison included */
        /* the smallest cached block that holds it, unless that wastes more than half */
        int best = -1;
        for (int i = 0; i < g_ncached; i++)
            if (g_cache[i].len >= need && g_cache[i].len / 2 <= need &&
                (best < 0 || g_cache[i].len < g_cache[best].len))
                best = i;
        if (best >= 0) {
            ws_block b = take(best);
            base = b.base;
            len = b.len;
        }
        pthread_mutex_unlock(&g_ws_mu);
        if (!base) {
            len = need;
            base = map_aligned(len);
            if (!base)
                return NULL;
        }
        if (g_poison)
            memset(base + HDR, 0xff, bytes);
        unsigned char *p = base + HDR;
        ((void **)p)[-1] = base;
        ((size_t *)p)[-2] = len;
        return p;
    }
#endif
    return small_alloc(bytes);
}

void fc_free(void *p)
{
    if (!p)
        return;
    const size_t len = ((size_t *)p)[-2];
    void *raw = ((void **)p)[-1];
    if (len == 0) {
        free(raw);
        return;
    }
#ifdef FC_WS_MAP
    ws_block evict[FC_WS_SLOTS + 1];
    int nev = 0;
    pthread_mutex_lock(&g_ws_mu);
    const size_t cap = ws_cap();
    if (len > cap) {
        evict[nev++] = (ws_block){(unsigned char *)raw, len};
    } else {
        while (g_ncached > 0 && (g_ncached == FC_WS_SLOTS || g_cached_bytes + len > cap))
            evict[nev++] = take(0);
        g_cache[g_ncached++] = (ws_block){(unsigned char *)raw, len};
        g_cached_bytes += len;
    }
    pthread_mutex_unlock(&g_ws_mu);
    for (int i = 0; i < nev; i++)
        munmap(evict[i].base, evict[i].len);
#endif
}

int64_t fc_workspace_cached(void)
{
#ifdef FC_WS_MAP
    pthread_mutex_lock(&g_ws_mu);
    const int64_t n = (int64_t)g_cached_bytes;
    pthread_mutex_unlock(&g_ws_mu);
    return n;
#else
    return 0;
#endif
}

int64_t fc_workspace_limit(void)
{
#ifdef FC_WS_MAP
    pthread_mutex_lock(&g_ws_mu);
    const int64_t n = (int64_t)ws_cap();
    pthread_mutex_unlock(&g_ws_mu);
    return n;
#else
    return 0;
#endif
}

void fc_workspace_release(void)
{
#ifdef FC_WS_MAP
    ws_block all[FC_WS_SLOTS];
    pthread_mutex_lock(&g_ws_mu);
    const int n = g_ncached;
    memcpy(all, g_cache, sizeof(ws_block) * (size_t)n);
    g_ncached = 0;
    g_cached_bytes = 0;
    pthread_mutex_unlock(&g_ws_mu);
    for (int i = 0; i < n; i++)
        munmap(all[i].base, all[i].len);
#endif
}

/* pthread_atfork handlers (runtime.c): no other thread holds the lock across a fork. */
void fc_workspace_fork_prepare(void)
{
#ifdef FC_WS_MAP
    pthread_mutex_lock(&g_ws_mu);
#endif
}

void fc_workspace_fork_parent(void)
{
#ifdef FC_WS_MAP
    pthread_mutex_unlock(&g_ws_mu);
#endif
}

void fc_workspace_fork_child(void)
{
#ifdef FC_WS_MAP
    pthread_mutex_init(&g_ws_mu, NULL);
#endif
}
