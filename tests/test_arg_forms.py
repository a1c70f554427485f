"""PyTorch's argument forms: one-entry size tuples, an empty pooling stride, the
transposed convolution's output_size, and show_config's machine description."""
import io

import numpy as np
import pytest

import fastconv as fc
from fastconv import reference as ref, nn


@pytest.fixture
def x(rng):
    return rng.standard_normal((2, 4, 9, 11)).astype(np.float32)


@pytest.mark.parametrize("kw, same", [
    (dict(padding=(1,)), dict(padding=1)),
    (dict(stride=[2]), dict(stride=2)),
    (dict(dilation=(2,)), dict(dilation=2)),
    (dict(padding=[2], stride=(3,), dilation=[1]), dict(padding=2, stride=3)),
    (dict(padding=np.array([1])), dict(padding=1)),
])
def test_conv2d_one_entry_tuples(x, rng, kw, same):
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(fc.conv2d(x, w, **kw), fc.conv2d(x, w, **same))
    np.testing.assert_allclose(ref.conv2d(x.astype(np.float64), w.astype(np.float64), **kw),
                               fc.conv2d(x, w, **same), rtol=1e-4, atol=1e-4)


def test_conv2d_one_entry_tuples_torch(x, rng, torch):
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    kw = dict(padding=(1,), stride=[2], dilation=(2,))
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kw).numpy()
    np.testing.assert_allclose(fc.conv2d(x, w, **kw), want, rtol=1e-4, atol=1e-4)
    gy = np.ones_like(want)
    gx, gw, gb = fc.conv2d_backward(gy, x, w, **kw)
    assert gx.shape == x.shape and gw.shape == w.shape


@pytest.mark.parametrize("stride", [(), []])
def test_pool_empty_stride_is_the_kernel(x, stride, torch):
    t = torch.from_numpy(x)
    F = torch.nn.functional
    y = fc.max_pool2d(x, 2, stride=stride)
    np.testing.assert_array_equal(y, fc.max_pool2d(x, 2))
    np.testing.assert_array_equal(y, F.max_pool2d(t, 2, stride=stride).numpy())
    ya = fc.avg_pool2d(x, (3,), stride=stride)
    np.testing.assert_allclose(ya, F.avg_pool2d(t, (3,), stride=stride).numpy(), rtol=1e-6,
                               atol=1e-6)
    assert ya.shape == (2, 4, 3, 3)
    y2, idx = fc.max_pool2d(x, [3], stride=stride, padding=(1,), return_indices=True)
    want, widx = F.max_pool2d(t, [3], stride=stride, padding=(1,), return_indices=True)
    np.testing.assert_array_equal(y2, want.numpy())
    np.testing.assert_array_equal(idx, widx.numpy())
    g = fc.max_pool2d_backward(np.ones_like(y2), x, 3, stride=stride, padding=1, indices=idx)
    np.testing.assert_array_equal(g, fc.max_pool2d_backward(np.ones_like(y2), x, 3, padding=1,
                                                            indices=idx))
    gb = fc.avg_pool2d_backward(np.ones_like(ya), x.shape, 3, stride=stride)
    np.testing.assert_array_equal(gb, fc.avg_pool2d_backward(np.ones_like(ya), x.shape, 3))
    # the layers pass it through, as torch's do
    np.testing.assert_array_equal(nn.MaxPool2d(2, stride=stride)(x), y)
    np.testing.assert_array_equal(nn.AvgPool2d(3, stride=stride)(x), ya)
    np.testing.assert_array_equal(ref.max_pool2d(x, 2, stride=stride), y)


@pytest.mark.parametrize("call, exc, words", [
    (lambda x, w: fc.conv2d(x, w, padding=(1, 2, 3)), ValueError, "padding"),
    (lambda x, w: fc.conv2d(x, w, stride=()), ValueError, "stride"),
    (lambda x, w: fc.conv2d(x, w, stride=(0,)), ValueError, "stride"),
    (lambda x, w: fc.conv2d(x, w, dilation=[1.5]), TypeError, "dilation"),
    (lambda x, w: fc.conv2d(x, w, padding=(-1,)), ValueError, "padding"),
    (lambda x, w: fc.max_pool2d(x, ()), ValueError, "kernel_size"),
    (lambda x, w: fc.max_pool2d(x, 2, stride=(1, 2, 3)), ValueError, "stride"),
    (lambda x, w: fc.avg_pool2d(x, 2, stride=[0]), ValueError, "stride"),
    (lambda x, w: fc.avg_pool2d(x, 2, padding=(1, 1, 1)), ValueError, "padding"),
    (lambda x, w: fc.max_pool2d(x, 2, stride="2"), TypeError, "stride"),
    (lambda x, w: fc.conv_transpose2d(x, w, output_padding=(1, 1, 1)), ValueError,
     "output_padding"),
])
def test_malformed_sizes_still_refused(x, rng, call, exc, words):
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    if "conv_transpose2d" in getattr(call, "__code__").co_names:
        w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    with pytest.raises(exc, match=words):
        call(x, w)


# ------------------------------------------------------ conv_transpose2d output_size --

@pytest.mark.parametrize("stride, padding, dilation, size", [
    (2, 1, 1, (17, 21)), (2, 1, 1, (18, 22)), (3, 0, 1, (27, 34)), (3, 2, 2, (26, 33)),
    ((2, 3), (0, 1), 1, (19, 31)), (1, 0, 1, (11, 13)),
])
def test_conv_transpose2d_output_size_torch(x, rng, torch, stride, padding, dilation, size):
    w = rng.standard_normal((4, 6, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    layer = torch.nn.ConvTranspose2d(4, 6, 3, stride=stride, padding=padding, dilation=dilation)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(b))
        for out_size in (size, (2, 6) + tuple(size)):
            want = layer(torch.from_numpy(x), output_size=list(out_size)).numpy()
            got = fc.conv_transpose2d(x, w, b, stride, padding, dilation=dilation,
                                      output_size=out_size)
            assert got.shape == want.shape == (2, 6) + tuple(size)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
            r = ref.conv_transpose2d(x.astype(np.float64), w.astype(np.float64),
                                     b.astype(np.float64), stride, padding, dilation=dilation,
                                     output_size=out_size)
            np.testing.assert_allclose(got, r, rtol=1e-4, atol=1e-4)
    gy = rng.standard_normal(got.shape).astype(np.float32)
    gx, gw, gb = fc.conv_transpose2d_backward(gy, x, w, stride, padding, dilation=dilation,
                                              output_size=size)
    rx, rw, rb = ref.conv_transpose2d_backward(gy.astype(np.float64), x.astype(np.float64),
                                               w.astype(np.float64), stride, padding,
                                               dilation=dilation, output_size=size)
    np.testing.assert_allclose(gx, rx, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(gw, rw, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(gb, rb, rtol=1e-3, atol=1e-3)
    # the layer and the functional agree
    m = nn.ConvTranspose2d(4, 6, 3, stride=stride, padding=padding, dilation=dilation)
    m.load_state_dict({"weight": w, "bias": b})
    np.testing.assert_allclose(m(x, output_size=size), got, rtol=1e-6, atol=1e-6)


def test_conv_transpose2d_output_size_unbatched(x, rng):
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    y = fc.conv_transpose2d(x[0], w, stride=2, output_size=(20, 24))
    assert y.shape == (2, 20, 24)
    np.testing.assert_allclose(y, fc.conv_transpose2d(x[0], w, stride=2, output_padding=1),
                               rtol=0, atol=0)


@pytest.mark.parametrize("size, words", [
    ((16, 21), r"valid sizes range from \[17, 21\] to \[18, 22\]"),
    ((17, 23), r"requested an output size of \[17, 23\]"),
    ((17,), "2 or more elements"),
])
def test_conv_transpose2d_output_size_out_of_range(x, rng, size, words):
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=words):
        fc.conv_transpose2d(x, w, stride=2, padding=1, output_size=size)
    with pytest.raises(ValueError, match=words):
        ref.conv_transpose2d(x, w, stride=2, padding=1, output_size=size)
    gy = np.zeros((2, 2, 17, 21), np.float32)
    with pytest.raises(ValueError, match=words):
        fc.conv_transpose2d_backward(gy, x, w, stride=2, padding=1, output_size=size)


def test_conv_transpose2d_output_size_types(x, rng):
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    with pytest.raises(TypeError, match="output_size"):
        fc.conv_transpose2d(x, w, stride=2, output_size=18)
    with pytest.raises(TypeError, match="output_size"):
        fc.conv_transpose2d(x, w, stride=2, output_size=(18.0, 22))


def test_conv_transpose2d_output_size_matches_torch_errors(x, rng, torch):
    layer = torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)
    with pytest.raises(ValueError) as theirs:
        layer(torch.from_numpy(x), output_size=[16, 21])
    w = layer.weight.detach().numpy()
    with pytest.raises(ValueError) as ours:
        fc.conv_transpose2d(x, w, stride=2, padding=1, output_size=[16, 21])
    # the same sizes in the message (torch prints them as lists too)
    assert "[17, 21]" in str(theirs.value) and "[17, 21]" in str(ours.value)
    assert "[18, 22]" in str(theirs.value) and "[18, 22]" in str(ours.value)


# ------------------------------------------------------------------- show_config --

def test_show_config_names_the_cpu():
    out = io.StringIO()
    fc.show_config(file=out)
    text = out.getvalue()
    model, vec = fc._runtime.cpu_info()
    assert model and f"CPU             : {model}" in text
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        flags = ""
    if " avx2" in flags:
        assert "avx2" in vec and "avx2" in text.split("vector ext.")[1]
    if " avx512f" in flags:
        assert "avx512f" in vec
    assert all(not f.startswith(("vmx", "pae", "lm")) for f in vec)
