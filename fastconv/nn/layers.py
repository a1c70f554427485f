"""The layers: PyTorch's constructor arguments, defaults and initialisation, explicit backward.

Convolution and pooling call the functional API through ``_backend.ops`` (see _backend.py).
"""
import math

import numpy as np

from .._args import pair, padding_arg, transpose_output_padding
from . import _backend, init
from .module import Module, Parameter, accumulate_grad, float_dtype, check_device

__all__ = ["Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool2d", "BatchNorm2d", "ReLU", "Sigmoid", "Tanh", "Softmax",
           "LogSoftmax", "Flatten", "Linear", "Dropout"]


def _layer_padding(padding, nd=2):
    """A layer's numeric padding as PyTorch shows it, (h, w) / (l,) / (d, h, w), or per side
    ((t, b), (l, r)) / ((before, after),) / one pair per axis in 3-D."""
    if nd == 3:
        from .._args3 import padding_arg as padding3
        sides = padding3(padding)
        return tuple(a for a, _ in sides) if all(a == b for a, b in sides) else sides
    if nd == 1:
        from .._rank1 import _padding
        padding = _padding(padding)
    t, b, l, r = padding_arg(padding)
    if nd == 1:
        return (l,) if l == r else ((l, r),)
    return (t, l) if (t, l) == (b, r) else ((t, b), (l, r))


def _sizes(v, name, nd, minimum):
    """One size per spatial axis, as PyTorch's layers store them: (h, w), (l,) in 1-D,
    (d, h, w) in 3-D."""
    if nd == 2:
        return pair(v, name, minimum)
    if nd == 3:
        from .._args3 import sizes
        return sizes(v, name, minimum)
    from .._rank1 import _one
    return (pair(_one(v, name), name, minimum)[1],)


def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v <= 0:
        raise ValueError(f"{name} must be positive, got {v}")
    return int(v)


def _needs(p):
    return p is not None and p.requires_grad


def _reset_weight_and_bias(weight, bias, rng):
    """PyTorch's default: kaiming_uniform(a=sqrt(5)) weight, bias ~ U(+-1/sqrt(fan_in))."""
    init.kaiming_uniform_(weight, a=math.sqrt(5), rng=rng)
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound, rng=rng)


def _weight_and_bias(module, weight_shape, n_bias, bias, dtype, rng):
    """Register an uninitialised weight (and a bias of n_bias, or None), then reset both."""
    module.weight = Parameter(np.empty(weight_shape, dtype=dtype))
    if bias:
        module.bias = Parameter(np.empty(n_bias, dtype=dtype))
    else:
        module.register_parameter("bias", None)
    module.reset_parameters(rng)


class _Ranked(Module):
    """A layer over _nd spatial dimensions, calling the functional op <name>{_nd}d."""
    _nd = 2

    def _op(self, name, suffix=""):
        return getattr(_backend.ops, f"{name}{self._nd}d{suffix}")


class _ConvNd(_Ranked):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, transposed, output_padding, device, dtype, rng):
        super().__init__()
        check_device(device)
        dt = float_dtype(dtype)
        in_channels = _positive_int("in_channels", in_channels)
        out_channels = _positive_int("out_channels", out_channels)
        groups = _positive_int("groups", groups)
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError("padding_mode must be one of 'zeros', 'reflect', 'replicate', "
                             f"'circular', got {padding_mode!r}")
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                             "'valid', 'same'")
        self.in_channels, self.out_channels = in_channels, out_channels
        nd = self._nd
        self.kernel_size = _sizes(kernel_size, "kernel_size", nd, 1)
        self.stride = _sizes(stride, "stride", nd, 1)
        self.padding = padding if isinstance(padding, str) else _layer_padding(padding, nd)
        self.dilation = _sizes(dilation, "dilation", nd, 1)
        self.transposed = transposed
        self.output_padding = _sizes(output_padding, "output_padding", nd, 0)
        self.groups = groups
        self.padding_mode = padding_mode
        shape = ((in_channels, out_channels // groups) if transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        _weight_and_bias(self, shape, out_channels, bias, dt, rng)

    def reset_parameters(self, rng=None):
        _reset_weight_and_bias(self.weight, self.bias, rng)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) \
                else f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s

    def _params(self):
        return self.weight.data, (None if self.bias is None else self.bias.data)


class Conv2d(_ConvNd):
    """2-D convolution, as ``torch.nn.Conv2d`` (plus ``rng=`` for the initialisation)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None, *, rng=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, False, 0, device, dtype, rng)

    def _args(self):
        return (self.stride, self.padding, self.dilation, self.groups)

    def forward(self, x):
        w, b = self._params()
        out = self._op("conv")(x, w, b, *self._args(), padding_mode=self.padding_mode)
        self._save(x, w)
        return out

    def backward(self, grad_output):
        x, w = self._take()
        gi, gw, gb = self._op("conv", "_backward")(
            grad_output, x, w, *self._args(), padding_mode=self.padding_mode,
            output_mask=(True, _needs(self.weight), _needs(self.bias)))
        accumulate_grad(self.weight, gw)
        accumulate_grad(self.bias, gb)
        return gi


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution, as ``torch.nn.ConvTranspose2d``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None, *, rng=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for ConvTranspose2d, '
                             f"got {padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError("ConvTranspose2d takes integer padding, not a string")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, True, output_padding, device, dtype, rng)

    def _output_padding(self, x, output_size):
        """output_padding that yields ``output_size`` (PyTorch's rule), or the configured one."""
        if output_size is None:
            return self.output_padding
        pads = self.padding
        if pads and isinstance(pads[0], tuple):   # per side: ((before, after), ...)
            before, after = tuple(p[0] for p in pads), tuple(p[1] for p in pads)
        else:
            before = after = pads
        return transpose_output_padding(np.shape(x)[-self._nd:], output_size, self.kernel_size,
                                        self.stride, before, self.dilation, after)

    def forward(self, x, output_size=None):
        w, b = self._params()
        op = self._output_padding(x, output_size)
        out = self._op("conv_transpose")(x, w, b, self.stride, self.padding, op, self.groups,
                                         self.dilation)
        self._save(x, w, op)
        return out

    def backward(self, grad_output):
        x, w, op = self._take()
        gi, gw, gb = self._op("conv_transpose", "_backward")(
            grad_output, x, w, self.stride, self.padding, op, self.groups, self.dilation,
            output_mask=(True, _needs(self.weight), _needs(self.bias)))
        accumulate_grad(self.weight, gw)
        accumulate_grad(self.bias, gb)
        return gi


class MaxPool2d(_Ranked):
    """2-D max pooling, as ``torch.nn.MaxPool2d``; backward scatters through the argmax."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def _args(self):
        return (self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    def forward(self, x):
        if not (self.training or self.return_indices):
            return self._op("max_pool")(x, *self._args())
        out, idx = self._op("max_pool")(x, *self._args(), return_indices=True)
        self._save(x, idx)
        return (out, idx) if self.return_indices else out

    def backward(self, grad_output):
        x, idx = self._take()
        return self._op("max_pool", "_backward")(grad_output, x, *self._args(), indices=idx)


class AvgPool2d(_Ranked):
    """2-D average pooling, as ``torch.nn.AvgPool2d``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def _args(self):
        return (self.kernel_size, self.stride, self.padding, self.ceil_mode,
                self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x):
        out = self._op("avg_pool")(x, *self._args())
        self._save(np.shape(x))
        return out

    def backward(self, grad_output):
        (shape,) = self._take()
        return self._op("avg_pool", "_backward")(grad_output, shape, *self._args())


class AdaptiveAvgPool2d(_Ranked):
    """Adaptive average pooling to ``output_size``, as ``torch.nn.AdaptiveAvgPool2d``."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, x):
        out = self._op("adaptive_avg_pool")(x, self.output_size)
        self._save(np.shape(x))
        return out

    def backward(self, grad_output):
        (shape,) = self._take()
        return self._op("adaptive_avg_pool", "_backward")(grad_output, shape)


class AdaptiveMaxPool2d(_Ranked):
    """Adaptive max pooling to ``output_size``, as ``torch.nn.AdaptiveMaxPool2d``."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, x):
        if not (self.training or self.return_indices):
            return self._op("adaptive_max_pool")(x, self.output_size)
        out, idx = self._op("adaptive_max_pool")(x, self.output_size, return_indices=True)
        self._save(x, idx)
        return (out, idx) if self.return_indices else out

    def backward(self, grad_output):
        x, idx = self._take()
        return self._op("adaptive_max_pool", "_backward")(grad_output, x, self.output_size,
                                                         indices=idx)


class LPPool2d(_Ranked):
    """Power-average pooling, as ``torch.nn.LPPool2d``: the p-norm of each window."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def _args(self):
        return (self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")

    def forward(self, x):
        out = self._op("lp_pool")(x, *self._args())
        self._save(x)
        return out

    def backward(self, grad_output):
        (x,) = self._take()
        return self._op("lp_pool", "_backward")(grad_output, x, *self._args())


class LPPool1d(LPPool2d):
    """As ``torch.nn.LPPool1d``."""
    _nd = 1


class Unfold(Module):
    """Sliding blocks as columns, as ``torch.nn.Unfold``."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def _args(self):
        return (self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")

    def forward(self, x):
        out = _backend.ops.unfold(x, *self._args())
        self._save(np.shape(x))
        return out

    def backward(self, grad_output):
        (shape,) = self._take()
        return _backend.ops.unfold_backward(grad_output, shape, *self._args())


class Fold(Unfold):
    """Columns summed back into images, as ``torch.nn.Fold``."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}, " + super().extra_repr()

    def forward(self, x):
        return _backend.ops.fold(x, self.output_size, *self._args())

    def backward(self, grad_output):
        return _backend.ops.fold_backward(grad_output, self.output_size, *self._args())


class MaxUnpool2d(_Ranked):
    """The partial inverse of MaxPool2d, as ``torch.nn.MaxUnpool2d``:
    ``forward(x, indices, output_size=None)``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x, indices, output_size=None):
        args = (self.kernel_size, self.stride, self.padding, output_size)
        out = self._op("max_unpool")(x, indices, *args)
        self._save(indices, args)
        return out

    def backward(self, grad_output):
        indices, args = self._take()
        return self._op("max_unpool", "_backward")(grad_output, indices, *args)


class MaxUnpool1d(MaxUnpool2d):
    """As ``torch.nn.MaxUnpool1d``."""
    _nd = 1


class Conv1d(Conv2d):
    """1-D convolution, as ``torch.nn.Conv1d``: weight (out, in / groups, kL)."""
    _nd = 1


class ConvTranspose1d(ConvTranspose2d):
    """1-D transposed convolution, as ``torch.nn.ConvTranspose1d``."""
    _nd = 1


class MaxPool1d(MaxPool2d):
    """1-D max pooling, as ``torch.nn.MaxPool1d``."""
    _nd = 1


class AvgPool1d(AvgPool2d):
    """1-D average pooling, as ``torch.nn.AvgPool1d`` (which has no divisor_override)."""
    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """As ``torch.nn.AdaptiveAvgPool1d``."""
    _nd = 1


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """As ``torch.nn.AdaptiveMaxPool1d``."""
    _nd = 1


class Conv3d(Conv2d):
    """3-D convolution, as ``torch.nn.Conv3d``: weight (out, in / groups, kD, kH, kW)."""
    _nd = 3


class ConvTranspose3d(ConvTranspose2d):
    """3-D transposed convolution, as ``torch.nn.ConvTranspose3d``."""
    _nd = 3


class MaxPool3d(MaxPool2d):
    """3-D max pooling, as ``torch.nn.MaxPool3d``."""
    _nd = 3


class AvgPool3d(AvgPool2d):
    """3-D average pooling, as ``torch.nn.AvgPool3d``."""
    _nd = 3


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """As ``torch.nn.AdaptiveAvgPool3d``."""
    _nd = 3


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    """As ``torch.nn.AdaptiveMaxPool3d``."""
    _nd = 3


class MaxUnpool3d(MaxUnpool2d):
    """As ``torch.nn.MaxUnpool3d``."""
    _nd = 3


def _check_float_input(name, x, dtype):
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype != dtype:
        raise TypeError(f"{name}: expected input of dtype {dtype} (the parameters' dtype), "
                        f"got {x.dtype}; convert the input or call .float()/.double()")
    return x


class _BatchNorm(Module):
    """Batch normalisation per channel (axis 1) over every other axis, as PyTorch's
    BatchNorm1d/2d/3d; _ndims: the input ranks the layer takes.

    Training normalises with the batch's biased variance and folds the batch statistics into
    the running estimates with ``momentum`` (cumulative average when ``momentum=None``), using
    the unbiased variance there, and counts ``num_batches_tracked``, exactly as PyTorch.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        super().__init__()
        check_device(device)
        dt = float_dtype(dtype)
        self.num_features = _positive_int("num_features", num_features)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            self.bias = Parameter(np.zeros(num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dt))
            self.register_buffer("running_var", np.ones(num_features, dtype=dt))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def _optional_state_keys(self):
        return ("num_batches_tracked",)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")

    def _dtype(self):
        src = self.weight if self.affine else self.running_mean
        return src.dtype if src is not None else np.dtype(np.float32)

    def forward(self, x):
        x = np.asarray(x)
        name = type(self).__name__
        if x.ndim not in self._ndims:
            want = " or ".join(f"{n}D" for n in self._ndims)
            raise ValueError(f"{name}: expected {want} input (got {x.ndim}D input)")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected input with {self.num_features} channels, "
                             f"got input of shape {x.shape}")
        if self.affine or self.running_mean is not None:
            x = _check_float_input(name, x, self._dtype())
        elif x.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name}: expected float32 or float64 input, got {x.dtype}")
        use_batch_stats = self.training or self.running_mean is None
        axes = (0,) + tuple(range(2, x.ndim))
        c = (slice(None),) + (None,) * (x.ndim - 2)     # a per-channel vector, broadcast
        if use_batch_stats:
            n = x.size // max(x.shape[1], 1)
            if self.training and n <= 1:
                raise ValueError("Expected more than 1 value per channel when training, got "
                                 f"input size {x.shape}")
            mean = x.mean(axis=axes)
            xc = x - mean[c]
            var = np.mean(np.square(xc), axis=axes)
            invstd = 1 / np.sqrt(var + x.dtype.type(self.eps))
            xhat = xc
            xhat *= invstd[c]
            if self.training and self.track_running_stats:
                self._update_running_stats(mean, var, n)
        else:
            invstd = 1 / np.sqrt(self.running_var + x.dtype.type(self.eps))
            xhat = (x - self.running_mean[c]) * invstd[c]
        if self.affine:
            out = xhat * self.weight.data[c]
            out += self.bias.data[c]
        else:
            out = xhat.copy()  # the cached xhat must not alias what later layers may modify
        if use_batch_stats:
            self._save(xhat, invstd)
        return out

    def _update_running_stats(self, mean, var, n):
        self.num_batches_tracked += 1
        if self.momentum is None:
            factor = 1.0 / float(self.num_batches_tracked)
        else:
            factor = self.momentum
        dt = self.running_mean.dtype
        f = dt.type(factor)
        unbiased = var * (n / (n - 1))
        self.running_mean *= 1 - f
        self.running_mean += f * mean.astype(dt, copy=False)
        self.running_var *= 1 - f
        self.running_var += f * unbiased.astype(dt, copy=False)

    def backward(self, grad_output):
        xhat, invstd = self._take()
        g = np.asarray(grad_output)
        if g.shape != xhat.shape:
            raise ValueError(f"{type(self).__name__}.backward: grad_output shape {g.shape} does "
                             f"not match the output shape {xhat.shape}")
        axes = (0,) + tuple(range(2, xhat.ndim))
        c = (slice(None),) + (None,) * (xhat.ndim - 2)
        n = xhat.size // xhat.shape[1]
        sum_g = g.sum(axis=axes)
        sum_g_xhat = np.sum(g * xhat, axis=axes)
        if self.affine:
            accumulate_grad(self.weight, sum_g_xhat.astype(xhat.dtype, copy=False))
            accumulate_grad(self.bias, sum_g.astype(xhat.dtype, copy=False))
            scale = self.weight.data * invstd
        else:
            scale = invstd
        # d(loss)/dx for y = w * (x - mean) * invstd + b with batch mean and variance.
        gi = xhat * (sum_g_xhat / n)[c]
        np.subtract(g, gi, out=gi)
        gi -= (sum_g / n)[c]
        gi *= scale[c]
        return gi


class BatchNorm1d(_BatchNorm):
    """As ``torch.nn.BatchNorm1d``: (N, C) or (N, C, L) input."""
    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """As ``torch.nn.BatchNorm2d``: (N, C, H, W) input."""
    _ndims = (4,)


class BatchNorm3d(_BatchNorm):
    """As ``torch.nn.BatchNorm3d``: (N, C, D, H, W) input."""
    _ndims = (5,)


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""

    def forward(self, x):
        x = np.asarray(x)
        out = np.maximum(x, 0, out=x if self.inplace else None)
        self._save(out)
        return out

    def backward(self, grad_output):
        (out,) = self._take()
        g = np.asarray(grad_output)
        return np.where(out > 0, g, g.dtype.type(0))


class Sigmoid(Module):
    def forward(self, x):
        x = np.asarray(x)
        # exp of -|x| never overflows; the two branches are the same function.
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1, e) / (1 + e)
        out = out.astype(x.dtype, copy=False)
        self._save(out)
        return out

    def backward(self, grad_output):
        (out,) = self._take()
        return grad_output * out * (1 - out)


class Tanh(Module):
    def forward(self, x):
        out = np.tanh(x)
        self._save(out)
        return out

    def backward(self, grad_output):
        (out,) = self._take()
        return grad_output * (1 - np.square(out))


def _softmax_dim(dim, ndim):
    if dim is None:  # PyTorch's implicit choice
        return 0 if ndim in (0, 1, 3) else 1
    if not -ndim <= dim < max(ndim, 1):
        raise ValueError(f"dim {dim} is out of range for a {ndim}-D input")
    return dim


def log_softmax(x, dim):
    shifted = x - np.max(x, axis=dim, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


class _SoftmaxBase(Module):
    """Softmax and LogSoftmax: same arguments and caching, different map and backward."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"

    def forward(self, x):
        x = np.asarray(x)
        dim = _softmax_dim(self.dim, x.ndim)
        out = self._map(x, dim)
        self._save(out, dim)
        return out


class Softmax(_SoftmaxBase):
    @staticmethod
    def _map(x, dim):
        return np.exp(log_softmax(x, dim))

    def backward(self, grad_output):
        out, dim = self._take()
        return out * (grad_output - np.sum(grad_output * out, axis=dim, keepdims=True))


class LogSoftmax(_SoftmaxBase):
    @staticmethod
    def _map(x, dim):
        return log_softmax(x, dim)

    def backward(self, grad_output):
        out, dim = self._take()
        return grad_output - np.exp(out) * np.sum(grad_output, axis=dim, keepdims=True)


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one, as ``torch.nn.Flatten``."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x):
        x = np.asarray(x)
        nd = max(x.ndim, 1)
        s = self.start_dim + nd if self.start_dim < 0 else self.start_dim
        e = self.end_dim + nd if self.end_dim < 0 else self.end_dim
        if not (0 <= s < nd and 0 <= e < nd) or s > e:
            raise ValueError(f"Flatten: dims {self.start_dim}..{self.end_dim} do not fit a "
                             f"{x.ndim}-D input")
        out = x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:]) if x.ndim else x.reshape(1)
        self._save(x.shape)
        return out

    def backward(self, grad_output):
        (shape,) = self._take()
        return np.reshape(grad_output, shape)


class Linear(Module):
    """``y = x @ weight.T + bias``, as ``torch.nn.Linear``."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None, *,
                 rng=None):
        super().__init__()
        check_device(device)
        dt = float_dtype(dtype)
        self.in_features = _positive_int("in_features", in_features)
        self.out_features = _positive_int("out_features", out_features)
        _weight_and_bias(self, (out_features, in_features), out_features, bias, dt, rng)

    def reset_parameters(self, rng=None):
        _reset_weight_and_bias(self.weight, self.bias, rng)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")

    def forward(self, x):
        w = self.weight.data
        x = _check_float_input("Linear", x, w.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: expected input with last dimension {self.in_features}, "
                             f"got shape {x.shape}")
        out = x @ w.T
        if self.bias is not None:
            out += self.bias.data
        self._save(x, w)
        return out

    def backward(self, grad_output):
        x, w = self._take()
        g = _check_float_input("Linear.backward", grad_output, w.dtype)
        g2 = g.reshape(-1, self.out_features)
        if _needs(self.weight):
            accumulate_grad(self.weight, g2.T @ x.reshape(-1, self.in_features))
        if _needs(self.bias):
            accumulate_grad(self.bias, g2.sum(axis=0))
        return g @ w


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` in training;
    the identity in eval mode.  Masks come from ``rng`` (default: the generator
    ``fastconv.nn.manual_seed`` seeds)."""

    def __init__(self, p=0.5, inplace=False, *, rng=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) \
                or not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = float(p), inplace
        self._rng = None if rng is None else init.get_generator(rng)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

    def forward(self, x):
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self._save(None)
            return x
        if x.dtype not in (np.float32, np.float64):
            raise TypeError(f"Dropout: expected float32 or float64 input, got {x.dtype}")
        if self.p == 1:
            keep = np.zeros(x.shape, dtype=bool)
            scale = x.dtype.type(0)
        else:
            rng = self._rng or init.default_generator()
            keep = rng.random(x.shape, dtype=x.dtype) >= self.p
            scale = x.dtype.type(1 / (1 - self.p))
        out = np.multiply(x, keep, out=x if self.inplace else None)
        out *= scale
        self._save(keep, scale)
        return out

    def backward(self, grad_output):
        saved = self._take()
        if saved[0] is None:
            return grad_output
        keep, scale = saved
        gi = grad_output * keep
        gi *= scale
        return gi
