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
    assert tiers == set(_kernels.available_isas())
    names = [u["name"] for u in UK]
    assert len(names) == len(set(names))
    for t in _kernels.available_isas():
        kinds = {u["kind"] for u in UK if u["tier"] == t}
        # every tier has its own probe; the root has every kind
        assert "probe" in kinds
    assert {u["kind"] for u in UK if u["tier"] == "generic"} == set(_kernels.UKERNEL_KINDS)


@pytest.mark.parametrize("u", _ids("gemm"))
def test_gemm_ukernel(u, rng):
    dt = np.dtype(u["dtype"])
    MR, NR = u["mr"], u["nr"]
    twin = _twin(u)
    for k in (0, 1, 7, 33):
        for m in sorted({1, max(1, MR - 1), MR}):
            for n in sorted({1, max(1, NR - 1), NR, max(1, NR // 2 + 1)}):
                for acc in (False, True):
                    a = rng.standard_normal(k * MR).astype(dt)
                    b = rng.standard_normal(k * NR).astype(dt)
                    ldc = n + 3
                    c0 = rng.standard_normal((m, ldc)).astype(dt)
                    if not acc:
                        c0[:, :n] = np.nan   # never read without acc
                    c = c0.copy().ravel()
                    _kernels.ukernel_gemm(u["index"], k, a, b, c, ldc, m, n, acc)
                    c = c.reshape(m, ldc)
                    A = a.astype(np.float64).reshape(k, MR)[:, :m]
                    B = b.astype(np.float64).reshape(k, NR)[:, :n]
                    want = A.T @ B + (c0[:, :n].astype(np.float64) if acc else 0)
                    tol = _bound(dt, k, np.abs(A).T @ np.abs(B)) + \
                        (np.abs(c0[:, :n]) * np.finfo(dt).eps if acc else 0)
                    assert np.all(np.abs(c[:, :n] - want) <= tol), (k, m, n, acc)
                    np.testing.assert_array_equal(c[:, n:], c0[:, n:])  # untouched
                    if twin is not None:
                        c2 = c0.copy().ravel()
                        _kernels.ukernel_gemm(twin["index"], k, a, b, c2, ldc, m, n, acc)
                        np.testing.assert_allclose(c2.reshape(m, ldc), c, rtol=0,
                                                   atol=float(np.max(2 * tol, initial=0)))


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
