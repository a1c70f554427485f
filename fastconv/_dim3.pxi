# 3-D convolution and pooling kernels.  Arrays arrive C-contiguous with the shapes the
# geometry tuple implies (checked by fastconv._args3 before calling).
#   conv:  (N, C_in, D, H, W, C_out, kD, kH, kW, D_out, H_out, W_out,
#           sD, sH, sW, pD, pH, pW, dD, dH, dW, groups)
#   pool:  (P, D, H, W, D_out, H_out, W_out, kD, kH, kW, sD, sH, sW, pD, pH, pW,
#           dD, dH, dW, qD, qH, qW); adaptive pooling ignores the kernel fields.

cdef extern from "fastconv.h":
    ctypedef struct fc_conv3d_geom:
        int64_t N, C_in, D, H, W, C_out, kD, kH, kW, D_out, H_out, W_out
        int64_t sD, sH, sW, pD, pH, pW, dD, dH, dW, groups
    fc_status fc_conv3d_forward_f32(const fc_conv3d_geom *g, fc_conv_algo algo, const float *x,
                                    const float *w, const float *bias, float *y) nogil
    fc_status fc_conv3d_forward_f64(const fc_conv3d_geom *g, fc_conv_algo algo, const double *x,
                                    const double *w, const double *bias, double *y) nogil
    fc_status fc_conv3d_backward_data_f32(const fc_conv3d_geom *g, fc_conv_algo algo,
                                          const float *gy, const float *w, float *gx) nogil
    fc_status fc_conv3d_backward_data_f64(const fc_conv3d_geom *g, fc_conv_algo algo,
                                          const double *gy, const double *w, double *gx) nogil
    fc_status fc_conv3d_backward_weight_f32(const fc_conv3d_geom *g, fc_conv_algo algo,
                                            const float *gy, const float *x, float *gw,
                                            float *gb) nogil
    fc_status fc_conv3d_backward_weight_f64(const fc_conv3d_geom *g, fc_conv_algo algo,
                                            const double *gy, const double *x, double *gw,
                                            double *gb) nogil
    fc_conv_algo fc_conv3d_choose_algo(const fc_conv3d_geom *g, int pass_, int itemsize) nogil

    ctypedef struct fc_pool3d_geom:
        int64_t P, D, H, W, D_out, H_out, W_out, kD, kH, kW, sD, sH, sW
        int64_t pD, pH, pW, dD, dH, dW, qD, qH, qW
    fc_status fc_max_pool3d_forward_f32(const fc_pool3d_geom *g, const float *x, float *y,
                                        int64_t *indices) nogil
    fc_status fc_max_pool3d_forward_f64(const fc_pool3d_geom *g, const double *x, double *y,
                                        int64_t *indices) nogil
    fc_status fc_max_pool3d_backward_f32(const fc_pool3d_geom *g, const float *gy,
                                         const int64_t *indices, const float *x,
                                         float *gx) nogil
    fc_status fc_max_pool3d_backward_f64(const fc_pool3d_geom *g, const double *gy,
                                         const int64_t *indices, const double *x,
                                         double *gx) nogil
    fc_status fc_avg_pool3d_forward_f32(const fc_pool3d_geom *g, int cip, int64_t dov,
                                        const float *x, float *y) nogil
    fc_status fc_avg_pool3d_forward_f64(const fc_pool3d_geom *g, int cip, int64_t dov,
                                        const double *x, double *y) nogil
    fc_status fc_avg_pool3d_backward_f32(const fc_pool3d_geom *g, int cip, int64_t dov,
                                         const float *gy, float *gx) nogil
    fc_status fc_avg_pool3d_backward_f64(const fc_pool3d_geom *g, int cip, int64_t dov,
                                         const double *gy, double *gx) nogil
    fc_status fc_adaptive_avg_pool3d_forward_f32(const fc_pool3d_geom *g, const float *x,
                                                 float *y) nogil
    fc_status fc_adaptive_avg_pool3d_forward_f64(const fc_pool3d_geom *g, const double *x,
                                                 double *y) nogil
    fc_status fc_adaptive_avg_pool3d_backward_f32(const fc_pool3d_geom *g, const float *gy,
                                                  float *gx) nogil
    fc_status fc_adaptive_avg_pool3d_backward_f64(const fc_pool3d_geom *g, const double *gy,
                                                  double *gx) nogil
    fc_status fc_adaptive_max_pool3d_forward_f32(const fc_pool3d_geom *g, const float *x,
                                                 float *y, int64_t *indices) nogil
    fc_status fc_adaptive_max_pool3d_forward_f64(const fc_pool3d_geom *g, const double *x,
                                                 double *y, int64_t *indices) nogil
    fc_status fc_adaptive_max_pool3d_backward_f32(const fc_pool3d_geom *g, const float *gy,
                                                  const int64_t *indices, const float *x,
                                                  float *gx) nogil
    fc_status fc_adaptive_max_pool3d_backward_f64(const fc_pool3d_geom *g, const double *gy,
                                                  const int64_t *indices, const double *x,
                                                  double *gx) nogil


cdef fc_conv3d_geom _geom3(tuple t) except *:
    cdef fc_conv3d_geom g
    (g.N, g.C_in, g.D, g.H, g.W, g.C_out, g.kD, g.kH, g.kW, g.D_out, g.H_out, g.W_out,
     g.sD, g.sH, g.sW, g.pD, g.pH, g.pW, g.dD, g.dH, g.dW, g.groups) = t
    return g


cdef int64_t _wsize3(const fc_conv3d_geom *g):
    return g.C_out * (g.C_in // g.groups) * g.kD * g.kH * g.kW


def choose_conv3d_algo(tuple geom, int pass_, int itemsize):
    cdef fc_conv3d_geom g = _geom3(geom)
    return _ALGO_NAME[fc_conv3d_choose_algo(&g, pass_, itemsize)]


def conv3d_forward(cnp.ndarray x, cnp.ndarray w, cnp.ndarray bias, tuple geom, str algo):
    cdef fc_conv3d_geom g = _geom3(geom)
    cdef fc_conv_algo a = _ALGO_BY_NAME[algo]
    dt = x.dtype
    cdef bint f32 = dt == np.float32
    _require(x, dt, g.N * g.C_in * g.D * g.H * g.W, "x")
    _require(w, dt, _wsize3(&g), "weight")
    if bias is not None:
        _require(bias, dt, g.C_out, "bias")
    cdef cnp.ndarray y = np.empty((g.N, g.C_out, g.D_out, g.H_out, g.W_out), dtype=dt)
    cdef void *px = _ptr(x)
    cdef void *pw = _ptr(w)
    cdef void *pb = _ptr(bias)
    cdef void *py = _ptr(y)
    cdef fc_status st
    with nogil:
        fc_call_enter()
        if f32:
            st = fc_conv3d_forward_f32(&g, a, <float*>px, <float*>pw, <float*>pb, <float*>py)
        else:
            st = fc_conv3d_forward_f64(&g, a, <double*>px, <double*>pw, <double*>pb,
                                       <double*>py)
        fc_call_leave()
    check_status(st)
    return y


def conv3d_backward_data(cnp.ndarray gy, cnp.ndarray w, tuple geom, str algo):
    cdef fc_conv3d_geom g = _geom3(geom)
    cdef fc_conv_algo a = _ALGO_BY_NAME[algo]
    dt = gy.dtype
    cdef bint f32 = dt == np.float32
    _require(gy, dt, g.N * g.C_out * g.D_out * g.H_out * g.W_out, "grad_output")
    _require(w, dt, _wsize3(&g), "weight")
    cdef cnp.ndarray gx = np.empty((g.N, g.C_in, g.D, g.H, g.W), dtype=dt)
    cdef void *pgy = _ptr(gy)
    cdef void *pw = _ptr(w)
    cdef void *pgx = _ptr(gx)
    cdef fc_status st
    with nogil:
        fc_call_enter()
        if f32:
            st = fc_conv3d_backward_data_f32(&g, a, <float*>pgy, <float*>pw, <float*>pgx)
        else:
            st = fc_conv3d_backward_data_f64(&g, a, <double*>pgy, <double*>pw, <double*>pgx)
        fc_call_leave()
    check_status(st)
    return gx


def conv3d_backward_weight(cnp.ndarray gy, cnp.ndarray x, tuple geom, str algo,
                           bint want_weight, bint want_bias):
    cdef fc_conv3d_geom g = _geom3(geom)
    cdef fc_conv_algo a = _ALGO_BY_NAME[algo]
    dt = gy.dtype
    cdef bint f32 = dt == np.float32
    _require(gy, dt, g.N * g.C_out * g.D_out * g.H_out * g.W_out, "grad_output")
    _require(x, dt, g.N * g.C_in * g.D * g.H * g.W, "x")
    cdef cnp.ndarray gw = (np.empty((g.C_out, g.C_in // g.groups, g.kD, g.kH, g.kW), dtype=dt)
                           if want_weight else None)
    cdef cnp.ndarray gb = np.empty((g.C_out,), dtype=dt) if want_bias else None
    cdef void *pgy = _ptr(gy)
    cdef void *px = _ptr(x)
    cdef void *pgw = _ptr(gw)
    cdef void *pgb = _ptr(gb)
    cdef fc_status st
    with nogil:
        fc_call_enter()
        if f32:
            st = fc_conv3d_backward_weight_f32(&g, a, <float*>pgy, <float*>px, <float*>pgw,
                                               <float*>pgb)
        else:
            st = fc_conv3d_backward_weight_f64(&g, a, <double*>pgy, <double*>px,
                                               <double*>pgw, <double*>pgb)
        fc_call_leave()
    check_status(st)
    return gw, gb


cdef fc_pool3d_geom _pgeom3(tuple t) except *:
    cdef fc_pool3d_geom g
    (g.P, g.D, g.H, g.W, g.D_out, g.H_out, g.W_out, g.kD, g.kH, g.kW, g.sD, g.sH, g.sW,
     g.pD, g.pH, g.pW, g.dD, g.dH, g.dW, g.qD, g.qH, g.qW) = t
    return g


def max_pool3d_forward(cnp.ndarray x, tuple geom, bint want_indices, bint adaptive):
    """(y, indices or None), shaped (P, D_out, H_out, W_out)."""
    cdef fc_pool3d_geom g = _pgeom3(geom)
    dt = x.dtype
    cdef bint f32 = dt == np.float32
    _require(x, dt, g.P * g.D * g.H * g.W, "x")
    shape = (g.P, g.D_out, g.H_out, g.W_out)
    cdef cnp.ndarray y = np.empty(shape, dtype=dt)
    cdef cnp.ndarray ind = np.empty(shape, dtype=np.int64) if want_indices else None
    cdef void *px = _ptr(x)
    cdef void *py = _ptr(y)
    cdef int64_t *pi = <int64_t*>_ptr(ind)
    cdef fc_status st
    with nogil:
        fc_call_enter()
        if f32:
            st = (fc_adaptive_max_pool3d_forward_f32(&g, <float*>px, <float*>py, pi) if adaptive
                  else fc_max_pool3d_forward_f32(&g, <float*>px, <float*>py, pi))
        else:
            st = (fc_adaptive_max_pool3d_forward_f64(&g, <double*>px, <double*>py, pi)
                  if adaptive else fc_max_pool3d_forward_f64(&g, <double*>px, <double*>py, pi))
        fc_call_leave()
    check_status(st)
    return y, ind


def max_pool3d_backward(cnp.ndarray gy, cnp.ndarray x, cnp.ndarray ind, tuple geom,
                        bint adaptive):
    """grad_input (P, D, H, W) from gy and either indices or x."""
    cdef fc_pool3d_geom g = _pgeom3(geom)
    dt = gy.dtype
    cdef bint f32 = dt == np.float32
    _require(gy, dt, g.P * g.D_out * g.H_out * g.W_out, "grad_output")
    if ind is not None:
        _require(ind, np.int64, g.P * g.D_out * g.H_out * g.W_out, "indices")
    else:
        if x is None:
            raise ValueError("internal: max pooling backward needs indices or the input")
        _require(x, dt, g.P * g.D * g.H * g.W, "x")
    cdef cnp.ndarray gx = np.empty((g.P, g.D, g.H, g.W), dtype=dt)
    cdef void *pgy = _ptr(gy)
    cdef void *px = _ptr(x)
    cdef void *pgx = _ptr(gx)
    cdef const int64_t *pi = <const int64_t*>_ptr(ind)
    cdef fc_status st
    with nogil:
        fc_call_enter()
        if f32:
            st = (fc_adaptive_max_pool3d_backward_f32(&g, <float*>pgy, pi, <float*>px,
                                                      <float*>pgx) if adaptive else
                  fc_max_pool3d_backward_f32(&g, <float*>pgy, pi, <float*>px, <float*>pgx))
        else:
            st = (fc_adaptive_max_pool3d_backward_f64(&g, <double*>pgy, pi, <double*>px,
                                                      <double*>pgx) if adaptive else
                  fc_max_pool3d_backward_f64(&g, <double*>pgy, pi, <double*>px, <double*>pgx))
        fc_call_leave()
    if st == FC_ERR_INDEX:
        from fastconv._args import indices_range_error
        raise indices_range_error(ind, g.D * g.H * g.W)
    check_status(st)
    return gx


def avg_pool3d_forward(cnp.ndarray x, tuple geom, bint count_include_pad,
                       int64_t divisor_override, bint adaptive):
    cdef fc_pool3d_geom g = _pgeom3(geom)
    dt = x.dtype
    cdef bint f32 = dt == np.float32
    _require(x, dt, g.P * g.D * g.H * g.W, "x")
    cdef cnp.ndarray y = np.empty((g.P, g.D_out, g.H_out, g.W_out), dtype=dt)
    cdef void *px = _ptr(x)
    cdef void *py = _ptr(y)
    cdef int cip = count_include_pad
    cdef fc_status st
    with nogil:
        fc_call_enter()
        if f32:
            st = (fc_adaptive_avg_pool3d_forward_f32(&g, <float*>px, <float*>py) if adaptive
                  else fc_avg_pool3d_forward_f32(&g, cip, divisor_override, <float*>px,
                                                 <float*>py))
        else:
            st = (fc_adaptive_avg_pool3d_forward_f64(&g, <double*>px, <double*>py) if adaptive
                  else fc_avg_pool3d_forward_f64(&g, cip, divisor_override, <double*>px,
                                                 <double*>py))
        fc_call_leave()
    check_status(st)
    return y


def avg_pool3d_backward(cnp.ndarray gy, tuple geom, bint count_include_pad,
                        int64_t divisor_override, bint adaptive):
    cdef fc_pool3d_geom g = _pgeom3(geom)
    dt = gy.dtype
    cdef bint f32 = dt == np.float32
    _require(gy, dt, g.P * g.D_out * g.H_out * g.W_out, "grad_output")
    cdef cnp.ndarray gx = np.empty((g.P, g.D, g.H, g.W), dtype=dt)
    cdef void *pgy = _ptr(gy)
    cdef void *pgx = _ptr(gx)
    cdef int cip = count_include_pad
    cdef fc_status st
    with nogil:
        fc_call_enter()
        if f32:
            st = (fc_adaptive_avg_pool3d_backward_f32(&g, <float*>pgy, <float*>pgx) if adaptive
                  else fc_avg_pool3d_backward_f32(&g, cip, divisor_override, <float*>pgy,
                                                  <float*>pgx))
        else:
            st = (fc_adaptive_avg_pool3d_backward_f64(&g, <double*>pgy, <double*>pgx)
                  if adaptive else fc_avg_pool3d_backward_f64(&g, cip, divisor_override,
                                                              <double*>pgy, <double*>pgx))
        fc_call_leave()
    check_status(st)
    return gx
