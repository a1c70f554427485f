"""fastconv on dask arrays: convolution and pooling over arrays larger than one call, and a
model's predictions over a batch larger than memory.

    import dask.array as da, fastconv.dask as fd
    x = da.from_zarr("stack.zarr")                      # (N, C, H, W), chunked along N, H, W
    y = fd.conv2d(x, w, b, stride=2, padding="same")    # a dask array; nothing computed yet
    y.to_zarr("out.zarr")                               # any scheduler, local or distributed

`conv2d`, `max_pool2d` and `avg_pool2d` take the functional API's arguments and give the
single call's result (up to float rounding) for every chunking of N, H and W; the channels
must be one chunk.  Each output block is one task: it reads the input chunks its windows
touch (its own plus a halo from the neighbours), and runs the C kernel on them with the
padding that block really has at the image border.  Output blocks are aligned to the stride:
an output belongs to the input chunk that holds the start of its window, so the output
chunks follow the input chunks, divided by the stride.

`predict(model, x)` runs a `fastconv.nn` model, in eval mode, over a dask array chunked along
N.  The weights (or the model) are one key of the graph: a distributed cluster sends them to
each worker once, not with every task.

dask is an optional dependency (`pip install "dask[array]"`, plus `distributed` for
clusters).  The kernels release the GIL, so the threaded scheduler runs blocks in parallel;
each block call also uses fastconv's OpenMP threads (set_num_threads), so with several dask
threads per core set one of the two to 1.
"""
import copy
import math
import operator
import threading

import numpy as np

try:
    import dask
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
except ImportError as e:  # pragma: no cover - exercised only without dask
    raise ImportError("fastconv.dask needs dask: pip install 'dask[array]'") from e

from . import _args, _kernels
from .conv import _algorithm, _c, _NP_PAD_MODE
from .reference import _avg_divisor   # the contract's divisor, one axis at a time

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "predict"]


# ------------------------------------------------------------------- thread sharing --

_running_lock = threading.Lock()
_running = 0


class _share_threads:
    """Blocks that run at the same time in one process (the threaded scheduler, or a
    distributed worker with several threads) share fastconv's threads instead of each
    starting a full OpenMP team on 2 cores: k blocks at once get get_num_threads() // k
    each (at least 1), set on the block's own thread only.  A block alone keeps them all."""

    def __enter__(self):
        global _running
        with _running_lock:
            _running += 1
            running = _running
        total = _kernels.get_num_threads()
        share = max(1, total // running)
        self._old = _kernels.thread_limit(share) if share < total else None
        return self

    def __exit__(self, *exc):
        global _running
        if self._old is not None:
            _kernels.thread_limit(self._old)
        with _running_lock:
            _running -= 1
        return False


# ------------------------------------------------------------------------- planning --

def _axis_plan(chunks, out_len, k_eff, stride, before):
    """Split one spatial axis into output blocks.

    chunks: the input's chunk sizes along the axis; out_len: the single call's output size;
    k_eff: the window's extent (dilation*(k-1)+1); before: the padding before the first
    element.  Output o's window covers input [o*stride - before, o*stride - before + k_eff).

    -> list of (o_lo, o_hi, i_lo, i_hi, pad_before): outputs [o_lo, o_hi) read the input
    rows [i_lo, i_hi) and need pad_before rows of padding above i_lo (0 except at the top).
    Output o goes to the chunk holding its window start, clamped into [0, L)."""
    L = int(sum(chunks))
    bounds = np.concatenate([[0], np.cumsum(chunks)]).astype(np.int64)
    cuts = [0]
    for c in bounds[1:-1]:
        # first output whose window starts at or after c
        o = -((-(int(c) + before)) // stride)
        cuts.append(min(max(o, 0), out_len))
    cuts.append(out_len)
    plan = []
    for o_lo, o_hi in zip(cuts[:-1], cuts[1:]):
        if o_hi <= o_lo:
            continue    # an input chunk narrower than the stride holds no window start
        lo = o_lo * stride - before
        hi = (o_hi - 1) * stride - before + k_eff
        i_lo, i_hi = max(lo, 0), min(hi, L)
        plan.append((o_lo, o_hi, i_lo, i_hi, i_lo - lo))
    return plan, bounds


def _pieces(bounds, i_lo, i_hi):
    """Input chunk numbers overlapping [i_lo, i_hi), each with its local slice."""
    out = []
    first = int(np.searchsorted(bounds, i_lo, side="right")) - 1
    for c in range(max(first, 0), len(bounds) - 1):
        a, b = int(bounds[c]), int(bounds[c + 1])
        if a >= i_hi:
            break
        lo, hi = max(a, i_lo), min(b, i_hi)
        if hi > lo:
            out.append((c, slice(lo - a, hi - a)))
    return out


def _gather(blocks, hs, ws):
    """blocks[i][j]: input chunks (N, C, h_i, w_j) -> their slices, joined into one array;
    None when the block's windows lie wholly in the padding (a convolution's padding may be
    wider than its kernel)."""
    if not blocks or not blocks[0]:
        return None
    rows = [np.concatenate([b[:, :, hs[i], ws[j]] for j, b in enumerate(row)], axis=3)
            if len(row) > 1 else row[0][:, :, hs[i], ws[0]]
            for i, row in enumerate(blocks)]
    x = np.concatenate(rows, axis=2) if len(rows) > 1 else rows[0]
    return _c(x)


def _as_dask(x, fname):
    if not isinstance(x, da.Array):
        raise TypeError(f"fastconv.dask.{fname}: input must be a dask array, got "
                        f"{type(x).__name__} (use fastconv.{fname} for NumPy arrays)")
    if x.ndim not in (3, 4):
        raise ValueError(f"fastconv.dask.{fname}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) "
                         f"input, got {x.ndim}-D with shape {x.shape}")
    if any(math.isnan(s) for s in x.shape):
        raise ValueError(f"fastconv.dask.{fname}: input has unknown chunk sizes; call "
                         f"x.compute_chunk_sizes() first")
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    if len(x.chunks[1]) > 1:
        raise ValueError(f"fastconv.dask.{fname}: the channels must be one chunk, got chunks "
                         f"{x.chunks[1]} along the channel axis; rechunk with "
                         f"x.rechunk({{{1 - unbatched}: -1}})")
    return x, unbatched


def _stand_in(x):
    """A NumPy array of x's shape and dtype that costs no memory, so the functional API's own
    validation (and messages) decide what is accepted."""
    return np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape)


def _weight(w):
    if w is None:
        return None
    if isinstance(w, da.Array):
        w = w.compute()
    return np.asarray(w) if not isinstance(w, np.ndarray) else w


def _blockwise(fname, x, out_c, out_dtypes, plans, task, params, extra_keys=(), extra=None):
    """Build the graph: one task per (N chunk, output row block, output column block).

    task(blocks, hs, ws, block, params, *extra) -> ndarray, or a tuple of ndarrays when
    out_dtypes is a tuple; block = (pad_top, pad_left, h_out, w_out, row0, col0, n), row0/col0
    being the first input row and column the block read and n its batch size.  -> one dask array per output."""
    (hplan, hb), (wplan, wb) = plans
    many = isinstance(out_dtypes, tuple)
    tok = tokenize(x, params, extra_keys, fname)
    name = f"fastconv-{fname}-" + tok
    names = [f"fastconv-{fname}-{i}-" + tok for i in range(len(out_dtypes))] if many \
        else [name]
    dsk = dict(extra or {})
    for n in range(len(x.chunks[0])):
        for j, (oh0, oh1, ih0, ih1, pt) in enumerate(hplan):
            hp = _pieces(hb, ih0, ih1)
            for k, (ow0, ow1, iw0, iw1, pl) in enumerate(wplan):
                wp = _pieces(wb, iw0, iw1)
                keys = [[(x.name, n, 0, hc, wc) for wc, _ in wp] for hc, _ in hp]
                block = (pt, pl, oh1 - oh0, ow1 - ow0, ih0, iw0, x.chunks[0][n])
                dsk[(name, n, 0, j, k)] = (task, keys, [s for _, s in hp], [s for _, s in wp],
                                           block, params) + tuple(extra_keys)
                if many:
                    for i, nm in enumerate(names):
                        dsk[(nm, n, 0, j, k)] = (operator.getitem, (name, n, 0, j, k), i)
    chunks = (x.chunks[0], (out_c,), tuple(p[1] - p[0] for p in hplan),
              tuple(p[1] - p[0] for p in wplan))
    graph = HighLevelGraph.from_collections(names[-1], dsk, dependencies=[x])
    dts = out_dtypes if many else (out_dtypes,)
    arrays = [da.Array(graph, nm, chunks, meta=np.empty((0,) * 4, dtype=dt))
              for nm, dt in zip(names, dts)]
    return tuple(arrays) if many else arrays[0]


def _finish(y, unbatched):
    return y[0] if unbatched else y


# ----------------------------------------------------------------------- convolution --

def _conv_task(blocks, hs, ws, block, params, w, b):
    x = _gather(blocks, hs, ws)
    pt, pl, h_out, w_out = block[:4]
    (C_out, kH, kW, sH, sW, dH, dW, groups, algo) = params
    if x is None:     # every tap is padding: the bias alone, as the single call gives it
        y = np.zeros((block[6], C_out, h_out, w_out), dtype=w.dtype)
        return y if b is None else y + b[:, None, None]
    N, C_in, H, W = x.shape
    geom = (N, C_in, H, W, C_out, kH, kW, h_out, w_out, sH, sW, pt, pl, dH, dW, groups)
    # Weights that came over the network may sit unaligned in the message buffer.
    with _share_threads():
        return _kernels.conv2d_forward(x, _c(w), _c(b), geom, algo)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", algorithm="auto"):
    """fastconv.conv2d on a dask array chunked along N, H and W (channels in one chunk).
    weight and bias are NumPy arrays (a dask weight is computed first)."""
    x, unbatched = _as_dask(input, "conv2d")
    weight, bias = _weight(weight), _weight(bias)
    algo = _algorithm(algorithm)
    a = _args.conv2d_args(_stand_in(x), weight, bias, stride, padding, dilation, groups,
                          padding_mode)
    t, bt, l, r = a.pad
    if a.explicit_pad is not None:
        # reflect / replicate / circular need values from across the image: pad the whole
        # array first (dask moves only the border strips), then convolve it unpadded.
        x = da.pad(x, ((0, 0), (0, 0), (t, bt), (l, r)), mode=_NP_PAD_MODE[a.padding_mode])
        t = l = 0
    kH, kW = a.kH, a.kW
    (sH, sW), (dH, dW) = a.stride, a.dilation
    plans = (_axis_plan(x.chunks[2], a.H_out, dH * (kH - 1) + 1, sH, t),
             _axis_plan(x.chunks[3], a.W_out, dW * (kW - 1) + 1, sW, l))
    w = np.ascontiguousarray(a.weight)
    b = None if a.bias is None else np.ascontiguousarray(a.bias)
    tok = tokenize(w, b)
    wkey, bkey = ("fastconv-weight-" + tok,), ("fastconv-bias-" + tok,)
    params = (a.C_out, kH, kW, sH, sW, dH, dW, a.groups, algo)
    y = _blockwise("conv2d", x, a.C_out, a.dtype, plans, _conv_task, params,
                   extra_keys=(wkey, bkey), extra={wkey: w, bkey: b})
    return _finish(y, unbatched)


# --------------------------------------------------------------------------- pooling --

def _max_task(blocks, hs, ws, block, params):
    x = _gather(blocks, hs, ws)
    (kH, kW, sH, sW, dH, dW, want, W_full) = params
    pt, pl, h_out, w_out, row0, col0 = block[:6]
    N, C, H, W = x.shape
    geom = (N * C, H, W, h_out, w_out, kH, kW, sH, sW, pt, pl, dH, dW)
    with _share_threads():
        y, ind = _kernels.max_pool2d_forward(x.reshape(N * C, H, W), geom, bool(want), False)
    y = y.reshape(N, C, h_out, w_out)
    if not want:
        return y
    # The kernel's indices are flat in the rows and columns this block read: make them flat
    # in the whole input plane, as the single call gives them.
    ind = ind.reshape(N, C, h_out, w_out)
    return y, (ind // W + row0) * W_full + (ind % W + col0)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """fastconv.max_pool2d on a dask array chunked along N, H and W (channels in one chunk).
    With return_indices the indices are flat positions in the whole input plane, as in the
    single call."""
    x, unbatched = _as_dask(input, "max_pool2d")
    a = _args.max_pool2d_args(_stand_in(x), kernel_size, stride, padding, dilation, ceil_mode)
    want = _args.to_bool(return_indices, "return_indices")
    (kH, kW), (sH, sW), (pH, pW), (dH, dW) = a.kernel, a.stride, a.padding, a.dilation
    plans = (_axis_plan(x.chunks[2], a.H_out, dH * (kH - 1) + 1, sH, pH),
             _axis_plan(x.chunks[3], a.W_out, dW * (kW - 1) + 1, sW, pW))
    if not want:
        y = _blockwise("max_pool2d", x, a.C, a.dtype, plans, _max_task,
                       (kH, kW, sH, sW, dH, dW, 0, a.W))
        return _finish(y, unbatched)
    y, ind = _blockwise("max_pool2d_indices", x, a.C, (a.dtype, np.dtype(np.int64)), plans,
                        _max_task, (kH, kW, sH, sW, dH, dW, 1, a.W))
    return _finish(y, unbatched), _finish(ind, unbatched)


def _sum_task(blocks, hs, ws, block, params):
    x = _gather(blocks, hs, ws)
    pt, pl, h_out, w_out = block[:4]
    (kH, kW, sH, sW, divisor, C, dtype) = params
    if x is None:     # cannot happen while pooling padding is at most half the kernel
        return np.zeros((block[6], C, h_out, w_out), dtype=dtype)
    N, C, H, W = x.shape
    geom = (N * C, H, W, h_out, w_out, kH, kW, sH, sW, pt, pl, 1, 1)
    with _share_threads():
        y = _kernels.avg_pool2d_forward(x.reshape(N * C, H, W), geom, False, divisor)
    return y.reshape(N, C, h_out, w_out)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """fastconv.avg_pool2d on a dask array chunked along N, H and W (channels in one chunk)."""
    x, unbatched = _as_dask(input, "avg_pool2d")
    a = _args.avg_pool2d_args(_stand_in(x), kernel_size, stride, padding, ceil_mode,
                              count_include_pad, divisor_override)
    (kH, kW), (sH, sW), (pH, pW) = a.kernel, a.stride, a.padding
    plans = (_axis_plan(x.chunks[2], a.H_out, kH, sH, pH),
             _axis_plan(x.chunks[3], a.W_out, kW, sW, pW))
    if a.divisor_override is not None:
        params = (kH, kW, sH, sW, a.divisor_override, a.C, a.dtype)
        return _finish(_blockwise("avg_pool2d", x, a.C, a.dtype, plans, _sum_task, params),
                       unbatched)
    # Blocks at the image border see only part of the padding, so each block sums (divisor
    # 1) and the whole image's divisor (separable: rows x columns) is applied after.
    s = _blockwise("sum_pool2d", x, a.C, a.dtype, plans, _sum_task,
                   (kH, kW, sH, sW, 1, a.C, a.dtype))
    dh = _avg_divisor(a.H, kH, sH, pH, a.pad_end[0], a.H_out, a.count_include_pad)
    dw = _avg_divisor(a.W, kW, sW, pW, a.pad_end[1], a.W_out, a.count_include_pad)
    div = da.from_array((dh[:, None] * dw[None, :]).astype(a.dtype),
                        chunks=(s.chunks[2], s.chunks[3]))
    return _finish(s / div, unbatched)


# ------------------------------------------------------------------------- inference --

def _predict_task(x, model):
    with _share_threads():
        return model(np.ascontiguousarray(x))


def predict(model, x):
    """model(x) over a dask array chunked along N (the other axes are joined into one chunk
    if they are not).  The model runs in eval mode on a copy; the caller's model is left as it
    is.  The output's shape comes from running the model on an empty batch."""
    if not isinstance(x, da.Array):
        raise TypeError(f"fastconv.dask.predict: x must be a dask array, got {type(x).__name__}")
    if not callable(model) or not hasattr(model, "eval"):
        raise TypeError(f"fastconv.dask.predict: model must be a fastconv.nn Module, got "
                        f"{type(model).__name__}")
    m = copy.deepcopy(model)
    m.eval()
    if any(len(c) > 1 for c in x.chunks[1:]):
        x = x.rechunk({i: -1 for i in range(1, x.ndim)})
    try:
        probe = m(np.zeros((0,) + x.shape[1:], dtype=x.dtype))
    except Exception:      # a layer that refuses N == 0: use one real sample's shape
        probe = m(np.asarray(x[:1].compute()))
    tail = probe.shape[1:]
    tok = tokenize(x, id(model))
    mkey = ("fastconv-model-" + tok,)
    name = "fastconv-predict-" + tok
    dsk = {mkey: m}
    zeros = (0,) * len(tail)
    for n in range(len(x.chunks[0])):
        dsk[(name, n) + zeros] = (_predict_task, (x.name, n) + (0,) * (x.ndim - 1), mkey)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[x])
    chunks = (x.chunks[0],) + tuple((s,) for s in tail)
    return da.Array(graph, name, chunks, meta=np.empty((0,) * (1 + len(tail)), probe.dtype))
