"""The 1-D convolution and pooling family on the 2-D implementations: an (N, C, L) array is
the (N, C, 1, L) array the 2-D function sees, with every size of the H axis set so that it
changes nothing (kernel 1, stride 1, padding 0, dilation 1).  No data is copied for the
extra axis: it is a view.

`make(M, fname_suffix)` builds the functions on M, a module with the 2-D functions
(fastconv.functional for the kernels, fastconv.reference for the oracle), so both accept
and refuse exactly the same 1-D arguments.  The 2-D validation speaks in 4-D shapes and
2-D names; `_restated` gives its messages back in the caller's 1-D terms.
"""
import functools
import re

import numpy as np

from . import _args


def _shape(s):
    return "[" + ", ".join(str(int(v)) for v in s) + "]"


def _one(v, name):
    """A 1-D size: an int, or a one-entry tuple/list/array -> the bare value (checked by the
    2-D rules after)."""
    if isinstance(v, (tuple, list)) or (isinstance(v, np.ndarray) and v.ndim == 1):
        if len(v) != 1:
            raise ValueError(f"{name} must be an int or a one-entry tuple for a 1-D "
                             f"function, got {len(v)} values: {v!r}")
        return v[0]
    return v


def _size(v, name, h=1):
    """A 1-D size as the 2-D pair (h, v)."""
    return (h, _one(v, name))


def _padding(p):
    """1-D padding -> 2-D: "same"/"valid" stay; an int p -> (0, p); a per-side pair
    ((before, after),) or (before, after) given as one pair -> ((0, 0), (before, after))."""
    if isinstance(p, str):
        return p
    if isinstance(p, (tuple, list)) and len(p) == 1 and isinstance(p[0], (tuple, list)):
        return ((0, 0), tuple(p[0]))
    if isinstance(p, (tuple, list)) and len(p) == 2 and not any(
            isinstance(v, (tuple, list)) for v in p):
        raise ValueError(f"padding must be an int, a one-entry tuple, ((before, after),), "
                         f"'same' or 'valid' for a 1-D function, got {p!r}")
    return (0, _one(p, "padding"))


def _x3(a, name, fname):
    """(N, C, L) or unbatched (C, L) -> the 2-D function's (N, C, 1, L) / (C, 1, L) view."""
    _args.check_array(a, name)
    if a.ndim not in (2, 3):
        raise ValueError(f"{fname}: expected {name} to be 2-D (C, L) or 3-D (N, C, L), got "
                         f"{a.ndim}-D {name} of shape {_shape(a.shape)}")
    return a[..., None, :]


def _ind3(ind):
    """Pooling indices (N, C, L_out) as the 2-D view; anything else goes to the 2-D checks."""
    if isinstance(ind, np.ndarray) and ind.ndim in (2, 3):
        return ind[..., None, :]
    return ind


def _w3(w, fname):
    _args.check_array(w, "weight")
    if w.ndim != 3:
        raise ValueError(f"{fname}: expected weight to be 3-D (out, in / groups, kL), got "
                         f"{w.ndim}-D weight of shape {_shape(w.shape)}")
    return w[:, :, None, :]


def _in_shape(s, fname):
    if not isinstance(s, (tuple, list)):
        raise TypeError(f"{fname}: input_shape must be a tuple of 2 or 3 ints, got "
                        f"{type(s).__name__}")
    if len(s) not in (2, 3):
        raise ValueError(f"{fname}: input_shape must have 2 or 3 entries, got {len(s)}")
    return tuple(s[:-1]) + (1, s[-1])


def _out(a):
    """Drop the H axis of a 2-D result (None stays None)."""
    return None if a is None else a[..., 0, :]


def _restated(f, name1, name2):
    """Run f; give a ValueError/TypeError of the 2-D function back with the 1-D name and
    with 4-D shapes [.., 1, L] written as the caller's [.., L]."""
    @functools.wraps(f)
    def run(*a, **k):
        try:
            return f(*a, **k)
        except (ValueError, TypeError) as e:
            msg = str(e).replace(name2, name1)
            msg = re.sub(r"\[((?:\d+, )*)1, (\d+)\]", r"[\1\2]", msg)
            msg = re.sub(r"\((\d+)x1x(\d+)\)", r"(\1x\2)", msg)
            msg = re.sub(r"\(1 x (\d+)\)", r"(\1)", msg)
            raise type(e)(msg) from None
    return run


def make(M, with_algorithm):
    """The 1-D functions on module M's 2-D functions.  with_algorithm: M's convolutions
    take algorithm= (the kernels do, the reference does not)."""
    def alg(kw):
        """The keyword arguments beyond the signature: algorithm= where M takes it."""
        extra = set(kw) - ({"algorithm"} if with_algorithm else set())
        if extra:
            raise TypeError(f"got an unexpected keyword argument {sorted(extra)[0]!r}")
        return dict(kw)

    def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
               padding_mode="zeros", **kw):
        x, w = _x3(input, "input", "conv1d"), _w3(weight, "conv1d")
        return _out(M.conv2d(x, w, bias, _size(stride, "stride"), _padding(padding),
                             _size(dilation, "dilation"), groups, padding_mode=padding_mode,
                             **alg(kw)))

    def conv1d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1,
                        groups=1, *, padding_mode="zeros", output_mask=(True, True, True),
                        **kw):
        x, w = _x3(input, "input", "conv1d_backward"), _w3(weight, "conv1d_backward")
        gy = _x3(grad_output, "grad_output", "conv1d_backward")
        gx, gw, gb = M.conv2d_backward(gy, x, w, _size(stride, "stride"), _padding(padding),
                                       _size(dilation, "dilation"), groups,
                                       padding_mode=padding_mode, output_mask=output_mask,
                                       **alg(kw))
        return _out(gx), _out(gw), gb

    def _tsize(output_size):
        if output_size is None:
            return None
        if isinstance(output_size, (tuple, list, np.ndarray)):
            if len(output_size) < 1:
                raise ValueError(f"output_size must have 1 or more elements, got "
                                 f"{list(output_size)}")
            return (1, list(output_size)[-1])
        return (1, output_size)

    def _tpadding(padding):
        """A transposed convolution's padding: symmetric, or ((before, after),) per side."""
        if isinstance(padding, str):
            raise ValueError(f"conv_transpose1d: padding must be an int or ((before, after),), "
                             f"got {padding!r}")
        return _padding(padding)

    def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                         groups=1, dilation=1, *, output_size=None):
        x, w = _x3(input, "input", "conv_transpose1d"), _w3(weight, "conv_transpose1d")
        return _out(M.conv_transpose2d(x, w, bias, _size(stride, "stride"),
                                       _tpadding(padding),
                                       _size(output_padding, "output_padding", 0), groups,
                                       _size(dilation, "dilation"),
                                       output_size=_tsize(output_size)))

    def conv_transpose1d_backward(grad_output, input, weight, stride=1, padding=0,
                                  output_padding=0, groups=1, dilation=1, *,
                                  output_mask=(True, True, True), output_size=None):
        f = "conv_transpose1d_backward"
        x, w = _x3(input, "input", f), _w3(weight, f)
        gy = _x3(grad_output, "grad_output", f)
        gx, gw, gb = M.conv_transpose2d_backward(
            gy, x, w, _size(stride, "stride"), _tpadding(padding),
            _size(output_padding, "output_padding", 0), groups, _size(dilation, "dilation"),
            output_mask=output_mask, output_size=_tsize(output_size))
        return _out(gx), _out(gw), gb

    def _pstride(stride):
        if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
            return None
        return _size(stride, "stride")

    def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                   return_indices=False):
        r = M.max_pool2d(_x3(input, "input", "max_pool1d"), _size(kernel_size, "kernel_size"),
                         _pstride(stride), _padding(padding), _size(dilation, "dilation"),
                         ceil_mode, return_indices)
        return (_out(r[0]), _out(r[1])) if isinstance(r, tuple) else _out(r)

    def max_pool1d_backward(grad_output, input, kernel_size, stride=None, padding=0,
                            dilation=1, ceil_mode=False, *, indices=None):
        f = "max_pool1d_backward"
        ind = None if indices is None else _ind3(indices)
        return _out(M.max_pool2d_backward(_x3(grad_output, "grad_output", f),
                                          _x3(input, "input", f),
                                          _size(kernel_size, "kernel_size"), _pstride(stride),
                                          _padding(padding), _size(dilation, "dilation"),
                                          ceil_mode, indices=ind))

    def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True, divisor_override=None):
        return _out(M.avg_pool2d(_x3(input, "input", "avg_pool1d"),
                                 _size(kernel_size, "kernel_size"), _pstride(stride),
                                 _padding(padding), ceil_mode, count_include_pad,
                                 divisor_override))

    def avg_pool1d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                            ceil_mode=False, count_include_pad=True, divisor_override=None):
        f = "avg_pool1d_backward"
        return _out(M.avg_pool2d_backward(_x3(grad_output, "grad_output", f),
                                          _in_shape(input_shape, f),
                                          _size(kernel_size, "kernel_size"), _pstride(stride),
                                          _padding(padding), ceil_mode, count_include_pad,
                                          divisor_override))

    def _osize(output_size):
        if output_size is None:
            return (1, None)
        return (1, _one(output_size, "output_size"))

    def adaptive_avg_pool1d(input, output_size):
        return _out(M.adaptive_avg_pool2d(_x3(input, "input", "adaptive_avg_pool1d"),
                                          _osize(output_size)))

    def adaptive_avg_pool1d_backward(grad_output, input_shape):
        f = "adaptive_avg_pool1d_backward"
        return _out(M.adaptive_avg_pool2d_backward(_x3(grad_output, "grad_output", f),
                                                   _in_shape(input_shape, f)))

    def adaptive_max_pool1d(input, output_size, return_indices=False):
        r = M.adaptive_max_pool2d(_x3(input, "input", "adaptive_max_pool1d"),
                                  _osize(output_size), return_indices)
        return (_out(r[0]), _out(r[1])) if isinstance(r, tuple) else _out(r)

    def adaptive_max_pool1d_backward(grad_output, input, output_size, *, indices=None):
        f = "adaptive_max_pool1d_backward"
        ind = None if indices is None else _ind3(indices)
        return _out(M.adaptive_max_pool2d_backward(_x3(grad_output, "grad_output", f),
                                                   _x3(input, "input", f), _osize(output_size),
                                                   indices=ind))

    def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        return _out(M.lp_pool2d(_x3(input, "input", "lp_pool1d"), norm_type,
                                _size(kernel_size, "kernel_size"), _pstride(stride), ceil_mode))

    def lp_pool1d_backward(grad_output, input, norm_type, kernel_size, stride=None,
                           ceil_mode=False):
        f = "lp_pool1d_backward"
        return _out(M.lp_pool2d_backward(_x3(grad_output, "grad_output", f),
                                         _x3(input, "input", f), norm_type,
                                         _size(kernel_size, "kernel_size"), _pstride(stride),
                                         ceil_mode))

    _usize = _tsize     # an output size: its last entry, as the 2-D (1, L)

    def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        return _out(M.max_unpool2d(_x3(input, "input", "max_unpool1d"), _ind3(indices),
                                   _size(kernel_size, "kernel_size"), _pstride(stride),
                                   _size(padding, "padding", 0), _usize(output_size)))

    def max_unpool1d_backward(grad_output, indices, kernel_size, stride=None, padding=0,
                              output_size=None):
        f = "max_unpool1d_backward"
        return _out(M.max_unpool2d_backward(_x3(grad_output, "grad_output", f), _ind3(indices),
                                            _size(kernel_size, "kernel_size"), _pstride(stride),
                                            _size(padding, "padding", 0), _usize(output_size)))

    fns = [max_unpool1d, max_unpool1d_backward, lp_pool1d, lp_pool1d_backward, conv1d, conv1d_backward, conv_transpose1d, conv_transpose1d_backward, max_pool1d,
           max_pool1d_backward, avg_pool1d, avg_pool1d_backward, adaptive_avg_pool1d,
           adaptive_avg_pool1d_backward, adaptive_max_pool1d, adaptive_max_pool1d_backward]
    out = {}
    for f in fns:
        name1 = f.__name__
        name2 = name1.replace("1d", "2d")
        f.__doc__ = (f"As {name2} (see its documentation), on (N, C, L) or (C, L) arrays: "
                     f"the 2-D function with H = 1.")
        out[name1] = _restated(f, name1, name2)
    return out
