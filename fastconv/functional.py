"""The public functions of ../shared/CONTRACT.md, backed by the C kernels."""
from .conv import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from .pool import (max_pool2d, max_pool2d_backward, avg_pool2d, avg_pool2d_backward,
                   adaptive_avg_pool2d, adaptive_avg_pool2d_backward,
                   adaptive_max_pool2d, adaptive_max_pool2d_backward)

__all__ = [
    "conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d", "adaptive_max_pool2d_backward",
]
