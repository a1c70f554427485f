"""Which implementation of the functional API the layers call.

Every layer reaches the convolution and pooling functions through ``_backend.ops`` (one
module-level indirection), so the same model runs on the C kernels (the default) or on the
NumPy reference, e.g. to time one training step against the readable oracle::

    with fastconv.nn.use_backend("reference"):
        model(x)
"""
import contextlib
import importlib

# Functions a backend must provide: the public functional API of the contract.
REQUIRED = (
    "conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d", "adaptive_max_pool2d_backward",
)

_NAMED = {"kernels": "fastconv.functional", "reference": "fastconv.reference"}

ops = importlib.import_module(_NAMED["kernels"])
_name = "kernels"


def _resolve(backend):
    if isinstance(backend, str):
        if backend not in _NAMED:
            raise ValueError(f"backend must be one of {sorted(_NAMED)} or a module providing "
                             f"the functional API, got {backend!r}")
        return backend, importlib.import_module(_NAMED[backend])
    missing = [f for f in REQUIRED if not callable(getattr(backend, f, None))]
    if missing:
        raise TypeError(f"backend {backend!r} lacks the functions {missing}")
    return getattr(backend, "__name__", repr(backend)), backend


def set_backend(backend):
    """Make every layer call ``backend``: ``"kernels"`` (default), ``"reference"``, or a module
    (any object) providing the contract's functional API.  Returns the previous backend's name."""
    global ops, _name
    name, mod = _resolve(backend)
    previous = _name
    ops, _name = mod, name
    return previous


def get_backend():
    """Name of the backend the layers currently call."""
    return _name


@contextlib.contextmanager
def use_backend(backend):
    """Run the ``with`` block on ``backend``, then restore the previous one."""
    global ops, _name
    saved = (ops, _name)
    set_backend(backend)
    try:
        yield
    finally:
        ops, _name = saved
