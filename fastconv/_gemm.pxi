# Test hooks for the GEMM layer: the blocked GEMM driver and the micro-kernel of the ISA in
# use, on NumPy arrays.  Not part of the public API.

cdef extern from "gemm/gemm.h":
    ctypedef void (*fc_f32_gemm_ukernel)(int64_t k, const float *a, const float *b, float *c,
                                        int64_t ldc, int64_t m, int64_t n, int acc) nogil
    ctypedef void (*fc_f64_gemm_ukernel)(int64_t k, const double *a, const double *b,
                                        double *c, int64_t ldc, int64_t m, int64_t n,
                                        int acc) nogil
    ctypedef void (*fc_f32_gemm_packt)(int64_t kc, const float *const *rows, float *dst) nogil
    ctypedef void (*fc_f64_gemm_packt)(int64_t kc, const double *const *rows,
                                      double *dst) nogil
    ctypedef struct fc_gemm_desc_f32:
        const char *name
        int64_t mr, nr, mc, kc, nc
        fc_f32_gemm_ukernel ukr
        fc_f32_gemm_packt packt
    ctypedef struct fc_gemm_desc_f64:
        const char *name
        int64_t mr, nr, mc, kc, nc
        fc_f64_gemm_ukernel ukr
        fc_f64_gemm_packt packt
    const fc_gemm_desc_f32 *fc_gemm_select_f32() nogil
    const fc_gemm_desc_f64 *fc_gemm_select_f64() nogil
    fc_status fc_gemm_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t rs_a,
                          int64_t cs_a, const float *b, int64_t rs_b, int64_t cs_b, float *c,
                          int64_t ldc, int acc) nogil
    fc_status fc_gemm_f64(int64_t m, int64_t n, int64_t k, const double *a, int64_t rs_a,
                          int64_t cs_a, const double *b, int64_t rs_b, int64_t cs_b,
                          double *c, int64_t ldc, int acc) nogil


def _gemm_dtype(*arrays):
    dt = arrays[0].dtype
    if dt not in (np.float32, np.float64):
        raise TypeError(f"gemm: expected float32 or float64, got {dt}")
    for a in arrays:
        if a.dtype != dt:
            raise TypeError(f"gemm: mixed dtypes {dt} and {a.dtype}")
    return dt


def gemm_info(dtype):
    """(kernel name, MR, NR, MC, KC, NC) of the GEMM the current ISA uses for dtype."""
    dt = np.dtype(dtype)
    if dt == np.float32:
        d32 = fc_gemm_select_f32()
        return (d32.name.decode(), d32.mr, d32.nr, d32.mc, d32.kc, d32.nc)
    if dt == np.float64:
        d64 = fc_gemm_select_f64()
        return (d64.name.decode(), d64.mr, d64.nr, d64.mc, d64.kc, d64.nc)
    raise TypeError(f"gemm: expected float32 or float64, got {dt}")


def _elem_strides(a):
    it = a.itemsize
    if any(s % it for s in (a.strides[0], a.strides[1])):
        raise ValueError("gemm: strides must be multiples of the itemsize")
    return a.strides[0] // it, a.strides[1] // it


def gemm(a, b, c=None, bint accumulate=False):
    """C = A @ B (or C += A @ B with accumulate) through the blocked GEMM.

    a (m, k) and b (k, n) may have any strides; c, when given, must be a C-contiguous
    (m, n) array and is updated in place.  Returns c."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
            and (c is None or isinstance(c, np.ndarray))):
        raise TypeError("gemm: expected NumPy arrays")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm: shapes {a.shape} and {b.shape} do not chain")
    dt = _gemm_dtype(a, b) if c is None else _gemm_dtype(a, b, c)
    cdef int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    if c is None:
        if accumulate:
            raise ValueError("gemm: accumulate needs c")
        c = np.empty((m, n), dtype=dt)
    elif c.ndim != 2 or c.shape[0] != m or c.shape[1] != n or not c.flags.c_contiguous \
            or not c.flags.writeable:
        raise ValueError(f"gemm: c must be a writeable C-contiguous ({m}, {n}) array")
    cdef int64_t rsa, csa, rsb, csb
    rsa, csa = _elem_strides(a)
    rsb, csb = _elem_strides(b)
    cdef void *pa = cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef void *pb = cnp.PyArray_DATA(<cnp.ndarray>b)
    cdef void *pc = cnp.PyArray_DATA(<cnp.ndarray>c)
    cdef int acc = accumulate
    cdef fc_status st
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            st = fc_gemm_f32(m, n, k, <float*>pa, rsa, csa, <float*>pb, rsb, csb,
                             <float*>pc, n, acc)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            st = fc_gemm_f64(m, n, k, <double*>pa, rsa, csa, <double*>pb, rsb, csb,
                             <double*>pc, n, acc)
            fc_call_leave()
    check_status(st)
    return c


def gemm_ukernel(a_packed, b_packed, c, int64_t k,
                 int64_t m, int64_t n, bint accumulate=False):
    """Call the current ISA's micro-kernel once.

    a_packed: C-contiguous, MR*k values (MR per step); b_packed: NR*k values; c: a
    C-contiguous 2-D array with at least m rows and n columns (its row length is ldc).
    Only c[:m, :n] may change."""
    if not all(isinstance(t, np.ndarray) for t in (a_packed, b_packed, c)):
        raise TypeError("gemm_ukernel: expected NumPy arrays")
    dt = _gemm_dtype(a_packed, b_packed, c)
    _, mr, nr, _, _, _ = gemm_info(dt)
    if not (a_packed.flags.c_contiguous and b_packed.flags.c_contiguous
            and c.flags.c_contiguous and c.flags.writeable and c.ndim == 2):
        raise ValueError("gemm_ukernel: arrays must be C-contiguous (c writeable, 2-D)")
    if k < 0 or a_packed.size < mr * k or b_packed.size < nr * k:
        raise ValueError(f"gemm_ukernel: need k >= 0, {mr}*k values of A and {nr}*k of B")
    if not (1 <= m <= mr and 1 <= n <= nr and m <= c.shape[0] and n <= c.shape[1]):
        raise ValueError(f"gemm_ukernel: need 1 <= m <= {mr}, 1 <= n <= {nr} within c")
    cdef void *pa = cnp.PyArray_DATA(<cnp.ndarray>a_packed)
    cdef void *pb = cnp.PyArray_DATA(<cnp.ndarray>b_packed)
    cdef void *pc = cnp.PyArray_DATA(<cnp.ndarray>c)
    cdef int64_t ldc = c.shape[1]
    cdef int acc = accumulate
    cdef fc_f32_gemm_ukernel u32
    cdef fc_f64_gemm_ukernel u64
    if dt == np.float32:
        u32 = fc_gemm_select_f32().ukr
        with nogil:
            fc_call_enter()
            u32(k, <float*>pa, <float*>pb, <float*>pc, ldc, m, n, acc)
            fc_call_leave()
    else:
        u64 = fc_gemm_select_f64().ukr
        with nogil:
            fc_call_enter()
            u64(k, <double*>pa, <double*>pb, <double*>pc, ldc, m, n, acc)
            fc_call_leave()
    return c


def gemm_packt(rows):
    """The current ISA's transposing B packer on an (NR, kc) array whose rows have unit
    stride (any row stride, any offset): returns the packed (kc, NR) panel."""
    if not isinstance(rows, np.ndarray) or rows.ndim != 2:
        raise TypeError("gemm_packt: expected a 2-D NumPy array")
    dt = _gemm_dtype(rows)
    _, mr, nr, _, _, _ = gemm_info(dt)
    if rows.shape[0] != nr or (rows.shape[1] > 1 and rows.strides[1] != rows.itemsize):
        raise ValueError(f"gemm_packt: need {nr} rows of unit-stride values")
    cdef int64_t kc = rows.shape[1], j
    out = np.empty((kc, nr), dtype=dt)
    cdef char *base = <char*>cnp.PyArray_DATA(<cnp.ndarray>rows)
    cdef void *po = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef const void *ptrs[64]
    cdef Py_ssize_t rs = rows.strides[0]
    for j in range(nr):
        ptrs[j] = base + j * rs
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            fc_gemm_select_f32().packt(kc, <const float *const *>ptrs, <float*>po)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            fc_gemm_select_f64().packt(kc, <const double *const *>ptrs, <double*>po)
            fc_call_leave()
    return out
