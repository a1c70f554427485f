"""unfold (im2col) and fold (col2im), as torch.nn.functional.unfold/fold on NCHW arrays.

unfold gathers every kH x kW block of the zero-padded input into a column:
    out[n, (c*kH + i)*kW + j, bh*W_out + bw] = xp[n, c, bh*sH + i*dH, bw*sW + j*dW]
fold is its adjoint: it adds each column back onto the image, overlapping blocks summing.
Both are one strided copy (or add) per kernel tap over the whole batch."""
import numpy as np

from . import _args


def _tap(xp, a, i, j):
    """The (N, C, H_out, W_out) view of tap (i, j) of every block in the padded image."""
    h0, w0 = i * a.dilation[0], j * a.dilation[1]
    return xp[:, :, h0:h0 + a.stride[0] * (a.H_out - 1) + 1:a.stride[0],
              w0:w0 + a.stride[1] * (a.W_out - 1) + 1:a.stride[1]]


def _unfold(x, a):
    (ph, pw), (kh, kw) = a.padding, a.kernel
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    out = np.empty((a.N, a.C, kh, kw, a.H_out, a.W_out), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i, j] = _tap(xp, a, i, j)
    return out.reshape(a.blocks_shape)


def _fold(b, a):
    (ph, pw), (kh, kw) = a.padding, a.kernel
    cols = b.reshape(a.N, a.C, kh, kw, a.H_out, a.W_out)
    xp = np.zeros((a.N, a.C, a.H + 2 * ph, a.W + 2 * pw), dtype=b.dtype)
    for i in range(kh):
        for j in range(kw):
            _tap(xp, a, i, j)[...] += cols[:, :, i, j]
    return np.ascontiguousarray(xp[:, :, ph:ph + a.H, pw:pw + a.W])


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of an (N, C, H, W) (or (C, H, W)) input as columns:
    (N, C * kH * kW, L), L the number of block positions."""
    a, x = _args.unfold_args(input, kernel_size, dilation, padding, stride)
    return _args.restore_batch(_unfold(x, a), a.unbatched)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Columns (N, C * kH * kW, L) summed back into an (N, C, *output_size) image."""
    a, b = _args.fold_args(input, output_size, kernel_size, dilation, padding, stride)
    return _args.restore_batch(_fold(b, a), a.unbatched)


def unfold_backward(grad_output, input_shape, kernel_size, dilation=1, padding=0, stride=1):
    """Gradient of unfold for its input: fold of grad_output to input_shape."""
    a, gy = _args.unfold_backward_args(grad_output, input_shape, kernel_size, dilation,
                                       padding, stride)
    return _args.restore_batch(_fold(gy, a), a.unbatched)


def fold_backward(grad_output, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Gradient of fold for its input: unfold of grad_output."""
    a, gy = _args.fold_backward_args(grad_output, output_size, kernel_size, dilation,
                                     padding, stride)
    return _args.restore_batch(_unfold(gy, a), a.unbatched)
