# The micro-kernel registry (csrc/registry.c): every kernel of every supported tier, callable
# one by one on NumPy buffers for tests/test_ukernels.py and `python -m fastconv bench
# --ukernels`.  Not part of the public API; each call checks that the buffers hold every
# element the kernel's contract lets it touch.

cdef extern from "registry.h":
    ctypedef struct fc_ukernel_info:
        const char *name
        int kind, itemsize, tier, mr, nr, lanes
        double flops_per_iter
        int op
        const void *fn
    int fc_ukernel_count() nogil
    const fc_ukernel_info *fc_ukernel_get(int i) nogil
    int fc_ukernel_pool_call(int i, void *const *p, const int64_t *n, double scalar,
                             double *ret) nogil

ctypedef void (*_gemm_f32_t)(int64_t, const float *, const float *, float *, int64_t, int64_t,
                             int64_t, int) nogil
ctypedef void (*_gemm_f64_t)(int64_t, const double *, const double *, double *, int64_t,
                             int64_t, int64_t, int) nogil
ctypedef void (*_gemmx_f32_t)(int64_t, const int64_t *, const float *, const float *, float *,
                              int64_t, int64_t, int64_t, int) nogil
ctypedef void (*_gemmx_f64_t)(int64_t, const int64_t *, const double *, const double *,
                              double *, int64_t, int64_t, int64_t, int) nogil
ctypedef void (*_gemmr_f32_t)(int64_t, const float *const *, const float *, float *, int64_t,
                              int64_t, int64_t, int) nogil
ctypedef void (*_gemmr_f64_t)(int64_t, const double *const *, const double *, double *,
                              int64_t, int64_t, int64_t, int) nogil
ctypedef void (*_packt_f32_t)(int64_t, const float *const *, float *) nogil
ctypedef void (*_packt_f64_t)(int64_t, const double *const *, double *) nogil
ctypedef void (*_dconv_f32_t)(int64_t, const int64_t *, const float *, const float *,
                              const float *, float *, int64_t, int64_t) nogil
ctypedef void (*_dconv_f64_t)(int64_t, const int64_t *, const double *, const double *,
                              const double *, double *, int64_t, int64_t) nogil
ctypedef void (*_dconvgw_f32_t)(int64_t, int64_t, const float *, int64_t, int64_t,
                                const float *, int64_t, const int64_t *, float *, int64_t,
                                int64_t, int64_t) nogil
ctypedef void (*_dconvgw_f64_t)(int64_t, int64_t, const double *, int64_t, int64_t,
                                const double *, int64_t, const int64_t *, double *, int64_t,
                                int64_t, int64_t) nogil
ctypedef double (*_probe_t)(int64_t) nogil

UKERNEL_KINDS = ("gemm", "packt", "dconv", "dconvgw", "probe", "pool", "gemmx", "gemmr")
POOL_OPS = ("vmax", "vsum", "hmax", "hsum", "hargmax", "bwd2x2", "bwd2x2i", "vdiv", "copyz",
            "fence", "scatter", "rmax", "rsum", "rsums")   # FC_POOL_OP_NAMES
POOL_SLACK = 16   # FC_POOL_SLACK: h* kernels may read this far past their last tap


def ukernels():
    """Every registered micro-kernel: dicts of index, name, kind, dtype, tier, mr, nr, lanes."""
    out = []
    cdef const fc_ukernel_info *u
    for i in range(fc_ukernel_count()):
        u = fc_ukernel_get(i)
        out.append({"index": i, "name": u.name.decode(), "kind": UKERNEL_KINDS[u.kind],
                    "dtype": "float32" if u.itemsize == 4 else "float64",
                    "tier": fc_tier_name(u.tier).decode(), "mr": u.mr, "nr": u.nr,
                    "lanes": u.lanes, "flops_per_iter": u.flops_per_iter,
                    "op": POOL_OPS[u.op] if u.kind == 5 else None})
    return out


cdef const fc_ukernel_info *_uk(int i, str kind, cnp.ndarray a) except NULL:
    cdef const fc_ukernel_info *u = fc_ukernel_get(i)
    if u == NULL:
        raise ValueError(f"no micro-kernel {i}")
    if UKERNEL_KINDS[u.kind] != kind:
        raise ValueError(f"micro-kernel {u.name.decode()} is a {UKERNEL_KINDS[u.kind]} kernel")
    want = np.float32 if u.itemsize == 4 else np.float64
    if a.dtype != want:
        raise TypeError(f"{u.name.decode()} takes {np.dtype(want)}")
    return u


cdef _flat(cnp.ndarray a, dtype, Py_ssize_t need, name, bint write=False):
    if a.dtype != dtype or not a.flags.c_contiguous or a.size < need or \
            (write and not a.flags.writeable):
        raise ValueError(f"{name}: expected a C-contiguous {np.dtype(dtype)} array of at least "
                         f"{need} elements")


def ukernel_gemm(int i, int64_t k, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, int64_t ldc,
                 int64_t m, int64_t n, bint acc):
    """C (m x n, row stride ldc) = (acc ? C : 0) + packed A panel x packed B panel."""
    cdef const fc_ukernel_info *u = _uk(i, "gemm", a)
    if not (1 <= m <= u.mr and 1 <= n <= u.nr and k >= 0 and ldc >= n):
        raise ValueError("gemm: need 1 <= m <= MR, 1 <= n <= NR, k >= 0, ldc >= n")
    _flat(a, a.dtype, k * u.mr, "a")
    _flat(b, a.dtype, k * u.nr, "b")
    _flat(c, a.dtype, (m - 1) * ldc + n, "c", True)
    cdef void *p_a = _ptr(a)
    cdef void *p_b = _ptr(b)
    cdef void *p_c = _ptr(c)
    if u.itemsize == 4:
        with nogil:
            (<_gemm_f32_t>u.fn)(k, <const float *>p_a, <const float *>p_b,
                                <float *>p_c, ldc, m, n, acc)
    else:
        with nogil:
            (<_gemm_f64_t>u.fn)(k, <const double *>p_a, <const double *>p_b,
                                <double *>p_c, ldc, m, n, acc)
    return c


def ukernel_gemmx(int i, int64_t k, cnp.ndarray off, cnp.ndarray x, cnp.ndarray b,
                  cnp.ndarray c, int64_t ldc, int64_t m, int64_t n, bint acc):
    """C (m x n, row stride ldc) = (acc ? C : 0) + A x packed B panel, A[i][p] = x[off[p] + i]."""
    cdef const fc_ukernel_info *u = _uk(i, "gemmx", x)
    if not (1 <= m <= u.mr and 1 <= n <= u.nr and k >= 0 and ldc >= n):
        raise ValueError("gemmx: need 1 <= m <= MR, 1 <= n <= NR, k >= 0, ldc >= n")
    _flat(off, np.int64, k, "off")
    if k and (off[:k].min() < 0 or off[:k].max() + u.mr > x.size):
        raise ValueError("gemmx: x[off[p] + i] must lie inside x for every p < k, i < MR")
    _flat(x, x.dtype, 1, "x")
    _flat(b, x.dtype, k * u.nr, "b")
    _flat(c, x.dtype, (m - 1) * ldc + n, "c", True)
    cdef void *p_o = _ptr(off)
    cdef void *p_x = _ptr(x)
    cdef void *p_b = _ptr(b)
    cdef void *p_c = _ptr(c)
    if u.itemsize == 4:
        with nogil:
            (<_gemmx_f32_t>u.fn)(k, <const int64_t *>p_o, <const float *>p_x,
                                 <const float *>p_b, <float *>p_c, ldc, m, n, acc)
    else:
        with nogil:
            (<_gemmx_f64_t>u.fn)(k, <const int64_t *>p_o, <const double *>p_x,
                                 <const double *>p_b, <double *>p_c, ldc, m, n, acc)
    return c


def ukernel_gemmr(int i, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, int64_t ldc, int64_t m,
                  int64_t n, bint acc):
    """C (m x n, row stride ldc) = (acc ? C : 0) + A x packed B panel, A's MR rows the rows
    of a (MR, k), passed by pointer."""
    cdef const fc_ukernel_info *u = _uk(i, "gemmr", a)
    if a.ndim != 2 or a.shape[0] != u.mr or not a.flags.c_contiguous:
        raise ValueError(f"gemmr: a must be a C-contiguous ({u.mr}, k) array")
    cdef int64_t k = a.shape[1]
    if not (1 <= m <= u.mr and 1 <= n <= u.nr and ldc >= n):
        raise ValueError("gemmr: need 1 <= m <= MR, 1 <= n <= NR, ldc >= n")
    _flat(b, a.dtype, k * u.nr, "b")
    _flat(c, a.dtype, (m - 1) * ldc + n, "c", True)
    ptrs = np.array([a.ctypes.data + r * a.strides[0] for r in range(u.mr)], np.uintp)
    cdef void *p_r = _ptr(ptrs)
    cdef void *p_b = _ptr(b)
    cdef void *p_c = _ptr(c)
    if u.itemsize == 4:
        with nogil:
            (<_gemmr_f32_t>u.fn)(k, <const float *const *>p_r, <const float *>p_b,
                                 <float *>p_c, ldc, m, n, acc)
    else:
        with nogil:
            (<_gemmr_f64_t>u.fn)(k, <const double *const *>p_r, <const double *>p_b,
                                 <double *>p_c, ldc, m, n, acc)
    return c


def ukernel_packt(int i, cnp.ndarray rows):
    """Packs the NR rows of kc values of `rows` (NR, kc) into one k x NR panel."""
    cdef const fc_ukernel_info *u = _uk(i, "packt", rows)
    if rows.ndim != 2 or rows.shape[0] != u.nr or not rows.flags.c_contiguous:
        raise ValueError(f"packt: rows must be a C-contiguous ({u.nr}, kc) array")
    cdef int64_t kc = rows.shape[1]
    dst = np.zeros(kc * u.nr, dtype=rows.dtype)
    cdef cnp.ndarray d = dst
    ptrs = np.array([rows.ctypes.data + j * rows.strides[0] for j in range(u.nr)],
                    dtype=np.uintp)
    cdef cnp.ndarray p = ptrs
    cdef void *p_d = _ptr(d)
    cdef void *p_p = _ptr(p)
    if u.itemsize == 4:
        with nogil:
            (<_packt_f32_t>u.fn)(kc, <const float *const *>p_p, <float *>p_d)
    else:
        with nogil:
            (<_packt_f64_t>u.fn)(kc, <const double *const *>p_p, <double *>p_d)
    return dst


def ukernel_dconv(int i, cnp.ndarray off, cnp.ndarray x, cnp.ndarray w, bias, cnp.ndarray y,
                  int64_t ldy, int64_t mr):
    """y[m*ldy + p] = bias[m] + sum_t w[t*MR + m] * x[off[t] + p]  (m < mr, p < NR)."""
    cdef const fc_ukernel_info *u = _uk(i, "dconv", x)
    cdef int64_t ntaps = off.size
    if off.dtype != np.int64 or not off.flags.c_contiguous:
        raise ValueError("dconv: off must be a C-contiguous int64 array")
    if not (1 <= mr <= u.mr and ldy >= u.nr):
        raise ValueError("dconv: need 1 <= mr <= MR and ldy >= NR")
    if ntaps and (off.min() < 0):
        raise ValueError("dconv: offsets must be >= 0")
    _flat(x, x.dtype, (int(off.max()) if ntaps else 0) + u.nr, "x")
    _flat(w, x.dtype, ntaps * u.mr, "w")
    _flat(y, x.dtype, (mr - 1) * ldy + u.nr, "y", True)
    cdef cnp.ndarray bb
    cdef const void *bp = NULL
    if bias is not None:
        bb = bias
        _flat(bb, x.dtype, u.mr, "bias")
        bp = _ptr(bb)
    cdef void *p_off = _ptr(off)
    cdef void *p_w = _ptr(w)
    cdef void *p_x = _ptr(x)
    cdef void *p_y = _ptr(y)
    if u.itemsize == 4:
        with nogil:
            (<_dconv_f32_t>u.fn)(ntaps, <const int64_t *>p_off, <const float *>p_x,
                                 <const float *>p_w, <const float *>bp, <float *>p_y,
                                 ldy, mr)
    else:
        with nogil:
            (<_dconv_f64_t>u.fn)(ntaps, <const int64_t *>p_off, <const double *>p_x,
                                 <const double *>p_w, <const double *>bp,
                                 <double *>p_y, ldy, mr)
    return y


def ukernel_dconvgw(int i, int64_t nrows, int64_t length, cnp.ndarray gy, int64_t ldm,
                    int64_t ldr, cnp.ndarray x, int64_t ldx, cnp.ndarray off, cnp.ndarray gw,
                    int64_t ldgw, int64_t mr, int64_t tb):
    """gw[m*ldgw + t] += sum_{r, p} gy[m*ldm + r*ldr + p] * x[off[t] + r*ldx + p]."""
    cdef const fc_ukernel_info *u = _uk(i, "dconvgw", x)
    if off.dtype != np.int64 or not off.flags.c_contiguous or off.size < tb:
        raise ValueError("dconvgw: off must be a C-contiguous int64 array of tb entries")
    if not (1 <= mr <= u.mr and 1 <= tb <= u.nr and nrows >= 0 and length >= 1):
        raise ValueError("dconvgw: need 1 <= mr <= MR, 1 <= tb <= TB, nrows >= 0, len >= 1")
    if nrows and off[:tb].min() < 0:
        raise ValueError("dconvgw: offsets must be >= 0")
    if nrows:
        _flat(gy, x.dtype, (mr - 1) * ldm + (nrows - 1) * ldr + length, "gy")
        _flat(x, x.dtype, int(off[:tb].max()) + (nrows - 1) * ldx + length, "x")
    _flat(gw, x.dtype, (mr - 1) * ldgw + tb, "gw", True)
    cdef void *p_gw = _ptr(gw)
    cdef void *p_gy = _ptr(gy)
    cdef void *p_off = _ptr(off)
    cdef void *p_x = _ptr(x)
    if u.itemsize == 4:
        with nogil:
            (<_dconvgw_f32_t>u.fn)(nrows, length, <const float *>p_gy, ldm, ldr,
                                   <const float *>p_x, ldx, <const int64_t *>p_off,
                                   <float *>p_gw, ldgw, mr, tb)
    else:
        with nogil:
            (<_dconvgw_f64_t>u.fn)(nrows, length, <const double *>p_gy, ldm, ldr,
                                   <const double *>p_x, ldx, <const int64_t *>p_off,
                                   <double *>p_gw, ldgw, mr, tb)
    return gw


def ukernel_probe(int i, int64_t iters):
    """Runs the probe for iters iterations on the calling thread: (seconds, checksum)."""
    cdef const fc_ukernel_info *u = fc_ukernel_get(i)
    if u == NULL or u.kind != 4:
        raise ValueError(f"micro-kernel {i} is not a probe")
    if iters < 0:
        raise ValueError("iters must be >= 0")
    cdef double r
    import time
    t = time.perf_counter()
    with nogil:
        r = (<_probe_t>u.fn)(iters)
    return time.perf_counter() - t, r


def ukernel_time(int i, int64_t reps):
    """Times `reps` calls of micro-kernel i on L1-resident operands on the calling thread:
    (seconds, flops or bytes moved per call, 'flop' or 'byte')."""
    cdef const fc_ukernel_info *u = fc_ukernel_get(i)
    if u == NULL:
        raise ValueError(f"no micro-kernel {i}")
    dt = np.float32 if u.itemsize == 4 else np.float64
    rng = np.random.default_rng(0)
    cdef int64_t r, k, ntaps, nrows, length
    cdef cnp.ndarray a, b, c, off, ptrs
    cdef void *pa
    cdef void *pb
    cdef void *pc
    cdef void *po
    cdef double t0, t1, r_probe = 0
    import time
    if u.kind == 0:            # gemm: C (MR x NR) = A panel (MR x k) x B panel (k x NR)
        k = 128
        a = rng.standard_normal(k * u.mr).astype(dt)
        b = rng.standard_normal(k * u.nr).astype(dt)
        c = np.zeros(u.mr * u.nr, dt)
        pa, pb, pc = _ptr(a), _ptr(b), _ptr(c)
        t0 = time.perf_counter()
        with nogil:
            for r in range(reps):
                if u.itemsize == 4:
                    (<_gemm_f32_t>u.fn)(k, <const float *>pa, <const float *>pb, <float *>pc,
                                        u.nr, u.mr, u.nr, 0)
                else:
                    (<_gemm_f64_t>u.fn)(k, <const double *>pa, <const double *>pb,
                                        <double *>pc, u.nr, u.mr, u.nr, 0)
        return time.perf_counter() - t0, 2.0 * u.mr * u.nr * k, "flop"
    if u.kind == 6:            # gemmx: a 3x3-like tap table over an L1-resident plane
        k = 144
        off = np.array([(t // 9) * 96 + ((t % 9) // 3) * 32 + t % 3 for t in range(k)],
                       np.int64)
        a = rng.standard_normal(int(off.max()) + u.mr + 1).astype(dt)
        b = rng.standard_normal(k * u.nr).astype(dt)
        c = np.zeros(u.mr * u.nr, dt)
        pa, pb, pc, po = _ptr(a), _ptr(b), _ptr(c), _ptr(off)
        t0 = time.perf_counter()
        with nogil:
            for r in range(reps):
                if u.itemsize == 4:
                    (<_gemmx_f32_t>u.fn)(k, <const int64_t *>po, <const float *>pa,
                                         <const float *>pb, <float *>pc, u.nr, u.mr, u.nr, 0)
                else:
                    (<_gemmx_f64_t>u.fn)(k, <const int64_t *>po, <const double *>pa,
                                         <const double *>pb, <double *>pc, u.nr, u.mr, u.nr,
                                         0)
        return time.perf_counter() - t0, 2.0 * u.mr * u.nr * k, "flop"
    if u.kind == 7:            # gemmr: MR rows of an L1-resident array by pointer
        k = 128
        a = rng.standard_normal((u.mr, k)).astype(dt)
        b = rng.standard_normal(k * u.nr).astype(dt)
        c = np.zeros(u.mr * u.nr, dt)
        ptrs = np.array([a.ctypes.data + j * a.strides[0] for j in range(u.mr)], np.uintp)
        pa, pb, pc = _ptr(ptrs), _ptr(b), _ptr(c)
        t0 = time.perf_counter()
        with nogil:
            for r in range(reps):
                if u.itemsize == 4:
                    (<_gemmr_f32_t>u.fn)(k, <const float *const *>pa, <const float *>pb,
                                         <float *>pc, u.nr, u.mr, u.nr, 0)
                else:
                    (<_gemmr_f64_t>u.fn)(k, <const double *const *>pa, <const double *>pb,
                                         <double *>pc, u.nr, u.mr, u.nr, 0)
        return time.perf_counter() - t0, 2.0 * u.mr * u.nr * k, "flop"
    if u.kind == 1:            # packt: NR rows of kc values -> one panel
        k = 128
        a = rng.standard_normal((u.nr, k)).astype(dt)
        c = np.zeros(u.nr * k, dt)
        ptrs = np.array([a.ctypes.data + j * a.strides[0] for j in range(u.nr)], np.uintp)
        pa, pc = _ptr(ptrs), _ptr(c)
        t0 = time.perf_counter()
        with nogil:
            for r in range(reps):
                if u.itemsize == 4:
                    (<_packt_f32_t>u.fn)(k, <const float *const *>pa, <float *>pc)
                else:
                    (<_packt_f64_t>u.fn)(k, <const double *const *>pa, <double *>pc)
        return time.perf_counter() - t0, 2.0 * u.nr * k * u.itemsize, "byte"
    if u.kind == 2:            # dconv: MR channels x NR points over 64 taps of a 3x3-like grid
        ntaps = 63
        off = np.array([(t // 9) * 96 + ((t % 9) // 3) * 32 + t % 3 for t in range(ntaps)],
                       np.int64)
        a = rng.standard_normal(int(off.max()) + u.nr + 1).astype(dt)
        b = rng.standard_normal(ntaps * u.mr).astype(dt)
        c = np.zeros(u.mr * u.nr, dt)
        pa, pb, pc, po = _ptr(a), _ptr(b), _ptr(c), _ptr(off)
        t0 = time.perf_counter()
        with nogil:
            for r in range(reps):
                if u.itemsize == 4:
                    (<_dconv_f32_t>u.fn)(ntaps, <const int64_t *>po, <const float *>pa,
                                         <const float *>pb, NULL, <float *>pc, u.nr, u.mr)
                else:
                    (<_dconv_f64_t>u.fn)(ntaps, <const int64_t *>po, <const double *>pa,
                                         <const double *>pb, NULL, <double *>pc, u.nr, u.mr)
        return time.perf_counter() - t0, 2.0 * u.mr * u.nr * ntaps, "flop"
    if u.kind == 3:            # dconvgw: MR channels x TB taps over 4 rows of 64 points
        nrows, length = 4, 64
        off = np.arange(u.nr, dtype=np.int64)
        a = rng.standard_normal(u.mr * nrows * length).astype(dt)
        b = rng.standard_normal(u.nr + nrows * length + 1).astype(dt)
        c = np.zeros(u.mr * u.nr, dt)
        pa, pb, pc, po = _ptr(a), _ptr(b), _ptr(c), _ptr(off)
        t0 = time.perf_counter()
        with nogil:
            for r in range(reps):
                if u.itemsize == 4:
                    (<_dconvgw_f32_t>u.fn)(nrows, length, <const float *>pa, nrows * length,
                                           length, <const float *>pb, length,
                                           <const int64_t *>po, <float *>pc, u.nr, u.mr, u.nr)
                else:
                    (<_dconvgw_f64_t>u.fn)(nrows, length, <const double *>pa,
                                           nrows * length, length, <const double *>pb, length,
                                           <const int64_t *>po, <double *>pc, u.nr, u.mr,
                                           u.nr)
        return time.perf_counter() - t0, 2.0 * u.mr * u.nr * nrows * length, "flop"
    if u.kind == 5:            # pool row kernels: bytes of the buffers they read and write
        op = POOL_OPS[u.op]
        op, bufs, ints, keep = _pool_args(i, _pool_bench_call(op, dt, rng))
        t0 = time.perf_counter()
        _pool_call(i, bufs, ints, 2.0, reps)
        moved = sum(b.nbytes for b in bufs if b.dtype != np.uintp)
        return time.perf_counter() - t0, float(moved), "byte"
    k = 4096                   # probe
    t0 = time.perf_counter()
    with nogil:
        for r in range(reps):
            r_probe += (<_probe_t>u.fn)(k)
    return time.perf_counter() - t0, u.flops_per_iter * k, "flop"


def _pool_args(int i, tuple args):
    """Checks the buffers of a call of pooling row kernel i against its contract ->
    (op, buffers in call order, sizes in call order, arrays to keep alive)."""
    cdef const fc_ukernel_info *u = fc_ukernel_get(i)
    if u == NULL or u.kind != 5:
        raise ValueError(f"no pooling micro-kernel {i}")
    op = POOL_OPS[u.op]
    dt = np.float32 if u.itemsize == 4 else np.float64
    bufs, ints = [], []
    keep = []

    def arr(a, need, name, dtype=dt, write=False):
        _flat(a, dtype, need, name, write)
        bufs.append(a)
    if op in ("vmax", "vsum"):
        out, a, b, n = args
        arr(out, n, "out", write=True); arr(a, n, "a"); arr(b, n, "b"); ints = [n]
    elif op in ("hmax", "hsum"):
        out, inp, n_out, k, s = args[:5]
        d = args[5] if op == "hmax" else 1
        if n_out < 1 or k < 1 or s < 1 or d < 1:
            raise ValueError(f"{op}: need n_out, k, s, d >= 1")
        arr(out, n_out, "out", write=True)
        arr(inp, (n_out - 1) * s + (k - 1) * d + 1 + POOL_SLACK, "inp")
        ints = [n_out, k, s, d] if op == "hmax" else [n_out, k, s]
    elif op == "hargmax":
        m, tap, rows2d, nr, n_out, k, s, d = args
        if not (1 <= nr <= rows2d.shape[0] and nr * k <= 64 and n_out >= 1 and s >= 1
                and d >= 1 and rows2d.ndim == 2):
            raise ValueError("hargmax: need 1 <= nr <= rows, nr * k <= 64, n_out, s, d >= 1")
        if rows2d.shape[1] < (n_out - 1) * s + (k - 1) * d + 1 or not rows2d.flags.c_contiguous \
                or rows2d.dtype != dt:
            raise ValueError("hargmax: rows2d too short for the windows")
        arr(m, n_out, "m", write=True); arr(tap, n_out, "tap", np.int32, True)
        ptrs = np.array([rows2d.ctypes.data + r * rows2d.strides[0] for r in range(nr)],
                        dtype=np.uintp)
        bufs.append(ptrs); keep.append(rows2d)
        ints = [nr, n_out, k, s, d]
    elif op == "bwd2x2":
        r0, r1, tap, g, n = args
        arr(r0, 2 * n, "r0", write=True); arr(r1, 2 * n, "r1", write=True)
        arr(tap, n, "tap", np.int32); arr(g, n, "g"); ints = [n]
    elif op == "bwd2x2i":
        plane, idx, base, W, g, n = args
        if W < 2 or 2 * n > W or base < 0:
            raise ValueError("bwd2x2i: need W >= 2, 2n <= W, base >= 0")
        _flat(plane, dt, base + W + 2 * n, "plane", True)
        if not plane.flags.writeable:
            raise ValueError("plane must be writeable")
        r0 = plane[base:]
        r1 = plane[base + W:]
        bufs += [r0, r1]
        arr(idx, n, "idx", np.int64); arr(g, n, "g")
        ints = [base, W, n]
    elif op == "vdiv":
        out, a, b, n = args
        arr(out, n, "out", write=True); arr(a, n, "a"); arr(b, n, "b"); ints = [n]
    elif op == "copyz":
        dst, src, n, stream = args
        arr(dst, n, "dst", write=True); arr(src, n, "src", write=True); ints = [n, int(stream)]
    elif op == "fence":
        if args:
            raise ValueError("fence takes no arguments")
    elif op == "scatter":
        pl, idx, g, n, limit = args
        arr(pl, limit, "pl", write=True); arr(idx, n, "idx", np.int64); arr(g, n, "g")
        ints = [n, limit]
    elif op in ("rmax", "rsum"):
        x, n = args
        if n < 1:
            raise ValueError(f"{op}: need n >= 1")
        arr(x, n, "x"); ints = [n]
    elif op == "rsums":
        y, x, npl, n = args
        if n < 1:
            raise ValueError("rsums: need n >= 1")
        arr(y, npl, "y", write=True); arr(x, npl * n, "x"); ints = [npl, n]
    return op, bufs, ints, keep


cdef double _pool_call(int i, list bufs, list ints, double scalar, int64_t reps) except? -1:
    cdef void *p[8]
    cdef int64_t nn[8]
    cdef int64_t r
    for j, b in enumerate(bufs):
        p[j] = _ptr(b)
    for j, v in enumerate(ints):
        nn[j] = v
    cdef double ret = 0
    cdef int ok = 1
    with nogil:
        for r in range(reps):
            ok = fc_ukernel_pool_call(i, p, nn, scalar, &ret)
    if not ok:
        raise ValueError(f"pooling micro-kernel {i} could not be called")
    return ret


def ukernel_pool(int i, *args, double scalar=0.0):
    """Pooling row kernel i on NumPy buffers, arguments in its contract's order
    (csrc/pool/pool_internal.h):
      vmax, vsum (out, a, b, n)          hmax (out, inp, n_out, k, s, d)
      hsum (out, inp, n_out, k, s)       hargmax (m, tap, rows2d, nr, n_out, k, s, d)
      bwd2x2 (r0, r1, tap, g, n)         bwd2x2i (plane, idx, base, W, g, n): r0 = plane+base,
      vdiv (out, a, b, n), scalar=r              r1 = r0 + W
      copyz (dst, src, n, stream)        fence ()       scatter (pl, idx, g, n, limit)
      rmax, rsum (x, n)                  rsums (y, x, np, n), scalar=dv
    Returns what the kernel returns (None for void ones)."""
    op, bufs, ints, keep = _pool_args(i, args)
    ret = _pool_call(i, bufs, ints, scalar, 1)
    if op in ("bwd2x2i", "scatter"):
        return int(ret)
    if op in ("rmax", "rsum"):
        return ret
    return None


def _pool_bench_call(op, dt, rng):
    """Arguments of a call of each pooling row kernel on 1024-element, L1-resident rows."""
    n = 1024
    v = lambda m: rng.standard_normal(m).astype(dt)
    if op in ("vmax", "vsum", "vdiv"):
        return (v(n), v(n), v(n) + 4, n)
    if op == "hmax":
        return (v(n // 2), v(n + 64), n // 2, 3, 2, 1)
    if op == "hsum":
        return (v(n // 2), v(n + 64), n // 2, 3, 2)
    if op == "hargmax":
        return (v(n // 2), np.zeros(n // 2, np.int32), v(3 * (n + 8)).reshape(3, n + 8), 3,
                n // 2, 3, 2, 1)
    if op == "bwd2x2":
        return (v(n), v(n), rng.integers(0, 4, n // 2).astype(np.int32), v(n // 2), n // 2)
    if op == "bwd2x2i":
        W = n
        idx = (2 * np.arange(n // 2) + rng.choice([0, 1, W, W + 1], n // 2)).astype(np.int64)
        return (v(2 * W + 8), idx, 0, W, v(n // 2), n // 2)
    if op == "copyz":
        return (v(n), v(n), n, 0)
    if op == "fence":
        return ()
    if op == "scatter":
        return (v(n), rng.integers(0, n, n).astype(np.int64), v(n), n, n)
    if op in ("rmax", "rsum"):
        return (v(n), n)
    return (v(8), v(8 * (n // 8)), 8, n // 8)        # rsums
