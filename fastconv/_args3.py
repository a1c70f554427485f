"""Argument validation and geometry of the 3-D functions (N, C, D, H, W), shared by the
kernels' wrappers (fastconv._dim3) and fastconv.reference, with the 2-D rules of
fastconv._args applied per axis and the same messages.

The per-axis code takes any number of spatial axes; only the array ranks and names are
fixed to 3 here.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from ._args import (PADDING_MODES, _check_bias, _check_groups, _count_include_pad, _divisor,
                    _is_seq, _shape_str, check_array, check_grad_output, check_output_size,
                    check_indices, check_same_dtype, check_unpool_indices, conv_out_size,
                    output_mask3,
                    pool_out_size, same_padding, to_bool, to_int, transpose_output_padding,
                    unpool_output_size)

ND = 3
AXES = ("depth", "height", "width")


def sizes(v, name, minimum=None, nd=ND):
    """An int, an nd-tuple, or a one-entry tuple applying to every axis -> nd ints."""
    if isinstance(v, np.ndarray):
        if v.shape == ():
            v = v.item()
        elif v.ndim == 1:
            v = tuple(v.tolist())
        else:
            raise ValueError(f"{name} must be an int or {nd} ints, got an array of shape "
                             f"{v.shape}")
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return (to_int(v[0], name, minimum),) * nd
        if len(v) != nd:
            raise ValueError(f"{name} must be an int or a tuple of {nd} ints, got {len(v)} "
                             f"values: {v!r}")
        return tuple(to_int(i, name, minimum) for i in v)
    return (to_int(v, name, minimum),) * nd


def pool_stride(stride, kernel):
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return sizes(stride, "stride", 1)


def padding_arg(padding, name="padding", nd=ND):
    """"same"/"valid", symmetric sizes, or one (before, after) pair per axis (or one pair
    for all) -> str or ((before, after), ...) per axis."""
    if isinstance(padding, str):
        if padding in ("same", "valid"):
            return padding
        raise ValueError(f"{name} must be an int, {nd} ints, one (before, after) pair per "
                         f"axis, 'same' or 'valid', got {padding!r}")
    if _is_seq(padding) and len(padding) in (1, nd) and any(_is_seq(p) for p in padding):
        if not all(_is_seq(p) for p in padding):
            raise TypeError(f"{name} must be all ints or one (before, after) pair per axis, "
                            f"got {padding!r}")
        sides = [tuple(p.tolist() if isinstance(p, np.ndarray) else p) for p in padding]
        if any(len(p) != 2 for p in sides):
            raise ValueError(f"{name}: each per-axis entry must be a (before, after) pair, "
                             f"got {padding!r}")
        sides = [(to_int(p[0], name, 0), to_int(p[1], name, 0)) for p in sides]
        return tuple(sides * nd if len(sides) == 1 else sides)
    return tuple((p, p) for p in sizes(padding, name, 0, nd))


def _resolve_padding(pad, spatial, kernel, stride, dilation):
    if pad == "valid":
        return ((0, 0),) * len(spatial)
    if pad == "same":
        return tuple(same_padding(n, k, s, d)
                     for n, k, s, d in zip(spatial, kernel, stride, dilation))
    return pad


def batched(x, name="input", fname=None):
    """(C, D, H, W) or (N, C, D, H, W) -> (5-D view, unbatched)."""
    if x.ndim == ND + 2:
        return x, False
    if x.ndim == ND + 1:
        return x[np.newaxis], True
    raise ValueError(f"{fname + ': ' if fname else ''}expected {name} to be 4-D (C, D, H, W) "
                     f"or 5-D (N, C, D, H, W), got {x.ndim}-D {name} of shape "
                     f"{_shape_str(x.shape)}")


def _nonempty(x5, name, fname):
    if any(int(s) == 0 for s in x5.shape[1:]):
        raise ValueError(f"{fname}: expected {name} with non-zero channels, depth, height and "
                         f"width (only the batch may be 0), got {name} of shape "
                         f"{_shape_str(x5.shape)}")


def _check_weight(weight, dtype, fname):
    check_same_dtype(weight, "weight", dtype)
    if weight.ndim != ND + 2:
        raise ValueError(f"{fname}: expected a 5-D weight, got {weight.ndim}-D weight of "
                         f"shape {_shape_str(weight.shape)}")
    if any(s == 0 for s in weight.shape):
        raise ValueError(f"{fname}: weight must not have a zero dimension, got weight of "
                         f"shape {_shape_str(weight.shape)}")


def _sx(v):
    return " x ".join(str(i) for i in v)


# ----------------------------------------------------------------------- convolution --

@dataclass  # internal record, never mutated (see fastconv._args)
class Conv3Args:
    x: np.ndarray
    weight: np.ndarray
    bias: Optional[np.ndarray]
    unbatched: bool
    N: int
    C_in: int
    size: Tuple[int, ...]        # input (D, H, W)
    C_out: int
    kernel: Tuple[int, ...]
    stride: Tuple[int, ...]
    dilation: Tuple[int, ...]
    groups: int
    out: Tuple[int, ...]         # output (D, H, W)
    pad: Tuple[Tuple[int, int], ...] = ((0, 0),) * ND
    padding_mode: str = "zeros"
    output_padding: Tuple[int, ...] = (0,) * ND

    @property
    def dtype(self):
        return self.x.dtype

    @property
    def out_shape(self):
        return (self.N, self.C_out) + tuple(self.out)

    @property
    def explicit_pad(self):
        """Per-axis (before, after) to apply with np.pad for a non-zero padding mode."""
        if self.padding_mode == "zeros" or not any(a or b for a, b in self.pad):
            return None
        return self.pad

    def geom(self):
        """conv3d kernel geometry of the input as the kernel sees it (explicitly padded for a
        non-zero padding mode)."""
        if self.explicit_pad is None:
            size, front = self.size, tuple(p[0] for p in self.pad)
        else:
            size = tuple(n + a + b for n, (a, b) in zip(self.size, self.pad))
            front = (0,) * ND
        return ((self.N, self.C_in) + tuple(size) + (self.C_out,) + tuple(self.kernel) +
                tuple(self.out) + tuple(self.stride) + front + tuple(self.dilation) +
                (self.groups,))

    def transpose_geom(self):
        """Geometry of the conv3d whose backward-data is this transposed convolution."""
        return ((self.N, self.C_out) + tuple(self.out) + (self.C_in,) + tuple(self.kernel) +
                tuple(self.size) + tuple(self.stride) + tuple(p[0] for p in self.pad) +
                tuple(self.dilation) + (self.groups,))


def conv3d_args(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                padding_mode="zeros", fname="conv3d"):
    check_array(input, "input")
    x, unbatched = batched(input, fname=fname)
    _check_weight(weight, x.dtype, fname)
    groups = _check_groups(groups)
    stride = sizes(stride, "stride", 1)
    dilation = sizes(dilation, "dilation", 1)
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    N, C_in = int(x.shape[0]), int(x.shape[1])
    size = tuple(int(s) for s in x.shape[2:])
    C_out, C_in_g = int(weight.shape[0]), int(weight.shape[1])
    kernel = tuple(int(s) for s in weight.shape[2:])
    if C_in == 0 or 0 in size:
        _nonempty(x, "input", fname)
    if C_out % groups != 0:
        raise ValueError(f"groups={groups} must divide the output channels (weight.shape[0] "
                         f"= {C_out})")
    if C_in_g * groups != C_in:
        raise ValueError(f"given groups={groups}, weight of size {_shape_str(weight.shape)}, "
                         f"expected input{_shape_str(x.shape)} to have {C_in_g * groups} "
                         f"channels, but got {C_in} channels instead")
    pad = _resolve_padding(padding_arg(padding), size, kernel, stride, dilation)
    if padding_mode == "reflect" and any(max(p) >= n for p, n in zip(pad, size)):
        raise ValueError(f"padding_mode='reflect' needs padding smaller than the input: "
                         f"padding {pad}, input {_sx(size)}")
    if padding_mode == "circular" and any(max(p) > n for p, n in zip(pad, size)):
        raise ValueError(f"padding_mode='circular' needs padding at most the input size: "
                         f"padding {pad}, input {_sx(size)}")
    padded = tuple(n + a + b for n, (a, b) in zip(size, pad))
    eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(p < e for p, e in zip(padded, eff)):
        raise ValueError(f"{fname}: calculated padded input size per channel: "
                         f"({_sx(padded)}). Kernel size: ({_sx(eff)}) (with dilation). "
                         f"Kernel size can't be greater than actual input size")
    out = tuple(conv_out_size(n, a + b, k, s, d)
                for n, (a, b), k, s, d in zip(size, pad, kernel, stride, dilation))
    bias = _check_bias(bias, x.dtype, C_out)
    check_output_size((N, C_out) + out, x.itemsize)
    check_output_size((N, C_in) + padded, x.itemsize, "padded input")
    # the kernels unfold the depth taps: kD/sD copies of the input
    check_output_size((N, C_in * kernel[0], out[0]) + padded[1:], x.itemsize,
                      "depth-unfolded input")
    return Conv3Args(x, weight, bias, unbatched, N, C_in, size, C_out, kernel, stride,
                     dilation, groups, out, pad=pad, padding_mode=padding_mode)


def conv3d_backward_args(grad_output, input, weight, stride=1, padding=0, dilation=1,
                         groups=1, padding_mode="zeros", output_mask=(True, True, True)):
    a = conv3d_args(input, weight, None, stride, padding, dilation, groups, padding_mode,
                    "conv3d_backward")
    mask = output_mask3(output_mask)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, a.unbatched, "conv3d_backward")
    return a, gy, mask


def conv_transpose3d_args(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                          groups=1, dilation=1, output_size=None, fname="conv_transpose3d"):
    check_array(input, "input")
    x, unbatched = batched(input, fname=fname)
    _check_weight(weight, x.dtype, fname)
    groups = _check_groups(groups)
    stride = sizes(stride, "stride", 1)
    dilation = sizes(dilation, "dilation", 1)
    if isinstance(padding, str):
        raise ValueError(f"{fname}: padding must be an int, {ND} ints or one (before, after) "
                         f"pair per axis, got {padding!r}")
    pad = padding_arg(padding)     # per side: cropped from the output's edges (ONNX pads)
    padding, pad_end = tuple(p[0] for p in pad), tuple(p[1] for p in pad)
    output_padding = sizes(output_padding, "output_padding", 0)
    N, C_in = int(x.shape[0]), int(x.shape[1])
    size = tuple(int(s) for s in x.shape[2:])
    C_in_w, C_out_g = int(weight.shape[0]), int(weight.shape[1])
    kernel = tuple(int(s) for s in weight.shape[2:])
    if output_size is not None:
        output_padding = transpose_output_padding(size, output_size, kernel, stride, padding,
                                                  dilation, pad_end)
    if C_in == 0 or 0 in size:
        _nonempty(x, "input", fname)
    if C_in_w != C_in:
        raise ValueError(f"{fname}: weight of size {_shape_str(weight.shape)} expects "
                         f"input{_shape_str(x.shape)} to have {C_in_w} channels, but got "
                         f"{C_in} channels instead")
    if C_in % groups != 0:
        raise ValueError(f"groups={groups} must divide the input channels ({C_in})")
    for ax, op, s, d in zip("dhw", output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"output padding must be smaller than either stride or dilation, "
                             f"but got output_padding_{ax}={op}, stride_{ax}={s}, "
                             f"dilation_{ax}={d}")
    out = tuple((n - 1) * s - p - q + d * (k - 1) + op + 1 for n, k, s, p, q, d, op in
                zip(size, kernel, stride, padding, pad_end, dilation, output_padding))
    if min(out) <= 0:
        raise ValueError(f"{fname}: given input size per channel ({_sx(size)}), the "
                         f"calculated output size per channel ({_sx(out)}) is too small")
    C_out = C_out_g * groups
    bias = _check_bias(bias, x.dtype, C_out)
    check_output_size((N, C_out) + out, x.itemsize)
    check_output_size((N, C_out * kernel[0], size[0]) + out[1:], x.itemsize,
                      "depth-unfolded output")
    return Conv3Args(x, weight, bias, unbatched, N, C_in, size, C_out, kernel, stride,
                     dilation, groups, out, pad=pad,
                     output_padding=output_padding)


def conv_transpose3d_backward_args(grad_output, input, weight, stride=1, padding=0,
                                   output_padding=0, groups=1, dilation=1,
                                   output_mask=(True, True, True), output_size=None):
    a = conv_transpose3d_args(input, weight, None, stride, padding, output_padding, groups,
                              dilation, output_size, "conv_transpose3d_backward")
    mask = output_mask3(output_mask)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, a.unbatched,
                           "conv_transpose3d_backward")
    return a, gy, mask


# --------------------------------------------------------------------------- pooling --

@dataclass  # internal record, never mutated
class Pool3Args:
    x: Optional[np.ndarray]
    unbatched: bool
    N: int
    C: int
    size: Tuple[int, ...]
    out: Tuple[int, ...]
    dtype: np.dtype
    kernel: Tuple[int, ...] = (0,) * ND
    stride: Tuple[int, ...] = (1,) * ND
    pad: Tuple[Tuple[int, int], ...] = ((0, 0),) * ND
    dilation: Tuple[int, ...] = (1,) * ND
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: Optional[int] = None

    @property
    def in_shape(self):
        return (self.N, self.C) + tuple(self.size)

    @property
    def out_shape(self):
        return (self.N, self.C) + tuple(self.out)

    @property
    def volume(self):
        return int(np.prod(self.size))

    def geom(self):
        """pool3d kernel geometry: P = N*C volumes."""
        return ((self.N * self.C,) + tuple(self.size) + tuple(self.out) + tuple(self.kernel) +
                tuple(self.stride) + tuple(p[0] for p in self.pad) + tuple(self.dilation) +
                tuple(p[1] for p in self.pad))


def _pool_geometry(fname, shape, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = sizes(kernel_size, "kernel_size", 1)
    stride = pool_stride(stride, kernel)
    pad = padding_arg(padding)
    dilation = sizes(dilation, "dilation", 1)
    ceil_mode = to_bool(ceil_mode, "ceil_mode")
    C, size = shape[1], tuple(shape[2:])
    if C == 0 or 0 in size:
        raise ValueError(f"{fname}: expected input with non-zero channels, depth, height and "
                         f"width (only the batch may be 0), got input of shape "
                         f"{_shape_str(shape)}")
    same = pad == "same"
    pad = _resolve_padding(pad, size, kernel, stride, dilation)
    for (a, b), k, d in zip(pad, kernel, dilation):
        eff = d * (k - 1) + 1
        for p in (a, b):
            if p > eff // 2:
                raise ValueError(f"{fname}: pad should be at most half of effective kernel "
                                 f"size, but got pad={p}, kernel_size={k} and dilation={d}")
    out = tuple(pool_out_size(n, k, s, a, d, ceil_mode, b)
                for n, k, s, (a, b), d in zip(size, kernel, stride, pad, dilation))
    if min(out) < 1:
        raise ValueError(f"{fname}: given input size ({C}x{'x'.join(map(str, size))}), "
                         f"calculated output size ({C}x{'x'.join(map(str, out))}) is too small")
    for n, k, s, (a, b), d, o, ax in zip(size, kernel, stride, pad, dilation, out, AXES):
        if d > 1 and (a > 0 or b > 0):
            taps = (np.arange(o)[:, None] * s - a) + np.arange(k)[None, :] * d
            if not ((taps >= 0) & (taps < n)).any(axis=1).all():
                raise ValueError(f"{fname}: with padding={a}, dilation={d}, kernel_size={k} "
                                 f"some pooling window along the {ax} holds only padding")
    return kernel, stride, pad, dilation, ceil_mode, out, same


def max_pool3d_args(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                    fname="max_pool3d"):
    check_array(input, "input")
    x, unbatched = batched(input, fname=fname)
    shape = tuple(int(s) for s in x.shape)
    k, s, p, d, c, out, _ = _pool_geometry(fname, shape, kernel_size, stride, padding,
                                           dilation, ceil_mode)
    check_output_size(shape[:2] + out, x.itemsize)
    return Pool3Args(x, unbatched, shape[0], shape[1], shape[2:], out, x.dtype, k, s, p, d, c)


def max_pool3d_backward_args(grad_output, input, kernel_size, stride=None, padding=0,
                             dilation=1, ceil_mode=False, indices=None, check_range=True):
    f = "max_pool3d_backward"
    a = max_pool3d_args(input, kernel_size, stride, padding, dilation, ceil_mode, f)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, a.unbatched, f)
    idx = None
    if indices is not None:
        idx = check_indices(indices, a.out_shape, a.unbatched, a.volume, check_range)
    return a, gy, idx


def avg_pool3d_args(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                    count_include_pad=True, divisor_override=None):
    check_array(input, "input")
    x, unbatched = batched(input, fname="avg_pool3d")
    shape = tuple(int(s) for s in x.shape)
    k, s, p, d, c, out, same = _pool_geometry("avg_pool3d", shape, kernel_size, stride,
                                              padding, 1, ceil_mode)
    check_output_size(shape[:2] + out, x.itemsize)
    return Pool3Args(x, unbatched, shape[0], shape[1], shape[2:], out, x.dtype, k, s, p, d, c,
                     _count_include_pad(count_include_pad, same), _divisor(divisor_override))


def input_shape_arg(input_shape, fname):
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"{fname}: input_shape must be a tuple of 4 or 5 ints, got "
                        f"{type(input_shape).__name__}")
    shape = tuple(to_int(s, "input_shape entry", 0) for s in input_shape)
    if len(shape) == ND + 1:
        return (1,) + shape, True
    if len(shape) == ND + 2:
        return shape, False
    raise ValueError(f"{fname}: input_shape must have 4 or 5 entries, got {len(shape)}")


def avg_pool3d_backward_args(grad_output, input_shape, kernel_size, stride=None, padding=0,
                             ceil_mode=False, count_include_pad=True, divisor_override=None):
    f = "avg_pool3d_backward"
    check_array(grad_output, "grad_output")
    shape, unbatched = input_shape_arg(input_shape, f)
    k, s, p, d, c, out, same = _pool_geometry(f, shape, kernel_size, stride, padding, 1,
                                              ceil_mode)
    check_output_size(shape, grad_output.itemsize, "grad_input")
    a = Pool3Args(None, unbatched, shape[0], shape[1], shape[2:], out, grad_output.dtype, k,
                  s, p, d, c, _count_include_pad(count_include_pad, same),
                  _divisor(divisor_override))
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, unbatched, f)
    return a, gy


def _adaptive_output_size(output_size, size, fname):
    if isinstance(output_size, np.ndarray) and output_size.ndim == 1:
        output_size = tuple(output_size.tolist())
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != ND:
            raise ValueError(f"{fname}: output_size must be an int or {ND} entries that may "
                             f"be None, got {output_size!r}")
        return tuple(n if o is None else to_int(o, "output_size", 0)
                     for o, n in zip(output_size, size))
    if output_size is None:
        return tuple(size)
    return (to_int(output_size, "output_size", 0),) * ND


def adaptive_args(input, output_size, fname):
    check_array(input, "input")
    x, unbatched = batched(input, fname=fname)
    shape = tuple(int(s) for s in x.shape)
    if 0 in shape[1:]:
        _nonempty(x, "input", fname)
    out = _adaptive_output_size(output_size, shape[2:], fname)
    check_output_size(shape[:2] + out, x.itemsize)
    return Pool3Args(x, unbatched, shape[0], shape[1], shape[2:], out, x.dtype)


def adaptive_avg_pool3d_backward_args(grad_output, input_shape):
    f = "adaptive_avg_pool3d_backward"
    check_array(grad_output, "grad_output")
    shape, unbatched = input_shape_arg(input_shape, f)
    if 0 in shape[1:]:
        raise ValueError(f"{f}: expected input_shape with non-zero channels, depth, height "
                         f"and width, got {_shape_str(shape)}")
    if grad_output.ndim != (ND + 1 if unbatched else ND + 2):
        raise ValueError(f"{f}: expected a {ND + 1 if unbatched else ND + 2}-D grad_output "
                         f"for input_shape {_shape_str(input_shape)}, got "
                         f"{grad_output.ndim}-D")
    out = tuple(int(s) for s in grad_output.shape[-ND:])
    check_output_size(shape, grad_output.itemsize, "grad_input")
    a = Pool3Args(None, unbatched, shape[0], shape[1], shape[2:], out, grad_output.dtype)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, unbatched, f)
    return a, gy


def adaptive_max_pool3d_backward_args(grad_output, input, output_size, indices=None,
                                      check_range=True):
    f = "adaptive_max_pool3d_backward"
    a = adaptive_args(input, output_size, f)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, a.unbatched, f)
    idx = None
    if indices is not None:
        idx = check_indices(indices, a.out_shape, a.unbatched, a.volume, check_range)
    return a, gy, idx


# ------------------------------------------------------------------------- unpooling --

def max_unpool3d_args(input, indices, kernel_size, stride=None, padding=0, output_size=None,
                      fname="max_unpool3d", name="input"):
    check_array(input, name)
    x, unbatched = batched(input, name, fname)
    check_unpool_indices(indices, input, fname, name)
    kernel = sizes(kernel_size, "kernel_size", 1)
    stride = pool_stride(stride, kernel)
    padding = sizes(padding, "padding", 0)
    shape = tuple(int(s) for s in x.shape)
    if 0 in shape[1:]:
        _nonempty(x, name, fname)
    out = unpool_output_size(shape[2:], kernel, stride, padding, output_size, fname, name)
    check_output_size(shape[:2] + out, x.itemsize)
    idx = indices[np.newaxis] if unbatched else indices
    vol = int(np.prod(out))
    if idx.size and (idx.min() < 0 or idx.max() >= vol):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise ValueError(f"{fname}: indices hold an invalid max index {int(bad)} (output "
                         f"volumes are of size {'x'.join(map(str, out))})")
    return Pool3Args(x, unbatched, shape[0], shape[1], shape[2:], out, x.dtype), idx


def max_unpool3d_backward_args(grad_output, indices, kernel_size, stride=None, padding=0,
                               output_size=None):
    f = "max_unpool3d_backward"
    check_array(grad_output, "grad_output")
    if not isinstance(indices, np.ndarray):
        raise TypeError(f"{f}: indices must be a numpy.ndarray of int64, got "
                        f"{type(indices).__name__}")
    probe = np.broadcast_to(np.zeros((), grad_output.dtype), indices.shape)
    a, idx = max_unpool3d_args(probe, indices, kernel_size, stride, padding, output_size, f,
                               "indices")
    gy = check_grad_output(grad_output, grad_output.dtype, a.out_shape, a.unbatched, f)
    return a, idx, gy
