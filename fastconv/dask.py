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

`store(y, target)` is dask.array.store, except that conv2d results go straight into NumPy
targets (arrays, memory maps): each block's kernel writes through the target's strides, so
no block array is made and copied over.

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

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "predict", "store"]


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
    if len(blocks) == 1 and len(blocks[0]) == 1:
        return _c(blocks[0][0][:, :, hs[0], ws[0]])
    # Each piece copied once into place (nested concatenates would copy the rows twice).
    first = blocks[0][0]
    heights = [row[0][:, :, hs[i], ws[0]].shape[2] for i, row in enumerate(blocks)]
    widths = [b[:, :, hs[0], ws[j]].shape[3] for j, b in enumerate(blocks[0])]
    x = np.empty(first.shape[:2] + (sum(heights), sum(widths)), dtype=first.dtype)
    r = 0
    for i, row in enumerate(blocks):
        c = 0
        for j, b in enumerate(row):
            x[:, :, r:r + heights[i], c:c + widths[j]] = b[:, :, hs[i], ws[j]]
            c += widths[j]
        r += heights[i]
    return x


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

def _conv_task(blocks, hs, ws, block, params, w, b, out=None):
    """One output block; with out (a view of the destination, fastconv.dask.store) the kernel
    writes it there and the task returns None."""
    x = _gather(blocks, hs, ws)
    pt, pl, h_out, w_out = block[:4]
    (C_out, kH, kW, sH, sW, dH, dW, groups, algo) = params
    if x is None:     # every tap is padding: the bias alone, as the single call gives it
        y = np.zeros((block[6], C_out, h_out, w_out), dtype=w.dtype)
        y = y if b is None else y + b[:, None, None]
    else:
        N, C_in, H, W = x.shape
        geom = (N, C_in, H, W, C_out, kH, kW, h_out, w_out, sH, sW, pt, pl, dH, dW, groups)
        # Weights that came over the network may sit unaligned in the message buffer.
        with _share_threads():
            if out is not None and _writes_in_place(out, w.dtype):
                _kernels.conv2d_forward_into(x, _c(w), _c(b), geom, algo, out)
                return None
            y = _kernels.conv2d_forward(x, _c(w), _c(b), geom, algo)
    if out is None:
        return y
    out[...] = y
    return None


def _writes_in_place(out, dtype):
    """A destination view the kernel can write through its strides: rows contiguous, and
    rows, planes and images each further apart than the extent of the axis inside them (a
    Fortran-ordered destination is written by assignment instead)."""
    if not (out.dtype == dtype and out.flags.writeable and out.flags.aligned):
        return False
    if out.shape[-1] > 1 and out.strides[-1] != out.itemsize:
        return False
    extent = out.shape[-1]     # elements spanned by one index of the axis being checked
    for n, st in zip(out.shape[-2::-1], out.strides[-2::-1]):
        if n > 1:
            if st < 0 or st % out.itemsize or st // out.itemsize < extent:
                return False
            extent += (n - 1) * (st // out.itemsize)
    return True


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
    tasks = {k: v for k, v in y.dask.layers[y.name].items() if k[0] == y.name}
    y4, y = y, _finish(y, unbatched)
    # What store() needs to rebuild the block tasks so that they write into a destination.
    y._fastconv_blocks = (y4, x, tasks, {wkey: w, bkey: b}, unbatched)
    return y


# ---------------------------------------------------------------------------- store --

def _region_view(target, region, shape):
    """target[region] as a view of target's memory when that is what it is, else None."""
    if not isinstance(target, np.ndarray):
        return None
    view = target if region is None else target[region]
    if not isinstance(view, np.ndarray) or view.shape != tuple(shape):
        return None
    if view.size and not np.may_share_memory(view, target):
        return None    # advanced indexing made a copy
    return view


def _done(*_):
    return None


def _shares_memory_with_caller(compute_kwargs):
    """True when the scheduler compute would use runs the tasks in this process (threaded or
    synchronous), so that they can write into the caller's arrays.  Worker processes get
    pickled copies; there the pairs go to dask.array.store, which behaves as it always does."""
    import dask.base
    import dask.local
    import dask.threaded
    get = dask.base.get_scheduler(get=compute_kwargs.get("get"),
                                  scheduler=compute_kwargs.get("scheduler"))
    return get is None or get in (dask.threaded.get, dask.local.get_sync)


def store(sources, targets, lock=True, regions=None, compute=True, **kwargs):
    """dask.array.store, with fastconv.dask.conv2d results written straight into NumPy
    destinations (arrays, np.memmap): each block's kernel stores its outputs through the
    destination's strides instead of into a block array that dask then copies over, which
    for a convolution to several channels is as much memory traffic as the convolution.

    sources, targets, regions and compute are dask.array.store's; the other keyword
    arguments go to compute (scheduler=, num_workers=, ...).  A pair whose source is not a
    fastconv.dask.conv2d result, or whose target is not a NumPy array (Zarr, HDF5), goes
    through dask.array.store unchanged (with lock, default True as there), and so does every
    pair when the scheduler runs tasks in other processes (distributed workers, the
    multiprocessing scheduler), which would write into copies of a NumPy target.  The blocks
    written directly need no lock: they are disjoint.  -> None, or with compute=False a
    Delayed that stores when computed."""
    from dask.delayed import Delayed
    single = isinstance(sources, da.Array)
    sources = [sources] if single else list(sources)
    targets = [targets] if single or not isinstance(targets, (list, tuple)) else \
        list(targets)
    if len(sources) != len(targets):
        raise ValueError(f"fastconv.dask.store: {len(sources)} sources but {len(targets)} "
                         f"targets")
    if regions is None or isinstance(regions, tuple) and all(
            isinstance(r, slice) for r in regions):
        regions = [regions] * len(sources)
    regions = list(regions)
    if len(regions) != len(sources):
        raise ValueError(f"fastconv.dask.store: {len(regions)} regions for {len(sources)} "
                         f"sources")
    rest = ([], [], [])
    layers, deps, keys = {}, [], []
    local = _shares_memory_with_caller(kwargs)
    for src, tgt, reg in zip(sources, targets, regions):
        info = getattr(src, "_fastconv_blocks", None) if local else None
        view = _region_view(tgt, reg, src.shape) if info is not None else None
        if view is None:
            for lst, v in zip(rest, (src, tgt, reg)):
                lst.append(v)
            continue
        y4, x, tasks, extra, unbatched = info
        out = view[None] if unbatched else view
        tok = tokenize(src.name, id(tgt), reg)
        tkey = ("fastconv-target-" + tok,)
        name = "fastconv-store-" + tok
        dsk = dict(extra)
        dsk[tkey] = out
        rows = np.concatenate([[0], np.cumsum(y4.chunks[2])])
        cols = np.concatenate([[0], np.cumsum(y4.chunks[3])])
        imgs = np.concatenate([[0], np.cumsum(y4.chunks[0])])
        for (_, n, _c0, j, k), spec in tasks.items():
            assert spec[0] is _conv_task
            index = (int(imgs[n]), int(imgs[n + 1]), int(rows[j]), int(rows[j + 1]),
                     int(cols[k]), int(cols[k + 1]))
            dsk[(name, n, j, k)] = (_store_block, tkey, index) + spec[1:]
            keys.append((name, n, j, k))
        layers[name] = dsk
        deps.append(x)
    parts = []
    if keys:
        final = "fastconv-stored-" + tokenize(keys)
        graph = HighLevelGraph.merge(*(HighLevelGraph.from_collections(nm, d, dependencies=deps)
                                       for nm, d in layers.items()),
                                     HighLevelGraph({final: {final: (_done, keys)}},
                                                    {final: set(layers)}))
        parts.append(Delayed(final, graph))
    if rest[0]:
        parts.append(da.store(rest[0], rest[1], lock=lock, regions=rest[2], compute=False))
    if not compute:
        if len(parts) == 1:
            return parts[0]
        return dask.delayed(_done)(*parts)
    dask.compute(*parts, **kwargs)
    return None


def _store_block(out, index, blocks, hs, ws, block, params, w, b):
    n0, n1, r0, r1, c0, c1 = index
    return _conv_task(blocks, hs, ws, block, params, w, b, out=out[n0:n1, :, r0:r1, c0:c1])


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
