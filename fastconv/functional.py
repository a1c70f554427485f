"""The public functions of ../shared/CONTRACT.md, backed by the C kernels."""
import sys as _sys

from . import _lppool, _rank1
from ._api import FUNCTIONS
from ._fold import unfold, unfold_backward, fold, fold_backward
from ._unpool import max_unpool2d, max_unpool2d_backward
from ._dim3 import *  # noqa: F401,F403  (the 3-D family on csrc/conv/conv3d.c, csrc/pool/pool3d.c)
from .conv import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from .pool import (max_pool2d, max_pool2d_backward, avg_pool2d, avg_pool2d_backward,
                   adaptive_avg_pool2d, adaptive_avg_pool2d_backward,
                   adaptive_max_pool2d, adaptive_max_pool2d_backward)

# Power-average pooling on the average-pooling kernels, then the 1-D family: the 2-D
# functions with H = 1.
globals().update(_lppool.make(_sys.modules[__name__]))
globals().update(_rank1.make(_sys.modules[__name__], with_algorithm=True))

__all__ = list(FUNCTIONS)
