"""Pooling (forward and backward) on the C kernels.

Arguments are validated and normalised by ``fastconv._args`` (the same rules as
``fastconv.reference``); the kernels see C-contiguous (N*C, H, W) planes.
"""
import numpy as np

from . import _args
from . import _kernels

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
           "adaptive_max_pool2d", "adaptive_max_pool2d_backward"]


def _planes(a):
    """C-contiguous (N*C, H, W) view (a copy only when the layout needs one)."""
    if not (a.flags.c_contiguous and a.flags.aligned):
        a = np.require(a, requirements="CA")  # aligned too: the kernels load doubles directly
    return a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:])


def _pool_geom(a):
    N, C, H, W, H_out, W_out, kH, kW, sH, sW, pH, pW, dH, dW = a.geom()
    return (N * C, H, W, H_out, W_out, kH, kW, sH, sW, pH, pW, dH, dW) + tuple(a.pad_end)


def _adaptive_geom(a):
    # Kernel fields 0 tell the wrapper this is adaptive pooling.
    N, C, H, W, H_out, W_out = a.geom()
    return (N * C, H, W, H_out, W_out, 0, 0, 1, 1, 0, 0, 1, 1)


def _shape(flat, shape4, unbatched):
    return _args.restore_batch(flat.reshape(shape4), unbatched)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling (as torch.nn.functional.max_pool2d); -inf padding, NaN propagates."""
    a = _args.max_pool2d_args(input, kernel_size, stride, padding, dilation, ceil_mode)
    want = _args.to_bool(return_indices, "return_indices")
    _args.check_output_size(a.out_shape, 8 if want else a.x.itemsize)
    y, ind = _kernels.max_pool2d_forward(_planes(a.x), _pool_geom(a), want, False)
    y = _shape(y, a.out_shape, a.unbatched)
    if want:
        return y, _shape(ind, a.out_shape, a.unbatched)
    return y


def max_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, indices=None):
    """Gradient of max_pool2d for its input: grad_output added at each window's argmax
    (the given indices, else recomputed from input)."""
    # the kernel checks the index range itself, plane by plane, before writing
    a, gy, idx = _args.max_pool2d_backward_args(grad_output, input, kernel_size, stride,
                                                 padding, dilation, ceil_mode, indices,
                                                 check_range=False)
    x = None if idx is not None else _planes(a.x)
    idx = None if idx is None else _planes(idx)
    gx = _kernels.max_pool2d_backward(_planes(gy), x, idx, _pool_geom(a), False)
    return _shape(gx, a.in_shape, a.unbatched)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling (as torch.nn.functional.avg_pool2d)."""
    a = _args.avg_pool2d_args(input, kernel_size, stride, padding, ceil_mode,
                              count_include_pad, divisor_override)
    y = _kernels.avg_pool2d_forward(_planes(a.x), _pool_geom(a), a.count_include_pad,
                                    a.divisor_override or 0)
    return _shape(y, a.out_shape, a.unbatched)


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Gradient of avg_pool2d for its input (of shape input_shape)."""
    a, gy = _args.avg_pool2d_backward_args(grad_output, input_shape, kernel_size, stride,
                                           padding, ceil_mode, count_include_pad,
                                           divisor_override)
    gx = _kernels.avg_pool2d_backward(_planes(gy), _pool_geom(a), a.count_include_pad,
                                      a.divisor_override or 0)
    return _shape(gx, a.in_shape, a.unbatched)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling: window i covers [floor(i*In/Out), ceil((i+1)*In/Out))."""
    a = _args.adaptive_avg_pool2d_args(input, output_size)
    y = _kernels.avg_pool2d_forward(_planes(a.x), _adaptive_geom(a), True, 0)
    return _shape(y, a.out_shape, a.unbatched)


def adaptive_avg_pool2d_backward(grad_output, input_shape):
    """Gradient of adaptive_avg_pool2d; the output size is grad_output's."""
    a, gy = _args.adaptive_avg_pool2d_backward_args(grad_output, input_shape)
    gx = _kernels.avg_pool2d_backward(_planes(gy), _adaptive_geom(a), True, 0)
    return _shape(gx, a.in_shape, a.unbatched)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling; indices as max_pool2d's."""
    a = _args.adaptive_max_pool2d_args(input, output_size)
    want = _args.to_bool(return_indices, "return_indices")
    y, ind = _kernels.max_pool2d_forward(_planes(a.x), _adaptive_geom(a), want, True)
    y = _shape(y, a.out_shape, a.unbatched)
    if want:
        return y, _shape(ind, a.out_shape, a.unbatched)
    return y


def adaptive_max_pool2d_backward(grad_output, input, output_size, *, indices=None):
    """Gradient of adaptive_max_pool2d for its input."""
    a, gy, idx = _args.adaptive_max_pool2d_backward_args(grad_output, input, output_size,
                                                         indices, check_range=False)
    x = None if idx is not None else _planes(a.x)
    idx = None if idx is None else _planes(idx)
    gx = _kernels.max_pool2d_backward(_planes(gy), x, idx, _adaptive_geom(a), True)
    return _shape(gx, a.in_shape, a.unbatched)
