"""fastconv.reference's 3-D functions: the same formulas as the 2-D ones (see
fastconv.reference), written for any number of spatial axes and used with three.

Tap ``t = (td, th, tw)`` of output position ``i = (i0, i1, i2)`` reads padded position
``i*s + t*d`` per axis.  Every loop is over kernel taps (or adaptive output cells), with
vectorised NumPy over batch, channels and positions.  Arithmetic stays in the input's dtype.
"""
import itertools

import numpy as np

from . import _args3 as A
from ._args import adaptive_window, restore_batch


def _c(a):
    return np.ascontiguousarray(a)


# ------------------------------------------------------------------ padding and taps --

def _pad_source(n, before, after, mode):
    """Source index in [0, n) of each padded position, or -1 for a zero (see reference)."""
    from .reference import _pad_source as src
    return src(n, before, after, mode)


def _pad(x, pads, mode="zeros", fill=0):
    """Pad the spatial axes (all after the first two) by pads = ((before, after), ...)."""
    srcs = [_pad_source(n, b, a, mode) for n, (b, a) in zip(x.shape[2:], pads)]
    out = x
    for ax, src in enumerate(srcs, start=2):
        taken = np.take(out, np.maximum(src, 0), axis=ax)
        mask = (src < 0).reshape((1,) * ax + (-1,) + (1,) * (out.ndim - ax - 1))
        out = np.where(mask, x.dtype.type(fill), taken)
    return out


def _pad_adjoint(g, pads, mode, size):
    """Adjoint of _pad: each padded position adds its value to its source."""
    out = g
    for ax, (n, (b, a)) in enumerate(zip(size, pads), start=2):
        src = _pad_source(n, b, a, mode)
        moved = np.moveaxis(out, ax, 0)
        acc = np.zeros((n,) + moved.shape[1:], dtype=g.dtype)
        keep = src >= 0
        np.add.at(acc, src[keep], moved[keep])
        out = np.moveaxis(acc, 0, ax)
    return out


def _tap(a, t, out, stride, dilation):
    """The strided view a[..., i*s + t*d, ...] over all output positions, for tap t."""
    idx = tuple(slice(tt * d, tt * d + s * (o - 1) + 1, s)
                for tt, o, s, d in zip(t, out, stride, dilation))
    return a[(Ellipsis,) + idx]


def _taps(kernel):
    return itertools.product(*(range(k) for k in kernel))


# ---------------------------------------------------------------- correlation cores --
# Weights in conv layout (G*Ao, B, *kernel): group g maps its B source channels to its Ao
# result channels.

def _gather(xp, weight, groups, stride, dilation, out):
    """y[n, g*Ao+a, i] = sum_{b, t} w[g*Ao+a, b, t] * xp[n, g*B+b, i*s + t*d]"""
    N, P = xp.shape[0], int(np.prod(out))
    At, B = weight.shape[:2]
    G, Ao = groups, At // groups
    w = weight.reshape((G, Ao, B) + weight.shape[2:])
    y = np.zeros((N, G, Ao, P), dtype=xp.dtype)
    for t in _taps(weight.shape[2:]):
        cols = _tap(xp, t, out, stride, dilation).reshape(N, G, B, P)
        y += w[(Ellipsis,) + t] @ cols
    return y.reshape((N, At) + tuple(out))


def _scatter(y, weight, groups, stride, dilation, full):
    """Adjoint of _gather in xp: xp[n, g*B+b, i*s + t*d] += w[g*Ao+a, b, t] * y[n, g*Ao+a, i]"""
    N, out = y.shape[0], y.shape[2:]
    At, B = weight.shape[:2]
    G, Ao = groups, At // groups
    wt = weight.reshape((G, Ao, B) + weight.shape[2:]).swapaxes(1, 2)
    yg = y.reshape(N, G, Ao, int(np.prod(out)))
    xp = np.zeros((N, G * B) + tuple(full), dtype=y.dtype)
    for t in _taps(weight.shape[2:]):
        contrib = (wt[(Ellipsis,) + t] @ yg).reshape((N, G * B) + tuple(out))
        _tap(xp, t, out, stride, dilation)[...] += contrib
    return xp


def _correlate_weight(y, xp, groups, stride, dilation, kernel):
    """gw[g*Ao+a, b, t] = sum_{n, i} y[n, g*Ao+a, i] * xp[n, g*B+b, i*s + t*d]"""
    N, At, out = y.shape[0], y.shape[1], y.shape[2:]
    G, P = groups, int(np.prod(out))
    Ao, B = At // G, xp.shape[1] // G
    yg = y.reshape(N, G, Ao, P).transpose(1, 2, 0, 3).reshape(G, Ao, N * P)
    gw = np.zeros((G, Ao, B) + tuple(kernel), dtype=y.dtype)
    for t in _taps(kernel):
        cols = _tap(xp, t, out, stride, dilation).reshape(N, G, B, P)
        cols = cols.transpose(1, 2, 0, 3).reshape(G, B, N * P)
        gw[(Ellipsis,) + t] = yg @ cols.swapaxes(1, 2)
    return gw.reshape((At, B) + tuple(kernel))


# --------------------------------------------------------------------- convolution --

def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros"):
    """y = _gather(pad(x), w) + bias."""
    a = A.conv3d_args(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    xp = _pad(_c(a.x), a.pad, a.padding_mode)
    y = _gather(xp, a.weight, a.groups, a.stride, a.dilation, a.out)
    if a.bias is not None:
        y += a.bias.reshape(1, -1, 1, 1, 1)
    return restore_batch(_c(y), a.unbatched)


def conv3d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    padding_mode="zeros", output_mask=(True, True, True)):
    """grad_input = pad^T(_scatter(gy, w)); grad_weight = _correlate_weight(gy, pad(x));
    grad_bias = sum of gy over N and space."""
    a, gy, mask = A.conv3d_backward_args(grad_output, input, weight, stride, padding,
                                         dilation, groups, padding_mode, output_mask)
    gy = _c(gy)
    full = tuple(n + b + e for n, (b, e) in zip(a.size, a.pad))
    gx = gw = gb = None
    if mask[0]:
        gxp = _scatter(gy, a.weight, a.groups, a.stride, a.dilation, full)
        gx = restore_batch(_c(_pad_adjoint(gxp, a.pad, a.padding_mode, a.size)), a.unbatched)
    if mask[1]:
        xp = _pad(_c(a.x), a.pad, a.padding_mode)
        gw = _c(_correlate_weight(gy, xp, a.groups, a.stride, a.dilation, a.kernel))
    if mask[2]:
        gb = _c(gy.sum(axis=(0, 2, 3, 4), dtype=gy.dtype))
    return gx, gw, gb


def _crop(full, padding, out):
    return full[(Ellipsis,) + tuple(slice(p, p + o) for p, o in zip(padding, out))]


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, *, output_size=None):
    """y = crop(_scatter(x, w)) + bias: the scatter buffer with padding cropped from each side
    (per side: one (before, after) pair per axis, as ONNX ConvTranspose pads), the weight
    (C_in, C_out/groups, k...) read in conv layout."""
    a = A.conv_transpose3d_args(input, weight, bias, stride, padding, output_padding, groups,
                                dilation, output_size)
    pad = tuple(p[0] for p in a.pad)
    full = tuple(o + b + e for o, (b, e) in zip(a.out, a.pad))
    y = _crop(_scatter(_c(a.x), a.weight, a.groups, a.stride, a.dilation, full), pad, a.out)
    y = _c(y)
    if a.bias is not None:
        y += a.bias.reshape(1, -1, 1, 1, 1)
    return restore_batch(y, a.unbatched)


def conv_transpose3d_backward(grad_output, input, weight, stride=1, padding=0,
                              output_padding=0, groups=1, dilation=1, *,
                              output_mask=(True, True, True), output_size=None):
    """grad_input = _gather(zero-pad(gy), w); grad_weight = _correlate_weight(x, zero-pad(gy))."""
    a, gy, mask = A.conv_transpose3d_backward_args(grad_output, input, weight, stride,
                                                   padding, output_padding, groups, dilation,
                                                   output_mask, output_size)
    gy = _c(gy)
    pad = tuple(p[0] for p in a.pad)
    # zero-pad gy back to the full scatter extent the forward cropped
    full = tuple(o + b + e for o, (b, e) in zip(a.out, a.pad))
    gyp = np.zeros(gy.shape[:2] + full, dtype=gy.dtype)
    gyp[(Ellipsis,) + tuple(slice(p, p + o) for p, o in zip(pad, a.out))] = gy
    gx = gw = gb = None
    if mask[0]:
        gx = restore_batch(_c(_gather(gyp, a.weight, a.groups, a.stride, a.dilation, a.size)),
                           a.unbatched)
    if mask[1]:
        gw = _c(_correlate_weight(_c(a.x), gyp, a.groups, a.stride, a.dilation, a.kernel))
    if mask[2]:
        gb = _c(gy.sum(axis=(0, 2, 3, 4), dtype=gy.dtype))
    return gx, gw, gb


# ------------------------------------------------------------------------- pooling --

def _flat_positions(size, pads):
    """Flat position (d*H + h)*W + w in the unpadded volume of every padded position, -1 in
    the padding."""
    grids = np.meshgrid(*[np.arange(-b, n + e) for n, (b, e) in zip(size, pads)],
                        indexing="ij")
    inside = np.ones(grids[0].shape, dtype=bool)
    flat = np.zeros(grids[0].shape, dtype=np.int64)
    for g, n in zip(grids, size):
        inside &= (g >= 0) & (g < n)
        flat = flat * n + g
    return np.where(inside, flat, -1)


def _window_pads(a):
    """Padding that holds every window: the call's, extended at the end to the last window's
    end (a ceil-mode overhang reads padding there)."""
    return tuple((b, max(e, (o - 1) * s + (k - 1) * d + 1 - n - b))
                 for n, k, s, (b, e), d, o in zip(a.size, a.kernel, a.stride, a.pad,
                                                  a.dilation, a.out))


def _max_forward(x, a):
    """Running maximum over the taps in scan order: a tap replaces the running value when it
    is larger or NaN (ties keep the first, NaN the last); padding taps never win."""
    pads = _window_pads(a)
    xp = _pad(x, pads, fill=-np.inf)
    pos = _flat_positions(a.size, pads)
    y = np.full(x.shape[:2] + tuple(a.out), -np.inf, dtype=x.dtype)
    idx = np.full(y.shape, -1, dtype=np.int64)
    for t in _taps(a.kernel):
        v = _tap(xp, t, a.out, a.stride, a.dilation)
        p = np.broadcast_to(_tap(pos, t, a.out, a.stride, a.dilation), y.shape)
        take = (p >= 0) & ((idx < 0) | (v > y) | np.isnan(v))
        y = np.where(take, v, y)
        idx = np.where(take, p, idx)
    return y, idx


def _scatter_flat(gy, idx, size):
    """grad_input[n, c, idx] += gy[n, c, ...] (repeated indices accumulate)."""
    N, C = gy.shape[:2]
    out = np.zeros((N * C, int(np.prod(size))), dtype=gy.dtype)
    rows = np.repeat(np.arange(N * C), idx[0, 0].size if idx.size else 0)
    np.add.at(out, (rows, idx.reshape(-1)), gy.reshape(-1))
    return out.reshape((N, C) + tuple(size))


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """y[n, c, i] = max over in-bounds taps t of x[n, c, i*s - p + t*d]; indices flat in the
    volume."""
    a = A.max_pool3d_args(input, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = A.to_bool(return_indices, "return_indices")
    y, idx = _max_forward(_c(a.x), a)
    if return_indices:
        return restore_batch(_c(y), a.unbatched), restore_batch(_c(idx), a.unbatched)
    return restore_batch(_c(y), a.unbatched)


def max_pool3d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, indices=None):
    a, gy, idx = A.max_pool3d_backward_args(grad_output, input, kernel_size, stride, padding,
                                            dilation, ceil_mode, indices)
    if idx is None:
        _, idx = _max_forward(_c(a.x), a)
    return restore_batch(_scatter_flat(_c(gy), idx, a.size), a.unbatched)


def _axis_divisors(a):
    """Per-axis divisor factors of average pooling, one array per axis (the divisor of an
    output position is their product, or divisor_override)."""
    out = []
    for n, k, s, (b, e), o in zip(a.size, a.kernel, a.stride, a.pad, a.out):
        start = np.arange(o) * s - b
        end = start + k
        if a.count_include_pad:
            out.append(np.minimum(end, n + e) - start)
        else:
            out.append(np.minimum(end, n) - np.maximum(start, 0))
    return out


def _avg_divisor(a, dtype):
    if a.divisor_override is not None:
        return dtype.type(a.divisor_override)
    f = _axis_divisors(a)
    return (f[0][:, None, None] * f[1][None, :, None] * f[2][None, None, :]).astype(dtype)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """y[n, c, i] = sum over taps t of zero-padded x[n, c, i*s - p + t] / divisor[i]."""
    a = A.avg_pool3d_args(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                          divisor_override)
    pads = _window_pads(a)
    xp = _pad(_c(a.x), pads)
    y = np.zeros(a.x.shape[:2] + tuple(a.out), dtype=a.dtype)
    for t in _taps(a.kernel):
        y += _tap(xp, t, a.out, a.stride, a.dilation)
    return restore_batch(_c(y / _avg_divisor(a, a.dtype)), a.unbatched)


def avg_pool3d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """grad_input[n, c, i*s - p + t] += grad_output[n, c, i] / divisor[i] for every tap."""
    a, gy = A.avg_pool3d_backward_args(grad_output, input_shape, kernel_size, stride, padding,
                                       ceil_mode, count_include_pad, divisor_override)
    pads = _window_pads(a)
    share = _c(gy) / _avg_divisor(a, a.dtype)
    gp = np.zeros((a.N, a.C) + tuple(n + b + e for n, (b, e) in zip(a.size, pads)),
                  dtype=a.dtype)
    for t in _taps(a.kernel):
        _tap(gp, t, a.out, a.stride, a.dilation)[...] += share
    inner = tuple(slice(b, b + n) for n, (b, _) in zip(a.size, pads))
    return restore_batch(_c(gp[(Ellipsis,) + inner]), a.unbatched)


def _cells(a):
    """Every adaptive output cell: (output index, slices of its window); window i of n inputs
    over o outputs is [floor(i*n/o), ceil((i+1)*n/o))."""
    wins = [[adaptive_window(i, n, o) for i in range(o)] for n, o in zip(a.size, a.out)]
    for cell in itertools.product(*(range(o) for o in a.out)):
        yield cell, tuple(slice(*wins[ax][i]) for ax, i in enumerate(cell))


def adaptive_avg_pool3d(input, output_size):
    """y[n, c, cell] = mean of x over the cell's window."""
    a = A.adaptive_args(input, output_size, "adaptive_avg_pool3d")
    x = _c(a.x)
    y = np.zeros(x.shape[:2] + tuple(a.out), dtype=a.dtype)
    for cell, win in _cells(a):
        count = int(np.prod([s.stop - s.start for s in win]))
        y[(Ellipsis,) + cell] = x[(Ellipsis,) + win].sum(axis=(2, 3, 4)) / a.dtype.type(count)
    return restore_batch(y, a.unbatched)


def adaptive_avg_pool3d_backward(grad_output, input_shape):
    a, gy = A.adaptive_avg_pool3d_backward_args(grad_output, input_shape)
    gx = np.zeros(a.in_shape, dtype=a.dtype)
    for cell, win in _cells(a):
        count = int(np.prod([s.stop - s.start for s in win]))
        gx[(Ellipsis,) + win] += (gy[(Ellipsis,) + cell] / a.dtype.type(count))[..., None,
                                                                                 None, None]
    return restore_batch(gx, a.unbatched)


def _adaptive_max(x, a):
    """The window's maximum (first in scan order; the last NaN when there are NaNs)."""
    y = np.zeros(x.shape[:2] + tuple(a.out), dtype=x.dtype)
    idx = np.zeros(y.shape, dtype=np.int64)
    flat = np.arange(int(np.prod(a.size))).reshape(a.size)
    for cell, win in _cells(a):
        pos = flat[win].reshape(-1)
        block = x[(Ellipsis,) + win].reshape(x.shape[:2] + (pos.size,))
        nan = np.isnan(block)
        last_nan = block.shape[2] - 1 - np.argmax(nan[..., ::-1], axis=2)
        first_max = np.argmax(np.where(nan, -np.inf, block) ==
                              np.max(np.where(nan, -np.inf, block), axis=2, keepdims=True),
                              axis=2)
        k = np.where(nan.any(axis=2), last_nan, first_max)
        y[(Ellipsis,) + cell] = np.take_along_axis(block, k[..., None], axis=2)[..., 0]
        idx[(Ellipsis,) + cell] = pos[k]
    return y, idx


def adaptive_max_pool3d(input, output_size, return_indices=False):
    a = A.adaptive_args(input, output_size, "adaptive_max_pool3d")
    return_indices = A.to_bool(return_indices, "return_indices")
    y, idx = _adaptive_max(_c(a.x), a)
    if return_indices:
        return restore_batch(y, a.unbatched), restore_batch(idx, a.unbatched)
    return restore_batch(y, a.unbatched)


def adaptive_max_pool3d_backward(grad_output, input, output_size, *, indices=None):
    a, gy, idx = A.adaptive_max_pool3d_backward_args(grad_output, input, output_size, indices)
    if idx is None:
        _, idx = _adaptive_max(_c(a.x), a)
    return restore_batch(_scatter_flat(_c(gy), idx, a.size), a.unbatched)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """y = zeros(N, C, D_out*H_out*W_out); y[n, c, indices[n, c, i]] = x[n, c, i], element by
    element in scan order (a later element with the same index wins)."""
    a, idx = A.max_unpool3d_args(input, indices, kernel_size, stride, padding, output_size)
    x = _c(a.x).reshape(a.N, a.C, -1)
    y = np.zeros((a.N, a.C, int(np.prod(a.out))), dtype=a.dtype)
    ind = idx.reshape(a.N, a.C, -1)
    for n in range(a.N):
        for c in range(a.C):
            for i in range(x.shape[2]):
                y[n, c, ind[n, c, i]] = x[n, c, i]
    return restore_batch(y.reshape(a.out_shape), a.unbatched)


def max_unpool3d_backward(grad_output, indices, kernel_size, stride=None, padding=0,
                          output_size=None):
    """grad_input[n, c, i] = grad_output[n, c, indices[n, c, i]]."""
    a, idx, gy = A.max_unpool3d_backward_args(grad_output, indices, kernel_size, stride,
                                              padding, output_size)
    g = _c(gy).reshape(a.N, a.C, -1)
    ind = idx.reshape(a.N, a.C, -1)
    out = np.stack([np.stack([g[n, c, ind[n, c]] for c in range(a.C)]) for n in range(a.N)]) \
        if a.N else np.zeros((0, a.C, ind.shape[2]), dtype=a.dtype)
    return restore_batch(_c(out.reshape(a.in_shape)), a.unbatched)


__all__ = ["conv3d", "conv3d_backward", "conv_transpose3d", "conv_transpose3d_backward",
             "max_pool3d", "max_pool3d_backward", "avg_pool3d", "avg_pool3d_backward",
             "adaptive_avg_pool3d", "adaptive_avg_pool3d_backward", "adaptive_max_pool3d",
             "adaptive_max_pool3d_backward", "max_unpool3d", "max_unpool3d_backward"]
