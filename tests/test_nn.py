"""fastconv.nn: gradients against finite differences, the Module protocol, classic CNNs."""
import io

import numpy as np
import pytest

import fastconv
import fastconv.nn as nn
import fastconv.optim as optim
from nn_support import backend, lenet5, keras_cifar10, tf_mnist, mixed  # noqa: F401


# --------------------------------------------------------------------------------------------
# Finite differences (float64)

def _fd_check(layer, x, rng, n_probe=12, h=1e-6):
    """Compare backward with central differences of L = sum(g * layer(x)) at random points."""
    layer.train()
    out = layer(x)
    g = rng.standard_normal(np.shape(out))
    layer.zero_grad()
    gx = layer.backward(g)
    grads = {name: p.grad.copy() for name, p in layer.named_parameters()}

    def loss():
        return float(np.sum(g * layer(x)))

    def probe(arr, analytic, what):
        flat = arr.reshape(-1)
        for i in rng.choice(flat.size, size=min(n_probe, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + h
            up = loss()
            flat[i] = old - h
            down = loss()
            flat[i] = old
            numeric = (up - down) / (2 * h)
            a = analytic.reshape(-1)[i]
            # Central differences: truncation O(h^2), cancellation ~ eps*|L|/h.
            assert abs(a - numeric) <= 1e-6 * max(1.0, abs(numeric), abs(loss())), \
                f"{what}[{i}]: backward {a} vs finite difference {numeric}"

    probe(x, gx, f"{type(layer).__name__} input")
    for name, p in layer.named_parameters():
        probe(p.data, grads[name], f"{type(layer).__name__}.{name}")


def _away_from_zero(rng, shape):
    """Inputs with no value near the kinks of ReLU and no near-ties for max pooling."""
    x = rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    return x + np.arange(x.size).reshape(shape) * 1e-3


FD_CASES = {
    "conv": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 6, 5)),
    "conv-groups-dilation": (lambda: nn.Conv2d(4, 4, 3, padding="same", dilation=2, groups=2,
                                               padding_mode="replicate"), (2, 4, 6, 6)),
    "conv-transpose": (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1,
                                                  output_padding=1), (2, 3, 4, 3)),
    "maxpool": (lambda: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (2, 2, 7, 6)),
    "avgpool": (lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), (2, 2, 7, 6)),
    "adaptive-avg": (lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 2, 7, 5)),
    "adaptive-max": (lambda: nn.AdaptiveMaxPool2d((3, 2)), (2, 2, 7, 5)),
    "batchnorm": (lambda: nn.BatchNorm2d(3), (4, 3, 3, 2)),
    "batchnorm-no-affine": (lambda: nn.BatchNorm2d(3, affine=False), (4, 3, 3, 2)),
    "relu": (lambda: nn.ReLU(), (2, 3, 4)),
    "sigmoid": (lambda: nn.Sigmoid(), (2, 3, 4)),
    "tanh": (lambda: nn.Tanh(), (2, 3, 4)),
    "softmax": (lambda: nn.Softmax(dim=1), (2, 5, 3)),
    "log-softmax": (lambda: nn.LogSoftmax(dim=1), (2, 5, 3)),
    "flatten": (lambda: nn.Flatten(), (2, 3, 2, 2)),
    "linear": (lambda: nn.Linear(5, 3), (2, 4, 5)),
    "sequential": (lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3),
                                         nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                                         nn.Linear(12, 4)), (3, 2, 4, 4)),
}


@pytest.mark.parametrize("case", list(FD_CASES))
def test_backward_matches_finite_differences(backend, case):
    make, shape = FD_CASES[case]
    rng = np.random.default_rng(0)
    nn.manual_seed(0)
    layer = make().double()
    _fd_check(layer, _away_from_zero(rng, shape), rng)


def test_dropout_backward_uses_the_forward_mask(backend):
    drop = nn.Dropout(0.4, rng=0).double()
    x = np.random.default_rng(1).uniform(1, 2, (50, 40))
    y = drop(x)
    keep = y != 0
    np.testing.assert_allclose(y[keep], x[keep] / 0.6, rtol=1e-15)
    assert 0.5 < keep.mean() < 0.7  # 2000 Bernoulli(0.6) draws: 0.6 +- 5 sigma
    g = np.random.default_rng(2).standard_normal(x.shape)
    np.testing.assert_allclose(drop.backward(g), np.where(keep, g / 0.6, 0), rtol=1e-15)
    drop.eval()
    assert drop(x) is x


def test_losses_against_finite_differences():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 5, 3))
    for crit, target in [
            (nn.CrossEntropyLoss(weight=rng.random(5), label_smoothing=0.1),
             rng.integers(0, 5, (4, 3))),
            (nn.CrossEntropyLoss(reduction="sum"), rng.random((4, 5, 3))),
            (nn.MSELoss(), rng.standard_normal((4, 5, 3)))]:
        crit(z, target)
        g = crit.backward()
        h = 1e-6
        for i in rng.choice(z.size, 8, replace=False):
            zp, zm = z.copy(), z.copy()
            zp.reshape(-1)[i] += h
            zm.reshape(-1)[i] -= h
            numeric = (crit(zp, target) - crit(zm, target)) / (2 * h)
            assert abs(g.reshape(-1)[i] - numeric) < 1e-7, type(crit).__name__


# --------------------------------------------------------------------------------------------
# The Module protocol

def test_parameters_names_and_counts():
    m = mixed(nn, nn.Dropout())
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "1.weight", "1.bias", "4.weight", "4.bias", "7.weight",
                     "7.bias", "13.weight", "13.bias"]
    assert list(m.state_dict()) == ["0.weight", "1.weight", "1.bias", "1.running_mean",
                                    "1.running_var", "1.num_batches_tracked", "4.weight",
                                    "4.bias", "7.weight", "7.bias", "13.weight", "13.bias"]
    assert all(p.dtype == np.float32 for p in m.parameters())
    nested = nn.Sequential(nn.Sequential(nn.Linear(2, 3)), nn.ReLU(), nn.Linear(3, 1))
    assert [n for n, _ in nested.named_parameters()] == ["0.0.weight", "0.0.bias", "2.weight",
                                                         "2.bias"]


class TwoBranch(nn.Module):
    """A user-defined module with attribute-registered children, as in PyTorch."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
        self.head = nn.Linear(2 * 4 * 4, 3)
        self.flat = nn.Flatten()

    def forward(self, x):
        return self.head(self.flat(self.features(x)))

    def backward(self, g):
        return self.features.backward(self.flat.backward(self.head.backward(g)))


def test_custom_module_keys_and_grad_accumulation(backend):
    m = TwoBranch().double()
    assert list(m.state_dict()) == ["features.0.weight", "features.0.bias", "head.weight",
                                    "head.bias"]
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6))
    g = np.ones((2, 3))
    m(x)
    m.backward(g)
    first = {n: p.grad.copy() for n, p in m.named_parameters()}
    m(x)
    m.backward(g)  # accumulates
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * first[n], rtol=1e-14)
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m(x)
    m.backward(g)
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad == 0) for p in m.parameters())


def test_eval_mode_caches_nothing(backend):
    m = mixed(nn, nn.Dropout(0.5))
    x = np.random.default_rng(0).standard_normal((2, 3, 10, 10)).astype(np.float32)
    m(x)
    assert all(mod._saved is not None for mod in m.children())
    m.eval()
    assert all(not mod.training and mod._saved is None for mod in m.modules())
    out1, out2 = m(x), m(x)
    np.testing.assert_array_equal(out1, out2)  # dropout off, running statistics used
    assert all(mod._saved is None for mod in m.modules())
    with pytest.raises(RuntimeError, match="training mode"):
        m.backward(np.ones_like(out1))
    m.train()
    m(x)
    m.backward(np.ones_like(out1))
    assert all(mod._saved is None for mod in m.modules())  # backward releases the cache


def test_layers_cache_only_what_backward_needs(backend):
    x = np.ones((2, 3, 8, 8), np.float32)
    for layer, kept in [(nn.AvgPool2d(2), [tuple]), (nn.AdaptiveAvgPool2d(2), [tuple]),
                        (nn.Flatten(), [tuple]), (nn.ReLU(), [np.ndarray]),
                        (nn.MaxPool2d(2), [np.ndarray, np.ndarray])]:
        layer(x)
        assert [type(v) for v in layer._saved] == kept, type(layer).__name__


def test_load_state_dict_checks_and_casts():
    src = mixed(nn, nn.Dropout(), dtype=np.float64)
    dst = mixed(nn, nn.Dropout())
    sd = src.state_dict()
    dst.load_state_dict(sd)
    for k, v in dst.state_dict().items():
        assert v.dtype == (np.int64 if "num_batches" in k else np.float32)
        np.testing.assert_array_equal(v, sd[k].astype(v.dtype))
    before = dst.state_dict()
    bad = dict(sd)
    del bad["4.bias"]
    bad["extra.weight"] = np.zeros(3)
    bad["7.weight"] = np.zeros((8, 6, 5, 5))
    with pytest.raises(ValueError) as e:
        dst.load_state_dict(bad)
    msg = str(e.value)
    assert '"4.bias"' in msg and "Missing" in msg
    assert '"extra.weight"' in msg and "Unexpected" in msg
    assert "size mismatch for 7.weight" in msg and "(8, 6, 5, 5)" in msg and "(8, 6, 3, 3)" in msg
    assert isinstance(e.value, RuntimeError)  # what PyTorch raises
    for k, v in dst.state_dict().items():  # a failed load changes nothing
        np.testing.assert_array_equal(v, before[k])
    bad["7.weight"] = sd["7.weight"]
    missing, unexpected = dst.load_state_dict(bad, strict=False)
    assert missing == ["4.bias"] and unexpected == ["extra.weight"]
    no_counter = {k: v for k, v in sd.items() if "num_batches" not in k}
    dst.load_state_dict(no_counter)  # PyTorch accepts this too


def test_double_float_and_dtype_argument(backend):
    m = mixed(nn, nn.Dropout(0.2), dtype=np.float64)
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m[1].running_var.dtype == np.float64
    x = np.random.default_rng(0).standard_normal((2, 3, 10, 10))
    assert m(x).dtype == np.float64
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert m[1].running_mean.dtype == np.float32 and m[1].num_batches_tracked.dtype == np.int64
    out = m(x.astype(np.float32))
    assert out.dtype == np.float32
    m.backward(np.ones_like(out))
    assert all(p.grad.dtype == np.float32 for p in m.parameters())
    m.double()
    assert all(p.grad.dtype == np.float64 for p in m.parameters())
    with pytest.raises(TypeError):
        nn.Linear(3, 2)(np.ones((1, 3)))  # float64 input, float32 layer
    with pytest.raises(TypeError):
        nn.Conv2d(1, 1, 1, dtype=np.int32)


def test_seeding_reproduces_models_and_dropout():
    def build():
        return keras_cifar10(nn)

    nn.manual_seed(7)
    a = build()
    nn.manual_seed(7)
    b = build()
    c = build()
    for (k, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(),
                               c.state_dict().values()):
        np.testing.assert_array_equal(va, vb)
        if va.size > 1 and "weight" in k:
            assert not np.array_equal(va, vc)
    l1, l2 = nn.Linear(4, 4, rng=3), nn.Linear(4, 4, rng=3)
    np.testing.assert_array_equal(l1.weight.data, l2.weight.data)
    x = np.ones((8, 8), np.float32)
    np.testing.assert_array_equal(nn.Dropout(rng=5)(x), nn.Dropout(rng=5)(x))


def test_strided_same_and_per_side_padding_layers():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 11, 8)).astype(np.float32)
    m = nn.Conv2d(3, 4, 3, stride=2, padding="same")
    y = m(x)
    assert y.shape == (2, 4, 6, 4)          # ceil(11 / 2), ceil(8 / 2): Keras "same"
    np.testing.assert_array_equal(y, fastconv.conv2d(x, m.weight.data, m.bias.data, stride=2,
                                                     padding="same"))
    p = nn.Conv2d(3, 4, 3, padding=((0, 2), (1, 1)))
    assert p.padding == ((0, 2), (1, 1)) and p(x).shape == (2, 4, 11, 8)
    assert nn.Conv2d(3, 4, 3, padding=((1, 1), (2, 2))).padding == (1, 2)


def test_constructor_validation():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.BatchNorm2d(2)(np.ones((1, 2, 1, 1), np.float32))


def test_backend_switch():
    assert nn.get_backend() == "kernels"
    with pytest.raises(ValueError, match="backend"):
        nn.set_backend("cuda")
    with pytest.raises(TypeError, match="lacks"):
        nn.set_backend(object())
    assert nn.get_backend() == "kernels"


# --------------------------------------------------------------------------------------------
# Optimisers (beyond the PyTorch parity in test_nn_torch.py)

def test_optimisers_minimise_a_quadratic():
    target = np.array([1.0, -2.0, 3.0])
    for make in [lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                 lambda p: optim.Adam(p, lr=0.1),
                 lambda p: optim.RMSprop(p, lr=0.03)]:
        p = nn.Parameter(np.zeros(3))
        opt = make([p])
        for _ in range(300):
            opt.zero_grad()
            p.grad = 2 * (p.data - target)
            opt.step()
        np.testing.assert_allclose(p.data, target, atol=0.05)


def test_optimiser_groups_state_and_validation():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    a.grad, b.grad = np.ones(2), np.ones(2)
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)
    sd = opt.state_dict()
    opt2 = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    np.testing.assert_array_equal(opt2.state[a]["momentum_buffer"], np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([a], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([a], betas=(0.9, 1.0))
    with pytest.raises(TypeError):
        optim.SGD([np.ones(2)], lr=0.1)
    f32 = nn.Parameter(np.ones(3, np.float32))
    f32.grad = np.ones(3, np.float32)
    optim.Adam([f32]).step()
    assert f32.data.dtype == np.float32


# --------------------------------------------------------------------------------------------
# summary() and the classic CNNs

def test_summary_lenet5(backend):
    out = io.StringIO()
    total = nn.summary(lenet5(nn), (1, 32, 32), file=out)
    text = out.getvalue()
    assert total == 61706
    assert "Total params: 61,706" in text
    for shape, count in [("(None, 6, 28, 28)", "156"), ("(None, 16, 5, 5)", "0"),
                         ("(None, 120, 1, 1)", "48,120"), ("(None, 84)", "10,164"),
                         ("(None, 10)", "850")]:
        assert any(shape in line and line.rstrip().endswith(count)
                   for line in text.splitlines()), (shape, count)


CLASSIC = {
    "lenet5": (lenet5, (1, 32, 32), 61706),
    "keras-cifar10": (keras_cifar10, (3, 32, 32), 1250858),
    "tf-mnist": (tf_mnist, (1, 28, 28), 3274634),
}


@pytest.mark.parametrize("name", list(CLASSIC))
def test_classic_cnns_train(backend, name):
    if backend == "reference" and name != "lenet5":
        pytest.skip("the NumPy oracle is too slow for the larger CNNs; the kernels run them")
    make, shape, n_params = CLASSIC[name]
    nn.manual_seed(0)
    model = make(nn)
    assert sum(p.size for p in model.parameters()) == n_params
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    y = np.array([3, 7])
    crit = nn.MSELoss() if name == "tf-mnist" else nn.CrossEntropyLoss()
    target = np.eye(10, dtype=np.float32)[y] if name == "tf-mnist" else y
    opt = optim.Adam(model.parameters(), lr=1e-3)
    before = crit(model.eval()(x), target)
    model.train()
    for _ in range(3):
        opt.zero_grad()
        out = model(x)
        assert out.shape == (2, 10) and out.dtype == np.float32 and np.all(np.isfinite(out))
        crit(out, target)
        gx = model.backward(crit.backward())
        assert gx.shape == x.shape and gx.dtype == np.float32
        assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
        opt.step()
    # A few steps on one batch must reduce its loss (measured without dropout).
    assert crit(model.eval()(x), target) < before
    if name == "tf-mnist":
        np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)  # softmax output


def test_package_exports():
    import fastconv.nn as fnn
    assert fnn.Conv2d is nn.Conv2d
    assert fastconv.optim.SGD is optim.SGD


def test_copy_pickle_freeze_and_containers(backend):
    import copy
    import pickle
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten()).append(nn.Linear(8, 3))
    assert len(m) == 4 and isinstance(m[-1], nn.Linear) and len(m[1:]) == 3
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        for (k, a), b in zip(m.state_dict().items(), clone.state_dict().values()):
            np.testing.assert_array_equal(a, b, err_msg=k)
        clone[0].weight.data += 1  # an independent copy
        assert not np.array_equal(clone[0].weight.data, m[0].weight.data)
    m[0].requires_grad_(False)  # frozen layers get no gradient, the rest still train
    x = np.ones((2, 1, 4, 4), np.float32)
    m.backward(np.ones_like(m(x)))
    assert m[0].weight.grad is None and m[0].bias.grad is None
    assert m[3].weight.grad is not None
    out = io.StringIO()
    assert nn.summary(nn.Sequential(m, nn.Sigmoid()), (1, 4, 4), file=out) == 20 + 27
    assert "0.3 (Linear)" in out.getvalue() and "1 (Sigmoid)" in out.getvalue()
    assert repr(m).startswith("Sequential(\n  (0): Conv2d(1, 2, kernel_size=(3, 3)")
