"""Runtime configuration: instruction-set path, threads, show_config()."""
import operator
import os
import sys

from . import _kernels

_forced_isa = None


def _apply_isa_override():
    global _forced_isa
    name = os.environ.get("FASTCONV_ISA", "").strip().lower()
    if not name:
        return
    # test-only tiers (avx512emu) are accepted but not advertised
    if name not in _kernels.all_isas(include_test=True):
        raise ValueError(f"FASTCONV_ISA must be one of {_kernels.all_isas()}, got {name!r}")
    if name not in _kernels.available_isas(include_test=True):
        raise ValueError(f"FASTCONV_ISA={name}: this CPU cannot run that tier (it supports "
                         f"{_kernels.available_isas()})")
    _kernels.set_isa(name)
    _forced_isa = name


_apply_isa_override()


def set_num_threads(n):
    """Set how many OpenMP threads the kernels use (n >= 1)."""
    if isinstance(n, bool):
        raise TypeError(f"set_num_threads() expects an int, got {type(n).__name__}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"set_num_threads() expects an int, got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"set_num_threads() expects n >= 1, got {n}")
    _kernels.set_num_threads(min(n, 1 << 16))


def get_num_threads():
    """Threads the next kernel call from this Python thread will use."""
    return _kernels.get_num_threads()


def openmp_runtime():
    """Path of the OpenMP runtime library loaded into this process, or None."""
    if not _kernels.have_openmp():
        return None
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path)
                if base.startswith(("libgomp", "libomp", "libiomp")):
                    return path
    except OSError:
        pass
    return "openmp (runtime path unknown)"


_VECTOR_FLAG_PREFIXES = ("sse", "ssse", "avx", "fma", "amx", "f16c", "neon", "asimd", "sve")


def cpu_info():
    """(model name, vector extensions) of this CPU, from /proc/cpuinfo where there is one."""
    import platform
    model, flags = "", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model", "Processor") and not model:
                    model = val.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = val.split()
                if model and flags:
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown"
    vec = sorted({f for f in flags if f.startswith(_VECTOR_FLAG_PREFIXES)})
    return model, vec


def config():
    """The configuration show_config() prints, as a dict."""
    from . import __version__
    isa = _kernels.get_isa()
    cpu, vec = cpu_info()
    return {
        "version": __version__,
        "isa": isa,
        "isa_detected": _kernels.detect_isa(),
        "isa_forced": _forced_isa,
        "openmp": openmp_runtime(),
        "num_threads": get_num_threads(),
        "fork_safe": _kernels.fork_safe(),
        "workspace_limit": _kernels.workspace_limit(),
        "fma_full_rate": _kernels.fma_full_rate(),
        "tiers": _kernels.available_isas(),
        "tier_peaks": tier_peaks(),
        "cpu": cpu,
        "cpu_vector_extensions": vec,
        "python": sys.version.split()[0],
    }


def tier_peaks(min_time=0.02):
    """{tier: measured float32 FMA peak of one core in GFLOP/s} for every supported tier,
    from each tier's own probe kernel in the registry (no tier switch: safe while other
    threads run kernels)."""
    peaks = {}
    for u in _kernels.ukernels():
        if u["kind"] != "probe" or u["dtype"] != "float32":
            continue
        iters, best, long_runs = 1 << 12, 0.0, 0
        for _ in range(24):     # grow to min_time, then the best of 3 such runs
            seconds, _ = _kernels.ukernel_probe(u["index"], iters)
            best = max(best, u["flops_per_iter"] * iters / max(seconds, 1e-9))
            if seconds >= min_time:
                long_runs += 1
                if long_runs == 3:
                    break
            else:
                iters *= 4
        peaks[u["tier"]] = best / 1e9
    return peaks


def show_config(file=None):
    """Print the version, the instruction-set path, the OpenMP runtime and the threads."""
    c = config()
    isa = c["isa"]
    if c["isa_forced"]:
        isa += f" (forced by FASTCONV_ISA={c['isa_forced']}; CPU supports {c['isa_detected']})"
    else:
        isa += " (detected from cpuid)"
    lines = [
        f"fastconv {c['version']}",
        f"  instruction set : {isa}",
        f"  tiers supported : " + ", ".join(
            f"{t} ({p:.0f} GFLOP/s)" for t, p in c["tier_peaks"].items()
            if t in _kernels.available_isas()) + "  [measured float32 FMA peak, one core]",
        f"  CPU             : {c['cpu']}",
        f"  vector ext.     : {' '.join(c['cpu_vector_extensions']) or 'none reported'}",
        f"  wide FMA rate   : "
        + ("full (512-bit units measured at twice the 256-bit rate)" if c["fma_full_rate"]
           else "the 256-bit rate" if c["isa"].startswith("avx512") else "n/a"),
        f"  OpenMP runtime  : {c['openmp'] or 'none (built without OpenMP: serial)'}",
        f"  threads         : {c['num_threads']}",
        f"  fork-safe       : {'yes (pool released before fork, rebuilt after)' if c['fork_safe'] else 'no'}",
        f"  workspace cache : up to {c['workspace_limit'] >> 20} MiB kept between calls"
        " (FASTCONV_WORKSPACE_MB)",
        f"  python          : {c['python']}",
    ]
    print("\n".join(lines), file=file or sys.stdout)
