# conv2d kernels.  Arrays arrive C-contiguous, of one dtype (float32 or float64), with the
# shapes the geometry tuple implies (checked by fastconv._args before calling).

cdef extern from "fastconv.h":
    ctypedef enum fc_conv_algo:
        FC_ALGO_AUTO
        FC_ALGO_DIRECT
        FC_ALGO_IM2COL
        FC_ALGO_WINOGRAD
        FC_ALGO_WINOGRAD_2
        FC_ALGO_WINOGRAD_4
        FC_ALGO_WINOGRAD_PHASES
    ctypedef struct fc_conv_geom:
        int64_t N, C_in, H, W, C_out, kH, kW, H_out, W_out, sH, sW, pH, pW, dH, dW, groups
    fc_status fc_conv2d_forward_f32(const fc_conv_geom *g, fc_conv_algo algo, const float *x,
                                    const float *w, const float *bias, float *y) nogil
    fc_status fc_conv2d_forward_f64(const fc_conv_geom *g, fc_conv_algo algo, const double *x,
                                    const double *w, const double *bias, double *y) nogil
    fc_status fc_conv2d_backward_data_f32(const fc_conv_geom *g, fc_conv_algo algo,
                                          const float *gy, const float *w, float *gx) nogil
    fc_status fc_conv2d_backward_data_f64(const fc_conv_geom *g, fc_conv_algo algo,
                                          const double *gy, const double *w, double *gx) nogil
    fc_status fc_conv2d_backward_weight_f32(const fc_conv_geom *g, fc_conv_algo algo,
                                            const float *gy, const float *x, float *gw,
                                            float *gb) nogil
    fc_status fc_conv2d_backward_weight_f64(const fc_conv_geom *g, fc_conv_algo algo,
                                            const double *gy, const double *x, double *gw,
                                            double *gb) nogil
    fc_status fc_conv2d_forward_strided_f32(const fc_conv_geom *g, fc_conv_algo algo,
                                            const float *x, const int64_t *xs,
                                            const float *w, const float *bias, float *y,
                                            const int64_t *ys) nogil
    fc_status fc_conv2d_forward_strided_f64(const fc_conv_geom *g, fc_conv_algo algo,
                                            const double *x, const int64_t *xs,
                                            const double *w, const double *bias, double *y,
                                            const int64_t *ys) nogil
    fc_conv_algo fc_conv2d_choose_algo(const fc_conv_geom *g, int pass_, int itemsize) nogil
    int fc_wino_set_schedule(int schedule) nogil
    fc_status fc_unfold_f32(const fc_conv_geom *g, const float *x, float *cols) nogil
    fc_status fc_unfold_f64(const fc_conv_geom *g, const double *x, double *cols) nogil
    fc_status fc_fold_f32(const fc_conv_geom *g, const float *cols, float *x) nogil
    fc_status fc_fold_f64(const fc_conv_geom *g, const double *cols, double *x) nogil

_ALGO_BY_NAME = {"auto": FC_ALGO_AUTO, "direct": FC_ALGO_DIRECT, "im2col": FC_ALGO_IM2COL,
                 "winograd": FC_ALGO_WINOGRAD, "winograd_2x2": FC_ALGO_WINOGRAD_2,
                 "winograd_4x4": FC_ALGO_WINOGRAD_4}
_ALGO_NAME = {v: k for k, v in _ALGO_BY_NAME.items()}
# what 'auto' may resolve to but no call may ask for: a dilated layer as the Winograd
# convolution of its phase images (csrc/conv/conv_phases.c)
_ALGO_NAME[FC_ALGO_WINOGRAD_PHASES] = "winograd_phases"


cdef fc_conv_geom _geom(tuple t) except *:
    """t = (N, C_in, H, W, C_out, kH, kW, H_out, W_out, sH, sW, pH, pW, dH, dW, groups)"""
    cdef fc_conv_geom g
    (g.N, g.C_in, g.H, g.W, g.C_out, g.kH, g.kW, g.H_out, g.W_out,
     g.sH, g.sW, g.pH, g.pW, g.dH, g.dW, g.groups) = t
    return g


cdef inline void *_ptr(cnp.ndarray a):
    return NULL if a is None else cnp.PyArray_DATA(a)


cdef _require(cnp.ndarray a, dtype, Py_ssize_t size, name):
    # O(1) guard against an internal misuse turning into an out-of-bounds access.
    # Alignment too: the kernels load whole elements (a misaligned double is undefined
    # behaviour, seen by UBSan).
    if (not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISALIGNED(a)
            or a.dtype != dtype or a.size != size):
        raise ValueError(f"internal: {name} must be a C-contiguous, aligned {dtype} array of "
                         f"size {size}")


def choose_conv_algo(tuple geom, int pass_, int itemsize):
    """Name of the algorithm 'auto' resolves to for this geometry and pass."""
    cdef fc_conv_geom g = _geom(geom)
    return _ALGO_NAME[fc_conv2d_choose_algo(&g, pass_, itemsize)]


_WINO_SCHEDULES = ("auto", "tiles", "deep")


def winograd_schedule(str name):
    """Force Winograd's work schedule ('auto', 'tiles' or 'deep'; fastconv.h:
    fc_wino_set_schedule) for tests and benchmarks; returns the previous name."""
    if name not in _WINO_SCHEDULES:
        raise ValueError(f"winograd schedule must be one of {_WINO_SCHEDULES}, got {name!r}")
    return _WINO_SCHEDULES[fc_wino_set_schedule(_WINO_SCHEDULES.index(name))]


def conv2d_forward(cnp.ndarray x, cnp.ndarray w, cnp.ndarray bias, tuple geom, str algo):
    cdef fc_conv_geom g = _geom(geom)
    cdef fc_conv_algo a = _ALGO_BY_NAME[algo]
    dt = x.dtype
    _require(x, dt, g.N * g.C_in * g.H * g.W, "x")
    _require(w, dt, g.C_out * (g.C_in // g.groups) * g.kH * g.kW, "weight")
    if bias is not None:
        _require(bias, dt, g.C_out, "bias")
    cdef cnp.ndarray y = np.empty((g.N, g.C_out, g.H_out, g.W_out), dtype=dt)
    cdef void *px = _ptr(x)
    cdef void *pw = _ptr(w)
    cdef void *pb = _ptr(bias)
    cdef void *py = _ptr(y)
    cdef fc_status st
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            st = fc_conv2d_forward_f32(&g, a, <float*>px, <float*>pw, <float*>pb, <float*>py)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            st = fc_conv2d_forward_f64(&g, a, <double*>px, <double*>pw, <double*>pb,
                                       <double*>py)
            fc_call_leave()
    check_status(st)
    return y


cdef _strides_of(object a, tuple shape, dtype, name, int64_t *out):
    # A 4-D view whose last axis is contiguous and whose other strides are non-negative
    # whole elements: what the strided kernels index (fastconv.h).
    if (a.ndim != 4 or tuple(a.shape) != shape or a.dtype != dtype
            or not a.flags.aligned):
        raise ValueError(f"internal: {name} must be an aligned {dtype} array of shape {shape}")
    item = a.itemsize
    for i in range(4):
        st = a.strides[i]
        if a.shape[i] > 1 and (st < 0 or st % item or (i == 3 and st != item)):
            raise ValueError(f"internal: {name} must have a contiguous last axis and "
                             f"non-negative strides, got strides {a.strides}")
        if i < 3:
            out[i] = st // item if a.shape[i] > 1 else 0


def conv2d_forward_into(cnp.ndarray x, cnp.ndarray w, cnp.ndarray bias, tuple geom, str algo,
                        cnp.ndarray y):
    """The forward pass from x into y, both (N, C, H, W) views with a contiguous last axis
    (blocks of larger arrays, read and written in place by the direct algorithm)."""
    cdef fc_conv_geom g = _geom(geom)
    cdef fc_conv_algo a = _ALGO_BY_NAME[algo]
    cdef int64_t xs[3]
    cdef int64_t ys[3]
    dt = x.dtype
    _strides_of(x, (g.N, g.C_in, g.H, g.W), dt, "x", xs)
    _strides_of(y, (g.N, g.C_out, g.H_out, g.W_out), dt, "out", ys)
    if not cnp.PyArray_ISWRITEABLE(y):
        raise ValueError("internal: out must be writeable")
    if np.may_share_memory(x, y):
        raise ValueError("internal: out must not overlap the input")
    # Distinct output elements: rows within a plane, planes within an image, images apart.
    if g.N * g.C_out * g.H_out * g.W_out and not (
            (g.H_out == 1 or ys[2] >= g.W_out) and
            (g.C_out == 1 or ys[1] >= (g.H_out - 1) * ys[2] + g.W_out) and
            (g.N == 1 or ys[0] >= (g.C_out - 1) * ys[1] + (g.H_out - 1) * ys[2] + g.W_out)):
        raise ValueError(f"internal: out's strides {(<object>y).strides} make elements overlap")
    _require(w, dt, g.C_out * (g.C_in // g.groups) * g.kH * g.kW, "weight")
    if bias is not None:
        _require(bias, dt, g.C_out, "bias")
    cdef void *px = _ptr(x)
    cdef void *pw = _ptr(w)
    cdef void *pb = _ptr(bias)
    cdef void *py = _ptr(y)
    cdef fc_status st
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            st = fc_conv2d_forward_strided_f32(&g, a, <float*>px, xs, <float*>pw, <float*>pb,
                                               <float*>py, ys)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            st = fc_conv2d_forward_strided_f64(&g, a, <double*>px, xs, <double*>pw,
                                               <double*>pb, <double*>py, ys)
            fc_call_leave()
    check_status(st)
    return y


def conv2d_backward_data(cnp.ndarray gy, cnp.ndarray w, tuple geom, str algo):
    cdef fc_conv_geom g = _geom(geom)
    cdef fc_conv_algo a = _ALGO_BY_NAME[algo]
    dt = gy.dtype
    _require(gy, dt, g.N * g.C_out * g.H_out * g.W_out, "grad_output")
    _require(w, dt, g.C_out * (g.C_in // g.groups) * g.kH * g.kW, "weight")
    cdef cnp.ndarray gx = np.empty((g.N, g.C_in, g.H, g.W), dtype=dt)
    cdef void *pgy = _ptr(gy)
    cdef void *pw = _ptr(w)
    cdef void *pgx = _ptr(gx)
    cdef fc_status st
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            st = fc_conv2d_backward_data_f32(&g, a, <float*>pgy, <float*>pw, <float*>pgx)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            st = fc_conv2d_backward_data_f64(&g, a, <double*>pgy, <double*>pw, <double*>pgx)
            fc_call_leave()
    check_status(st)
    return gx


def conv2d_backward_weight(cnp.ndarray gy, cnp.ndarray x, tuple geom, str algo,
                           bint want_weight, bint want_bias):
    """Returns (grad_weight or None, grad_bias or None)."""
    cdef fc_conv_geom g = _geom(geom)
    cdef fc_conv_algo a = _ALGO_BY_NAME[algo]
    dt = gy.dtype
    _require(gy, dt, g.N * g.C_out * g.H_out * g.W_out, "grad_output")
    _require(x, dt, g.N * g.C_in * g.H * g.W, "x")
    cdef cnp.ndarray gw = (np.empty((g.C_out, g.C_in // g.groups, g.kH, g.kW), dtype=dt)
                           if want_weight else None)
    cdef cnp.ndarray gb = np.empty((g.C_out,), dtype=dt) if want_bias else None
    cdef void *pgy = _ptr(gy)
    cdef void *px = _ptr(x)
    cdef void *pgw = _ptr(gw)
    cdef void *pgb = _ptr(gb)
    cdef fc_status st
    if dt == np.float32:
        with nogil:
            fc_call_enter()
            st = fc_conv2d_backward_weight_f32(&g, a, <float*>pgy, <float*>px, <float*>pgw,
                                               <float*>pgb)
            fc_call_leave()
    else:
        with nogil:
            fc_call_enter()
            st = fc_conv2d_backward_weight_f64(&g, a, <double*>pgy, <double*>px,
                                               <double*>pgw, <double*>pgb)
            fc_call_leave()
    check_status(st)
    return gw, gb


def unfold(cnp.ndarray x, tuple geom):
    """im2col of x (N, C, H, W) -> (N, C*kH*kW, H_out*W_out); geom as conv2d's, groups 1."""
    cdef fc_conv_geom g = _geom(geom)
    dt = x.dtype
    cdef bint f32 = dt == np.float32
    _require(x, dt, g.N * g.C_in * g.H * g.W, "x")
    cdef cnp.ndarray cols = np.empty((g.N, g.C_in * g.kH * g.kW, g.H_out * g.W_out), dtype=dt)
    cdef void *px = _ptr(x)
    cdef void *pc = _ptr(cols)
    cdef fc_status st
    with nogil:
        fc_call_enter()
        if f32:
            st = fc_unfold_f32(&g, <float*>px, <float*>pc)
        else:
            st = fc_unfold_f64(&g, <double*>px, <double*>pc)
        fc_call_leave()
    check_status(st)
    return cols


def fold(cnp.ndarray cols, tuple geom):
    """col2im: (N, C*kH*kW, H_out*W_out) -> (N, C, H, W), overlapping taps summed."""
    cdef fc_conv_geom g = _geom(geom)
    dt = cols.dtype
    cdef bint f32 = dt == np.float32
    _require(cols, dt, g.N * g.C_in * g.kH * g.kW * g.H_out * g.W_out, "cols")
    cdef cnp.ndarray x = np.empty((g.N, g.C_in, g.H, g.W), dtype=dt)
    cdef void *px = _ptr(x)
    cdef void *pc = _ptr(cols)
    cdef fc_status st
    with nogil:
        fc_call_enter()
        if f32:
            st = fc_fold_f32(&g, <float*>pc, <float*>px)
        else:
            st = fc_fold_f64(&g, <double*>pc, <double*>px)
        fc_call_leave()
    check_status(st)
    return x
