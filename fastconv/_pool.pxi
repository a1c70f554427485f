# Pooling kernels.  Arrays arrive C-contiguous, of one dtype (float32 or float64, indices
# int64), with the shapes the geometry tuple implies (checked by fastconv.pool / _args
# before calling).  Geometry tuple: (P, H, W, H_out, W_out, kH, kW, sH, sW, pH, pW, dH, dW)
# with P = N * C; adaptive pooling ignores the kernel fields.

cdef extern from "fastconv.h":
    ctypedef struct fc_pool_geom:
        int64_t P, H, W, H_out, W_out, kH, kW, sH, sW, pH, pW, dH, dW, qH, qW
    fc_status fc_max_pool2d_forward_f32(const fc_pool_geom *g, const float *x, float *y,
                                        int64_t *indices) nogil
    fc_status fc_max_pool2d_forward_f64(const fc_pool_geom *g, const double *x, double *y,
                                        int64_t *indices) nogil
    fc_status fc_max_pool2d_backward_f32(const fc_pool_geom *g, const float *gy,
                                         const int64_t *indices, const float *x,
                                         float *gx) nogil
    fc_status fc_max_pool2d_backward_f64(const fc_pool_geom *g, const double *gy,
                                         const int64_t *indices, const double *x,
                                         double *gx) nogil
    fc_status fc_avg_pool2d_forward_f32(const fc_pool_geom *g, int count_include_pad,
                                        int64_t divisor_override, const float *x,
                                        float *y) nogil
    fc_status fc_avg_pool2d_forward_f64(const fc_pool_geom *g, int count_include_pad,
                                        int64_t divisor_override, const double *x,
                                        double *y) nogil
    fc_status fc_avg_pool2d_backward_f32(const fc_pool_geom *g, int count_include_pad,
                                         int64_t divisor_override, const float *gy,
                                         float *gx) nogil
    fc_status fc_avg_pool2d_backward_f64(const fc_pool_geom *g, int count_include_pad,
                                         int64_t divisor_override, const double *gy,
                                         double *gx) nogil
    fc_status fc_adaptive_avg_pool2d_forward_f32(const fc_pool_geom *g, const float *x,
                                                 float *y) nogil
    fc_status fc_adaptive_avg_pool2d_forward_f64(const fc_pool_geom *g, const double *x,
                                                 double *y) nogil
    fc_status fc_adaptive_avg_pool2d_backward_f32(const fc_pool_geom *g, const float *gy,
                                                  float *gx) nogil
    fc_status fc_adaptive_avg_pool2d_backward_f64(const fc_pool_geom *g, const double *gy,
                                                  double *gx) nogil
    fc_status fc_adaptive_max_pool2d_forward_f32(const fc_pool_geom *g, const float *x,
                                                 float *y, int64_t *indices) nogil
    fc_status fc_adaptive_max_pool2d_forward_f64(const fc_pool_geom *g, const double *x,
                                                 double *y, int64_t *indices) nogil
    fc_status fc_adaptive_max_pool2d_backward_f32(const fc_pool_geom *g, const float *gy,
                                                  const int64_t *indices, const float *x,
                                                  float *gx) nogil
    fc_status fc_adaptive_max_pool2d_backward_f64(const fc_pool_geom *g, const double *gy,
                                                  const int64_t *indices, const double *x,
                                                  double *gx) nogil


cdef fc_pool_geom _pool_geom(tuple t) except *:
    """(P, H, W, H_out, W_out, kH, kW, sH, sW, pH, pW, dH, dW[, qH, qW]); the bottom/right
    padding qH, qW defaults to the top/left one."""
    cdef fc_pool_geom g
    (g.P, g.H, g.W, g.H_out, g.W_out, g.kH, g.kW, g.sH, g.sW, g.pH, g.pW, g.dH, g.dW) = t[:13]
    g.qH, g.qW = (t[13], t[14]) if len(t) == 15 else (g.pH, g.pW)
    return g


cdef _check_indices(cnp.ndarray ind, const fc_pool_geom *g):
    """Layout and size only: the kernel checks every value before writing through it."""
    _require(ind, np.int64, g.P * g.H_out * g.W_out, "indices")


def max_pool2d_forward(cnp.ndarray x, tuple geom, bint want_indices, bint adaptive):
    """Returns (y, indices or None), y and indices shaped (P, H_out, W_out)."""
    cdef fc_pool_geom g = _pool_geom(geom)
    dt = x.dtype
    _require(x, dt, g.P * g.H * g.W, "x")
    cdef cnp.ndarray y = np.empty((g.P, g.H_out, g.W_out), dtype=dt)
    cdef cnp.ndarray ind = (np.empty((g.P, g.H_out, g.W_out), dtype=np.int64)
                            if want_indices else None)
    cdef void *px = _ptr(x)
    cdef void *py = _ptr(y)
    cdef int64_t *pi = <int64_t*>_ptr(ind)
    cdef fc_status st
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            if adaptive:
                st = fc_adaptive_max_pool2d_forward_f32(&g, <float*>px, <float*>py, pi)
            else:
                st = fc_max_pool2d_forward_f32(&g, <float*>px, <float*>py, pi)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            if adaptive:
                st = fc_adaptive_max_pool2d_forward_f64(&g, <double*>px, <double*>py, pi)
            else:
                st = fc_max_pool2d_forward_f64(&g, <double*>px, <double*>py, pi)
            fc_call_leave()
    check_status(st)
    return y, ind


def max_pool2d_backward(cnp.ndarray gy, cnp.ndarray x, cnp.ndarray ind, tuple geom,
                        bint adaptive):
    """grad_input (P, H, W) from gy (P, H_out, W_out) and either indices or x."""
    cdef fc_pool_geom g = _pool_geom(geom)
    dt = gy.dtype
    _require(gy, dt, g.P * g.H_out * g.W_out, "grad_output")
    if ind is not None:
        _check_indices(ind, &g)
    else:
        if x is None:
            raise ValueError("internal: max pooling backward needs indices or the input")
        _require(x, dt, g.P * g.H * g.W, "x")
    cdef cnp.ndarray gx = np.empty((g.P, g.H, g.W), dtype=dt)
    cdef void *pgy = _ptr(gy)
    cdef void *px = _ptr(x)
    cdef void *pgx = _ptr(gx)
    cdef const int64_t *pi = <const int64_t*>_ptr(ind)
    cdef fc_status st
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            if adaptive:
                st = fc_adaptive_max_pool2d_backward_f32(&g, <float*>pgy, pi, <float*>px,
                                                         <float*>pgx)
            else:
                st = fc_max_pool2d_backward_f32(&g, <float*>pgy, pi, <float*>px, <float*>pgx)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            if adaptive:
                st = fc_adaptive_max_pool2d_backward_f64(&g, <double*>pgy, pi, <double*>px,
                                                         <double*>pgx)
            else:
                st = fc_max_pool2d_backward_f64(&g, <double*>pgy, pi, <double*>px,
                                                <double*>pgx)
            fc_call_leave()
    if st == FC_ERR_INDEX:
        from fastconv._args import indices_range_error
        raise indices_range_error(ind, g.H * g.W)
    check_status(st)
    return gx


def avg_pool2d_forward(cnp.ndarray x, tuple geom, bint count_include_pad,
                       int64_t divisor_override):
    """divisor_override 0: none.  Adaptive when the geometry's kernel fields are 0."""
    cdef fc_pool_geom g = _pool_geom(geom)
    dt = x.dtype
    _require(x, dt, g.P * g.H * g.W, "x")
    cdef cnp.ndarray y = np.empty((g.P, g.H_out, g.W_out), dtype=dt)
    cdef void *px = _ptr(x)
    cdef void *py = _ptr(y)
    cdef bint adaptive = g.kH == 0
    cdef int cip = count_include_pad
    cdef fc_status st
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            if adaptive:
                st = fc_adaptive_avg_pool2d_forward_f32(&g, <float*>px, <float*>py)
            else:
                st = fc_avg_pool2d_forward_f32(&g, cip, divisor_override, <float*>px,
                                               <float*>py)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            if adaptive:
                st = fc_adaptive_avg_pool2d_forward_f64(&g, <double*>px, <double*>py)
            else:
                st = fc_avg_pool2d_forward_f64(&g, cip, divisor_override, <double*>px,
                                               <double*>py)
            fc_call_leave()
    check_status(st)
    return y


def avg_pool2d_backward(cnp.ndarray gy, tuple geom, bint count_include_pad,
                        int64_t divisor_override):
    cdef fc_pool_geom g = _pool_geom(geom)
    dt = gy.dtype
    _require(gy, dt, g.P * g.H_out * g.W_out, "grad_output")
    cdef cnp.ndarray gx = np.empty((g.P, g.H, g.W), dtype=dt)
    cdef void *pgy = _ptr(gy)
    cdef void *pgx = _ptr(gx)
    cdef bint adaptive = g.kH == 0
    cdef int cip = count_include_pad
    cdef fc_status st
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            if adaptive:
                st = fc_adaptive_avg_pool2d_backward_f32(&g, <float*>pgy, <float*>pgx)
            else:
                st = fc_avg_pool2d_backward_f32(&g, cip, divisor_override, <float*>pgy,
                                                <float*>pgx)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            if adaptive:
                st = fc_adaptive_avg_pool2d_backward_f64(&g, <double*>pgy, <double*>pgx)
            else:
                st = fc_avg_pool2d_backward_f64(&g, cip, divisor_override, <double*>pgy,
                                                <double*>pgx)
            fc_call_leave()
    check_status(st)
    return gx
