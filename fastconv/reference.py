"""fastconv.reference: the plain-NumPy oracle for every function of the contract.

Written to be read, not to be fast: every operation is a short loop over the kernel taps
(or over the output cells for adaptive pooling) with vectorised NumPy over batch, channels and
positions.  The C kernels are tested against these functions, so each one states its formula.

Conventions used in the formulas below (one spatial axis shown; W is the same):

* ``s`` stride, ``p`` padding (``p0`` before, ``p1`` after), ``d`` dilation, ``k`` kernel size,
  ``G`` groups.
* ``xp`` is the input padded by ``p0``/``p1`` according to ``padding_mode``.
* Tap ``t`` of output position ``i`` reads padded position ``i*s + t*d``.

Arithmetic stays in the input's dtype (float32 in float32, float64 in float64).  Results are new
C-contiguous arrays; inputs are never written to.
"""
import sys

import numpy as np

from . import _args, _lppool, _rank1
from ._api import FUNCTIONS

__all__ = list(FUNCTIONS)


# ----------------------------------------------------------------------------------------------
# Padding as a gather, so that its adjoint (needed by the backward passes) is a scatter-add.
# ----------------------------------------------------------------------------------------------

def _pad_source(n, before, after, mode):
    """Source index in ``[0, n)`` of every position of an axis padded to ``before + n + after``,
    or -1 where the padded value is zero.

    zeros: -1 outside; reflect: mirror without repeating the edge (``-1 -> 1``);
    replicate: clamp to the edge; circular: wrap around (``-1 -> n-1``).
    """
    pos = np.arange(-before, n + after)
    if mode == "zeros":
        return np.where((pos >= 0) & (pos < n), pos, -1)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    if mode == "circular":
        return np.mod(pos, n)
    if mode == "reflect":
        if n == 1:
            return np.zeros_like(pos)
        period = 2 * (n - 1)
        q = np.mod(pos, period)
        return np.where(q < n, q, period - q)
    raise ValueError(f"unknown padding_mode {mode!r}")


def _pad(x, pads, mode="zeros"):
    """Pad the last two axes of ``x`` by ``pads = (top, bottom, left, right)``."""
    top, bottom, left, right = pads
    H, W = x.shape[-2:]
    if mode == "zeros":
        out = np.zeros(x.shape[:-2] + (top + H + bottom, left + W + right), dtype=x.dtype)
        out[..., top:top + H, left:left + W] = x
        return out
    src_h = _pad_source(H, top, bottom, mode)
    src_w = _pad_source(W, left, right, mode)
    return x[..., src_h[:, None], src_w[None, :]]


def _pad_adjoint(g, pads, mode, H, W):
    """Adjoint of ``_pad``: every padded position gives its value back to its source (summing
    where several padded positions share one source, as replicate/reflect/circular do)."""
    top, bottom, left, right = pads
    if mode == "zeros":
        return g[..., top:top + H, left:left + W]
    src_h = _pad_source(H, top, bottom, mode)
    src_w = _pad_source(W, left, right, mode)
    rows = np.zeros(g.shape[:-2] + (H, g.shape[-1]), dtype=g.dtype)
    np.add.at(rows, (Ellipsis, src_h, slice(None)), g)
    out = np.zeros(g.shape[:-2] + (H, W), dtype=g.dtype)
    np.add.at(out, (Ellipsis, slice(None), src_w), rows)
    return out


def _tap(a, t_h, t_w, out_hw, stride, dilation):
    """The strided view ``a[..., i*s + t*d, j*s + t*d]`` over all output positions ``(i, j)``
    for tap ``(t_h, t_w)``."""
    (Ho, Wo), (sh, sw), (dh, dw) = out_hw, stride, dilation
    h0, w0 = t_h * dh, t_w * dw
    return a[..., h0:h0 + sh * (Ho - 1) + 1:sh, w0:w0 + sw * (Wo - 1) + 1:sw]


# ----------------------------------------------------------------------------------------------
# The three correlation cores.  conv2d and conv_transpose2d (forward and backward) are all one
# of these with the roles of the arrays exchanged.  Weights use conv2d's layout
# ``(G*A, B, kH, kW)``: group g maps its B "source" channels to its A "result" channels.
# ----------------------------------------------------------------------------------------------

def _gather(xp, weight, groups, stride, dilation, out_hw):
    """conv2d forward on an already padded input:
    ``y[n, g*A+a, i, j] = sum_{b, th, tw} w[g*A+a, b, th, tw] * xp[n, g*B+b, i*s+th*d, j*s+tw*d]``
    """
    N = xp.shape[0]
    A_total, B, kH, kW = weight.shape
    G, A = groups, A_total // groups
    Ho, Wo = out_hw
    w = weight.reshape(G, A, B, kH, kW)
    y = np.zeros((N, G, A, Ho * Wo), dtype=xp.dtype)
    for th in range(kH):
        for tw in range(kW):
            cols = _tap(xp, th, tw, out_hw, stride, dilation).reshape(N, G, B, Ho * Wo)
            y += w[:, :, :, th, tw] @ cols             # (G, A, B) @ (N, G, B, P)
    return y.reshape(N, G * A, Ho, Wo)


def _scatter(y, weight, groups, stride, dilation, full_hw):
    """Adjoint of ``_gather`` with respect to ``xp``:
    ``xp[n, g*B+b, i*s+th*d, j*s+tw*d] += w[g*A+a, b, th, tw] * y[n, g*A+a, i, j]``

    into a zero buffer of spatial size ``full_hw`` (conv2d grad_input before un-padding;
    conv_transpose2d forward before cropping)."""
    N, _, Ho, Wo = y.shape
    A_total, B, kH, kW = weight.shape
    G, A = groups, A_total // groups
    w_t = weight.reshape(G, A, B, kH, kW).swapaxes(1, 2)   # (G, B, A, kH, kW)
    yg = y.reshape(N, G, A, Ho * Wo)
    xp = np.zeros((N, G * B) + tuple(full_hw), dtype=y.dtype)
    for th in range(kH):
        for tw in range(kW):
            contrib = (w_t[:, :, :, th, tw] @ yg).reshape(N, G * B, Ho, Wo)
            _tap(xp, th, tw, (Ho, Wo), stride, dilation)[...] += contrib
    return xp


def _correlate_weight(y, xp, groups, stride, dilation, kernel_hw):
    """Derivative of ``_gather`` with respect to the weight:
    ``gw[g*A+a, b, th, tw] = sum_{n, i, j} y[n, g*A+a, i, j] * xp[n, g*B+b, i*s+th*d, j*s+tw*d]``
    """
    N, A_total, Ho, Wo = y.shape
    G = groups
    A, B = A_total // G, xp.shape[1] // G
    kH, kW = kernel_hw
    yg = y.reshape(N, G, A, Ho * Wo)
    gw = np.zeros((G, A, B, kH, kW), dtype=y.dtype)
    for th in range(kH):
        for tw in range(kW):
            cols = _tap(xp, th, tw, (Ho, Wo), stride, dilation).reshape(N, G, B, Ho * Wo)
            gw[..., th, tw] = (yg @ cols.swapaxes(-1, -2)).sum(axis=0)   # (N,G,A,P)@(N,G,P,B)
    return gw.reshape(G * A, B, kH, kW)


# ----------------------------------------------------------------------------------------------
# Convolution cores on normalised arguments: 4-D arrays, ``stride``/``dilation`` pairs,
# ``pads = (top, bottom, left, right)``.
# ----------------------------------------------------------------------------------------------

def _conv2d_forward(x, weight, bias, stride, pads, dilation, groups, padding_mode):
    kH, kW = weight.shape[2:]
    xp = _pad(x, pads, padding_mode)
    out_hw = tuple((xp.shape[2 + a] - dilation[a] * (k - 1) - 1) // stride[a] + 1
                   for a, k in enumerate((kH, kW)))
    y = _gather(xp, weight, groups, stride, dilation, out_hw)
    if bias is not None:
        y += bias[None, :, None, None]
    return y


def _conv2d_backward(gy, x, weight, stride, pads, dilation, groups, padding_mode, output_mask):
    H, W = x.shape[2:]
    padded_hw = (pads[0] + H + pads[1], pads[2] + W + pads[3])
    grad_input = grad_weight = grad_bias = None
    if output_mask[0]:
        gxp = _scatter(gy, weight, groups, stride, dilation, padded_hw)
        grad_input = _pad_adjoint(gxp, pads, padding_mode, H, W)
    if output_mask[1]:
        xp = _pad(x, pads, padding_mode)
        grad_weight = _correlate_weight(gy, xp, groups, stride, dilation, weight.shape[2:])
    if output_mask[2]:
        grad_bias = gy.sum(axis=(0, 2, 3))
    return grad_input, grad_weight, grad_bias


def _transpose_full_hw(in_hw, kernel_hw, stride, dilation, output_padding):
    """Size of the un-cropped scatter buffer of conv_transpose2d:
    ``(H-1)*s + d*(k-1) + 1 + output_padding`` (the output is this minus ``2*padding``)."""
    return tuple((in_hw[a] - 1) * stride[a] + dilation[a] * (kernel_hw[a] - 1) + 1
                 + output_padding[a] for a in range(2))


def _conv_transpose2d_forward(x, weight, bias, stride, padding, output_padding, groups,
                              dilation):
    full = _transpose_full_hw(x.shape[2:], weight.shape[2:], stride, dilation, output_padding)
    buf = _scatter(x, weight, groups, stride, dilation, full)
    t, b, l, r = padding
    y = buf[:, :, t:full[0] - b, l:full[1] - r]
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y


def _conv_transpose2d_backward(gy, x, weight, stride, padding, output_padding, groups,
                               dilation, output_mask):
    # The forward cropped `padding` (top, bottom, left, right) from the scatter buffer;
    # putting the zeros back makes the backward a plain gather over the buffer.
    gyp = _pad(gy, padding)
    grad_input = grad_weight = grad_bias = None
    if output_mask[0]:
        grad_input = _gather(gyp, weight, groups, stride, dilation, x.shape[2:])
    if output_mask[1]:
        grad_weight = _correlate_weight(x, gyp, groups, stride, dilation, weight.shape[2:])
    if output_mask[2]:
        grad_bias = gy.sum(axis=(0, 2, 3))
    return grad_input, grad_weight, grad_bias


# ----------------------------------------------------------------------------------------------
# Pooling cores on normalised arguments: 4-D arrays, pairs, output size already decided.
# ----------------------------------------------------------------------------------------------

def _pad_for_windows(x, padding, kernel, stride, dilation, out_hw, value):
    """Pad by ``padding`` before and by at least ``padding`` after, enough for the last
    window (ceil_mode windows may reach past the right/bottom padding)."""
    H, W = x.shape[2:]
    after = [max(padding[a], (out_hw[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1
                 - padding[a] - (H, W)[a]) for a in range(2)]
    out = np.full(x.shape[:2] + (padding[0] + H + after[0], padding[1] + W + after[1]),
                  value, dtype=x.dtype)
    out[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W] = x
    return out


def _window_argmax(values, positions):
    """Max and flat position over candidate taps, in scan order, with PyTorch's rule:
    a tap wins when ``v > best`` or ``v`` is NaN (so NaN propagates and the *last* NaN's
    position is reported), ties keep the first; the first real tap initialises the window.
    Positions < 0 mark taps in the padding, which never win.
    ``values``/``positions``: iterables of equally shaped arrays."""
    best = best_pos = None
    for v, pos in zip(values, positions):
        if best is None:
            best = np.full(v.shape, -np.inf, dtype=v.dtype)
            best_pos = np.full(v.shape, -1, dtype=np.int64)
        real = pos >= 0
        win = real & ((v > best) | np.isnan(v) | (best_pos < 0))
        best = np.where(win, v, best)
        best_pos = np.where(win, pos, best_pos)
    return best, best_pos


def _reach(in_hw, kernel, padding, dilation):
    """The taps per axis that can land on input data: tap t of any window sits at padded
    position >= t*d, and the data ends at p + n, so later taps only ever see padding.
    Looping over these keeps a kernel larger than the input (legal with ceil_mode, up to
    2^63) from sizing the padded buffer."""
    return tuple(min(kernel[a], -(-(in_hw[a] + padding[a]) // dilation[a])) for a in range(2))


def _max_pool2d_forward(x, kernel, stride, padding, dilation, out_hw):
    """Returns (output, indices).  Every window holds at least one input element (_args
    rejects geometries where dilation steps a window over the whole input)."""
    N, C, H, W = x.shape
    kernel = _reach((H, W), kernel, padding, dilation)
    xp = _pad_for_windows(x, padding, kernel, stride, dilation, out_hw, -np.inf)
    plane = np.arange(H * W, dtype=np.int64).reshape(1, 1, H, W)
    posp = _pad_for_windows(plane, padding, kernel, stride, dilation, out_hw, -1)
    taps = [(th, tw) for th in range(kernel[0]) for tw in range(kernel[1])]
    values = (_tap(xp, th, tw, out_hw, stride, dilation) for th, tw in taps)
    positions = (_tap(posp, th, tw, out_hw, stride, dilation) for th, tw in taps)
    out, idx = _window_argmax(values, positions)
    return out, np.broadcast_to(idx, out.shape)


def _scatter_by_indices(gy, indices, in_hw):
    """``gx[n, c, idx // W, idx % W] += gy[n, c, i, j]`` for every output position."""
    N, C, Ho, Wo = gy.shape
    H, W = in_hw
    gx = np.zeros((N * C, H * W), dtype=gy.dtype)
    rows = np.arange(N * C)[:, None]
    np.add.at(gx, (rows, indices.reshape(N * C, Ho * Wo)), gy.reshape(N * C, Ho * Wo))
    return gx.reshape(N, C, H, W)


def _avg_divisor(n, kernel, stride, padding, pad_end, out_len, count_include_pad):
    """Per-output-position divisor along one axis: the window clipped to the padded input
    ``[-padding, n + pad_end)`` (``count_include_pad``) or to the real input."""
    start = np.arange(out_len) * stride - padding
    end = np.minimum(start + kernel, n + pad_end)
    if count_include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _avg_pool_divisor(in_hw, kernel, stride, padding, pad_end, out_hw, count_include_pad,
                      divisor_override, dtype):
    if divisor_override is not None:
        return np.asarray(divisor_override, dtype=dtype)
    dh = _avg_divisor(in_hw[0], kernel[0], stride[0], padding[0], pad_end[0], out_hw[0],
                      count_include_pad)
    dw = _avg_divisor(in_hw[1], kernel[1], stride[1], padding[1], pad_end[1], out_hw[1],
                      count_include_pad)
    return (dh[:, None] * dw[None, :]).astype(dtype)


def _avg_pool2d_forward(x, kernel, stride, padding, pad_end, out_hw, count_include_pad,
                        divisor_override):
    one = (1, 1)
    reach = _reach(x.shape[2:], kernel, padding, one)   # the divisor keeps the full kernel
    xp = _pad_for_windows(x, padding, reach, stride, one, out_hw, 0)
    total = np.zeros(x.shape[:2] + tuple(out_hw), dtype=x.dtype)
    for th in range(reach[0]):
        for tw in range(reach[1]):
            total += _tap(xp, th, tw, out_hw, stride, one)
    return total / _avg_pool_divisor(x.shape[2:], kernel, stride, padding, pad_end, out_hw,
                                     count_include_pad, divisor_override, x.dtype)


def _avg_pool2d_backward(gy, in_shape, kernel, stride, padding, pad_end, count_include_pad,
                         divisor_override):
    out_hw = gy.shape[2:]
    one = (1, 1)
    share = gy / _avg_pool_divisor(in_shape[2:], kernel, stride, padding, pad_end, out_hw,
                                   count_include_pad, divisor_override, gy.dtype)
    H, W = in_shape[2:]
    reach = _reach((H, W), kernel, padding, one)
    gxp = _pad_for_windows(np.zeros(in_shape, dtype=gy.dtype), padding, reach, stride, one,
                           out_hw, 0)
    for th in range(reach[0]):
        for tw in range(reach[1]):
            _tap(gxp, th, tw, out_hw, stride, one)[...] += share
    return gxp[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W]


def _adaptive_windows(n_in, n_out):
    return [_args.adaptive_window(i, n_in, n_out) for i in range(n_out)]


def _adaptive_avg_pool2d_forward(x, out_hw):
    out = np.empty(x.shape[:2] + tuple(out_hw), dtype=x.dtype)
    for i, (h0, h1) in enumerate(_adaptive_windows(x.shape[2], out_hw[0])):
        for j, (w0, w1) in enumerate(_adaptive_windows(x.shape[3], out_hw[1])):
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / x.dtype.type(
                (h1 - h0) * (w1 - w0))
    return out


def _adaptive_avg_pool2d_backward(gy, in_shape):
    gx = np.zeros(in_shape, dtype=gy.dtype)
    for i, (h0, h1) in enumerate(_adaptive_windows(in_shape[2], gy.shape[2])):
        for j, (w0, w1) in enumerate(_adaptive_windows(in_shape[3], gy.shape[3])):
            share = gy[:, :, i, j] / gy.dtype.type((h1 - h0) * (w1 - w0))
            gx[:, :, h0:h1, w0:w1] += share[:, :, None, None]
    return gx


def _adaptive_max_pool2d_forward(x, out_hw):
    N, C, H, W = x.shape
    out = np.empty((N, C) + tuple(out_hw), dtype=x.dtype)
    idx = np.empty((N, C) + tuple(out_hw), dtype=np.int64)
    for i, (h0, h1) in enumerate(_adaptive_windows(H, out_hw[0])):
        for j, (w0, w1) in enumerate(_adaptive_windows(W, out_hw[1])):
            taps = [(h, w) for h in range(h0, h1) for w in range(w0, w1)]
            out[:, :, i, j], idx[:, :, i, j] = _window_argmax(
                (x[:, :, h, w] for h, w in taps),
                (np.full((N, C), h * W + w, dtype=np.int64) for h, w in taps))
    return out, idx


# ----------------------------------------------------------------------------------------------
# The public functions: validate and normalise with fastconv._args (shared with the kernels,
# so both accept and reject the same calls), run the core, restore an unbatched shape.
# ----------------------------------------------------------------------------------------------

def _c(a):
    """C-contiguous copy when needed, so that NumPy's summation order (and hence rounding)
    does not depend on how the caller laid out an argument."""
    return np.ascontiguousarray(a)


def _result(y, unbatched):
    """A new C-contiguous array (never a view of an argument), 3-D for an unbatched call."""
    return np.array(_args.restore_batch(y, unbatched), order="C", copy=True)


def _maybe(y, unbatched):
    return None if y is None else _result(y, unbatched)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros"):
    """2-D cross-correlation.

    ``y[n, o, i, j] = bias[o] + sum_{c, th, tw} weight[o, c, th, tw]
    * xp[n, g*Cg + c, i*sH + th*dH, j*sW + tw*dW]``, with ``g = o // (C_out/groups)``,
    ``Cg = C_in/groups`` and ``xp`` the input padded according to ``padding_mode``
    ("zeros", "reflect", "replicate", "circular").

    Output size: ``H_out = floor((H + pad_top + pad_bottom - dH*(kH-1) - 1) / sH) + 1``
    (likewise W).  ``padding="same"`` gives ``H_out = ceil(H / sH)``: it pads
    ``max((H_out - 1)*sH + dH*(kH-1) + 1 - H, 0)`` in total, the odd unit at the bottom/right
    (at stride 1 PyTorch's rule, at any stride TensorFlow's and ONNX SAME_UPPER);
    ``"valid"`` pads nothing; ``((top, bottom), (left, right))`` pads each side as given.
    """
    a = _args.conv2d_args(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    y = _conv2d_forward(_c(a.x), _c(a.weight), a.bias, a.stride, a.pad, a.dilation, a.groups,
                        a.padding_mode)
    return _result(y, a.unbatched)


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    padding_mode="zeros", output_mask=(True, True, True)):
    """Gradients of ``conv2d`` given ``grad_output`` (``gy``, the output's shape):

    * ``grad_input``: scatter ``weight[o, c, th, tw] * gy[n, o, i, j]`` onto padded position
      ``(i*sH + th*dH, j*sW + tw*dW)`` of channel ``g*Cg + c``, then fold the padding back
      onto the input (zeros: drop it; reflect/replicate/circular: add each padded
      position's gradient to the element it copied).
    * ``grad_weight[o, c, th, tw] = sum_{n, i, j} gy[n, o, i, j] * xp[n, g*Cg + c,
      i*sH + th*dH, j*sW + tw*dW]``.
    * ``grad_bias[o] = sum_{n, i, j} gy[n, o, i, j]``.

    Entries of ``output_mask`` that are False come back as None and are not computed.
    """
    a, gy, mask = _args.conv2d_backward_args(grad_output, input, weight, stride, padding,
                                             dilation, groups, padding_mode, output_mask)
    gx, gw, gb = _conv2d_backward(_c(gy), _c(a.x), _c(a.weight), a.stride, a.pad,
                                  a.dilation, a.groups, a.padding_mode, mask)
    return _maybe(gx, a.unbatched), _maybe(gw, False), _maybe(gb, False)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, *, output_size=None):
    """Transposed convolution (the gradient of conv2d with respect to its input).

    Weight ``(C_in, C_out/groups, kH, kW)``.  Every input element scatters:
    ``full[n, g*Og + o, i*sH + th*dH, j*sW + tw*dW] += x[n, c, i, j] * weight[c, o, th, tw]``
    into a buffer of height ``(H-1)*sH + dH*(kH-1) + 1 + output_padding_h``; the output is
    that buffer with ``padding`` rows/columns cropped from each side (per side: ``((top,
    bottom), (left, right))`` as ONNX ConvTranspose ``pads``), plus ``bias``.

    Output size: ``H_out = (H-1)*sH - 2*pH + dH*(kH-1) + output_padding_h + 1``; an exact
    ``output_size`` instead picks ``output_padding = output_size - H_out(output_padding=0)``.
    """
    a = _args.conv_transpose2d_args(input, weight, bias, stride, padding, output_padding,
                                     groups, dilation, output_size)
    y = _conv_transpose2d_forward(_c(a.x), _c(a.weight), a.bias, a.stride, a.pad4,
                                  a.output_padding, a.groups, a.dilation)
    return _result(y, a.unbatched)


def conv_transpose2d_backward(grad_output, input, weight, stride=1, padding=0,
                              output_padding=0, groups=1, dilation=1, *,
                              output_mask=(True, True, True), output_size=None):
    """Gradients of ``conv_transpose2d``.  With ``gyp`` = ``grad_output`` zero-padded back by
    ``padding`` on each side (the buffer the forward cropped):

    * ``grad_input[n, c, i, j] = sum_{o, th, tw} weight[c, o, th, tw]
      * gyp[n, g*Og + o, i*sH + th*dH, j*sW + tw*dW]`` (a conv2d of ``gyp``),
    * ``grad_weight[c, o, th, tw] = sum_{n, i, j} x[n, c, i, j]
      * gyp[n, g*Og + o, i*sH + th*dH, j*sW + tw*dW]``,
    * ``grad_bias[o] = sum_{n, i, j} grad_output[n, o, i, j]``.
    """
    a, gy, mask = _args.conv_transpose2d_backward_args(grad_output, input, weight, stride,
                                                       padding, output_padding, groups,
                                                       dilation, output_mask, output_size)
    gx, gw, gb = _conv_transpose2d_backward(_c(gy), _c(a.x), _c(a.weight), a.stride,
                                            a.pad4, a.output_padding, a.groups,
                                            a.dilation, mask)
    return _maybe(gx, a.unbatched), _maybe(gw, False), _maybe(gb, False)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``y[n, c, i, j] = max_{th, tw} x[n, c, i*sH - pH + th*dH, j*sW - pW + tw*dW]`` over the
    taps inside the input (the padding is -inf).

    Output size: ``H_out = floor_or_ceil((H + 2*pH - dH*(kH-1) - 1) / sH) + 1``; with
    ``ceil_mode`` a last window starting at or past ``H + pH`` (in the bottom padding) is
    dropped.  ``indices`` (int64) hold the flat position ``h*W + w`` of the maximum in the
    unpadded plane; scan order is row-major over the taps, ties keep the first, and a NaN
    always wins (so NaN propagates; with several NaNs the last one's position is kept, as
    PyTorch does).  Padding never wins, even over -inf.
    """
    a = _args.max_pool2d_args(input, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = _args.to_bool(return_indices, "return_indices")
    y, idx = _max_pool2d_forward(_c(a.x), a.kernel, a.stride, a.padding, a.dilation,
                                 (a.H_out, a.W_out))
    if return_indices:
        return _result(y, a.unbatched), _result(idx, a.unbatched)
    return _result(y, a.unbatched)


def max_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, indices=None):
    """``grad_input[n, c, idx // W, idx % W] += grad_output[n, c, i, j]`` with
    ``idx = indices[n, c, i, j]``: given, or recomputed from ``input`` exactly as
    ``max_pool2d`` does.  Overlapping windows accumulate."""
    a, gy, idx = _args.max_pool2d_backward_args(grad_output, input, kernel_size, stride,
                                                padding, dilation, ceil_mode, indices)
    if idx is None:
        _, idx = _max_pool2d_forward(_c(a.x), a.kernel, a.stride, a.padding, a.dilation,
                                     (a.H_out, a.W_out))
    return _result(_scatter_by_indices(_c(gy), idx, (a.H, a.W)), a.unbatched)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """``y[n, c, i, j] = sum_{th, tw} xp[n, c, i*sH + th, j*sW + tw] / divisor[i, j]`` with
    ``xp`` zero-padded.

    ``divisor`` is ``divisor_override`` if given; else, with ``count_include_pad``, the window
    clipped to the padded input ``[-pH, H + pH)`` (a ceil-mode overhang past the padding
    does not count); else the number of input elements in the window.  Output size as
    ``max_pool2d`` with dilation 1.
    """
    a = _args.avg_pool2d_args(input, kernel_size, stride, padding, ceil_mode,
                              count_include_pad, divisor_override)
    y = _avg_pool2d_forward(_c(a.x), a.kernel, a.stride, a.padding, a.pad_end,
                            (a.H_out, a.W_out), a.count_include_pad, a.divisor_override)
    return _result(y, a.unbatched)


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """``grad_input[n, c, h, w] = sum over the windows (i, j) containing (h, w) of
    grad_output[n, c, i, j] / divisor[i, j]`` (divisor as in ``avg_pool2d``)."""
    a, gy = _args.avg_pool2d_backward_args(grad_output, input_shape, kernel_size, stride,
                                           padding, ceil_mode, count_include_pad,
                                           divisor_override)
    gx = _avg_pool2d_backward(_c(gy), a.in_shape, a.kernel, a.stride, a.padding, a.pad_end,
                              a.count_include_pad, a.divisor_override)
    return _result(gx, a.unbatched)


def adaptive_avg_pool2d(input, output_size):
    """``y[n, c, i, j]`` = mean of ``x[n, c, h0:h1, w0:w1]`` where window ``i`` covers
    ``[floor(i*H/H_out), ceil((i+1)*H/H_out))`` (likewise ``j``).  ``output_size`` is an int,
    a pair, and a None entry keeps that input size."""
    a = _args.adaptive_avg_pool2d_args(input, output_size)
    return _result(_adaptive_avg_pool2d_forward(_c(a.x), (a.H_out, a.W_out)), a.unbatched)


def adaptive_avg_pool2d_backward(grad_output, input_shape):
    """``grad_input[n, c, h, w] = sum over the windows (i, j) containing (h, w) of
    grad_output[n, c, i, j] / (window area)``; the output size is grad_output's."""
    a, gy = _args.adaptive_avg_pool2d_backward_args(grad_output, input_shape)
    return _result(_adaptive_avg_pool2d_backward(_c(gy), a.in_shape), a.unbatched)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over the adaptive windows of ``adaptive_avg_pool2d``, with ``max_pool2d``'s
    index, tie and NaN rules."""
    a = _args.adaptive_max_pool2d_args(input, output_size)
    return_indices = _args.to_bool(return_indices, "return_indices")
    y, idx = _adaptive_max_pool2d_forward(_c(a.x), (a.H_out, a.W_out))
    if return_indices:
        return _result(y, a.unbatched), _result(idx, a.unbatched)
    return _result(y, a.unbatched)


def adaptive_max_pool2d_backward(grad_output, input, output_size, *, indices=None):
    """Scatter ``grad_output`` to the argmax positions (``indices`` if given, else recomputed
    from ``input``); windows that overlap accumulate."""
    a, gy, idx = _args.adaptive_max_pool2d_backward_args(grad_output, input, output_size,
                                                         indices)
    if idx is None:
        _, idx = _adaptive_max_pool2d_forward(_c(a.x), (a.H_out, a.W_out))
    return _result(_scatter_by_indices(_c(gy), idx, (a.H, a.W)), a.unbatched)


# ----------------------------------------------------------------------------------------------
# The 1-D family: each 1-D function is its 2-D one above on (N, C, 1, L), which is exactly the
# 1-D definition (an H axis of one row with kernel 1, stride 1, no padding sums one term).
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# unfold / fold: one block position at a time.
# ----------------------------------------------------------------------------------------------

def _block(xp, a, bh, bw):
    """The (N, C, kH, kW) block at position (bh, bw) of the zero-padded image."""
    h, w = bh * a.stride[0], bw * a.stride[1]
    return xp[:, :, h:h + a.dilation[0] * (a.kernel[0] - 1) + 1:a.dilation[0],
              w:w + a.dilation[1] * (a.kernel[1] - 1) + 1:a.dilation[1]]


def _unfold_blocks(x, a):
    (ph, pw) = a.padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros(a.blocks_shape, dtype=x.dtype)
    for bh in range(a.H_out):
        for bw in range(a.W_out):
            out[:, :, bh * a.W_out + bw] = _block(xp, a, bh, bw).reshape(a.N, -1)
    return out


def _fold_blocks(b, a):
    (ph, pw), (kh, kw) = a.padding, a.kernel
    xp = np.zeros((a.N, a.C, a.H + 2 * ph, a.W + 2 * pw), dtype=b.dtype)
    for bh in range(a.H_out):
        for bw in range(a.W_out):
            _block(xp, a, bh, bw)[...] += b[:, :, bh * a.W_out + bw].reshape(a.N, a.C, kh, kw)
    return xp[:, :, ph:ph + a.H, pw:pw + a.W].copy()


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """``out[n, (c*kH + i)*kW + j, bh*W_out + bw] = xp[n, c, bh*sH + i*dH, bw*sW + j*dW]``:
    each kH x kW block of the zero-padded input as a column, blocks in row-major order;
    ``H_out = floor((H + 2*pH - dH*(kH-1) - 1) / sH) + 1`` (likewise W)."""
    a, x = _args.unfold_args(input, kernel_size, dilation, padding, stride)
    return _result(_unfold_blocks(_c(x), a), a.unbatched)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold: every column added back at its block's place in an
    ``(N, C, *output_size)`` image (overlapping blocks sum; the padding is cut off)."""
    a, b = _args.fold_args(input, output_size, kernel_size, dilation, padding, stride)
    return _result(_fold_blocks(_c(b), a), a.unbatched)


def unfold_backward(grad_output, input_shape, kernel_size, dilation=1, padding=0, stride=1):
    """unfold is linear: its gradient for the input is fold of grad_output."""
    a, gy = _args.unfold_backward_args(grad_output, input_shape, kernel_size, dilation,
                                       padding, stride)
    return _result(_fold_blocks(_c(gy), a), a.unbatched)


def fold_backward(grad_output, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """fold is linear: its gradient for the input is unfold of grad_output."""
    a, gy = _args.fold_backward_args(grad_output, output_size, kernel_size, dilation,
                                     padding, stride)
    return _result(_unfold_blocks(_c(gy), a), a.unbatched)


# ----------------------------------------------------------------------------------------------
# max_unpool2d: element by element.
# ----------------------------------------------------------------------------------------------

def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j]`` in scan order over a zero
    ``(N, C, H_out, W_out)``, ``H_out = (H - 1)*sH - 2*pH + kH`` unless ``output_size`` says
    otherwise (strictly within ``sH`` of that)."""
    a = _args.max_unpool2d_args(input, indices, kernel_size, stride, padding, output_size)
    y = np.zeros(a.out_shape, dtype=a.x.dtype)
    for n in range(a.N):
        for c in range(a.C):
            plane = y[n, c].reshape(-1)
            for i, v in zip(a.indices[n, c].reshape(-1), a.x[n, c].reshape(-1)):
                plane[i] = v
    return _result(y, a.unbatched)


def max_unpool2d_backward(grad_output, indices, kernel_size, stride=None, padding=0,
                          output_size=None):
    """``grad_input[n, c, i, j] = grad_output[n, c].flat[indices[n, c, i, j]]``."""
    a, gy = _args.max_unpool2d_backward_args(grad_output, indices, kernel_size, stride,
                                             padding, output_size)
    g = np.zeros((a.N, a.C, a.H, a.W), dtype=gy.dtype)
    for n in range(a.N):
        for c in range(a.C):
            src = gy[n, c].reshape(-1)
            g[n, c] = src[a.indices[n, c].reshape(-1)].reshape(a.H, a.W)
    return _result(g, a.unbatched)


# Power-average pooling, as PyTorch defines it: the p-th root of k times the average of x**p.
globals().update(_lppool.make(sys.modules[__name__]))
globals().update(_rank1.make(sys.modules[__name__], with_algorithm=False))

# The 3-D family: the same formulas over three spatial axes.
from ._reference3 import *  # noqa: E402,F401,F403
