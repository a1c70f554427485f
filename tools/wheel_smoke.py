"""Smoke test for an installed fastconv wheel (run by tools/build_wheel.sh from a scratch dir).

Needs NumPy alone.  Checks that the package imports from site-packages (not a source tree), that
show_config() reports the ISA path and the bundled OpenMP runtime, that threads can be set, and
that every public function agrees with fastconv.reference on a small float64 and float32 case.

    python wheel_smoke.py --expect-isa {auto,generic}
Exits non-zero on the first failed check group, printing what failed.
"""
import argparse
import io
import os
import sys

import numpy as np

FAILURES = []


def check(cond, what):
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def close(a, b, dtype, length):
    """Error bound from the accumulation length: k * eps * sum|terms| is approximated by
    k * eps * (max|b| + 1), loose enough for any summation order, tight enough for a bug."""
    eps = np.finfo(dtype).eps
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False
    tol = 4 * length * eps * (np.abs(b).max(initial=0.0) + 1.0)
    return bool(np.all(np.abs(a - b) <= tol))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expect-isa", choices=["auto", "generic"], default="auto")
    args = ap.parse_args()

    import fastconv
    from fastconv import _runtime, reference as ref

    print(f"fastconv from {fastconv.__file__}")
    check("site-packages" in fastconv.__file__, "imported from site-packages, not a source tree")

    buf = io.StringIO()
    fastconv.show_config(file=buf)
    text = buf.getvalue()
    print(text)
    cfg = _runtime.config()
    if args.expect_isa == "generic":
        check(cfg["isa"] == "generic", "FASTCONV_ISA=generic selects the generic path")
        check("forced" in text and "generic" in text, "show_config() says generic is forced")
    else:
        check(cfg["isa"] == cfg["isa_detected"], f"default path is the detected ISA ({cfg['isa']})")
    omp = cfg["openmp"] or ""
    check("fastconv.libs" in omp and "libgomp" in os.path.basename(omp),
          f"OpenMP runtime is the bundled libgomp ({omp})")
    check(str(cfg["num_threads"]) in text, "show_config() prints the thread count")

    ncpu = len(os.sched_getaffinity(0))
    fastconv.set_num_threads(1)
    check(fastconv.get_num_threads() == 1, "set_num_threads(1)")
    fastconv.set_num_threads(ncpu)
    check(fastconv.get_num_threads() == ncpu, f"set_num_threads({ncpu})")

    rng = np.random.default_rng(0)
    for dt in (np.float64, np.float32):
        x = rng.standard_normal((2, 4, 9, 8)).astype(dt)
        w = rng.standard_normal((6, 2, 3, 3)).astype(dt)
        b = rng.standard_normal(6).astype(dt)
        kw = dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
        y = fastconv.conv2d(x, w, b, **kw)
        L = 2 * 9 + 1
        check(y.dtype == dt and close(y, ref.conv2d(x, w, b, **kw), dt, L), f"conv2d {dt.__name__}")
        gy = rng.standard_normal(y.shape).astype(dt)
        got = fastconv.conv2d_backward(gy, x, w, **kw)
        exp = ref.conv2d_backward(gy, x, w, **kw)
        check(all(close(g, e, dt, gy[0, 0].size * 2) for g, e in zip(got, exp)),
              f"conv2d_backward {dt.__name__}")

        wt = rng.standard_normal((4, 3, 3, 3)).astype(dt)
        bt = rng.standard_normal(6).astype(dt)
        tkw = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)
        yt = fastconv.conv_transpose2d(x, wt, bt, **tkw)
        check(close(yt, ref.conv_transpose2d(x, wt, bt, **tkw), dt, L),
              f"conv_transpose2d {dt.__name__}")
        gyt = rng.standard_normal(yt.shape).astype(dt)
        got = fastconv.conv_transpose2d_backward(gyt, x, wt, **tkw)
        exp = ref.conv_transpose2d_backward(gyt, x, wt, **tkw)
        check(all(close(g, e, dt, gyt[0, 0].size * 2) for g, e in zip(got, exp)),
              f"conv_transpose2d_backward {dt.__name__}")

        pkw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
        m, idx = fastconv.max_pool2d(x, return_indices=True, **pkw)
        rm, ridx = ref.max_pool2d(x, return_indices=True, **pkw)
        check(np.array_equal(m, rm) and np.array_equal(idx, ridx), f"max_pool2d {dt.__name__}")
        gm = rng.standard_normal(m.shape).astype(dt)
        check(close(fastconv.max_pool2d_backward(gm, x, indices=idx, **pkw),
                    ref.max_pool2d_backward(gm, x, indices=ridx, **pkw), dt, 9),
              f"max_pool2d_backward {dt.__name__}")
        a = fastconv.avg_pool2d(x, **pkw)
        check(close(a, ref.avg_pool2d(x, **pkw), dt, 9), f"avg_pool2d {dt.__name__}")
        check(close(fastconv.avg_pool2d_backward(gm, x.shape, **pkw),
                    ref.avg_pool2d_backward(gm, x.shape, **pkw), dt, 9),
              f"avg_pool2d_backward {dt.__name__}")
        aa = fastconv.adaptive_avg_pool2d(x, (4, 3))
        check(close(aa, ref.adaptive_avg_pool2d(x, (4, 3)), dt, 12), f"adaptive_avg_pool2d {dt.__name__}")
        ga = rng.standard_normal(aa.shape).astype(dt)
        check(close(fastconv.adaptive_avg_pool2d_backward(ga, x.shape),
                    ref.adaptive_avg_pool2d_backward(ga, x.shape), dt, 12),
              f"adaptive_avg_pool2d_backward {dt.__name__}")
        am, ai = fastconv.adaptive_max_pool2d(x, (4, 3), return_indices=True)
        ram, rai = ref.adaptive_max_pool2d(x, (4, 3), return_indices=True)
        check(np.array_equal(am, ram) and np.array_equal(ai, rai), f"adaptive_max_pool2d {dt.__name__}")
        check(close(fastconv.adaptive_max_pool2d_backward(ga, x, (4, 3), indices=ai),
                    ref.adaptive_max_pool2d_backward(ga, x, (4, 3), indices=rai), dt, 12),
              f"adaptive_max_pool2d_backward {dt.__name__}")

    # Thread count must not change results beyond rounding.
    x = rng.standard_normal((4, 8, 20, 20)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    fastconv.set_num_threads(1)
    y1 = fastconv.conv2d(x, w, padding=1)
    fastconv.set_num_threads(ncpu)
    y2 = fastconv.conv2d(x, w, padding=1)
    check(close(y1, y2, np.float32, 8 * 9), "conv2d: 1 thread vs all threads")

    if FAILURES:
        print(f"{len(FAILURES)} smoke check(s) failed: {FAILURES}")
        return 1
    print("wheel smoke: all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # report, don't hide: an exception is a failed smoke run
        import traceback
        traceback.print_exc()
        print(f"wheel smoke: crashed with {type(e).__name__}: {e}")
        sys.exit(1)
