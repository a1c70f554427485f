"""The robustness matrix: bad and unusual arguments for every public function.

Used two ways:
  * imported by tests/test_robustness.py to list the case ids (cheap: no arrays are built);
  * run as a script in a subprocess, ``python tests/robust_cases.py FUNC FIRST``, to run the
    cases of FUNC from index FIRST on.  It prints ``START i`` before case i and one
    ``RESULT {json}`` line after it, so the parent can tell which case killed the process
    (a segfault, an abort, a hang) and restart after it.

A case says which outcomes are acceptable: a result (then it must equal what
``fastconv.reference`` computes in float64 for the same arguments, with an error bound from the
accumulation length, and must be a new C-contiguous array of the input's dtype, leaving every
input unmodified), or one of ValueError/TypeError/MemoryError, whose message must name the
argument at fault when the case says which one it is.

The subprocess runs under an address-space limit (RLIMIT_AS) so "too large to allocate" cases
fail with MemoryError instead of eating the machine.
"""
import json
import os
import sys
import time
import traceback

import numpy as np



def package_root():
    """The directory holding the fastconv that the tests exercise, for subprocesses to
    import: the installed package when pytest runs against an install (CI), the checkout
    when it runs with the checkout on sys.path (python -m pytest after an in-place build)."""
    import importlib.util
    spec = importlib.util.find_spec("fastconv")
    if spec is not None and spec.origin:
        return os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


ROOT = package_root()

OK = "ok"
VE, TE, ME = "ValueError", "TypeError", "MemoryError"
ANY = frozenset({OK, VE, TE, ME})      # anything but a crash, a hang or a wrong result
BIG = frozenset({OK, VE, ME})          # huge sizes: a result, or refused before any work

FUNCS2 = ["conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward",
          "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
          "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
          "adaptive_max_pool2d", "adaptive_max_pool2d_backward",
          "lp_pool2d", "lp_pool2d_backward",
          "unfold", "unfold_backward", "fold", "fold_backward",
          "max_unpool2d", "max_unpool2d_backward"]
# The 1-D family: the same mutations on (N, C, L) arrays and one size per axis.
FUNCS1 = [f.replace("2d", "1d") for f in FUNCS2 if "2d" in f]
# The 3-D family (no lp_pool3d, unfold or fold in it, as in torch.nn.functional).
FUNCS3 = [f.replace("2d", "3d") for f in FUNCS2 if "2d" in f and "lp_pool" not in f]
FUNCS = FUNCS2 + FUNCS1 + FUNCS3 + ["set_num_threads"]


def rank(fname):
    """Spatial dimensions of fname's arrays (2 for set_num_threads, which has none)."""
    return 1 if "1d" in fname else 3 if "3d" in fname else 2


# Functions whose main array is (N, C * kH * kW, L) blocks, not an image: mutated like a
# 1-D function's arrays, while their sizes stay pairs.
BLOCKS = {"fold", "unfold_backward"}


def array_rank(fname):
    return 1 if fname in BLOCKS else rank(fname)


def two_d(fname):
    """The 2-D function a 1-D or 3-D one mirrors (fname itself otherwise)."""
    return fname.replace("1d", "2d").replace("3d", "2d")

# Address-space cap for the case runner: ~3x the largest legitimate case, far below the RAM.
MEM_LIMIT = 3 << 30


class Case:
    __slots__ = ("id", "make", "expect", "names")

    def __init__(self, id, make, expect, names=()):
        self.id = id
        self.make = make            # () -> dict of keyword arguments
        self.expect = frozenset([expect]) if isinstance(expect, str) else frozenset(expect)
        self.names = (names,) if isinstance(names, str) else tuple(names)


# ------------------------------------------------------------------ baseline calls --
# Small, valid calls with every feature switched on (groups, strides, padding, dilation,
# ceil_mode, ...).  float64 by default; the mutations below break one argument at a time.

def _rng():
    return np.random.default_rng(1234)


def _ref():
    from fastconv import reference
    return reference


def base(fname, dtype=np.float64):
    if rank(fname) == 1:
        return _base1(fname, dtype)
    if rank(fname) == 3:
        return _base3(fname, dtype)
    r = _rng()

    def a(*shape):
        return r.standard_normal(shape).astype(dtype)

    if fname in ("conv2d", "conv2d_backward"):
        d = dict(input=a(2, 4, 6, 5), weight=a(6, 2, 3, 3), bias=a(6), stride=(2, 1),
                 padding=1, dilation=(1, 2), groups=2)
        if fname == "conv2d_backward":
            y = _ref().conv2d(**d)
            del d["bias"]
            d = dict(grad_output=a(*y.shape), **d, output_mask=(True, True, True))
        return d
    if fname in ("conv_transpose2d", "conv_transpose2d_backward"):
        d = dict(input=a(2, 4, 4, 5), weight=a(4, 3, 3, 2), bias=a(6), stride=(2, 1),
                 padding=(1, 0), output_padding=(1, 0), groups=2, dilation=1)
        if fname == "conv_transpose2d_backward":
            y = _ref().conv_transpose2d(**d)
            del d["bias"]
            d = dict(grad_output=a(*y.shape), **d, output_mask=(True, True, True))
        return d
    if fname in ("max_pool2d", "max_pool2d_backward"):
        d = dict(input=a(2, 3, 7, 6), kernel_size=3, stride=2, padding=1, dilation=1,
                 ceil_mode=True)
        if fname == "max_pool2d":
            d["return_indices"] = True
            return d
        y, idx = _ref().max_pool2d(**d, return_indices=True)
        return dict(grad_output=a(*y.shape), **d, indices=idx)
    if fname in ("avg_pool2d", "avg_pool2d_backward"):
        d = dict(input=a(2, 3, 7, 6), kernel_size=(3, 2), stride=(2, 1), padding=1,
                 ceil_mode=True, count_include_pad=False, divisor_override=None)
        if fname == "avg_pool2d":
            return d
        y = _ref().avg_pool2d(**d)
        x = d.pop("input")
        return dict(grad_output=a(*y.shape), input_shape=x.shape, **d)
    if fname == "adaptive_avg_pool2d":
        return dict(input=a(2, 3, 7, 6), output_size=(3, 4))
    if fname == "adaptive_avg_pool2d_backward":
        return dict(grad_output=a(2, 3, 3, 4), input_shape=(2, 3, 7, 6))
    if fname == "adaptive_max_pool2d":
        return dict(input=a(2, 3, 7, 6), output_size=(3, 4), return_indices=True)
    if fname == "adaptive_max_pool2d_backward":
        x = a(2, 3, 7, 6)
        _, idx = _ref().adaptive_max_pool2d(x, (3, 4), return_indices=True)
        return dict(grad_output=a(2, 3, 3, 4), input=x, output_size=(3, 4), indices=idx)
    if fname in ("unfold", "unfold_backward", "fold", "fold_backward"):
        g = dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))
        x = a(2, 3, 7, 6)
        cols = _ref().unfold(x, **g)
        if fname == "unfold":
            return dict(input=x, **g)
        if fname == "unfold_backward":
            return dict(grad_output=a(*cols.shape), input_shape=x.shape, **g)
        if fname == "fold":
            return dict(input=a(*cols.shape), output_size=(7, 6), **g)
        return dict(grad_output=x, output_size=(7, 6), **g)
    if fname in ("max_unpool2d", "max_unpool2d_backward"):
        y, idx = _ref().max_pool2d(a(2, 3, 7, 6), 2, 2, return_indices=True)
        d = dict(indices=idx, kernel_size=2, stride=2, padding=0, output_size=(7, 6))
        if fname == "max_unpool2d":
            return dict(input=y.astype(dtype), **d)
        return dict(grad_output=a(2, 3, 7, 6), **d)
    if fname in ("lp_pool2d", "lp_pool2d_backward"):
        d = dict(input=a(2, 3, 7, 6), norm_type=2, kernel_size=3, stride=2, ceil_mode=True)
        if fname == "lp_pool2d":
            return d
        y = _ref().lp_pool2d(**d)
        return dict(grad_output=a(*y.shape), **d)
    if fname == "set_num_threads":
        return dict(n=1)
    raise KeyError(fname)


def _base1(fname, dtype):
    """The 1-D baselines: the 2-D ones' arguments with one size per axis."""
    r = _rng()

    def a(*shape):
        return r.standard_normal(shape).astype(dtype)

    ref = _ref()
    if fname in ("conv1d", "conv1d_backward"):
        d = dict(input=a(2, 4, 9), weight=a(6, 2, 3), bias=a(6), stride=2, padding=1,
                 dilation=2, groups=2)
        fwd = ref.conv1d
    elif fname in ("conv_transpose1d", "conv_transpose1d_backward"):
        d = dict(input=a(2, 4, 5), weight=a(4, 3, 3), bias=a(6), stride=2, padding=1,
                 output_padding=1, groups=2, dilation=1)
        fwd = ref.conv_transpose1d
    elif fname in ("max_pool1d", "max_pool1d_backward"):
        d = dict(input=a(2, 3, 9), kernel_size=3, stride=2, padding=1, dilation=1,
                 ceil_mode=True)
        if fname == "max_pool1d":
            return dict(d, return_indices=True)
        y, idx = ref.max_pool1d(**d, return_indices=True)
        return dict(grad_output=a(*y.shape), **d, indices=idx)
    elif fname in ("avg_pool1d", "avg_pool1d_backward"):
        d = dict(input=a(2, 3, 9), kernel_size=3, stride=2, padding=1, ceil_mode=True,
                 count_include_pad=False, divisor_override=None)
        if fname == "avg_pool1d":
            return d
        y = ref.avg_pool1d(**d)
        x = d.pop("input")
        return dict(grad_output=a(*y.shape), input_shape=x.shape, **d)
    elif fname == "adaptive_avg_pool1d":
        return dict(input=a(2, 3, 9), output_size=4)
    elif fname == "adaptive_avg_pool1d_backward":
        return dict(grad_output=a(2, 3, 4), input_shape=(2, 3, 9))
    elif fname == "adaptive_max_pool1d":
        return dict(input=a(2, 3, 9), output_size=4, return_indices=True)
    elif fname == "adaptive_max_pool1d_backward":
        x = a(2, 3, 9)
        _, idx = ref.adaptive_max_pool1d(x, 4, return_indices=True)
        return dict(grad_output=a(2, 3, 4), input=x, output_size=4, indices=idx)
    elif fname in ("max_unpool1d", "max_unpool1d_backward"):
        y, idx = ref.max_pool1d(a(2, 3, 9), 2, 2, return_indices=True)
        d = dict(indices=idx, kernel_size=2, stride=2, padding=0, output_size=(9,))
        if fname == "max_unpool1d":
            return dict(input=y.astype(dtype), **d)
        return dict(grad_output=a(2, 3, 9), **d)
    elif fname in ("lp_pool1d", "lp_pool1d_backward"):
        d = dict(input=a(2, 3, 9), norm_type=2, kernel_size=3, stride=2, ceil_mode=True)
        if fname == "lp_pool1d":
            return d
        return dict(grad_output=a(*ref.lp_pool1d(**d).shape), **d)
    else:
        raise KeyError(fname)
    if fname.endswith("_backward"):
        y = fwd(**d)
        del d["bias"]
        d = dict(grad_output=a(*y.shape), **d, output_mask=(True, True, True))
    return d


def _base3(fname, dtype):
    """The 3-D baselines: small volumes, every feature on, one size per axis."""
    r = _rng()

    def a(*shape):
        return r.standard_normal(shape).astype(dtype)

    ref = _ref()
    if fname in ("conv3d", "conv3d_backward"):
        d = dict(input=a(2, 4, 5, 6, 5), weight=a(6, 2, 2, 3, 3), bias=a(6), stride=(1, 2, 1),
                 padding=1, dilation=(2, 1, 2), groups=2)
        fwd = ref.conv3d
    elif fname in ("conv_transpose3d", "conv_transpose3d_backward"):
        d = dict(input=a(2, 4, 3, 4, 3), weight=a(4, 3, 2, 3, 2), bias=a(6), stride=(2, 1, 2),
                 padding=(1, 0, 1), output_padding=(1, 0, 0), groups=2, dilation=1)
        fwd = ref.conv_transpose3d
    elif fname in ("max_pool3d", "max_pool3d_backward"):
        d = dict(input=a(2, 3, 5, 6, 5), kernel_size=3, stride=2, padding=1, dilation=1,
                 ceil_mode=True)
        if fname == "max_pool3d":
            return dict(d, return_indices=True)
        y, idx = ref.max_pool3d(**d, return_indices=True)
        return dict(grad_output=a(*y.shape), **d, indices=idx)
    elif fname in ("avg_pool3d", "avg_pool3d_backward"):
        d = dict(input=a(2, 3, 5, 6, 5), kernel_size=(3, 2, 3), stride=(2, 1, 2), padding=1,
                 ceil_mode=True, count_include_pad=False, divisor_override=None)
        if fname == "avg_pool3d":
            return d
        y = ref.avg_pool3d(**d)
        x = d.pop("input")
        return dict(grad_output=a(*y.shape), input_shape=x.shape, **d)
    elif fname == "adaptive_avg_pool3d":
        return dict(input=a(2, 3, 5, 6, 5), output_size=(2, 3, 4))
    elif fname == "adaptive_avg_pool3d_backward":
        return dict(grad_output=a(2, 3, 2, 3, 4), input_shape=(2, 3, 5, 6, 5))
    elif fname == "adaptive_max_pool3d":
        return dict(input=a(2, 3, 5, 6, 5), output_size=(2, 3, 4), return_indices=True)
    elif fname == "adaptive_max_pool3d_backward":
        x = a(2, 3, 5, 6, 5)
        _, idx = ref.adaptive_max_pool3d(x, (2, 3, 4), return_indices=True)
        return dict(grad_output=a(2, 3, 2, 3, 4), input=x, output_size=(2, 3, 4), indices=idx)
    elif fname in ("max_unpool3d", "max_unpool3d_backward"):
        y, idx = ref.max_pool3d(a(2, 3, 5, 6, 5), 2, 2, return_indices=True)
        d = dict(indices=idx, kernel_size=2, stride=2, padding=0, output_size=(5, 6, 5))
        if fname == "max_unpool3d":
            return dict(input=y.astype(dtype), **d)
        return dict(grad_output=a(2, 3, 5, 6, 5), **d)
    else:
        raise KeyError(fname)
    if fname.endswith("_backward"):
        y = fwd(**d)
        del d["bias"]
        d = dict(grad_output=a(*y.shape), **d, output_mask=(True, True, True))
    return d


# Argument kinds, per function.  PRIMARY is the array whose dtype the others must match.
ARGS = {
    "conv2d": dict(input="x", weight="arr", bias="bias", stride="size1", padding="cpad",
                   dilation="size1", groups="groups"),
    "conv_transpose2d": dict(input="x", weight="arr", bias="bias", stride="size1",
                             padding="size0", output_padding="size0", groups="groups",
                             dilation="size1"),
    "max_pool2d": dict(input="x", kernel_size="size1", stride="stride_opt", padding="size0",
                       dilation="size1", ceil_mode="bool", return_indices="bool"),
    "avg_pool2d": dict(input="x", kernel_size="size1", stride="stride_opt", padding="size0",
                       ceil_mode="bool", count_include_pad="bool", divisor_override="divisor"),
    "adaptive_avg_pool2d": dict(input="x", output_size="outsize"),
    "adaptive_max_pool2d": dict(input="x", output_size="outsize", return_indices="bool"),
}
ARGS["conv2d_backward"] = dict(grad_output="arr", **{k: v for k, v in ARGS["conv2d"].items()
                                                     if k != "bias"}, output_mask="mask")
ARGS["conv_transpose2d_backward"] = dict(
    grad_output="arr", **{k: v for k, v in ARGS["conv_transpose2d"].items() if k != "bias"},
    output_mask="mask")
ARGS["max_pool2d_backward"] = dict(grad_output="arr", **{
    k: v for k, v in ARGS["max_pool2d"].items() if k != "return_indices"}, indices="idx")
ARGS["avg_pool2d_backward"] = dict(grad_output="x", input_shape="shape", **{
    k: v for k, v in ARGS["avg_pool2d"].items() if k != "input"})
ARGS["adaptive_avg_pool2d_backward"] = dict(grad_output="x", input_shape="shape")
ARGS["adaptive_max_pool2d_backward"] = dict(grad_output="arr", input="x", output_size="outsize",
                                            indices="idx")
ARGS["lp_pool2d"] = dict(input="x", norm_type="norm", kernel_size="size1",
                         stride="stride_opt", ceil_mode="bool")
ARGS["lp_pool2d_backward"] = dict(grad_output="arr", **ARGS["lp_pool2d"])
_FOLD_SIZES = dict(kernel_size="size1", dilation="size1", padding="size0", stride="size1")
ARGS["unfold"] = dict(input="x", **_FOLD_SIZES)
ARGS["unfold_backward"] = dict(grad_output="x", input_shape="shape", **_FOLD_SIZES)
ARGS["fold"] = dict(input="x", output_size="fsize", **_FOLD_SIZES)
ARGS["fold_backward"] = dict(grad_output="x", output_size="fsize", **_FOLD_SIZES)
ARGS["max_unpool2d"] = dict(input="x", indices="idx", kernel_size="size1",
                            stride="stride_opt", padding="size0", output_size="usize")
ARGS["max_unpool2d_backward"] = dict(grad_output="arr", **{
    k: v for k, v in ARGS["max_unpool2d"].items() if k != "input"})
ARGS["set_num_threads"] = dict(n="threads")
for _f in FUNCS1 + FUNCS3:
    ARGS[_f] = ARGS[two_d(_f)]

BACKWARD = {f for f in FUNCS if f.endswith("_backward")}


def _with(fname, **changes):
    """A maker: the baseline call with some arguments replaced (a callable value is applied
    to the baseline dict, so replacements can depend on the baseline arrays).  For a backward
    function, grad_output (and indices) are re-derived from the changed forward arguments, so
    that a change of e.g. stride tests stride, not a grad_output shape mismatch."""
    def make():
        d = base(fname)
        for k, v in changes.items():
            d[k] = v(d) if callable(v) else v
        if fname in REDERIVE and not set(changes) & {"grad_output", "indices", "bogus"}:
            rederive(fname, d)
        return d
    return make


def _forward_kwargs(d, drop):
    return {k: v for k, v in d.items() if k not in drop}


def rederive(fname, d, rng=None):
    """Replace grad_output (and indices) by ones matching what the forward of these
    arguments returns.  When that forward is invalid, leave them alone (or, when missing,
    make a placeholder): the call under test must then reject the arguments itself."""
    ref = _ref()
    r = rng or _rng()
    dt = next((v.dtype for k, v in d.items() if k in ("grad_output", "input")
               and isinstance(v, np.ndarray) and v.dtype.kind == "f"), np.dtype(np.float64))
    fwd = getattr(ref, fname.replace("_backward", ""), None)
    try:
        f2 = two_d(fname)
        if f2 == "conv2d_backward":
            y = fwd(**_forward_kwargs(d, ("grad_output", "output_mask", "algorithm")))
        elif f2 == "conv_transpose2d_backward":
            y = fwd(**_forward_kwargs(d, ("grad_output", "output_mask")))
        elif f2 == "max_pool2d_backward":
            y, idx = fwd(**_forward_kwargs(d, ("grad_output", "indices")), return_indices=True)
            d["indices"] = idx
        elif f2 == "adaptive_max_pool2d_backward":
            y, idx = fwd(d["input"], d["output_size"], return_indices=True)
            d["indices"] = idx
        elif f2 == "lp_pool2d_backward":
            y = fwd(**_forward_kwargs(d, ("grad_output",)))
        elif f2 == "avg_pool2d_backward":
            x = np.zeros(d["input_shape"], dt)
            y = fwd(x, **_forward_kwargs(d, ("grad_output", "input_shape")))
        else:
            raise KeyError(fname)
    except (ValueError, TypeError, MemoryError, OverflowError):
        d.setdefault("grad_output", np.ones((1,) * (array_rank(fname) + 2), dt))
        return d
    d["grad_output"] = r.standard_normal(y.shape).astype(dt)
    return d


REDERIVE = {"conv2d_backward", "conv_transpose2d_backward", "max_pool2d_backward",
            "adaptive_max_pool2d_backward", "avg_pool2d_backward", "lp_pool2d_backward"}
REDERIVE |= {f.replace("2d", "1d") for f in REDERIVE} | {
    f.replace("2d", "3d") for f in REDERIVE if "lp_pool" not in f}


def _dtype_all(dtype, fname):
    """Every float array of the baseline in another dtype (a valid call in float32)."""
    def make():
        d = base(fname)
        for k, v in d.items():
            if isinstance(v, np.ndarray) and v.dtype.kind == "f":
                d[k] = v.astype(dtype)
        return d
    return make


# ------------------------------------------------------------------ array mutations --

def _layouts(a):
    """Same values in awkward memory layouts.  -> [(name, view)]"""
    out = [("fortran", np.asfortranarray(a))]
    big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
    sl = tuple(slice(1, None, 2) for _ in a.shape)
    big[sl] = a
    out.append(("strided", big[sl]))
    out.append(("negstride", np.flip(np.flip(a).copy())))
    ro = a.copy()
    ro.setflags(write=False)
    out.append(("readonly", ro))
    if a.ndim >= 2:
        t = np.ascontiguousarray(np.swapaxes(a, -1, -2))
        out.append(("swapped", np.swapaxes(t, -1, -2)))
    # Data not aligned to the itemsize: kernels with aligned loads would fault on it.
    raw = np.zeros(a.nbytes + a.itemsize, np.uint8)
    un = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    if a.size:
        un[...] = a
    out.append(("unaligned", un))
    return out


def _specials(a, what):
    """NaN/Inf sprinkled into a copy of a (a is a float array)."""
    b = a.copy()
    flat = b.reshape(-1)
    if what == "nan":
        flat[::7] = np.nan
    elif what == "inf":
        flat[::5] = np.inf
        flat[2::11] = -np.inf
    elif what == "allnan":
        flat[:] = np.nan
    elif what == "neginf":
        flat[:] = -np.inf
    elif what == "huge":
        flat[::3] = np.finfo(a.dtype).max
    elif what == "denormal":
        flat[:] = np.finfo(a.dtype).smallest_subnormal
    return b


SPELLINGS = {"padding": ("pad",), "output_padding": ("output_padding", "output padding"),
             "kernel_size": ("kernel_size", "kernel size"),
             "output_size": ("output_size", "output size"),
             "input_shape": ("input_shape", "input", "grad_output")}


def spell(fname, arg):
    """Words of which an error message about arg must contain one."""
    names = SPELLINGS.get(arg, (arg,))
    if fname in BACKWARD and arg != "grad_output":
        # A backward call may report the disagreement from grad_output's side.
        names += ("grad_output",)
    return names


def array_cases(fname, arg, kind):
    """Cases breaking the array argument ``arg`` (kind x, arr, bias or idx)."""
    W = lambda **c: _with(fname, **c)  # noqa: E731
    other = np.float32
    cases = []
    add = lambda sub, make, expect, names=spell(fname, arg): cases.append(  # noqa: E731
        Case(f"{arg}-{sub}", make, expect, names))

    if kind == "idx":
        # pooling backward recomputes missing indices; max_unpool cannot do without them
        add("none", W(**{arg: None}), TE if "unpool" in fname else OK)
        add("float64", W(**{arg: lambda d: d[arg].astype(np.float64)}), TE)
        add("int32", W(**{arg: lambda d: d[arg].astype(np.int32)}), {TE, OK})
        add("uint64", W(**{arg: lambda d: d[arg].astype(np.uint64)}), {TE, OK})
        add("list", W(**{arg: lambda d: d[arg].tolist()}), {TE, OK})
        add("object", W(**{arg: lambda d: d[arg].astype(object)}), TE)
        add("str", W(**{arg: "indices"}), TE)
        add("neg1", W(**{arg: lambda d: _set0(d[arg], -1)}), VE)
        add("plane", W(**{arg: lambda d: _set0(d[arg], _plane(d))}), VE)
        add("plus_plane", W(**{arg: lambda d: d[arg] + _plane(d)}), VE)
        add("int64max", W(**{arg: lambda d: _set0(d[arg], np.iinfo(np.int64).max)}), VE)
        add("int64min", W(**{arg: lambda d: _set0(d[arg], np.iinfo(np.int64).min)}), VE)
        add("int32wrap", W(**{arg: lambda d: _set0(d[arg], (1 << 32) + 1)}), VE)
        add("shape", W(**{arg: lambda d: d[arg][..., :-1]}), VE)
        add("ndim5", W(**{arg: lambda d: d[arg][None]}), VE)
        add("ndim2", W(**{arg: lambda d: d[arg][0, 0]}), VE)
        # In range but not the argmax, even outside the window: scattered as given.
        add("arbitrary", W(**{arg: lambda d: (np.arange(d[arg].size).reshape(d[arg].shape)
                                              * 7 % _plane(d))}), OK)
        add("zeros", W(**{arg: lambda d: np.zeros_like(d[arg])}), OK)
        for lname in ("fortran", "strided", "negstride", "readonly", "unaligned"):
            add(f"layout_{lname}", W(**{arg: _layout_of(arg, lname)}), OK)
        return cases

    if kind == "bias":
        add("none", W(**{arg: None}), OK)
    else:
        add("none", W(**{arg: None}), TE)
    add("list", W(**{arg: lambda d: d[arg].tolist()}), {TE, OK})
    add("scalar", W(**{arg: 1.5}), TE)
    add("str", W(**{arg: "x"}), TE)
    add("dict", W(**{arg: {}}), TE)
    add("object", W(**{arg: lambda d: d[arg].astype(object)}), TE)
    for dt in ("int64", "int32", "bool", "float16", "complex128", "longdouble", "uint8"):
        add(f"dtype_{dt}", W(**{arg: lambda d, dt=dt: d[arg].astype(dt)}), TE)
    partners = [k for k, v in ARGS[fname].items() if v in ("x", "arr", "bias") and k != arg]
    add("dtype_float32_mixed", W(**{arg: lambda d: d[arg].astype(other)}),
        TE if partners else OK, names=(arg, "input", "weight", "grad_output", "bias", "dtype"))
    add("byteswapped", W(**{arg: lambda d: d[arg].astype(d[arg].dtype.newbyteorder())}),
        {TE, OK})
    add("matrix_subclass_masked", W(**{arg: lambda d: np.ma.masked_array(d[arg])}), {TE, OK})
    # wrong ndim
    add("ndim0", W(**{arg: lambda d: np.array(d[arg].reshape(-1)[0])}), VE)
    add("np_scalar", W(**{arg: lambda d: d[arg].reshape(-1)[0]}), TE)
    add("ndim1", W(**{arg: lambda d: d[arg].reshape(-1)}), VE if kind != "bias" else OK)
    add("ndim5", W(**{arg: lambda d: d[arg][None]}), VE)
    if kind == "bias":
        add("ndim2", W(**{arg: lambda d: d[arg][None]}), VE)
        add("short", W(**{arg: lambda d: d[arg][:-1]}), VE)
        add("long", W(**{arg: lambda d: np.concatenate([d[arg], d[arg][:1]])}), VE)
        add("empty", W(**{arg: lambda d: d[arg][:0]}), VE)
    else:
        # 2-D: unbatched (C, L) for a 1-D function, which may or may not match the rest
        add("ndim2", W(**{arg: lambda d: d[arg].reshape(d[arg].shape[0], -1)}),
            VE if array_rank(fname) == 2 else {OK, VE},
            names=spell(fname, arg) if array_rank(fname) == 2 else ())
        # 3-D is an unbatched input: valid alone (grad_output is re-derived to match), a
        # mismatch beside a 4-D partner array.
        alone = kind == "x" and (fname not in BACKWARD or (arg == "input"
                                                           and fname in REDERIVE)
                                 or fname == "fold_backward")   # its only array
        alone = alone and "unpool" not in fname   # indices must keep the input's shape
        add("ndim3", W(**{arg: lambda d: d[arg][0]}), OK if alone else VE)
        if fname in BACKWARD and fname != "set_num_threads":
            add("ndim3_all", _unbatched(fname), OK)
        axes = {2: ((0, "N"), (1, "C"), (2, "H"), (3, "W")),
                3: ((0, "N"), (1, "C"), (2, "D"), (3, "H"), (4, "W")),
                1: ((0, "N"), (1, "C"), (2, "L"))}[array_rank(fname)]
        for ax, nm in axes:
            expect = ((OK if alone else VE) if ax == 0 else VE)
            if two_d(fname) == "adaptive_avg_pool2d_backward" and ax >= 2:
                expect = {OK, VE}   # a zero output size: valid, an empty grad_output
            add(f"zero_{nm}", W(**{arg: lambda d, ax=ax: np.take(d[arg], [], axis=ax)}), expect)
            # Growing one dimension may or may not leave a valid call: either is fine,
            # a result is checked against the reference.
            add(f"grow_{nm}", W(**{arg: lambda d, ax=ax: np.concatenate(
                [d[arg], np.take(d[arg], [0], axis=ax)], axis=ax)}), {OK, VE}, names=())
        # A view far larger than memory (stride 0): a result or a clean refusal, no crash.
        huge = {2: (1 << 15, 1 << 15), 3: (1 << 10, 1 << 10, 1 << 10),
                1: (1 << 30,)}[array_rank(fname)]
        add("broadcast_huge", W(**{arg: lambda d: np.broadcast_to(
            d[arg].reshape(-1)[:1].reshape((1,) * d[arg].ndim),
            (d[arg].shape[0], d[arg].shape[1]) + huge)}),
            {VE, ME} if not alone else BIG, names=())
    for lname in ("fortran", "strided", "negstride", "readonly", "swapped", "unaligned"):
        if kind == "bias" and lname == "swapped":
            continue
        add(f"layout_{lname}", W(**{arg: _layout_of(arg, lname)}), OK)
    add("broadcast", W(**{arg: lambda d: np.broadcast_to(
        d[arg].reshape(-1)[:1].reshape((1,) * d[arg].ndim), d[arg].shape)}), OK)
    for sp in ("nan", "inf", "allnan", "neginf", "huge", "denormal"):
        add(f"values_{sp}", W(**{arg: lambda d, sp=sp: _specials(d[arg], sp)}), OK)
    return cases


def _layout_of(arg, lname):
    return lambda d: dict(_layouts(d[arg]))[lname]


def _set0(a, v):
    b = a.copy()
    b.reshape(-1)[0] = v
    return b


def _plane(d):
    """Size of the plane the indices point into: the input's for pooling, the output's for
    max_unpool (which has kernel_size, indices and output_size)."""
    if {"kernel_size", "indices", "output_size"} <= set(d) and d["output_size"] is not None:
        sizes = list(d["output_size"])
        nd = d["indices"].ndim - 2 if d["indices"].ndim in (4, 5) else 2
        return int(np.prod(sizes[-(len(sizes) if len(sizes) <= nd else nd):]))
    x = d["input"]
    return int(np.prod(x.shape[2:]))


def _unbatched(fname):
    """Every batched array of the baseline as one unbatched sample (input_shape too)."""
    def make():
        d = base(fname)
        for k, v in d.items():
            if isinstance(v, np.ndarray) and v.ndim == array_rank(fname) + 2 and k != "weight":
                d[k] = v[0]
            if k == "input_shape":
                d[k] = tuple(v[1:])
        return d
    return make


# ------------------------------------------------------------------- other arguments --

HUGE = [("2p31", 1 << 31), ("2p32p1", (1 << 32) + 1), ("2p62", 1 << 62), ("2p63", 1 << 63),
        ("2p64p1", (1 << 64) + 1), ("1e30", 10 ** 30)]


def size_cases(fname, arg, kind):
    """int-or-pair sizes.  kind: size1 (>= 1), size0 (>= 0), stride_opt (>= 1 or None),
    cpad (conv padding: >= 0 or 'same'/'valid'), groups (int >= 1 only)."""
    W = lambda **c: _with(fname, **c)  # noqa: E731
    cases = []
    add = lambda sub, v, expect, names=spell(fname, arg): cases.append(  # noqa: E731
        Case(f"{arg}-{sub}", W(**{arg: v}), expect, names))
    minimum = 0 if kind in ("size0", "cpad") else 1
    add("minus1", -1, VE)
    add("int64min", -(1 << 63), VE)
    if minimum == 1:
        add("zero", 0, VE)
    else:
        add("zero", 0, {OK, VE}, names=())
    for v in (1, 2, 3):
        add(f"int{v}", v, ANY - {TE}, names=())
    for nm, v in HUGE:
        add(f"huge_{nm}", v, BIG, names=())
    add("float", 1.5, TE)
    add("float_integral", 2.0, TE)
    add("np_float", np.float64(1.0), TE)
    add("nan", float("nan"), TE)
    add("inf", float("inf"), TE)
    add("str", "2", {TE, VE})
    add("bytes", b"\x01", TE)
    add("bool", True, ANY - {ME}, names=())
    add("np_int32", np.int32(1), ANY - {TE}, names=())
    add("np_uint64", np.uint64(1), ANY - {TE}, names=())
    add("complex", 1 + 0j, TE)
    add("object", object(), TE)
    if kind == "stride_opt":
        add("none", None, OK)
    else:
        add("none", None, TE)
    if kind == "groups":
        add("pair", (1, 1), TE)
        # A wrong group count shows up as a channel mismatch of some array.
        names = ("groups", "channel", "bias", "grad_output")
        add("four", 4, {OK, VE}, names)  # divides C_in, not always the weight's channels
        add("six", 6, VE, names)
        add("three", 3, VE, names)       # divides neither
        return cases
    # A pair is one size per axis in 2-D; a 1-D function takes one value (or a one-entry
    # tuple) and refuses two.
    pair_ok = ANY - {TE} if rank(fname) == 2 else {VE, TE}
    add("list_pair", [1, 1], pair_ok, names=())
    add("array_pair", np.array([1, 1]), pair_ok, names=())
    add("array_float_pair", np.array([1.5, 1.0]), TE if rank(fname) == 2 else {TE, VE})
    add("array_0d", np.array(1), ANY - {TE}, names=())
    three_ok = ANY - {TE} if rank(fname) == 3 else {VE, TE}   # one size per axis in 3-D
    add("array_3", np.array([1, 1, 1]), three_ok, names=() if rank(fname) == 3 else spell(fname, arg))
    # A one-entry tuple applies to every axis, as in torch.nn.functional (the contract).
    add("tuple1", (1,), ANY - {TE}, names=())
    add("list1", [2], ANY - {TE}, names=())
    add("array_1", np.array([1]), ANY - {TE}, names=())
    add("tuple1_neg", (-1,), VE)
    add("tuple1_float", (1.5,), TE)
    add("tuple3", (1, 1, 1), three_ok, names=() if rank(fname) == 3 else spell(fname, arg))
    if kind == "stride_opt":
        add("tuple0", (), OK)   # an empty pooling stride means the default, as in PyTorch
        add("list0", [], OK)
    else:
        add("tuple0", (), {VE, TE})
    add("tuple_none", (1, None), {TE, VE})
    add("tuple_float", (1, 1.5), TE if rank(fname) == 2 else {TE, VE})
    add("tuple_str", (1, "a"), {TE, VE})
    add("tuple_neg", (1, -1), VE)
    add("tuple_nested", ((1, 1), 1), TE if rank(fname) == 2 else {TE, VE})
    add("tuple_huge", (1, 1 << 63), BIG, names=())
    add("set", {1}, {TE, VE})
    add("generator", (i for i in (1, 1)), {TE, VE, OK}, names=())
    if kind == "cpad":
        add("same", "same", {OK, VE}, names=("pad", "stride", "same"))
        add("valid", "valid", OK)
        add("SAME", "SAME", VE)
        add("empty_str", "", VE)
    return cases


def scalar_cases(fname, arg, kind):
    W = lambda **c: _with(fname, **c)  # noqa: E731
    cases = []
    add = lambda sub, v, expect, names=spell(fname, arg): cases.append(  # noqa: E731
        Case(f"{arg}-{sub}", W(**{arg: v}), expect, names))
    if kind == "bool":
        for nm, v in (("true", True), ("false", False), ("np_true", np.bool_(True)),
                      ("int1", 1), ("int0", 0)):
            add(nm, v, OK)
        # PyTorch reads these flags by truthiness; rejecting odd values is fine too.
        for nm, v in (("int2", 2), ("str", "yes"), ("none", None), ("float", 1.0),
                      ("list", [True])):
            add(nm, v, {TE, VE, OK})
    elif kind == "divisor":
        add("none", None, OK)
        add("two", 2, OK)
        add("zero", 0, VE)
        add("minus3", -3, {OK, VE}, names=())
        add("huge", 1 << 40, OK)
        add("huge_2p63", 1 << 63, BIG, names=())
        add("float", 1.5, TE)
        add("str", "2", {TE, VE})
        add("np_int", np.int64(3), OK)
    elif kind == "mask":
        for m in ((True, False, True), (False, True, False), (False, False, False),
                  [True, True, False]):
            add("m" + "".join(str(int(b)) for b in m), m, OK)
        add("ints", (1, 0, 1), OK)
        add("np_bool_array", np.array([True, False, True]), OK)
        add("two", (True, True), {VE, TE})
        add("four", (True,) * 4, {VE, TE})
        add("none", None, TE)
        add("str", "ttt", {TE, VE})
        add("bool", True, TE)
        add("entry_none", (None, True, True), {TE, OK})
        add("entry_str", ("a", True, True), {TE, VE})
        add("entry_two", (2, True, True), {TE, VE})
    elif kind == "shape":
        add("list", lambda d: list(d[arg]), OK)
        add("np_ints", lambda d: tuple(np.int64(s) for s in d[arg]), OK)
        add("array", lambda d: np.array(d[arg]), {TE, OK})
        add("none", None, TE)
        add("str", "2,3,7,6", {TE, VE})
        add("int", 7, TE)
        add("len2", lambda d: tuple(d[arg][2:]), VE)
        add("len5", lambda d: tuple(d[arg]) + (1,), VE)
        add("len3_vs_4d", lambda d: tuple(d[arg][1:]), {OK, VE})
        def at2(v):
            """The shape with its first spatial size (H, or L in 1-D) replaced."""
            return lambda d: tuple(d[arg][:2]) + (v(d[arg][2]) if callable(v) else v,) + \
                tuple(d[arg][3:])
        add("neg", at2(-7), VE)
        add("zero_H", at2(0), VE)
        add("zero_C", lambda d: (d[arg][0], 0) + tuple(d[arg][2:]), VE)
        add("float", at2(7.0), TE)
        add("huge", at2(1 << 40), {VE, ME}, names=())
        add("huge_2p63", at2(1 << 63), {VE, ME}, names=())
        add("bigger", at2(lambda h: h + 1), {OK, VE}, names=())
        add("mismatch_C", lambda d: (d[arg][0], d[arg][1] + 1) + tuple(d[arg][2:]), {OK, VE})
    elif kind == "usize":      # max_unpool's output size: optional, within stride of default
        add("list", lambda d: list(d[arg]), OK)
        add("with_nc", lambda d: (2, 3) + tuple(d[arg]), OK)
        add("np_array", lambda d: np.array(d[arg]), OK)
        add("none", None, {OK, VE}, names=())       # the default may be too small
        add("smaller", lambda d: (d[arg][0] - 1,) + tuple(d[arg][1:]), {OK, VE}, names=())
        add("too_big", lambda d: (d[arg][0] + 3,) + tuple(d[arg][1:]), VE)
        add("neg", lambda d: (-1,) + tuple(d[arg][1:]), VE)
        add("huge", lambda d: (1 << 40,) + tuple(d[arg][1:]), VE)
        add("float", lambda d: (float(d[arg][0]),) + tuple(d[arg][1:]), TE)
        add("int", 7, TE if rank(fname) == 2 else {TE, VE},   # 1-D: one size, a wrong one
            names=spell(fname, arg) if rank(fname) == 2 else ())
        add("str", "7,6", TE)
        add("len5", (1, 2, 3, 7, 6), VE)
    elif kind == "fsize":      # fold's output size: the image's (H, W), required
        add("list", [7, 6], OK)
        add("np_array", np.array([7, 6]), OK)
        add("np_ints", (np.int64(7), np.int32(6)), OK)
        for nm, v in (("int", 7), ("tuple1", (7,)), ("swapped", (6, 7)), ("zero", (0, 6)),
                      ("neg", (-1, 6)), ("tuple3", (7, 6, 1))):
            add(nm, v, {VE, TE} if nm == "tuple3" else VE)
        for nm, v in (("huge", (1 << 40, 6)), ("huge_2p63", (1 << 63, 6))):
            add(nm, v, {VE, ME}, names=())
        for nm, v in (("none", None), ("float", (7.0, 6)), ("str", "7,6"), ("pair_none",
                                                                            (None, 6))):
            add(nm, v, {TE, VE} if nm == "str" else TE)
    elif kind == "norm":       # lp_pool's p: a finite real > 0
        for nm, v in (("two", 2), ("one", 1), ("frac", 1.5), ("np_float", np.float64(3.0)),
                      ("big", 40.0)):
            add(nm, v, OK)
        for nm, v in (("zero", 0), ("neg", -1), ("inf", float("inf")),
                      ("nan", float("nan"))):
            add(nm, v, VE)
        for nm, v in (("str", "2"), ("none", None), ("bool", True), ("list", [2]),
                      ("complex", 2j)):
            add(nm, v, TE)
    elif kind == "outsize":
        add("int1", 1, OK)
        add("int", 5, OK)
        add("zero", 0, {OK, VE}, names=())
        add("minus1", -1, VE)
        add("none", None, OK)
        two = OK if rank(fname) == 2 else {VE, TE}     # one size per axis
        add("pair_none", (None, 2), two)
        add("larger_than_input", (11, 13) if rank(fname) == 2 else 13, OK)
        add("tuple1", (3,), {OK, VE}, names=())
        add("tuple3", (3, 3, 3), OK if rank(fname) == 3 else {VE, TE})
        add("float", 1.5, TE)
        add("str", "3", {TE, VE})
        add("huge", 1 << 31, {VE, ME}, names=())
        add("huge_2p63", 1 << 63, {VE, ME}, names=())
        add("pair_huge", (1, 1 << 40), {VE, ME}, names=())
        add("np_array", np.array([3, 4]), {OK, TE} if rank(fname) == 2 else {VE, TE})
    elif kind == "threads":
        for v in (1, 2, 3, 64):
            add(f"n{v}", v, OK)
        add("zero", 0, VE)
        add("minus1", -1, VE)
        add("huge", 1 << 40, {OK, VE})
        add("2p16", 1 << 16, {OK, VE})
        add("float", 1.5, TE)
        add("float_integral", 2.0, TE)
        add("str", "2", TE)
        add("none", None, TE)
        add("bool", True, TE)
        add("np_int", np.int64(2), OK)
    return cases


def special_cases(fname):
    """Coherent whole-call scenarios that one-argument mutations cannot express."""
    W = lambda **c: _with(fname, **c)  # noqa: E731
    cs = [Case("baseline", W(), OK), Case("float32", _dtype_all(np.float32, fname), OK)]
    if fname == "set_num_threads":
        return cs
    cs.append(Case("unknown_kwarg", W(bogus=1), TE))
    if fname in ("conv2d", "conv2d_backward"):
        def conv(xs, ws, **kw):
            def make():
                r = _rng()
                x = r.standard_normal(xs)
                w = r.standard_normal(ws)
                d = dict(input=x, weight=w, **kw)
                return rederive(fname, d, r) if fname in REDERIVE else d
            return make
        cs += [
            Case("kernel_too_large", conv((1, 2, 4, 4), (3, 2, 5, 5)), VE),
            Case("kernel_too_large_dil", conv((1, 2, 4, 4), (3, 2, 2, 2), dilation=4), VE),
            Case("kernel_fits_padding", conv((1, 2, 2, 2), (3, 2, 5, 5), padding=2), OK),
            Case("depthwise", conv((2, 4, 5, 5), (4, 1, 3, 3), groups=4, padding=1), OK),
            Case("depthwise_mult", conv((2, 3, 5, 5), (6, 1, 3, 3), groups=3), OK),
            Case("one_by_one", conv((2, 3, 5, 4), (5, 3, 1, 1)), OK),
            Case("stride_huge", conv((1, 2, 5, 5), (2, 2, 3, 3), stride=1 << 40), OK),
            Case("stride_2p62", conv((1, 2, 5, 5), (2, 2, 3, 3), stride=(1 << 62) - 1), OK),
            Case("dilation_huge_k1", conv((1, 2, 5, 5), (2, 2, 1, 1), dilation=1 << 40), OK),
            Case("dilation_huge_k3", conv((1, 2, 5, 5), (2, 2, 3, 3), dilation=1 << 40), VE),
            Case("dilation_2p62_k3", conv((1, 2, 5, 5), (2, 2, 3, 3), dilation=1 << 61), VE),
            Case("pad_huge_N0", conv((0, 2, 5, 5), (2, 2, 3, 3), padding=(1 << 61)), BIG,
                 names=()),
            Case("pad_2p62_N0", conv((0, 2, 5, 5), (2, 2, 3, 3), padding=(1 << 62) - 1), BIG,
                 names=()),
            Case("pad_huge", conv((1, 2, 5, 5), (2, 2, 3, 3), padding=1 << 20), {VE, ME},
                 names=()),
            Case("pad_2p31", conv((1, 1, 1, 1), (1, 1, 1, 1), padding=(0, 1 << 31)), {VE, ME},
                 names=()),
            Case("same_dilated_even", conv((1, 2, 6, 5), (3, 2, 4, 2), padding="same",
                                           dilation=(2, 3)), OK),
            Case("same_strided", conv((1, 2, 6, 5), (3, 2, 3, 3), padding="same", stride=2),
                 OK),
            Case("per_side", conv((1, 2, 6, 5), (3, 2, 3, 3), padding=((0, 2), (1, 0))), OK),
            Case("per_side_neg", conv((1, 2, 6, 5), (3, 2, 3, 3), padding=((0, -1), (1, 0))),
                 VE, names=("padding",)),
            Case("output_huge_broadcast", lambda: _conv_huge_out(fname), {VE, ME}, names=()),
            Case("weight_product_2p32", lambda: _conv_big_weight(fname), {VE, ME}, names=()),
        ]
        for mode in ("reflect", "replicate", "circular"):
            cs.append(Case(f"mode_{mode}", conv((2, 2, 4, 5), (3, 2, 3, 2), padding=(2, 1),
                                                padding_mode=mode), OK))
            cs.append(Case(f"mode_{mode}_pad_too_big", conv((1, 2, 3, 3), (3, 2, 3, 3),
                                                            padding=4, padding_mode=mode),
                           {VE} if mode != "replicate" else {OK},
                           names=("padding",) if mode != "replicate" else ()))
        cs += [Case("padding_mode_bogus", W(padding_mode="mirror"), VE, names="padding_mode"),
               Case("padding_mode_none", W(padding_mode=None), {VE, TE}, names="padding_mode"),
               Case("padding_mode_int", W(padding_mode=0), {VE, TE}, names="padding_mode")]
        for algo in ("auto", "direct", "im2col"):
            cs.append(Case(f"algorithm_{algo}", W(algorithm=algo), OK))
            cs.append(Case(f"algorithm_{algo}_f32", lambda algo=algo: dict(
                _dtype_all(np.float32, fname)(), algorithm=algo), OK))
        cs += [Case("algorithm_bogus", W(algorithm="fft"), VE, names="algorithm"),
               Case("algorithm_none", W(algorithm=None), {VE, TE}, names="algorithm"),
               Case("algorithm_int", W(algorithm=1), {VE, TE}, names="algorithm")]
    if fname in ("conv_transpose2d", "conv_transpose2d_backward"):
        def convt(xs, ws, **kw):
            def make():
                r = _rng()
                d = dict(input=r.standard_normal(xs), weight=r.standard_normal(ws), **kw)
                return rederive(fname, d, r) if fname in REDERIVE else d
            return make
        cs += [
            Case("output_padding_eq_stride", convt((1, 2, 3, 3), (2, 2, 3, 3), stride=2,
                                                   output_padding=2), VE, names="output_padding"),
            Case("output_padding_lt_dilation", convt((1, 2, 3, 3), (2, 2, 3, 3), dilation=3,
                                                     output_padding=2), OK),
            Case("output_too_small", convt((1, 2, 2, 2), (2, 2, 1, 1), padding=2), VE),
            Case("groups_not_dividing", convt((1, 3, 3, 3), (3, 2, 3, 3), groups=2), VE,
                 names="groups"),
            Case("depthwise", convt((2, 4, 3, 3), (4, 1, 3, 3), groups=4, stride=2), OK),
            Case("stride_huge_H1", convt((1, 2, 1, 1), (2, 2, 3, 3), stride=1 << 40), OK),
            Case("stride_huge", convt((1, 2, 3, 3), (2, 2, 3, 3), stride=1 << 40), {VE, ME},
                 names=()),
            Case("stride_2p62", convt((1, 2, 3, 3), (2, 2, 3, 3), stride=(1 << 62) - 1),
                 {VE, ME}, names=()),
            Case("dilation_2p61_N0", convt((0, 2, 3, 3), (2, 2, 3, 3), dilation=1 << 61),
                 BIG, names=()),
            Case("N0", convt((0, 2, 3, 3), (2, 2, 3, 3)), OK),
            Case("kernel_bigger_than_input", convt((1, 2, 2, 2), (2, 3, 7, 7)), OK),
        ]
    if fname in ("max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"):
        cs += [
            Case("kernel_too_large", _pool(fname, (1, 2, 3, 3), kernel_size=4), VE),
            Case("pad_more_than_half", _pool(fname, (1, 2, 5, 5), kernel_size=3, padding=2),
                 VE, names="pad"),
            Case("stride_huge", _pool(fname, (1, 2, 5, 5), kernel_size=2, stride=1 << 40), OK),
            Case("stride_2p62", _pool(fname, (1, 2, 5, 5), kernel_size=2,
                                      stride=(1 << 62) - 1), OK),
            Case("kernel_huge", _pool(fname, (1, 2, 5, 5), kernel_size=1 << 40), VE),
            Case("ceil_last_window", _pool(fname, (1, 1, 6, 6), kernel_size=3, stride=2,
                                           padding=1, ceil_mode=True), OK),
            Case("ceil_k1_s3", _pool(fname, (2, 2, 7, 8), kernel_size=1, stride=3,
                                     ceil_mode=True), OK),
            Case("N0", _pool(fname, (0, 2, 5, 5), kernel_size=2), OK),
            Case("one_pixel", _pool(fname, (1, 1, 1, 1), kernel_size=1), OK),
            Case("big_plane", _pool(fname, (1, 1, 300, 300), kernel_size=7, stride=3,
                                    padding=3), OK),
        ]
        if fname.startswith("max"):
            cs += [
                Case("dilated", _pool(fname, (2, 2, 9, 8), kernel_size=3, dilation=(2, 3),
                                      padding=1, stride=1), {OK, VE}),
                Case("all_neginf_padded", _pool(fname, (1, 2, 5, 5), kernel_size=3, padding=1,
                                                fill=-np.inf), OK),
                Case("all_nan", _pool(fname, (1, 2, 5, 5), kernel_size=3, padding=1,
                                      fill=np.nan), OK),
                Case("ties", _pool(fname, (1, 2, 6, 6), kernel_size=3, stride=1, fill=1.0), OK),
                Case("dilation_huge", _pool(fname, (1, 2, 5, 5), kernel_size=2,
                                            dilation=1 << 40), VE),
            ]
        else:
            cs += [Case("divisor_override_ceil", _pool(fname, (1, 2, 7, 7), kernel_size=3,
                                                       stride=2, padding=1, ceil_mode=True,
                                                       divisor_override=5), OK),
                   Case("count_include_pad_ceil", _pool(fname, (1, 2, 7, 7), kernel_size=3,
                                                        stride=2, padding=1, ceil_mode=True,
                                                        count_include_pad=True), OK)]
    if fname.startswith("adaptive") and rank(fname) == 2:
        for name, shape, osz in (("N0", (0, 2, 5, 5), 3), ("upsample", (1, 2, 3, 2), (7, 9)),
                                 ("one", (2, 3, 9, 7), 1), ("identity", (1, 2, 5, 6), (5, 6)),
                                 ("prime", (1, 2, 13, 11), (5, 7)),
                                 ("zero_out", (1, 2, 5, 5), 0),
                                 ("big_plane", (1, 1, 61, 57), (7, 9))):
            cs.append(Case(name, _adaptive(fname, shape, osz),
                           {OK, VE} if name == "zero_out" else OK))
        if "max" in fname:
            cs += [Case("all_nan", _adaptive(fname, (1, 2, 5, 5), 2, fill=np.nan), OK),
                   Case("all_neginf", _adaptive(fname, (1, 2, 5, 5), 2, fill=-np.inf), OK),
                   Case("ties", _adaptive(fname, (1, 2, 6, 6), 4, fill=2.0), OK)]
    return cs


def _pool(fname, shape, fill=None, **kw):
    """A pooling call on a fresh input of this shape (and a matching grad_output)."""
    def make():
        r = _rng()
        x = r.standard_normal(shape)
        if fill is not None:
            x[...] = fill
        d = dict(input=x, **kw)
        if fname == "max_pool2d":
            d["return_indices"] = True
        elif fname == "avg_pool2d_backward":
            d["input_shape"] = shape
            del d["input"]
        return rederive(fname, d, r) if fname in REDERIVE else d
    return make


def _adaptive(fname, shape, osz, fill=None):
    def make():
        r = _rng()
        x = r.standard_normal(shape)
        if fill is not None:
            x[...] = fill
        if fname == "adaptive_avg_pool2d":
            return dict(input=x, output_size=osz)
        if fname == "adaptive_max_pool2d":
            return dict(input=x, output_size=osz, return_indices=True)
        if fname == "adaptive_avg_pool2d_backward":
            y = _ref().adaptive_avg_pool2d(x, osz)
            return dict(grad_output=r.standard_normal(y.shape), input_shape=shape)
        return rederive(fname, dict(input=x, output_size=osz), r)
    return make


def _conv_huge_out(fname):
    """A stride-0 input whose output (2^34 float64 = 128 GiB) cannot be allocated."""
    x = np.broadcast_to(np.ones((1, 1, 1, 1)), (1, 1, 1 << 17, 1 << 17))
    w = np.ones((1, 1, 1, 1))
    d = dict(input=x, weight=w)
    if fname == "conv2d_backward":
        d["grad_output"] = np.broadcast_to(np.ones((1, 1, 1, 1)), x.shape)
    return d


def _conv_big_weight(fname):
    """C_out * C_in * kH * kW = 2^32 (stride-0 weight): int32 products would wrap to 0."""
    w = np.broadcast_to(np.ones((1, 1, 1, 1)), (1 << 16, 1 << 16, 1, 1))
    x = np.ones((1, 1 << 16, 1, 1))
    d = dict(input=x, weight=w)
    if fname == "conv2d_backward":
        d["grad_output"] = np.ones((1, 1 << 16, 1, 1))
    return d


def cases(fname):
    """Every case for one function, in a fixed order (ids are unique)."""
    cs = special_cases(fname)
    for arg, kind in ARGS[fname].items():
        if kind in ("x", "arr", "bias", "idx"):
            cs += array_cases(fname, arg, kind)
        elif kind in ("size0", "size1", "stride_opt", "cpad", "groups"):
            cs += size_cases(fname, arg, kind)
        else:
            cs += scalar_cases(fname, arg, kind)
    ids = [c.id for c in cs]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    return cs


# ------------------------------------------------------------------ running a case --

def _float64(v):
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return np.array(v, dtype=np.float64)
    return v


def _abs(v):
    """|v| in float64 with NaN read as 0: the op on these bounds every term's magnitude."""
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return np.nan_to_num(np.abs(np.array(v, dtype=np.float64)), nan=0.0, posinf=np.inf)
    return v


def _flatten(res):
    if isinstance(res, tuple):
        return list(res)
    return [res]


def _accum_len(kw):
    """An upper bound on any accumulation length in these ops: the largest array involved."""
    n = 1
    for v in kw.values():
        if isinstance(v, np.ndarray):
            n = max(n, v.size)
    return n


def verify(fname, kw, res, inputs_before):
    """None when res is the correct result for fastconv.<fname>(**kw), else a reason."""
    import fastconv
    if fname == "set_num_threads":
        if res is not None:
            return f"set_num_threads returned {res!r}"
        n = fastconv.get_num_threads()
        if not 1 <= n:
            return f"get_num_threads() = {n} after set_num_threads"
        return None
    for k, before in inputs_before.items():
        if not _same(kw[k], before):
            return f"input argument {k} was modified"
    ref = _ref()
    rf = getattr(ref, fname)
    try:
        expect = rf(**{k: _float64(v) for k, v in kw.items() if k != "algorithm"})
    except (ValueError, TypeError, MemoryError) as e:
        if all(r is None or (isinstance(r, np.ndarray) and r.size == 0) for r in _flatten(res)):
            return None
        return f"fastconv returned a result but the reference raised {type(e).__name__}: {e}"
    call = {k: v for k, v in kw.items() if k != "algorithm"}
    # Arguments the result is not linear in (they choose positions): kept as they are.
    fixed = NONLINEAR.get(fname, ())
    # An error bound for each output element: gamma_L * (the same op on |arguments|).
    try:
        mag = rf(**{k: (_float64(v) if k in fixed else _abs(v)) for k, v in call.items()})
    except Exception:
        mag = None
    must_nan = _must_be_nan(rf, call, fixed)
    got, exp = _flatten(res), _flatten(expect)
    mags = _flatten(mag) if mag is not None else [None] * len(exp)
    if len(got) != len(exp):
        return f"returned {len(got)} values, the reference {len(exp)}"
    primary = next((v for k, v in kw.items() if k in ("input", "grad_output")
                    and isinstance(v, np.ndarray)), None)
    dtype = np.dtype(primary.dtype) if primary is not None else np.dtype(np.float64)
    L = _accum_len(kw)
    for i, (g, e, m, mn) in enumerate(zip(got, exp, mags, must_nan)):
        if e is None or g is None:
            if not (e is None and g is None):
                return f"output {i}: got {type(g).__name__}, expected {type(e).__name__}"
            continue
        if not isinstance(g, np.ndarray):
            return f"output {i}: not an ndarray but {type(g).__name__}"
        if g.shape != e.shape:
            return f"output {i}: shape {g.shape}, expected {e.shape}"
        if not g.flags.c_contiguous:
            return f"output {i}: not C-contiguous"
        for k, v in kw.items():
            if isinstance(v, np.ndarray) and g.size and np.may_share_memory(g, v):
                return f"output {i} shares memory with argument {k}"
        if e.dtype.kind in "iu":
            if g.dtype != np.int64:
                return f"output {i}: indices dtype {g.dtype}, expected int64"
            if not np.array_equal(g, e):
                bad = np.argwhere(g != e)[:3].tolist()
                return f"output {i}: indices differ from the reference at {bad}"
            continue
        if g.dtype != dtype:
            return f"output {i}: dtype {g.dtype}, expected the input's {dtype}"
        g64 = g.astype(np.float64)
        nan_g, nan_e = np.isnan(g64), np.isnan(e)
        m = np.abs(np.nan_to_num(e, nan=0.0)) if m is None else np.asarray(m, np.float64)
        # Where the magnitude bound is infinite an Inf (or an overflow) is involved: Inf-Inf
        # and overflowing partial sums depend on the order of operations, so only
        # finite-bound elements are checked for value.
        determined = np.isfinite(m)
        if dtype == np.float32:
            # A float32 result can overflow where the float64 oracle does not.
            determined &= np.abs(m) < np.finfo(np.float32).max / (4 * L)
        # A NaN the kernel makes up (uninitialised memory, 0*Inf it invented) is always wrong.
        bad = determined & nan_g & ~nan_e
        if np.any(bad):
            j = tuple(np.argwhere(bad)[0].tolist())
            return f"output {i}: NaN at {list(j)} where the reference gives {e[j]!r}"
        # A NaN input that really enters an output element must reach it.  (A NaN weight
        # tap that only ever meets zero padding need not: the reference may multiply explicit
        # padding zeros by it, an algorithm that skips padding taps does not.)
        if mn is not None:
            lost = mn & ~nan_g
            if np.any(lost):
                j = tuple(np.argwhere(lost)[0].tolist())
                return f"output {i}: NaN input lost at {list(j)}: got {g64[j]!r}"
        eps = np.finfo(dtype).eps
        tol = 2.0 * L * eps * np.abs(m) + np.finfo(dtype).tiny * L
        chk = determined & ~nan_e & ~nan_g
        err = np.abs(np.where(chk, g64 - e, 0.0))
        if np.any(err > tol):
            j = np.unravel_index(np.argmax(err - np.where(chk, tol, 0.0)), err.shape)
            return (f"output {i}: differs from the reference by {err[j]:.3g} at {list(j)} "
                    f"(bound {tol[j]:.3g}; got {g64[j]!r}, expected {e[j]!r})")
    return None


NONLINEAR = {"max_pool2d_backward": ("input",), "adaptive_max_pool2d_backward": ("input",)}


def _must_be_nan(rf, call, fixed):
    """Per output, a mask of elements that a NaN input genuinely flows into, or None.

    Every op here is linear (or a max) in each float argument taken alone, so running it with
    one argument replaced by its NaN indicator and the other linear arguments by ones gives a
    positive value exactly where some NaN of that argument meets a real (non-padding) tap."""
    out = None
    for k, v in call.items():
        if k in fixed or not (isinstance(v, np.ndarray) and v.dtype.kind == "f"):
            continue
        nan = np.isnan(np.asarray(v, np.float64))
        if not nan.any():
            continue
        # op(indicator) - op(0): what the NaN positions of k contribute (nothing to outputs
        # that do not depend on k, and nothing through padding taps).
        runs = []
        for fill in (nan.astype(np.float64), np.zeros(nan.shape)):
            args = {}
            for k2, v2 in call.items():
                if k2 == k:
                    args[k2] = fill
                elif k2 not in fixed and isinstance(v2, np.ndarray) and v2.dtype.kind == "f":
                    args[k2] = np.ones(v2.shape)
                else:
                    args[k2] = _float64(v2)
            try:
                runs.append(_flatten(rf(**args)))
            except Exception:
                return [None] * 8
        masks = [None if a is None or a.dtype.kind != "f" else np.abs(a - b) > 0
                 for a, b in zip(*runs)]
        out = masks if out is None else [
            a if b is None else (b if a is None else a | b) for a, b in zip(out, masks)]
    return out if out is not None else [None] * 8


def _same(a, b):
    if isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and a.shape == b.shape
                and np.array_equal(np.asarray(a), b, equal_nan=(b.dtype.kind in "fc")))
    return True


def _snapshot(kw):
    out = {}
    for k, v in kw.items():
        if isinstance(v, np.ndarray) and v.dtype != object and v.size < (1 << 22):
            out[k] = np.array(v, copy=True)
    return out


def run_case(fname, case):
    """-> dict(id, outcome, ok, detail, seconds)."""
    t0 = time.perf_counter()
    try:
        kw = case.make()
    except Exception as e:  # the test's own construction failed: report, don't hide
        return dict(id=case.id, outcome="setup-error", ok=False,
                    detail=f"building the case raised {type(e).__name__}: {e}")
    r = judge(fname, kw, case.expect, case.names)
    return dict(id=case.id, **r, seconds=round(time.perf_counter() - t0, 3))


def judge(fname, kw, expect=ANY, names=()):
    """Call fastconv.<fname>(**kw) and judge the outcome -> dict(outcome, ok, detail).

    ok when the outcome is in expect and: a result equals the reference's; an error message
    names one of names (when given)."""
    import fastconv
    before = _snapshot(kw)
    fn = getattr(fastconv, fname)
    nthreads = fastconv.get_num_threads()
    try:
        try:
            res = fn(**kw)
            if fname == "set_num_threads":
                # The real test of a thread count: a kernel call big enough to go parallel
                # must still work.
                y = fastconv.conv2d(np.ones((4, 8, 32, 32)), np.ones((8, 8, 3, 3)))
                if not np.array_equal(y, np.full((4, 8, 30, 30), 72.0)):
                    return dict(outcome=OK, ok=False, detail="conv2d wrong after set_num_threads")
            outcome, msg = OK, ""
        except (ValueError, TypeError, MemoryError) as e:
            # Subclasses (np.exceptions.AxisError, ...) count as their base; OverflowError
            # is none of these and is caught below as unexpected.
            outcome = next(b.__name__ for b in (ValueError, TypeError, MemoryError)
                           if isinstance(e, b))
            msg = str(e)
        except Exception as e:
            return dict(outcome=type(e).__name__, ok=False,
                        detail=f"unexpected {type(e).__name__}: {e}\n"
                               + "".join(traceback.format_exc(limit=-3)))
    finally:
        if fname == "set_num_threads":
            fastconv.set_num_threads(nthreads)
    detail = msg
    ok = outcome in expect
    if not ok:
        detail = f"expected {sorted(expect)}, got {outcome}" + (f": {msg}" if msg else "")
    elif outcome == OK:
        why = verify(fname, kw, res, before)
        if why:
            ok, detail = False, why
    elif names and outcome in (VE, TE):
        low = msg.lower()
        if not any(n.lower() in low for n in names):
            ok = False
            detail = f"{outcome} message does not name {' or '.join(names)}: {msg!r}"
    return dict(outcome=outcome, ok=ok, detail=detail)


class KernelBoundaryError(AssertionError):
    """An array that the C kernels cannot take safely got past the Python layer."""


def guard_kernel_boundary():
    """Wrap every function of fastconv._kernels so that each array handed to C must be
    C-contiguous, aligned, in native byte order and of a kernel dtype.  The kernels trust these
    properties (an unaligned double* is undefined behaviour and faults under vector loads), so
    a case that breaks one is a failure even when this CPU happens to forgive it."""
    import functools
    from fastconv import _kernels
    ok_dtypes = {np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)}

    def check(name, a):
        if not isinstance(a, np.ndarray):
            return
        f = a.flags
        problems = [what for bad, what in ((not f.c_contiguous, "not C-contiguous"),
                                           (not f.aligned, "not aligned"),
                                           (not a.dtype.isnative, "not native byte order"),
                                           (a.dtype not in ok_dtypes, f"dtype {a.dtype}"))
                    if bad]
        if problems:
            raise KernelBoundaryError(f"_kernels.{name} received an array that is "
                                      + ", ".join(problems))

    def wrap(name, fn):
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            for a in list(args) + list(kwargs.values()):
                check(name, a)
            return fn(*args, **kwargs)
        return guarded

    for name in dir(_kernels):
        fn = getattr(_kernels, name)
        if callable(fn) and not name.startswith("_") and not isinstance(fn, type):
            setattr(_kernels, name, wrap(name, fn))


def main(argv):
    fname, first = argv[1], int(argv[2])
    only = argv[3] if len(argv) > 3 else None
    if not os.environ.get("FASTCONV_UNDER_SANITIZER"):
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))
    sys.path.insert(0, ROOT)
    import fastconv  # noqa: F401  (import errors are reported by the parent as a crash)
    guard_kernel_boundary()
    cs = cases(fname)
    for i in range(first, len(cs)):
        if only is not None and cs[i].id != only:
            continue
        print(f"START {i}", flush=True)
        r = run_case(fname, cs[i])
        print("RESULT " + json.dumps(r), flush=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv)
