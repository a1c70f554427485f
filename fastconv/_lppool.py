"""Power-average pooling, as torch.nn.functional.lp_pool2d defines it: with k = kH * kW,

    y = (k * avg_pool2d(x ** p, kernel_size, stride, padding=0, ceil_mode)) ** (1 / p)

so a window holds the p-norm of its elements (a ceil-mode window hanging over the edge is
scaled by k / its real count, as PyTorch's average there divides by the real count).  For
p = 1 and x >= 0 it is sum pooling; as p grows it tends to max pooling of |x|.  Negative
elements with a non-integer p, or a negative power sum, give NaN, as in PyTorch.

The gradient, by the chain rule through the average: with A = avg_pool2d(x ** p),
    dL/dx = avg_pool2d_backward(dL/dy * k * (k * A) ** (1/p - 1)) * x ** (p - 1).

`make(M)` builds lp_pool2d and lp_pool2d_backward on module M's avg_pool2d and
avg_pool2d_backward (the kernels, or the reference for the oracle)."""
import numpy as np

from . import _args


def norm_type_arg(p):
    """norm_type: a real number > 0 (float('inf') is not a power PyTorch can use either)."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer,
                                                             np.floating)):
        raise TypeError(f"norm_type must be a real number, got {type(p).__name__}")
    p = float(p)
    if not np.isfinite(p) or p <= 0:
        raise ValueError(f"norm_type must be a finite number > 0, got {p}")
    return p


def _window_size(kernel_size):
    kh, kw = _args.pair(kernel_size, "kernel_size", 1)
    return kh * kw


def _named(f, name):
    """Errors of the average pooling underneath, given back under lp_pool's name."""
    def run(*a, **k):
        try:
            return f(*a, **k)
        except (ValueError, TypeError) as e:
            raise type(e)(str(e).replace("avg_pool2d", name)) from None
    run.__name__ = run.__qualname__ = name
    return run


def make(M):
    def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        p = norm_type_arg(norm_type)
        _args.check_array(input, "input")
        _args.batched(input)            # 3-D or 4-D, before any arithmetic on it
        k = _window_size(kernel_size)
        with np.errstate(invalid="ignore", divide="ignore"):
            a = M.avg_pool2d(np.power(input, input.dtype.type(p)), kernel_size, stride, 0,
                             ceil_mode)
            return np.power(a * a.dtype.type(k), a.dtype.type(1.0 / p))

    def lp_pool2d_backward(grad_output, input, norm_type, kernel_size, stride=None,
                           ceil_mode=False):
        p = norm_type_arg(norm_type)
        _args.check_array(input, "input")
        _args.batched(input)
        _args.check_array(grad_output, "grad_output")
        k = _window_size(kernel_size)
        t = input.dtype.type
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            a = M.avg_pool2d(np.power(input, t(p)), kernel_size, stride, 0, ceil_mode)
            _args.check_grad_output(grad_output, input.dtype, (1,) + a.shape if a.ndim == 3
                                    else a.shape, a.ndim == 3, "lp_pool2d_backward")
            share = grad_output * t(k) * np.power(a * t(k), t(1.0 / p - 1.0))
            g = M.avg_pool2d_backward(np.ascontiguousarray(share, dtype=input.dtype),
                                      input.shape, kernel_size, stride, 0, ceil_mode)
            return np.ascontiguousarray(g * np.power(input, t(p - 1.0)), dtype=input.dtype)

    lp_pool2d.__doc__ = __doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1]
    lp_pool2d_backward.__doc__ = "Gradient of lp_pool2d for its input (see lp_pool2d)."
    return {"lp_pool2d": _named(lp_pool2d, "lp_pool2d"),
            "lp_pool2d_backward": _named(lp_pool2d_backward, "lp_pool2d_backward")}

