"""fastconv: fast 2-D convolution and pooling on NumPy arrays (C kernels + OpenMP)."""
__version__ = "0.1.0"

from . import _runtime
from ._runtime import set_num_threads, get_num_threads, show_config
from .functional import *  # noqa: F401,F403  (the contract's functions)
from .functional import __all__ as _functional_all
from . import nn, optim  # the layer library: fastconv.nn.Conv2d, fastconv.optim.SGD, ...

__all__ = list(_functional_all) + ["set_num_threads", "get_num_threads", "show_config"]
