"""Fuzzing the whole argument space with hypothesis, for a bounded time (slow-marked).

    python -m pytest -m slow tests/test_fuzz.py                 # FASTCONV_FUZZ_SECONDS=120
    FASTCONV_FUZZ_SECONDS=600 python -m pytest -m slow tests/test_fuzz.py
    python tests/test_fuzz.py 60                                # the fuzzer alone, verbose
    tools/sanitize.sh -m slow tests/test_fuzz.py                # under ASan + UBSan

Every drawn call (any function, shapes, dtypes, layouts, NaN/Inf values, sizes from tiny to
past int64, garbage types) must end in a result equal to fastconv.reference's or in a
ValueError / TypeError / MemoryError (judged by tests/robust_cases.judge).  The fuzzer runs in
a subprocess under an address-space limit; before each call it writes the call to a file, so a
crash is reported with the call that caused it.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import robust_cases as rc  # noqa: E402

FUNCS = [f for f in rc.FUNCS if f != "set_num_threads"]


# ------------------------------------------------------------------------ strategies --

def _strategies(wild):
    """Strategies for one call.  A "wild" call draws garbage for any argument; a sane one
    keeps types valid and draws only the geometry and the values, so that most sane calls
    reach the kernels."""
    from hypothesis import strategies as st

    small = st.integers(-2, 6)
    huge = st.sampled_from([1 << 31, (1 << 32) + 1, 1 << 40, (1 << 62) - 1, 1 << 63,
                            (1 << 64) + 1, -(1 << 63)])
    junk = st.sampled_from([None, 1.5, 2.0, "2", "same", "valid", (), (1,), (1, 2, 3),
                            (1, None), [2, 1], np.int64(2), np.array([1, 2]), True, object()])
    if wild:
        size = st.one_of(small, small, small, st.tuples(small, small), huge, junk)
        size_pos = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 3)),
                             size)
        dtype = st.sampled_from([np.float64, np.float32, np.int64, np.float16, object])
        dim = st.one_of(st.integers(0, 9), st.integers(10, 40))
    else:
        size = st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)))
        size_pos = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3),
                                                          st.integers(1, 3)))
        dtype = st.sampled_from([np.float64, np.float32])
        dim = st.one_of(st.integers(1, 12), st.integers(13, 40))
    layout = st.sampled_from(["c", "c", "c", "fortran", "strided", "negstride", "readonly",
                              "swapped", "unaligned", "broadcast"])
    fill = st.sampled_from(["normal"] * 6 + ["nan", "inf", "allnan", "neginf", "huge",
                                             "denormal", "zeros", "ties"])
    return st, dict(size=size, size_pos=size_pos, dim=dim, dtype=dtype, layout=layout,
                    fill=fill, wild=wild)


def _array(draw, st, S, shape, dtype=None):
    dtype = dtype or draw(S["dtype"])
    seed = draw(st.integers(0, 2 ** 16))
    r = np.random.default_rng(seed)
    a = r.standard_normal(shape)
    f = draw(S["fill"])
    if f == "zeros":
        a[...] = 0
    elif f == "ties":
        a = np.round(a)
    elif f != "normal" and a.size:
        a = rc._specials(a, f)
    if dtype is object:
        return a.astype(object)
    a = a.astype(dtype)
    lay = draw(S["layout"])
    if lay == "broadcast" and a.ndim:
        return np.broadcast_to(a.reshape(-1)[:1].reshape((1,) * a.ndim) if a.size else a,
                               a.shape)
    if lay != "c" and a.ndim:
        return dict(rc._layouts(a)).get(lay, a)
    return a


def draw_call(draw):
    """-> (fname, kwargs)"""
    from hypothesis import strategies as st
    wild = draw(st.integers(0, 9)) < 3
    st, S = _strategies(wild)
    fname = draw(st.sampled_from(FUNCS))
    ndim = draw(st.sampled_from([4, 4, 4, 4, 3, 2, 5] if wild else [4, 4, 4, 3]))
    N = draw(st.sampled_from([1, 2, 2, 0, 3]))
    C = draw(st.integers(1, 6))
    H, W = draw(S["dim"]), draw(S["dim"])
    shape = ((N, C, H, W) if ndim == 4 else (C, H, W) if ndim == 3 else
             (H, W) if ndim == 2 else (1, N, C, H, W))
    dtype = draw(S["dtype"])
    x = _array(draw, st, S, shape, dtype)
    # Partner arrays usually share the input's dtype (else the call is rejected at once).
    pdt = dtype if draw(st.integers(0, 9)) or not wild else draw(S["dtype"])
    kw = {}
    if fname.startswith("conv"):
        transpose = fname.startswith("conv_transpose")
        groups = draw(st.one_of(st.sampled_from([1, 1, 1, 2, 3, C]), S["size"]) if wild
                      else st.sampled_from([1, 1, 1, C] + [d for d in (2, 3) if C % d == 0]))
        g = groups if isinstance(groups, int) and not isinstance(groups, bool) and \
            1 <= groups <= 6 else 1
        cout = g * draw(st.integers(1, 3))
        kh, kw_ = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        wshape = ((C, max(cout // g, 1), kh, kw_) if transpose else
                  (cout, max(C // g, 1), kh, kw_))
        if wild and draw(st.integers(0, 6)) == 0:
            wshape = tuple(draw(st.integers(0, 4)) for _ in range(draw(st.integers(1, 5))))
        kw = dict(input=x, weight=_array(draw, st, S, wshape, pdt), groups=groups,
                  stride=draw(S["size_pos"]), padding=draw(S["size"]),
                  dilation=draw(S["size_pos"]))
        if transpose:
            kw["output_padding"] = draw(st.one_of(st.integers(0, 2), S["size"]) if wild
                                        else st.integers(0, 1))
            if isinstance(kw["padding"], str):
                kw["padding"] = 0
        else:
            kw["padding_mode"] = draw(st.sampled_from(["zeros"] * 4 + ["reflect", "replicate",
                                                                       "circular"]
                                                      + (["bogus"] if wild else [])))
            kw["algorithm"] = draw(st.sampled_from(["auto", "direct", "im2col"]))
        if fname.endswith("_backward"):
            kw["output_mask"] = draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
        elif draw(st.booleans()):
            kw["bias"] = _array(draw, st, S, (draw(st.sampled_from(
                [cout, cout, 1, 0] if wild else [cout])),), pdt)
    elif fname in ("max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"):
        kw = dict(input=x, kernel_size=draw(S["size_pos"]),
                  stride=draw(st.one_of(st.none(), S["size_pos"])), padding=draw(S["size"]),
                  ceil_mode=draw(st.booleans()))
        if fname.startswith("max"):
            kw["dilation"] = draw(S["size_pos"])
        else:
            kw["count_include_pad"] = draw(st.booleans())
            kw["divisor_override"] = draw(st.sampled_from([None, None, None, 1, 3, -2, 0]))
        if fname == "max_pool2d":
            kw["return_indices"] = draw(st.booleans())
    else:
        kw = dict(input=x, output_size=draw(st.one_of(
            st.integers(0, 8), st.tuples(st.one_of(st.none(), st.integers(0, 8)),
                                         st.one_of(st.none(), st.integers(0, 8))),
            *([S["size"]] if wild else []))))
        if fname == "adaptive_max_pool2d":
            kw["return_indices"] = draw(st.booleans())
    if fname.endswith("_backward"):
        if fname in rc.REDERIVE and (draw(st.integers(0, 4)) or not wild):
            if fname == "avg_pool2d_backward":
                kw["input_shape"] = getattr(kw.pop("input"), "shape", shape)
            try:
                rc.rederive(fname, kw, np.random.default_rng(draw(st.integers(0, 99))))
            except Exception:
                kw.setdefault("grad_output", np.ones((1, 1, 1, 1)))
            if "grad_output" in kw and isinstance(kw["grad_output"], np.ndarray) and \
                    kw["grad_output"].size < 100000 and draw(st.booleans()):
                kw["grad_output"] = _array(draw, st, S, kw["grad_output"].shape, pdt)
            if "indices" in kw and draw(st.integers(0, 3)) == 0:
                kw["indices"] = None
        else:
            if fname in ("avg_pool2d_backward", "adaptive_avg_pool2d_backward"):
                kw["input_shape"] = getattr(kw.pop("input"), "shape", shape)
            if fname == "adaptive_avg_pool2d_backward":
                kw.pop("output_size")        # implied by grad_output's shape
            oshape = tuple(draw(st.integers(0, 6)) for _ in range(len(shape)))
            if fname == "adaptive_avg_pool2d_backward" and not wild:
                oshape = tuple(shape[:-2]) + oshape[-2:]
            kw["grad_output"] = _array(draw, st, S, oshape, pdt)
            if fname in ("max_pool2d_backward", "adaptive_max_pool2d_backward") and \
                    draw(st.booleans()):
                kw["indices"] = np.asarray(
                    np.random.default_rng(0).integers(-2, max(H * W, 1) + 2, size=oshape))
    return fname, kw


def _describe(fname, kw):
    def d(v):
        if isinstance(v, np.ndarray):
            fl = v.flags
            return (f"ndarray(shape={v.shape}, dtype={v.dtype}, strides={v.strides}, "
                    f"c={fl.c_contiguous}, aligned={fl.aligned}, writeable={fl.writeable}, "
                    f"nan={bool(v.dtype.kind == 'f' and np.isnan(v).any())})")
        return repr(v)
    return f"{fname}(" + ", ".join(f"{k}={d(v)}" for k, v in kw.items()) + ")"


# ------------------------------------------------------------------------ the fuzzer --

def fuzz(seconds, last_call_path=None, verbose=False):
    """Run random calls for `seconds`; -> (number of calls, list of failure strings)."""
    from hypothesis import given, settings, HealthCheck, Phase
    from hypothesis import strategies as st

    failures, count, outcomes = [], [0], {}
    deadline = time.monotonic() + seconds

    @settings(max_examples=50, deadline=None, database=None, derandomize=False,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one(data):
        fname, kw = draw_call(data.draw)
        desc = _describe(fname, kw)
        if last_call_path:
            with open(last_call_path, "w") as f:
                f.write(desc)
                f.flush()
        r = rc.judge(fname, kw)
        count[0] += 1
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
        if not r["ok"]:
            failures.append(f"{desc}\n  -> {r['outcome']}: {r['detail']}")
            if verbose:
                print(failures[-1], flush=True)

    while time.monotonic() < deadline and len(failures) < 20:
        one()
    if verbose:
        print("outcomes:", outcomes, flush=True)
    return count[0], failures


def main(argv):
    seconds = float(argv[1]) if len(argv) > 1 else 60
    last = argv[2] if len(argv) > 2 else None
    if not os.environ.get("FASTCONV_UNDER_SANITIZER"):
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (rc.MEM_LIMIT, rc.MEM_LIMIT))
    sys.path.insert(0, rc.ROOT)
    rc.guard_kernel_boundary()
    import warnings
    warnings.simplefilter("ignore")      # overflow in casts etc. are the point here
    np.seterr(all="ignore")
    n, failures = fuzz(seconds, last, verbose=True)
    print(f"FUZZ {n} calls, {len(failures)} failures", flush=True)
    return 1 if failures else 0


@pytest.mark.slow
def test_fuzz_bounded_time():
    seconds = float(os.environ.get("FASTCONV_FUZZ_SECONDS", "120"))
    with tempfile.TemporaryDirectory() as tmp:
        last = os.path.join(tmp, "last_call.txt")
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
                   PYTHONPATH=rc.ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        try:
            r = subprocess.run([sys.executable, __file__, str(seconds), last], cwd=rc.ROOT,
                               env=env, capture_output=True, text=True,
                               timeout=seconds * 3 + 300)
        except subprocess.TimeoutExpired as e:
            call = open(last).read() if os.path.exists(last) else "?"
            pytest.fail(f"fuzzer hung; last call: {call}\n{(e.stdout or '')[-3000:]}")
        out = r.stdout + r.stderr
        if r.returncode not in (0, 1) or "FUZZ " not in r.stdout:
            call = open(last).read() if os.path.exists(last) else "?"
            pytest.fail(f"fuzzer crashed (exit {r.returncode}) on:\n{call}\n{out[-4000:]}")
    summary = [l for l in r.stdout.splitlines() if l.startswith("FUZZ ")][-1]
    n_calls = int(summary.split()[1])
    assert n_calls > 0, out[-2000:]
    assert r.returncode == 0, f"{summary}\n{out[-6000:]}"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
