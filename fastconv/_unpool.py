"""max_unpool2d, as torch.nn.functional.max_unpool2d: the partial inverse of max_pool2d.

    y = zeros(N, C, H_out * W_out);  y[n, c, indices[n, c, i]] = x[n, c, i]

(a later element with the same index overwrites an earlier one, as PyTorch's loop does);
its gradient gathers: grad_input[n, c, i] = grad_output[n, c, indices[n, c, i]]."""
import numpy as np

from . import _args


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Scatter input into a zero (N, C, H_out, W_out) array at indices (flat h*W_out + w)."""
    a = _args.max_unpool2d_args(input, indices, kernel_size, stride, padding, output_size)
    y = np.zeros((a.N, a.C, a.H_out * a.W_out), dtype=a.x.dtype)
    np.put_along_axis(y, a.indices.reshape(a.N, a.C, -1), a.x.reshape(a.N, a.C, -1), axis=2)
    return _args.restore_batch(y.reshape(a.out_shape), a.unbatched)


def max_unpool2d_backward(grad_output, indices, kernel_size, stride=None, padding=0,
                          output_size=None):
    """Gradient of max_unpool2d for its input: grad_output gathered at indices."""
    a, gy = _args.max_unpool2d_backward_args(grad_output, indices, kernel_size, stride,
                                             padding, output_size)
    g = np.take_along_axis(gy.reshape(a.N, a.C, -1), a.indices.reshape(a.N, a.C, -1), axis=2)
    return _args.restore_batch(np.ascontiguousarray(g.reshape(a.N, a.C, a.H, a.W)),
                               a.unbatched)
