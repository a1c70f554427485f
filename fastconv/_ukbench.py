"""``python -m fastconv bench --ukernels``: every registered micro-kernel of every supported
tier on its own, at L1-resident sizes on one thread: GFLOP/s (GB/s for packers) and the
fraction of that tier's measured one-thread FMA peak; then each tier's measured peak over
all threads."""
import numpy as np

from . import _kernels


def _rate(index, min_time=0.02):
    reps = 16
    while True:
        seconds, per_call, unit = _kernels.ukernel_time(index, reps)
        if seconds >= min_time or reps >= 1 << 26:
            break
        reps *= max(2, min(16, int(min_time / max(seconds, 1e-9)) + 1))
    best = seconds
    for _ in range(2):
        best = min(best, _kernels.ukernel_time(index, reps)[0])
    return per_call * reps / best / 1e9, unit


def run(threads=None, out=print, names=None):
    """names: only the micro-kernels whose names contain one of these strings."""
    before = _kernels.get_isa()
    # the registry also lists the test-only tiers (avx512emu): their peaks are needed too
    tiers = _kernels.available_isas(include_test=True)
    peak1, peak_all = {}, {}
    try:
        for t in tiers:
            _kernels.set_isa(t)
            peak1[t] = {dt: _kernels.fma_peak_gflops(dt, 1, 0.03, 3)
                        for dt in ("float32", "float64")}
            peak_all[t] = _kernels.fma_peak_gflops("float32", threads, 0.03, 3)
    finally:
        _kernels.set_isa(before)
    out(f"{'micro-kernel':34s} {'tier':8s} {'tile':>9s} {'rate':>14s} {'% peak':>7s}")
    out("-" * 76)
    rows = []
    for u in _kernels.ukernels():
        if names is not None and not any(n in u["name"] for n in names):
            continue
        rate, unit = _rate(u["index"])
        tile = f"{u['mr']}x{u['nr']}" if u["mr"] else (f"{u['nr']}" if u["nr"] else "-")
        if unit == "flop":
            pk = peak1[u["tier"]][u["dtype"]]
            cell, pct = f"{rate:8.1f} GFLOP/s", f"{100 * rate / pk:6.1f}"
        else:
            cell, pct = f"{rate:9.1f} GB/s", "     -"
        out(f"{u['name']:34s} {u['tier']:8s} {tile:>9s} {cell:>14s} {pct:>7s}")
        rows.append(dict(u, rate=rate, unit=unit))
    out("")
    for t in tiers:
        out(f"measured FMA peak: {t} {peak_all[t]:.1f} GFLOP/s "
            f"(float32, {threads or _kernels.get_num_threads()} threads; one thread "
            f"{peak1[t]['float32']:.1f}, float64 {peak1[t]['float64']:.1f})")
    return rows
