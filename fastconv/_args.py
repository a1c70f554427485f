"""Argument normalisation, validation and output-size rules, shared by every path.

`fastconv.reference` and the C-kernel wrappers call the same functions here, so both accept
and reject exactly the same arguments with the same messages.  Messages name the argument,
what was expected and what was given (PyTorch's wording where PyTorch has one).

Nothing here touches array data except to check pooling indices; sizes are computed with
Python integers (which cannot overflow) and checked against int64 limits before any kernel
or allocation sees them.
"""
import operator
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_DTYPE_NAMES = "float32 or float64"

# _ARGS_NOT_FROZEN: the *Args records below are internal values built once per call and
# never mutated.  They are plain dataclasses because a frozen one spends ~2 us per call in
# __init__ (one object.__setattr__ per field): a fifth of a small pooling call.

# Every size and product of sizes handed to C must fit in int64; outputs must also be
# addressable.  2**62 leaves headroom for the kernels' own index arithmetic.
MAX_SIZE = 1 << 62

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


# --------------------------------------------------------------------------- helpers --

def _shape_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def check_array(x, name):
    """x must be a float32/float64 ndarray; returns it unchanged."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of dtype {_DTYPE_NAMES}, "
                        f"got {type(x).__name__}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{name} must have dtype {_DTYPE_NAMES}, got {x.dtype}")
    return x


def check_same_dtype(a, name, dtype):
    """a (already an ndarray of a supported dtype) must have the input's dtype."""
    check_array(a, name)
    if a.dtype != dtype:
        raise TypeError(f"expected {name} to have the input's dtype {dtype}, got {a.dtype}")
    return a


def to_int(v, name, minimum=None):
    """A Python int from an int-like (not bool, not float)."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(v).__name__}") from None
    if minimum is not None and i < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {i}")
    if abs(i) >= MAX_SIZE:
        raise ValueError(f"{name} is too large: {i}")
    return i


def pair(v, name, minimum=None):
    """An int, a pair (h, w) of ints, or a one-entry tuple/list applying to both axes (as
    torch.nn.functional accepts ``padding=(1,)``) -> (h, w)."""
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            i = to_int(v[0], name, minimum)
            return (i, i)
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {len(v)} values: {v!r}")
        return (to_int(v[0], name, minimum), to_int(v[1], name, minimum))
    if isinstance(v, np.ndarray):
        if v.shape == ():
            v = v.item()
        elif v.shape in ((1,), (2,)):
            return pair(tuple(v.tolist()), name, minimum)
        else:
            raise ValueError(f"{name} must be an int or a pair (h, w), got an array of "
                             f"shape {v.shape}")
    i = to_int(v, name, minimum)
    return (i, i)


def pool_stride(stride, kernel):
    """A pooling stride: None or an empty tuple/list (PyTorch's default) -> the kernel size."""
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return pair(stride, "stride", 1)


def to_bool(v, name):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)) and v in (0, 1):
        return bool(v)
    raise TypeError(f"{name} must be a bool, got {type(v).__name__}")


def batched(x, name="input"):
    """A 3-D (C, H, W) or 4-D (N, C, H, W) array -> (4-D view, unbatched flag)."""
    if x.ndim == 4:
        return x, False
    if x.ndim == 3:
        return x[np.newaxis], True
    raise ValueError(f"expected {name} to be 3-D (C, H, W) or 4-D (N, C, H, W), got "
                     f"{x.ndim}-D {name} of shape {_shape_str(x.shape)}")


def check_output_size(shape, itemsize, name="output"):
    """Raise ValueError before any work when an array of this shape cannot exist."""
    # Zero-sized dimensions (N == 0) count as 1: the kernels still form per-image and
    # per-plane products of the other sizes, and those must fit in int64 too.
    n = 1
    for s in shape:
        n *= max(int(s), 1)
    if n * itemsize >= MAX_SIZE:
        raise ValueError(f"{name} of shape {_shape_str(shape)} would need {n * itemsize} "
                         f"bytes: too large")


def check_nonempty_plane(x4, name, what):
    """PyTorch rejects zero-sized C, H or W (N == 0 is fine)."""
    if x4.shape[1] == 0 or x4.shape[2] == 0 or x4.shape[3] == 0:
        raise ValueError(f"{what}: expected {name} with non-zero channels, height and width "
                         f"(only the batch may be 0), got {name} of shape "
                         f"{_shape_str(x4.shape)}")


def check_grad_output(grad_output, dtype, expected4, unbatched, what):
    """grad_output must have the forward output's shape (3-D when the input was 3-D)."""
    check_same_dtype(grad_output, "grad_output", dtype)
    expected = tuple(expected4[1:]) if unbatched else tuple(expected4)
    if tuple(grad_output.shape) != expected:
        raise ValueError(f"{what}: expected grad_output of shape {_shape_str(expected)}, "
                         f"got {_shape_str(grad_output.shape)}")
    return grad_output[np.newaxis] if unbatched else grad_output


def output_mask3(mask):
    try:
        m = tuple(mask)
    except TypeError:
        raise TypeError(f"output_mask must be a sequence of 3 bools, got "
                        f"{type(mask).__name__}") from None
    if len(m) != 3:
        raise ValueError(f"output_mask must have 3 entries (input, weight, bias), got {len(m)}")
    return tuple(to_bool(b, "output_mask entry") for b in m)


def conv_out_size(size, pad_total, k, s, d):
    """floor((size + pad_total - d*(k-1) - 1) / s) + 1."""
    return (size + pad_total - d * (k - 1) - 1) // s + 1


# ----------------------------------------------------------------------- convolution --

@dataclass  # not frozen: see _ARGS_NOT_FROZEN
class _ConvCommon:
    """What conv2d and conv_transpose2d calls share.  x is the 4-D input view (any layout,
    not yet copied)."""
    x: np.ndarray
    weight: np.ndarray
    bias: Optional[np.ndarray]
    unbatched: bool
    N: int
    C_in: int
    H: int
    W: int
    C_out: int
    kH: int
    kW: int
    stride: Tuple[int, int]
    dilation: Tuple[int, int]
    groups: int
    H_out: int
    W_out: int

    @property
    def dtype(self):
        return self.x.dtype

    @property
    def out_shape(self):
        """4-D output shape."""
        return (self.N, self.C_out, self.H_out, self.W_out)


@dataclass  # not frozen: see _ARGS_NOT_FROZEN
class ConvArgs(_ConvCommon):
    """A validated conv2d call."""
    pad: Tuple[int, int, int, int] = (0, 0, 0, 0)   # top, bottom, left, right
    padding_mode: str = "zeros"

    @property
    def explicit_pad(self):
        """(top, bottom, left, right) to apply with np.pad for non-zero padding modes, else None."""
        if self.padding_mode == "zeros" or not any(self.pad):
            return None
        return self.pad

    def geom(self):
        """Kernel geometry tuple (fastconv._kernels), for the input as the kernel sees it:
        the original input with zero padding, or the explicitly padded input with none."""
        t, b, l, r = self.pad
        if self.explicit_pad is None:
            H, W, pH, pW = self.H, self.W, t, l
        else:
            H, W, pH, pW = self.H + t + b, self.W + l + r, 0, 0
        return (self.N, self.C_in, H, W, self.C_out, self.kH, self.kW, self.H_out, self.W_out,
                self.stride[0], self.stride[1], pH, pW, self.dilation[0], self.dilation[1],
                self.groups)


def _is_seq(v):
    return isinstance(v, (tuple, list)) or (isinstance(v, np.ndarray) and v.ndim == 1)


def padding_arg(padding, name="padding"):
    """A convolution or pooling padding, normalised: "same" / "valid" stay strings; an int, a
    pair (h, w) or a one-entry tuple gives symmetric padding; one (before, after) pair per
    axis, ``((top, bottom), (left, right))`` as ONNX ``pads`` (or one pair for both axes,
    ``((b, a),)``), gives per-side padding.  -> str or (top, bottom, left, right)."""
    if isinstance(padding, str):
        if padding in ("same", "valid"):
            return padding
        raise ValueError(f"{name} must be an int, a pair, one (before, after) pair per axis, "
                         f"'same' or 'valid', got {padding!r}")
    if _is_seq(padding) and len(padding) in (1, 2) and any(_is_seq(p) for p in padding):
        if not all(_is_seq(p) for p in padding):
            raise TypeError(f"{name} must be all ints or one (before, after) pair per axis, "
                            f"got {padding!r}")
        sides = [tuple(p.tolist() if isinstance(p, np.ndarray) else p) for p in padding]
        if any(len(p) != 2 for p in sides):
            raise ValueError(f"{name}: each per-axis entry must be a (before, after) pair, "
                             f"got {padding!r}")
        sides = [(to_int(p[0], name, 0), to_int(p[1], name, 0)) for p in sides]
        if len(sides) == 1:
            sides = sides * 2
        return sides[0] + sides[1]
    ph, pw = pair(padding, name, 0)
    return (ph, ph, pw, pw)


def same_padding(size, k, s, d):
    """(before, after) of padding="same" along one axis: output ceil(size / s), the odd unit
    after (TensorFlow/Keras "same", ONNX SAME_UPPER; at stride 1 PyTorch's rule)."""
    out = -(-size // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def _conv_padding(padding, kH, kW, stride, dilation, H, W):
    """padding -> (top, bottom, left, right) for an H x W input."""
    p = padding_arg(padding)
    if p == "valid":
        return (0, 0, 0, 0)
    if p == "same":
        return same_padding(H, kH, stride[0], dilation[0]) + \
            same_padding(W, kW, stride[1], dilation[1])
    return p


def _check_weight_4d(weight, dtype, what):
    check_same_dtype(weight, "weight", dtype)
    if weight.ndim != 4:
        raise ValueError(f"{what}: expected a 4-D weight, got {weight.ndim}-D weight of "
                         f"shape {_shape_str(weight.shape)}")
    if any(s == 0 for s in weight.shape):
        raise ValueError(f"{what}: weight must not have a zero dimension, got weight of "
                         f"shape {_shape_str(weight.shape)}")


def _check_bias(bias, dtype, C_out):
    if bias is None:
        return None
    check_same_dtype(bias, "bias", dtype)
    if bias.shape != (C_out,):
        raise ValueError(f"expected bias of shape [{C_out}] (one per output channel), got "
                         f"{_shape_str(bias.shape)}")
    return bias


def _check_groups(groups):
    return to_int(groups, "groups", 1)


def conv2d_args(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                padding_mode="zeros"):
    """Validate a conv2d call and compute its geometry."""
    check_array(input, "input")
    x, unbatched = batched(input)
    _check_weight_4d(weight, x.dtype, "conv2d")
    groups = _check_groups(groups)
    stride = pair(stride, "stride", 1)
    dilation = pair(dilation, "dilation", 1)
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    N, C_in, H, W = (int(s) for s in x.shape)
    C_out, C_in_g, kH, kW = (int(s) for s in weight.shape)
    if C_in == 0 or H == 0 or W == 0:
        check_nonempty_plane(x, "input", "conv2d")
    if C_out % groups != 0:
        raise ValueError(f"groups={groups} must divide the output channels (weight.shape[0] "
                         f"= {C_out})")
    if C_in_g * groups != C_in:
        raise ValueError(f"given groups={groups}, weight of size {_shape_str(weight.shape)}, "
                         f"expected input{_shape_str(x.shape)} to have {C_in_g * groups} "
                         f"channels, but got {C_in} channels instead")
    pad = _conv_padding(padding, kH, kW, stride, dilation, H, W)
    t, b, l, r = pad
    if padding_mode == "reflect" and (max(t, b) >= H or max(l, r) >= W):
        raise ValueError(f"padding_mode='reflect' needs padding smaller than the input: "
                         f"padding (top, bottom, left, right) = {pad}, input H x W = {H} x {W}")
    if padding_mode == "circular" and (max(t, b) > H or max(l, r) > W):
        raise ValueError(f"padding_mode='circular' needs padding at most the input size: "
                         f"padding (top, bottom, left, right) = {pad}, input H x W = {H} x {W}")
    eff_h = dilation[0] * (kH - 1) + 1
    eff_w = dilation[1] * (kW - 1) + 1
    if H + t + b < eff_h or W + l + r < eff_w:
        raise ValueError(f"conv2d: calculated padded input size per channel: "
                         f"({H + t + b} x {W + l + r}). Kernel size: ({eff_h} x {eff_w}) "
                         f"(with dilation). Kernel size can't be greater than actual input size")
    H_out = conv_out_size(H, t + b, kH, stride[0], dilation[0])
    W_out = conv_out_size(W, l + r, kW, stride[1], dilation[1])
    bias = _check_bias(bias, x.dtype, C_out)
    check_output_size((N, C_out, H_out, W_out), x.itemsize)
    check_output_size((N, C_in, H + t + b, W + l + r), x.itemsize, "padded input")
    return ConvArgs(x, weight, bias, unbatched, N, C_in, H, W, C_out, kH, kW, stride,
                    dilation, groups, H_out, W_out, pad=pad, padding_mode=padding_mode)


def conv2d_backward_args(grad_output, input, weight, stride=1, padding=0, dilation=1,
                         groups=1, padding_mode="zeros", output_mask=(True, True, True)):
    """Validate a conv2d_backward call -> (ConvArgs, 4-D grad_output view, mask)."""
    a = conv2d_args(input, weight, None, stride, padding, dilation, groups, padding_mode)
    mask = output_mask3(output_mask)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, a.unbatched, "conv2d_backward")
    return a, gy, mask


@dataclass  # not frozen: see _ARGS_NOT_FROZEN
class ConvTransposeArgs(_ConvCommon):
    """A validated conv_transpose2d call.  weight is (C_in, C_out/groups, kH, kW)."""
    padding: Tuple[int, int] = (0, 0)           # cropped before (top, left)
    output_padding: Tuple[int, int] = (0, 0)
    pad_end: Optional[Tuple[int, int]] = None   # cropped after (bottom, right); None: padding

    def __post_init__(self):
        if self.pad_end is None:
            self.pad_end = self.padding

    @property
    def pad4(self):
        """(top, bottom, left, right) cropped from the full scatter buffer."""
        return (self.padding[0], self.pad_end[0], self.padding[1], self.pad_end[1])

    def geom(self):
        """Geometry of the conv2d whose backward-data is this transposed convolution: its
        input is this call's output (N, C_out, H_out, W_out), its output this call's input,
        its weight this call's weight read as (C_in, C_out/groups, kH, kW)."""
        return (self.N, self.C_out, self.H_out, self.W_out, self.C_in, self.kH, self.kW,
                self.H, self.W, self.stride[0], self.stride[1], self.padding[0],
                self.padding[1], self.dilation[0], self.dilation[1], self.groups)


def transpose_output_padding(in_sizes, output_size, kernel, stride, padding, dilation,
                             pad_end=None):
    """The output_padding that makes a transposed convolution's output exactly output_size
    (its last len(in_sizes) entries; more may lead, e.g. (N, C, H, W)), with PyTorch's rule
    and message: each size must lie in [smallest, smallest + stride - 1].  pad_end: the
    padding after, per axis, when it differs from padding (per-side padding)."""
    nd = len(in_sizes)
    if not isinstance(output_size, (tuple, list)):
        if isinstance(output_size, np.ndarray) and output_size.ndim == 1:
            output_size = output_size.tolist()
        else:
            raise TypeError(f"output_size must be a tuple or list of {nd} ints, got "
                            f"{type(output_size).__name__}")
    if len(output_size) < nd:
        raise ValueError(f"output_size must have {nd} or more elements, got {list(output_size)}")
    size = [to_int(s, "output_size", 0) for s in list(output_size)[-nd:]]
    pad_end = padding if pad_end is None else pad_end
    lo = [(n - 1) * s - p - q + d * (k - 1) + 1
          for n, k, s, p, q, d in zip(in_sizes, kernel, stride, padding, pad_end, dilation)]
    hi = [m + s - 1 for m, s in zip(lo, stride)]
    if any(not a <= v <= b for v, a, b in zip(size, lo, hi)):
        raise ValueError(f"requested an output size of {size}, but valid sizes range from "
                         f"{lo} to {hi} (for an input of {list(in_sizes)})")
    return tuple(v - a for v, a in zip(size, lo))


def conv_transpose2d_args(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                          groups=1, dilation=1, output_size=None):
    """Validate a conv_transpose2d call and compute its geometry.  output_size, when given,
    decides output_padding (as torch.nn.ConvTranspose2d.forward(x, output_size))."""
    check_array(input, "input")
    x, unbatched = batched(input)
    _check_weight_4d(weight, x.dtype, "conv_transpose2d")
    groups = _check_groups(groups)
    stride = pair(stride, "stride", 1)
    dilation = pair(dilation, "dilation", 1)
    if isinstance(padding, str):
        raise ValueError(f"conv_transpose2d: padding must be an int, a pair or one (before, "
                         f"after) pair per axis, got {padding!r}")
    t, b, l, r = padding_arg(padding)   # per side: cropped from the output's edges (ONNX pads)
    padding, pad_end = (t, l), (b, r)
    output_padding = pair(output_padding, "output_padding", 0)
    N, C_in, H, W = (int(s) for s in x.shape)
    C_in_w, C_out_g, kH, kW = (int(s) for s in weight.shape)
    if output_size is not None:
        output_padding = transpose_output_padding((H, W), output_size, (kH, kW), stride,
                                                  padding, dilation, pad_end)
    if C_in == 0 or H == 0 or W == 0:
        check_nonempty_plane(x, "input", "conv_transpose2d")
    if C_in_w != C_in:
        raise ValueError(f"conv_transpose2d: weight of size {_shape_str(weight.shape)} expects "
                         f"input{_shape_str(x.shape)} to have {C_in_w} channels, but got "
                         f"{C_in} channels instead")
    if C_in % groups != 0:
        raise ValueError(f"groups={groups} must divide the input channels ({C_in})")
    for i, hw in enumerate("hw"):
        if output_padding[i] >= max(stride[i], dilation[i]):
            raise ValueError(
                f"output padding must be smaller than either stride or dilation, but got "
                f"output_padding_{hw}={output_padding[i]}, stride_{hw}={stride[i]}, "
                f"dilation_{hw}={dilation[i]}")
    H_out = (H - 1) * stride[0] - t - b + dilation[0] * (kH - 1) + output_padding[0] + 1
    W_out = (W - 1) * stride[1] - l - r + dilation[1] * (kW - 1) + output_padding[1] + 1
    if H_out <= 0 or W_out <= 0:
        raise ValueError(f"conv_transpose2d: given input size per channel ({H} x {W}), the "
                         f"calculated output size per channel ({H_out} x {W_out}) is too small")
    C_out = C_out_g * groups
    bias = _check_bias(bias, x.dtype, C_out)
    check_output_size((N, C_out, H_out, W_out), x.itemsize)
    return ConvTransposeArgs(x, weight, bias, unbatched, N, C_in, H, W, C_out, kH, kW, stride,
                             dilation, groups, H_out, W_out, padding=padding,
                             output_padding=output_padding, pad_end=pad_end)


def conv_transpose2d_backward_args(grad_output, input, weight, stride=1, padding=0,
                                   output_padding=0, groups=1, dilation=1,
                                   output_mask=(True, True, True), output_size=None):
    """-> (ConvTransposeArgs, 4-D grad_output view, mask)."""
    a = conv_transpose2d_args(input, weight, None, stride, padding, output_padding, groups,
                              dilation, output_size)
    mask = output_mask3(output_mask)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, a.unbatched,
                           "conv_transpose2d_backward")
    return a, gy, mask


# --------------------------------------------------------------------------- pooling --

def pool_out_size(size, k, s, p, d, ceil_mode, q=None):
    """PyTorch's pooling output size for padding p before and q (default p) after,
    including the ceil_mode last-window rule: with ceil_mode a last window that would start
    in the bottom/right padding is dropped."""
    eff = d * (k - 1) + 1
    num = size + p + (p if q is None else q) - eff
    out = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class _PlaneShapes:
    """4-D input and output shapes of a pooling call (fields N, C, H, W, H_out, W_out)."""

    @property
    def in_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def out_shape(self):
        return (self.N, self.C, self.H_out, self.W_out)


@dataclass  # not frozen: see _ARGS_NOT_FROZEN
class PoolArgs(_PlaneShapes):
    """A validated max/avg pooling call."""
    x: np.ndarray              # 4-D view of the input (or None for avg backward)
    unbatched: bool
    N: int
    C: int
    H: int
    W: int
    kernel: Tuple[int, int]
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    dilation: Tuple[int, int]
    ceil_mode: bool
    H_out: int
    W_out: int
    dtype: np.dtype
    count_include_pad: bool = True
    divisor_override: Optional[int] = None
    pad_end: Optional[Tuple[int, int]] = None   # (bottom, right); None: as padding

    def __post_init__(self):
        if self.pad_end is None:
            self.pad_end = self.padding

    def geom(self):
        """(N, C, H, W, H_out, W_out, kH, kW, sH, sW, pH, pW, dH, dW)"""
        return (self.N, self.C, self.H, self.W, self.H_out, self.W_out) + self.kernel + \
            self.stride + self.padding + self.dilation


def _pool_geometry(fname, shape4, kernel_size, stride, padding, dilation, ceil_mode,
                   dilation_name="dilation"):
    """-> kernel, stride, (top, left) padding, dilation, ceil_mode, H_out, W_out,
    (bottom, right) padding, same (padding == "same")."""
    kernel = pair(kernel_size, "kernel_size", 1)
    stride = pool_stride(stride, kernel)
    pad = padding_arg(padding)
    dilation = pair(dilation, dilation_name, 1)
    ceil_mode = to_bool(ceil_mode, "ceil_mode")
    N, C, H, W = shape4
    if C == 0 or H == 0 or W == 0:
        raise ValueError(f"{fname}: expected input with non-zero channels, height and width "
                         f"(only the batch may be 0), got input of shape {_shape_str(shape4)}")
    same = pad == "same"
    if pad == "valid":
        pad = (0, 0, 0, 0)
    elif same:    # TensorFlow's "same": never more than half the kernel on a side
        pad = same_padding(H, kernel[0], stride[0], dilation[0]) + \
            same_padding(W, kernel[1], stride[1], dilation[1])
    t, b, l, r = pad
    for i, sides in enumerate(((t, b), (l, r))):
        eff = dilation[i] * (kernel[i] - 1) + 1
        for p in sides:
            if p > eff // 2:
                raise ValueError(f"{fname}: pad should be at most half of effective kernel "
                                 f"size, but got pad={p}, kernel_size={kernel[i]} and "
                                 f"dilation={dilation[i]}")
    padding, pad_end = (t, l), (b, r)
    H_out = pool_out_size(H, kernel[0], stride[0], t, dilation[0], ceil_mode, b)
    W_out = pool_out_size(W, kernel[1], stride[1], l, dilation[1], ceil_mode, r)
    if H_out < 1 or W_out < 1:
        raise ValueError(f"{fname}: given input size ({C}x{H}x{W}), calculated output size "
                         f"({C}x{H_out}x{W_out}) is too small")
    # The contract allows padding up to half the *effective* kernel (PyTorch 2.13 only up to
    # half the kernel): with dilation a window could then hold padding taps only, which has no
    # meaningful max or index, so such geometries are rejected.
    for size, k, s_, p, q, d, out, hw in ((H, kernel[0], stride[0], t, b, dilation[0], H_out,
                                           "height"),
                                          (W, kernel[1], stride[1], l, r, dilation[1], W_out,
                                           "width")):
        if d > 1 and (p > 0 or q > 0):
            taps = (np.arange(out)[:, None] * s_ - p) + np.arange(k)[None, :] * d
            if not ((taps >= 0) & (taps < size)).any(axis=1).all():
                raise ValueError(f"{fname}: with padding={p}, dilation={d}, kernel_size={k} "
                                 f"some pooling window along the {hw} holds only padding")
    return kernel, stride, padding, dilation, ceil_mode, H_out, W_out, pad_end, same


def max_pool2d_args(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    check_array(input, "input")
    x, unbatched = batched(input)
    shape = tuple(int(s) for s in x.shape)
    k, s, p, d, c, H_out, W_out, q, _ = _pool_geometry("max_pool2d", shape, kernel_size,
                                                       stride, padding, dilation, ceil_mode)
    return PoolArgs(x, unbatched, *shape, k, s, p, d, c, H_out, W_out, x.dtype, pad_end=q)


def indices_range_error(indices, plane_size):
    """The ValueError for pooling indices with some value outside [0, plane_size)."""
    lo, hi = int(indices.min()), int(indices.max())
    bad = lo if lo < 0 else hi
    return ValueError(f"indices must lie in [0, {plane_size}) (flat positions in the "
                      f"input plane), found {bad}")


def check_indices(indices, out_shape4, unbatched, plane_size, check_range=True):
    """Pooling indices: int64, the output's shape, every value in [0, H*W).  check_range
    False leaves the values to the C kernels, which check each plane's indices before
    writing through them (one pass over the indices instead of three)."""
    if not isinstance(indices, np.ndarray):
        raise TypeError(f"indices must be a numpy.ndarray of dtype int64, got "
                        f"{type(indices).__name__}")
    if indices.dtype != np.int64:
        raise TypeError(f"indices must have dtype int64, got {indices.dtype}")
    expected = tuple(out_shape4[1:]) if unbatched else tuple(out_shape4)
    if tuple(indices.shape) != expected:
        raise ValueError(f"expected indices of shape {_shape_str(expected)} (the output's), "
                         f"got {_shape_str(indices.shape)}")
    if check_range and indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= plane_size:
            raise indices_range_error(indices, plane_size)
    return indices[np.newaxis] if unbatched else indices


def max_pool2d_backward_args(grad_output, input, kernel_size, stride=None, padding=0,
                             dilation=1, ceil_mode=False, indices=None, check_range=True):
    """-> (PoolArgs, 4-D grad_output, 4-D indices or None); check_range: see
    check_indices."""
    a = max_pool2d_args(input, kernel_size, stride, padding, dilation, ceil_mode)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, a.unbatched,
                           "max_pool2d_backward")
    idx = None
    if indices is not None:
        idx = check_indices(indices, a.out_shape, a.unbatched, a.H * a.W, check_range)
    return a, gy, idx


def _divisor(divisor_override):
    if divisor_override is None:
        return None
    d = to_int(divisor_override, "divisor_override")
    if d == 0:
        raise ValueError("divisor_override must be non-zero, got 0")
    return d


def _count_include_pad(count_include_pad, same):
    """With padding="same" the average is over the real elements only, as TensorFlow's."""
    cip = to_bool(count_include_pad, "count_include_pad")
    return False if same else cip


def avg_pool2d_args(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                    count_include_pad=True, divisor_override=None):
    check_array(input, "input")
    x, unbatched = batched(input)
    shape = tuple(int(s) for s in x.shape)
    k, s, p, d, c, H_out, W_out, q, same = _pool_geometry("avg_pool2d", shape, kernel_size,
                                                          stride, padding, 1, ceil_mode)
    return PoolArgs(x, unbatched, *shape, k, s, p, d, c, H_out, W_out, x.dtype,
                    _count_include_pad(count_include_pad, same), _divisor(divisor_override),
                    pad_end=q)


def input_shape_arg(input_shape, what):
    """input_shape of a backward call: 3 or 4 non-negative ints -> (4-D shape, unbatched)."""
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"{what}: input_shape must be a tuple of 3 or 4 ints, got "
                        f"{type(input_shape).__name__}")
    shape = tuple(to_int(s, "input_shape entry", 0) for s in input_shape)
    if len(shape) == 3:
        return (1,) + shape, True
    if len(shape) == 4:
        return shape, False
    raise ValueError(f"{what}: input_shape must have 3 or 4 entries, got {len(shape)}")


def avg_pool2d_backward_args(grad_output, input_shape, kernel_size, stride=None, padding=0,
                             ceil_mode=False, count_include_pad=True, divisor_override=None):
    """-> (PoolArgs with x=None, 4-D grad_output)."""
    check_array(grad_output, "grad_output")
    shape, unbatched = input_shape_arg(input_shape, "avg_pool2d_backward")
    k, s, p, d, c, H_out, W_out, q, same = _pool_geometry("avg_pool2d_backward", shape,
                                                          kernel_size, stride, padding, 1,
                                                          ceil_mode)
    check_output_size(shape, grad_output.itemsize, "grad_input")
    a = PoolArgs(None, unbatched, *shape, k, s, p, d, c, H_out, W_out, grad_output.dtype,
                 _count_include_pad(count_include_pad, same), _divisor(divisor_override),
                 pad_end=q)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, unbatched, "avg_pool2d_backward")
    return a, gy


# ------------------------------------------------------------------ adaptive pooling --

@dataclass  # not frozen: see _ARGS_NOT_FROZEN
class AdaptiveArgs(_PlaneShapes):
    x: Optional[np.ndarray]
    unbatched: bool
    N: int
    C: int
    H: int
    W: int
    H_out: int
    W_out: int
    dtype: np.dtype

    def geom(self):
        """(N, C, H, W, H_out, W_out)"""
        return (self.N, self.C, self.H, self.W, self.H_out, self.W_out)


def adaptive_window(i, size_in, size_out):
    """Window i covers [floor(i*In/Out), ceil((i+1)*In/Out))."""
    return (i * size_in) // size_out, -((-(i + 1) * size_in) // size_out)


def _adaptive_output_size(output_size, H, W, fname):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"{fname}: output_size must be an int or a pair (h, w) whose "
                             f"entries may be None, got {output_size!r}")
        oh, ow = output_size
        oh = H if oh is None else to_int(oh, "output_size", 0)
        ow = W if ow is None else to_int(ow, "output_size", 0)
        return oh, ow
    if output_size is None:
        return H, W
    o = to_int(output_size, "output_size", 0)
    return o, o


def _adaptive(input, output_size, fname):
    check_array(input, "input")
    x, unbatched = batched(input)
    N, C, H, W = (int(s) for s in x.shape)
    if C == 0 or H == 0 or W == 0:
        check_nonempty_plane(x, "input", fname)
    H_out, W_out = _adaptive_output_size(output_size, H, W, fname)
    check_output_size((N, C, H_out, W_out), x.itemsize)
    return AdaptiveArgs(x, unbatched, N, C, H, W, H_out, W_out, x.dtype)


def adaptive_avg_pool2d_args(input, output_size):
    return _adaptive(input, output_size, "adaptive_avg_pool2d")


def adaptive_max_pool2d_args(input, output_size):
    return _adaptive(input, output_size, "adaptive_max_pool2d")


def adaptive_avg_pool2d_backward_args(grad_output, input_shape):
    """The output size is grad_output's spatial size. -> (AdaptiveArgs with x=None, 4-D gy)."""
    check_array(grad_output, "grad_output")
    shape, unbatched = input_shape_arg(input_shape, "adaptive_avg_pool2d_backward")
    N, C, H, W = shape
    if C == 0 or H == 0 or W == 0:
        raise ValueError(f"adaptive_avg_pool2d_backward: expected input_shape with non-zero "
                         f"channels, height and width, got {_shape_str(shape)}")
    if grad_output.ndim != (3 if unbatched else 4):
        raise ValueError(f"adaptive_avg_pool2d_backward: expected a "
                         f"{3 if unbatched else 4}-D grad_output for input_shape "
                         f"{_shape_str(input_shape)}, got {grad_output.ndim}-D")
    H_out, W_out = (int(s) for s in grad_output.shape[-2:])
    check_output_size(shape, grad_output.itemsize, "grad_input")
    a = AdaptiveArgs(None, unbatched, N, C, H, W, H_out, W_out, grad_output.dtype)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, unbatched,
                           "adaptive_avg_pool2d_backward")
    return a, gy


def adaptive_max_pool2d_backward_args(grad_output, input, output_size, indices=None,
                                      check_range=True):
    """-> (AdaptiveArgs, 4-D grad_output, 4-D indices or None); check_range: see
    check_indices."""
    a = adaptive_max_pool2d_args(input, output_size)
    gy = check_grad_output(grad_output, a.dtype, a.out_shape, a.unbatched,
                           "adaptive_max_pool2d_backward")
    idx = None
    if indices is not None:
        idx = check_indices(indices, a.out_shape, a.unbatched, a.H * a.W, check_range)
    return a, gy, idx


def restore_batch(y, unbatched):
    """Drop the batch axis added for an unbatched (3-D) input."""
    return y[0] if unbatched else y


# ------------------------------------------------------------------------ unfold / fold --

@dataclass  # not frozen: see _ARGS_NOT_FROZEN
class FoldArgs:
    """A validated unfold/fold geometry: images (N, C, H, W), blocks (N, C*kH*kW, L) with
    L = H_out * W_out block positions."""
    N: int
    C: int
    H: int
    W: int
    kernel: Tuple[int, int]
    dilation: Tuple[int, int]
    padding: Tuple[int, int]
    stride: Tuple[int, int]
    H_out: int
    W_out: int
    unbatched: bool

    @property
    def image_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def blocks_shape(self):
        return (self.N, self.C * self.kernel[0] * self.kernel[1], self.H_out * self.W_out)


def _fold_geometry(fname, H, W, kernel_size, dilation, padding, stride):
    kernel = pair(kernel_size, "kernel_size", 1)
    dilation = pair(dilation, "dilation", 1)
    padding = pair(padding, "padding", 0)
    stride = pair(stride, "stride", 1)
    outs = []
    for n, k, d, p, s in zip((H, W), kernel, dilation, padding, stride):
        outs.append((n + 2 * p - d * (k - 1) - 1) // s + 1)
    if outs[0] < 1 or outs[1] < 1:
        raise ValueError(f"{fname}: given input with spatial size ({H}, {W}), "
                         f"kernel_size={kernel}, dilation={dilation}, padding={padding}, "
                         f"calculated shape of the array of sliding blocks as "
                         f"({outs[0]}, {outs[1]}), but its components must be at least one")
    return kernel, dilation, padding, stride, outs[0], outs[1]


def unfold_args(input, kernel_size, dilation=1, padding=0, stride=1, fname="unfold",
                name="input"):
    check_array(input, name)
    x, unbatched = batched(input, name)
    N, C, H, W = (int(s) for s in x.shape)
    if C == 0 or H == 0 or W == 0:
        check_nonempty_plane(x, name, fname)
    k, d, p, s, ho, wo = _fold_geometry(fname, H, W, kernel_size, dilation, padding, stride)
    a = FoldArgs(N, C, H, W, k, d, p, s, ho, wo, unbatched)
    check_output_size(a.blocks_shape, x.itemsize)
    return a, x


def _output_hw(output_size):
    if isinstance(output_size, np.ndarray):
        output_size = output_size.tolist()
    return pair(output_size, "output_size", 1)


def fold_args(input, output_size, kernel_size, dilation=1, padding=0, stride=1,
              fname="fold", name="input"):
    """-> (FoldArgs, the (N, C*kk, L) view of input)."""
    check_array(input, name)
    if input.ndim == 3:
        b, unbatched = input, False
    elif input.ndim == 2:
        b, unbatched = input[np.newaxis], True
    else:
        raise ValueError(f"{fname}: expected {name} to be 2-D (C * kH * kW, L) or 3-D "
                         f"(N, C * kH * kW, L), got {input.ndim}-D {name} of shape "
                         f"{_shape_str(input.shape)}")
    H, W = _output_hw(output_size)
    k, d, p, s, ho, wo = _fold_geometry(fname, H, W, kernel_size, dilation, padding, stride)
    N, CK, L = (int(v) for v in b.shape)
    kk = k[0] * k[1]
    if CK == 0 or CK % kk:
        raise ValueError(f"{fname}: expected size of {name}'s dimension 1 to be divisible by "
                         f"the product of kernel_size, but got {name}.size(1)={CK} and "
                         f"kernel_size={k}")
    if L != ho * wo:
        raise ValueError(f"{fname}: given output_size={(H, W)}, kernel_size={k}, "
                         f"dilation={d}, padding={p}, stride={s}, expected size of {name}'s "
                         f"dimension 2 to match the calculated number of sliding blocks "
                         f"{ho} * {wo} = {ho * wo}, but got {name}.size(2)={L}")
    a = FoldArgs(N, CK // kk, H, W, k, d, p, s, ho, wo, unbatched)
    check_output_size(a.image_shape, input.itemsize)
    return a, b


def unfold_backward_args(grad_output, input_shape, kernel_size, dilation=1, padding=0,
                         stride=1):
    """unfold's gradient is fold of grad_output to the input's size."""
    shape, unbatched = input_shape_arg(input_shape, "unfold_backward")
    if min(shape[1:]) < 1:
        raise ValueError(f"unfold_backward: expected input_shape with non-zero channels, "
                         f"height and width, got {_shape_str(shape)}")
    a, gy = fold_args(grad_output, shape[2:], kernel_size, dilation, padding, stride,
                      "unfold_backward", "grad_output")
    want = (shape[1] * a.kernel[0] * a.kernel[1], a.H_out * a.W_out)
    got = tuple(gy.shape[1:])
    if got != want or (not unbatched and gy.shape[0] != shape[0]) or \
            (unbatched != (grad_output.ndim == 2)):
        expect = want if unbatched else (shape[0],) + want
        raise ValueError(f"unfold_backward: expected grad_output of shape "
                         f"{_shape_str(expect)}, got {_shape_str(grad_output.shape)}")
    return a, gy


def fold_backward_args(grad_output, output_size, kernel_size, dilation=1, padding=0,
                       stride=1):
    """fold's gradient is unfold of grad_output (which has fold's output shape)."""
    a, gy = unfold_args(grad_output, kernel_size, dilation, padding, stride, "fold_backward",
                        "grad_output")
    if (a.H, a.W) != _output_hw(output_size):
        raise ValueError(f"fold_backward: expected grad_output of spatial size "
                         f"{_output_hw(output_size)} (output_size), got "
                         f"{_shape_str(grad_output.shape)}")
    return a, gy


# --------------------------------------------------------------------------- max_unpool --

@dataclass  # not frozen: see _ARGS_NOT_FROZEN
class UnpoolArgs:
    """A validated max_unpool2d call: input and indices (N, C, H, W), output (N, C, H_out,
    W_out), indices flat in the output plane."""
    x: Optional[np.ndarray]
    indices: np.ndarray
    unbatched: bool
    N: int
    C: int
    H: int
    W: int
    H_out: int
    W_out: int

    @property
    def out_shape(self):
        return (self.N, self.C, self.H_out, self.W_out)


def unpool_output_size(in_hw, kernel, stride, padding, output_size, fname, name="input"):
    """PyTorch's rule: by default (in - 1)*stride - 2*padding + kernel per axis; an explicit
    output_size (its last len(in_hw) entries) must lie strictly within stride of that."""
    nd = len(in_hw)
    default = [(n - 1) * s - 2 * p + k for n, k, s, p in zip(in_hw, kernel, stride, padding)]
    if output_size is None:
        size = default
    else:
        if isinstance(output_size, np.ndarray):
            output_size = output_size.tolist()
        if not isinstance(output_size, (tuple, list)):
            raise TypeError(f"{fname}: output_size must be a tuple or list of ints, got "
                            f"{type(output_size).__name__}")
        if len(output_size) not in (nd, nd + 1, nd + 2):
            raise ValueError(f"{fname}: output_size must have {nd} elements (or {nd + 2} with "
                             f"N, C), got {list(output_size)}")
        size = [to_int(v, "output_size", 0) for v in list(output_size)[-nd:]]
        for d, (v, m, s) in enumerate(zip(size, default, stride)):
            if not m - s < v < m + s:
                raise ValueError(f"{fname}: invalid output_size {size} for {name} of spatial "
                                 f"size {list(in_hw)} (dim {d} must be between {m - s} and "
                                 f"{m + s}, exclusive)")
    if min(size) < 1:
        raise ValueError(f"{fname}: calculated output size {size} is too small")
    return tuple(size)


def check_unpool_indices(indices, input, fname, name="input"):
    """max_unpool's indices: an int64 array of the input's shape (values checked later)."""
    if not isinstance(indices, np.ndarray):
        raise TypeError(f"{fname}: indices must be a numpy.ndarray of int64, got "
                        f"{type(indices).__name__}")
    if indices.dtype != np.int64:
        raise TypeError(f"{fname}: indices must have dtype int64, got {indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise ValueError(f"{fname}: expected indices of the {name}'s shape "
                         f"{_shape_str(input.shape)}, got {_shape_str(indices.shape)}")


def max_unpool2d_args(input, indices, kernel_size, stride=None, padding=0, output_size=None,
                      fname="max_unpool2d", name="input"):
    check_array(input, name)
    x, unbatched = batched(input, name)
    check_unpool_indices(indices, input, fname, name)
    kernel = pair(kernel_size, "kernel_size", 1)
    stride = pool_stride(stride, kernel)
    padding = pair(padding, "padding", 0)
    N, C, H, W = (int(s) for s in x.shape)
    if C == 0 or H == 0 or W == 0:
        check_nonempty_plane(x, name, fname)
    H_out, W_out = unpool_output_size((H, W), kernel, stride, padding, output_size, fname,
                                      name)
    check_output_size((N, C, H_out, W_out), x.itemsize)
    idx = indices[np.newaxis] if unbatched else indices
    if idx.size and (idx.min() < 0 or idx.max() >= H_out * W_out):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise ValueError(f"{fname}: indices hold an invalid max index {int(bad)} (output "
                         f"volumes are of size {H_out}x{W_out})")
    return UnpoolArgs(x, idx, unbatched, N, C, H, W, H_out, W_out)


def max_unpool2d_backward_args(grad_output, indices, kernel_size, stride=None, padding=0,
                               output_size=None):
    """The gradient gathers grad_output (the unpooled shape) at indices."""
    check_array(grad_output, "grad_output")
    if not isinstance(indices, np.ndarray):
        raise TypeError(f"max_unpool2d_backward: indices must be a numpy.ndarray of int64, "
                        f"got {type(indices).__name__}")
    probe = np.broadcast_to(np.zeros((), grad_output.dtype), indices.shape)
    a = max_unpool2d_args(probe, indices, kernel_size, stride, padding, output_size,
                          "max_unpool2d_backward", "indices")
    gy = check_grad_output(grad_output, grad_output.dtype, a.out_shape, a.unbatched,
                           "max_unpool2d_backward")
    return a, gy
