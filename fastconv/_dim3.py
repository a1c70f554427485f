"""The 3-D convolution and pooling family on the C kernels (csrc/conv/conv3d.c,
csrc/pool/pool3d.c), (N, C, D, H, W) arrays.  Validation comes from fastconv._args3.

conv_transpose3d is the adjoint of conv3d, as in 2-D: its forward is conv3d's
backward-data, its grad_input conv3d's forward, its grad_weight conv3d's backward-weight with
input and grad_output swapped.
"""
import numpy as np

from . import _args3 as A
from . import _kernels
from ._args import restore_batch
from .conv import WINOGRAD_ALGORITHMS, _NP_PAD_MODE, _algorithm, _c, _fold_axis

__all__ = ["conv3d", "conv3d_backward", "conv_transpose3d", "conv_transpose3d_backward",
           "max_pool3d", "max_pool3d_backward", "avg_pool3d", "avg_pool3d_backward",
           "adaptive_avg_pool3d", "adaptive_avg_pool3d_backward", "adaptive_max_pool3d",
           "adaptive_max_pool3d_backward", "max_unpool3d", "max_unpool3d_backward"]


def _winograd_serves(algorithm, a):
    """Winograd runs over (H, W) with the depth taps summed as channels: a 3x3 spatial kernel
    at spatial stride and dilation 1, any depth kernel, stride and dilation."""
    if algorithm in WINOGRAD_ALGORITHMS:
        if (a.kernel[1:], a.stride[1:], a.dilation[1:]) != ((3, 3), (1, 1), (1, 1)):
            raise ValueError(
                f"algorithm={algorithm!r} serves kernels (kD, 3, 3) at stride (sD, 1, 1) and "
                f"dilation (dD, 1, 1) only, got kernel {a.kernel}, stride {a.stride}, "
                f"dilation {a.dilation}; use 'auto', 'direct' or 'im2col'")


def _pad_input(a):
    pad = a.explicit_pad
    if pad is None:
        return _c(a.x)
    return _c(np.pad(a.x, ((0, 0), (0, 0)) + tuple(pad), mode=_NP_PAD_MODE[a.padding_mode]))


def _unpad_grad(a, gxp):
    pad = a.explicit_pad
    if pad is None:
        return gxp
    g = gxp
    for axis in (4, 3, 2):
        before, after = pad[axis - 2]
        g = _fold_axis(g, axis, a.size[axis - 2], before, after, a.padding_mode)
    return np.ascontiguousarray(g)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", algorithm="auto"):
    """3-D cross-correlation, as torch.nn.functional.conv3d (plus padding_mode, per-side and
    any-stride "same" padding)."""
    algorithm = _algorithm(algorithm)
    a = A.conv3d_args(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    _winograd_serves(algorithm, a)
    y = _kernels.conv3d_forward(_pad_input(a), _c(a.weight), _c(a.bias), a.geom(), algorithm)
    return restore_batch(y, a.unbatched)


def conv3d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1,
                    *, padding_mode="zeros", output_mask=(True, True, True),
                    algorithm="auto"):
    """Gradients of conv3d: (grad_input, grad_weight, grad_bias)."""
    algorithm = _algorithm(algorithm)
    a, gy, mask = A.conv3d_backward_args(grad_output, input, weight, stride, padding,
                                         dilation, groups, padding_mode, output_mask)
    _winograd_serves(algorithm, a)
    gy = _c(gy)
    geom = a.geom()
    gx = gw = gb = None
    if mask[0]:
        gx = _kernels.conv3d_backward_data(gy, _c(a.weight), geom, algorithm)
        gx = restore_batch(_unpad_grad(a, gx), a.unbatched)
    if mask[1] or mask[2]:
        gw, gb = _kernels.conv3d_backward_weight(gy, _pad_input(a), geom, algorithm,
                                                 mask[1], mask[2])
    return gx, gw, gb


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, *, output_size=None):
    """3-D transposed convolution, as torch.nn.functional.conv_transpose3d."""
    a = A.conv_transpose3d_args(input, weight, bias, stride, padding, output_padding, groups,
                                dilation, output_size)
    y = _kernels.conv3d_backward_data(_c(a.x), _c(a.weight), a.transpose_geom(), "auto")
    if a.bias is not None:
        y += a.bias.reshape(1, -1, 1, 1, 1)
    return restore_batch(y, a.unbatched)


def conv_transpose3d_backward(grad_output, input, weight, stride=1, padding=0,
                              output_padding=0, groups=1, dilation=1, *,
                              output_mask=(True, True, True), output_size=None):
    """Gradients of conv_transpose3d: (grad_input, grad_weight, grad_bias)."""
    a, gy, mask = A.conv_transpose3d_backward_args(grad_output, input, weight, stride,
                                                   padding, output_padding, groups, dilation,
                                                   output_mask, output_size)
    gy = _c(gy)
    geom = a.transpose_geom()
    gx = gw = gb = None
    if mask[0]:
        gx = restore_batch(_kernels.conv3d_forward(gy, _c(a.weight), None, geom, "auto"),
                           a.unbatched)
    if mask[1]:
        gw, _ = _kernels.conv3d_backward_weight(_c(a.x), gy, geom, "auto", True, False)
    if mask[2]:
        gb = np.ascontiguousarray(gy.sum(axis=(0, 2, 3, 4), dtype=gy.dtype))
    return gx, gw, gb


# --------------------------------------------------------------------------- pooling --

def _volumes(x):
    """(N, C, D, H, W) -> C-contiguous (N*C, D, H, W)."""
    return _c(x).reshape((x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))


def _shaped(v, a, shape):
    return restore_batch(v.reshape(shape), a.unbatched)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """As torch.nn.functional.max_pool3d; indices flat (d*H + h)*W + w per volume."""
    a = A.max_pool3d_args(input, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = A.to_bool(return_indices, "return_indices")
    y, ind = _kernels.max_pool3d_forward(_volumes(a.x), a.geom(), return_indices, False)
    if return_indices:
        return _shaped(y, a, a.out_shape), _shaped(ind, a, a.out_shape)
    return _shaped(y, a, a.out_shape)


def max_pool3d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, indices=None):
    a, gy, idx = A.max_pool3d_backward_args(grad_output, input, kernel_size, stride, padding,
                                            dilation, ceil_mode, indices, check_range=False)
    gx = _kernels.max_pool3d_backward(_volumes(gy), _volumes(a.x),
                                      None if idx is None else _volumes(idx), a.geom(), False)
    return _shaped(gx, a, a.in_shape)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    a = A.avg_pool3d_args(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                          divisor_override)
    y = _kernels.avg_pool3d_forward(_volumes(a.x), a.geom(), a.count_include_pad,
                                    a.divisor_override or 0, False)
    return _shaped(y, a, a.out_shape)


def avg_pool3d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    a, gy = A.avg_pool3d_backward_args(grad_output, input_shape, kernel_size, stride, padding,
                                       ceil_mode, count_include_pad, divisor_override)
    gx = _kernels.avg_pool3d_backward(_volumes(gy), a.geom(), a.count_include_pad,
                                      a.divisor_override or 0, False)
    return _shaped(gx, a, a.in_shape)


def adaptive_avg_pool3d(input, output_size):
    a = A.adaptive_args(input, output_size, "adaptive_avg_pool3d")
    y = _kernels.avg_pool3d_forward(_volumes(a.x), a.geom(), True, 0, True)
    return _shaped(y, a, a.out_shape)


def adaptive_avg_pool3d_backward(grad_output, input_shape):
    a, gy = A.adaptive_avg_pool3d_backward_args(grad_output, input_shape)
    gx = _kernels.avg_pool3d_backward(_volumes(gy), a.geom(), True, 0, True)
    return _shaped(gx, a, a.in_shape)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    a = A.adaptive_args(input, output_size, "adaptive_max_pool3d")
    return_indices = A.to_bool(return_indices, "return_indices")
    y, ind = _kernels.max_pool3d_forward(_volumes(a.x), a.geom(), return_indices, True)
    if return_indices:
        return _shaped(y, a, a.out_shape), _shaped(ind, a, a.out_shape)
    return _shaped(y, a, a.out_shape)


def adaptive_max_pool3d_backward(grad_output, input, output_size, *, indices=None):
    a, gy, idx = A.adaptive_max_pool3d_backward_args(grad_output, input, output_size, indices,
                                                     check_range=False)
    gx = _kernels.max_pool3d_backward(_volumes(gy), _volumes(a.x),
                                      None if idx is None else _volumes(idx), a.geom(), True)
    return _shaped(gx, a, a.in_shape)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Scatter input into a zero (N, C, D_out, H_out, W_out) array at indices (flat in the
    output volume); a later element with the same index overwrites an earlier one."""
    a, idx = A.max_unpool3d_args(input, indices, kernel_size, stride, padding, output_size)
    y = np.zeros((a.N, a.C, int(np.prod(a.out))), dtype=a.dtype)
    np.put_along_axis(y, idx.reshape(a.N, a.C, -1), a.x.reshape(a.N, a.C, -1), axis=2)
    return restore_batch(y.reshape(a.out_shape), a.unbatched)


def max_unpool3d_backward(grad_output, indices, kernel_size, stride=None, padding=0,
                          output_size=None):
    a, idx, gy = A.max_unpool3d_backward_args(grad_output, indices, kernel_size, stride,
                                              padding, output_size)
    g = np.take_along_axis(gy.reshape(a.N, a.C, -1), idx.reshape(a.N, a.C, -1), axis=2)
    return restore_batch(np.ascontiguousarray(g.reshape(a.in_shape)), a.unbatched)
