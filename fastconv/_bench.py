"""``python -m fastconv bench``: time fastconv against PyTorch and the NumPy reference.

The layer suite below is the one list every benchmark uses (this command and the
pytest-benchmark suites under ``bench/``).  Measurement discipline, because the machine the
numbers come from is usually shared and noisy:

* every implementation runs in this one process, interleaved (one sample of each in turn,
  the order rotating between rounds), after a warm-up call, and the median of the samples
  is reported; ratios are ratios of medians taken under the same conditions;
* torch gets the same thread count as fastconv;
* the percent-of-peak column divides by the FMA peak *measured* here by a built-in probe
  (``fastconv._kernels.fma_peak_gflops``), pooling by the measured memory bandwidth.
"""
import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass, field, asdict

import numpy as np

# ------------------------------------------------------------------------------ suite --

# name  N,C_in,HxW,C_out,kernel,stride,padding,dilation,groups
CONV_SUITE_SPEC = """
lenet_c1    64,1,32x32,6,5,1,0,1,1
lenet_c3    64,6,14x14,16,5,1,0,1,1
cifar_in    64,3,32x32,32,3,1,1,1,1
cifar_32    64,32,32x32,32,3,1,1,1,1
cifar_64    64,64,16x16,64,3,1,1,1,1
resnet_64   8,64,56x56,64,3,1,1,1,1
resnet_128  8,128,28x28,128,3,1,1,1,1
resnet_256  8,256,14x14,256,3,1,1,1,1
resnet_512  8,512,7x7,512,3,1,1,1,1
stem        8,3,224x224,64,7,2,3,1,1
pointwise   8,256,56x56,64,1,1,0,1,1
depthwise   8,32,112x112,32,3,1,1,1,32
strided     8,128,28x28,256,3,2,1,1,1
dilated     8,64,56x56,64,3,1,2,2,1
"""

# name  kind,N,C,HxW,kernel,stride,padding   (adaptive kinds: kind,N,C,HxW,output_size)
POOL_SUITE_SPEC = """
maxpool_2s2     max,64,32,32x32,2,2,0
maxpool_3s2p1   max,8,64,112x112,3,2,1
avgpool_2s2     avg,64,6,28x28,2,2,0
avgpool_3s1p1   avg,8,64,56x56,3,1,1
adaptive_avg_1  adaptive_avg,32,512,7x7,1
"""

PASSES = ("fwd", "bwd")


@dataclass(frozen=True)
class ConvLayer:
    name: str
    N: int
    C_in: int
    H: int
    W: int
    C_out: int
    k: int
    stride: int
    padding: int
    dilation: int
    groups: int

    kind = "conv"

    @property
    def out_hw(self):
        def size(n):
            return (n + 2 * self.padding - self.dilation * (self.k - 1) - 1) // self.stride + 1
        return size(self.H), size(self.W)

    def flops(self, pass_):
        """Multiply-adds count 2; backward = data + weight gradients = 2x forward."""
        ho, wo = self.out_hw
        fwd = (2 * self.N * self.C_out * ho * wo * (self.C_in // self.groups)
               * self.k * self.k)
        return fwd if pass_ == "fwd" else 2 * fwd

    def geom(self):
        """The geometry tuple fastconv._kernels takes."""
        ho, wo = self.out_hw
        return (self.N, self.C_in, self.H, self.W, self.C_out, self.k, self.k, ho, wo,
                self.stride, self.stride, self.padding, self.padding,
                self.dilation, self.dilation, self.groups)

    def describe(self):
        return (f"{self.N}x{self.C_in}x{self.H}x{self.W} -> {self.C_out} k{self.k} "
                f"s{self.stride} p{self.padding} d{self.dilation} g{self.groups}")


@dataclass(frozen=True)
class PoolCase:
    name: str
    op: str            # "max", "avg", "adaptive_avg"
    N: int
    C: int
    H: int
    W: int
    k: int = 0         # kernel (max/avg) or output size (adaptive)
    stride: int = 0
    padding: int = 0

    kind = "pool"

    @property
    def out_hw(self):
        if self.op.startswith("adaptive"):
            return self.k, self.k
        return tuple((n + 2 * self.padding - self.k) // self.stride + 1 for n in (self.H, self.W))

    def bytes_moved(self, pass_, itemsize):
        """Bytes the pass must read and write: its input plus its output (forward: x and y;
        backward: grad_output and grad_input)."""
        ho, wo = self.out_hw
        return itemsize * self.N * self.C * (self.H * self.W + ho * wo)

    def describe(self):
        if self.op.startswith("adaptive"):
            return f"{self.op} {self.N}x{self.C}x{self.H}x{self.W} -> {self.k}x{self.k}"
        return (f"{self.op} {self.N}x{self.C}x{self.H}x{self.W} k{self.k} s{self.stride} "
                f"p{self.padding}")


def _ints(text):
    return [int(v) for v in text.replace("x", ",").split(",")]


def parse_conv_layer(line):
    """'name N,C_in,HxW,C_out,k,stride,padding,dilation,groups' -> ConvLayer."""
    name, spec = line.replace("=", " ").split()
    vals = _ints(spec)
    if len(vals) != 10:
        raise ValueError(f"conv layer spec {line!r}: expected N,C_in,HxW,C_out,k,s,p,d,g")
    return ConvLayer(name, *vals)


def parse_pool_case(line):
    """'name kind,N,C,HxW,k,stride,padding' or 'name adaptive_avg,N,C,HxW,out' -> PoolCase."""
    name, spec = line.replace("=", " ").split()
    op, rest = spec.split(",", 1)
    vals = _ints(rest)
    want = 5 if op.startswith("adaptive") else 7
    if op not in ("max", "avg", "adaptive_avg") or len(vals) != want:
        raise ValueError(f"pool spec {line!r}: expected max|avg,N,C,HxW,k,s,p or "
                         "adaptive_avg,N,C,HxW,out")
    return PoolCase(name, op, *vals)


def _parse_suite(spec, parse):
    return tuple(parse(line) for line in spec.strip().splitlines())


CONV_LAYERS = _parse_suite(CONV_SUITE_SPEC, parse_conv_layer)
POOL_CASES = _parse_suite(POOL_SUITE_SPEC, parse_pool_case)


# ---------------------------------------------------------------- implementations ---

def _load_torch():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None, None
    return torch, F


def _load_ort():
    """onnxruntime and onnx, or (None, None) when either is missing (optional extras)."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        return None, None
    return onnxruntime, onnx


def ort_conv_session(layer, w, b, threads):
    """An ONNX Runtime session running one float32 Conv node of this layer (its CPU provider
    has no float64 Conv), with `threads` intra-op threads.  Spinning is off: its idle threads would otherwise
    spin into the next implementation's timing block on a 2-core machine."""
    ort, onnx = _load_ort()
    from onnx import TensorProto, helper, numpy_helper
    et = TensorProto.FLOAT
    ho, wo = layer.out_hw
    node = helper.make_node("Conv", ["X", "W", "B"], ["Y"],
                            strides=[layer.stride] * 2, pads=[layer.padding] * 4,
                            dilations=[layer.dilation] * 2, group=layer.groups,
                            kernel_shape=[layer.k] * 2)
    graph = helper.make_graph(
        [node], "conv",
        [helper.make_tensor_value_info("X", et, [layer.N, layer.C_in, layer.H, layer.W])],
        [helper.make_tensor_value_info("Y", et, [layer.N, layer.C_out, ho, wo])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = min(model.ir_version, 9)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])


def _load_reference():
    try:
        from fastconv import reference
    except ImportError:
        return None
    return reference


def _conv_inputs(layer, dtype, rng):
    x = rng.standard_normal((layer.N, layer.C_in, layer.H, layer.W)).astype(dtype)
    w = (rng.standard_normal((layer.C_out, layer.C_in // layer.groups, layer.k, layer.k))
         * 0.1).astype(dtype)
    b = rng.standard_normal(layer.C_out).astype(dtype)
    ho, wo = layer.out_hw
    gy = rng.standard_normal((layer.N, layer.C_out, ho, wo)).astype(dtype)
    return x, w, b, gy


def parse_variant(name):
    """'fastconv', 'fastconv[im2col]', 'fastconv@generic', 'fastconv[direct]@generic' ->
    (algorithm, isa or None for the current one); None for other implementations."""
    m = re.fullmatch(r"fastconv(?:\[(\w+)\])?(?:@(\w+))?", name)
    return None if m is None else (m.group(1) or "auto", m.group(2))


def variant_label(name):
    algo, isa = parse_variant(name)
    return (algo if algo != "auto" else "auto") + (f"@{isa}" if isa else "")


def _on_isa(isa, fn):
    """fn run on the given instruction-set path (then the previous one restored)."""
    from fastconv import _kernels
    if isa is None:
        return fn
    if isa not in _kernels.available_isas():
        return NotImplementedError(f"this CPU cannot run the {isa!r} path")

    def run():
        before = _kernels.get_isa()
        _kernels.set_isa(isa)
        try:
            return fn()
        finally:
            _kernels.set_isa(before)
    return run


def conv_callables(layer, pass_, dtype, impls, rng):
    """{impl name: zero-argument callable running that pass}.  impls: names among
    'fastconv' (algorithm "auto", current ISA), its variants 'fastconv[ALGO]',
    'fastconv@ISA', 'fastconv[ALGO]@ISA' (see parse_variant), 'reference', 'torch', 'ort'
    (ONNX Runtime, forward only).  A missing implementation maps to the exception saying
    why."""
    import fastconv
    x, w, b, gy = _conv_inputs(layer, dtype, rng)
    geo = dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
               groups=layer.groups)
    out = {}
    for name in impls:
        if parse_variant(name) is not None:
            algo, isa = parse_variant(name)
            if pass_ == "fwd":
                fn = (lambda a=algo: fastconv.conv2d(x, w, b, algorithm=a, **geo))
            else:
                fn = (lambda a=algo: fastconv.conv2d_backward(gy, x, w, algorithm=a, **geo))
            out[name] = _on_isa(isa, fn)
        elif name == "reference":
            ref = _load_reference()
            if ref is None:
                out[name] = NotImplementedError("fastconv.reference is not available")
            elif pass_ == "fwd":
                out[name] = lambda: ref.conv2d(x, w, b, **geo)
            else:
                out[name] = lambda: ref.conv2d_backward(gy, x, w, **geo)
        elif name == "torch":
            torch, F = _load_torch()
            if torch is None:
                out[name] = NotImplementedError("torch is not installed")
                continue
            xt, wt, bt, gyt = (torch.from_numpy(a) for a in (x, w, b, gy))
            if pass_ == "fwd":
                def run(xt=xt, wt=wt, bt=bt):
                    with torch.no_grad():
                        return F.conv2d(xt, wt, bt, **geo)
            else:
                xt, wt, bt = (t.clone().requires_grad_(True) for t in (xt, wt, bt))
                yt = F.conv2d(xt, wt, bt, **geo)

                def run(xt=xt, wt=wt, bt=bt, yt=yt, gyt=gyt):
                    return torch.autograd.grad(yt, (xt, wt, bt), gyt, retain_graph=True)
            out[name] = run
        elif name == "ort":
            if _load_ort()[0] is None:
                out[name] = NotImplementedError("onnxruntime/onnx are not installed")
            elif pass_ != "fwd":
                out[name] = NotImplementedError("ONNX Runtime runs inference only")
            elif x.dtype != np.float32:
                out[name] = NotImplementedError("ONNX Runtime's CPU Conv is float32 only")
            else:
                sess = ort_conv_session(layer, w, b, fastconv.get_num_threads())
                out[name] = lambda sess=sess: sess.run(None, {"X": x})
        else:
            raise ValueError(f"unknown implementation {name!r}")
    return out


def _pool_kwargs(case):
    if case.op.startswith("adaptive"):
        return dict(output_size=case.k)
    return dict(kernel_size=case.k, stride=case.stride, padding=case.padding)


def pool_callables(case, pass_, dtype, impls, rng):
    """Same as conv_callables for a pooling case."""
    import fastconv
    x = rng.standard_normal((case.N, case.C, case.H, case.W)).astype(dtype)
    ho, wo = case.out_hw
    gy = rng.standard_normal((case.N, case.C, ho, wo)).astype(dtype)
    kw = _pool_kwargs(case)
    out = {}
    for name in impls:
        variant = parse_variant(name)
        if variant is not None and variant[0] != "auto":
            continue   # the algorithm variants exist for convolution only
        if name == "ort":
            out[name] = NotImplementedError("ONNX Runtime pooling is not timed")
            continue
        if variant is not None:
            out[name] = _on_isa(variant[1], _numpy_pool_callable(fastconv, case, pass_, x, gy,
                                                                 kw, use_indices=True))
        elif name == "reference":
            mod = _load_reference()
            if mod is None:
                out[name] = NotImplementedError("fastconv.reference is not available")
                continue
            out[name] = _numpy_pool_callable(mod, case, pass_, x, gy, kw, use_indices=False)
        elif name == "torch":
            torch, F = _load_torch()
            if torch is None:
                out[name] = NotImplementedError("torch is not installed")
                continue
            fn = {"max": F.max_pool2d, "avg": F.avg_pool2d,
                  "adaptive_avg": F.adaptive_avg_pool2d}[case.op]
            xt, gyt = torch.from_numpy(x), torch.from_numpy(gy)
            if pass_ == "fwd":
                def run(fn=fn, xt=xt):
                    with torch.no_grad():
                        return fn(xt, **kw)
            else:
                xt = xt.clone().requires_grad_(True)
                yt = fn(xt, **kw)

                def run(xt=xt, yt=yt, gyt=gyt):
                    return torch.autograd.grad(yt, (xt,), gyt, retain_graph=True)
            out[name] = run
    return out


def _numpy_pool_callable(mod, case, pass_, x, gy, kw, use_indices):
    if case.op == "max":
        if pass_ == "fwd":
            return lambda: mod.max_pool2d(x, **kw)
        # Backward from saved indices, as torch's autograd does; the oracle recomputes.
        idx = None
        if use_indices:
            try:
                idx = mod.max_pool2d(x, return_indices=True, **kw)[1]
            except NotImplementedError:
                idx = None
        return lambda: mod.max_pool2d_backward(gy, x, indices=idx, **kw)
    if case.op == "avg":
        if pass_ == "fwd":
            return lambda: mod.avg_pool2d(x, **kw)
        return lambda: mod.avg_pool2d_backward(gy, x.shape, **kw)
    if pass_ == "fwd":
        return lambda: mod.adaptive_avg_pool2d(x, **kw)
    return lambda: mod.adaptive_avg_pool2d_backward(gy, x.shape)


# --------------------------------------------------------------------- measuring ---

@dataclass
class ImplResult:
    status: str = "ok"               # "ok", "n/a" (not implemented), "skipped", "error: ..."
    median_s: float = None
    min_s: float = None
    samples: list = field(default_factory=list)
    inner: int = 1                   # calls per sample (short calls are batched)
    extra_mib: float = None          # peak RSS growth during one call, minus its results


def _call_timed(fn, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def _first_call(fn, res):
    """Warm-up call; classifies the implementation.  Returns its time or None."""
    if isinstance(fn, Exception):
        res.status = "n/a"
        return None
    try:
        return _call_timed(fn, 1)
    except NotImplementedError:
        res.status = "n/a"
    except Exception as e:  # a broken kernel must not stop the whole benchmark
        res.status = f"error: {type(e).__name__}: {e}"[:200]
    return None


def measure(fns, repeats, slow=(), slow_repeats=1, min_sample=0.01, warmup=1, budget=None):
    """Interleaved timing.  fns: {name: callable or Exception}.  Implementations in `slow`
    (the NumPy reference) are not warmed up and get `slow_repeats` samples, their first
    call counting as one.  With a `budget` (seconds per implementation), an implementation
    whose calls are slow gets fewer samples (at least 3) so one case cannot take minutes.
    Returns {name: ImplResult}."""
    results = {name: ImplResult() for name in fns}
    wanted = {}
    live = []
    for name, fn in fns.items():
        t = _first_call(fn, results[name])
        if t is None:
            continue
        res = results[name]
        if name in slow:
            res.samples.append(t)
            wanted[name] = slow_repeats
        else:
            # Batch calls shorter than min_sample so the timer's resolution and the loop
            # overhead stay negligible.
            res.inner = max(1, min(1000, int(min_sample / max(t, 1e-9))))
            for _ in range(warmup - 1):
                fn()
            wanted[name] = repeats
            if budget is not None:
                fit = int(budget / max(t * res.inner, 1e-9))
                wanted[name] = max(min(3, repeats), min(repeats, fit))
        live.append(name)
    for r in range(max(wanted.values(), default=0)):
        order = live[r % len(live):] + live[:r % len(live)]
        for name in order:
            res = results[name]
            if len(res.samples) < wanted[name]:
                res.samples.append(_call_timed(fns[name], res.inner))
    for name in live:
        res = results[name]
        res.median_s = statistics.median(res.samples)
        res.min_s = min(res.samples)
    return results


def _steady_heap():
    """glibc's mmap threshold adapts to the frees it sees, so whether a call's buffers (an
    output of tens of MiB) came from fresh, page-faulting mappings or from reused heap
    depended on what the implementation timed before it had freed: the same algorithm
    measured up to 1.45x apart in two columns of one run (stem: 11.2 vs 7.7 ms), torch
    likewise (13.1 vs 8.0 ms).  Fixed high for the timing, every implementation reuses its
    memory as in a steady training loop; the peak-memory pass sets its own threshold."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak resident-memory growth of one call (Linux: reset VmHWM via clear_refs).

    glibc keeps freed blocks resident and reuses them, which would hide a workspace
    allocated again: before each measured call every free page is handed back to the OS
    (malloc_trim), so whatever the call allocates and touches is counted.  The mmap
    threshold is also fixed (which disables glibc's adaptive threshold for the rest of the
    process, so this is only switched on after all timing is done)."""

    def __init__(self):
        self.available = (sys.platform.startswith("linux")
                          and os.access("/proc/self/clear_refs", os.W_OK))
        self.note = None if self.available else "peak memory: needs Linux /proc; skipped"
        self._trim = None

    def enable(self):
        if not self.available:
            return
        try:
            libc = ctypes.CDLL(None)
            M_MMAP_THRESHOLD = -3
            libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
            self._trim = libc.malloc_trim
        except (OSError, AttributeError):
            self.note = ("peak memory: not glibc; freed heap pages reused by a call are "
                         "not counted")

    @staticmethod
    def _status_kib(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
        return 0

    def extra_mib(self, fn):
        if not self.available or isinstance(fn, Exception):
            return None
        if self._trim is not None:
            self._trim(0)
        base = self._status_kib("VmRSS:")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        try:
            out = fn()
        except Exception:
            return None
        peak = self._status_kib("VmHWM:")
        kept = sum(_nbytes(o) for o in (out if isinstance(out, tuple) else (out,)))
        return max(0.0, (peak - base) * 1024.0 - kept) / 2**20


def _nbytes(obj):
    if obj is None:
        return 0
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    try:  # torch tensor
        return obj.element_size() * obj.nelement()
    except AttributeError:
        return 0


# ---------------------------------------------------------------------- running ---

ALGO_PASS = {"fwd": (0,), "bwd": (1, 2)}


def chosen_algo(layer, pass_, itemsize):
    from fastconv import _kernels
    try:
        names = [_kernels.choose_conv_algo(layer.geom(), p, itemsize) for p in ALGO_PASS[pass_]]
    except Exception:
        return "?"
    return "/".join(dict.fromkeys(names))   # "direct" or "im2col/direct" (data/weight)


def run(cases, passes=PASSES, dtype="float32", threads=None, repeats=5, impls=None,
        ref_repeats=1, ref_budget=30.0, measure_memory=True, progress=None, seed=0,
        probe_time=0.05, budget=None):
    """Benchmark `cases` (ConvLayer / PoolCase).  Returns (meta, rows)."""
    import fastconv
    from fastconv import _kernels
    dtype = np.dtype(dtype)
    if impls is None:
        impls = ["fastconv", "torch", "reference"]
    torch = _load_torch()[0] if "torch" in impls else None
    if torch is None:
        impls = [i for i in impls if i != "torch"]
    old_threads = fastconv.get_num_threads()
    old_torch_threads = torch.get_num_threads() if torch is not None else None
    if threads is not None:
        fastconv.set_num_threads(threads)
    threads = fastconv.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        meta = _machine_meta(dtype, threads, repeats, torch)
        probes = _Probes(dtype, threads, probe_time, any(c.kind == "pool" for c in cases))
        probes.measure()
        _steady_heap()
        rows = []
        # Per kind (flops or bytes): the work beyond which the reference is skipped.
        ref_too_slow_above = {"conv": math.inf, "pool": math.inf}
        for case in cases:
            for pass_ in passes:
                rows.append(_run_one(case, pass_, dtype, impls, repeats, ref_repeats,
                                     ref_too_slow_above[case.kind], seed, budget))
                row = rows[-1]
                ref = row["impls"].get("reference")
                if ref is not None and ref.median_s is not None and ref.median_s > ref_budget:
                    ref_too_slow_above[case.kind] = min(ref_too_slow_above[case.kind],
                                                        row["work"])
                if progress:
                    progress(row)
        probes.measure()
        probes.report(meta)
        if measure_memory:
            mem = PeakMemory()
            mem.enable()
            for row in rows:
                fns = _callables(row["case"], row["pass"], dtype,
                                 [i for i in impls if i != "reference"],
                                 np.random.default_rng(seed))
                for name, fn in fns.items():
                    if row["impls"][name].status == "ok":
                        row["impls"][name].extra_mib = mem.extra_mib(fn)
                del fns
            if mem.note:
                meta["notes"].append(mem.note)
        else:
            meta["notes"].append("peak memory: not measured (--no-memory)")
        return meta, rows
    finally:
        fastconv.set_num_threads(old_threads)
        if torch is not None:
            torch.set_num_threads(old_torch_threads)


class _Probes:
    """The machine limits, probed before and after the suite, best of all runs kept: on a
    shared machine a probe that shares its cores reads low, which would inflate every
    percentage.  Many short runs give the best chance of one undisturbed run.

    The percentages divide by max(peak on all threads, threads x one-thread peak): a busy
    machine rarely leaves every core free at once, while one free core is common, and the
    extrapolation can only overstate the peak (if all-core clocks are lower), i.e. make
    fastconv's percentages conservative."""

    def __init__(self, dtype, threads, probe_time, bandwidth):
        self.dtype, self.threads, self.probe_time = dtype, threads, probe_time
        self.bandwidth = bandwidth
        self.peaks, self.peaks_1t, self.bws = [], [], []

    def measure(self):
        from fastconv import _kernels
        short = self.probe_time / 10
        self.peaks.append(_kernels.fma_peak_gflops(self.dtype, self.threads, 2 * short, 15))
        self.peaks_1t.append(_kernels.fma_peak_gflops(self.dtype, 1, short, 40))
        if self.bandwidth:
            # Arrays well beyond the last-level cache unless the probe is cut short.
            nbytes = (64 << 20) if self.probe_time >= 0.05 else (8 << 20)
            self.bws.append(_kernels.memory_bandwidth_gbs(self.threads, nbytes))

    def report(self, meta):
        all_threads, one = max(self.peaks), max(self.peaks_1t)
        meta["fma_peak_all_threads_gflops"] = all_threads
        meta["fma_peak_1thread_gflops"] = one
        meta["fma_peak_gflops"] = max(all_threads, one * self.threads)
        if all_threads < 0.8 * one * self.threads:
            meta["notes"].append(
                f"%peak divides by {self.threads} x the one-thread FMA peak ({one:.1f} "
                f"GFLOP/s): the all-thread probe read only {all_threads:.1f} (cores busy with "
                "other work)")
        if self.bws:
            meta["memory_bandwidth_gbs"] = max(self.bws)
            meta["memory_bandwidth_probes"] = self.bws


def _callables(case, pass_, dtype, impls, rng):
    f = conv_callables if case.kind == "conv" else pool_callables
    return f(case, pass_, dtype, impls, rng)


def _run_one(case, pass_, dtype, impls, repeats, ref_repeats, ref_too_slow_above, seed,
             budget):
    work = case.flops(pass_) if case.kind == "conv" else case.bytes_moved(pass_,
                                                                          dtype.itemsize)
    use = list(impls)
    skipped = []
    if "reference" in use and (work > ref_too_slow_above or ref_repeats < 1):
        use.remove("reference")
        skipped.append("reference")
    fns = _callables(case, pass_, dtype, use, np.random.default_rng(seed))
    res = measure(fns, repeats, slow=("reference",), slow_repeats=ref_repeats, budget=budget)
    for name in skipped:
        res[name] = ImplResult(status="skipped")
    del fns
    row = {"case": case, "pass": pass_, "work": work, "impls": res,
           "algo": chosen_algo(case, pass_, dtype.itemsize) if case.kind == "conv" else ""}
    fc = res.get("fastconv")
    row["ratio"] = {}
    for other in ("torch", "ort", "reference"):
        o = res.get(other)
        if fc and o and fc.median_s and o.median_s:
            # > 1: fastconv is faster.
            row["ratio"][other] = o.median_s / fc.median_s
    return row


def _machine_meta(dtype, threads, repeats, torch):
    import fastconv
    from fastconv import _runtime
    cfg = _runtime.config()
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "fastconv": fastconv.__version__,
        "isa": cfg["isa"],
        "openmp": cfg["openmp"],
        "threads": threads,
        "dtype": dtype.name,
        "repeats": repeats,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "onnxruntime": getattr(_load_ort()[0], "__version__", None),
        "notes": [],
    }


# ---------------------------------------------------------------------- reporting ---

def _fmt(v, spec, missing="-"):
    return missing if v is None else format(v, spec)


def _impl_cell(res):
    if res is None:
        return "-"
    if res.status != "ok":
        return res.status if len(res.status) <= 8 else res.status.split(":")[0]
    return f"{res.median_s * 1e3:.3f}"


def format_table(meta, rows):
    """The human-readable report: one line per layer and pass."""
    lines = []
    conv = [r for r in rows if r["case"].kind == "conv"]
    pool = [r for r in rows if r["case"].kind == "pool"]
    peak = meta["fma_peak_gflops"]
    lines.append(f"fastconv {meta['fastconv']}  isa={meta['isa']}  threads={meta['threads']}  "
                 f"dtype={meta['dtype']}  repeats={meta['repeats']}  cpu={meta['cpu']}")
    lines.append(f"measured FMA peak: {peak:.1f} GFLOP/s (all threads "
                 f"{meta['fma_peak_all_threads_gflops']:.1f}, one thread "
                 f"{meta['fma_peak_1thread_gflops']:.1f})"
                 + (f"   memory bandwidth: {meta['memory_bandwidth_gbs']:.1f} GB/s"
                    if "memory_bandwidth_gbs" in meta else "")
                 + f"   torch: {meta['torch'] or 'not timed'}"
                 + f"   onnxruntime: {meta.get('onnxruntime') or 'not timed'}")
    lines.append("times are medians in ms; 'x torch' / 'x ort' / 'x ref' = their time / "
                 "fastconv's "
                 "(> 1: fastconv faster); extra = peak RSS growth of one call minus results")
    for subset, first, limit, limit_name in (
            (conv, "layer", peak, "%peak"),
            (pool, "pool", meta.get("memory_bandwidth_gbs"), "%bw")):
        if subset:
            lines.append("")
            lines.extend(_table(subset, first, limit, limit_name))
    lines.append("")
    for label, subset in (("conv", conv), ("pool", pool)):
        for pass_ in PASSES:
            sub = [r for r in subset if r["pass"] == pass_]
            if not sub:
                continue
            parts = []
            for other in ("torch", "ort", "reference"):
                g = geomean([r["ratio"][other] for r in sub if other in r["ratio"]])
                n = sum(other in r["ratio"] for r in sub)
                if g is not None:
                    parts.append(f"x {other}: {g:.2f} (geomean of {n})")
            lines.append(f"{label} {pass_}: " + ("; ".join(parts) or "no ratios"))
    for note in meta["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _rate(row, res):
    if res is None or res.median_s is None:
        return None
    return row["work"] / res.median_s / 1e9


def _table(rows, first, limit, limit_name):
    """Lines of one table: a column per (header, width, cell function)."""
    unit = "GFLOP/s" if rows[0]["case"].kind == "conv" else "GB/s"

    def impl(name):
        return lambda r: r["impls"].get(name)

    def rate(r):
        return _rate(r, r["impls"].get("fastconv"))

    cols = [(first, -15, lambda r: r["case"].name), ("pass", -4, lambda r: r["pass"])]
    if unit == "GFLOP/s":
        cols.append(("algo", -14, lambda r: r["algo"]))
    cols.append(("fastconv", 9, lambda r: _impl_cell(impl("fastconv")(r))))
    # Variants ("fastconv[im2col]", "fastconv@generic" ...) get a time column each.
    for name in dict.fromkeys(n for r in rows for n in r["impls"]):
        if name != "fastconv" and parse_variant(name) is not None:
            label = variant_label(name)
            cols.append((label, max(9, len(label)), lambda r, f=impl(name): _impl_cell(f(r))))
    cols += [
        (unit, 8, lambda r: _fmt(rate(r), ".1f")),
        (limit_name, 6, lambda r: _fmt(rate(r) and limit and 100 * rate(r) / limit, ".1f")),
        ("torch", 9, lambda r: _impl_cell(impl("torch")(r))),
        ("x torch", 7, lambda r: _fmt(r["ratio"].get("torch"), ".2f")),
        ("ort", 9, lambda r: _impl_cell(impl("ort")(r))),
        ("x ort", 6, lambda r: _fmt(r["ratio"].get("ort"), ".2f")),
        ("ref", 9, lambda r: _impl_cell(impl("reference")(r))),
        ("x ref", 7, lambda r: _fmt(r["ratio"].get("reference"), ".1f")),
        ("extra MiB", 9, lambda r: _fmt(getattr(impl("fastconv")(r), "extra_mib", None), ".1f")),
        ("torch MiB", 9, lambda r: _fmt(getattr(impl("torch")(r), "extra_mib", None), ".1f")),
    ]

    def line(cells):
        return " ".join(f"{c:<{-w}}" if w < 0 else f"{c:>{w}}"
                        for c, (_, w, _) in zip(cells, cols))

    head = line([c[0] for c in cols])
    return [head, "-" * len(head)] + [line([f(r) for _, _, f in cols]) for r in rows]


def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def to_json(meta, rows):
    out = []
    for r in rows:
        c = r["case"]
        impls = {}
        for name, res in r["impls"].items():
            d = asdict(res)
            d["rate"] = _rate(r, res)
            impls[name] = d
        out.append({
            "name": c.name, "kind": c.kind, "pass": r["pass"], "spec": asdict(c),
            "describe": c.describe(),
            ("flops" if c.kind == "conv" else "bytes"): r["work"],
            "rate_unit": "GFLOP/s" if c.kind == "conv" else "GB/s",
            "algo": r["algo"], "ratio": r["ratio"], "impls": impls,
        })
    summary = {}
    for kind in ("conv", "pool"):
        for pass_ in PASSES:
            for other in ("torch", "reference"):
                g = geomean([r["ratio"][other] for r in rows
                             if r["case"].kind == kind and r["pass"] == pass_
                             and other in r["ratio"]])
                if g is not None:
                    summary[f"{kind}_{pass_}_x_{other}_geomean"] = g
    return {"meta": meta, "summary": summary, "results": out}


def write_chart(meta, rows, path):
    """Bar chart of the rate per layer and implementation; returns a note when skipped."""
    try:
        # The figure API without pyplot: no GUI backend selection, quicker to import.
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        return "chart: matplotlib is not installed; PNG skipped"
    panels = [(kind, p) for kind in ("conv", "pool") for p in PASSES
              if any(r["case"].kind == kind and r["pass"] == p for r in rows)]
    fig = Figure(figsize=(12, 3.6 * len(panels)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False)
    for ax, (kind, pass_) in zip(axes[:, 0], panels):
        sub = [r for r in rows if r["case"].kind == kind and r["pass"] == pass_]
        names = list(dict.fromkeys(n for r in sub for n in r["impls"]))
        width = 0.8 / max(1, len(names))
        xs = np.arange(len(sub))
        for i, name in enumerate(names):
            vals = [_rate(r, r["impls"].get(name)) or 0.0 for r in sub]
            ax.bar(xs + (i - (len(names) - 1) / 2) * width, vals, width, label=name)
        if kind == "conv":
            ax.axhline(meta["fma_peak_gflops"], color="k", ls="--", lw=1,
                       label="measured FMA peak")
            ax.set_ylabel("GFLOP/s")
        else:
            if meta.get("memory_bandwidth_gbs"):
                ax.axhline(meta["memory_bandwidth_gbs"], color="k", ls="--", lw=1,
                           label="measured memory bandwidth")
            ax.set_ylabel("GB/s")
        positive = [v for r in sub for res in r["impls"].values()
                    for v in [_rate(r, res)] if v]
        if positive and max(positive) > 30 * min(positive):
            ax.set_yscale("log")   # the NumPy reference is orders of magnitude slower
        ax.set_xticks(xs)
        ax.set_xticklabels([r["case"].name for r in sub], rotation=30, ha="right")
        ax.set_title(f"{kind} {pass_} ({meta['dtype']}, {meta['threads']} threads, "
                     f"{meta['isa']})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return None


# ---------------------------------------------------------------------------- CLI ---

def _build_parser():
    p = argparse.ArgumentParser(
        prog="python -m fastconv bench",
        description="Time fastconv's conv2d (and pooling) against PyTorch and the NumPy "
                    "reference on a fixed layer suite.")
    p.add_argument("--layers", help="comma-separated case names (conv or pool); "
                                    "default: every conv layer (and pool case with --pool)")
    p.add_argument("--passes", default="fwd,bwd", help="fwd,bwd (default both)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--threads", type=int, help="threads for fastconv and torch "
                                               "(default: fastconv.get_num_threads())")
    p.add_argument("--repeats", type=int, default=7, help="timed samples per "
                                                          "implementation (median reported)")
    p.add_argument("--budget", type=float, default=30.0,
                   help="seconds of timing per implementation and case: slow calls get "
                        "fewer samples (at least 3); 0 = no limit")
    p.add_argument("--no-reference", action="store_true", help="do not time the (slow) "
                                                               "NumPy reference")
    p.add_argument("--ref-repeats", type=int, default=1,
                   help="samples of the reference (default 1)")
    p.add_argument("--ref-budget", type=float, default=30.0,
                   help="seconds; after a reference call slower than this, larger cases "
                        "skip the reference")
    p.add_argument("--algorithms", default="auto",
                   help="conv algorithms of fastconv to time, e.g. auto,direct,im2col")
    p.add_argument("--isas", help="also time fastconv on these instruction-set paths, "
                                  "e.g. generic (default: only the current one)")
    p.add_argument("--no-torch", action="store_true", help="do not time torch")
    p.add_argument("--no-ort", action="store_true",
                   help="do not time ONNX Runtime (timed when onnxruntime and onnx import)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    p.add_argument("--no-chart", action="store_true", help="do not write the PNG chart")
    p.add_argument("--pool", action="store_true", help="also run the pooling suite")
    p.add_argument("--suite", default="2d", choices=("2d", "nd"),
                   help="2d: the 2-D layers (default); nd: the 1-D and 3-D convolution and "
                        "pooling suite against torch (fastconv._bench_nd)")
    p.add_argument("--ukernels", action="store_true",
                   help="time every registered micro-kernel of every supported tier on its "
                        "own (one thread, L1-resident) and print each tier's measured peak")
    p.add_argument("--custom", action="append", default=[], metavar="NAME=SPEC",
                   help="extra conv layer 'name=N,C_in,HxW,C_out,k,s,p,d,g' (repeatable)")
    p.add_argument("--custom-pool", action="append", default=[], metavar="NAME=SPEC",
                   help="extra pool case 'name=max|avg,N,C,HxW,k,s,p' or "
                        "'name=adaptive_avg,N,C,HxW,out' (repeatable)")
    p.add_argument("--probe-time", type=float, default=0.05, help=argparse.SUPPRESS)
    p.add_argument("--out", default=os.path.join("bench", "results"),
                   help="directory for the JSON and PNG (default bench/results)")
    p.add_argument("--quiet", action="store_true", help="no per-case progress lines")
    return p


def cases_named(spec, every, what="case(s)"):
    """--layers "a,b": the cases of those names from the dict every, or SystemExit naming the
    unknown ones and every known one."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in every]
    if unknown:
        raise SystemExit(f"unknown {what} {', '.join(unknown)}; known: {', '.join(every)}")
    return [every[n] for n in names]


def select_cases(args):
    custom = ([parse_conv_layer(s) for s in args.custom]
              + [parse_pool_case(s) for s in args.custom_pool])
    every = {c.name: c for c in CONV_LAYERS + POOL_CASES + tuple(custom)}
    if args.layers:
        return cases_named(args.layers, every)
    if custom:
        return custom
    return list(CONV_LAYERS) + (list(POOL_CASES) if args.pool else [])


def main(argv=None):
    args = _build_parser().parse_args(argv)
    if args.ukernels:
        from . import _ukbench
        _ukbench.run(args.threads)
        return 0
    if args.suite == "nd":
        from . import _bench_nd
        return _bench_nd.main(args)
    cases = select_cases(args)
    passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    bad = [p for p in passes if p not in PASSES]
    if bad or not passes:
        raise SystemExit(f"--passes takes fwd and/or bwd, got {args.passes!r}")
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")
    algos = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    isas = [None] + [i.strip() for i in (args.isas or "").split(",") if i.strip()]
    impls = list(dict.fromkeys(
        "fastconv" + ("" if a == "auto" else f"[{a}]") + (f"@{i}" if i else "")
        for a in algos for i in isas))
    if "fastconv" not in impls:
        impls.insert(0, "fastconv")
    if not args.no_torch:
        impls.append("torch")
    if not args.no_ort and _load_ort()[0] is not None:
        impls.append("ort")
    if not args.no_reference:
        impls.append("reference")

    def progress(row):
        if not args.quiet:
            fc = row["impls"].get("fastconv")
            print(f"  {row['case'].name} {row['pass']}: fastconv {_impl_cell(fc)} ms",
                  file=sys.stderr, flush=True)

    meta, rows = run(cases, passes, args.dtype, args.threads, args.repeats, impls,
                     ref_repeats=0 if args.no_reference else args.ref_repeats,
                     ref_budget=args.ref_budget, measure_memory=not args.no_memory,
                     progress=progress, probe_time=args.probe_time,
                     budget=args.budget if args.budget > 0 else None)
    meta["command"] = "python -m fastconv bench " + " ".join(argv if argv is not None
                                                              else sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(args.out, f"fastconv-bench-{stamp}")
    note = ("chart: not written (--no-chart)" if args.no_chart
            else write_chart(meta, rows, base + ".png"))
    if note:
        meta["notes"].append(note)
    with open(base + ".json", "w") as f:
        json.dump(to_json(meta, rows), f, indent=1)
    print(format_table(meta, rows))
    print(f"\nwrote {base}.json" + ("" if note else f" and {base}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
