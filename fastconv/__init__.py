"""fastconv: fast 2-D convolution and pooling on NumPy arrays (C kernels + OpenMP)."""


def _built_copy():
    """Directory of the fastconv to run when this one has no compiled extension beside it.

    From a checkout's root, `python -m fastconv` puts the source tree first on sys.path, and
    its fastconv/ has no _kernels extension (pip builds and installs that into site-packages).
    This package then runs the installed copy: its __init__ is executed in this module and its
    directory becomes the package path, so every submodule (_kernels, __main__, nn, ...) and
    the code itself come from the installed package.  None when the extension is here (an
    installed package or an in-place build) or no other copy has one.
    """
    import importlib.machinery
    import os
    import sys

    def has_ext(d):
        try:
            names = os.listdir(d)
        except OSError:
            return False
        return any(n.startswith("_kernels.") and n.endswith(tuple(
            importlib.machinery.EXTENSION_SUFFIXES)) for n in names)

    here = os.path.dirname(os.path.abspath(__file__))
    if has_ext(here):
        return None
    for entry in sys.path:
        d = os.path.join(os.path.abspath(entry or os.curdir), "fastconv")
        if d != here and os.path.isfile(os.path.join(d, "__init__.py")) and has_ext(d):
            return d
    return None


_elsewhere = _built_copy()
if _elsewhere is not None:
    import os as _os

    __path__[:] = [_elsewhere]  # noqa: F821 (the package's search path; same list as __spec__'s)
    __file__ = _os.path.join(_elsewhere, "__init__.py")
    with open(__file__) as _f:
        _code = compile(_f.read(), __file__, "exec")
    del _os, _f, _elsewhere, _built_copy
    exec(_code)
else:
    del _elsewhere
    __version__ = "0.1.0"

    try:
        from . import _kernels
    except ImportError:
        raise ImportError(
            f"fastconv's compiled extension (fastconv._kernels) is neither in {__path__[0]} "
            f"nor in any installed fastconv on sys.path: install the package with "
            f"`pip install .` (from the checkout's root), or build it in place with "
            f"`python setup.py build_ext --inplace`") from None
    from . import _runtime
    from ._runtime import set_num_threads, get_num_threads, show_config
    from .functional import *  # noqa: F401,F403  (the contract's functions)
    from .functional import __all__ as _functional_all
    from . import nn, optim  # the layer library: fastconv.nn.Conv2d, fastconv.optim.SGD, ...

    __all__ = list(_functional_all) + ["set_num_threads", "get_num_threads", "show_config"]
