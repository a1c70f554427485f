"""The functional API's names (../shared/CONTRACT.md): what fastconv.functional (the kernels)
and fastconv.reference (the oracle) each provide, so the two lists cannot drift apart."""

FUNCTIONS = [
    "conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d", "adaptive_max_pool2d_backward",
    "conv1d", "conv1d_backward", "conv_transpose1d", "conv_transpose1d_backward",
    "max_pool1d", "max_pool1d_backward", "avg_pool1d", "avg_pool1d_backward",
    "adaptive_avg_pool1d", "adaptive_avg_pool1d_backward",
    "adaptive_max_pool1d", "adaptive_max_pool1d_backward",
    "lp_pool1d", "lp_pool1d_backward", "lp_pool2d", "lp_pool2d_backward",
    "unfold", "unfold_backward", "fold", "fold_backward",
    "max_unpool1d", "max_unpool1d_backward", "max_unpool2d", "max_unpool2d_backward",
    "conv3d", "conv3d_backward", "conv_transpose3d", "conv_transpose3d_backward",
    "max_pool3d", "max_pool3d_backward", "avg_pool3d", "avg_pool3d_backward",
    "adaptive_avg_pool3d", "adaptive_avg_pool3d_backward",
    "adaptive_max_pool3d", "adaptive_max_pool3d_backward",
    "max_unpool3d", "max_unpool3d_backward",
]
