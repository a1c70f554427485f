"""unfold (im2col) and fold (col2im), as torch.nn.functional.unfold/fold on NCHW arrays.

unfold gathers every kH x kW block of the zero-padded input into a column:
    out[n, (c*kH + i)*kW + j, bh*W_out + bw] = xp[n, c, bh*sH + i*dH, bw*sW + j*dW]
fold is its adjoint: it adds each column back onto the image, overlapping blocks summing.
Both run on the im2col/col2im kernels of the im2col convolution (csrc/gemm/im2col_impl.h):
unfold's rows in parallel, fold's planes in parallel, each adding its own taps in row order."""
from . import _args
from . import _kernels
from .conv import _c


def _geom(a):
    """The conv2d geometry whose im2col matrix is this call's blocks (one output channel)."""
    (ph, pw), (kh, kw) = a.padding, a.kernel
    return (a.N, a.C, a.H, a.W, 1, kh, kw, a.H_out, a.W_out, a.stride[0], a.stride[1], ph, pw,
            a.dilation[0], a.dilation[1], 1)


def _unfold(x, a):
    return _kernels.unfold(_c(x), _geom(a))


def _fold(b, a):
    return _kernels.fold(_c(b).reshape(a.blocks_shape), _geom(a))


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
