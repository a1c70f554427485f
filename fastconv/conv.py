"""conv2d and conv_transpose2d, forward and backward, on the C kernels.

Validation and geometry come from ``fastconv._args``; this module only prepares arrays
(C-contiguous, explicit padding for the non-zero padding modes) and calls the kernels.

conv_transpose2d is the adjoint of conv2d, so it reuses the three conv2d kernels:
its forward is conv2d's backward-data, its grad_input is conv2d's forward, and its
grad_weight is conv2d's backward-weight with the roles of input and grad_output swapped.
"""
import numpy as np

from . import _args
from . import _kernels

__all__ = ["conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward"]

# The algorithms that take every valid argument combination, and Winograd's, which takes 3x3
# kernels at stride 1 and dilation 1 ('winograd' picks its tile per shape; the others fix it).
ALGORITHMS = ("auto", "direct", "im2col")
WINOGRAD_ALGORITHMS = ("winograd", "winograd_2x2", "winograd_4x4")
ALL_ALGORITHMS = ALGORITHMS + WINOGRAD_ALGORITHMS


def _algorithm(algorithm):
    if not isinstance(algorithm, str):
        raise TypeError(f"algorithm must be a str, one of {ALL_ALGORITHMS}, got "
                        f"{type(algorithm).__name__}")
    if algorithm not in ALL_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALL_ALGORITHMS}, got {algorithm!r}")
    return algorithm


def _winograd_serves(algorithm, geom):
    """'winograd' (and its fixed-tile variants) computes 3x3 kernels at stride 1 and dilation 1
    only; anything else is refused rather than silently run another way."""
    if algorithm in WINOGRAD_ALGORITHMS:
        kH, kW, sH, sW, dH, dW = geom[5], geom[6], geom[9], geom[10], geom[13], geom[14]
        if (kH, kW, sH, sW, dH, dW) != (3, 3, 1, 1, 1, 1):
            raise ValueError(
                f"algorithm={algorithm!r} serves 3x3 kernels at stride 1 and dilation 1 only, "
                f"got kernel ({kH}, {kW}), stride ({sH}, {sW}), dilation ({dH}, {dW}); use "
                f"'auto', 'direct' or 'im2col'")


def _c(a):
    """C-contiguous, aligned view or copy (np.ascontiguousarray keeps a misaligned array
    as it is); never writes to ``a``."""
    if a is None or (a.flags.c_contiguous and a.flags.aligned):
        return a
    return np.require(a, requirements="CA")


_NP_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_input(a):
    """The input as the zero-padding kernel sees it: explicitly padded for the non-zero
    padding modes (the kernel then runs with padding 0)."""
    pad = a.explicit_pad
    if pad is None:
        return _c(a.x)
    t, b, l, r = pad
    return _c(np.pad(a.x, ((0, 0), (0, 0), (t, b), (l, r)), mode=_NP_PAD_MODE[a.padding_mode]))


def _fold_axis(g, axis, size, before, after, mode):
    """Adjoint of np.pad along one axis: every padded position adds its gradient to the
    input position it was copied from."""
    src = np.pad(np.arange(size), (before, after), mode=_NP_PAD_MODE[mode])
    inner = [slice(None)] * g.ndim
    inner[axis] = slice(before, before + size)
    out = g[tuple(inner)].copy()
    for i in list(range(before)) + list(range(before + size, before + size + after)):
        dst = [slice(None)] * g.ndim
        dst[axis] = src[i]
        pos = [slice(None)] * g.ndim
        pos[axis] = i
        out[tuple(dst)] += g[tuple(pos)]
    return out


def _unpad_grad(a, gxp):
    """Gradient of the padded input -> gradient of the input."""
    pad = a.explicit_pad
    if pad is None:
        return gxp
    t, b, l, r = pad
    g = _fold_axis(gxp, 3, a.W, l, r, a.padding_mode)
    g = _fold_axis(g, 2, a.H, t, b, a.padding_mode)
    return np.ascontiguousarray(g)


# Validated forward geometries of calls seen before, keyed by everything validation reads
# (array types, shapes and dtypes; the arguments, only when plain ints, strings or tuples of
# ints, whose types are then part of the key too: 1.0 == 1 must not pass for 1).  Validation
# costs 9 us of a 10.5 us 1x1 call; a small layer or batch-1 inference pays it every call.
_FWD_GEOMS = {}
_FWD_GEOMS_MAX = 512


def _plain(v):
    t = type(v)
    return t is int or t is str or (t is tuple and all(type(e) is int for e in v))


def _fwd_key(input, weight, bias, stride, padding, dilation, groups, padding_mode, algorithm):
    if (type(input) is not np.ndarray or type(weight) is not np.ndarray or input.ndim != 4
            or padding_mode != "zeros" or not (bias is None or type(bias) is np.ndarray)
            or not (_plain(stride) and _plain(padding) and _plain(dilation)
                    and type(groups) is int and type(algorithm) is str)):
        return None
    return (input.shape, input.dtype, weight.shape, weight.dtype,
            None if bias is None else (bias.shape, bias.dtype),
            type(stride), stride, type(padding), padding, type(dilation), dilation, groups,
            algorithm)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", algorithm="auto"):
    """2-D cross-correlation, as torch.nn.functional.conv2d (plus padding_mode)."""
    key = _fwd_key(input, weight, bias, stride, padding, dilation, groups, padding_mode,
                   algorithm)
    geom = _FWD_GEOMS.get(key) if key is not None else None
    if geom is not None:
        return _kernels.conv2d_forward(_c(input), _c(weight), _c(bias), geom, algorithm)
    algorithm = _algorithm(algorithm)
    a = _args.conv2d_args(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    _winograd_serves(algorithm, a.geom())
    y = _kernels.conv2d_forward(_pad_input(a), _c(a.weight), _c(a.bias), a.geom(), algorithm)
    if key is not None and a.explicit_pad is None and not a.unbatched:
        if len(_FWD_GEOMS) >= _FWD_GEOMS_MAX:
            _FWD_GEOMS.clear()
        _FWD_GEOMS[key] = a.geom()
    return _args.restore_batch(y, a.unbatched)


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1,
                    *, padding_mode="zeros", output_mask=(True, True, True),
                    algorithm="auto"):
    """Gradients of conv2d: (grad_input, grad_weight, grad_bias); those not asked for in
    output_mask are None."""
    algorithm = _algorithm(algorithm)
    a, gy, mask = _args.conv2d_backward_args(grad_output, input, weight, stride, padding,
                                             dilation, groups, padding_mode, output_mask)
    gy = _c(gy)
    geom = a.geom()
    _winograd_serves(algorithm, geom)
    gx = gw = gb = None
    if mask[0]:
        gx = _kernels.conv2d_backward_data(gy, _c(a.weight), geom, algorithm)
        gx = _args.restore_batch(_unpad_grad(a, gx), a.unbatched)
    if mask[1] or mask[2]:
        gw, gb = _kernels.conv2d_backward_weight(gy, _pad_input(a), geom, algorithm,
                                                 mask[1], mask[2])
    return gx, gw, gb


def _add_bias(y, bias):
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, *, output_size=None):
    """2-D transposed convolution, as torch.nn.functional.conv_transpose2d; output_size (the
    exact output size) picks output_padding as torch.nn.ConvTranspose2d.forward does."""
    a = _args.conv_transpose2d_args(input, weight, bias, stride, padding, output_padding,
                                    groups, dilation, output_size)
    y = _kernels.conv2d_backward_data(_c(a.x), _c(a.weight), a.geom(), "auto")
    return _args.restore_batch(_add_bias(y, a.bias), a.unbatched)


def conv_transpose2d_backward(grad_output, input, weight, stride=1, padding=0,
                              output_padding=0, groups=1, dilation=1, *,
                              output_mask=(True, True, True), output_size=None):
    """Gradients of conv_transpose2d: (grad_input, grad_weight, grad_bias)."""
    a, gy, mask = _args.conv_transpose2d_backward_args(grad_output, input, weight, stride,
                                                       padding, output_padding, groups,
                                                       dilation, output_mask, output_size)
    gy = _c(gy)
    geom = a.geom()
    gx = gw = gb = None
    if mask[0]:
        gx = _args.restore_batch(
            _kernels.conv2d_forward(gy, _c(a.weight), None, geom, "auto"), a.unbatched)
    if mask[1]:
        # In the adjoint conv2d, this call's grad_output is the input and this call's
        # input plays grad_output.
        gw, _ = _kernels.conv2d_backward_weight(_c(a.x), gy, geom, "auto", True, False)
    if mask[2]:
        gb = _grad_bias(gy)
    return gx, gw, gb


def _grad_bias(gy):
    """Sum over N, H, W in the array's own dtype (pairwise summation keeps float32 exact
    enough without upcasting)."""
    return np.ascontiguousarray(gy.sum(axis=(0, 2, 3), dtype=gy.dtype))
