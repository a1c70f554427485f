"""Every registered micro-kernel (csrc/registry.c) of every tier this CPU supports, on its own:
against a float64 oracle written from its contract, against its generic twin where the
generic tier has the same tile, over the edge sizes of the contract, and checking that
nothing outside what the contract lets it write changes."""
import numpy as np
import pytest

from fastconv import _kernels

UK = _kernels.ukernels()
SENTINEL = 12345.0


def _ids(kind):
    return [pytest.param(u, id=u["name"]) for u in UK if u["kind"] == kind]


def _twin(u):
    """The generic kernel with the same kind, dtype and tile, if there is one (not u itself)."""
    for v in UK:
        if (v["tier"] == "generic" and v["kind"] == u["kind"] and v["dtype"] == u["dtype"]
                and v["mr"] == u["mr"] and v["nr"] == u["nr"] and v["index"] != u["index"]):
            return v
    return None


def _bound(dt, n, absprod):
    """A rounding bound for a length-n sum of products whose magnitudes add to absprod."""
    eps = np.finfo(dt).eps
    return 2.0 * (n + 2) * eps * absprod + 1e-30


def test_registry_covers_every_supported_tier():
    tiers = {u["tier"] for u in UK}
    assert tiers == set(_kernels.available_isas(include_test=True))
    names = [u["name"] for u in UK]
    assert len(names) == len(set(names))
    for t in _kernels.available_isas():
        kinds = {u["kind"] for u in UK if u["tier"] == t}
        # every shipped tier has its own probe (an emulating test tier keeps its parent's:
        # its peak is the parent's); the root has every kind
        assert "probe" in kinds
    assert {u["kind"] for u in UK if u["tier"] == "generic"} == set(_kernels.UKERNEL_KINDS)


def _check_tile(u, rng, k, A, call, ms, ns, ldc_extra):
    """One GEMM-shaped kernel u over (m, n, acc): C = (acc ? C : 0) + A[:m] @ B against the
    float64 product, the columns past n untouched, and its generic twin (same call) close.
    A: the (MR, k) float64 matrix the kernel's A operand stands for; call(index, b, c, ldc,
    m, n, acc) runs a kernel of u's kind on the caller's A operand."""
    dt = np.dtype(u["dtype"])
    NR = u["nr"]
    twin = _twin(u)
    for m in ms:
        for n in ns:
            for acc in (False, True):
                b = rng.standard_normal(k * NR).astype(dt)
                ldc = n + ldc_extra
                c0 = rng.standard_normal((m, ldc)).astype(dt)
                if not acc:
                    c0[:, :n] = np.nan   # never read without acc
                c = c0.copy().ravel()
                call(u["index"], b, c, ldc, m, n, acc)
                c = c.reshape(m, ldc)
                B = b.astype(np.float64).reshape(k, NR)[:, :n]
                want = A[:m] @ B + (c0[:, :n].astype(np.float64) if acc else 0)
                tol = _bound(dt, k, np.abs(A[:m]) @ np.abs(B)) + \
                    (np.abs(c0[:, :n]) * np.finfo(dt).eps if acc else 0)
                assert np.all(np.abs(c[:, :n] - want) <= tol), (k, m, n, acc)
                np.testing.assert_array_equal(c[:, n:], c0[:, n:])  # untouched
                if twin is not None:
                    c2 = c0.copy().ravel()
                    call(twin["index"], b, c2, ldc, m, n, acc)
                    np.testing.assert_allclose(c2.reshape(m, ldc), c, rtol=0,
                                               atol=float(np.max(2 * tol, initial=0)))


@pytest.mark.parametrize("u", _ids("gemm"))
def test_gemm_ukernel(u, rng):
    dt = np.dtype(u["dtype"])
    MR, NR = u["mr"], u["nr"]
    for k in (0, 1, 7, 33):
        a = rng.standard_normal(k * MR).astype(dt)
        A = a.astype(np.float64).reshape(k, MR).T
        # short last row panels take their own paths (bodies/gemm_body.h: 4 and 8 rows)
        ms = sorted({1, max(1, MR - 1), MR} | {r for r in (4, 5, 8, 9) if r <= MR})
        ns = sorted({1, max(1, NR - 1), NR, max(1, NR // 2 + 1)})
        _check_tile(u, rng, k, A, lambda i, b, c, ldc, m, n, acc, k=k, a=a:
                    _kernels.ukernel_gemm(i, k, a, b, c, ldc, m, n, acc), ms, ns, 3)


@pytest.mark.parametrize("u", _ids("gemmx"))
def test_gemmx_ukernel(u, rng):
    """A gathered from a plane by a tap table (overlapping rows, taps out of order, repeats):
    the oracle builds A[i][p] = x[off[p] + i] itself."""
    dt = np.dtype(u["dtype"])
    MR, NR = u["mr"], u["nr"]
    for k in (0, 1, 9, 40):
        off = rng.integers(0, 50, size=max(k, 1)).astype(np.int64)
        x = rng.standard_normal(50 + MR).astype(dt)
        A = np.array([[x[off[p] + i] for p in range(k)] for i in range(MR)],
                     np.float64).reshape(MR, k)
        _check_tile(u, rng, k, A, lambda i, b, c, ldc, m, n, acc, k=k, off=off, x=x:
                    _kernels.ukernel_gemmx(i, k, off, x, b, c, ldc, m, n, acc),
                    sorted({1, max(1, MR - 1), MR}), sorted({1, max(1, NR - 1), NR}), 2)


@pytest.mark.parametrize("u", _ids("gemmr"))
def test_gemmr_ukernel(u, rng):
    dt = np.dtype(u["dtype"])
    MR, NR = u["mr"], u["nr"]
    for k in (0, 1, 9, 40):
        a = rng.standard_normal((MR, k)).astype(dt)
        _check_tile(u, rng, k, a.astype(np.float64), lambda i, b, c, ldc, m, n, acc, a=a:
                    _kernels.ukernel_gemmr(i, a, b, c, ldc, m, n, acc),
                    sorted({1, max(1, MR - 1), MR}), sorted({1, max(1, NR - 1), NR}), 2)


def test_gemmx_refuses_taps_outside_x():
    u = next(v for v in UK if v["kind"] == "gemmx" and v["dtype"] == "float32")
    x = np.zeros(10, np.float32)
    b = np.zeros(u["nr"], np.float32)
    c = np.zeros(u["nr"], np.float32)
    with pytest.raises(ValueError, match="inside x"):
        _kernels.ukernel_gemmx(u["index"], 1, np.array([10 - u["mr"] + 1], np.int64), x, b, c,
                               u["nr"], 1, u["nr"], False)


@pytest.mark.parametrize("u", _ids("packt"))
def test_packt_ukernel(u, rng):
    dt = np.dtype(u["dtype"])
    for kc in (0, 1, 3, 4, 8, 9, 17, 40):
        rows = rng.standard_normal((u["nr"], kc)).astype(dt)
        got = _kernels.ukernel_packt(u["index"], rows)
        np.testing.assert_array_equal(got, rows.T.ravel())


@pytest.mark.parametrize("u", _ids("dconv"))
def test_dconv_ukernel(u, rng):
    dt = np.dtype(u["dtype"])
    MR, NR = u["mr"], u["nr"]
    twin = _twin(u)
    for ntaps in (0, 1, 9, 27):
        for mr in sorted({1, MR}):
            for with_bias in (False, True):
                off = rng.integers(0, 200, ntaps).astype(np.int64)
                x = rng.standard_normal(int(off.max(initial=0)) + NR + 5).astype(dt)
                w = rng.standard_normal(ntaps * MR).astype(dt)
                bias = rng.standard_normal(MR).astype(dt) if with_bias else None
                ldy = NR + 5
                y0 = np.full(MR * ldy, SENTINEL, dt)
                y = y0.copy()
                _kernels.ukernel_dconv(u["index"], off, x, w, bias, y, ldy, mr)
                Y = y.reshape(MR, ldy)
                X = np.stack([x[o:o + NR] for o in off]).astype(np.float64) if ntaps else \
                    np.zeros((0, NR))
                Wt = w.astype(np.float64).reshape(ntaps, MR)
                want = Wt[:, :mr].T @ X + (bias[:mr, None].astype(np.float64) if with_bias else 0)
                tol = _bound(dt, ntaps + 1, np.abs(Wt[:, :mr]).T @ np.abs(X) +
                             (np.abs(bias[:mr, None]) if with_bias else 0))
                assert np.all(np.abs(Y[:mr, :NR] - want) <= tol), (ntaps, mr, with_bias)
                assert np.all(Y[:mr, NR:] == SENTINEL) and np.all(Y[mr:] == SENTINEL)
                if twin is not None:
                    y2 = y0.copy()
                    _kernels.ukernel_dconv(twin["index"], off, x, w, bias, y2, ldy, mr)
                    np.testing.assert_allclose(y2, y, rtol=0,
                                               atol=float(np.max(2 * tol, initial=0)))


@pytest.mark.parametrize("u", _ids("dconvgw"))
def test_dconvgw_ukernel(u, rng):
    dt = np.dtype(u["dtype"])
    MR, TB = u["mr"], u["nr"]
    L = max(u["lanes"], 1)
    twin = _twin(u)
    for nrows in (0, 1, 3):
        for length in sorted({1, L - 1, L, L + 1, 2 * L + 3} - {0}):
            for mr in sorted({1, MR}):
                for tb in sorted({1, TB}):
                    ldr, ldx, ldm = length + 2, length + 7, 3 * (length + 2) + 1
                    off = rng.integers(0, 30, TB).astype(np.int64)
                    gy = rng.standard_normal(MR * ldm + 3 * ldr).astype(dt)
                    x = rng.standard_normal(int(off.max()) + 3 * ldx + length).astype(dt)
                    ldgw = TB + 2
                    gw0 = rng.standard_normal(MR * ldgw).astype(dt)
                    gw = gw0.copy()
                    _kernels.ukernel_dconvgw(u["index"], nrows, length, gy, ldm, ldr, x, ldx,
                                             off, gw, ldgw, mr, tb)
                    G = gw.reshape(MR, ldgw)
                    G0 = gw0.reshape(MR, ldgw)
                    for m in range(MR):
                        for t in range(ldgw):
                            if m < mr and t < tb:
                                g = np.concatenate([gy[m * ldm + r * ldr:][:length]
                                                    for r in range(nrows)] or [[]])
                                xx = np.concatenate([x[off[t] + r * ldx:][:length]
                                                     for r in range(nrows)] or [[]])
                                p = g.astype(np.float64) * xx.astype(np.float64)
                                want = float(G0[m, t]) + p.sum()
                                tol = _bound(dt, p.size + 1, np.abs(p).sum() + abs(G0[m, t]))
                                assert abs(G[m, t] - want) <= tol, (nrows, length, mr, tb, m, t)
                            else:
                                assert G[m, t] == G0[m, t], "wrote outside mr x tb"
                    if twin is not None:
                        gw2 = gw0.copy()
                        _kernels.ukernel_dconvgw(twin["index"], nrows, length, gy, ldm, ldr,
                                                 x, ldx, off, gw2, ldgw, mr, tb)
                        np.testing.assert_allclose(gw2, gw, rtol=4 * np.finfo(dt).eps * 16,
                                                   atol=4 * np.finfo(dt).eps * 16)


@pytest.mark.parametrize("u", _ids("probe"))
def test_probe_ukernel(u):
    assert u["flops_per_iter"] > 0
    seconds, checksum = _kernels.ukernel_probe(u["index"], 1000)
    assert np.isfinite(checksum) and checksum > 0 and seconds >= 0


def test_hooks_refuse_short_buffers():
    g = next(u for u in UK if u["kind"] == "gemm" and u["dtype"] == "float32")
    a = np.zeros(g["mr"] * 4, np.float32)
    b = np.zeros(g["nr"] * 3, np.float32)   # one step short
    c = np.zeros(g["nr"], np.float32)
    with pytest.raises(ValueError, match="b"):
        _kernels.ukernel_gemm(g["index"], 4, a, b, c, g["nr"], 1, g["nr"], False)
    with pytest.raises(TypeError):
        _kernels.ukernel_gemm(g["index"], 4, a.astype(np.float64), b, c, g["nr"], 1, 1, False)
    d = next(u for u in UK if u["kind"] == "dconv" and u["dtype"] == "float32")
    off = np.array([5], np.int64)
    with pytest.raises(ValueError, match="x"):
        _kernels.ukernel_dconv(d["index"], off, np.zeros(d["nr"], np.float32),
                               np.zeros(d["mr"], np.float32), None,
                               np.zeros(d["mr"] * d["nr"], np.float32), d["nr"], 1)


# ------------------------------------------------------------------ pooling row kernels --
# Contracts: csrc/pool/pool_internal.h.  Every buffer is padded with sentinels past what the
# contract lets the kernel write; inputs must come back unchanged.

POOL_N = (1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100)
PAD = 24


def _pool_ids(*ops):
    return [pytest.param(u, id=u["name"]) for u in UK if u["kind"] == "pool" and u["op"] in ops]


def _padded(values, dt=None):
    """values followed by PAD sentinels (a flat C array); -> (buffer, view of the values)."""
    values = np.asarray(values) if dt is None else np.asarray(values, dtype=dt)
    buf = np.full(values.size + PAD, SENTINEL, dtype=values.dtype)
    buf[:values.size] = values.ravel()
    return buf, buf[:values.size]


def _with_nans(rng, dt, n, frac=0.15):
    x = rng.standard_normal(n).astype(dt)
    x[rng.random(n) < frac] = np.nan
    x[rng.random(n) < 0.1] = x[0]            # ties
    return x


def nanmax_rule(a, b):
    """PyTorch's scan rule, b the later tap: b if (b > a or b is NaN) else a."""
    return np.where((b > a) | np.isnan(b), b, a)


def _check_sentinels(buf, n, name):
    assert np.all(buf[n:] == SENTINEL), f"{name} written past its {n} elements"


def test_pool_registry_has_every_row_kernel_of_every_tier():
    ops = set(_kernels.POOL_OPS)
    for dt in ("float32", "float64"):
        have = {u["op"] for u in UK if u["kind"] == "pool" and u["tier"] == "generic"
                and (u["dtype"] == dt or u["op"] == "fence")}
        assert have == ops, dt


@pytest.mark.parametrize("u", _pool_ids("vmax", "vsum"))
def test_pool_vmax_vsum(u, rng):
    dt = np.dtype(u["dtype"])
    for n in POOL_N:
        a0, b0 = _with_nans(rng, dt, n), _with_nans(rng, dt, n)
        want = nanmax_rule(a0, b0) if u["op"] == "vmax" else a0 + b0
        a, av = _padded(a0)
        b, bv = _padded(b0)
        out, ov = _padded(np.zeros(n, dt))
        _kernels.ukernel_pool(u["index"], out, a, b, n)
        np.testing.assert_array_equal(ov, want)
        _check_sentinels(out, n, "out")
        np.testing.assert_array_equal(av, a0)
        np.testing.assert_array_equal(bv, b0)
        # out may alias a
        _kernels.ukernel_pool(u["index"], a, a, b, n)
        np.testing.assert_array_equal(av, want)
        _check_sentinels(a, n, "out=a")


def _hwindows(x, n_out, k, s, d):
    return np.stack([x[o * s + np.arange(k) * d] for o in range(n_out)])


@pytest.mark.parametrize("u", _pool_ids("hmax", "hsum"))
def test_pool_hmax_hsum(u, rng):
    dt = np.dtype(u["dtype"])
    is_max = u["op"] == "hmax"
    for n_out in (1, 3, 8, 9, 17, 40):
        for k, s, d in ((1, 1, 1), (2, 2, 1), (3, 1, 1), (3, 2, 1), (5, 3, 1), (2, 1, 3),
                        (3, 2, 2)):
            if not is_max and d != 1:
                continue
            need = (n_out - 1) * s + (k - 1) * d + 1
            x0 = _with_nans(rng, dt, need) if is_max else rng.standard_normal(need).astype(dt)
            # the contract's slack: the kernel may read (not use) FC_POOL_SLACK more
            inp = np.concatenate([x0, np.full(_kernels.POOL_SLACK, np.nan, dt)])
            win = _hwindows(x0, n_out, k, s, d)
            out, ov = _padded(np.zeros(n_out, dt))
            if is_max:
                want = win[:, 0]
                for j in range(1, k):
                    want = nanmax_rule(want, win[:, j])
                _kernels.ukernel_pool(u["index"], out, inp, n_out, k, s, d)
                np.testing.assert_array_equal(ov, want, err_msg=f"{n_out} {k} {s} {d}")
            else:
                _kernels.ukernel_pool(u["index"], out, inp, n_out, k, s)
                want = win.astype(np.float64).sum(axis=1)
                bound = _bound(dt, k, np.abs(win.astype(np.float64)).sum(axis=1))
                assert np.all(np.abs(ov - want) <= bound), (n_out, k, s)
            _check_sentinels(out, n_out, "out")
            np.testing.assert_array_equal(inp[:need], x0)


@pytest.mark.parametrize("u", _pool_ids("hargmax"))
def test_pool_hargmax(u, rng):
    dt = np.dtype(u["dtype"])
    for nr, n_out, k, s, d in ((1, 1, 1, 1, 1), (2, 7, 2, 2, 1), (3, 9, 3, 2, 1),
                               (3, 17, 3, 1, 2), (4, 16, 4, 4, 1), (8, 5, 8, 3, 1),
                               (1, 33, 5, 2, 1)):
        L = (n_out - 1) * s + (k - 1) * d + 1
        rows = np.stack([_with_nans(rng, dt, L, 0.05) for _ in range(nr)])
        rows[rows > 1.0] = 1.0                 # many ties across rows and taps
        taps = np.stack([np.stack([rows[i, o * s + np.arange(k) * d] for i in range(nr)]
                                  ).ravel() for o in range(n_out)])    # (n_out, nr*k)
        want_m = taps[:, 0].copy()
        want_t = np.zeros(n_out, np.int32)
        for t in range(1, nr * k):
            take = (taps[:, t] > want_m) | np.isnan(taps[:, t])
            want_m = np.where(take, taps[:, t], want_m)
            want_t = np.where(take, t, want_t).astype(np.int32)
        m, mv = _padded(np.zeros(n_out, dt))
        tap, tv = _padded(np.zeros(n_out, np.int32))
        _kernels.ukernel_pool(u["index"], m, tap, rows, nr, n_out, k, s, d)
        np.testing.assert_array_equal(mv, want_m)
        np.testing.assert_array_equal(tv, want_t)
        _check_sentinels(m, n_out, "m")
        _check_sentinels(tap, n_out, "tap")


@pytest.mark.parametrize("u", _pool_ids("bwd2x2", "bwd2x2i"))
def test_pool_bwd2x2(u, rng):
    dt = np.dtype(u["dtype"])
    for n in POOL_N:
        tap0 = rng.integers(0, 4, n).astype(np.int32)
        g0 = rng.standard_normal(n).astype(dt)
        want0 = np.zeros(2 * n, dt)
        want1 = np.zeros(2 * n, dt)
        o = np.arange(n)
        want0[2 * o + tap0 % 2] = np.where(tap0 < 2, g0, 0)
        want1[2 * o + tap0 % 2] = np.where(tap0 >= 2, g0, 0)
        g, gv = _padded(g0)
        if u["op"] == "bwd2x2":
            r0, r0v = _padded(np.full(2 * n, 7.0, dt))      # written, never read
            r1, r1v = _padded(np.full(2 * n, 7.0, dt))
            tap, _ = _padded(tap0)
            _kernels.ukernel_pool(u["index"], r0, r1, tap, g, n)
            np.testing.assert_array_equal(r0v, want0)
            np.testing.assert_array_equal(r1v, want1)
            _check_sentinels(r0, 2 * n, "r0")
            _check_sentinels(r1, 2 * n, "r1")
        else:
            base, W = 5, 2 * n + 3
            idx0 = (base + 2 * o + np.where(tap0 % 2, 1, 0) + np.where(tap0 >= 2, W, 0))
            plane = np.full(base + W + 2 * n + PAD, SENTINEL, dt)
            idx, _ = _padded(idx0.astype(np.int64))
            ok = _kernels.ukernel_pool(u["index"], plane, idx, base, W, g, n)
            assert ok == 1
            np.testing.assert_array_equal(plane[base:base + 2 * n], want0)
            np.testing.assert_array_equal(plane[base + W:base + W + 2 * n], want1)
            untouched = np.ones(plane.size, bool)
            untouched[base:base + 2 * n] = False
            untouched[base + W:base + W + 2 * n] = False
            assert np.all(plane[untouched] == SENTINEL)
            # an index outside its window is refused
            bad = idx0.copy()
            bad[n // 2] += 2
            idx, _ = _padded(bad.astype(np.int64))
            assert _kernels.ukernel_pool(u["index"], plane, idx, base, W, g, n) == 0
        np.testing.assert_array_equal(gv, g0)


@pytest.mark.parametrize("u", _pool_ids("vdiv"))
def test_pool_vdiv(u, rng):
    dt = np.dtype(u["dtype"])
    for n in POOL_N:
        for r in (1.0, 3.0, 0.5):
            a0 = rng.standard_normal(n).astype(dt)
            b0 = rng.integers(1, 10, n).astype(dt)
            want = a0 / (dt.type(r) * b0)
            a, _ = _padded(a0)
            b, _ = _padded(b0)
            out, ov = _padded(np.zeros(n, dt))
            _kernels.ukernel_pool(u["index"], out, a, b, n, scalar=r)
            np.testing.assert_array_equal(ov, want)
            _check_sentinels(out, n, "out")


@pytest.mark.parametrize("u", _pool_ids("copyz"))
def test_pool_copyz_and_fence(u, rng):
    dt = np.dtype(u["dtype"])
    fences = [v for v in UK if v["kind"] == "pool" and v["op"] == "fence" and
              v["tier"] in (u["tier"], "generic")]
    for n in POOL_N + (1000,):
        for stream in (0, 1):
            s0 = rng.standard_normal(n).astype(dt)
            src, sv = _padded(s0)
            dst, dv = _padded(np.zeros(n, dt))
            _kernels.ukernel_pool(u["index"], dst, src, n, stream)
            for f in fences:    # streaming stores are ordered by the fence
                _kernels.ukernel_pool(f["index"])
            np.testing.assert_array_equal(dv, s0)
            assert np.all(sv == 0)
            _check_sentinels(dst, n, "dst")
            _check_sentinels(src, n, "src")


@pytest.mark.parametrize("u", _pool_ids("scatter"))
def test_pool_scatter(u, rng):
    dt = np.dtype(u["dtype"])
    for n in POOL_N:
        limit = max(3, n // 2)
        idx0 = rng.integers(0, limit, n).astype(np.int64)       # repeats accumulate
        g0 = rng.standard_normal(n).astype(dt)
        p0 = rng.standard_normal(limit).astype(dt)
        want = p0.copy()
        np.add.at(want, idx0, g0)       # in order k < n
        pl, pv = _padded(p0)
        idx, _ = _padded(idx0)
        g, _ = _padded(g0)
        assert _kernels.ukernel_pool(u["index"], pl, idx, g, n, limit) == 1
        np.testing.assert_allclose(pv, want, rtol=0, atol=_bound(dt, n, np.abs(g0).sum()))
        _check_sentinels(pl, limit, "pl")
        for bad in (-1, limit):
            b0 = idx0.copy()
            b0[n - 1] = bad
            idx, _ = _padded(b0)
            pl, pv = _padded(p0)
            assert _kernels.ukernel_pool(u["index"], pl, idx, g, n, limit) == 0
            _check_sentinels(pl, limit, "pl")


@pytest.mark.parametrize("u", _pool_ids("rmax", "rsum", "rsums"))
def test_pool_reductions(u, rng):
    dt = np.dtype(u["dtype"])
    for n in POOL_N + (1000,):
        if u["op"] == "rsums":
            for npl in (1, 3, 8):
                x0 = rng.standard_normal(npl * n).astype(dt)
                x, _ = _padded(x0)
                y, yv = _padded(np.zeros(npl, dt))
                _kernels.ukernel_pool(u["index"], y, x, npl, n, scalar=float(n))
                planes = x0.astype(np.float64).reshape(npl, n)
                want = planes.sum(axis=1) / n
                bound = _bound(dt, n + 1, np.abs(planes).sum(axis=1) / n)
                assert np.all(np.abs(yv - want) <= bound)
                _check_sentinels(y, npl, "y")
            continue
        x0 = rng.standard_normal(n).astype(dt)
        got = _kernels.ukernel_pool(u["index"], x0, n)
        if u["op"] == "rmax":
            assert got == x0.max()
            x1 = x0.copy()
            x1[rng.integers(0, n)] = np.nan
            assert np.isnan(_kernels.ukernel_pool(u["index"], x1, n))
        else:
            assert abs(got - x0.astype(np.float64).sum()) <= _bound(dt, n, np.abs(x0).sum())


@pytest.mark.parametrize("u", _pool_ids("vmax", "hmax", "hargmax", "bwd2x2", "vdiv",
                                        "copyz", "rmax"))
def test_pool_kernel_matches_generic_twin(u, rng):
    """Exact ops: a vector tier's kernel gives its generic twin's bits on the same input."""
    twin = [v for v in UK if v["kind"] == "pool" and v["tier"] == "generic"
            and v["op"] == u["op"] and v["dtype"] == u["dtype"]]
    assert len(twin) == 1
    dt = np.dtype(u["dtype"])
    args = _kernels._pool_bench_call(u["op"], dt, rng)
    if u["op"] in ("vmax", "hmax", "hargmax", "rmax"):     # with NaNs and ties
        args = tuple(np.where(rng.random(a.shape) < 0.1, np.nan, a).astype(a.dtype)
                     if isinstance(a, np.ndarray) and a.dtype == dt else a for a in args)
    outs = []
    for v in (u, twin[0]):
        mine = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
        ret = _kernels.ukernel_pool(v["index"], *mine, scalar=2.0)
        outs.append((ret, [a for a in mine if isinstance(a, np.ndarray)]))
    if outs[0][0] is not None:
        np.testing.assert_array_equal(outs[0][0], outs[1][0])
    for a, b in zip(outs[0][1], outs[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not {"avx512", "avx512emu"} <= set(_kernels.available_isas(True)),
                    reason="needs an AVX-512 CPU to compare the emulation with the real tier")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avx512emu_gives_the_avx512_tiers_bits(dtype, rng):
    """The emulation runs the same bodies lane for lane: forward and backward-data convs (no
    horizontal sums) must give the real tier's bits, so that testing the emulation on an
    AVX2 CPU tests the avx512 kernels' logic."""
    import fastconv
    before = _kernels.get_isa()
    cases = [((2, 16, 19, 23), (32, 16, 3, 3), dict(padding=1)),
             ((1, 8, 30, 17), (20, 8, 5, 3), dict(stride=2, dilation=(1, 2))),
             ((3, 64, 9, 9), (40, 64, 1, 1), dict())]
    try:
        for xs, ws, kw in cases:
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            out = {}
            for isa in ("avx512", "avx512emu"):
                _kernels.set_isa(isa)
                for algo in ("direct", "im2col"):
                    y = fastconv.conv2d(x, w, padding=kw.get("padding", 0),
                                        stride=kw.get("stride", 1),
                                        dilation=kw.get("dilation", 1), algorithm=algo)
                    gx, _, _ = fastconv.conv2d_backward(
                        np.ones_like(y), x, w, padding=kw.get("padding", 0),
                        stride=kw.get("stride", 1), dilation=kw.get("dilation", 1),
                        output_mask=(True, False, False), algorithm=algo)
                    out[isa, algo] = (y, gx)
            for algo in ("direct", "im2col"):
                for a, b in zip(out["avx512", algo], out["avx512emu", algo]):
                    np.testing.assert_array_equal(a, b, err_msg=f"{xs} {ws} {kw} {algo}")
    finally:
        _kernels.set_isa(before)
